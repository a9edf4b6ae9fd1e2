using System.Net;
using Vswitch.Interop.Linux;
using Vswitch.Netdev.Linux;
using Vswitch.Packets;

namespace Vswitch.Netdev.Tap;

/// <summary>
/// An open tap device: one fd per queue pair on a Linux TAP interface. Rx queue <c>i</c> reads fd <c>i</c>
/// (its <see cref="NetdevRxQueue.WaitFd"/>), tx queue <c>i</c> writes it. See docs/ports/tap.md.
/// </summary>
/// <remarks>
/// Namespace moves: after <c>ip link set TAP netns NS</c> the fds keep carrying frames; control calls by
/// name return <c>ENODEV</c>, getters answer from the last known values, link state stays what it last was,
/// and <see cref="KernelInterfaceNetdev.InterfaceState"/> is <see cref="KernelInterfaceState.OtherNamespace"/>.
/// Deletion: link goes Down, <see cref="Netdev.ChangeSeq"/> is bumped, rx returns nothing and tx drops
/// (counted); each queue fd is replaced by an idle eventfd so pollers sleeping on it do not spin.
/// <para>Queues follow the <see cref="NetdevRxQueue"/>/<see cref="NetdevTxQueue"/> contract: one thread per queue,
/// never blocking (the fds are non-blocking; a full kernel queue drops and counts), no allocation, no exceptions;
/// rx buffers come from the open request's pool and pass to the caller (each rx queue keeps one posted buffer across
/// calls, so an empty poll rents nothing), tx takes ownership of every packet and releases it after the write. Control members may block briefly on ioctl/netlink, are serialised internally and
/// may be called from any thread.</para>
/// </remarks>
public sealed class TapNetdev : KernelInterfaceNetdev
{
    /// <summary>Largest MTU: the whole frame (MTU + Ethernet + two VLAN tags) must fit a packet buffer.</summary>
    public const int MaxMtuValue = PacketBuffer.MaxFrameSize - EthernetHeader.Length - 2 * VlanHeader.Length;

    private readonly TapFd[] _fds;
    private readonly TapRxQueue[] _rx;
    private readonly TapTxQueue[] _tx;
    private readonly bool _persist;
    private readonly int _speedMbps;
    private NetdevOptions _options;
    private IPAddress? _localIp;
    private int _localPrefix = -1;
    private bool _localApplied;

    private TapNetdev(string name, string kernelName, int ifIndex, TapFd[] fds, TapConfig config, NetdevOptions options, PacketPool pool)
        : base(name, TapNetdevProvider.TypeName, kernelName, ifIndex)
    {
        _fds = fds;
        _persist = config.Persist;
        _speedMbps = config.SpeedMbps;
        _options = options;
        _rx = new TapRxQueue[fds.Length];
        _tx = new TapTxQueue[fds.Length];
        for (int i = 0; i < fds.Length; i++)
        {
            _rx[i] = new TapRxQueue(this, i, fds[i], pool);
            _tx[i] = new TapTxQueue(this, i, fds[i]);
        }
        Capabilities = new NetdevCapabilities
        {
            MaxRxQueues = fds.Length, MaxTxQueues = fds.Length, MaxMtu = MaxMtuValue,
            CanSetMac = true, CanSetMtu = true, ReportsLinkChanges = true,
        };
    }

    internal static Errno Create(string portName, string requestedName, TapConfig config, NetdevOptions options, PacketPool pool,
        out TapNetdev? device, out string? error)
    {
        device = null;
        error = null;
        bool existed = !requestedName.Contains("%d", StringComparison.Ordinal) && NetDevice.NameToIndex(requestedName, out _).IsSuccess;
        var flags = TunFlags.Tap | TunFlags.NoPacketInfo | (config.Queues > 1 ? TunFlags.MultiQueue : TunFlags.None);
        var fds = new List<TapFd>();
        string kernelName = requestedName;
        bool persistSet = false;
        Errno e = Errno.Success;
        TapNetdev? tap = null;
        try
        {
            for (int q = 0; q < config.Queues; q++)
            {
                e = TapFd.Open(q == 0 ? requestedName : kernelName, flags, out var fd, out string actual);
                if (e.IsError)
                {
                    if (existed && e == Errno.EINVAL && !File.Exists($"/sys/class/net/{requestedName}/tun_flags"))
                    {
                        error = $"tap: iface={requestedName}: an interface of that name exists and is not a tap";
                        return Errno.EEXIST;
                    }
                    error = existed && (e == Errno.EINVAL || e == Errno.EBUSY)
                        ? $"tap: iface={requestedName}: exists but cannot be attached (not a tap, in use, or other queue settings): {e}"
                        : $"tap: cannot open queue {q} of '{requestedName}': {e}";
                    return e;
                }
                fds.Add(fd!);
                kernelName = actual;
            }
            if (config.Persist)
            {
                e = fds[0].SetPersist(true);
                if (e.IsError) { error = $"tap: {kernelName}: TUNSETPERSIST: {e}"; return e; }
                persistSet = !existed;
            }
            e = NetDevice.GetIndex(kernelName, out int ifIndex);
            if (e.IsError) { error = $"tap: {kernelName}: SIOCGIFINDEX: {e}"; return e; }
            var mac = config.Mac ?? (existed ? (MacAddress?)null : MacAddress.RandomLocal());
            if (mac is { } m)
            {
                Span<byte> b = stackalloc byte[6];
                m.CopyTo(b);
                e = NetDevice.SetHardwareAddress(kernelName, b);
                if (e.IsError) { error = $"tap: {kernelName}: cannot set mac {m}: {e}"; return e; }
            }
            if (config.Mtu > 0)
            {
                e = NetDevice.SetMtu(kernelName, config.Mtu);
                if (e.IsError) { error = $"tap: {kernelName}: cannot set mtu={config.Mtu}: {e}"; return e; }
            }
            tap = new TapNetdev(portName, kernelName, ifIndex, [.. fds], config, options, pool);
            e = tap.InitializeKernelState();
            if (e.IsError) { error = $"tap: {kernelName}: cannot read interface state: {e}"; return e; }
            e = tap.ApplyLocalAddress(config.LocalIp, config.LocalPrefix, out error);
            if (e.IsError) return e;
            device = tap;
            return Errno.Success;
        }
        finally
        {
            if (device is null)
            {
                if (persistSet && fds.Count > 0) fds[0].SetPersist(false);
                if (tap is not null) tap.Dispose();
                else foreach (var fd in fds) fd.Dispose();
            }
        }
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
    public override NetdevCapabilities Capabilities { get; }

    /// <inheritdoc/>
    public override NetdevOptions Options => Volatile.Read(ref _options);

    internal bool Gone => IsGone;

    /// <summary>The fast path saw EBADFD: the interface was destroyed where we could not see it.</summary>
    internal void OnDetachedFd() => MarkGone();

    internal int TxMtu => CachedMtu;

    /// <summary>The kernel's name for this tap (for <c>netdev-tap/get-tapname</c>); it never changes while open.</summary>
    public string GetKernelName() => KernelName;

    /// <summary>True once <c>local_ip</c>/<c>local_netmask</c> were both valid and applied to the kernel interface.</summary>
    public bool LocalAddressApplied
    {
        get { lock (ControlLock) return _localApplied; }
    }

    /// <inheritdoc/>
    public override NetdevInfo GetInfo()
    {
        var status = BaseStatus();
        status["queues"] = _fds.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
        status["persist"] = _persist ? "true" : "false";
        lock (ControlLock)
        {
            if (_localIp is not null) status["local_ip"] = _localIp.ToString();
            if (_localPrefix >= 0) status["local_netmask"] = _localPrefix.ToString(System.Globalization.CultureInfo.InvariantCulture);
            status["local_address"] = _localApplied ? "applied" : "pending";
        }
        return new NetdevInfo { Driver = Type, KernelName = KernelName, IfIndex = IfIndex, SpeedMbps = _speedMbps, Status = status };
    }

    /// <summary>
    /// Changes <c>local_ip</c> and <c>local_netmask</c> on the open device (applied once both are valid);
    /// every other option must keep its value (EOPNOTSUPP naming it otherwise). Nothing changes on error.
    /// </summary>
    public override Errno Reconfigure(NetdevOptions options, out string? error)
    {
        ArgumentNullException.ThrowIfNull(options);
        var current = Options;
        foreach (var key in current.Select(p => p.Key).Union(options.Select(p => p.Key)))
        {
            if (key is "local_ip" or "local_netmask") continue;
            if (current.Get(key) != options.Get(key))
            {
                error = $"tap: option '{key}' cannot be changed on an open device (only local_ip and local_netmask can)";
                return Errno.EOPNOTSUPP;
            }
        }
        if (!TapNetdevProvider.TryParseLocalAddress(options, out var ip, out int prefix, out error)) return Errno.EINVAL;
        var e = ApplyLocalAddress(ip, prefix, out error);
        if (e.IsSuccess) Volatile.Write(ref _options, options);
        return e;
    }

    private Errno ApplyLocalAddress(IPAddress? ip, int prefix, out string? error)
    {
        error = null;
        lock (ControlLock)
        {
            bool same = Equals(ip, _localIp) && prefix == _localPrefix;
            if (same && (_localApplied || ip is null || prefix < 0)) return Errno.Success;
            if (ip is not null && prefix >= 0)
            {
                if (InterfaceState != KernelInterfaceState.Present)
                {
                    error = $"tap: {KernelName}: local_ip cannot be applied: the interface is not in this network namespace";
                    return Errno.ENODEV;
                }
                Span<byte> addr = stackalloc byte[4];
                ip.TryWriteBytes(addr, out _);
                var e = RtNetlink.AddIPv4Address(IfIndex, addr, prefix);
                if (e.IsError) { error = $"tap: {KernelName}: cannot add {ip}/{prefix}: {e}"; return e; }
                e = NetDevice.UpdateFlags(KernelName, InterfaceFlags.None, InterfaceFlags.Up, out _);
                if (e.IsError) { error = $"tap: {KernelName}: cannot bring the interface up: {e}"; return e; }
                _localApplied = true;
                BumpChangeSeq();
            }
            else
            {
                _localApplied = false;
            }
            _localIp = ip;
            _localPrefix = prefix;
            return Errno.Success;
        }
    }

    /// <inheritdoc/>
    protected override KernelInterfaceState ClassifyRemoval() =>
        _fds[0].GetInterface(out _, out _).IsSuccess ? KernelInterfaceState.OtherNamespace : KernelInterfaceState.Gone;

    /// <inheritdoc/>
    protected override void OnGone()
    {
        // A detached tun fd polls EPOLLERR forever; put an eventfd that never fires in its place so a poll
        // thread sleeping on WaitFd sleeps. The fd number (WaitFd) stays the same.
        foreach (var fd in _fds) fd.ReplaceWithIdleDescriptor();
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (!disposing) return;
        foreach (var rx in _rx) rx.Free();
        foreach (var fd in _fds) fd.Dispose();
    }
}

/// <summary>
/// Receive queue of a <see cref="TapNetdev"/>: one read per frame into a pool buffer. The queue keeps its posted
/// buffer across calls (an empty poll rents and returns nothing) and releases it when the device is disposed.
/// </summary>
internal sealed unsafe class TapRxQueue : NetdevRxQueue
{
    private readonly TapNetdev _tap;
    private readonly TapFd _fd;
    private readonly int _waitFd;
    private readonly PacketPool _pool;
    private PacketBuffer? _posted;

    public TapRxQueue(TapNetdev device, int index, TapFd fd, PacketPool pool) : base(device, index)
    {
        _tap = device;
        _fd = fd;
        _waitFd = fd.Fd;
        _pool = pool;
    }

    public override int WaitFd => _waitFd;

    public override int Receive(ref PacketBatch batch)
    {
        if (_tap.Gone)
        {
            // The fd is now an idle eventfd; a write racing with the swap may have bumped its counter: reset it.
            _fd.DiscardFrame();
            return 0;
        }
        int added = 0;
        int attempts = batch.FreeCount;
        while (attempts-- > 0)
        {
            var packet = _posted;
            if (packet is null)
            {
                if (!_pool.TryRent(out packet))
                {
                    // No buffer: discard one frame so the fd does not stay readable forever.
                    if (_fd.DiscardFrame().IsError) break;
                    Stats.RxDropped++;
                    Stats.RxNoBuffer++;
                    continue;
                }
                _posted = packet; // rented buffers come reset for receive
            }
            var e = _fd.ReadFrame(packet.DataPointer, PacketBuffer.MaxFrameSize, out int n);
            if (e.IsError)
            {
                if (e != Errno.EAGAIN && e != Errno.EINTR)
                {
                    Stats.RxErrors++;
                    if (e == Errno.EBADFD) _tap.OnDetachedFd();
                }
                break;
            }
            if (n > PacketBuffer.MaxFrameSize)
            {
                Stats.RxErrors++;
                Stats.RxTruncated++;
                continue; // the posted buffer stays posted
            }
            if (n < EthernetHeader.Length)
            {
                Stats.RxErrors++;
                continue;
            }
            _posted = null;
            packet.SetLength(n);
            batch.TryAdd(packet);
            Stats.RxPackets++;
            Stats.RxBytes += (ulong)n;
            added++;
        }
        return added;
    }

    public override int Drain()
    {
        int drained = 0;
        while (_fd.DiscardFrame().IsSuccess) drained++;
        return drained;
    }

    /// <summary>Returns the posted buffer to the pool (device dispose, no queue call in progress).</summary>
    internal void Free()
    {
        _posted?.Release();
        _posted = null;
    }
}

/// <summary>Transmit queue of a <see cref="TapNetdev"/>: one write per frame; over-MTU frames are dropped.</summary>
internal sealed unsafe class TapTxQueue : NetdevTxQueue
{
    private readonly TapNetdev _tap;
    private readonly TapFd _fd;

    public TapTxQueue(TapNetdev device, int index, TapFd fd) : base(device, index)
    {
        _tap = device;
        _fd = fd;
    }
    public override int Send(ref PacketBatch batch)
    {
        int sent = 0;
        int mtu = _tap.TxMtu;
        bool gone = _tap.Gone;
        for (int i = 0; i < batch.Count; i++)
        {
            var packet = batch[i];
            if (gone)
            {
                Stats.TxDropped++;
            }
            else if (KernelInterfaceNetdev.ExceedsMtu(packet.Data, mtu))
            {
                Stats.TxDropped++;
                Stats.TxMtuDropped++;
            }
            else
            {
                var e = _fd.WriteFrame(packet.DataPointer, packet.Length, out int n);
                if (e.IsSuccess)
                {
                    Stats.TxPackets++;
                    Stats.TxBytes += (ulong)n;
                    sent++;
                }
                else if (e == Errno.EAGAIN || e == Errno.ENOBUFS || e == Errno.EIO)
                {
                    Stats.TxDropped++; // queue full, or interface administratively down (EIO)
                }
                else
                {
                    Stats.TxErrors++;
                    if (e == Errno.EBADFD) { _tap.OnDetachedFd(); gone = true; }
                }
            }
            packet.Release();
        }
        batch.Clear();
        return sent;
    }
}
