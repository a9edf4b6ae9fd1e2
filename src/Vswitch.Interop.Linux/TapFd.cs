using System.Runtime.InteropServices;

namespace Vswitch.Interop.Linux;

/// <summary>Flags of a TUN/TAP queue (<c>ifr_flags</c> of TUNSETIFF / TUNGETIFF, linux/if_tun.h).</summary>
[Flags]
public enum TunFlags : short
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>A layer-3 tun device (<c>IFF_TUN</c>).</summary>
    Tun = LibC.IFF_TUN,
    /// <summary>A layer-2 tap device (<c>IFF_TAP</c>).</summary>
    Tap = LibC.IFF_TAP,
    /// <summary>NAPI receive (<c>IFF_NAPI</c>).</summary>
    Napi = LibC.IFF_NAPI,
    /// <summary>Several queues, one fd each (<c>IFF_MULTI_QUEUE</c>).</summary>
    MultiQueue = LibC.IFF_MULTI_QUEUE,
    /// <summary>The interface outlives its last fd (<c>IFF_PERSIST</c>, reported by TUNGETIFF).</summary>
    Persist = LibC.IFF_PERSIST,
    /// <summary>No packet-information header in front of frames (<c>IFF_NO_PI</c>).</summary>
    NoPacketInfo = LibC.IFF_NO_PI,
    /// <summary>A <c>virtio_net_hdr</c> in front of every frame (<c>IFF_VNET_HDR</c>).</summary>
    VnetHeader = LibC.IFF_VNET_HDR,
}

/// <summary>
/// One queue of a TUN/TAP interface: an fd of /dev/net/tun attached with TUNSETIFF, non-blocking and
/// close-on-exec, with its ioctls (TUNSETPERSIST, TUNGETIFF, TUNSETQUEUE) and frame I/O. The virtio-net
/// offload ioctls (TUNSETVNETHDRSZ, TUNSETOFFLOAD) belong here too when a caller needs them.
/// </summary>
/// <remarks>
/// Every call returns an <see cref="Errno"/> and never throws. <see cref="ReadFrame"/>, <see cref="DiscardFrame"/>
/// and <see cref="WriteFrame"/> never block and never allocate; one thread reads and one thread writes at a time.
/// Control ioctls may run on any thread.
/// </remarks>
public sealed unsafe class TapFd : IDisposable
{
    /// <summary>The clone device path.</summary>
    public const string CloneDevicePath = "/dev/net/tun";

    private const int OverflowSize = 64 * 1024;
    private readonly SafeFd _fd;
    private byte* _overflow;

    private TapFd(SafeFd fd)
    {
        _fd = fd;
        _overflow = (byte*)NativeMemory.Alloc(OverflowSize);
    }

    /// <summary>
    /// Opens /dev/net/tun and attaches it with TUNSETIFF to the interface <paramref name="name"/> (created if
    /// absent; a name containing <c>%d</c> lets the kernel pick a number) with <paramref name="flags"/>. Returns
    /// the queue and the kernel's name. Errors: EINVAL (bad name, or the interface exists and is not a tap or has
    /// other flags), EBUSY (in use), EPERM (needs CAP_NET_ADMIN), ENOENT (no tun module).
    /// </summary>
    public static Errno Open(string name, TunFlags flags, out TapFd? tap, out string kernelName)
    {
        tap = null;
        kernelName = name;
        var e = LibC.Open(CloneDevicePath, LibC.O_RDWR | LibC.O_NONBLOCK | LibC.O_CLOEXEC, out int raw);
        if (e.IsError) return e;
        var handle = new SafeFd(raw);
        LibC.ifreq ifr = default;
        e = NetDevice.SetName(ref ifr, name);
        if (e.IsSuccess)
        {
            ifr.ifr_flags = (short)flags;
            e = LibC.Ioctl(raw, LibC.TUNSETIFF, &ifr);
        }
        if (e.IsError)
        {
            handle.Dispose();
            return e;
        }
        kernelName = NetDevice.GetName(ifr);
        tap = new TapFd(handle);
        return Errno.Success;
    }

    /// <summary>The descriptor: readable when a frame is pending (EPOLLERR once its interface is deleted). -1 once disposed.</summary>
    public int Fd => _fd.Fd;

    /// <summary>TUNSETPERSIST: keep (or stop keeping) the interface after the last fd closes.</summary>
    public Errno SetPersist(bool persist) => LibC.IoctlValue(_fd.Fd, LibC.TUNSETPERSIST, persist ? 1 : 0);

    /// <summary>
    /// TUNGETIFF: the name and flags of the interface this fd is attached to. Works after the interface moved
    /// to another network namespace; <c>EBADFD</c> once it was deleted.
    /// </summary>
    public Errno GetInterface(out string name, out TunFlags flags)
    {
        LibC.ifreq ifr = default;
        var e = LibC.Ioctl(_fd.Fd, LibC.TUNGETIFF, &ifr);
        name = e.IsSuccess ? NetDevice.GetName(ifr) : "";
        flags = e.IsSuccess ? (TunFlags)ifr.ifr_flags : TunFlags.None;
        return e;
    }

    /// <summary>TUNSETQUEUE: attach (IFF_ATTACH_QUEUE) or detach (IFF_DETACH_QUEUE) this queue of a multi-queue device.</summary>
    public Errno SetQueue(bool attach)
    {
        LibC.ifreq ifr = default;
        ifr.ifr_flags = attach ? LibC.IFF_ATTACH_QUEUE : LibC.IFF_DETACH_QUEUE;
        return LibC.Ioctl(_fd.Fd, LibC.TUNSETQUEUE, &ifr);
    }

    /// <summary>
    /// Reads one frame into <paramref name="capacity"/> bytes at <paramref name="buffer"/>: its full length in
    /// <paramref name="length"/>, which exceeds <paramref name="capacity"/> when the frame did not fit (it was cut;
    /// the rest went to a scratch area). EAGAIN when nothing is pending; EBADFD once the interface was deleted.
    /// </summary>
    public Errno ReadFrame(byte* buffer, int capacity, out int length)
    {
        LibC.iovec* iov = stackalloc LibC.iovec[2];
        iov[0].iov_base = buffer;
        iov[0].iov_len = (nuint)capacity;
        iov[1].iov_base = _overflow;
        iov[1].iov_len = OverflowSize;
        return LibC.ReadV(_fd.Fd, iov, 2, out length);
    }

    /// <summary>Reads one pending frame into a scratch area and forgets it. EAGAIN when nothing is pending.</summary>
    public Errno DiscardFrame()
    {
        LibC.iovec iov = new() { iov_base = _overflow, iov_len = OverflowSize };
        return LibC.ReadV(_fd.Fd, &iov, 1, out _);
    }

    /// <summary>Writes one frame. EAGAIN/ENOBUFS: the queue is full; EIO: the interface is down; EBADFD: it was deleted.</summary>
    public Errno WriteFrame(byte* frame, int length, out int written) => LibC.Write(_fd.Fd, frame, length, out written);

    /// <summary>
    /// Replaces the descriptor (same number) with an eventfd that never fires: a deleted interface's fd polls
    /// EPOLLERR forever, which would make a poll thread sleeping on it spin. Reads then return EAGAIN.
    /// </summary>
    public Errno ReplaceWithIdleDescriptor()
    {
        var e = LibC.EventFd(0, LibC.EFD_NONBLOCK | LibC.EFD_CLOEXEC, out int idle);
        if (e.IsError) return e;
        e = LibC.Dup3(idle, _fd.Fd, LibC.O_CLOEXEC);
        LibC.Close(idle);
        return e;
    }

    /// <summary>Closes the descriptor and frees the scratch area (idempotent).</summary>
    public void Dispose()
    {
        _fd.Dispose();
        NativeMemory.Free(_overflow);
        _overflow = null;
    }
}
