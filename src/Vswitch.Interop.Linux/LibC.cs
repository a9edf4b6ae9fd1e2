using System.Runtime.InteropServices;

namespace Vswitch.Interop.Linux;

/// <summary>
/// Thin wrappers over libc system calls. Every function returns an <see cref="Errno"/> (or a
/// non-negative count) and never throws. Names and constants follow the C headers.
/// </summary>
internal static unsafe partial class LibC
{
    private const string Lib = "libc";

    /// <summary><c>EFD_NONBLOCK</c> from sys/eventfd.h.</summary>
    public const int EFD_NONBLOCK = 0x800;
    /// <summary><c>EFD_CLOEXEC</c> from sys/eventfd.h.</summary>
    public const int EFD_CLOEXEC = 0x80000;
    /// <summary><c>EPOLL_CLOEXEC</c> from sys/epoll.h.</summary>
    public const int EPOLL_CLOEXEC = 0x80000;
    /// <summary><c>EPOLL_CTL_ADD</c>.</summary>
    public const int EPOLL_CTL_ADD = 1;
    /// <summary><c>EPOLL_CTL_DEL</c>.</summary>
    public const int EPOLL_CTL_DEL = 2;
    /// <summary><c>EPOLL_CTL_MOD</c>.</summary>
    public const int EPOLL_CTL_MOD = 3;
    /// <summary><c>EPOLLIN</c>.</summary>
    public const uint EPOLLIN = 0x001;
    /// <summary><c>EPOLLOUT</c>.</summary>
    public const uint EPOLLOUT = 0x004;
    /// <summary><c>EPOLLERR</c>.</summary>
    public const uint EPOLLERR = 0x008;
    /// <summary><c>EPOLLHUP</c>.</summary>
    public const uint EPOLLHUP = 0x010;

    /// <summary><c>struct epoll_event</c> (packed on x86-64: 12 bytes).</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    public struct epoll_event
    {
        /// <summary>Event mask (EPOLLIN, ...).</summary>
        public uint events;
        /// <summary>User data (we store a 64-bit token).</summary>
        public ulong data;
    }

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    private static partial int close_(int fd);

    [LibraryImport(Lib, EntryPoint = "read", SetLastError = true)]
    private static partial nint read_(int fd, byte* buf, nuint count);

    [LibraryImport(Lib, EntryPoint = "write", SetLastError = true)]
    private static partial nint write_(int fd, byte* buf, nuint count);

    [LibraryImport(Lib, EntryPoint = "eventfd", SetLastError = true)]
    private static partial int eventfd_(uint initval, int flags);

    [LibraryImport(Lib, EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int epoll_create1_(int flags);

    [LibraryImport(Lib, EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int epoll_ctl_(int epfd, int op, int fd, epoll_event* ev);

    [LibraryImport(Lib, EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int epoll_wait_(int epfd, epoll_event* events, int maxevents, int timeout);

    /// <summary>close(2).</summary>
    public static Errno Close(int fd) => close_(fd) == 0 ? Errno.Success : Errno.FromLastPInvokeError();

    /// <summary>read(2): returns the byte count in <paramref name="count"/>; EAGAIN when nothing is ready.</summary>
    public static Errno Read(int fd, Span<byte> buffer, out int count)
    {
        fixed (byte* p = buffer)
        {
            nint n = read_(fd, p, (nuint)buffer.Length);
            if (n < 0) { count = 0; return Errno.FromLastPInvokeError(); }
            count = (int)n;
            return Errno.Success;
        }
    }

    /// <summary>write(2): returns the byte count written in <paramref name="count"/>.</summary>
    public static Errno Write(int fd, ReadOnlySpan<byte> buffer, out int count)
    {
        fixed (byte* p = buffer)
        {
            nint n = write_(fd, p, (nuint)buffer.Length);
            if (n < 0) { count = 0; return Errno.FromLastPInvokeError(); }
            count = (int)n;
            return Errno.Success;
        }
    }

    /// <summary>eventfd(2).</summary>
    public static Errno EventFd(uint initialValue, int flags, out int fd)
    {
        fd = eventfd_(initialValue, flags);
        return fd >= 0 ? Errno.Success : Errno.FromLastPInvokeError();
    }

    /// <summary>Adds 1 to an eventfd counter (wakes a sleeper). EAGAIN only if the counter would overflow.</summary>
    public static Errno EventFdSignal(int fd)
    {
        ulong one = 1;
        nint n = write_(fd, (byte*)&one, 8);
        return n == 8 ? Errno.Success : Errno.FromLastPInvokeError();
    }

    /// <summary>Resets an eventfd counter to zero; EAGAIN when it was already zero.</summary>
    public static Errno EventFdConsume(int fd)
    {
        ulong value;
        nint n = read_(fd, (byte*)&value, 8);
        return n == 8 ? Errno.Success : Errno.FromLastPInvokeError();
    }

    /// <summary>epoll_create1(2).</summary>
    public static Errno EpollCreate(int flags, out int epfd)
    {
        epfd = epoll_create1_(flags);
        return epfd >= 0 ? Errno.Success : Errno.FromLastPInvokeError();
    }

    /// <summary>epoll_ctl(2).</summary>
    public static Errno EpollCtl(int epfd, int op, int fd, uint events, ulong data)
    {
        epoll_event ev = new() { events = events, data = data };
        return epoll_ctl_(epfd, op, fd, &ev) == 0 ? Errno.Success : Errno.FromLastPInvokeError();
    }

    /// <summary>epoll_wait(2): the number of ready events in <paramref name="count"/>; EINTR is returned as-is.</summary>
    public static Errno EpollWait(int epfd, Span<epoll_event> events, int timeoutMs, out int count)
    {
        fixed (epoll_event* p = events)
        {
            int n = epoll_wait_(epfd, p, events.Length, timeoutMs);
            if (n < 0) { count = 0; return Errno.FromLastPInvokeError(); }
            count = n;
            return Errno.Success;
        }
    }
}
