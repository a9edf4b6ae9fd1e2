using System.Runtime.InteropServices;

namespace Vswitch.Interop.Linux;

/// <summary>
/// A reusable batch of datagram messages for one <c>recvmmsg(2)</c> or <c>sendmmsg(2)</c> call, in the spirit of
/// dotnet/runtime's <c>Interop.Sys.MessageHeader</c>: the batch owns the native <c>mmsghdr</c>, <c>iovec</c>,
/// link-address and control-message arrays (allocated once, never moved); the caller only says where each
/// message's bytes live (<see cref="SetSegment"/>) and reads per-message results after the call.
/// </summary>
/// <remarks>
/// <para>Layout of message <c>i</c>: an optional batch-owned header segment of <c>headerBytes</c> bytes
/// (<see cref="Header"/>; room for a <c>virtio_net_hdr</c> in front of each frame), then
/// <see cref="SegmentsPerMessage"/> caller segments. Segment addresses stay set across calls, so a caller that
/// keeps its buffers posted sets them once.</para>
/// <para>Not thread-safe: one thread uses a batch at a time (a queue owns it). <see cref="Receive"/> and
/// <see cref="Send"/> never block (MSG_DONTWAIT), never allocate, never throw; they return an
/// <see cref="Errno"/>. The memory the segments point to must stay valid during the call.</para>
/// </remarks>
public sealed unsafe class MessageBatch : IDisposable
{
    private static readonly int s_auxDataSpace = LibC.CMSG_SPACE(sizeof(LibC.tpacket_auxdata));

    private readonly int _iovsPerMessage;
    private readonly int _headerBytes;
    private readonly int _controlBytes;
    private readonly bool _linkAddresses;
    private LibC.mmsghdr* _msgs;
    private LibC.iovec* _iovs;
    private LibC.sockaddr_ll* _addrs;
    private byte* _control;
    private byte* _headers;

    /// <summary>
    /// Allocates a batch of <paramref name="capacity"/> messages of <paramref name="segmentsPerMessage"/> caller
    /// segments each, with a <paramref name="headerBytes"/>-byte header segment in front (0: none), room for the
    /// sender's link-layer address when <paramref name="linkAddresses"/> (packet sockets: <see cref="PacketType"/>),
    /// and <paramref name="controlBytes"/> of ancillary data per message (<see cref="PacketAuxDataSpace"/> for
    /// PACKET_AUXDATA).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range (a caller bug).</exception>
    public MessageBatch(int capacity, int segmentsPerMessage = 1, int headerBytes = 0, bool linkAddresses = false, int controlBytes = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, 1024);
        ArgumentOutOfRangeException.ThrowIfLessThan(segmentsPerMessage, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(segmentsPerMessage, 16);
        ArgumentOutOfRangeException.ThrowIfNegative(headerBytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(headerBytes, 256);
        ArgumentOutOfRangeException.ThrowIfNegative(controlBytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(controlBytes, 4096);
        Capacity = capacity;
        SegmentsPerMessage = segmentsPerMessage;
        _headerBytes = headerBytes;
        _controlBytes = controlBytes;
        _linkAddresses = linkAddresses;
        _iovsPerMessage = segmentsPerMessage + (headerBytes > 0 ? 1 : 0);
        _msgs = (LibC.mmsghdr*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)sizeof(LibC.mmsghdr));
        _iovs = (LibC.iovec*)NativeMemory.AllocZeroed((nuint)(capacity * _iovsPerMessage), (nuint)sizeof(LibC.iovec));
        if (linkAddresses) _addrs = (LibC.sockaddr_ll*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)sizeof(LibC.sockaddr_ll));
        if (controlBytes > 0) _control = (byte*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)controlBytes);
        if (headerBytes > 0) _headers = (byte*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)headerBytes);
        for (int i = 0; i < capacity; i++)
        {
            ref var m = ref _msgs[i].msg_hdr;
            m.msg_iov = _iovs + i * _iovsPerMessage;
            m.msg_iovlen = (nuint)_iovsPerMessage;
            if (headerBytes > 0)
            {
                m.msg_iov[0].iov_base = _headers + i * headerBytes;
                m.msg_iov[0].iov_len = (nuint)headerBytes;
            }
            if (linkAddresses) m.msg_name = _addrs + i;
            if (controlBytes > 0) m.msg_control = _control + i * controlBytes;
        }
    }

    /// <summary>Control bytes per message that hold one PACKET_AUXDATA message (<c>CMSG_SPACE(sizeof(struct tpacket_auxdata))</c>).</summary>
    public static int PacketAuxDataSpace => s_auxDataSpace;

    /// <summary>Messages the batch holds.</summary>
    public int Capacity { get; }

    /// <summary>Caller segments per message (the header segment not counted).</summary>
    public int SegmentsPerMessage { get; }

    /// <summary>Points segment <paramref name="segment"/> of message <paramref name="message"/> at <paramref name="length"/> bytes at <paramref name="address"/>.</summary>
    public void SetSegment(int message, int segment, byte* address, int length)
    {
        if ((uint)message >= (uint)Capacity || (uint)segment >= (uint)SegmentsPerMessage || length < 0) ThrowBadIndex();
        ref var iov = ref _iovs[message * _iovsPerMessage + (_headerBytes > 0 ? 1 : 0) + segment];
        iov.iov_base = address;
        iov.iov_len = (nuint)length;
    }

    /// <summary>The batch-owned header segment of message <paramref name="message"/> (empty without headers).</summary>
    public Span<byte> Header(int message)
    {
        if ((uint)message >= (uint)Capacity) ThrowBadIndex();
        return _headerBytes == 0 ? default : new Span<byte>(_headers + message * _headerBytes, _headerBytes);
    }

    /// <summary>
    /// recvmmsg(2) into messages 0..<paramref name="count"/>-1 of <paramref name="fd"/>, without waiting: the number
    /// filled in <paramref name="received"/>. EAGAIN when nothing is pending (normal), EINTR, or the socket's error
    /// (e.g. ENETDOWN once its interface is gone).
    /// </summary>
    public Errno Receive(int fd, int count, out int received)
    {
        if ((uint)count > (uint)Capacity) ThrowBadIndex();
        uint nameLength = _linkAddresses ? (uint)sizeof(LibC.sockaddr_ll) : 0;
        for (int i = 0; i < count; i++)
        {
            ref var m = ref _msgs[i];
            m.msg_hdr.msg_namelen = nameLength;
            m.msg_hdr.msg_controllen = (nuint)_controlBytes;
            m.msg_hdr.msg_flags = 0;
            m.msg_len = 0;
        }
        return LibC.RecvMMsg(fd, _msgs, count, LibC.MSG_DONTWAIT, out received);
    }

    /// <summary>
    /// sendmmsg(2) of messages <paramref name="start"/>..<paramref name="start"/>+<paramref name="count"/>-1 on
    /// <paramref name="fd"/>, without waiting: how many went out in <paramref name="sent"/> (the first ones). When
    /// none could be sent the error of the first message is returned (EAGAIN/ENOBUFS: queue full, ENETDOWN, EMSGSIZE ...).
    /// </summary>
    public Errno Send(int fd, int start, int count, out int sent)
    {
        if ((uint)start > (uint)Capacity || (uint)count > (uint)(Capacity - start)) ThrowBadIndex();
        for (int i = start; i < start + count; i++)
        {
            ref var m = ref _msgs[i];
            m.msg_hdr.msg_namelen = 0;
            m.msg_hdr.msg_controllen = 0;
            m.msg_hdr.msg_flags = 0;
            m.msg_len = 0;
        }
        return LibC.SendMMsg(fd, _msgs + start, count, LibC.MSG_DONTWAIT, out sent);
    }

    /// <summary>Bytes received into, or sent from, message <paramref name="message"/> by the last call (header segment included).</summary>
    public int Length(int message)
    {
        if ((uint)message >= (uint)Capacity) ThrowBadIndex();
        return (int)_msgs[message].msg_len;
    }

    /// <summary>True when the received datagram was longer than the message's segments (MSG_TRUNC): it was cut.</summary>
    public bool IsTruncated(int message)
    {
        if ((uint)message >= (uint)Capacity) ThrowBadIndex();
        return (_msgs[message].msg_hdr.msg_flags & LibC.MSG_TRUNC) != 0;
    }

    /// <summary>The received frame's packet type (<c>sll_pkttype</c>); <see cref="LinkPacketType.Host"/> without link addresses.</summary>
    public LinkPacketType PacketType(int message)
    {
        if ((uint)message >= (uint)Capacity) ThrowBadIndex();
        return _linkAddresses ? (LinkPacketType)_addrs[message].sll_pkttype : LinkPacketType.Host;
    }

    /// <summary>The PACKET_AUXDATA control message of a received frame; false when there is none.</summary>
    public bool TryGetPacketAuxData(int message, out PacketAuxData aux)
    {
        if ((uint)message >= (uint)Capacity) ThrowBadIndex();
        aux = default;
        ref var hdr = ref _msgs[message].msg_hdr;
        byte* control = (byte*)hdr.msg_control;
        int controlLength = (int)hdr.msg_controllen;
        int offset = 0;
        while (control != null && offset + sizeof(LibC.cmsghdr) <= controlLength)
        {
            var cmsg = (LibC.cmsghdr*)(control + offset);
            int len = (int)cmsg->cmsg_len;
            if (len < sizeof(LibC.cmsghdr) || offset + len > controlLength) return false;
            if (cmsg->cmsg_level == LibC.SOL_PACKET && cmsg->cmsg_type == LibC.PACKET_AUXDATA
                && len >= LibC.CMSG_LEN(sizeof(LibC.tpacket_auxdata)))
            {
                var a = (LibC.tpacket_auxdata*)(control + offset + LibC.CMSG_ALIGN(sizeof(LibC.cmsghdr)));
                aux = new PacketAuxData(a->tp_status, a->tp_len, a->tp_snaplen, a->tp_vlan_tci, a->tp_vlan_tpid);
                return true;
            }
            offset += LibC.CMSG_ALIGN(len);
        }
        return false;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowBadIndex() => throw new ArgumentOutOfRangeException("message", "message, segment or count outside the batch");

    /// <summary>Frees the native arrays (idempotent). No call may be in progress.</summary>
    public void Dispose()
    {
        NativeMemory.Free(_msgs);
        NativeMemory.Free(_iovs);
        NativeMemory.Free(_addrs);
        NativeMemory.Free(_control);
        NativeMemory.Free(_headers);
        _msgs = null;
        _iovs = null;
        _addrs = null;
        _control = null;
        _headers = null;
    }
}
