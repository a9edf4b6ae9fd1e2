namespace Vswitch.Interop.Linux;

/// <summary>
/// The TUN/TAP driver (/dev/net/tun): open a queue of a tap interface with TUNSETIFF, make it
/// persistent, read back its name and flags. Returns <see cref="Errno"/>, never throws.
/// </summary>
public static unsafe class Tun
{
    /// <summary>The clone device path.</summary>
    public const string CloneDevicePath = "/dev/net/tun";

    /// <summary>
    /// Opens /dev/net/tun (non-blocking, close-on-exec) and attaches it with TUNSETIFF to the interface
    /// <paramref name="name"/> (created if absent; a name containing <c>%d</c> lets the kernel pick a number)
    /// with <paramref name="flags"/> (IFF_TAP | IFF_NO_PI | ...). Returns the fd and the kernel's name.
    /// Errors: EBUSY/EINVAL when the interface exists with incompatible flags or is not a tap,
    /// EPERM without CAP_NET_ADMIN, ENOENT when the tun module is missing.
    /// </summary>
    public static Errno OpenQueue(string name, short flags, out SafeFd? fd, out string kernelName)
    {
        fd = null;
        kernelName = name;
        var e = LibC.Open(CloneDevicePath, LibC.O_RDWR | LibC.O_NONBLOCK | LibC.O_CLOEXEC, out int raw);
        if (e.IsError) return e;
        var handle = new SafeFd(raw);
        LibC.ifreq ifr = default;
        e = NetDevice.SetName(ref ifr, name);
        if (e.IsSuccess)
        {
            ifr.ifr_flags = flags;
            e = LibC.Ioctl(raw, LibC.TUNSETIFF, &ifr);
        }
        if (e.IsError)
        {
            handle.Dispose();
            return e;
        }
        kernelName = NetDevice.GetName(ifr);
        fd = handle;
        return Errno.Success;
    }

    /// <summary>TUNSETPERSIST: keep (or stop keeping) the interface after the last fd closes.</summary>
    public static Errno SetPersist(int fd, bool persist) => LibC.IoctlValue(fd, LibC.TUNSETPERSIST, persist ? 1 : 0);

    /// <summary>
    /// TUNGETIFF: the name and tun flags of the interface this fd is attached to. Works even after the
    /// interface moved to another network namespace; <c>EBADFD</c> once the interface was deleted.
    /// </summary>
    public static Errno GetInterface(int fd, out string name, out short flags)
    {
        LibC.ifreq ifr = default;
        var e = LibC.Ioctl(fd, LibC.TUNGETIFF, &ifr);
        name = e.IsSuccess ? NetDevice.GetName(ifr) : "";
        flags = e.IsSuccess ? ifr.ifr_flags : (short)0;
        return e;
    }

    /// <summary>TUNSETQUEUE: attach (IFF_ATTACH_QUEUE) or detach (IFF_DETACH_QUEUE) a multi-queue fd.</summary>
    public static Errno SetQueue(int fd, bool attach)
    {
        LibC.ifreq ifr = default;
        ifr.ifr_flags = attach ? LibC.IFF_ATTACH_QUEUE : LibC.IFF_DETACH_QUEUE;
        return LibC.Ioctl(fd, LibC.TUNSETQUEUE, &ifr);
    }
}
