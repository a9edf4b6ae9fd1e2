using System.Runtime.InteropServices;

namespace Vswitch.Interop.Linux;

// linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h under their C names.
#pragma warning disable CA1707, CS8981 // C names: underscores and all-lower-case struct names.
internal static partial class LibC
{
    /// <summary><c>NETLINK_ROUTE</c>.</summary>
    public const int NETLINK_ROUTE = 0;
    /// <summary><c>RTMGRP_LINK</c>: link notifications multicast group.</summary>
    public const uint RTMGRP_LINK = 1;
    /// <summary><c>NLM_F_REQUEST</c>.</summary>
    public const ushort NLM_F_REQUEST = 0x1;
    /// <summary><c>NLM_F_MULTI</c>.</summary>
    public const ushort NLM_F_MULTI = 0x2;
    /// <summary><c>NLM_F_ACK</c>.</summary>
    public const ushort NLM_F_ACK = 0x4;
    /// <summary><c>NLM_F_ROOT</c>.</summary>
    public const ushort NLM_F_ROOT = 0x100;
    /// <summary><c>NLM_F_MATCH</c>.</summary>
    public const ushort NLM_F_MATCH = 0x200;
    /// <summary><c>NLM_F_DUMP</c>.</summary>
    public const ushort NLM_F_DUMP = 0x300;
    /// <summary><c>NLM_F_REPLACE</c>.</summary>
    public const ushort NLM_F_REPLACE = 0x100;
    /// <summary><c>NLM_F_EXCL</c>.</summary>
    public const ushort NLM_F_EXCL = 0x200;
    /// <summary><c>NLM_F_CREATE</c>.</summary>
    public const ushort NLM_F_CREATE = 0x400;
    /// <summary><c>NLMSG_NOOP</c>.</summary>
    public const ushort NLMSG_NOOP = 1;
    /// <summary><c>NLMSG_ERROR</c>.</summary>
    public const ushort NLMSG_ERROR = 2;
    /// <summary><c>NLMSG_DONE</c>.</summary>
    public const ushort NLMSG_DONE = 3;
    /// <summary><c>NLMSG_OVERRUN</c>.</summary>
    public const ushort NLMSG_OVERRUN = 4;
    /// <summary><c>RTM_NEWLINK</c>.</summary>
    public const ushort RTM_NEWLINK = 16;
    /// <summary><c>RTM_DELLINK</c>.</summary>
    public const ushort RTM_DELLINK = 17;
    /// <summary><c>RTM_GETLINK</c>.</summary>
    public const ushort RTM_GETLINK = 18;
    /// <summary><c>RTM_NEWADDR</c>.</summary>
    public const ushort RTM_NEWADDR = 20;
    /// <summary><c>IFLA_ADDRESS</c>.</summary>
    public const ushort IFLA_ADDRESS = 1;
    /// <summary><c>IFLA_IFNAME</c>.</summary>
    public const ushort IFLA_IFNAME = 3;
    /// <summary><c>IFLA_MTU</c>.</summary>
    public const ushort IFLA_MTU = 4;
    /// <summary><c>IFLA_OPERSTATE</c>.</summary>
    public const ushort IFLA_OPERSTATE = 16;
    /// <summary><c>IFA_ADDRESS</c>.</summary>
    public const ushort IFA_ADDRESS = 1;
    /// <summary><c>IFA_LOCAL</c>.</summary>
    public const ushort IFA_LOCAL = 2;
    /// <summary><c>IFA_BROADCAST</c>.</summary>
    public const ushort IFA_BROADCAST = 4;
    /// <summary><c>RT_SCOPE_UNIVERSE</c>.</summary>
    public const byte RT_SCOPE_UNIVERSE = 0;
    /// <summary><c>IF_OPER_UNKNOWN</c>.</summary>
    public const byte IF_OPER_UNKNOWN = 0;
    /// <summary><c>IF_OPER_NOTPRESENT</c>.</summary>
    public const byte IF_OPER_NOTPRESENT = 1;
    /// <summary><c>IF_OPER_DOWN</c>.</summary>
    public const byte IF_OPER_DOWN = 2;
    /// <summary><c>IF_OPER_LOWERLAYERDOWN</c>.</summary>
    public const byte IF_OPER_LOWERLAYERDOWN = 3;
    /// <summary><c>IF_OPER_DORMANT</c>.</summary>
    public const byte IF_OPER_DORMANT = 5;
    /// <summary><c>IF_OPER_UP</c>.</summary>
    public const byte IF_OPER_UP = 6;

    /// <summary><c>struct sockaddr_nl</c> (12 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct sockaddr_nl
    {
        /// <summary>AF_NETLINK.</summary>
        public ushort nl_family;
        /// <summary>Zero.</summary>
        public ushort nl_pad;
        /// <summary>Port id (0 = kernel picks / the kernel).</summary>
        public uint nl_pid;
        /// <summary>Multicast groups mask.</summary>
        public uint nl_groups;
    }

    /// <summary><c>struct nlmsghdr</c> (16 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct nlmsghdr
    {
        /// <summary>Length including this header.</summary>
        public uint nlmsg_len;
        /// <summary>Message type.</summary>
        public ushort nlmsg_type;
        /// <summary>NLM_F_* flags.</summary>
        public ushort nlmsg_flags;
        /// <summary>Sequence number.</summary>
        public uint nlmsg_seq;
        /// <summary>Sender port id.</summary>
        public uint nlmsg_pid;
    }

    /// <summary><c>struct nlmsgerr</c> (20 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct nlmsgerr
    {
        /// <summary>Negative errno or 0 (ack).</summary>
        public int error;
        /// <summary>The request's header.</summary>
        public nlmsghdr msg;
    }

    /// <summary><c>struct ifinfomsg</c> (16 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ifinfomsg
    {
        /// <summary>AF_UNSPEC.</summary>
        public byte ifi_family;
        /// <summary>Padding.</summary>
        public byte __ifi_pad;
        /// <summary>ARPHRD_*.</summary>
        public ushort ifi_type;
        /// <summary>Interface index.</summary>
        public int ifi_index;
        /// <summary>IFF_* flags.</summary>
        public uint ifi_flags;
        /// <summary>Change mask.</summary>
        public uint ifi_change;
    }

    /// <summary><c>struct ifaddrmsg</c> (8 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ifaddrmsg
    {
        /// <summary>AF_INET.</summary>
        public byte ifa_family;
        /// <summary>Prefix length.</summary>
        public byte ifa_prefixlen;
        /// <summary>Flags.</summary>
        public byte ifa_flags;
        /// <summary>Scope.</summary>
        public byte ifa_scope;
        /// <summary>Interface index.</summary>
        public uint ifa_index;
    }

    /// <summary><c>struct rtattr</c> (4 bytes), followed by its payload.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct rtattr
    {
        /// <summary>Length including this header.</summary>
        public ushort rta_len;
        /// <summary>Attribute type.</summary>
        public ushort rta_type;
    }

    /// <summary><c>NLMSG_ALIGN(len)</c>.</summary>
    public static int NLMSG_ALIGN(int length) => (length + 3) & ~3;

    /// <summary><c>RTA_ALIGN(len)</c>.</summary>
    public static int RTA_ALIGN(int length) => (length + 3) & ~3;
}
#pragma warning restore CA1707, CS8981
