namespace Vswitch.Datapath.Userspace;

/// <summary>
/// The bounded upcall queue shared by a datapath's poll threads (producers) and upcall receivers (consumers).
/// Memory is bounded by <see cref="Capacity"/> upcalls (each holding one packet buffer from the bounded pool); an
/// upcall that does not fit is dropped, its packet released and <see cref="Lost"/> incremented. Enqueue is on the
/// miss path (not per packet on the hit path), so a short uncontended lock is acceptable; receivers are woken only when
/// someone waits.
/// </summary>
internal sealed class UpcallQueue
{
    private readonly DatapathUpcall?[] _ring;
    private readonly object _lock = new();
    private int _head;
    private int _count;
    private int _waiters;
    private long _lost;
    private bool _closed;

    public UpcallQueue(int capacity)
    {
        Capacity = Math.Clamp(capacity, 1, 1 << 20);
        _ring = new DatapathUpcall?[Capacity];
    }

    public int Capacity { get; }

    public int Count => Volatile.Read(ref _count);

    public long Lost => Volatile.Read(ref _lost);

    /// <summary>Counts a lost upcall that was never queued (e.g. nobody listens for its kind).</summary>
    public void CountLost() => Interlocked.Increment(ref _lost);

    /// <summary>Queues <paramref name="upcall"/>; when full, releases its packet, counts it lost and returns false.</summary>
    public bool TryEnqueue(DatapathUpcall upcall)
    {
        lock (_lock)
        {
            if (_count < _ring.Length)
            {
                _ring[(_head + _count) % _ring.Length] = upcall;
                _count++;
                if (_waiters > 0) Monitor.PulseAll(_lock);
                return true;
            }
        }
        upcall.Packet.Release();
        Interlocked.Increment(ref _lost);
        return false;
    }

    public DatapathUpcall? TryDequeue()
    {
        lock (_lock)
        {
            if (_count == 0) return null;
            var u = _ring[_head];
            _ring[_head] = null;
            _head = (_head + 1) % _ring.Length;
            _count--;
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
