namespace Vswitch.Interop.Linux;

/// <summary>Readiness conditions of an <see cref="EpollSet"/> member (the EPOLL* bits).</summary>
[Flags]
public enum EpollEvents : uint
{
    /// <summary>No condition.</summary>
    None = 0,
    /// <summary>Readable (<c>EPOLLIN</c>).</summary>
    Readable = LibC.EPOLLIN,
    /// <summary>Writable (<c>EPOLLOUT</c>).</summary>
    Writable = LibC.EPOLLOUT,
    /// <summary>Error condition (<c>EPOLLERR</c>; always reported, need not be asked for).</summary>
    Error = LibC.EPOLLERR,
    /// <summary>Hang-up (<c>EPOLLHUP</c>; always reported, need not be asked for).</summary>
    HangUp = LibC.EPOLLHUP,
}

/// <summary>One ready member reported by <see cref="EpollSet.Wait"/>: the token it was added with and what fired.</summary>
/// <param name="Token">The caller's token given to <see cref="EpollSet.Add"/>.</param>
/// <param name="Events">The conditions that hold.</param>
public readonly record struct EpollEvent(ulong Token, EpollEvents Events);

/// <summary>
/// An epoll instance (epoll(7)), level-triggered: descriptors are added with a caller token, and
/// <see cref="Wait"/> reports which tokens are ready, so the caller services exactly those. This is the
/// shape of dotnet/runtime's socket event loop (<c>SocketEvent</c> = data + events), without a kernel
/// struct in sight.
/// </summary>
/// <remarks>
/// <see cref="Add"/>, <see cref="Modify"/> and <see cref="Remove"/> may be called from any thread; one
/// thread at a time calls <see cref="Wait"/>. <see cref="Wait"/> allocates nothing. Every call returns an
/// <see cref="Errno"/> and never throws.
/// </remarks>
public sealed unsafe class EpollSet : IDisposable
{
    /// <summary>Most events one <see cref="Wait"/> call can report (more ready members are reported next time).</summary>
    public const int MaxEventsPerWait = 64;

    private readonly SafeFd _fd;

    private EpollSet(SafeFd fd) => _fd = fd;

    /// <summary>Creates an empty, close-on-exec epoll set. Errors: EMFILE/ENFILE, ENOMEM.</summary>
    public static Errno Create(out EpollSet? set)
    {
        set = null;
        var e = LibC.EpollCreate(LibC.EPOLL_CLOEXEC, out int fd);
        if (e.IsError) return e;
        set = new EpollSet(new SafeFd(fd));
        return Errno.Success;
    }

    /// <summary>The epoll descriptor itself (readable when a member is ready; it can be nested). -1 once disposed.</summary>
    public int Fd => _fd.Fd;

    /// <summary>
    /// Watches <paramref name="fd"/> for <paramref name="events"/>, reporting <paramref name="token"/>.
    /// Errors: EEXIST (already a member), EBADF, EPERM (the fd does not support epoll, e.g. a regular file).
    /// </summary>
    public Errno Add(int fd, ulong token, EpollEvents events = EpollEvents.Readable) =>
        LibC.EpollCtl(_fd.Fd, LibC.EPOLL_CTL_ADD, fd, (uint)events, token);

    /// <summary>Changes the conditions and token of a member. ENOENT when <paramref name="fd"/> is not a member.</summary>
    public Errno Modify(int fd, ulong token, EpollEvents events = EpollEvents.Readable) =>
        LibC.EpollCtl(_fd.Fd, LibC.EPOLL_CTL_MOD, fd, (uint)events, token);

    /// <summary>Stops watching <paramref name="fd"/>. ENOENT when it is not a member; EBADF when it was closed
    /// (closing a descriptor removes it from every epoll set anyway).</summary>
    public Errno Remove(int fd) => LibC.EpollCtl(_fd.Fd, LibC.EPOLL_CTL_DEL, fd, 0, 0);

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> milliseconds (0: poll, -1: forever) until a member is ready and
    /// fills <paramref name="ready"/> (at most <see cref="MaxEventsPerWait"/>) with what fired; the number in
    /// <paramref name="count"/> (0 on timeout). EINTR (a signal) is returned as is, with count 0.
    /// </summary>
    public Errno Wait(Span<EpollEvent> ready, int timeoutMs, out int count)
    {
        int max = Math.Min(ready.Length, MaxEventsPerWait);
        if (max == 0)
        {
            count = 0;
            return Errno.EINVAL;
        }
        Span<LibC.epoll_event> events = stackalloc LibC.epoll_event[max];
        var e = LibC.EpollWait(_fd.Fd, events, timeoutMs, out count);
        for (int i = 0; i < count; i++) ready[i] = new EpollEvent(events[i].data, (EpollEvents)events[i].events);
        return e;
    }

    /// <summary>Closes the epoll descriptor (idempotent). Members are not closed.</summary>
    public void Dispose() => _fd.Dispose();
}
