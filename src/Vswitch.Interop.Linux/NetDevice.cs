using System.Text;

namespace Vswitch.Interop.Linux;

/// <summary>Interface flags (<c>IFF_*</c> of linux/if.h) as SIOCGIFFLAGS and rtnetlink report them.</summary>
[Flags]
public enum InterfaceFlags : uint
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>Administratively up (<c>IFF_UP</c>).</summary>
    Up = LibC.IFF_UP,
    /// <summary>Broadcast capable (<c>IFF_BROADCAST</c>).</summary>
    Broadcast = LibC.IFF_BROADCAST,
    /// <summary>Loopback (<c>IFF_LOOPBACK</c>).</summary>
    Loopback = LibC.IFF_LOOPBACK,
    /// <summary>No ARP on this interface (<c>IFF_NOARP</c>).</summary>
    NoArp = LibC.IFF_NOARP,
    /// <summary>Operationally running (<c>IFF_RUNNING</c>).</summary>
    Running = LibC.IFF_RUNNING,
    /// <summary>Receives all frames (<c>IFF_PROMISC</c>).</summary>
    Promiscuous = LibC.IFF_PROMISC,
    /// <summary>Receives all multicast (<c>IFF_ALLMULTI</c>).</summary>
    AllMulticast = LibC.IFF_ALLMULTI,
    /// <summary>Multicast capable (<c>IFF_MULTICAST</c>).</summary>
    Multicast = LibC.IFF_MULTICAST,
    /// <summary>Carrier present (<c>IFF_LOWER_UP</c>; rtnetlink only).</summary>
    LowerUp = LibC.IFF_LOWER_UP,
}

/// <summary>
/// Interface control by name through <c>struct ifreq</c> ioctls (SIOCGIFFLAGS, SIOCSIFHWADDR, ...) on a
/// control socket of the calling process's network namespace at first use. Every call returns an
/// <see cref="Errno"/>; <c>ENODEV</c> means no interface of that name exists in this namespace (deleted,
/// or moved to another namespace). Thread-safe; each call may block briefly in the kernel.
/// </summary>
public static unsafe class NetDevice
{
    private static int _controlFd = -1;
    private static readonly Lock _lock = new();

    private static Errno ControlFd(out int fd)
    {
        fd = Volatile.Read(ref _controlFd);
        if (fd >= 0) return Errno.Success;
        lock (_lock)
        {
            if (_controlFd < 0)
            {
                var e = LibC.Socket(LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0, out int s);
                if (e.IsError) return e;
                Volatile.Write(ref _controlFd, s);
            }
            fd = _controlFd;
            return Errno.Success;
        }
    }

    /// <summary>Fills <c>ifr_name</c>; EINVAL when the name is empty or longer than IFNAMSIZ-1 bytes.</summary>
    internal static Errno SetName(ref LibC.ifreq ifr, string name)
    {
        if (string.IsNullOrEmpty(name)) return Errno.EINVAL;
        int bytes = Encoding.UTF8.GetByteCount(name);
        if (bytes >= LibC.IFNAMSIZ) return Errno.EINVAL;
        fixed (byte* p = ifr.ifr_name)
        {
            var span = new Span<byte>(p, LibC.IFNAMSIZ);
            span.Clear();
            Encoding.UTF8.GetBytes(name, span);
        }
        return Errno.Success;
    }

    /// <summary>Reads <c>ifr_name</c>.</summary>
    internal static string GetName(in LibC.ifreq ifr)
    {
        fixed (byte* p = ifr.ifr_name)
        {
            var span = new ReadOnlySpan<byte>(p, LibC.IFNAMSIZ);
            int nul = span.IndexOf((byte)0);
            return Encoding.UTF8.GetString(nul < 0 ? span : span[..nul]);
        }
    }

    /// <summary>True when <paramref name="name"/> is a valid interface name (1..15 bytes, no '/', ':' or whitespace).</summary>
    public static bool IsValidName(string name)
    {
        if (string.IsNullOrEmpty(name) || Encoding.UTF8.GetByteCount(name) >= LibC.IFNAMSIZ || name is "." or "..") return false;
        foreach (char c in name) if (c == '/' || c == ':' || char.IsWhiteSpace(c)) return false;
        return true;
    }

    private static Errno Call(string name, uint request, ref LibC.ifreq ifr)
    {
        var e = SetName(ref ifr, name);
        if (e.IsError) return e;
        e = ControlFd(out int fd);
        if (e.IsError) return e;
        fixed (LibC.ifreq* p = &ifr) return LibC.Ioctl(fd, request, p);
    }

    /// <summary>SIOCGIFFLAGS: the interface flags (the low 16 bits; <see cref="InterfaceFlags.LowerUp"/> only comes from rtnetlink).</summary>
    public static Errno GetFlags(string name, out InterfaceFlags flags)
    {
        LibC.ifreq ifr = default;
        var e = Call(name, LibC.SIOCGIFFLAGS, ref ifr);
        flags = e.IsSuccess ? (InterfaceFlags)(ushort)ifr.ifr_flags : InterfaceFlags.None;
        return e;
    }

    /// <summary>SIOCSIFFLAGS: sets the interface flags (low 16 bits).</summary>
    public static Errno SetFlags(string name, InterfaceFlags flags)
    {
        LibC.ifreq ifr = default;
        ifr.ifr_flags = (short)(ushort)flags;
        return Call(name, LibC.SIOCSIFFLAGS, ref ifr);
    }

    /// <summary>
    /// Reads the flags, clears <paramref name="off"/>, sets <paramref name="on"/> and writes them back when they
    /// differ, returning the flags before in <paramref name="old"/>. On error nothing changed.
    /// </summary>
    public static Errno UpdateFlags(string name, InterfaceFlags off, InterfaceFlags on, out InterfaceFlags old)
    {
        var e = GetFlags(name, out old);
        if (e.IsError) return e;
        var updated = (old & ~off) | on;
        return updated == old ? Errno.Success : SetFlags(name, updated);
    }

    /// <summary>SIOCGIFMTU.</summary>
    public static Errno GetMtu(string name, out int mtu)
    {
        LibC.ifreq ifr = default;
        var e = Call(name, LibC.SIOCGIFMTU, ref ifr);
        mtu = e.IsSuccess ? ifr.ifr_mtu : 0;
        return e;
    }

    /// <summary>SIOCSIFMTU.</summary>
    public static Errno SetMtu(string name, int mtu)
    {
        LibC.ifreq ifr = default;
        ifr.ifr_mtu = mtu;
        return Call(name, LibC.SIOCSIFMTU, ref ifr);
    }

    /// <summary>SIOCGIFINDEX.</summary>
    public static Errno GetIndex(string name, out int ifindex)
    {
        LibC.ifreq ifr = default;
        var e = Call(name, LibC.SIOCGIFINDEX, ref ifr);
        ifindex = e.IsSuccess ? ifr.ifr_ifindex : 0;
        return e;
    }

    /// <summary>if_nametoindex(3): ENODEV when no interface of that name exists in this network namespace.</summary>
    public static Errno NameToIndex(string name, out int ifIndex) => LibC.IfNameToIndex(name, out ifIndex);

    /// <summary>SIOCGIFHWADDR: the 6-byte Ethernet address into <paramref name="mac"/>.</summary>
    public static Errno GetHardwareAddress(string name, Span<byte> mac)
    {
        if (mac.Length < LibC.ETH_ALEN) return Errno.EINVAL;
        LibC.ifreq ifr = default;
        var e = Call(name, LibC.SIOCGIFHWADDR, ref ifr);
        if (e.IsSuccess) new ReadOnlySpan<byte>(ifr.ifr_hwaddr_sa_data, LibC.ETH_ALEN).CopyTo(mac);
        return e;
    }

    /// <summary>SIOCSIFHWADDR with family ARPHRD_ETHER.</summary>
    public static Errno SetHardwareAddress(string name, ReadOnlySpan<byte> mac)
    {
        if (mac.Length < LibC.ETH_ALEN) return Errno.EINVAL;
        LibC.ifreq ifr = default;
        ifr.ifr_hwaddr_sa_family = LibC.ARPHRD_ETHER;
        mac[..LibC.ETH_ALEN].CopyTo(new Span<byte>(ifr.ifr_hwaddr_sa_data, LibC.ETH_ALEN));
        return Call(name, LibC.SIOCSIFHWADDR, ref ifr);
    }

    /// <summary>Link speed in Mbit/s from /sys/class/net/NAME/speed; 0 when unknown (e.g. tap, veth).</summary>
    public static long ReadSpeedMbps(string name)
    {
        try
        {
            var text = File.ReadAllText($"/sys/class/net/{name}/speed").Trim();
            return long.TryParse(text, out long v) && v > 0 ? v : 0;
        }
        catch (IOException) { return 0; }
        catch (UnauthorizedAccessException) { return 0; }
        catch (ArgumentException) { return 0; }
    }
}
