using System.Runtime.InteropServices;

namespace Vswitch.Interop.Linux;

/// <summary>How a PACKET_FANOUT group spreads frames over its sockets.</summary>
public enum PacketFanoutMode
{
    /// <summary>By flow hash (<c>PACKET_FANOUT_HASH</c>): a flow always lands on the same socket.</summary>
    Hash = LibC.PACKET_FANOUT_HASH,
}

/// <summary>
/// An AF_PACKET/SOCK_RAW socket (packet(7)), non-blocking and close-on-exec, with the options a switch port
/// needs as typed calls: PACKET_AUXDATA, PACKET_IGNORE_OUTGOING, buffer sizes, a TPACKET_V3 receive ring,
/// bind to an interface, PACKET_FANOUT, promiscuous membership and PACKET_STATISTICS. Batched I/O goes
/// through a <see cref="MessageBatch"/> on <see cref="Fd"/>; ring receive through <see cref="TPacketV3Ring"/>.
/// </summary>
/// <remarks>
/// Every call returns an <see cref="Errno"/> and never throws. Setup calls are made by one thread before
/// the socket is shared; <see cref="DiscardOne"/> belongs to the queue that owns the socket.
/// </remarks>
public sealed unsafe class PacketSocket : IDisposable
{
    private const int ScratchSize = 64 * 1024;
    private readonly SafeFd _fd;
    private byte* _scratch;

    private PacketSocket(SafeFd fd)
    {
        _fd = fd;
        _scratch = (byte*)NativeMemory.Alloc(ScratchSize);
    }

    /// <summary>
    /// Opens an unbound packet socket with protocol 0, so that nothing is queued before <see cref="Bind"/>.
    /// Errors: EPERM (needs CAP_NET_RAW), EAFNOSUPPORT, EMFILE.
    /// </summary>
    public static Errno Open(out PacketSocket? socket)
    {
        socket = null;
        var e = LibC.Socket(LibC.AF_PACKET, LibC.SOCK_RAW | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0, out int fd);
        if (e.IsError) return e;
        socket = new PacketSocket(new SafeFd(fd));
        return Errno.Success;
    }

    /// <summary>The descriptor: readable when frames (or a socket error) are pending. -1 once disposed.</summary>
    public int Fd => _fd.Fd;

    /// <summary>PACKET_AUXDATA: every received frame carries its status and stripped VLAN tag (<see cref="MessageBatch.TryGetPacketAuxData"/>).</summary>
    public Errno EnableAuxData() => LibC.SetSockOptInt(_fd.Fd, LibC.SOL_PACKET, LibC.PACKET_AUXDATA, 1);

    /// <summary>PACKET_IGNORE_OUTGOING (Linux ≥ 4.20): the kernel stops looping this host's transmissions back. ENOPROTOOPT when unsupported.</summary>
    public Errno IgnoreOutgoing() => LibC.SetSockOptInt(_fd.Fd, LibC.SOL_PACKET, LibC.PACKET_IGNORE_OUTGOING, 1);

    /// <summary>
    /// Sets the receive and send buffer sizes, beyond the sysctl limits when allowed (SO_RCVBUFFORCE needs
    /// CAP_NET_ADMIN), else as far as the limits allow. Best effort: returns the first error of the plain option.
    /// </summary>
    public Errno SetBufferSizes(int receiveBytes, int sendBytes)
    {
        int fd = _fd.Fd;
        Errno first = Errno.Success;
        if (LibC.SetSockOptInt(fd, LibC.SOL_SOCKET, LibC.SO_RCVBUFFORCE, receiveBytes).IsError)
            first = LibC.SetSockOptInt(fd, LibC.SOL_SOCKET, LibC.SO_RCVBUF, receiveBytes);
        if (LibC.SetSockOptInt(fd, LibC.SOL_SOCKET, LibC.SO_SNDBUFFORCE, sendBytes).IsError)
        {
            var e = LibC.SetSockOptInt(fd, LibC.SOL_SOCKET, LibC.SO_SNDBUF, sendBytes);
            if (first.IsSuccess) first = e;
        }
        return first;
    }

    /// <summary>
    /// Switches to TPACKET_V3 and maps a PACKET_RX_RING of <paramref name="blockCount"/> blocks of
    /// <paramref name="blockSize"/> bytes (a page multiple) with frames of at most <paramref name="frameSize"/>
    /// bytes; a block is handed over when full or after <paramref name="retireTimeoutMs"/>. Call before
    /// <see cref="Bind"/> so that no frame is queued outside the ring. The ring is unmapped when disposed
    /// (before the socket). Errors: EINVAL (geometry), ENOMEM, EBUSY (a ring exists).
    /// </summary>
    public Errno MapRxRing(int blockSize, int blockCount, int frameSize, int retireTimeoutMs, out TPacketV3Ring? ring)
    {
        ring = null;
        int fd = _fd.Fd;
        if (blockSize <= 0 || blockCount <= 0 || frameSize <= 0 || blockSize % frameSize != 0 || retireTimeoutMs < 0) return Errno.EINVAL;
        var e = LibC.SetSockOptInt(fd, LibC.SOL_PACKET, LibC.PACKET_VERSION, LibC.TPACKET_V3);
        if (e.IsError) return e;
        LibC.tpacket_req3 req = new()
        {
            tp_block_size = (uint)blockSize, tp_block_nr = (uint)blockCount, tp_frame_size = (uint)frameSize,
            tp_frame_nr = (uint)(blockSize / frameSize * blockCount), tp_retire_blk_tov = (uint)retireTimeoutMs,
        };
        e = LibC.SetSockOpt(fd, LibC.SOL_PACKET, LibC.PACKET_RX_RING, &req, sizeof(LibC.tpacket_req3));
        if (e.IsError) return e;
        nuint length = (nuint)blockSize * (nuint)blockCount;
        e = LibC.MMap(length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, out void* address);
        if (e.IsError) return e;
        ring = new TPacketV3Ring((byte*)address, blockSize, blockCount);
        return Errno.Success;
    }

    /// <summary>Binds to interface <paramref name="ifIndex"/> for every protocol (ETH_P_ALL). ENODEV when it does not exist.</summary>
    public Errno Bind(int ifIndex)
    {
        LibC.sockaddr_ll sll = new()
        {
            sll_family = LibC.AF_PACKET, sll_protocol = LibC.htons(LibC.ETH_P_ALL), sll_ifindex = ifIndex,
        };
        return LibC.Bind(_fd.Fd, &sll, sizeof(LibC.sockaddr_ll));
    }

    /// <summary>
    /// Joins PACKET_FANOUT group <paramref name="groupId"/> (1..65535) in <paramref name="mode"/>; with
    /// <paramref name="defragment"/>, IP fragments are reassembled before hashing. EINVAL/EALREADY when the id is
    /// held by a group with other settings (try another id).
    /// </summary>
    public Errno JoinFanout(int groupId, PacketFanoutMode mode, bool defragment)
    {
        int flags = (int)mode | (defragment ? LibC.PACKET_FANOUT_FLAG_DEFRAG : 0);
        return LibC.SetSockOptInt(_fd.Fd, LibC.SOL_PACKET, LibC.PACKET_FANOUT, (groupId & 0xFFFF) | (flags << 16));
    }

    /// <summary>PACKET_ADD_MEMBERSHIP(PACKET_MR_PROMISC) on <paramref name="ifIndex"/>: receive all unicast frames while the socket lives.</summary>
    public Errno AddPromiscuousMembership(int ifIndex)
    {
        LibC.packet_mreq mreq = new() { mr_ifindex = ifIndex, mr_type = LibC.PACKET_MR_PROMISC };
        return LibC.SetSockOpt(_fd.Fd, LibC.SOL_PACKET, LibC.PACKET_ADD_MEMBERSHIP, &mreq, sizeof(LibC.packet_mreq));
    }

    /// <summary>PACKET_STATISTICS: counters since the previous read (the kernel resets them).</summary>
    public Errno ReadStatistics(out PacketSocketStatistics statistics)
    {
        LibC.tpacket_stats st = default;
        int len = sizeof(LibC.tpacket_stats);
        var e = LibC.GetSockOpt(_fd.Fd, LibC.SOL_PACKET, LibC.PACKET_STATISTICS, &st, ref len);
        statistics = e.IsSuccess ? new PacketSocketStatistics(st.tp_packets, st.tp_drops) : default;
        return e;
    }

    /// <summary>
    /// Receives one pending frame into a scratch buffer and forgets it (also consumes a pending socket error,
    /// which is then returned). EAGAIN when nothing is pending. Never blocks.
    /// </summary>
    public Errno DiscardOne()
    {
        LibC.iovec iov = new() { iov_base = _scratch, iov_len = ScratchSize };
        LibC.msghdr msg = new() { msg_iov = &iov, msg_iovlen = 1 };
        return LibC.RecvMsg(_fd.Fd, &msg, LibC.MSG_DONTWAIT, out _);
    }

    /// <summary>Closes the socket and frees the scratch buffer (idempotent). A ring must be disposed first.</summary>
    public void Dispose()
    {
        _fd.Dispose();
        NativeMemory.Free(_scratch);
        _scratch = null;
    }
}
