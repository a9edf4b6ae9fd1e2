using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.CompilerServices;
using Vswitch.Interop.Linux;
using Vswitch.Packets;

namespace Vswitch.Netdev.Memory;

/// <summary>
/// One <c>memory</c> device: rx queues are lock-free rings fed by the peer's tx (or by <see cref="Inject(ReadOnlySpan{byte}, int)"/>),
/// and tx either delivers to the peer's rx ring (a wire) or, on a standalone device, into a capture ring read with
/// <see cref="TryTake"/>. Opened by <see cref="MemoryNetdevProvider"/>.
/// </summary>
/// <remarks>
/// <para>Administrative state: a device opens <b>up</b>. A down device drops what it would send (TxDropped) and
/// what arrives or is injected (RxDropped). Link state is up when the device is up and, for a wired device,
/// the peer exists and is up too; a standalone device has link whenever it is up.</para>
/// <para>Tx of a frame longer than MTU + 18 bytes (Ethernet header and one VLAN tag) is dropped and counted in
/// TxMtuDropped (and TxDropped). A full rx ring drops: the sender counts TxDropped and the receiving device
/// counts RxDropped (device-level counter, included in <see cref="GetStats"/>).</para>
/// <para>Control members are thread-safe (serialised by a per-device lock) and never block on I/O. Queue members
/// follow the <see cref="NetdevRxQueue"/>/<see cref="NetdevTxQueue"/> threading rules.</para>
/// </remarks>
public sealed class MemoryNetdev : Netdev
{
    private readonly MemoryNetdevProvider _provider;
    private readonly NetdevOptions _rawOptions;
    private readonly PacketPool _pool;
    private readonly MemoryRxQueue[] _rx;
    private readonly MemoryTxQueue[] _tx;
    private readonly PacketRing _capture;
    private readonly Lock _control = new();
    private readonly int _capacity;
    private MacAddress _mac;
    private int _mtu;
    private int _maxFrameLength;
    private int _flags;
    private MemoryNetdev? _peer;
    private string? _peerName;
    private bool _registered;
    private long _rxDropped;
    private long _rxNoBuffer;
    private long _rxErrors;

    private static readonly NetdevCapabilities s_capabilities = new()
    {
        MaxRxQueues = MemoryNetdevOptions.MaxQueues,
        MaxTxQueues = MemoryNetdevOptions.MaxQueues,
        MaxMtu = MemoryNetdevOptions.MaxMtu,
        Offloads = NetdevOffloads.None,
        CanSetMac = true,
        CanSetMtu = true,
        ReportsLinkChanges = true,
    };

    private MemoryNetdev(MemoryNetdevProvider provider, string name, NetdevOptions rawOptions, MemoryNetdevOptions options, PacketPool pool, EventFd[] eventFds)
        : base(name, MemoryNetdevProvider.TypeName)
    {
        _provider = provider;
        _rawOptions = rawOptions;
        _pool = pool;
        _capacity = options.Capacity;
        _mac = options.Mac ?? MacAddress.RandomLocal();
        _mtu = options.Mtu;
        _maxFrameLength = options.Mtu + MemoryNetdevOptions.L2HeaderAllowance;
        _flags = (int)NetdevFlags.Up;
        _peerName = options.Peer;
        _rx = new MemoryRxQueue[options.Queues];
        _tx = new MemoryTxQueue[options.Queues];
        for (int i = 0; i < options.Queues; i++)
        {
            _rx[i] = new MemoryRxQueue(this, i, new PacketRing(options.Capacity), eventFds[i]);
            _tx[i] = new MemoryTxQueue(this, i);
        }
        _capture = new PacketRing((int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Min(MemoryNetdevOptions.MaxCapacity, options.Capacity * options.Queues)));
    }

    internal static Errno Create(MemoryNetdevProvider provider, string name, NetdevOptions raw, MemoryNetdevOptions options, PacketPool pool,
        out MemoryNetdev? device, out string? error)
    {
        device = null;
        var fds = new EventFd[options.Queues];
        for (int i = 0; i < fds.Length; i++)
        {
            var rc = EventFd.Create(out var fd);
            if (rc.IsError)
            {
                for (int j = 0; j < i; j++) fds[j].Dispose();
                error = $"memory: device '{name}': eventfd for rx queue {i}: {rc}";
                return rc;
            }
            fds[i] = fd!;
        }
        device = new MemoryNetdev(provider, name, raw, options, pool, fds);
        error = null;
        return Errno.Success;
    }

    /// <inheritdoc/>
    public override int RxQueueCount => _rx.Length;

    /// <inheritdoc/>
    public override int TxQueueCount => _tx.Length;

    /// <inheritdoc/>
    public override NetdevRxQueue GetRxQueue(int index) => _rx[index];

    /// <inheritdoc/>
    public override NetdevTxQueue GetTxQueue(int index) => _tx[index];

    /// <inheritdoc/>
    public override NetdevCapabilities Capabilities => s_capabilities;

    /// <inheritdoc/>
    public override NetdevOptions Options => _rawOptions;

    /// <summary>The pool <see cref="Inject(ReadOnlySpan{byte}, int)"/> rents buffers from.</summary>
    public PacketPool Pool => _pool;

    /// <summary>The device at the other end of the wire while connected, else null. Any thread.</summary>
    public MemoryNetdev? Peer => Volatile.Read(ref _peer);

    /// <summary>The configured (or connected) peer's name; null for a standalone device.</summary>
    public string? PeerName => Volatile.Read(ref _peerName);

    /// <summary>Per-queue ring length.</summary>
    public int RingCapacity => _capacity;

    internal bool IsUp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (Volatile.Read(ref _flags) & (int)NetdevFlags.Up) != 0;
    }

    internal int MaxFrameLength
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Volatile.Read(ref _maxFrameLength);
    }

    internal PacketRing CaptureRing => _capture;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal MemoryRxQueue RxQueueFor(int txIndex)
    {
        var rx = _rx;
        return rx[(uint)txIndex % (uint)rx.Length];
    }

    // ---- test / benchmark surface ----

    /// <summary>
    /// Puts a copy of <paramref name="frame"/> on rx queue <paramref name="queue"/>, as if it arrived on the wire
    /// (buffer rented from <see cref="Pool"/>). False when it was dropped, counted: device down or ring full
    /// (RxDropped), pool empty (RxDropped and RxNoBuffer), frame longer than <see cref="PacketBuffer.MaxFrameSize"/>
    /// (RxErrors). Any thread; wakes a sleeping poll thread. Throws <see cref="ArgumentOutOfRangeException"/> for a bad queue.
    /// </summary>
    public bool Inject(ReadOnlySpan<byte> frame, int queue = 0)
    {
        var rxq = CheckedRxQueue(queue);
        if (!IsUp)
        {
            Interlocked.Increment(ref _rxDropped);
            return false;
        }
        if (frame.Length > PacketBuffer.MaxFrameSize)
        {
            Interlocked.Increment(ref _rxErrors);
            return false;
        }
        if (!_pool.TryRent(out var packet))
        {
            Interlocked.Increment(ref _rxDropped);
            Interlocked.Increment(ref _rxNoBuffer);
            return false;
        }
        packet.TrySetFrame(frame);
        return EnqueueInjected(rxq, packet);
    }

    /// <summary>
    /// Puts <paramref name="packet"/> on rx queue <paramref name="queue"/>, taking ownership whatever the outcome
    /// (released when dropped). False when dropped (device down or ring full: RxDropped). Any thread.
    /// </summary>
    public bool Inject(PacketBuffer packet, int queue = 0)
    {
        ArgumentNullException.ThrowIfNull(packet);
        var rxq = CheckedRxQueue(queue);
        if (!IsUp)
        {
            packet.Release();
            Interlocked.Increment(ref _rxDropped);
            return false;
        }
        return EnqueueInjected(rxq, packet);
    }

    private bool EnqueueInjected(MemoryRxQueue rxq, PacketBuffer packet)
    {
        if (!rxq.Ring.TryEnqueue(packet))
        {
            packet.Release();
            Interlocked.Increment(ref _rxDropped);
            return false;
        }
        rxq.WakeIfSleeping();
        return true;
    }

    /// <summary>
    /// Test convenience: copies <paramref name="frame"/> into a buffer from <see cref="Pool"/> and sends it on tx queue
    /// <paramref name="queue"/>, exactly as <see cref="NetdevTxQueue.Send"/> would (so on a wire it arrives on the peer's
    /// rx). True when it was delivered; false when dropped (counted as Send counts) or the pool is empty (nothing
    /// counted). Uses the tx queue, so the caller must be the only thread sending on it.
    /// </summary>
    public bool Transmit(ReadOnlySpan<byte> frame, int queue = 0)
    {
        if ((uint)queue >= (uint)_tx.Length) ThrowBadQueue(queue);
        if (frame.Length > PacketBuffer.MaxFrameSize || !_pool.TryRent(out var packet)) return false;
        packet.TrySetFrame(frame);
        var batch = new PacketBatch();
        batch.TryAdd(packet);
        return _tx[queue].Send(ref batch) == 1;
    }

    /// <summary>
    /// Takes the oldest frame a standalone device transmitted (ownership passes to the caller, who releases it).
    /// False when none is waiting. Wired devices deliver to their peer and capture nothing. One thread at a time.
    /// </summary>
    public bool TryTake([NotNullWhen(true)] out PacketBuffer? packet) => _capture.TryDequeue(out packet);

    /// <summary>Frames captured and not yet taken (approximate while a sender runs).</summary>
    public int CapturedCount => _capture.Count;

    internal void CountRxOverflow() => Interlocked.Increment(ref _rxDropped);

    private MemoryRxQueue CheckedRxQueue(int queue)
    {
        if ((uint)queue >= (uint)_rx.Length) ThrowBadQueue(queue);
        return _rx[queue];
    }

    [DoesNotReturn]
    private void ThrowBadQueue(int queue) =>
        throw new ArgumentOutOfRangeException(nameof(queue), queue, $"memory device '{Name}' has {_rx.Length} queue pair(s)");

    // ---- control ----

    /// <inheritdoc/>
    public override Errno GetMac(out MacAddress mac)
    {
        lock (_control) mac = _mac;
        return Errno.Success;
    }

    /// <inheritdoc/>
    public override Errno SetMac(MacAddress mac)
    {
        if (mac.IsMulticast || mac.IsZero) return Errno.EINVAL;
        if (IsDisposed) return Errno.ENODEV;
        lock (_control)
        {
            if (_mac == mac) return Errno.Success;
            _mac = mac;
        }
        BumpChangeSeq();
        return Errno.Success;
    }

    /// <inheritdoc/>
    public override Errno GetMtu(out int mtu)
    {
        mtu = Volatile.Read(ref _mtu);
        return Errno.Success;
    }

    /// <inheritdoc/>
    public override Errno SetMtu(int mtu)
    {
        if (mtu < MemoryNetdevOptions.MinMtu || mtu > MemoryNetdevOptions.MaxMtu) return Errno.EINVAL;
        if (IsDisposed) return Errno.ENODEV;
        lock (_control)
        {
            if (_mtu == mtu) return Errno.Success;
            Volatile.Write(ref _mtu, mtu);
            Volatile.Write(ref _maxFrameLength, mtu + MemoryNetdevOptions.L2HeaderAllowance);
        }
        BumpChangeSeq();
        return Errno.Success;
    }

    /// <inheritdoc/>
    public override Errno UpdateFlags(NetdevFlags off, NetdevFlags on, out NetdevFlags old)
    {
        const NetdevFlags known = NetdevFlags.Up | NetdevFlags.Promiscuous | NetdevFlags.AllMulticast;
        old = (NetdevFlags)Volatile.Read(ref _flags);
        if (((off | on) & ~known) != 0) return Errno.EINVAL;
        if (IsDisposed) return Errno.ENODEV;
        NetdevFlags now;
        lock (_control)
        {
            old = (NetdevFlags)_flags;
            now = (old & ~off) | on;
            if (now == old) return Errno.Success;
            Volatile.Write(ref _flags, (int)now);
        }
        BumpChangeSeq();
        if (((old ^ now) & NetdevFlags.Up) != 0) Peer?.PeerChanged();
        return Errno.Success;
    }

    /// <inheritdoc/>
    public override Errno GetLinkState(out LinkState state)
    {
        state = HasLink ? LinkState.Up : LinkState.Down;
        return Errno.Success;
    }

    private bool HasLink
    {
        get
        {
            if (!IsUp || IsDisposed) return false;
            if (PeerName is null) return true;
            var peer = Peer;
            return peer is not null && peer.IsUp;
        }
    }

    /// <inheritdoc/>
    public override NetdevInfo GetInfo()
    {
        var peer = Peer;
        return new NetdevInfo
        {
            Driver = MemoryNetdevProvider.TypeName,
            SpeedMbps = 0,
            Status = new Dictionary<string, string>
            {
                ["peer"] = PeerName ?? "",
                ["connected"] = peer is not null ? "true" : "false",
                ["queues"] = _rx.Length.ToString(CultureInfo.InvariantCulture),
                ["capacity"] = _capacity.ToString(CultureInfo.InvariantCulture),
                ["captured"] = _capture.Count.ToString(CultureInfo.InvariantCulture),
            },
        };
    }

    /// <inheritdoc/>
    public override NetdevStats GetStats()
    {
        var total = base.GetStats();
        ulong dropped = (ulong)Interlocked.Read(ref _rxDropped);
        ulong noBuffer = (ulong)Interlocked.Read(ref _rxNoBuffer);
        ulong errors = (ulong)Interlocked.Read(ref _rxErrors);
        total.RxDropped += dropped;
        total.RxNoBuffer += noBuffer;
        total.RxErrors += errors;
        return total;
    }

    /// <inheritdoc/>
    public override Errno ResetStats()
    {
        base.ResetStats();
        Interlocked.Exchange(ref _rxDropped, 0);
        Interlocked.Exchange(ref _rxNoBuffer, 0);
        Interlocked.Exchange(ref _rxErrors, 0);
        return Errno.Success;
    }

    // ---- wiring (called by the provider under its lock) ----

    internal static void Connect(MemoryNetdev a, MemoryNetdev b)
    {
        Volatile.Write(ref a._peerName, b.Name);
        Volatile.Write(ref b._peerName, a.Name);
        Volatile.Write(ref a._peer, b);
        Volatile.Write(ref b._peer, a);
        a.BumpChangeSeq();
        b.BumpChangeSeq();
    }

    internal static void Disconnect(MemoryNetdev device)
    {
        var peer = Volatile.Read(ref device._peer);
        if (peer is null) return;
        Volatile.Write(ref peer._peer, null);
        Volatile.Write(ref device._peer, null);
        peer.BumpChangeSeq();
        device.BumpChangeSeq();
    }

    internal void MarkRegistered() => _registered = true;

    /// <summary>Disposes a device that never entered the provider's namespace.</summary>
    internal void DisposeUnregistered()
    {
        _registered = false;
        Dispose();
    }

    private void PeerChanged() => BumpChangeSeq();

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (_registered) _provider.Remove(this);
        BumpChangeSeq();
        foreach (var q in _rx) q.Close();
        _capture.DrainAndRelease();
    }
}
