using System.Runtime.InteropServices;

namespace Vswitch.Interop.Linux;

/// <summary>
/// A Linux error number: 0 for success or a positive <c>errno</c> value. Interop functions and
/// provider control calls return this instead of throwing (see docs/architecture.md).
/// <see cref="EAGAIN"/> is a normal outcome for non-blocking calls.
/// </summary>
public readonly record struct Errno(int Value)
{
    /// <summary>No error.</summary>
    public static readonly Errno Success = new(0);
    /// <summary>Operation not permitted.</summary>
    public static readonly Errno EPERM = new(1);
    /// <summary>No such file, entry, flow or port.</summary>
    public static readonly Errno ENOENT = new(2);
    /// <summary>Interrupted system call.</summary>
    public static readonly Errno EINTR = new(4);
    /// <summary>Input/output error.</summary>
    public static readonly Errno EIO = new(5);
    /// <summary>No such device or address.</summary>
    public static readonly Errno ENXIO = new(6);
    /// <summary>Argument list too long.</summary>
    public static readonly Errno E2BIG = new(7);
    /// <summary>Bad file descriptor.</summary>
    public static readonly Errno EBADF = new(9);
    /// <summary>Resource temporarily unavailable: try again later (not a failure).</summary>
    public static readonly Errno EAGAIN = new(11);
    /// <summary>Out of memory.</summary>
    public static readonly Errno ENOMEM = new(12);
    /// <summary>Permission denied.</summary>
    public static readonly Errno EACCES = new(13);
    /// <summary>Device or resource busy.</summary>
    public static readonly Errno EBUSY = new(16);
    /// <summary>Already exists.</summary>
    public static readonly Errno EEXIST = new(17);
    /// <summary>No such device.</summary>
    public static readonly Errno ENODEV = new(19);
    /// <summary>Invalid argument.</summary>
    public static readonly Errno EINVAL = new(22);
    /// <summary>Too many open files.</summary>
    public static readonly Errno EMFILE = new(24);
    /// <summary>File too large / too many entries.</summary>
    public static readonly Errno EFBIG = new(27);
    /// <summary>No space left (table full).</summary>
    public static readonly Errno ENOSPC = new(28);
    /// <summary>Result out of range.</summary>
    public static readonly Errno ERANGE = new(34);
    /// <summary>File descriptor in bad state (e.g. a tap fd whose interface was deleted).</summary>
    public static readonly Errno EBADFD = new(77);
    /// <summary>Protocol error.</summary>
    public static readonly Errno EPROTO = new(71);
    /// <summary>Message too long.</summary>
    public static readonly Errno EMSGSIZE = new(90);
    /// <summary>Operation not supported.</summary>
    public static readonly Errno EOPNOTSUPP = new(95);
    /// <summary>Address family not supported.</summary>
    public static readonly Errno EAFNOSUPPORT = new(97);
    /// <summary>Address already in use.</summary>
    public static readonly Errno EADDRINUSE = new(98);
    /// <summary>Network is down.</summary>
    public static readonly Errno ENETDOWN = new(100);
    /// <summary>No buffer space available; for port polling: "changes were lost, resynchronize".</summary>
    public static readonly Errno ENOBUFS = new(105);
    /// <summary>Timed out.</summary>
    public static readonly Errno ETIMEDOUT = new(110);

    /// <summary>True when this is <see cref="Success"/>.</summary>
    public bool IsSuccess => Value == 0;

    /// <summary>True when this is an error (non-zero).</summary>
    public bool IsError => Value != 0;

    /// <summary>The calling thread's last P/Invoke error (requires <c>SetLastError = true</c>).</summary>
    public static Errno FromLastPInvokeError() => new(Marshal.GetLastPInvokeError());

    /// <summary>The symbolic name, e.g. <c>ENOENT</c>, or <c>errno N</c> when unknown.</summary>
    public string Name => Value switch
    {
        0 => "OK",
        1 => "EPERM", 2 => "ENOENT", 4 => "EINTR", 5 => "EIO", 6 => "ENXIO", 7 => "E2BIG", 9 => "EBADF",
        11 => "EAGAIN", 12 => "ENOMEM", 13 => "EACCES", 16 => "EBUSY", 17 => "EEXIST", 19 => "ENODEV",
        22 => "EINVAL", 24 => "EMFILE", 27 => "EFBIG", 28 => "ENOSPC", 34 => "ERANGE", 71 => "EPROTO", 77 => "EBADFD",
        90 => "EMSGSIZE", 95 => "EOPNOTSUPP", 97 => "EAFNOSUPPORT", 98 => "EADDRINUSE", 100 => "ENETDOWN",
        105 => "ENOBUFS", 110 => "ETIMEDOUT",
        _ => "errno " + Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>The C library's description, e.g. "No such file or directory".</summary>
    public string Message => Value == 0 ? "Success" : Marshal.GetPInvokeErrorMessage(Value);

    /// <summary>"ENOENT (No such file or directory)".</summary>
    public override string ToString() => Value == 0 ? "OK" : $"{Name} ({Message})";
}
