using System.Diagnostics;

namespace Vswitch.Netdev.Tests.SystemTests;

/// <summary>Runs iproute2 and other commands for system tests; failures throw with the command's stderr.</summary>
internal static class Ip
{
    /// <summary>
    /// A unique interface name of this run, recorded for the sweep (<see cref="TestObjects"/>):
    /// <c>vsw_&lt;run&gt;</c> + <paramref name="kind"/> + random hex, 15 bytes.
    /// </summary>
    public static string UniqueName(string kind) => TestObjects.NewLink(kind[0]);

    /// <summary>
    /// Creates a veth pair <paramref name="end1"/>/<paramref name="end2"/> (names from <see cref="UniqueName"/>) with
    /// extra <c>ip link add</c> arguments for each end (e.g. <c>mtu 9000</c>, <c>netns NS</c> for the peer), and marks
    /// the ends left in this namespace with the run's alias.
    /// </summary>
    public static void AddVeth(string end1, string end2, string end1Args = "", string end2Args = "")
    {
        Run($"link add {end1} {end1Args} type veth peer name {end2} {end2Args}");
        TestObjects.MarkLink(end1);
        if (!end2Args.Contains("netns ", StringComparison.Ordinal)) TestObjects.MarkLink(end2);
    }

    /// <summary>Runs <paramref name="file"/> with <paramref name="args"/>; returns (exit code, stdout, stderr).</summary>
    public static (int Code, string Out, string Err) Exec(string file, string args, int timeoutMs = 20_000)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs))
        {
            try { p.Kill(true); } catch (InvalidOperationException) { }
            throw new TimeoutException($"{file} {args} did not finish in {timeoutMs} ms");
        }
        return (p.ExitCode, o.Result, e.Result);
    }

    /// <summary>Runs <c>ip ARGS</c>; throws on failure.</summary>
    public static string Run(string args)
    {
        var (code, o, e) = Exec("ip", args);
        if (code != 0) throw new InvalidOperationException($"ip {args} failed ({code}): {e.Trim()}");
        return o;
    }

    /// <summary>Runs <c>ip ARGS</c>, ignoring failure (cleanup).</summary>
    public static void TryRun(string args)
    {
        try { Exec("ip", args); } catch (TimeoutException) { } catch (InvalidOperationException) { }
    }

    /// <summary>Runs a shell command inside namespace <paramref name="ns"/>.</summary>
    public static (int Code, string Out, string Err) InNamespace(string ns, string command, int timeoutMs = 20_000) =>
        Exec("ip", $"netns exec {ns} bash -c \"{command.Replace("\"", "\\\"", StringComparison.Ordinal)}\"", timeoutMs);
}

/// <summary>A network namespace named vsw_&lt;run&gt;n&lt;random&gt; (recorded for the sweep), deleted on dispose even after failures.</summary>
internal sealed class NetNamespace : IDisposable
{
    public NetNamespace()
    {
        Name = TestObjects.NewNamespace();
        Ip.Run($"netns add {Name}");
        Exec("ip link set lo up");
    }

    public string Name { get; }

    /// <summary>Runs a shell command in the namespace; throws on failure.</summary>
    public string Exec(string command, int timeoutMs = 20_000)
    {
        var (code, o, e) = Ip.InNamespace(Name, command, timeoutMs);
        if (code != 0) throw new InvalidOperationException($"[{Name}] {command} failed ({code}): {o.Trim()} {e.Trim()}");
        return o;
    }

    /// <summary>Runs a shell command in the namespace and returns its exit code and output.</summary>
    public (int Code, string Out, string Err) TryExec(string command, int timeoutMs = 20_000) => Ip.InNamespace(Name, command, timeoutMs);

    public void Dispose() => Ip.TryRun($"netns del {Name}");
}

/// <summary>A random 10.a.b.0/24 test subnet (traffic stays inside namespaces the test made).</summary>
internal static class TestSubnet
{
    public static string Next()
    {
        int a = Random.Shared.Next(100, 250), b = Random.Shared.Next(1, 250);
        return $"10.{a}.{b}";
    }
}

/// <summary>An iperf3 server (one client, then it exits) inside a namespace; killed on dispose if still running.</summary>
internal sealed class IperfServer : IDisposable
{
    private readonly System.Diagnostics.Process _process;

    public IperfServer(NetNamespace ns)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("ip", $"netns exec {ns.Name} iperf3 -s -1")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        _process = System.Diagnostics.Process.Start(psi)!;
        TestObjects.RecordProcess(_process); // no time limit of its own: the sweep ends it if we die first
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Wait.For(() => _process.HasExited || ns.TryExec("ss -ltn | grep -q ':5201 '").Code == 0, "iperf3 -s to listen on port 5201");
        Assert.False(_process.HasExited, $"iperf3 -s exited with {(_process.HasExited ? _process.ExitCode : 0)}");
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(2000);
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
    }
}
