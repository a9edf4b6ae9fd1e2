using Vswitch.Interop.Linux;
using Vswitch.Netdev;
using Vswitch.Packets;

namespace Vswitch.Datapath.Userspace;

/// <summary>
/// An in-process port with a host side, used as the userspace datapath's local port (port 0, named like the datapath,
/// type <c>internal</c>) and usable as a plain port by tests and benchmarks. Frames the host <see cref="Inject"/>s are
/// received by the datapath on rx queue 0 (or the queue chosen); frames the datapath transmits are kept, up to
/// <see cref="Capacity"/> per tx queue, for the host to <see cref="TryTakeTransmitted"/> (the oldest are kept; further
/// frames are dropped and counted in the tx queue's <c>TxDropped</c>).
/// </summary>
/// <remarks>
/// Rx queues expose an eventfd as <see cref="NetdevRxQueue.WaitFd"/>, signalled only to sleepers armed by
/// <see cref="NetdevRxQueue.PrepareToWait"/>. Host-side calls are thread-safe. The device has no kernel interface; it
/// reports link up, MTU 1500 (settable), and a random local MAC.
/// </remarks>
public sealed class InternalNetdev : Netdev.Netdev
{
    /// <summary>Type name.</summary>
    public const string TypeName = "internal";

    private readonly InternalRxQueue[] _rx;
    private readonly InternalTxQueue[] _tx;
    private MacAddress _mac = MacAddress.RandomLocal();
    private int _mtu = 1500;
    private NetdevFlags _flags = NetdevFlags.Up;
    private LinkState _link = LinkState.Up;
    private readonly Lock _control = new();

    /// <summary>Creates a device with the given queue counts and per-queue capacity (frames).</summary>
    public InternalNetdev(string name, int rxQueues = 1, int txQueues = 1, int capacity = 1024) : base(name, TypeName)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rxQueues, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(txQueues, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _rx = new InternalRxQueue[rxQueues];
        _tx = new InternalTxQueue[txQueues];
        for (int i = 0; i < rxQueues; i++) _rx[i] = new InternalRxQueue(this, i, capacity);
        for (int i = 0; i < txQueues; i++) _tx[i] = new InternalTxQueue(this, i, capacity);
    }

    /// <summary>Frames each queue holds.</summary>
    public int Capacity { get; }

    /// <inheritdoc/>
    public override int RxQueueCount => _rx.Length;
    /// <inheritdoc/>
    public override int TxQueueCount => _tx.Length;
    /// <inheritdoc/>
    public override NetdevRxQueue GetRxQueue(int index) => _rx[index];
    /// <inheritdoc/>
    public override NetdevTxQueue GetTxQueue(int index) => _tx[index];
    /// <inheritdoc/>
    public override NetdevCapabilities Capabilities { get; } = new()
    {
        MaxRxQueues = 64, MaxTxQueues = 64, MaxMtu = 9000, CanSetMac = true, CanSetMtu = true, ReportsLinkChanges = true,
    };

    /// <summary>
    /// Hands <paramref name="packet"/> to the datapath as if received on rx queue <paramref name="queue"/>. The device
    /// takes ownership whatever the result; false (packet released, counted as RxDropped) when the queue is full or the
    /// device is disposed.
    /// </summary>
    public bool Inject(PacketBuffer packet, int queue = 0) => _rx[queue].Enqueue(packet);

    /// <summary>Takes the oldest frame the datapath transmitted on tx queue <paramref name="queue"/> (any queue when -1); the caller owns it.</summary>
    public bool TryTakeTransmitted(out PacketBuffer? packet, int queue = -1)
    {
        if (queue >= 0) return _tx[queue].TryTake(out packet);
        foreach (var q in _tx)
            if (q.TryTake(out packet)) return true;
        packet = null;
        return false;
    }

    /// <summary>Frames waiting to be taken on all tx queues.</summary>
    public int TransmittedCount
    {
        get { int n = 0; foreach (var q in _tx) n += q.Count; return n; }
    }

    /// <summary>Sets the simulated carrier state (bumps the change sequence).</summary>
    public void SetLinkState(LinkState state)
    {
        lock (_control) _link = state;
        BumpChangeSeq();
    }

    /// <inheritdoc/>
    public override Errno GetMac(out MacAddress mac) { lock (_control) mac = _mac; return Errno.Success; }

    /// <inheritdoc/>
    public override Errno SetMac(MacAddress mac)
    {
        if (mac.IsMulticast || mac.IsZero) return Errno.EINVAL;
        lock (_control) _mac = mac;
        BumpChangeSeq();
        return Errno.Success;
    }

    /// <inheritdoc/>
    public override Errno GetMtu(out int mtu) { lock (_control) mtu = _mtu; return Errno.Success; }

    /// <inheritdoc/>
    public override Errno SetMtu(int mtu)
    {
        if (mtu < 68 || mtu > Capabilities.MaxMtu) return Errno.EINVAL;
        lock (_control) _mtu = mtu;
        BumpChangeSeq();
        return Errno.Success;
    }

    /// <inheritdoc/>
    public override Errno UpdateFlags(NetdevFlags off, NetdevFlags on, out NetdevFlags old)
    {
        lock (_control)
        {
            old = _flags;
            _flags = (_flags & ~off) | on;
            if (_flags == old) return Errno.Success;
        }
        BumpChangeSeq();
        return Errno.Success;
    }

    /// <inheritdoc/>
    public override Errno GetLinkState(out LinkState state)
    {
        lock (_control) state = (_flags & NetdevFlags.Up) == 0 ? LinkState.Down : _link;
        return Errno.Success;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        foreach (var q in _rx) q.Close();
        foreach (var q in _tx) q.Close();
    }

    private sealed class InternalRxQueue : NetdevRxQueue
    {
        private readonly PacketBuffer?[] _ring;
        private readonly Lock _lock = new();
        private int _head, _count, _armed;
        private readonly EventFd? _event;
        private readonly int _fd;
        private bool _closed;

        public InternalRxQueue(InternalNetdev dev, int index, int capacity) : base(dev, index)
        {
            _ring = new PacketBuffer?[capacity];
            // Without an eventfd (descriptors exhausted) WaitFd is -1 and the poll thread polls this queue on a timer.
            _event = EventFd.Create(out var fd).IsSuccess ? fd : null;
            _fd = _event?.Fd ?? -1;
        }

        public override int WaitFd => _fd;

        public bool Enqueue(PacketBuffer p)
        {
            bool ok;
            lock (_lock)
            {
                ok = !_closed && _count < _ring.Length;
                if (ok) { _ring[(_head + _count) % _ring.Length] = p; _count++; }
            }
            if (!ok)
            {
                p.Release();
                Interlocked.Increment(ref Stats.RxDropped);
                return false;
            }
            // Full fence (interlocked) so this read of the armed flag cannot pass the enqueue above.
            if (Interlocked.Exchange(ref _armed, 0) != 0) _event?.Signal();
            return true;
        }

        public override int Receive(ref PacketBatch batch)
        {
            if (Volatile.Read(ref _count) == 0) return 0;
            int n = 0;
            ulong bytes = 0;
            lock (_lock)
            {
                while (_count > 0 && !batch.IsFull)
                {
                    var p = _ring[_head]!;
                    _ring[_head] = null;
                    _head = (_head + 1) % _ring.Length;
                    _count--;
                    p.Metadata = default;
                    batch.TryAdd(p);
                    bytes += (ulong)p.Length;
                    n++;
                }
            }
            Stats.RxPackets += (ulong)n;
            Stats.RxBytes += bytes;
            return n;
        }

        public override bool PrepareToWait()
        {
            Interlocked.Exchange(ref _armed, 1); // full fence: the count read below cannot pass it
            return Volatile.Read(ref _count) == 0;
        }

        public override void FinishWait(bool signalled)
        {
            Volatile.Write(ref _armed, 0);
            if (signalled) _event?.Consume();
        }

        public override int Drain()
        {
            int n = 0;
            while (true)
            {
                PacketBuffer? p;
                lock (_lock)
                {
                    if (_count == 0) break;
                    p = _ring[_head];
                    _ring[_head] = null;
                    _head = (_head + 1) % _ring.Length;
                    _count--;
                }
                p!.Release();
                n++;
            }
            return n;
        }

        public void Close()
        {
            lock (_lock) _closed = true;
            Drain();
            _event?.Dispose();
        }
    }

    private sealed class InternalTxQueue : NetdevTxQueue
    {
        private readonly PacketBuffer?[] _ring;
        private readonly Lock _lock = new();
        private int _head, _count;
        private bool _closed;

        public InternalTxQueue(InternalNetdev dev, int index, int capacity) : base(dev, index) => _ring = new PacketBuffer?[capacity];

        public int Count => Volatile.Read(ref _count);

        public override int Send(ref PacketBatch batch)
        {
            int sent = 0;
            ulong bytes = 0;
            int n = batch.Count;
            lock (_lock)
            {
                for (int i = 0; i < n; i++)
                {
                    var p = batch[i];
                    if (!_closed && _count < _ring.Length)
                    {
                        _ring[(_head + _count) % _ring.Length] = p;
                        _count++;
                        sent++;
                        bytes += (ulong)p.Length;
                    }
                    else
                    {
                        p.Release();
                        Stats.TxDropped++;
                    }
                }
            }
            batch.Clear();
            Stats.TxPackets += (ulong)sent;
            Stats.TxBytes += bytes;
            return sent;
        }

        public bool TryTake(out PacketBuffer? p)
        {
            lock (_lock)
            {
                if (_count == 0) { p = null; return false; }
                p = _ring[_head];
                _ring[_head] = null;
                _head = (_head + 1) % _ring.Length;
                _count--;
                return true;
            }
        }

        public void Close()
        {
            lock (_lock)
            {
                _closed = true;
                while (_count > 0)
                {
                    _ring[_head]!.Release();
                    _ring[_head] = null;
                    _head = (_head + 1) % _ring.Length;
                    _count--;
                }
            }
        }
    }
}
