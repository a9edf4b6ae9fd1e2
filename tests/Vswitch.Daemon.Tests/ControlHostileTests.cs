using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Vswitch.Daemon.Tests;

/// <summary>
/// The control socket against hostile or broken clients (issue 15): any byte sequence gets an error response or a closed
/// connection and the switch keeps serving; stalled clients hold a bounded number of slots for a bounded time.
/// </summary>
public class ControlHostileTests
{
    private static SwitchDaemon NewDaemon() => new(new SwitchDaemonOptions { StateDirectory = null, StartThreads = false, DatapathFactory = DaemonTests.Offline });

    private static Socket Connect(string path)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(path));
        return s;
    }

    /// <summary>Sends raw bytes and reads the answer: the decoded response, or null when the server closed without one.</summary>
    private static Vswitch.Switch.Commands.CommandResult? Exchange(string path, byte[] bytes, bool shutdownWrite = true)
    {
        using var s = Connect(path);
        s.ReceiveTimeout = 20_000;
        try
        {
            s.Send(bytes);
            if (shutdownWrite) s.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // The server may close a connection whose request is too long before it has all of it.
        }
        var line = ReadLine(s);
        if (line is null) return null;
        Assert.True(ControlProtocol.TryDecodeResponse(line, out var result, out var err), err);
        return result;
    }

    /// <summary>Reads one response line from the socket; null when it is closed (or reset) before a newline.</summary>
    private static byte[]? ReadLine(Socket s)
    {
        var buffer = new List<byte>();
        var chunk = new byte[4096];
        while (true)
        {
            int n;
            try { n = s.Receive(chunk); }
            catch (SocketException) { return null; }
            if (n == 0) return null;
            for (int i = 0; i < n; i++)
            {
                if (chunk[i] == (byte)'\n') return buffer.ToArray();
                buffer.Add(chunk[i]);
            }
        }
    }

    private static void AssertStillServes(string path)
    {
        var r = ControlClient.Send(path, "version", [], TimeSpan.FromSeconds(20));
        Assert.True(r.Ok, r.Error);
    }

    public static TheoryData<string, byte[]> HostileRequests() => new()
    {
        { "invalid UTF-8 in the command string", [.. "{\"command\":\""u8, 0xC3, 0x28, 0xFF, .. "\",\"args\":[]}\n"u8] },
        { "invalid UTF-8 in an argument", [.. "{\"command\":\"show\",\"args\":[\""u8, 0xED, 0xA0, 0x80, .. "\"]}\n"u8] },
        { "invalid UTF-8 outside strings", [.. "{\"command\":"u8, 0xFE, .. "}\n"u8] },
        { "truncated JSON", "{\"command\":\"show\",\"ar\n"u8.ToArray() },
        { "truncated JSON without newline", "{\"command\":\"sh"u8.ToArray() },
        { "binary", [0x00, 0x01, 0x02, 0xFF, 0xFE, 0x7F, 0x80, 0x0A] },
        { "deep nesting", [.. Encoding.ASCII.GetBytes(new string('[', 100_000)), (byte)'\n'] },
        { "a number where the command goes", "{\"command\":1e999999}\n"u8.ToArray() },
        { "args of the wrong type", "{\"command\":\"show\",\"args\":{\"a\":1}}\n"u8.ToArray() },
        { "a bare newline", "\n"u8.ToArray() },
        { "not an object", "[\"show\"]\n"u8.ToArray() },
        { "a string with a NUL", "{\"command\":\"sh\\u0000ow\"}\n"u8.ToArray() },
    };

    [Theory]
    [MemberData(nameof(HostileRequests))]
    public void AnyByteSequenceGetsAnErrorAndTheSwitchKeepsServing(string what, byte[] request)
    {
        using var dir = new TempDir();
        using var d = NewDaemon();
        var path = dir.File("ctl");
        using var server = new ControlServer(path, d.Commands);
        server.Start();
        var r = Exchange(path, request);
        Assert.NotNull(r);
        Assert.False(r!.Ok, what);
        Assert.False(string.IsNullOrEmpty(r.Error), what);
        AssertStillServes(path);
        Assert.Empty(d.Bridges);
    }

    [Theory]
    [MemberData(nameof(HostileRequests))]
    public void DecoderRefusesWithoutThrowing(string what, byte[] request)
    {
        var line = request.AsSpan();
        if (line.Length > 0 && line[^1] == (byte)'\n') line = line[..^1];
        var ok = ControlProtocol.TryDecodeRequest(line, out var command, out _, out var error);
        // "a string with a NUL" decodes to a command nobody has: it is refused by the registry, not by the decoder.
        if (ok) Assert.Equal("sh\0ow", command);
        else Assert.StartsWith("malformed request", error);
        _ = what;
    }

    [Fact]
    public void HugeLineIsRefusedAndTheSwitchKeepsServing()
    {
        using var dir = new TempDir();
        using var d = NewDaemon();
        var path = dir.File("ctl");
        using var server = new ControlServer(path, d.Commands, limits: new ControlServerLimits { MaxRequestBytes = 64 << 10 });
        server.Start();
        var huge = new byte[1 << 20];
        Array.Fill(huge, (byte)'a');
        var r = Exchange(path, huge, shutdownWrite: false);
        if (r is not null)   // the error reply, unless the server closed before the client finished writing
        {
            Assert.False(r.Ok);
            Assert.Contains("longer than 65536 bytes", r.Error);
        }
        AssertStillServes(path);
    }

    [Fact]
    public void FiftyStalledClientsDoNotDelayANormalOne()
    {
        using var dir = new TempDir();
        using var d = NewDaemon();
        var path = dir.File("ctl");
        using var server = new ControlServer(path, d.Commands);   // default limits: 64 connections, 5 s deadline
        server.Start();
        var stalled = new List<Socket>();
        try
        {
            for (int i = 0; i < 50; i++)
            {
                var s = Connect(path);
                s.Send("{\"command\":\"ver"u8);   // half a request, never finished
                stalled.Add(s);
            }
            Wait.For(() => server.ActiveConnections == 50, "the 50 stalled connections to be accepted", TimeSpan.FromSeconds(20));
            var sw = Stopwatch.StartNew();
            var r = ControlClient.Send(path, "add-br", ["br0"], TimeSpan.FromSeconds(20));
            sw.Stop();
            Assert.True(r.Ok, r.Error);
            // Served at once: nothing waits for the stalled clients (before, it took their 10 s receive timeout or longer).
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2), $"a normal client waited {sw.Elapsed.TotalMilliseconds:0} ms behind 50 stalled ones");
            Assert.Single(d.Bridges);
        }
        finally
        {
            foreach (var s in stalled) s.Dispose();
        }
    }

    [Fact]
    public void StalledClientsAreClosedAtTheDeadlineAndExtraOnesAreToldTheSwitchIsBusy()
    {
        using var dir = new TempDir();
        using var d = NewDaemon();
        var path = dir.File("ctl");
        var limits = new ControlServerLimits { MaxConnections = 4, RequestDeadline = TimeSpan.FromMilliseconds(1500) };
        using var server = new ControlServer(path, d.Commands, limits: limits);
        server.Start();
        var stalled = new List<Socket>();
        try
        {
            for (int i = 0; i < 4; i++)
            {
                var s = Connect(path);
                s.Send("{\"comm"u8);
                stalled.Add(s);
            }
            Wait.For(() => server.ActiveConnections == 4, "4 stalled connections", TimeSpan.FromSeconds(20));
            // The fifth is answered at once with "busy", not queued behind the others.
            var busy = ControlClient.Send(path, "version", [], TimeSpan.FromSeconds(20));
            Assert.False(busy.Ok);
            Assert.Contains("busy", busy.Error);

            // Each stalled client gets the deadline error and is closed; then the switch serves again.
            foreach (var s in stalled)
            {
                s.ReceiveTimeout = 20_000;
                var line = ReadLine(s);
                Assert.NotNull(line);
                Assert.True(ControlProtocol.TryDecodeResponse(line!, out var r, out _));
                Assert.Contains("no complete request within 1.5 s", r.Error);
                Assert.Null(ReadLine(s));   // closed
            }
            Wait.For(() => server.ActiveConnections == 0, "the stalled connections to be closed", TimeSpan.FromSeconds(20));
            AssertStillServes(path);
        }
        finally
        {
            foreach (var s in stalled) s.Dispose();
        }
    }
}

