using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Vswitch.Interop.Linux;

/// <summary>One network interface as rtnetlink reports it (RTM_NEWLINK / RTM_DELLINK).</summary>
/// <param name="IfIndex">Kernel interface index.</param>
/// <param name="Name">Interface name (IFLA_IFNAME), or empty.</param>
/// <param name="Flags">Interface flags (up, running, carrier (lower up), ...).</param>
/// <param name="OperState">RFC 2863 operational state (IF_OPER_UP = 6, IF_OPER_DOWN = 2, ...).</param>
/// <param name="Mtu">MTU (IFLA_MTU), or 0.</param>
/// <param name="Address">Hardware address (IFLA_ADDRESS), or empty.</param>
/// <param name="Deleted">True for RTM_DELLINK: the interface left this namespace (deleted or moved).</param>
public sealed record NetlinkLink(int IfIndex, string Name, InterfaceFlags Flags, byte OperState, int Mtu, byte[] Address, bool Deleted)
{
    /// <summary>True when the interface is up with carrier (IFF_UP and IFF_LOWER_UP/IFF_RUNNING).</summary>
    public bool IsLinkUp => !Deleted && (Flags & InterfaceFlags.Up) != 0 && (Flags & (InterfaceFlags.LowerUp | InterfaceFlags.Running)) != 0;
}

/// <summary>
/// Route netlink requests: dump and query links, add IPv4 addresses, parse link messages. Each request
/// opens its own short-lived socket (simple and thread-safe); calls block until the kernel answers.
/// </summary>
public static unsafe class RtNetlink
{
    private static int _sequence;

    /// <summary>
    /// Opens a NETLINK_ROUTE socket bound to multicast <paramref name="groups"/> (e.g. RTMGRP_LINK, or 0).
    /// Blocking unless <paramref name="nonBlocking"/>.
    /// </summary>
    public static Errno OpenSocket(uint groups, bool nonBlocking, out SafeFd? socket)
    {
        socket = null;
        int type = LibC.SOCK_RAW | LibC.SOCK_CLOEXEC | (nonBlocking ? LibC.SOCK_NONBLOCK : 0);
        var e = LibC.Socket(LibC.AF_NETLINK, type, LibC.NETLINK_ROUTE, out int fd);
        if (e.IsError) return e;
        var handle = new SafeFd(fd);
        LibC.sockaddr_nl sa = new() { nl_family = LibC.AF_NETLINK, nl_groups = groups };
        e = LibC.Bind(fd, &sa, sizeof(LibC.sockaddr_nl));
        if (e.IsSuccess && groups != 0) e = LibC.SetSockOptInt(fd, LibC.SOL_SOCKET, LibC.SO_RCVBUFFORCE, 1 << 20);
        if (e.IsSuccess || (groups != 0 && e == Errno.EPERM))
        {
            socket = handle;
            return Errno.Success;
        }
        handle.Dispose();
        return e;
    }

    /// <summary>All links of this network namespace (RTM_GETLINK dump).</summary>
    public static Errno DumpLinks(out List<NetlinkLink> links)
    {
        links = [];
        var e = OpenSocket(0, false, out var socket);
        if (e.IsError) return e;
        using (socket)
        {
            int fd = socket!.Fd;
            uint seq = (uint)Interlocked.Increment(ref _sequence);
            Span<byte> request = stackalloc byte[sizeof(LibC.nlmsghdr) + sizeof(LibC.ifinfomsg)];
            request.Clear();
            WriteHeader(request, request.Length, LibC.RTM_GETLINK, (ushort)(LibC.NLM_F_REQUEST | LibC.NLM_F_DUMP), seq);
            e = LibC.Write(fd, request, out _);
            if (e.IsError) return e;
            var buffer = new byte[64 * 1024];
            while (true)
            {
                e = LibC.Read(fd, buffer, out int n);
                if (e == Errno.EINTR) continue;
                if (e.IsError) return e;
                if (n == 0) return Errno.EPROTO;
                int offset = 0;
                while (offset + sizeof(LibC.nlmsghdr) <= n)
                {
                    var span = buffer.AsSpan(offset, n - offset);
                    var hdr = MemoryMarshal.Read<LibC.nlmsghdr>(span);
                    if (hdr.nlmsg_len < sizeof(LibC.nlmsghdr) || hdr.nlmsg_len > span.Length) return Errno.EPROTO;
                    var msg = span[..(int)hdr.nlmsg_len];
                    if (hdr.nlmsg_type == LibC.NLMSG_DONE) return Errno.Success;
                    if (hdr.nlmsg_type == LibC.NLMSG_ERROR) return ErrorOf(msg);
                    if (TryParseLink(msg, out var link)) links.Add(link);
                    offset += LibC.NLMSG_ALIGN((int)hdr.nlmsg_len);
                }
            }
        }
    }

    /// <summary>One link by index (RTM_GETLINK). ENODEV when there is no such interface in this namespace.</summary>
    public static Errno GetLink(int ifindex, out NetlinkLink? link)
    {
        link = null;
        var e = OpenSocket(0, false, out var socket);
        if (e.IsError) return e;
        using (socket)
        {
            int fd = socket!.Fd;
            uint seq = (uint)Interlocked.Increment(ref _sequence);
            Span<byte> request = stackalloc byte[sizeof(LibC.nlmsghdr) + sizeof(LibC.ifinfomsg)];
            request.Clear();
            WriteHeader(request, request.Length, LibC.RTM_GETLINK, LibC.NLM_F_REQUEST, seq);
            MemoryMarshal.Write(request[sizeof(LibC.nlmsghdr)..], new LibC.ifinfomsg { ifi_index = ifindex });
            e = LibC.Write(fd, request, out _);
            if (e.IsError) return e;
            var buffer = new byte[16 * 1024];
            while (true)
            {
                e = LibC.Read(fd, buffer, out int n);
                if (e == Errno.EINTR) continue;
                if (e.IsError) return e;
                if (n < sizeof(LibC.nlmsghdr)) return Errno.EPROTO;
                var hdr = MemoryMarshal.Read<LibC.nlmsghdr>(buffer);
                var msg = buffer.AsSpan(0, Math.Min(n, (int)hdr.nlmsg_len));
                if (hdr.nlmsg_type == LibC.NLMSG_ERROR) return ErrorOf(msg);
                if (TryParseLink(msg, out var parsed)) { link = parsed; return Errno.Success; }
                return Errno.EPROTO;
            }
        }
    }

    /// <summary>
    /// Adds (or replaces) the IPv4 address <paramref name="address"/>/<paramref name="prefixLength"/> on interface
    /// <paramref name="ifindex"/> (RTM_NEWADDR with IFA_LOCAL, IFA_ADDRESS and IFA_BROADCAST), waiting for the kernel's ack.
    /// EINVAL for a prefix outside 0..32; ENODEV for no such interface.
    /// </summary>
    public static Errno AddIPv4Address(int ifindex, ReadOnlySpan<byte> address, int prefixLength)
    {
        if (address.Length != 4 || prefixLength is < 0 or > 32) return Errno.EINVAL;
        var e = OpenSocket(0, false, out var socket);
        if (e.IsError) return e;
        using (socket)
        {
            int fd = socket!.Fd;
            uint seq = (uint)Interlocked.Increment(ref _sequence);
            int attr = LibC.RTA_ALIGN(sizeof(LibC.rtattr) + 4);
            int length = sizeof(LibC.nlmsghdr) + sizeof(LibC.ifaddrmsg) + 3 * attr;
            Span<byte> request = stackalloc byte[length];
            request.Clear();
            WriteHeader(request, length, LibC.RTM_NEWADDR,
                (ushort)(LibC.NLM_F_REQUEST | LibC.NLM_F_ACK | LibC.NLM_F_CREATE | LibC.NLM_F_REPLACE), seq);
            int off = sizeof(LibC.nlmsghdr);
            MemoryMarshal.Write(request[off..], new LibC.ifaddrmsg
            {
                ifa_family = LibC.AF_INET, ifa_prefixlen = (byte)prefixLength, ifa_scope = LibC.RT_SCOPE_UNIVERSE, ifa_index = (uint)ifindex,
            });
            off += sizeof(LibC.ifaddrmsg);
            uint ip = BinaryPrimitives.ReadUInt32BigEndian(address);
            uint mask = prefixLength == 0 ? 0 : uint.MaxValue << (32 - prefixLength);
            Span<byte> broadcast = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(broadcast, prefixLength >= 31 ? ip : ip | ~mask);
            off += WriteAttribute(request[off..], LibC.IFA_LOCAL, address);
            off += WriteAttribute(request[off..], LibC.IFA_ADDRESS, address);
            WriteAttribute(request[off..], LibC.IFA_BROADCAST, broadcast);
            e = LibC.Write(fd, request, out _);
            if (e.IsError) return e;
            return ReadAck(fd, seq);
        }
    }

    private static Errno ReadAck(int fd, uint seq)
    {
        Span<byte> buffer = stackalloc byte[8192];
        while (true)
        {
            var e = LibC.Read(fd, buffer, out int n);
            if (e == Errno.EINTR) continue;
            if (e.IsError) return e;
            if (n < sizeof(LibC.nlmsghdr)) return Errno.EPROTO;
            var hdr = MemoryMarshal.Read<LibC.nlmsghdr>(buffer);
            if (hdr.nlmsg_seq != seq) continue;
            if (hdr.nlmsg_type == LibC.NLMSG_ERROR) return ErrorOf(buffer[..Math.Min(n, (int)hdr.nlmsg_len)]);
            return Errno.Success;
        }
    }

    private static Errno ErrorOf(ReadOnlySpan<byte> message)
    {
        if (message.Length < sizeof(LibC.nlmsghdr) + sizeof(int)) return Errno.EPROTO;
        int error = MemoryMarshal.Read<int>(message[sizeof(LibC.nlmsghdr)..]);
        return new Errno(-error);
    }

    private static void WriteHeader(Span<byte> buffer, int length, ushort type, ushort flags, uint seq) =>
        MemoryMarshal.Write(buffer, new LibC.nlmsghdr
        {
            nlmsg_len = (uint)length, nlmsg_type = type, nlmsg_flags = flags, nlmsg_seq = seq,
        });

    private static int WriteAttribute(Span<byte> buffer, ushort type, ReadOnlySpan<byte> payload)
    {
        int length = sizeof(LibC.rtattr) + payload.Length;
        MemoryMarshal.Write(buffer, new LibC.rtattr { rta_len = (ushort)length, rta_type = type });
        payload.CopyTo(buffer[sizeof(LibC.rtattr)..]);
        return LibC.RTA_ALIGN(length);
    }

    /// <summary>
    /// Parses one RTM_NEWLINK/RTM_DELLINK message (header included). False for any other type or a malformed
    /// message (attributes running past the end are ignored, never read out of bounds).
    /// </summary>
    public static bool TryParseLink(ReadOnlySpan<byte> message, out NetlinkLink link)
    {
        link = null!;
        if (message.Length < sizeof(LibC.nlmsghdr) + sizeof(LibC.ifinfomsg)) return false;
        var hdr = MemoryMarshal.Read<LibC.nlmsghdr>(message);
        if (hdr.nlmsg_type != LibC.RTM_NEWLINK && hdr.nlmsg_type != LibC.RTM_DELLINK) return false;
        int total = Math.Min((int)hdr.nlmsg_len, message.Length);
        var info = MemoryMarshal.Read<LibC.ifinfomsg>(message[sizeof(LibC.nlmsghdr)..]);
        string name = "";
        int mtu = 0;
        byte operState = LibC.IF_OPER_UNKNOWN;
        byte[] address = [];
        int off = sizeof(LibC.nlmsghdr) + LibC.NLMSG_ALIGN(sizeof(LibC.ifinfomsg));
        while (off + sizeof(LibC.rtattr) <= total)
        {
            var rta = MemoryMarshal.Read<LibC.rtattr>(message[off..]);
            if (rta.rta_len < sizeof(LibC.rtattr) || off + rta.rta_len > total) break;
            var payload = message.Slice(off + sizeof(LibC.rtattr), rta.rta_len - sizeof(LibC.rtattr));
            switch (rta.rta_type)
            {
                case LibC.IFLA_IFNAME:
                    int nul = payload.IndexOf((byte)0);
                    name = Encoding.UTF8.GetString(nul < 0 ? payload : payload[..nul]);
                    break;
                case LibC.IFLA_MTU when payload.Length >= 4:
                    mtu = MemoryMarshal.Read<int>(payload);
                    break;
                case LibC.IFLA_OPERSTATE when payload.Length >= 1:
                    operState = payload[0];
                    break;
                case LibC.IFLA_ADDRESS:
                    address = payload.ToArray();
                    break;
            }
            off += LibC.RTA_ALIGN(rta.rta_len);
        }
        link = new NetlinkLink(info.ifi_index, name, (InterfaceFlags)info.ifi_flags, operState, mtu, address, hdr.nlmsg_type == LibC.RTM_DELLINK);
        return true;
    }
}
