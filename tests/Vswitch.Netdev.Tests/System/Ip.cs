using System.Diagnostics;

namespace Vswitch.Netdev.Tests.SystemTests;

/// <summary>Runs iproute2 and other commands for system tests; failures throw with the command's stderr.</summary>
internal static class Ip
{
    private static int _swept;

    /// <summary>A unique name: "vsw" + <paramref name="kind"/> + random hex, at most 15 bytes.</summary>
    public static string UniqueName(string kind = "")
    {
        string name = "vsw" + kind + Guid.NewGuid().ToString("N");
        return name[..15];
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

    /// <summary>
    /// Once per test run: deletes stale <c>vsw*</c> network namespaces left by crashed runs (older than ten
    /// minutes, so concurrent runs are not disturbed). Veth pairs inside them go with them.
    /// </summary>
    public static void SweepStaleOnce()
    {
        if (Interlocked.Exchange(ref _swept, 1) != 0) return;
        if (!Directory.Exists("/run/netns")) return;
        foreach (var path in Directory.GetFiles("/run/netns", "vsw*"))
        {
            if (DateTime.UtcNow - File.GetLastWriteTimeUtc(path) > TimeSpan.FromMinutes(10))
                TryRun($"netns del {Path.GetFileName(path)}");
        }
    }
}

/// <summary>A network namespace named vsw&lt;random&gt;, deleted on dispose even after failures.</summary>
internal sealed class NetNamespace : IDisposable
{
    public NetNamespace()
    {
        Ip.SweepStaleOnce();
        Name = Ip.UniqueName("n");
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
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        // Wait until it listens on 5201.
        var deadline = Environment.TickCount64 + 3000;
        while (Environment.TickCount64 < deadline && !ns.TryExec("ss -ltn | grep -q ':5201 '").Code.Equals(0)) Thread.Sleep(20);
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
