namespace Vswitch.Interop.Linux;

/// <summary>
/// A non-blocking, close-on-exec eventfd (eventfd(2)): a 64-bit counter that a waker increments with
/// <see cref="Signal"/> and a sleeper resets with <see cref="Consume"/>; readable (EPOLLIN) while non-zero.
/// Used as a wake-up signal for poll threads and as the wait descriptor of software queues.
/// </summary>
/// <remarks>
/// <see cref="Signal"/> and <see cref="Consume"/> may be called from any thread and never block; they make
/// one system call each. <see cref="Fd"/> stays valid until <see cref="Dispose"/>. Nothing here throws.
/// </remarks>
public sealed class EventFd : IDisposable
{
    private readonly SafeFd _fd;

    private EventFd(SafeFd fd) => _fd = fd;

    /// <summary>Creates an eventfd with counter 0. Errors: EMFILE/ENFILE (no descriptors), ENOMEM.</summary>
    public static Errno Create(out EventFd? eventFd)
    {
        eventFd = null;
        var e = LibC.EventFd(0, LibC.EFD_NONBLOCK | LibC.EFD_CLOEXEC, out int fd);
        if (e.IsError) return e;
        eventFd = new EventFd(new SafeFd(fd));
        return Errno.Success;
    }

    /// <summary>The descriptor, for an <see cref="EpollSet"/> (-1 once disposed).</summary>
    public int Fd => _fd.Fd;

    /// <summary>Adds 1 to the counter (wakes a sleeper). EAGAIN only if the counter would overflow.</summary>
    public Errno Signal() => LibC.EventFdSignal(_fd.Fd);

    /// <summary>Resets the counter to 0. EAGAIN when it already was 0 (nothing to consume: not an error).</summary>
    public Errno Consume() => LibC.EventFdConsume(_fd.Fd);

    /// <summary>
    /// Reads and resets the counter of the eventfd <paramref name="fd"/> (which this process did not
    /// necessarily create, e.g. a queue's wait descriptor). EAGAIN when it was 0.
    /// </summary>
    public static unsafe Errno Read(int fd, out ulong counter)
    {
        ulong value = 0;
        var e = LibC.Read(fd, new Span<byte>(&value, sizeof(ulong)), out int n);
        counter = e.IsSuccess && n == sizeof(ulong) ? value : 0;
        return e.IsSuccess && n != sizeof(ulong) ? Errno.EIO : e;
    }

    /// <summary>Closes the descriptor (idempotent).</summary>
    public void Dispose() => _fd.Dispose();
}
