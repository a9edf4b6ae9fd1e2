using System.Net.Sockets;
using Vswitch.Interop.Linux;
using Vswitch.Switch.Commands;
using Vswitch.Switch.Diagnostics;

namespace Vswitch.Daemon;

/// <summary>
/// The control socket: a unix stream socket (default <see cref="DefaultPath"/>, mode 0600, its directory created) serving
/// <see cref="ControlProtocol"/> requests against a <see cref="CommandRegistry"/>. The peer's credentials are checked with
/// <c>SO_PEERCRED</c>: a client whose uid is not 0 gets a refusal and its command is not run.
/// </summary>
public sealed class ControlServer : IDisposable
{
    /// <summary>The default socket path.</summary>
    public const string DefaultPath = "/run/vswitch/vswitch.ctl";

    private static readonly VLogModule s_log = VLog.Module("control");
    private static readonly VLogRateLimit s_limit = new(30, 10);
    private static readonly CoverageCounter s_refused = Coverage.Define("control_refused", "control connections refused (not root)");
    private static readonly CoverageCounter s_requests = Coverage.Define("control_request", "control requests served");

    private readonly CommandRegistry _registry;
    private readonly Socket _listener;
    private Thread? _acceptThread;
    private volatile bool _stopping;

    /// <summary>
    /// Binds the socket. Throws <see cref="IOException"/> naming the path when another switch is listening there or the socket
    /// cannot be created. <paramref name="socketMode"/> is the file mode (0600 by default: only root can connect at all;
    /// the credential check is a second line of defence).
    /// </summary>
    public ControlServer(string path, CommandRegistry registry, UnixFileMode socketMode = UnixFileMode.UserRead | UnixFileMode.UserWrite)
    {
        Path = path;
        _registry = registry;
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir) && !Directory.Exists(dir))
            Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                                           UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        if (File.Exists(path))
        {
            if (IsListening(path)) throw new IOException($"control socket {path}: another vswitch is already listening there");
            File.Delete(path);   // stale socket of a switch that died
        }
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            _listener.Bind(new UnixDomainSocketEndPoint(path));
            File.SetUnixFileMode(path, socketMode);
            _listener.Listen(16);
        }
        catch (Exception ex) when (ex is SocketException or IOException or UnauthorizedAccessException)
        {
            _listener.Dispose();
            throw new IOException($"control socket {path}: {ex.Message}", ex);
        }
    }

    /// <summary>The socket path.</summary>
    public string Path { get; }

    private static bool IsListening(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Starts accepting connections on a background thread.</summary>
    public void Start()
    {
        _acceptThread = new Thread(AcceptLoop) { IsBackground = true, Name = "control-accept" };
        _acceptThread.Start();
        s_log.Info("listening", ("path", Path));
    }

    private void AcceptLoop()
    {
        while (!_stopping)
        {
            Socket client;
            try
            {
                client = _listener.Accept();
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                if (_stopping) return;
                s_log.LogLimited(s_limit, VLogLevel.Warn, "accept failed", ("error", ex.Message));
                Thread.Sleep(50);
                continue;
            }
            ThreadPool.UnsafeQueueUserWorkItem(static state => state.Server.Serve(state.Client), (Server: this, Client: client), preferLocal: false);
        }
    }

    private void Serve(Socket client)
    {
        using (client)
        using (var stream = new NetworkStream(client, ownsSocket: false))
        {
            try
            {
                client.ReceiveTimeout = 10_000;
                client.SendTimeout = 10_000;
                var line = ControlProtocol.ReadLine(stream, ControlProtocol.MaxRequestBytes);
                if (line is null) return;
                var err = PeerCredentials.Get((int)client.SafeHandle.DangerousGetHandle(), out var cred);
                CommandResult result;
                if (err.IsError)
                {
                    result = CommandResult.Fail($"permission denied: cannot read the peer credentials of the control connection ({err})", 1);
                }
                else if (cred.UserId != 0)
                {
                    s_refused.Increment();
                    s_log.LogLimited(s_limit, VLogLevel.Warn, "refused non-root client", ("uid", cred.UserId), ("pid", cred.ProcessId));
                    result = CommandResult.Fail($"permission denied: the vswitch control socket {Path} accepts only root (client uid {cred.UserId}, pid {cred.ProcessId})", 1);
                }
                else if (!ControlProtocol.TryDecodeRequest(line, out var command, out var args, out var perr))
                {
                    result = CommandResult.Fail(perr!, 2);
                }
                else
                {
                    s_requests.Increment();
                    s_log.Dbg("request", ("command", command), ("args", string.Join(' ', args)));
                    result = _registry.Execute(command, args);
                }
                stream.Write(ControlProtocol.EncodeResponse(result));
            }
            catch (Exception ex) when (ex is IOException or SocketException or InvalidDataException or ObjectDisposedException)
            {
                s_log.LogLimited(s_limit, VLogLevel.Warn, "control connection failed", ("error", ex.Message));
            }
        }
    }

    /// <summary>Stops accepting and removes the socket file.</summary>
    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        try { _listener.Shutdown(SocketShutdown.Both); } catch (SocketException) { }
        _listener.Dispose();
        _acceptThread?.Join(2000);
        try { File.Delete(Path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
