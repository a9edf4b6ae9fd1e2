using System.Diagnostics;

namespace Vswitch.Daemon.Tests;

/// <summary>Runs a command; returns its exit status and output.</summary>
internal static class Sh
{
    public static (int Exit, string Output) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(30_000)) { p.Kill(true); return (-1, "timeout"); }
        return (p.ExitCode, o.Result + e.Result);
    }

    public static string Ok(string file, params string[] args)
    {
        var (exit, output) = Run(file, args);
        if (exit != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)}: exit {exit}: {output}");
        return output;
    }
}

/// <summary>
/// Namespaces joined to the switch by veth pairs (host end attached with afpacket): they survive a switch restart.
/// Everything is named vsw&lt;id&gt;... and removed on dispose.
/// </summary>
internal sealed class Topology : IDisposable
{
    public readonly string Id = Guid.NewGuid().ToString("N")[..5];
    private readonly List<string> _namespaces = [];
    private readonly List<string> _links = [];

    /// <summary>Creates namespace vsw{id}{tag} with a veth whose host end is vsw{id}{tag}h and namespace end eth0 at <paramref name="cidr"/>.</summary>
    public string AddHost(string tag, string cidr, int? vlan = null)
    {
        var ns = $"vsw{Id}{tag}";
        var host = $"vsw{Id}{tag}h";
        var peer = $"vsw{Id}{tag}p";
        Sh.Ok("ip", "netns", "add", ns);
        _namespaces.Add(ns);
        Sh.Ok("ip", "link", "add", host, "type", "veth", "peer", "name", peer);
        _links.Add(host);
        Sh.Ok("ip", "link", "set", peer, "netns", ns);
        Sh.Ok("ip", "-n", ns, "link", "set", peer, "name", "eth0");
        Sh.Ok("ip", "-n", ns, "link", "set", "lo", "up");
        Sh.Ok("ip", "-n", ns, "link", "set", "eth0", "up");
        if (vlan is { } v)
        {
            Sh.Ok("ip", "-n", ns, "link", "add", "link", "eth0", "name", $"eth0.{v}", "type", "vlan", "id", v.ToString());
            Sh.Ok("ip", "-n", ns, "link", "set", $"eth0.{v}", "up");
            Sh.Ok("ip", "-n", ns, "addr", "add", cidr, "dev", $"eth0.{v}");
        }
        else
        {
            Sh.Ok("ip", "-n", ns, "addr", "add", cidr, "dev", "eth0");
        }
        Sh.Ok("ip", "link", "set", host, "up");
        return host;
    }

    public bool Ping(string fromTag, string address, int count = 2) =>
        Sh.Run("ip", "netns", "exec", $"vsw{Id}{fromTag}", "ping", "-c", count.ToString(), "-i", "0.2", "-W", "1", address).Exit == 0;

    public void Dispose()
    {
        foreach (var ns in _namespaces) Sh.Run("ip", "netns", "del", ns);
        foreach (var l in _links) Sh.Run("ip", "link", "del", l);
    }
}

/// <summary>A `vswitch run` child process with its own state directory and control socket.</summary>
internal sealed class SwitchProcess : IDisposable
{
    private Process? _process;
    public readonly string StateDir;
    public readonly string Control;
    private readonly string _dll;

    public SwitchProcess(string dll, string dir)
    {
        _dll = dll;
        StateDir = Path.Combine(dir, "state");
        Control = Path.Combine(dir, "ctl");
    }

    public void Start(string? config = null)
    {
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { _dll, "run", "--state-dir", StateDir, "--control", Control }) psi.ArgumentList.Add(a);
        if (config is not null) { psi.ArgumentList.Add("--config"); psi.ArgumentList.Add(config); }
        _process = Process.Start(psi)!;
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
        var deadline = Environment.TickCount64 + 20_000;
        while (Environment.TickCount64 < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"vswitch run exited with {_process.ExitCode}");
            if (File.Exists(Control)) { try { if (Ctl("appctl", "version").Exit == 0) return; } catch (InvalidOperationException) { } }
            Thread.Sleep(100);
        }
        throw new TimeoutException("vswitch run did not come up");
    }

    public (int Exit, string Output) Ctl(params string[] args) => Sh.Run("dotnet", [_dll, .. args, "--control", Control]);

    public void Kill()
    {
        if (_process is { HasExited: false }) { _process.Kill(true); _process.WaitForExit(10_000); }
        _process?.Dispose();
        _process = null;
    }

    public void Dispose() => Kill();
}

public class SystemTests
{
    private static string? Dll() => ControlSocketTests.FindVswitchDll();

    private static bool CanRun(out string dll)
    {
        dll = Dll() ?? "";
        return Environment.UserName == "root" && dll.Length > 0 && Sh.Run("ip", "netns", "list").Exit == 0;
    }

    private static bool CanRunProcess(out string dll)
    {
        dll = Dll() ?? "";
        return dll.Length > 0;
    }

    [Fact]
    public void MalformedConfigAndCommandLeaveTheRunningSwitchUnchanged()
    {
        if (!CanRunProcess(out var dll)) return;
        using var dir = new TempDir();
        using var sw = new SwitchProcess(dll, dir.Path);
        sw.Start();
        Assert.Equal(0, sw.Ctl("ctl", "add-br", "vswbr0").Exit);
        var show = sw.Ctl("ctl", "show").Output;
        var bad = sw.Ctl("ctl", "add-port", "vswbr0", "p1", "tag=9999");
        Assert.NotEqual(0, bad.Exit);
        Assert.Contains("tag=9999", bad.Output);
        Assert.Equal(show, sw.Ctl("ctl", "show").Output);
        var cfg = Path.Combine(dir.Path, "bad.yaml");
        File.WriteAllText(cfg, "bridges:\n  - name: vswbr1\n    ports: 7\n");
        var second = Sh.Run("dotnet", dll, "run", "--state-dir", Path.Combine(dir.Path, "s2"), "--control", Path.Combine(dir.Path, "ctl2"), "--config", cfg);
        Assert.NotEqual(0, second.Exit);
        Assert.Contains($"{cfg}:3:", second.Output);
        Assert.Equal(show, sw.Ctl("ctl", "show").Output);
    }
}
