using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

using Vswitch.Netdev.Tests.SystemTests;

namespace Vswitch.Daemon.Tests;

public class ControlSocketTests
{
    private static SwitchDaemon NewDaemon() => new(new SwitchDaemonOptions { StateDirectory = null, StartThreads = false, DatapathFactory = DaemonTests.Offline });

    [Fact]
    public void RequestResponseRoundTrip()
    {
        using var dir = new TempDir();
        using var d = NewDaemon();
        var path = dir.File("run/vswitch.ctl");
        using var server = new ControlServer(path, d.Commands);
        server.Start();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        var r = ControlClient.Send(path, "add-br", ["br0"]);
        Assert.True(r.Ok, r.Error);
        r = ControlClient.Send(path, "show", []);
        Assert.Contains("Bridge br0", r.Output);
        r = ControlClient.Send(path, "add-br", ["br0"]);
        Assert.False(r.Ok);
        Assert.Contains("already exists", r.Error);
        Assert.NotEqual(0, r.ExitCode);
    }

    [Fact]
    public void MalformedRequestIsAnsweredWithAnError()
    {
        using var dir = new TempDir();
        using var d = NewDaemon();
        var path = dir.File("ctl");
        using var server = new ControlServer(path, d.Commands);
        server.Start();
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(path));
        s.Send(Encoding.UTF8.GetBytes("{\"cmd\": 3}\n"));
        using var stream = new NetworkStream(s);
        var line = ControlProtocol.ReadLine(stream, 1 << 20)!;
        Assert.True(ControlProtocol.TryDecodeResponse(line, out var result, out _));
        Assert.False(result.Ok);
        Assert.Contains("malformed request", result.Error);
        Assert.Empty(d.Bridges);
    }

    [Fact]
    public void SecondServerOnTheSamePathIsRefused()
    {
        using var dir = new TempDir();
        using var d = NewDaemon();
        var path = dir.File("ctl");
        using var server = new ControlServer(path, d.Commands);
        server.Start();
        var ex = Assert.Throws<IOException>(() => new ControlServer(path, d.Commands));
        Assert.Contains("already listening", ex.Message);
    }

    [Fact]
    public void ProtocolEncodesAndDecodes()
    {
        var req = ControlProtocol.EncodeRequest("fdb/show", ["br0", "x y"]);
        Assert.True(ControlProtocol.TryDecodeRequest(req.AsSpan(0, req.Length - 1), out var cmd, out var args, out _));
        Assert.Equal("fdb/show", cmd);
        Assert.Equal(["br0", "x y"], args);
        Assert.False(ControlProtocol.TryDecodeRequest("{\"command\":\"x\",\"args\":[1]}"u8, out _, out _, out var e));
        Assert.Contains("args", e);
    }

    /// <summary>The built vswitch.dll; its absence is a build error (this project references Vswitch.Cli), not a skip.</summary>
    internal static string RequireVswitchDll() =>
        FindVswitchDll() ?? throw new InvalidOperationException("vswitch.dll was not built next to the tests (Vswitch.Daemon.Tests references Vswitch.Cli)");

    internal static string? FindVswitchDll()
    {
        // tests/Vswitch.Daemon.Tests/bin/<Config>/net10.0 -> src/Vswitch.Cli/bin/<Config>/net10.0/vswitch.dll
        var baseDir = AppContext.BaseDirectory.TrimEnd('/');
        var tfm = Path.GetFileName(baseDir);
        var config = Path.GetFileName(Path.GetDirectoryName(baseDir)!);
        var repo = Path.GetFullPath(Path.Combine(baseDir, "../../../../.."));
        var dll = Path.Combine(repo, "src/Vswitch.Cli/bin", config, tfm, "vswitch.dll");
        return File.Exists(dll) ? dll : null;
    }

    private static (int Exit, string Stdout, string Stderr) RunAsNobody(string dll, params string[] args)
    {
        var psi = new ProcessStartInfo("setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "dotnet", dll }) psi.ArgumentList.Add(a);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["HOME"] = "/tmp";
        psi.Environment["DOTNET_CLI_HOME"] = "/tmp";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000)) { p.Kill(); throw new TimeoutException("client did not finish"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }


    [RootSetprivFact]
    public void NonRootClientIsRefusedByPeerCredentials()
    {
        var dll = RequireVswitchDll();
        using var dir = new TempDir();
        File.SetUnixFileMode(dir.Path, (UnixFileMode)0x1ED);   // 0755 so that nobody can reach the socket
        using var d = NewDaemon();
        var path = dir.File("ctl");
        // A world-writable socket, so the kernel lets nobody connect and the SO_PEERCRED check is what refuses.
        using var server = new ControlServer(path, d.Commands, (UnixFileMode)0x1B6);
        server.Start();
        var (exit, stdout, stderr) = RunAsNobody(dll, "ctl", "add-br", "br0", "--control", path);
        Assert.NotEqual(0, exit);
        Assert.Contains("accepts only root", stderr);
        Assert.Contains("uid 65534", stderr);
        Assert.Equal("", stdout);
        Assert.Empty(d.Bridges);   // the command was not run
    }

    [RootSetprivFact]
    public void NonRootClientCannotOpenTheDefaultModeSocket()
    {
        var dll = RequireVswitchDll();
        using var dir = new TempDir();
        File.SetUnixFileMode(dir.Path, (UnixFileMode)0x1ED);
        using var d = NewDaemon();
        var path = dir.File("ctl");
        using var server = new ControlServer(path, d.Commands);   // 0600
        server.Start();
        var (exit, _, stderr) = RunAsNobody(dll, "appctl", "version", "--control", path);
        Assert.NotEqual(0, exit);
        Assert.Contains("permission denied", stderr);
    }

    private static (int Exit, string Stdout, string Stderr) RunCli(string dll, IDictionary<string, string>? env, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove(ControlClient.EnvironmentVariable);
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000)) { p.Kill(); throw new TimeoutException("client did not finish"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void CliClientsUseTheEnvironmentPathAndTheDpctlShortcut()
    {
        var dll = RequireVswitchDll();
        using var dir = new TempDir();
        using var d = NewDaemon();
        var path = dir.File("ctl");
        using var server = new ControlServer(path, d.Commands);
        server.Start();
        var env = new Dictionary<string, string> { [ControlClient.EnvironmentVariable] = path };

        var (exit, stdout, stderr) = RunCli(dll, env, "ctl", "add-br", "--may-exist", "br0");
        Assert.True(exit == 0, stderr);
        Assert.Single(d.Bridges);
        (exit, stdout, _) = RunCli(dll, env, "dpctl", "dump-dps");
        Assert.Equal(0, exit);
        Assert.Equal("offline@br0\n", stdout);
        (exit, stdout, _) = RunCli(dll, null, "appctl", "dpctl/dump-flows", "-m", "br0", "--control", path);
        Assert.Equal(0, exit);
        (exit, stdout, stderr) = RunCli(dll, env, "ctl", "add-port", "br0", "p1", "tag=0");
        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Contains("vswitch: add-port: tag=0", stderr);
        Assert.Empty(d.Bridges.Single().Ports);
    }
}

/// <summary>A root fact that also needs setpriv (util-linux) to run a client as uid 65534; skipped with the reason otherwise.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RootSetprivFactAttribute : FactAttribute
{
    public RootSetprivFactAttribute()
    {
        if (SystemTestRequirements.SkipReason is { } reason) Skip = reason;
        else if (!File.Exists("/usr/bin/setpriv")) Skip = "needs setpriv (util-linux) to run a client as nobody";
    }
}
