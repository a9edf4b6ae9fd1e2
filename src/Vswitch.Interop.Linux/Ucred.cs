using System.Runtime.InteropServices;

namespace Vswitch.Interop.Linux;

/// <summary><c>struct ucred</c> from sys/socket.h: the credentials of a unix socket's peer.</summary>
[StructLayout(LayoutKind.Sequential)]
#pragma warning disable CS8981 // kernel structs keep their C names
public struct ucred
#pragma warning restore CS8981
{
    /// <summary>Process id.</summary>
    public int pid;
    /// <summary>User id.</summary>
    public uint uid;
    /// <summary>Group id.</summary>
    public uint gid;
}

/// <summary>Peer credentials of a connected unix socket (<c>getsockopt(SOL_SOCKET, SO_PEERCRED)</c>).</summary>
public static unsafe partial class PeerCredentials
{
    /// <summary><c>SOL_SOCKET</c>.</summary>
    public const int SOL_SOCKET = 1;
    /// <summary><c>SO_PEERCRED</c>.</summary>
    public const int SO_PEERCRED = 17;

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    private static partial int getsockopt_(int fd, int level, int optname, void* optval, uint* optlen);

    /// <summary>Reads the credentials the peer had when it connected. Never throws.</summary>
    public static Errno Get(int fd, out ucred credentials)
    {
        ucred c = default;
        uint len = (uint)sizeof(ucred);
        int rc = getsockopt_(fd, SOL_SOCKET, SO_PEERCRED, &c, &len);
        credentials = c;
        return rc == 0 ? Errno.Success : Errno.FromLastPInvokeError();
    }
}
