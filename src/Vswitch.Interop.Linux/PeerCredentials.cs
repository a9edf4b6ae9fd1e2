namespace Vswitch.Interop.Linux;

/// <summary>The credentials a unix socket's peer had when it connected.</summary>
/// <param name="ProcessId">Process id.</param>
/// <param name="UserId">User id (0: root).</param>
/// <param name="GroupId">Group id.</param>
public readonly record struct SocketPeerCredentials(int ProcessId, uint UserId, uint GroupId);

/// <summary>Peer credentials of a connected unix socket (<c>getsockopt(SOL_SOCKET, SO_PEERCRED)</c>).</summary>
public static unsafe class PeerCredentials
{
    /// <summary>Reads the credentials of the peer of the connected unix socket <paramref name="fd"/>. Never throws.</summary>
    public static Errno Get(int fd, out SocketPeerCredentials credentials)
    {
        LibC.ucred c = default;
        int len = sizeof(LibC.ucred);
        var e = LibC.GetSockOpt(fd, LibC.SOL_SOCKET, LibC.SO_PEERCRED, &c, ref len);
        credentials = e.IsSuccess ? new SocketPeerCredentials(c.pid, c.uid, c.gid) : default;
        return e;
    }
}
