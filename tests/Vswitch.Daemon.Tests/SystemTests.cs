using System.Diagnostics;

using Vswitch.Netdev.Tests.SystemTests;

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
/// Every name is this run's (<see cref="TestObjects"/>, recorded for the sweep); everything is removed on dispose.
/// </summary>
internal sealed class Topology : IDisposable
{
    /// <summary>The bridge's name (recorded like an interface: a datapath may give the bridge a kernel interface of that name).</summary>
    public readonly string Bridge = TestObjects.NewLink('b');
    private readonly List<string> _namespaces = [];
    private readonly List<string> _links = [];
    private readonly Dictionary<string, (string Ns, string HostEnd, string Address)> _hosts = [];

    /// <summary>The namespace of host <paramref name="tag"/>.</summary>
    public string Ns(string tag) => _hosts[tag].Ns;

    /// <summary>The veth host end (the switch port's interface) of host <paramref name="tag"/>.</summary>
    public string HostEnd(string tag) => _hosts[tag].HostEnd;

    /// <summary>Creates a namespace with a veth whose host end is returned and whose namespace end is eth0 at <paramref name="cidr"/>.</summary>
    public string AddHost(string tag, string cidr, int? vlan = null)
    {
        var ns = TestObjects.NewNamespace();
        var host = TestObjects.NewLink('h');
        var peer = TestObjects.NewLink('p');
        Sh.Ok("ip", "netns", "add", ns);
        _namespaces.Add(ns);
        _hosts[tag] = (ns, host, cidr.Split('/')[0]);
        Sh.Ok("ip", "link", "add", host, "type", "veth", "peer", "name", peer);
        _links.Add(host);
        TestObjects.MarkLink(host);
        TestObjects.MarkLink(peer);
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

    /// <summary>True when one of <paramref name="count"/> pings gets its reply within <paramref name="replySeconds"/> (generous: a passing ping does not wait for it).</summary>
    public bool Ping(string fromTag, string address, int count = 2, int replySeconds = 5) =>
        Sh.Run("ip", "netns", "exec", Ns(fromTag), "ping", "-c", count.ToString(), "-i", "0.2", "-W", replySeconds.ToString(), address).Exit == 0;

    /// <summary>
    /// A negative check whose window is defined by traffic, not by a ping timeout: <paramref name="fromTag"/> pings
    /// <paramref name="address"/> (host <paramref name="targetTag"/>, which must be out of reach) with an empty ARP
    /// cache; once its ARP request is on the wire, a control ping from the same host to <paramref name="controlAddress"/>
    /// (same VLAN, also resolved afresh, so its ARP broadcast enters the switch at the same port after the first and takes
    /// the same flood) must get its reply. Only then is the first ping stopped. True when the first ping got a reply or
    /// the target heard the sender's ARP (it keeps a neighbour entry for an ARP request addressed to it).
    /// </summary>
    public bool PingWithControl(string fromTag, string address, string targetTag, string controlAddress, out string detail)
    {
        string ns = Ns(fromTag);
        Sh.Ok("ip", "-n", ns, "neigh", "flush", "all");
        using var negative = new BackgroundCommand("ip", "netns", "exec", ns, "ping", "-n", "-c", "1", "-W", "10", address);
        // The kernel sends the first ARP request in the same call that creates the (INCOMPLETE) neighbour entry.
        Wait.For(() => negative.HasExited || Sh.Run("ip", "-n", ns, "neigh", "show", address).Output.Trim().Length > 0,
            () => $"{fromTag}'s ARP request for {address}: {negative.Output}");
        var control = Sh.Run("ip", "netns", "exec", ns, "ping", "-n", "-c", "1", "-W", "5", controlAddress);
        Assert.True(control.Exit == 0, $"control ping {fromTag} -> {controlAddress} failed: {control.Output}");
        string heard = Sh.Run("ip", "-n", Ns(targetTag), "neigh", "show", _hosts[fromTag].Address).Output.Trim();
        int exit = negative.Interrupt();
        detail = $"ping {fromTag} -> {address} (exit {exit}): {negative.Output}; {targetTag}'s neighbour entry for {fromTag}: '{heard}'";
        return exit == 0 || heard.Length > 0;
    }

    public void Dispose()
    {
        foreach (var ns in _namespaces) Sh.Run("ip", "netns", "del", ns);
        foreach (var l in _links) Sh.Run("ip", "link", "del", l);
    }
}

/// <summary>A command running in the background with its output collected line by line; killed by PID on dispose.</summary>
internal sealed class BackgroundCommand : IDisposable
{
    private readonly Process _process;
    private readonly System.Text.StringBuilder _output = new();

    public BackgroundCommand(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Output { get { lock (_output) return _output.ToString(); } }

    public bool HasExited => _process.HasExited;

    public bool WaitForExit(int timeoutMs)
    {
        if (!_process.WaitForExit(timeoutMs)) return false;
        _process.WaitForExit(); // the output readers are done
        return true;
    }

    /// <summary>Stops it with SIGINT (ping prints its summary) and returns its exit status.</summary>
    public int Interrupt()
    {
        if (!_process.HasExited) Sh.Run("kill", "-INT", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (!WaitForExit(10_000)) _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
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
        TestObjects.RecordProcess(_process); // a daemon outlives a crashed test process: the sweep ends it (and its taps)
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
        var process = _process;
        Wait.For(() =>
        {
            if (process.HasExited) throw new InvalidOperationException($"vswitch run exited with {process.ExitCode}");
            if (!File.Exists(Control)) return false;
            try { return Ctl("appctl", "version").Exit == 0; } catch (InvalidOperationException) { return false; }
        }, "vswitch run to answer on its control socket", TimeSpan.FromSeconds(30));
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
    /// <summary>Adds the topology's bridge (checking it runs a packet datapath) and one namespace host per (tag, address) on it.</summary>
    private static string AddBridgeWithHosts(SwitchProcess sw, Topology topo, params (string Tag, string Cidr)[] hosts)
    {
        var br = topo.Bridge;
        Assert.Equal(0, sw.Ctl("ctl", "add-br", br).Exit);
        Assert.False(sw.Ctl("dpctl", "dump-dps").Output.StartsWith("offline@", StringComparison.Ordinal), "vswitch run has no packet datapath");
        foreach (var (tag, cidr) in hosts)
        {
            var r = sw.Ctl("ctl", "add-port", br, topo.AddHost(tag, cidr));
            Assert.True(r.Exit == 0, r.Output);
        }
        return br;
    }

    [RootFact]
    public void ThreeNamespacesOnOneBridgeAllPing()
    {
        var dll = ControlSocketTests.RequireVswitchDll();
        using var dir = new TempDir();
        using var topo = new Topology();
        using var sw = new SwitchProcess(dll, dir.Path);
        sw.Start();
        var br = AddBridgeWithHosts(sw, topo, ("a", "10.231.7.1/24"), ("b", "10.231.7.2/24"), ("c", "10.231.7.3/24"));
        Assert.True(topo.Ping("a", "10.231.7.2"));
        Assert.True(topo.Ping("a", "10.231.7.3"));
        Assert.True(topo.Ping("b", "10.231.7.3"));
        var fdb = sw.Ctl("appctl", "fdb/show", br).Output;
        Assert.Equal(3, fdb.Split('\n').Count(l => l.Contains(':')));
    }

    /// <summary>
    /// A MAC moves between namespaces (the address and MAC of host b reappear behind port c, as when a VM migrates):
    /// once the moved host sends one frame, the switch learns the new port, revalidates the flows that still point
    /// at the old port, and a host that cached the MAC reaches it again within a second.
    /// </summary>
    [RootFact]
    public void MovedMacIsReachableAgainWithinASecond()
    {
        var dll = ControlSocketTests.RequireVswitchDll();
        using var dir = new TempDir();
        using var topo = new Topology();
        using var sw = new SwitchProcess(dll, dir.Path);
        sw.Start();
        var br = AddBridgeWithHosts(sw, topo, ("a", "10.231.9.1/24"), ("b", "10.231.9.2/24"), ("c", "10.231.9.3/24"));
        Assert.True(topo.Ping("a", "10.231.9.2"), "a -> b before the move");
        string nsB = topo.Ns("b"), nsC = topo.Ns("c");
        var mac = Sh.Ok("ip", "netns", "exec", nsB, "cat", "/sys/class/net/eth0/address").Trim();
        Assert.Contains(mac, sw.Ctl("appctl", "fdb/show", br).Output);

        // Move: b goes away, c takes b's MAC and IP address.
        Sh.Ok("ip", "-n", nsB, "link", "set", "eth0", "down");
        Sh.Ok("ip", "-n", nsC, "link", "set", "eth0", "down");
        Sh.Ok("ip", "-n", nsC, "link", "set", "eth0", "address", mac);
        Sh.Ok("ip", "-n", nsC, "addr", "flush", "dev", "eth0");
        Sh.Ok("ip", "-n", nsC, "addr", "add", "10.231.9.2/24", "dev", "eth0");
        Sh.Ok("ip", "-n", nsC, "link", "set", "eth0", "up");

        // The moved host speaks once (as a migrated VM's gratuitous ARP would); a, whose ARP cache still maps
        // 10.231.9.2 to the MAC, must reach it at its new port with a single one-second ping.
        var sw1 = Stopwatch.StartNew();
        Assert.True(Sh.Run("ip", "netns", "exec", nsC, "ping", "-c", "1", "-W", "1", "10.231.9.1").Exit == 0, "moved host -> a");
        Assert.True(Sh.Run("ip", "netns", "exec", topo.Ns("a"), "ping", "-c", "1", "-W", "1", "10.231.9.2").Exit == 0,
            "a could not reach the moved MAC within a second:\n" + sw.Ctl("dpctl", "dump-flows").Output);
        Assert.True(sw1.Elapsed < TimeSpan.FromSeconds(2), $"move took {sw1.Elapsed}");
        var fdb = sw.Ctl("appctl", "fdb/show", br).Output;
        var line = fdb.Split('\n').Single(l => l.Contains(mac, StringComparison.OrdinalIgnoreCase));
        Assert.StartsWith(topo.HostEnd("c"), line.Trim());
        var counters = sw.Ctl("appctl", "bridge/counters", br).Output;
        var moves = System.Text.RegularExpressions.Regex.Match(counters, @"mac_moves:(\d+)");
        Assert.True(moves.Success && int.Parse(moves.Groups[1].Value) >= 1, counters);
        Assert.Matches(@"upcalls:[1-9]", counters);
    }

    [RootFact]
    public void AccessVlansIsolateAndTrunkCarriesTags()
    {
        var dll = ControlSocketTests.RequireVswitchDll();
        using var dir = new TempDir();
        using var topo = new Topology();
        using var sw = new SwitchProcess(dll, dir.Path);
        sw.Start();
        var br = topo.Bridge;
        Assert.Equal(0, sw.Ctl("ctl", "add-br", br).Exit);
        Assert.False(sw.Ctl("dpctl", "dump-dps").Output.StartsWith("offline@", StringComparison.Ordinal), "vswitch run has no packet datapath");
        void Add(string tag, string ip, string vlanArg, int? nsVlan = null)
        {
            var host = topo.AddHost(tag, ip, nsVlan);
            var r = sw.Ctl("ctl", "add-port", br, host, vlanArg);
            Assert.True(r.Exit == 0, r.Output);
        }
        Add("a", "10.231.8.1/24", "tag=10");
        Add("b", "10.231.8.2/24", "tag=10");
        Add("c", "10.231.8.3/24", "tag=20");
        Add("d", "10.231.8.4/24", "tag=20");
        Add("t", "10.231.8.9/24", "trunks=10,20");
        Assert.True(topo.Ping("a", "10.231.8.2"));
        Assert.True(topo.Ping("c", "10.231.8.4"));
        // Each negative ping is ended by a control ping from the same host within its VLAN (docs/system-tests.md).
        Assert.False(topo.PingWithControl("a", "10.231.8.3", "c", "10.231.8.2", out var why), why);
        Assert.False(topo.PingWithControl("b", "10.231.8.4", "d", "10.231.8.1", out why), why);
        Assert.False(topo.PingWithControl("a", "10.231.8.9", "t", "10.231.8.2", out why), why); // untagged (VLAN 0) is not on the trunk list

        // The trunk sees VLAN 10's traffic tagged: capture there while a's ARP for an absent address floods.
        Assert.True(Sh.Run("tcpdump", "--version").Exit == 0, "tcpdump is required (.ci/run installs it)");
        using var capture = new BackgroundCommand("ip", "netns", "exec", topo.Ns("t"), "timeout", "10", "tcpdump", "-e", "-n", "-l", "-c", "1", "-i", "eth0", "vlan 10 and arp");
        Wait.For(() => capture.Output.Contains("listening on", StringComparison.Ordinal) || capture.HasExited, () => $"tcpdump to attach: {capture.Output}");
        using (new BackgroundCommand("ip", "netns", "exec", topo.Ns("a"), "ping", "-n", "-c", "1", "-W", "10", "10.231.8.77"))
            Assert.True(capture.WaitForExit(15_000));
        Assert.Contains("vlan 10", capture.Output);
    }

    [RootFact]
    public void RestartRestoresSavedBridgesAndPorts()
    {
        var dll = ControlSocketTests.RequireVswitchDll();
        using var dir = new TempDir();
        using var topo = new Topology();
        using var sw = new SwitchProcess(dll, dir.Path);
        sw.Start();
        var br = AddBridgeWithHosts(sw, topo, ("a", "10.231.9.1/24"), ("b", "10.231.9.2/24"));
        Assert.True(topo.Ping("a", "10.231.9.2"));
        sw.Kill();
        // No control traffic can follow: nothing forwards between the namespaces once the daemon has exited (Kill waits
        // for that); the ping's own one-second reply bound ends the check.
        Assert.False(topo.Ping("a", "10.231.9.2", 1, replySeconds: 1));
        sw.Start();
        Assert.Contains($"Bridge {br}", sw.Ctl("ctl", "show").Output);
        Assert.True(topo.Ping("a", "10.231.9.2", 3));
    }

    [Fact]
    public void MalformedConfigAndCommandLeaveTheRunningSwitchUnchanged()
    {
        var dll = ControlSocketTests.RequireVswitchDll();
        using var dir = new TempDir();
        using var sw = new SwitchProcess(dll, dir.Path);
        sw.Start();
        var br = TestObjects.NewLink('b');
        Assert.Equal(0, sw.Ctl("ctl", "add-br", br).Exit);
        var show = sw.Ctl("ctl", "show").Output;
        var bad = sw.Ctl("ctl", "add-port", br, "p1", "tag=9999");
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
