using System.Buffers.Binary;
using Vswitch.Interop.Linux;
using Vswitch.Netdev.Linux;
using Vswitch.Packets;

namespace Vswitch.Netdev.AfPacket;

/// <summary>
/// An open afpacket device: one AF_PACKET socket per queue pair bound to an existing interface; with more
/// than one, the sockets form a PACKET_FANOUT group (hash by flow) so each rx queue gets whole flows.
/// See docs/ports/afpacket.md.
/// </summary>
/// <remarks>
/// When the interface is deleted or moved to another network namespace the kernel unbinds the sockets:
/// link goes Down, <see cref="Netdev.ChangeSeq"/> is bumped, rx returns nothing, tx drops (counted).
/// <para>Queues follow the <see cref="NetdevRxQueue"/>/<see cref="NetdevTxQueue"/> contract: one thread per queue,
/// never blocking (non-blocking sockets, MSG_DONTWAIT; a full socket buffer drops and counts), no allocation, no
/// exceptions; rx buffers come from the open request's pool and pass to the caller (a recvmmsg rx queue keeps up to
/// a burst of posted buffers across calls, so an empty poll rents nothing), tx takes ownership of every packet and
/// releases it after sendmmsg. Control members may block briefly on ioctl/netlink, are serialised
/// internally and may be called from any thread.</para>
/// </remarks>
public sealed class AfPacketNetdev : KernelInterfaceNetdev
{
    /// <summary>Most queue pairs (fanout sockets) a device may open.</summary>
    public const int MaxQueues = 16;

    private readonly PacketSocket[] _sockets;
    private readonly NetdevRxQueue[] _rx;
    private readonly AfPacketTxQueue[] _tx;
    private readonly bool _promisc;
    private readonly bool _ignoreOutgoingByKernel;
    private readonly NetdevOptions _options;
    private readonly bool _fillChecksums;
    private readonly bool _ring;
    private ulong _kernelDrops;

    private AfPacketNetdev(string name, string kernelName, int ifIndex, PacketSocket[] sockets, TPacketV3Ring[] rings, bool promisc, bool ignoreOutgoing,
        bool fillChecksums, NetdevOptions options, PacketPool pool)
        : base(name, AfPacketNetdevProvider.TypeName, kernelName, ifIndex)
    {
        _sockets = sockets;
        _promisc = promisc;
        _ignoreOutgoingByKernel = ignoreOutgoing;
        _options = options;
        _fillChecksums = fillChecksums;
        _ring = rings.Length > 0;
        _rx = new NetdevRxQueue[sockets.Length];
        _tx = new AfPacketTxQueue[sockets.Length];
        for (int i = 0; i < sockets.Length; i++)
        {
            _rx[i] = _ring
                ? new AfPacketRingRxQueue(this, i, sockets[i], rings[i], pool, fillChecksums)
                : new AfPacketRxQueue(this, i, sockets[i], pool, fillChecksums);
            _tx[i] = new AfPacketTxQueue(this, i, sockets[i].Fd);
        }
        Capabilities = new NetdevCapabilities
        {
            MaxRxQueues = sockets.Length, MaxTxQueues = sockets.Length,
            MaxMtu = PacketBuffer.MaxFrameSize - EthernetHeader.Length - 2 * VlanHeader.Length,
            CanSetMac = true, CanSetMtu = true, ReportsLinkChanges = true,
        };
    }

    internal static Errno Create(string portName, string iface, int queues, bool promisc, bool fillChecksums, bool ring, NetdevOptions options,
        PacketPool pool, out AfPacketNetdev? device, out string? error)
    {
        device = null;
        error = null;
        var e = NetDevice.GetIndex(iface, out int ifIndex);
        if (e.IsError)
        {
            error = e == Errno.ENODEV ? $"afpacket: no interface '{iface}' in this network namespace" : $"afpacket: {iface}: {e}";
            return e;
        }
        var sockets = new List<PacketSocket>();
        var rings = new List<TPacketV3Ring>();
        AfPacketNetdev? dev = null;
        bool ignoreOutgoing = true;
        try
        {
            int fanoutId = queues > 1 ? Random.Shared.Next(1, 0x10000) : 0;
            for (int q = 0; q < queues; q++)
            {
                e = OpenSocket(iface, ifIndex, ring, out var socket, out var rxRing, out bool ignored, out error);
                if (e.IsError) return e;
                sockets.Add(socket!);
                if (rxRing is not null) rings.Add(rxRing);
                ignoreOutgoing &= ignored;
                if (queues > 1)
                {
                    // Another group may hold the random id: try a few others (all queues join the same one).
                    for (int attempt = 0; ; attempt++)
                    {
                        e = socket!.JoinFanout(fanoutId, PacketFanoutMode.Hash, defragment: true);
                        if (e.IsSuccess || q > 0 || attempt == 8) break;
                        fanoutId = Random.Shared.Next(1, 0x10000);
                    }
                    if (e.IsError) { error = $"afpacket: {iface}: PACKET_FANOUT for queue {q}: {e}"; return e; }
                }
            }
            if (promisc)
            {
                e = sockets[0].AddPromiscuousMembership(ifIndex);
                if (e.IsError) { error = $"afpacket: {iface}: PACKET_ADD_MEMBERSHIP(PROMISC): {e}"; return e; }
            }
            dev = new AfPacketNetdev(portName, iface, ifIndex, [.. sockets], [.. rings], promisc, ignoreOutgoing, fillChecksums, options, pool);
            e = dev.InitializeKernelState();
            if (e.IsError) { error = $"afpacket: {iface}: cannot read interface state: {e}"; return e; }
            device = dev;
            return Errno.Success;
        }
        finally
        {
            if (device is null)
            {
                if (dev is not null) dev.Dispose();
                else
                {
                    foreach (var r in rings) r.Dispose();
                    foreach (var s in sockets) s.Dispose();
                }
            }
        }
    }

    private static Errno OpenSocket(string iface, int ifIndex, bool ring, out PacketSocket? socket, out TPacketV3Ring? rxRing,
        out bool ignoreOutgoing, out string? error)
    {
        socket = null;
        rxRing = null;
        ignoreOutgoing = false;
        error = null;
        // Protocol 0 at creation: nothing is queued until Bind names the interface and ETH_P_ALL.
        var e = PacketSocket.Open(out var handle);
        if (e.IsError) { error = $"afpacket: {iface}: socket(AF_PACKET): {e}"; return e; }
        e = handle!.EnableAuxData();
        if (e.IsError) { error = $"afpacket: {iface}: PACKET_AUXDATA: {e}"; handle.Dispose(); return e; }
        ignoreOutgoing = handle.IgnoreOutgoing().IsSuccess;
        // Bigger socket buffers absorb bursts; best effort (FORCE needs CAP_NET_ADMIN).
        handle.SetBufferSizes(4 << 20, 4 << 20);
        if (ring)
        {
            // Before bind: nothing may be queued outside the ring.
            e = handle.MapRxRing(AfPacketRingRxQueue.BlockSize, AfPacketRingRxQueue.BlockCount, AfPacketRingRxQueue.FrameSize,
                AfPacketRingRxQueue.RetireTimeoutMs, out rxRing);
            if (e.IsError) { error = $"afpacket: {iface}: TPACKET_V3 rx ring: {e}"; handle.Dispose(); return e; }
        }
        e = handle.Bind(ifIndex);
        if (e.IsError)
        {
            error = $"afpacket: {iface}: bind: {e}";
            rxRing?.Dispose();
            rxRing = null;
            handle.Dispose();
            return e;
        }
        socket = handle;
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
    public override NetdevCapabilities Capabilities { get; }

    /// <inheritdoc/>
    public override NetdevOptions Options => _options;

    internal bool Gone => IsGone;

    internal int TxMtu => CachedMtu;

    /// <summary>True when the kernel filters our own transmissions (PACKET_IGNORE_OUTGOING, Linux ≥ 4.20).</summary>
    public bool KernelIgnoresOutgoing => _ignoreOutgoingByKernel;

    /// <summary>Adds the kernel's socket drop count (PACKET_STATISTICS tp_drops, all sockets) to RxDropped.</summary>
    public override NetdevStats GetStats()
    {
        var total = base.GetStats();
        total.RxDropped += ReadKernelDrops();
        return total;
    }

    /// <inheritdoc/>
    public override Errno ResetStats()
    {
        ReadKernelDrops();
        lock (ControlLock) _kernelDrops = 0;
        return base.ResetStats();
    }

    private ulong ReadKernelDrops()
    {
        lock (ControlLock)
        {
            if (IsDisposed) return _kernelDrops;
            foreach (var socket in _sockets)
            {
                if (socket.ReadStatistics(out var st).IsSuccess)
                    _kernelDrops += st.Drops; // the kernel resets its counters on every read
            }
            return _kernelDrops;
        }
    }

    /// <inheritdoc/>
    public override NetdevInfo GetInfo()
    {
        var status = BaseStatus();
        status["queues"] = _sockets.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
        status["promisc"] = _promisc ? "true" : "false";
        status["ignore_outgoing"] = _ignoreOutgoingByKernel ? "kernel" : "pkttype-check";
        status["csum"] = _fillChecksums ? "fill" : "none";
        status["rx_ring"] = _ring ? "tpacket_v3" : "recvmmsg";
        return new NetdevInfo
        {
            Driver = Type, KernelName = KernelName, IfIndex = IfIndex, SpeedMbps = NetDevice.ReadSpeedMbps(KernelName), Status = status,
        };
    }

    /// <summary>
    /// Accepts the options the device already runs with (so <c>dpctl set-if</c> with unchanged options succeeds);
    /// any change returns <c>EOPNOTSUPP</c> naming the option: re-add the port to change it.
    /// </summary>
    public override Errno Reconfigure(NetdevOptions options, out string? error)
    {
        ArgumentNullException.ThrowIfNull(options);
        foreach (var key in _options.Select(p => p.Key).Union(options.Select(p => p.Key)))
        {
            if (_options.Get(key) != options.Get(key))
            {
                error = $"afpacket: option '{key}' cannot be changed on an open device (remove and re-add the port)";
                return Errno.EOPNOTSUPP;
            }
        }
        error = null;
        return Errno.Success;
    }

    /// <inheritdoc/>
    protected override KernelInterfaceState ClassifyRemoval() => KernelInterfaceState.Gone;

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (!disposing) return;
        foreach (var rx in _rx)
        {
            (rx as AfPacketRxQueue)?.Free();
            (rx as AfPacketRingRxQueue)?.Free();
        }
        foreach (var tx in _tx) tx.Free();
        foreach (var socket in _sockets) socket.Dispose();
    }
}

/// <summary>
/// Receive queue of an <see cref="AfPacketNetdev"/>: recvmmsg of up to a batch of frames straight into pool buffers.
/// The buffers stay posted in the queue's <see cref="MessageBatch"/> across calls: a call rents only to replace the
/// buffers it handed over, so an empty poll rents and returns nothing. They go back to the pool at dispose.
/// </summary>
internal sealed unsafe class AfPacketRxQueue : NetdevRxQueue
{
    private readonly AfPacketNetdev _dev;
    private readonly PacketSocket _socket;
    private readonly int _fd;
    private readonly PacketPool _pool;
    private readonly PacketBuffer?[] _posted = new PacketBuffer?[PacketBatch.Capacity];
    private readonly MessageBatch _messages;

    public AfPacketRxQueue(AfPacketNetdev device, int index, PacketSocket socket, PacketPool pool, bool fillChecksums) : base(device, index)
    {
        _dev = device;
        _socket = socket;
        _fd = socket.Fd;
        _pool = pool;
        FillChecksums = fillChecksums;
        _messages = new MessageBatch(PacketBatch.Capacity, linkAddresses: true, controlBytes: MessageBatch.PacketAuxDataSpace);
    }

    public bool FillChecksums { get; }

    public override int WaitFd => _fd;

    public override int Receive(ref PacketBatch batch)
    {
        if (_dev.Gone)
        {
            ConsumePendingError();
            return 0;
        }
        int want = batch.FreeCount;
        if (want == 0) return 0;
        int posted = Post(want);
        if (posted == 0)
        {
            DiscardOne();
            return 0;
        }
        var e = _messages.Receive(_fd, posted, out int count);
        if (e.IsError)
        {
            if (e != Errno.EAGAIN && e != Errno.EINTR) Stats.RxErrors++;
            return 0;
        }
        int added = 0;
        for (int i = 0; i < count; i++)
        {
            var p = _posted[i]!;
            int length = _messages.Length(i);
            // Frames not delivered leave their buffer posted for the next call.
            if (_messages.PacketType(i) == LinkPacketType.Outgoing) continue; // our own (or the host's) transmission looped back
            if (_messages.IsTruncated(i))
            {
                Stats.RxErrors++;
                Stats.RxTruncated++;
                continue;
            }
            if (length < EthernetHeader.Length)
            {
                Stats.RxErrors++;
                continue;
            }
            _posted[i] = null;
            p.SetLength(length);
            if (_messages.TryGetPacketAuxData(i, out var aux)) ApplyAuxData(p, in aux);
            batch.TryAdd(p);
            Stats.RxPackets++;
            Stats.RxBytes += (ulong)p.Length;
            added++;
        }
        return added;
    }

    /// <summary>Makes sure the first <paramref name="want"/> messages have a buffer; returns how many in a row do.</summary>
    private int Post(int want)
    {
        for (int i = 0; i < want; i++)
        {
            if (_posted[i] is not null) continue;
            if (!_pool.TryRent(out var p)) return i;
            _posted[i] = p;
            _messages.SetSegment(i, 0, p.DataPointer, PacketBuffer.MaxFrameSize);
        }
        return want;
    }

    private void ApplyAuxData(PacketBuffer p, in PacketAuxData aux)
    {
        if (aux.HasVlanTag) InsertVlanTag(p, aux.VlanTpid, aux.VlanTci);
        if (FillChecksums && aux.ChecksumNotReady) PartialChecksum.TryComplete(p.Data);
    }

    private void InsertVlanTag(PacketBuffer p, ushort tpid, ushort tci)
    {
        if (!p.TryPush(VlanHeader.Length))
        {
            Stats.RxErrors++;
            return;
        }
        var data = p.Data;
        data.Slice(VlanHeader.Length, 12).CopyTo(data); // move destination and source MAC to the new front
        BinaryPrimitives.WriteUInt16BigEndian(data[12..], tpid);
        BinaryPrimitives.WriteUInt16BigEndian(data[14..], tci);
    }

    // The unbound socket reports its error (ENETDOWN) to poll until a receive consumes it, and frames queued
    // before the interface went away keep it readable: consume both (errors counted once each, frames as
    // dropped) so a poll thread sleeping on WaitFd sleeps again.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private void ConsumePendingError()
    {
        for (int i = 0; i < 4096; i++)
        {
            var e = _socket.DiscardOne();
            if (e == Errno.EAGAIN) return;
            if (e.IsError) Stats.RxErrors++;
            else Stats.RxDropped++;
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private void DiscardOne()
    {
        if (_socket.DiscardOne().IsSuccess)
        {
            Stats.RxDropped++;
            Stats.RxNoBuffer++;
        }
    }

    public override int Drain()
    {
        int drained = 0;
        while (_socket.DiscardOne().IsSuccess) drained++;
        return drained;
    }

    /// <summary>Returns the posted buffers to the pool and frees the message batch (device dispose, no call in progress).</summary>
    internal void Free()
    {
        for (int i = 0; i < _posted.Length; i++)
        {
            _posted[i]?.Release();
            _posted[i] = null;
        }
        _messages.Dispose();
    }
}

/// <summary>Transmit queue of an <see cref="AfPacketNetdev"/>: sendmmsg of a batch; over-MTU frames are dropped first.</summary>
internal sealed unsafe class AfPacketTxQueue : NetdevTxQueue
{
    private readonly AfPacketNetdev _dev;
    private readonly int _fd;
    private readonly MessageBatch _messages = new(PacketBatch.Capacity);

    public AfPacketTxQueue(AfPacketNetdev device, int index, int fd) : base(device, index)
    {
        _dev = device;
        _fd = fd;
    }

    public override int Send(ref PacketBatch batch)
    {
        int count = batch.Count;
        if (_dev.Gone)
        {
            Stats.TxDropped += (ulong)count;
            batch.ReleaseAll();
            return 0;
        }
        int mtu = _dev.TxMtu;
        int n = 0;
        for (int i = 0; i < count; i++)
        {
            var p = batch[i];
            if (KernelInterfaceNetdev.ExceedsMtu(p.Data, mtu))
            {
                Stats.TxDropped++;
                Stats.TxMtuDropped++;
                continue;
            }
            _messages.SetSegment(n, 0, p.DataPointer, p.Length);
            n++;
        }
        int sent = 0;
        int next = 0;
        while (next < n)
        {
            var e = _messages.Send(_fd, next, n - next, out int done);
            if (e.IsSuccess && done > 0)
            {
                for (int i = next; i < next + done; i++) Stats.TxBytes += (ulong)_messages.Length(i);
                Stats.TxPackets += (ulong)done;
                sent += done;
                next += done;
                continue;
            }
            if (e == Errno.EINTR) continue;
            // The message at 'next' failed: count it and go on with the rest.
            if (e == Errno.EAGAIN || e == Errno.ENOBUFS || e == Errno.ENETDOWN) Stats.TxDropped++;
            else Stats.TxErrors++;
            next++;
        }
        batch.ReleaseAll();
        return sent;
    }

    internal void Free() => _messages.Dispose();
}
