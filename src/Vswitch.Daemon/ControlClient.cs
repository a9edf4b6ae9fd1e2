using System.Net.Sockets;
using Vswitch.Switch.Commands;

namespace Vswitch.Daemon;

/// <summary>The switch could not be reached; the message says why and names the socket.</summary>
public sealed class ControlClientException(string message) : Exception(message);

/// <summary>Sends one command to a running switch over its control socket.</summary>
public static class ControlClient
{
    /// <summary>The environment variable that sets the default control socket path.</summary>
    public const string EnvironmentVariable = "VSWITCH_CONTROL";

    /// <summary>The control path to use: <paramref name="explicitPath"/>, else <c>$VSWITCH_CONTROL</c>, else the default.</summary>
    public static string ResolvePath(string? explicitPath) =>
        !string.IsNullOrEmpty(explicitPath) ? explicitPath
        : Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } env ? env
        : ControlServer.DefaultPath;

    /// <summary>
    /// Runs <paramref name="command"/> on the switch at <paramref name="path"/>. Throws <see cref="ControlClientException"/> when the
    /// switch cannot be reached or answers garbage; a refused or failed command is a result with <c>Ok</c> false.
    /// </summary>
    public static CommandResult Send(string path, string command, IReadOnlyList<string> args, TimeSpan? timeout = null)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        int ms = (int)(timeout ?? TimeSpan.FromSeconds(30)).TotalMilliseconds;
        socket.SendTimeout = ms;
        socket.ReceiveTimeout = ms;
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException ex)
        {
            throw new ControlClientException(ex.SocketErrorCode switch
            {
                SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported when !File.Exists(path) =>
                    $"cannot connect to {path}: no such socket (is `vswitch run` running? use --control PATH or VSWITCH_CONTROL)",
                SocketError.AccessDenied =>
                    $"cannot connect to {path}: permission denied (the vswitch control socket accepts only root)",
                SocketError.ConnectionRefused =>
                    $"cannot connect to {path}: nobody is listening (stale socket of a stopped switch?)",
                _ when !File.Exists(path) =>
                    $"cannot connect to {path}: no such socket (is `vswitch run` running? use --control PATH or VSWITCH_CONTROL)",
                _ => $"cannot connect to {path}: {ex.Message}",
            });
        }
        try
        {
            using var stream = new NetworkStream(socket, ownsSocket: false);
            IOException? writeError = null;
            try
            {
                stream.Write(ControlProtocol.EncodeRequest(command, args));
            }
            catch (IOException ex)
            {
                // The switch may answer and close before reading (e.g. "busy"): its answer is still there to read.
                writeError = ex;
            }
            byte[]? line;
            try
            {
                line = ControlProtocol.ReadLine(stream, 64 << 20);
            }
            catch (IOException) when (writeError is not null)
            {
                line = null;
            }
            if (line is null && writeError is not null) throw writeError;
            if (line is null) throw new ControlClientException($"{path}: the switch closed the connection without answering");
            if (!ControlProtocol.TryDecodeResponse(line, out var result, out var error)) throw new ControlClientException($"{path}: {error}");
            return result;
        }
        catch (Exception ex) when (ex is IOException or SocketException or InvalidDataException)
        {
            throw new ControlClientException($"{path}: {ex.Message}");
        }
    }
}
