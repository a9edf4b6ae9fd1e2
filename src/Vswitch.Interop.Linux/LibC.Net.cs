using System.Runtime.InteropServices;

namespace Vswitch.Interop.Linux;

// Kernel networking constants and structs under their C names (linux/if.h, linux/if_tun.h,
// linux/if_packet.h, linux/if_ether.h, linux/sockios.h, sys/socket.h, fcntl.h). Layouts are for
// x86-64 and aarch64 Linux (LP64) and are checked against the real headers by
// tests/Vswitch.Interop.Linux.Tests/StructLayoutTests.cs.
#pragma warning disable CA1707, CS8981 // C names: underscores and all-lower-case struct names.
internal static unsafe partial class LibC
{
    // ---- fcntl.h ----
    /// <summary><c>O_RDWR</c>.</summary>
    public const int O_RDWR = 0x2;
    /// <summary><c>O_NONBLOCK</c>.</summary>
    public const int O_NONBLOCK = 0x800;
    /// <summary><c>O_CLOEXEC</c>.</summary>
    public const int O_CLOEXEC = 0x80000;
    /// <summary><c>F_GETFL</c>.</summary>
    public const int F_GETFL = 3;
    /// <summary><c>F_SETFL</c>.</summary>
    public const int F_SETFL = 4;

    // ---- sys/socket.h ----
    /// <summary><c>AF_UNSPEC</c>.</summary>
    public const int AF_UNSPEC = 0;
    /// <summary><c>AF_INET</c>.</summary>
    public const int AF_INET = 2;
    /// <summary><c>AF_NETLINK</c>.</summary>
    public const int AF_NETLINK = 16;
    /// <summary><c>AF_PACKET</c>.</summary>
    public const int AF_PACKET = 17;
    /// <summary><c>SOCK_DGRAM</c>.</summary>
    public const int SOCK_DGRAM = 2;
    /// <summary><c>SOCK_RAW</c>.</summary>
    public const int SOCK_RAW = 3;
    /// <summary><c>SOCK_NONBLOCK</c>.</summary>
    public const int SOCK_NONBLOCK = 0x800;
    /// <summary><c>SOCK_CLOEXEC</c>.</summary>
    public const int SOCK_CLOEXEC = 0x80000;
    /// <summary><c>SOL_SOCKET</c>.</summary>
    public const int SOL_SOCKET = 1;
    /// <summary><c>SOL_PACKET</c>.</summary>
    public const int SOL_PACKET = 263;
    /// <summary><c>SO_SNDBUF</c>.</summary>
    public const int SO_SNDBUF = 7;
    /// <summary><c>SO_RCVBUF</c>.</summary>
    public const int SO_RCVBUF = 8;
    /// <summary><c>SO_SNDBUFFORCE</c>.</summary>
    public const int SO_SNDBUFFORCE = 32;
    /// <summary><c>SO_RCVBUFFORCE</c>.</summary>
    public const int SO_RCVBUFFORCE = 33;
    /// <summary><c>SO_PEERCRED</c>: the peer's <c>struct ucred</c>.</summary>
    public const int SO_PEERCRED = 17;
    /// <summary><c>SO_ERROR</c>.</summary>
    public const int SO_ERROR = 4;
    /// <summary><c>MSG_TRUNC</c>: the datagram was longer than the buffer.</summary>
    public const int MSG_TRUNC = 0x20;
    /// <summary><c>MSG_DONTWAIT</c>.</summary>
    public const int MSG_DONTWAIT = 0x40;

    // ---- linux/if.h ----
    /// <summary><c>IFNAMSIZ</c>: interface name buffer size including the terminating NUL.</summary>
    public const int IFNAMSIZ = 16;
    /// <summary><c>IFF_UP</c>.</summary>
    public const int IFF_UP = 0x1;
    /// <summary><c>IFF_BROADCAST</c>.</summary>
    public const int IFF_BROADCAST = 0x2;
    /// <summary><c>IFF_LOOPBACK</c>.</summary>
    public const int IFF_LOOPBACK = 0x8;
    /// <summary><c>IFF_NOARP</c>.</summary>
    public const int IFF_NOARP = 0x80;
    /// <summary><c>IFF_RUNNING</c>.</summary>
    public const int IFF_RUNNING = 0x40;
    /// <summary><c>IFF_PROMISC</c>.</summary>
    public const int IFF_PROMISC = 0x100;
    /// <summary><c>IFF_ALLMULTI</c>.</summary>
    public const int IFF_ALLMULTI = 0x200;
    /// <summary><c>IFF_MULTICAST</c>.</summary>
    public const int IFF_MULTICAST = 0x1000;
    /// <summary><c>IFF_LOWER_UP</c> (carrier; netlink only).</summary>
    public const int IFF_LOWER_UP = 0x10000;

    // ---- linux/if_tun.h ----
    /// <summary><c>IFF_TUN</c>.</summary>
    public const short IFF_TUN = 0x0001;
    /// <summary><c>IFF_TAP</c>.</summary>
    public const short IFF_TAP = 0x0002;
    /// <summary><c>IFF_NAPI</c>.</summary>
    public const short IFF_NAPI = 0x0010;
    /// <summary><c>IFF_MULTI_QUEUE</c>.</summary>
    public const short IFF_MULTI_QUEUE = 0x0100;
    /// <summary><c>IFF_ATTACH_QUEUE</c> (TUNSETQUEUE).</summary>
    public const short IFF_ATTACH_QUEUE = 0x0200;
    /// <summary><c>IFF_DETACH_QUEUE</c> (TUNSETQUEUE).</summary>
    public const short IFF_DETACH_QUEUE = 0x0400;
    /// <summary><c>IFF_PERSIST</c> (reported by TUNGETIFF).</summary>
    public const short IFF_PERSIST = 0x0800;
    /// <summary><c>IFF_NO_PI</c>: no packet-information header.</summary>
    public const short IFF_NO_PI = 0x1000;
    /// <summary><c>IFF_VNET_HDR</c>: virtio-net header in front of each frame.</summary>
    public const short IFF_VNET_HDR = 0x4000;
    /// <summary><c>TUNSETIFF</c> = _IOW('T', 202, int).</summary>
    public const uint TUNSETIFF = 0x400454ca;
    /// <summary><c>TUNSETPERSIST</c> = _IOW('T', 203, int).</summary>
    public const uint TUNSETPERSIST = 0x400454cb;
    /// <summary><c>TUNGETIFF</c> = _IOR('T', 210, unsigned int).</summary>
    public const uint TUNGETIFF = 0x800454d2;
    /// <summary><c>TUNSETQUEUE</c> = _IOW('T', 217, int).</summary>
    public const uint TUNSETQUEUE = 0x400454d9;
    /// <summary><c>TUNGETFEATURES</c> = _IOR('T', 207, unsigned int).</summary>
    public const uint TUNGETFEATURES = 0x800454cf;

    // ---- linux/sockios.h ----
    /// <summary><c>SIOCGIFNAME</c>.</summary>
    public const uint SIOCGIFNAME = 0x8910;
    /// <summary><c>SIOCGIFFLAGS</c>.</summary>
    public const uint SIOCGIFFLAGS = 0x8913;
    /// <summary><c>SIOCSIFFLAGS</c>.</summary>
    public const uint SIOCSIFFLAGS = 0x8914;
    /// <summary><c>SIOCGIFMTU</c>.</summary>
    public const uint SIOCGIFMTU = 0x8921;
    /// <summary><c>SIOCSIFMTU</c>.</summary>
    public const uint SIOCSIFMTU = 0x8922;
    /// <summary><c>SIOCSIFHWADDR</c>.</summary>
    public const uint SIOCSIFHWADDR = 0x8924;
    /// <summary><c>SIOCGIFHWADDR</c>.</summary>
    public const uint SIOCGIFHWADDR = 0x8927;
    /// <summary><c>SIOCGIFINDEX</c>.</summary>
    public const uint SIOCGIFINDEX = 0x8933;

    // ---- linux/if_ether.h, linux/if_arp.h ----
    /// <summary><c>ETH_ALEN</c>.</summary>
    public const int ETH_ALEN = 6;
    /// <summary><c>ETH_HLEN</c>.</summary>
    public const int ETH_HLEN = 14;
    /// <summary><c>ETH_P_ALL</c> (host order; pass through htons).</summary>
    public const ushort ETH_P_ALL = 0x0003;
    /// <summary><c>ETH_P_IP</c>.</summary>
    public const ushort ETH_P_IP = 0x0800;
    /// <summary><c>ETH_P_IPV6</c>.</summary>
    public const ushort ETH_P_IPV6 = 0x86DD;
    /// <summary><c>ETH_P_8021Q</c>.</summary>
    public const ushort ETH_P_8021Q = 0x8100;
    /// <summary><c>ETH_P_8021AD</c>.</summary>
    public const ushort ETH_P_8021AD = 0x88A8;
    /// <summary><c>ARPHRD_ETHER</c>.</summary>
    public const ushort ARPHRD_ETHER = 1;

    // ---- linux/if_packet.h ----
    /// <summary><c>PACKET_HOST</c>.</summary>
    public const byte PACKET_HOST = 0;
    /// <summary><c>PACKET_BROADCAST</c>.</summary>
    public const byte PACKET_BROADCAST = 1;
    /// <summary><c>PACKET_MULTICAST</c>.</summary>
    public const byte PACKET_MULTICAST = 2;
    /// <summary><c>PACKET_OTHERHOST</c>.</summary>
    public const byte PACKET_OTHERHOST = 3;
    /// <summary><c>PACKET_OUTGOING</c>: a frame this host sent (looped back to packet sockets).</summary>
    public const byte PACKET_OUTGOING = 4;
    /// <summary><c>PACKET_ADD_MEMBERSHIP</c>.</summary>
    public const int PACKET_ADD_MEMBERSHIP = 1;
    /// <summary><c>PACKET_DROP_MEMBERSHIP</c>.</summary>
    public const int PACKET_DROP_MEMBERSHIP = 2;
    /// <summary><c>PACKET_AUXDATA</c>.</summary>
    public const int PACKET_AUXDATA = 8;
    /// <summary><c>PACKET_STATISTICS</c>.</summary>
    public const int PACKET_STATISTICS = 6;
    /// <summary><c>PACKET_IGNORE_OUTGOING</c> (Linux ≥ 4.20).</summary>
    public const int PACKET_IGNORE_OUTGOING = 23;
    /// <summary><c>PACKET_RX_RING</c>.</summary>
    public const int PACKET_RX_RING = 5;
    /// <summary><c>PACKET_VERSION</c>.</summary>
    public const int PACKET_VERSION = 10;
    /// <summary><c>TPACKET_V3</c> (enum tpacket_versions).</summary>
    public const int TPACKET_V3 = 2;
    /// <summary><c>TPACKET_ALIGNMENT</c>.</summary>
    public const int TPACKET_ALIGNMENT = 16;
    /// <summary><c>TP_STATUS_KERNEL</c>: the block belongs to the kernel.</summary>
    public const uint TP_STATUS_KERNEL = 0;
    /// <summary><c>TP_STATUS_USER</c>: the block is ready for user space.</summary>
    public const uint TP_STATUS_USER = 1;
    /// <summary><c>TP_STATUS_LOSING</c>: frames were dropped because the ring was full.</summary>
    public const uint TP_STATUS_LOSING = 4;
    /// <summary><c>PROT_READ</c>.</summary>
    public const int PROT_READ = 1;
    /// <summary><c>PROT_WRITE</c>.</summary>
    public const int PROT_WRITE = 2;
    /// <summary><c>MAP_SHARED</c>.</summary>
    public const int MAP_SHARED = 1;
    /// <summary><c>PACKET_FANOUT</c>: join a fanout group (value: id | type &lt;&lt; 16).</summary>
    public const int PACKET_FANOUT = 18;
    /// <summary><c>PACKET_FANOUT_HASH</c>: spread by flow hash.</summary>
    public const int PACKET_FANOUT_HASH = 0;
    /// <summary><c>PACKET_FANOUT_FLAG_DEFRAG</c>: reassemble IP fragments before hashing.</summary>
    public const int PACKET_FANOUT_FLAG_DEFRAG = 0x8000;
    /// <summary><c>PACKET_MR_MULTICAST</c>.</summary>
    public const ushort PACKET_MR_MULTICAST = 0;
    /// <summary><c>PACKET_MR_PROMISC</c>.</summary>
    public const ushort PACKET_MR_PROMISC = 1;
    /// <summary><c>PACKET_MR_ALLMULTI</c>.</summary>
    public const ushort PACKET_MR_ALLMULTI = 2;
    /// <summary><c>TP_STATUS_CSUMNOTREADY</c>: the L4 checksum is partial (CHECKSUM_PARTIAL).</summary>
    public const uint TP_STATUS_CSUMNOTREADY = 0x8;
    /// <summary><c>TP_STATUS_VLAN_VALID</c>: <c>tp_vlan_tci</c> holds a stripped tag.</summary>
    public const uint TP_STATUS_VLAN_VALID = 0x10;
    /// <summary><c>TP_STATUS_VLAN_TPID_VALID</c>: <c>tp_vlan_tpid</c> is valid.</summary>
    public const uint TP_STATUS_VLAN_TPID_VALID = 0x40;
    /// <summary><c>TP_STATUS_CSUM_VALID</c>.</summary>
    public const uint TP_STATUS_CSUM_VALID = 0x80;

    /// <summary><c>struct ucred</c> (12 bytes, sys/socket.h): a unix socket peer's credentials.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ucred
    {
        /// <summary>Process id.</summary>
        public int pid;
        /// <summary>User id.</summary>
        public uint uid;
        /// <summary>Group id.</summary>
        public uint gid;
    }

    /// <summary><c>struct ifreq</c> (40 bytes): a name plus a union; only the members we use.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 40)]
    public struct ifreq
    {
        /// <summary><c>ifr_name[IFNAMSIZ]</c>, NUL-terminated.</summary>
        [FieldOffset(0)] public fixed byte ifr_name[IFNAMSIZ];
        /// <summary><c>ifr_flags</c> (short).</summary>
        [FieldOffset(16)] public short ifr_flags;
        /// <summary><c>ifr_ifindex</c>.</summary>
        [FieldOffset(16)] public int ifr_ifindex;
        /// <summary><c>ifr_mtu</c>.</summary>
        [FieldOffset(16)] public int ifr_mtu;
        /// <summary><c>ifr_hwaddr.sa_family</c>.</summary>
        [FieldOffset(16)] public ushort ifr_hwaddr_sa_family;
        /// <summary><c>ifr_hwaddr.sa_data[14]</c>.</summary>
        [FieldOffset(18)] public fixed byte ifr_hwaddr_sa_data[14];
    }

    /// <summary><c>struct sockaddr_ll</c> (20 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct sockaddr_ll
    {
        /// <summary>AF_PACKET.</summary>
        public ushort sll_family;
        /// <summary>Protocol in network byte order.</summary>
        public ushort sll_protocol;
        /// <summary>Interface index.</summary>
        public int sll_ifindex;
        /// <summary>ARP hardware type.</summary>
        public ushort sll_hatype;
        /// <summary>Packet type (PACKET_HOST, PACKET_OUTGOING, ...).</summary>
        public byte sll_pkttype;
        /// <summary>Address length.</summary>
        public byte sll_halen;
        /// <summary>Physical-layer address.</summary>
        public fixed byte sll_addr[8];
    }

    /// <summary><c>struct packet_mreq</c> (16 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct packet_mreq
    {
        /// <summary>Interface index.</summary>
        public int mr_ifindex;
        /// <summary>PACKET_MR_*.</summary>
        public ushort mr_type;
        /// <summary>Address length.</summary>
        public ushort mr_alen;
        /// <summary>Address.</summary>
        public fixed byte mr_address[8];
    }

    /// <summary><c>struct tpacket_auxdata</c> (20 bytes), the PACKET_AUXDATA control message.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct tpacket_auxdata
    {
        /// <summary>TP_STATUS_* bits.</summary>
        public uint tp_status;
        /// <summary>Original length.</summary>
        public uint tp_len;
        /// <summary>Captured length.</summary>
        public uint tp_snaplen;
        /// <summary>MAC header offset.</summary>
        public ushort tp_mac;
        /// <summary>Network header offset.</summary>
        public ushort tp_net;
        /// <summary>Stripped VLAN TCI (host order) when TP_STATUS_VLAN_VALID.</summary>
        public ushort tp_vlan_tci;
        /// <summary>Stripped VLAN TPID (host order) when TP_STATUS_VLAN_TPID_VALID.</summary>
        public ushort tp_vlan_tpid;
    }

    /// <summary><c>TPACKET_ALIGN(x)</c>.</summary>
    public static int TPACKET_ALIGN(int x) => (x + TPACKET_ALIGNMENT - 1) & ~(TPACKET_ALIGNMENT - 1);

    /// <summary><c>struct tpacket_req3</c> (28 bytes): PACKET_RX_RING request for TPACKET_V3.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct tpacket_req3
    {
        /// <summary>Block size (a multiple of the page size).</summary>
        public uint tp_block_size;
        /// <summary>Number of blocks.</summary>
        public uint tp_block_nr;
        /// <summary>Frame size (TPACKET_ALIGNMENT multiple).</summary>
        public uint tp_frame_size;
        /// <summary>Total frames (block_size / frame_size * block_nr).</summary>
        public uint tp_frame_nr;
        /// <summary>Block retire timeout in milliseconds.</summary>
        public uint tp_retire_blk_tov;
        /// <summary>Private area size per block.</summary>
        public uint tp_sizeof_priv;
        /// <summary>Feature request word.</summary>
        public uint tp_feature_req_word;
    }

    /// <summary><c>struct tpacket_hdr_v1</c> (40 bytes): a TPACKET_V3 block header.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct tpacket_hdr_v1
    {
        /// <summary>TP_STATUS_KERNEL or TP_STATUS_USER (| TP_STATUS_LOSING ...).</summary>
        public uint block_status;
        /// <summary>Packets in the block.</summary>
        public uint num_pkts;
        /// <summary>Offset of the first tpacket3_hdr from the block start.</summary>
        public uint offset_to_first_pkt;
        /// <summary>Valid bytes in the block.</summary>
        public uint blk_len;
        /// <summary>Block sequence number.</summary>
        public ulong seq_num;
        /// <summary>ts_first_pkt.ts_sec.</summary>
        public uint ts_first_pkt_sec;
        /// <summary>ts_first_pkt.ts_nsec.</summary>
        public uint ts_first_pkt_nsec;
        /// <summary>ts_last_pkt.ts_sec.</summary>
        public uint ts_last_pkt_sec;
        /// <summary>ts_last_pkt.ts_nsec.</summary>
        public uint ts_last_pkt_nsec;
    }

    /// <summary><c>struct tpacket_block_desc</c> (48 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct tpacket_block_desc
    {
        /// <summary>Version.</summary>
        public uint version;
        /// <summary>Offset to the private area.</summary>
        public uint offset_to_priv;
        /// <summary><c>hdr.bh1</c>.</summary>
        public tpacket_hdr_v1 hdr;
    }

    /// <summary><c>struct tpacket3_hdr</c> (48 bytes), followed (TPACKET_ALIGN-ed) by a sockaddr_ll.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct tpacket3_hdr
    {
        /// <summary>Offset of the next packet in the block (0 for the last).</summary>
        public uint tp_next_offset;
        /// <summary>Seconds.</summary>
        public uint tp_sec;
        /// <summary>Nanoseconds.</summary>
        public uint tp_nsec;
        /// <summary>Bytes captured.</summary>
        public uint tp_snaplen;
        /// <summary>Original length.</summary>
        public uint tp_len;
        /// <summary>TP_STATUS_* (VLAN_VALID, CSUMNOTREADY, ...).</summary>
        public uint tp_status;
        /// <summary>Offset of the MAC header from this header.</summary>
        public ushort tp_mac;
        /// <summary>Offset of the network header from this header.</summary>
        public ushort tp_net;
        /// <summary><c>hv1.tp_rxhash</c>.</summary>
        public uint tp_rxhash;
        /// <summary><c>hv1.tp_vlan_tci</c>.</summary>
        public uint tp_vlan_tci;
        /// <summary><c>hv1.tp_vlan_tpid</c>.</summary>
        public ushort tp_vlan_tpid;
        /// <summary><c>hv1.tp_padding</c>.</summary>
        public ushort tp_hv1_padding;
        /// <summary><c>tp_padding[8]</c>.</summary>
        public fixed byte tp_padding[8];
    }

    /// <summary><c>struct tpacket_stats</c> (PACKET_STATISTICS).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct tpacket_stats
    {
        /// <summary>Packets received.</summary>
        public uint tp_packets;
        /// <summary>Packets dropped for lack of buffer space.</summary>
        public uint tp_drops;
    }

    /// <summary><c>struct iovec</c> (16 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct iovec
    {
        /// <summary>Base address.</summary>
        public void* iov_base;
        /// <summary>Length.</summary>
        public nuint iov_len;
    }

    /// <summary><c>struct msghdr</c> (56 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct msghdr
    {
        /// <summary>Optional address.</summary>
        public void* msg_name;
        /// <summary>Address size.</summary>
        public uint msg_namelen;
        /// <summary>Scatter/gather array.</summary>
        public iovec* msg_iov;
        /// <summary>Elements in msg_iov.</summary>
        public nuint msg_iovlen;
        /// <summary>Ancillary data.</summary>
        public void* msg_control;
        /// <summary>Ancillary data buffer length.</summary>
        public nuint msg_controllen;
        /// <summary>Flags on received message (MSG_TRUNC, ...).</summary>
        public int msg_flags;
    }

    /// <summary><c>struct mmsghdr</c> (64 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct mmsghdr
    {
        /// <summary>The message.</summary>
        public msghdr msg_hdr;
        /// <summary>Bytes received or sent.</summary>
        public uint msg_len;
    }

    /// <summary><c>struct cmsghdr</c> (16 bytes), followed by its data.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct cmsghdr
    {
        /// <summary>Length including this header.</summary>
        public nuint cmsg_len;
        /// <summary>Originating protocol.</summary>
        public int cmsg_level;
        /// <summary>Protocol-specific type.</summary>
        public int cmsg_type;
    }

    /// <summary><c>CMSG_ALIGN(len)</c>.</summary>
    public static int CMSG_ALIGN(int length) => (length + sizeof(nuint) - 1) & ~(sizeof(nuint) - 1);

    /// <summary><c>CMSG_SPACE(len)</c>.</summary>
    public static int CMSG_SPACE(int length) => CMSG_ALIGN(length) + CMSG_ALIGN(sizeof(cmsghdr));

    /// <summary><c>CMSG_LEN(len)</c>.</summary>
    public static int CMSG_LEN(int length) => CMSG_ALIGN(sizeof(cmsghdr)) + length;

    /// <summary>htons.</summary>
    public static ushort htons(ushort value) => BitConverter.IsLittleEndian ? (ushort)((value >> 8) | (value << 8)) : value;

    [LibraryImport(Lib, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open_(string path, int flags);

    [LibraryImport(Lib, EntryPoint = "fcntl", SetLastError = true)]
    private static partial int fcntl_(int fd, int cmd, int arg);

    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    private static partial int ioctl_(int fd, nuint request, void* arg);

    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    private static partial int ioctl_value_(int fd, nuint request, nint arg);

    [LibraryImport(Lib, EntryPoint = "socket", SetLastError = true)]
    private static partial int socket_(int domain, int type, int protocol);

    [LibraryImport(Lib, EntryPoint = "bind", SetLastError = true)]
    private static partial int bind_(int fd, void* addr, uint addrlen);

    [LibraryImport(Lib, EntryPoint = "setsockopt", SetLastError = true)]
    private static partial int setsockopt_(int fd, int level, int optname, void* optval, uint optlen);

    [LibraryImport(Lib, EntryPoint = "getsockopt", SetLastError = true)]
    private static partial int getsockopt_(int fd, int level, int optname, void* optval, uint* optlen);

    [LibraryImport(Lib, EntryPoint = "recvmmsg", SetLastError = true)]
    private static partial int recvmmsg_(int fd, mmsghdr* msgvec, uint vlen, int flags, void* timeout);

    [LibraryImport(Lib, EntryPoint = "sendmmsg", SetLastError = true)]
    private static partial int sendmmsg_(int fd, mmsghdr* msgvec, uint vlen, int flags);

    [LibraryImport(Lib, EntryPoint = "recvmsg", SetLastError = true)]
    private static partial nint recvmsg_(int fd, msghdr* msg, int flags);

    [LibraryImport(Lib, EntryPoint = "sendto", SetLastError = true)]
    private static partial nint sendto_(int fd, void* buf, nuint len, int flags, void* addr, uint addrlen);

    [LibraryImport(Lib, EntryPoint = "readv", SetLastError = true)]
    private static partial nint readv_(int fd, iovec* iov, int iovcnt);

    [LibraryImport(Lib, EntryPoint = "mmap", SetLastError = true)]
    private static partial void* mmap_(void* addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport(Lib, EntryPoint = "munmap", SetLastError = true)]
    private static partial int munmap_(void* addr, nuint length);

    [LibraryImport(Lib, EntryPoint = "dup3", SetLastError = true)]
    private static partial int dup3_(int oldfd, int newfd, int flags);

    [LibraryImport(Lib, EntryPoint = "if_nametoindex", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial uint if_nametoindex_(string name);

    /// <summary>open(2).</summary>
    public static Errno Open(string path, int flags, out int fd)
    {
        fd = open_(path, flags);
        return fd >= 0 ? Errno.Success : Errno.FromLastPInvokeError();
    }

    /// <summary>Sets O_NONBLOCK on <paramref name="fd"/> with fcntl(2).</summary>
    public static Errno SetNonBlocking(int fd)
    {
        int flags = fcntl_(fd, F_GETFL, 0);
        if (flags < 0) return Errno.FromLastPInvokeError();
        return fcntl_(fd, F_SETFL, flags | O_NONBLOCK) == 0 ? Errno.Success : Errno.FromLastPInvokeError();
    }

    /// <summary>ioctl(2) with a pointer argument.</summary>
    public static Errno Ioctl(int fd, uint request, void* arg) =>
        ioctl_(fd, request, arg) >= 0 ? Errno.Success : Errno.FromLastPInvokeError();

    /// <summary>ioctl(2) with an integer argument (e.g. TUNSETPERSIST).</summary>
    public static Errno IoctlValue(int fd, uint request, nint arg) =>
        ioctl_value_(fd, request, arg) >= 0 ? Errno.Success : Errno.FromLastPInvokeError();

    /// <summary>socket(2).</summary>
    public static Errno Socket(int domain, int type, int protocol, out int fd)
    {
        fd = socket_(domain, type, protocol);
        return fd >= 0 ? Errno.Success : Errno.FromLastPInvokeError();
    }

    /// <summary>bind(2).</summary>
    public static Errno Bind(int fd, void* addr, int addrlen) =>
        bind_(fd, addr, (uint)addrlen) == 0 ? Errno.Success : Errno.FromLastPInvokeError();

    /// <summary>setsockopt(2).</summary>
    public static Errno SetSockOpt(int fd, int level, int optname, void* optval, int optlen) =>
        setsockopt_(fd, level, optname, optval, (uint)optlen) == 0 ? Errno.Success : Errno.FromLastPInvokeError();

    /// <summary>setsockopt(2) with an int value.</summary>
    public static Errno SetSockOptInt(int fd, int level, int optname, int value) =>
        SetSockOpt(fd, level, optname, &value, sizeof(int));

    /// <summary>getsockopt(2); <paramref name="optlen"/> is in/out.</summary>
    public static Errno GetSockOpt(int fd, int level, int optname, void* optval, ref int optlen)
    {
        uint len = (uint)optlen;
        int rc = getsockopt_(fd, level, optname, optval, &len);
        optlen = (int)len;
        return rc == 0 ? Errno.Success : Errno.FromLastPInvokeError();
    }

    /// <summary>recvmmsg(2) without timeout: the number of messages in <paramref name="count"/>; EAGAIN when none.</summary>
    public static Errno RecvMMsg(int fd, mmsghdr* msgvec, int vlen, int flags, out int count)
    {
        int n = recvmmsg_(fd, msgvec, (uint)vlen, flags, null);
        if (n < 0) { count = 0; return Errno.FromLastPInvokeError(); }
        count = n;
        return Errno.Success;
    }

    /// <summary>sendmmsg(2): the number of messages sent in <paramref name="count"/>.</summary>
    public static Errno SendMMsg(int fd, mmsghdr* msgvec, int vlen, int flags, out int count)
    {
        int n = sendmmsg_(fd, msgvec, (uint)vlen, flags);
        if (n < 0) { count = 0; return Errno.FromLastPInvokeError(); }
        count = n;
        return Errno.Success;
    }

    /// <summary>recvmsg(2): bytes received in <paramref name="count"/>.</summary>
    public static Errno RecvMsg(int fd, msghdr* msg, int flags, out int count)
    {
        nint n = recvmsg_(fd, msg, flags);
        if (n < 0) { count = 0; return Errno.FromLastPInvokeError(); }
        count = (int)n;
        return Errno.Success;
    }

    /// <summary>sendto(2): bytes sent in <paramref name="count"/>.</summary>
    public static Errno SendTo(int fd, ReadOnlySpan<byte> buffer, int flags, void* addr, int addrlen, out int count)
    {
        fixed (byte* p = buffer)
        {
            nint n = sendto_(fd, p, (nuint)buffer.Length, flags, addr, (uint)addrlen);
            if (n < 0) { count = 0; return Errno.FromLastPInvokeError(); }
            count = (int)n;
            return Errno.Success;
        }
    }

    /// <summary>readv(2): bytes read in <paramref name="count"/>; EAGAIN when nothing is ready.</summary>
    public static Errno ReadV(int fd, iovec* iov, int iovcnt, out int count)
    {
        nint n = readv_(fd, iov, iovcnt);
        if (n < 0) { count = 0; return Errno.FromLastPInvokeError(); }
        count = (int)n;
        return Errno.Success;
    }

    /// <summary>write(2) from a raw pointer: bytes written in <paramref name="count"/>.</summary>
    public static Errno Write(int fd, byte* buffer, int length, out int count)
    {
        nint n = write_(fd, buffer, (nuint)length);
        if (n < 0) { count = 0; return Errno.FromLastPInvokeError(); }
        count = (int)n;
        return Errno.Success;
    }

    /// <summary>mmap(2) of <paramref name="length"/> bytes of <paramref name="fd"/> at offset 0; null on error.</summary>
    public static Errno MMap(nuint length, int prot, int flags, int fd, out void* address)
    {
        address = mmap_(null, length, prot, flags, fd, 0);
        if (address != (void*)-1) return Errno.Success;
        address = null;
        return Errno.FromLastPInvokeError();
    }

    /// <summary>munmap(2).</summary>
    public static Errno MUnmap(void* address, nuint length) =>
        munmap_(address, length) == 0 ? Errno.Success : Errno.FromLastPInvokeError();

    /// <summary>dup3(2): makes <paramref name="newfd"/> refer to what <paramref name="oldfd"/> refers to (closing it first).</summary>
    public static Errno Dup3(int oldfd, int newfd, int flags) =>
        dup3_(oldfd, newfd, flags) >= 0 ? Errno.Success : Errno.FromLastPInvokeError();

    /// <summary>if_nametoindex(3): ENODEV when no such interface in this network namespace.</summary>
    public static Errno IfNameToIndex(string name, out int ifindex)
    {
        ifindex = (int)if_nametoindex_(name);
        if (ifindex != 0) return Errno.Success;
        var e = Errno.FromLastPInvokeError();
        return e.IsError ? e : Errno.ENODEV;
    }
}
#pragma warning restore CA1707, CS8981
