using Microsoft.Win32.SafeHandles;

namespace Vswitch.Interop.Linux;

/// <summary>
/// Owns one file descriptor and closes it exactly once (on <see cref="IDisposable.Dispose"/> or
/// finalization). Hot paths read <see cref="Fd"/> once and keep the int.
/// </summary>
public sealed class SafeFd : SafeHandleZeroOrMinusOneIsInvalid
{
    /// <summary>Takes ownership of <paramref name="fd"/>.</summary>
    public SafeFd(int fd) : base(ownsHandle: true) => SetHandle(fd);

    /// <summary>The raw descriptor (-1 when closed or invalid). Valid until disposed.</summary>
    public int Fd => IsClosed || IsInvalid ? -1 : (int)handle;

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => LibC.Close((int)handle).IsSuccess;
}
