using System.Buffers.Binary;
using System.Runtime.InteropServices;
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
/// exceptions; rx buffers come from the open request's pool and pass to the caller, tx takes ownership of every
/// packet and releases it after sendmmsg. Control members may block briefly on ioctl/netlink, are serialised
/// internally and may be called from any thread.</para>
/// </remarks>
public sealed class AfPacketNetdev : KernelInterfaceNetdev
{
    /// <summary>Most queue pairs (fanout sockets) a device may open.</summary>
    public const int MaxQueues = 16;

    private readonly SafeFd[] _sockets;
    private readonly NetdevRxQueue[] _rx;
    private readonly AfPacketTxQueue[] _tx;
    private readonly bool _promisc;
    private readonly bool _ignoreOutgoingByKernel;
    private readonly NetdevOptions _options;
    private readonly bool _fillChecksums;
    private readonly bool _ring;
    private ulong _kernelDrops;

    private unsafe AfPacketNetdev(string name, string kernelName, int ifIndex, SafeFd[] sockets, nint[] rings, bool promisc, bool ignoreOutgoing,
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
                ? AfPacketRingRxQueue.Create(this, i, sockets[i].Fd, pool, fillChecksums, (byte*)rings[i])
                : new AfPacketRxQueue(this, i, sockets[i].Fd, pool, fillChecksums);
            _tx[i] = new AfPacketTxQueue(this, i, sockets[i].Fd);
        }
        Capabilities = new NetdevCapabilities
        {
            MaxRxQueues = sockets.Length, MaxTxQueues = sockets.Length, MaxMtu = PacketBuffer.MaxFrameSize - LibC.ETH_HLEN - 8,
            CanSetMac = true, CanSetMtu = true, ReportsLinkChanges = true,
        };
    }

    internal static unsafe Errno Create(string portName, string iface, int queues, bool promisc, bool fillChecksums, bool ring, NetdevOptions options,
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
        var sockets = new List<SafeFd>();
        var rings = new List<nint>();
        AfPacketNetdev? dev = null;
        bool ignoreOutgoing = true;
        try
        {
            int fanoutId = queues > 1 ? Random.Shared.Next(1, 0x10000) : 0;
            for (int q = 0; q < queues; q++)
            {
                e = OpenSocket(iface, ifIndex, ring, out var socket, out byte* ringAddress, out bool ignored, out error);
                if (e.IsError) return e;
                sockets.Add(socket!);
                if (ring) rings.Add((nint)ringAddress);
                ignoreOutgoing &= ignored;
                if (queues > 1)
                {
                    // Another group may hold the random id: try a few others (all queues join the same one).
                    for (int attempt = 0; ; attempt++)
                    {
                        e = LibC.SetSockOptInt(socket!.Fd, LibC.SOL_PACKET, LibC.PACKET_FANOUT,
                            (fanoutId & 0xFFFF) | ((LibC.PACKET_FANOUT_HASH | LibC.PACKET_FANOUT_FLAG_DEFRAG) << 16));
                        if (e.IsSuccess || q > 0 || attempt == 8) break;
                        fanoutId = Random.Shared.Next(1, 0x10000);
                    }
                    if (e.IsError) { error = $"afpacket: {iface}: PACKET_FANOUT for queue {q}: {e}"; return e; }
                }
            }
            if (promisc)
            {
                LibC.packet_mreq mreq = new() { mr_ifindex = ifIndex, mr_type = LibC.PACKET_MR_PROMISC };
                e = LibC.SetSockOpt(sockets[0].Fd, LibC.SOL_PACKET, LibC.PACKET_ADD_MEMBERSHIP, &mreq, sizeof(LibC.packet_mreq));
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
                    foreach (var r in rings) LibC.MUnmap((void*)r, (nuint)AfPacketRingRxQueue.BlockSize * AfPacketRingRxQueue.BlockCount);
                    foreach (var s in sockets) s.Dispose();
                }
            }
        }
    }

    private static unsafe Errno OpenSocket(string iface, int ifIndex, bool ring, out SafeFd? socket, out byte* ringAddress,
        out bool ignoreOutgoing, out string? error)
    {
        socket = null;
        ringAddress = null;
        ignoreOutgoing = false;
        error = null;
        // Protocol 0 at creation: nothing is queued until bind() names the interface and ETH_P_ALL.
        var e = LibC.Socket(LibC.AF_PACKET, LibC.SOCK_RAW | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0, out int fd);
        if (e.IsError) { error = $"afpacket: {iface}: socket(AF_PACKET): {e}"; return e; }
        var handle = new SafeFd(fd);
        e = LibC.SetSockOptInt(fd, LibC.SOL_PACKET, LibC.PACKET_AUXDATA, 1);
        if (e.IsError) { error = $"afpacket: {iface}: PACKET_AUXDATA: {e}"; handle.Dispose(); return e; }
        ignoreOutgoing = LibC.SetSockOptInt(fd, LibC.SOL_PACKET, LibC.PACKET_IGNORE_OUTGOING, 1).IsSuccess;
        // Bigger socket buffers absorb bursts; best effort (FORCE needs CAP_NET_ADMIN).
        if (LibC.SetSockOptInt(fd, LibC.SOL_SOCKET, LibC.SO_RCVBUFFORCE, 4 << 20).IsError)
            LibC.SetSockOptInt(fd, LibC.SOL_SOCKET, LibC.SO_RCVBUF, 4 << 20);
        if (LibC.SetSockOptInt(fd, LibC.SOL_SOCKET, LibC.SO_SNDBUFFORCE, 4 << 20).IsError)
            LibC.SetSockOptInt(fd, LibC.SOL_SOCKET, LibC.SO_SNDBUF, 4 << 20);
        if (ring)
        {
            // Before bind: nothing may be queued outside the ring.
            e = AfPacketRingRxQueue.SetUp(fd, out ringAddress);
            if (e.IsError) { error = $"afpacket: {iface}: TPACKET_V3 rx ring: {e}"; handle.Dispose(); return e; }
        }
        LibC.sockaddr_ll sll = new()
        {
            sll_family = LibC.AF_PACKET, sll_protocol = LibC.htons(LibC.ETH_P_ALL), sll_ifindex = ifIndex,
        };
        e = LibC.Bind(fd, &sll, sizeof(LibC.sockaddr_ll));
        if (e.IsError)
        {
            error = $"afpacket: {iface}: bind: {e}";
            if (ringAddress != null) LibC.MUnmap(ringAddress, (nuint)AfPacketRingRxQueue.BlockSize * AfPacketRingRxQueue.BlockCount);
            ringAddress = null;
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

    private unsafe ulong ReadKernelDrops()
    {
        lock (ControlLock)
        {
            if (IsDisposed) return _kernelDrops;
            foreach (var socket in _sockets)
            {
                LibC.tpacket_stats st = default;
                int len = sizeof(LibC.tpacket_stats);
                if (LibC.GetSockOpt(socket.Fd, LibC.SOL_PACKET, LibC.PACKET_STATISTICS, &st, ref len).IsSuccess)
                    _kernelDrops += st.tp_drops; // the kernel resets its counters on every read
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
        foreach (var socket in _sockets) socket.Dispose();
        foreach (var tx in _tx) tx.Free();
    }
}

/// <summary>Receive queue of an <see cref="AfPacketNetdev"/>: recvmmsg of up to a batch of frames.</summary>
internal sealed unsafe class AfPacketRxQueue : NetdevRxQueue
{
    private static readonly int ControlSpace = LibC.CMSG_SPACE(sizeof(LibC.tpacket_auxdata));
    private const int ScratchSize = 64 * 1024;
    private readonly AfPacketNetdev _dev;
    private readonly int _fd;
    private readonly PacketPool _pool;
    private readonly PacketBuffer?[] _rented = new PacketBuffer?[PacketBatch.Capacity];
    private LibC.mmsghdr* _msgs;
    private LibC.iovec* _iovs;
    private LibC.sockaddr_ll* _addrs;
    private byte* _control;
    private byte* _scratch;

    public AfPacketRxQueue(AfPacketNetdev device, int index, int fd, PacketPool pool, bool fillChecksums) : base(device, index)
    {
        _dev = device;
        _fd = fd;
        _pool = pool;
        FillChecksums = fillChecksums;
        const int n = PacketBatch.Capacity;
        _msgs = (LibC.mmsghdr*)NativeMemory.AllocZeroed((nuint)(n * sizeof(LibC.mmsghdr)));
        _iovs = (LibC.iovec*)NativeMemory.AllocZeroed((nuint)(n * sizeof(LibC.iovec)));
        _addrs = (LibC.sockaddr_ll*)NativeMemory.AllocZeroed((nuint)(n * sizeof(LibC.sockaddr_ll)));
        _control = (byte*)NativeMemory.AllocZeroed((nuint)(n * ControlSpace));
        _scratch = (byte*)NativeMemory.Alloc(ScratchSize);
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
        int rented = 0;
        while (rented < want && _pool.TryRent(out var p))
        {
            _rented[rented] = p;
            rented++;
        }
        if (rented == 0)
        {
            DiscardOne();
            return 0;
        }
        for (int i = 0; i < rented; i++)
        {
            var p = _rented[i]!;
            ref var m = ref _msgs[i];
            _iovs[i].iov_base = p.DataPointer;
            _iovs[i].iov_len = PacketBuffer.MaxFrameSize;
            m.msg_hdr.msg_name = &_addrs[i];
            m.msg_hdr.msg_namelen = (uint)sizeof(LibC.sockaddr_ll);
            m.msg_hdr.msg_iov = &_iovs[i];
            m.msg_hdr.msg_iovlen = 1;
            m.msg_hdr.msg_control = _control + i * ControlSpace;
            m.msg_hdr.msg_controllen = (nuint)ControlSpace;
            m.msg_hdr.msg_flags = 0;
            m.msg_len = 0;
        }
        var e = LibC.RecvMMsg(_fd, _msgs, rented, 0, out int count);
        if (e.IsError)
        {
            if (e != Errno.EAGAIN && e != Errno.EINTR) Stats.RxErrors++;
            count = 0;
        }
        int added = 0;
        for (int i = 0; i < rented; i++)
        {
            var p = _rented[i]!;
            _rented[i] = null;
            if (i >= count)
            {
                p.Release();
                continue;
            }
            ref var m = ref _msgs[i];
            int length = (int)m.msg_len;
            if (_addrs[i].sll_pkttype == LibC.PACKET_OUTGOING)
            {
                p.Release(); // our own (or the host's) transmission looped back: never deliver
                continue;
            }
            if ((m.msg_hdr.msg_flags & LibC.MSG_TRUNC) != 0)
            {
                p.Release();
                Stats.RxErrors++;
                Stats.RxTruncated++;
                continue;
            }
            if (length < LibC.ETH_HLEN)
            {
                p.Release();
                Stats.RxErrors++;
                continue;
            }
            p.SetLength(length);
            ApplyAuxData(p, ref m.msg_hdr);
            batch.TryAdd(p);
            Stats.RxPackets++;
            Stats.RxBytes += (ulong)p.Length;
            added++;
        }
        return added;
    }

    private void ApplyAuxData(PacketBuffer p, ref LibC.msghdr hdr)
    {
        byte* control = (byte*)hdr.msg_control;
        int controlLength = (int)hdr.msg_controllen;
        int offset = 0;
        while (offset + sizeof(LibC.cmsghdr) <= controlLength)
        {
            var cmsg = (LibC.cmsghdr*)(control + offset);
            int len = (int)cmsg->cmsg_len;
            if (len < sizeof(LibC.cmsghdr) || offset + len > controlLength) break;
            if (cmsg->cmsg_level == LibC.SOL_PACKET && cmsg->cmsg_type == LibC.PACKET_AUXDATA
                && len >= LibC.CMSG_LEN(sizeof(LibC.tpacket_auxdata)))
            {
                var aux = (LibC.tpacket_auxdata*)(control + offset + LibC.CMSG_ALIGN(sizeof(LibC.cmsghdr)));
                if ((aux->tp_status & LibC.TP_STATUS_VLAN_VALID) != 0)
                {
                    ushort tpid = (aux->tp_status & LibC.TP_STATUS_VLAN_TPID_VALID) != 0 && aux->tp_vlan_tpid != 0
                        ? aux->tp_vlan_tpid : LibC.ETH_P_8021Q;
                    InsertVlanTag(p, tpid, aux->tp_vlan_tci);
                }
                if (FillChecksums && (aux->tp_status & LibC.TP_STATUS_CSUMNOTREADY) != 0)
                    PartialChecksum.TryComplete(p.Data);
                return;
            }
            offset += LibC.CMSG_ALIGN(len);
        }
    }

    private void InsertVlanTag(PacketBuffer p, ushort tpid, ushort tci)
    {
        if (!p.TryPush(4))
        {
            Stats.RxErrors++;
            return;
        }
        var data = p.Data;
        data.Slice(4, 12).CopyTo(data); // move destination and source MAC to the new front
        BinaryPrimitives.WriteUInt16BigEndian(data[12..], tpid);
        BinaryPrimitives.WriteUInt16BigEndian(data[14..], tci);
    }

    // The unbound socket reports its error (ENETDOWN) to poll until a receive consumes it, and frames queued
    // before the interface went away keep it readable: consume both (errors counted once each, frames as
    // dropped) so a poll thread sleeping on WaitFd sleeps again.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private void ConsumePendingError()
    {
        LibC.iovec iov = new() { iov_base = _scratch, iov_len = ScratchSize };
        for (int i = 0; i < 4096; i++)
        {
            LibC.msghdr msg = new() { msg_iov = &iov, msg_iovlen = 1 };
            var e = LibC.RecvMsg(_fd, &msg, 0, out _);
            if (e == Errno.EAGAIN) return;
            if (e.IsError) Stats.RxErrors++;
            else Stats.RxDropped++;
        }
    }

    private void DiscardOne()
    {
        LibC.iovec iov = new() { iov_base = _scratch, iov_len = ScratchSize };
        LibC.msghdr msg = new() { msg_iov = &iov, msg_iovlen = 1 };
        if (LibC.RecvMsg(_fd, &msg, 0, out _).IsSuccess)
        {
            Stats.RxDropped++;
            Stats.RxNoBuffer++;
        }
    }

    public override int Drain()
    {
        int drained = 0;
        LibC.iovec iov = new() { iov_base = _scratch, iov_len = ScratchSize };
        while (true)
        {
            LibC.msghdr msg = new() { msg_iov = &iov, msg_iovlen = 1 };
            if (LibC.RecvMsg(_fd, &msg, 0, out _).IsError) return drained;
            drained++;
        }
    }

    internal void Free()
    {
        NativeMemory.Free(_msgs);
        NativeMemory.Free(_iovs);
        NativeMemory.Free(_addrs);
        NativeMemory.Free(_control);
        NativeMemory.Free(_scratch);
        _msgs = null;
        _iovs = null;
        _addrs = null;
        _control = null;
        _scratch = null;
    }
}

/// <summary>Transmit queue of an <see cref="AfPacketNetdev"/>: sendmmsg of a batch; over-MTU frames are dropped first.</summary>
internal sealed unsafe class AfPacketTxQueue : NetdevTxQueue
{
    private readonly AfPacketNetdev _dev;
    private readonly int _fd;
    private LibC.mmsghdr* _msgs;
    private LibC.iovec* _iovs;

    public AfPacketTxQueue(AfPacketNetdev device, int index, int fd) : base(device, index)
    {
        _dev = device;
        _fd = fd;
        _msgs = (LibC.mmsghdr*)NativeMemory.AllocZeroed((nuint)(PacketBatch.Capacity * sizeof(LibC.mmsghdr)));
        _iovs = (LibC.iovec*)NativeMemory.AllocZeroed((nuint)(PacketBatch.Capacity * sizeof(LibC.iovec)));
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
            _iovs[n].iov_base = p.DataPointer;
            _iovs[n].iov_len = (nuint)p.Length;
            ref var m = ref _msgs[n];
            m.msg_hdr = default;
            m.msg_hdr.msg_iov = &_iovs[n];
            m.msg_hdr.msg_iovlen = 1;
            m.msg_len = 0;
            n++;
        }
        int sent = 0;
        int next = 0;
        while (next < n)
        {
            var e = LibC.SendMMsg(_fd, _msgs + next, n - next, LibC.MSG_DONTWAIT, out int done);
            if (e.IsSuccess && done > 0)
            {
                for (int i = next; i < next + done; i++) Stats.TxBytes += _msgs[i].msg_len;
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

    internal void Free()
    {
        NativeMemory.Free(_msgs);
        NativeMemory.Free(_iovs);
        _msgs = null;
        _iovs = null;
    }
}
