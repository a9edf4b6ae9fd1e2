using System.Net.Sockets;
using Vswitch.Interop.Linux;
using Vswitch.Switch.Commands;
using Vswitch.Switch.Diagnostics;

namespace Vswitch.Daemon;

/// <summary>
/// Limits of the control socket, so that hostile or broken clients cannot starve the others: at most
/// <see cref="MaxConnections"/> connections at a time (more are answered "busy" and closed at once), each must deliver its
/// complete request line within <see cref="RequestDeadline"/> and take its response within <see cref="ResponseDeadline"/>,
/// and a request line is at most <see cref="MaxRequestBytes"/> long.
/// </summary>
public sealed record ControlServerLimits
{
    /// <summary>Connections served at once (default 64). A stalled connection holds a slot, not a thread.</summary>
    public int MaxConnections { get; init; } = 64;

    /// <summary>Time from accept to a complete request line (default 5 s); a slower client is answered with an error and closed.</summary>
    public TimeSpan RequestDeadline { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Time to write the response (default 30 s; large dumps to a slow reader).</summary>
    public TimeSpan ResponseDeadline { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Largest request line in bytes (default <see cref="ControlProtocol.MaxRequestBytes"/>).</summary>
    public int MaxRequestBytes { get; init; } = ControlProtocol.MaxRequestBytes;

    /// <summary>The defaults.</summary>
    public static ControlServerLimits Default { get; } = new();
}

/// <summary>
/// The control socket: a unix stream socket (default <see cref="DefaultPath"/>, mode 0600, its directory created) serving
/// <see cref="ControlProtocol"/> requests against a <see cref="CommandRegistry"/>. The peer's credentials are checked with
/// <c>SO_PEERCRED</c>: a client whose uid is not 0 gets a refusal and its command is not run.
/// </summary>
/// <remarks>
/// Connections are served asynchronously (a stalled client holds no thread) within <see cref="ControlServerLimits"/>. Any byte
/// sequence a client sends gets an error response or a closed connection: nothing a client does can throw out of the server.
/// </remarks>
public sealed class ControlServer : IDisposable
{
    /// <summary>The default socket path.</summary>
    public const string DefaultPath = "/run/vswitch/vswitch.ctl";

    private static readonly VLogModule s_log = VLog.Module("control");
    private static readonly VLogRateLimit s_limit = new(30, 10);
    private static readonly CoverageCounter s_refused = Coverage.Define("control_refused", "control connections refused (not root)");
    private static readonly CoverageCounter s_requests = Coverage.Define("control_request", "control requests served");
    private static readonly CoverageCounter s_busy = Coverage.Define("control_busy", "control connections refused because too many were open");
    private static readonly CoverageCounter s_timeouts = Coverage.Define("control_timeout", "control connections closed for missing their deadline");
    private static readonly CoverageCounter s_bad = Coverage.Define("control_bad_request", "control requests that could not be decoded or were too long");

    private readonly CommandRegistry _registry;
    private readonly Socket _listener;
    private readonly ControlServerLimits _limits;
    private readonly CancellationTokenSource _stop = new();
    private Thread? _acceptThread;
    private int _active;
    private volatile bool _stopping;

    /// <summary>
    /// Binds the socket. Throws <see cref="IOException"/> naming the path when another switch is listening there or the socket
    /// cannot be created. <paramref name="socketMode"/> is the file mode (0600 by default: only root can connect at all;
    /// the credential check is a second line of defence).
    /// </summary>
    public ControlServer(string path, CommandRegistry registry, UnixFileMode socketMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        ControlServerLimits? limits = null)
    {
        Path = path;
        _registry = registry;
        _limits = limits ?? ControlServerLimits.Default;
        if (_limits.MaxConnections < 1 || _limits.MaxRequestBytes < 64 || _limits.RequestDeadline <= TimeSpan.Zero || _limits.ResponseDeadline <= TimeSpan.Zero)
            throw new ArgumentException("control server limits: MaxConnections ≥ 1, MaxRequestBytes ≥ 64 and positive deadlines are required", nameof(limits));
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
            _listener.Listen(128);
        }
        catch (Exception ex) when (ex is SocketException or IOException or UnauthorizedAccessException)
        {
            _listener.Dispose();
            throw new IOException($"control socket {path}: {ex.Message}", ex);
        }
    }

    /// <summary>The socket path.</summary>
    public string Path { get; }

    /// <summary>The limits in force.</summary>
    public ControlServerLimits Limits => _limits;

    /// <summary>Connections being served now.</summary>
    public int ActiveConnections => Volatile.Read(ref _active);

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
        s_log.Info("listening", ("path", Path), ("max_connections", _limits.MaxConnections));
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
            if (Interlocked.Increment(ref _active) > _limits.MaxConnections)
            {
                Interlocked.Decrement(ref _active);
                s_busy.Increment();
                s_log.LogLimited(s_limit, VLogLevel.Warn, "too many control connections, refusing one", ("max", _limits.MaxConnections));
                RefuseBusy(client);
                continue;
            }
            _ = ServeAsync(client);
        }
    }

    /// <summary>Answers "busy" without waiting (the response fits any socket buffer) and closes.</summary>
    private void RefuseBusy(Socket client)
    {
        try
        {
            client.Blocking = false;
            client.Send(ControlProtocol.EncodeResponse(CommandResult.Fail(
                $"the switch is busy: {_limits.MaxConnections} control connections are open; try again", 1)));
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            client.Dispose();
        }
    }

    private async Task ServeAsync(Socket client)
    {
        try
        {
            CommandResult result;
            byte[]? line;
            using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
            {
                deadline.CancelAfter(_limits.RequestDeadline);
                try
                {
                    line = await ReadRequestAsync(client, _limits.MaxRequestBytes, deadline.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
                {
                    s_timeouts.Increment();
                    s_log.LogLimited(s_limit, VLogLevel.Warn, "control client sent no complete request in time, closing",
                        ("deadline_ms", (long)_limits.RequestDeadline.TotalMilliseconds));
                    line = null;
                    await TrySendAsync(client, CommandResult.Fail(
                        $"no complete request within {_limits.RequestDeadline.TotalSeconds:0.###} s (one JSON line ending in a newline)", 2)).ConfigureAwait(false);
                    return;
                }
                catch (InvalidDataException ex)
                {
                    s_bad.Increment();
                    await TrySendAsync(client, CommandResult.Fail($"malformed request: {ex.Message}", 2)).ConfigureAwait(false);
                    return;
                }
            }
            if (line is null) return;   // closed before sending anything
            result = Handle(client, line);
            using var send = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            send.CancelAfter(_limits.ResponseDeadline);
            await SendAllAsync(client, ControlProtocol.EncodeResponse(result), send.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            s_log.LogLimited(s_limit, VLogLevel.Warn, "control connection failed", ("error", ex.Message));
        }
        catch (Exception ex)
        {
            // Whatever a client sends, the switch stays up: this is a bug to report, not a reason to die.
            s_log.LogLimited(s_limit, VLogLevel.Err, "control connection: unexpected error", ("error", ex.GetType().Name + ": " + ex.Message));
        }
        finally
        {
            client.Dispose();
            Interlocked.Decrement(ref _active);
        }
    }

    private CommandResult Handle(Socket client, byte[] line)
    {
        var err = PeerCredentials.Get((int)client.SafeHandle.DangerousGetHandle(), out var cred);
        if (err.IsError)
            return CommandResult.Fail($"permission denied: cannot read the peer credentials of the control connection ({err})", 1);
        if (cred.UserId != 0)
        {
            s_refused.Increment();
            s_log.LogLimited(s_limit, VLogLevel.Warn, "refused non-root client", ("uid", cred.UserId), ("pid", cred.ProcessId));
            return CommandResult.Fail($"permission denied: the vswitch control socket {Path} accepts only root (client uid {cred.UserId}, pid {cred.ProcessId})", 1);
        }
        if (!ControlProtocol.TryDecodeRequest(line, out var command, out var args, out var perr))
        {
            s_bad.Increment();
            return CommandResult.Fail(perr!, 2);
        }
        s_requests.Increment();
        s_log.Dbg("request", ("command", command), ("args", string.Join(' ', args)));
        return _registry.Execute(command, args);
    }

    /// <summary>
    /// Reads one request line (without its newline). Null when the peer closes before sending a byte; a peer that closes after
    /// some bytes without a newline sent its whole request. <see cref="InvalidDataException"/> when the line exceeds
    /// <paramref name="max"/> bytes.
    /// </summary>
    private static async Task<byte[]?> ReadRequestAsync(Socket client, int max, CancellationToken token)
    {
        var buffer = new byte[Math.Min(4096, max + 1)];
        int length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                if (length > max) throw new InvalidDataException($"request longer than {max} bytes");
                Array.Resize(ref buffer, (int)Math.Min((long)buffer.Length * 2, max + 1L));
            }
            int n = await client.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, token).ConfigureAwait(false);
            if (n == 0) return length == 0 ? null : buffer[..length];
            int nl = Array.IndexOf(buffer, (byte)'\n', length, n);
            length += n;
            if (nl >= 0) return nl > max ? throw new InvalidDataException($"request longer than {max} bytes") : buffer[..nl];
            if (length > max) throw new InvalidDataException($"request longer than {max} bytes");
        }
    }

    private static async Task SendAllAsync(Socket client, byte[] data, CancellationToken token)
    {
        int sent = 0;
        while (sent < data.Length)
            sent += await client.SendAsync(data.AsMemory(sent), SocketFlags.None, token).ConfigureAwait(false);
    }

    /// <summary>Sends an error response with a short deadline, ignoring a peer that is gone or does not read.</summary>
    private async Task TrySendAsync(Socket client, CommandResult result)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        cts.CancelAfter(TimeSpan.FromSeconds(1));
        try
        {
            await SendAllAsync(client, ControlProtocol.EncodeResponse(result), cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    /// <summary>Stops accepting, ends the connections in progress and removes the socket file.</summary>
    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        try { _listener.Shutdown(SocketShutdown.Both); } catch (SocketException) { }
        _listener.Dispose();
        _acceptThread?.Join(2000);
        _stop.Cancel();
        try { File.Delete(Path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
