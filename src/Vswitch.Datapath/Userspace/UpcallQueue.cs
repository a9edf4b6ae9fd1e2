namespace Vswitch.Datapath.Userspace;

/// <summary>
/// The upcall queue shared by a datapath's poll threads (producers) and upcall receivers (consumers), fair across ports:
/// each input port has its own FIFO of at most <see cref="PerPortCapacity"/> upcalls, receivers take from the ports in
/// round-robin order (one upcall per port with something queued, in turn), and the whole queue holds at most
/// <see cref="Capacity"/> upcalls. So a miss storm on one port (e.g. a flood of new source MACs) fills only that port's
/// queue and costs every other port at most one turn: their new flows are set up at full speed. When the whole queue is
/// full, the newest upcall of the longest port queue makes room for a port with a shorter one (longest queue drop).
/// </summary>
/// <remarks>
/// Memory is bounded by <see cref="Capacity"/> upcalls (each holding one packet buffer from the bounded pool); an upcall
/// that does not fit is dropped, its packet released, and counted as lost on its port and in <see cref="Lost"/>. Enqueue
/// is on the miss path only (never per packet on the hit path), so a short lock is acceptable; receivers are woken only
/// when someone waits. Upcalls are attributed to their key's input port (port numbers ≥ the datapath's limit count as port 0).
/// </remarks>
internal sealed class UpcallQueue
{
    private sealed class PortQueue(int capacity)
    {
        public readonly DatapathUpcall?[] Ring = new DatapathUpcall?[capacity];
        public int Head;
        public int Count;
        public bool Active;            // in the round-robin list
        public long Queued;            // upcalls accepted (an evicted one counts here and in Lost)
        public long Lost;              // upcalls dropped (own overflow or evicted)
    }

    private readonly object _lock = new();
    private readonly PortQueue?[] _ports;
    private readonly int[] _active;    // round-robin ring of port numbers with Count > 0
    private int _activeHead;
    private int _activeCount;
    private int _count;
    private int _waiters;
    private long _lost;
    private bool _closed;

    public UpcallQueue(int capacity, int perPortCapacity = 0, int maxPorts = 256)
    {
        Capacity = Math.Clamp(capacity, 1, 1 << 20);
        PerPortCapacity = perPortCapacity <= 0 ? Capacity : Math.Min(perPortCapacity, Capacity);
        _ports = new PortQueue?[Math.Max(1, maxPorts)];
        _active = new int[_ports.Length];
    }

    /// <summary>Upcalls held at most, all ports together.</summary>
    public int Capacity { get; }

    /// <summary>Upcalls held at most for one input port.</summary>
    public int PerPortCapacity { get; }

    public int Count => Volatile.Read(ref _count);

    public long Lost => Volatile.Read(ref _lost);

    /// <summary>Counts a lost upcall that was never queued (e.g. nobody listens for its kind).</summary>
    public void CountLost() => Interlocked.Increment(ref _lost);

    /// <summary>Counts a lost upcall of <paramref name="port"/> that was never queued.</summary>
    public void CountLost(uint port)
    {
        lock (_lock)
        {
            Port(port).Lost++;
            Interlocked.Increment(ref _lost);
        }
    }

    /// <summary>Upcalls accepted, lost and pending for input port <paramref name="port"/>.</summary>
    public (long Queued, long Lost, int Pending) PortStats(uint port)
    {
        lock (_lock)
        {
            var q = port < (uint)_ports.Length ? _ports[port] : null;
            return q is null ? (0, 0, 0) : (q.Queued, q.Lost, q.Count);
        }
    }

    private PortQueue Port(uint port)
    {
        uint i = port < (uint)_ports.Length ? port : 0;
        return _ports[i] ??= new PortQueue(PerPortCapacity);
    }

    /// <summary>
    /// Queues <paramref name="upcall"/> on its input port's queue; when that queue (or the whole queue, with no longer port
    /// queue to take room from) is full, releases its packet, counts it lost and returns false.
    /// </summary>
    public bool TryEnqueue(DatapathUpcall upcall)
    {
        DatapathUpcall? evicted = null;
        lock (_lock)
        {
            uint portNo = upcall.Key.InPort < (uint)_ports.Length ? upcall.Key.InPort : 0;
            var q = Port(portNo);
            bool fits = q.Count < q.Ring.Length;
            if (fits && _count >= Capacity)
            {
                evicted = EvictFromLongestLongerThan(q.Count);
                fits = evicted is not null;
            }
            if (fits)
            {
                q.Ring[(q.Head + q.Count) % q.Ring.Length] = upcall;
                q.Count++;
                q.Queued++;
                _count++;
                if (!q.Active)
                {
                    q.Active = true;
                    _active[(_activeHead + _activeCount) % _active.Length] = (int)portNo;
                    _activeCount++;
                }
                if (_waiters > 0) Monitor.PulseAll(_lock);
            }
            else
            {
                q.Lost++;
                Interlocked.Increment(ref _lost);
            }
            if (!fits)
            {
                upcall.Packet.Release();
                return false;
            }
        }
        evicted?.Packet.Release();
        return true;
    }

    /// <summary>Drops the newest upcall of the longest port queue if it is longer than <paramref name="than"/>; null if none is.</summary>
    private DatapathUpcall? EvictFromLongestLongerThan(int than)
    {
        PortQueue? longest = null;
        for (int i = 0; i < _activeCount; i++)
        {
            var q = _ports[_active[(_activeHead + i) % _active.Length]]!;
            if (q.Count > than && (longest is null || q.Count > longest.Count)) longest = q;
        }
        if (longest is null) return null;
        int tail = (longest.Head + longest.Count - 1) % longest.Ring.Length;
        var u = longest.Ring[tail];
        longest.Ring[tail] = null;
        longest.Count--;
        longest.Lost++;
        Interlocked.Increment(ref _lost);
        _count--;
        // Still Count ≥ 1 (it was longer than the arriving port's queue), so it stays in the round-robin list.
        return u;
    }

    /// <summary>Takes the next upcall in round-robin order over the ports that have some; null when empty.</summary>
    public DatapathUpcall? TryDequeue()
    {
        lock (_lock)
        {
            if (_count == 0) return null;
            int portNo = _active[_activeHead];
            _activeHead = (_activeHead + 1) % _active.Length;
            _activeCount--;
            var q = _ports[portNo]!;
            var u = q.Ring[q.Head];
            q.Ring[q.Head] = null;
            q.Head = (q.Head + 1) % q.Ring.Length;
            q.Count--;
            _count--;
            if (q.Count > 0)
            {
                _active[(_activeHead + _activeCount) % _active.Length] = portNo;
                _activeCount++;
            }
            else
            {
                q.Active = false;
            }
            return u;
        }
    }

    public bool Wait(int timeoutMs)
    {
        lock (_lock)
        {
            if (_count > 0) return true;
            if (timeoutMs == 0) return false;
            long deadline = timeoutMs < 0 ? long.MaxValue : Environment.TickCount64 + timeoutMs;
            _waiters++;
            try
            {
                while (_count == 0)
                {
                    if (_closed) return false;
                    long left = deadline == long.MaxValue ? 1000 : deadline - Environment.TickCount64;
                    if (left <= 0) return false;
                    Monitor.Wait(_lock, (int)Math.Min(left, 1000));
                }
                return true;
            }
            finally { _waiters--; }
        }
    }

    /// <summary>Wakes every waiter for good (the datapath is being destroyed); later waits return at once.</summary>
    public void Close()
    {
        lock (_lock)
        {
            _closed = true;
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>Removes every queued upcall and releases their packets; returns how many.</summary>
    public int Purge()
    {
        int n = 0;
        while (TryDequeue() is { } u)
        {
            u.Packet.Release();
            n++;
        }
        return n;
    }
}
