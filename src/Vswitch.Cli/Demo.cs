using System.Diagnostics;
using System.Globalization;
using Vswitch.Daemon;

namespace Vswitch.Cli;

/// <summary>
/// <c>vswitch demo</c>: two namespaces vsw&lt;id&gt;a/b, each with a tap port of one bridge moved into it and an address in a
/// random 10.x.y.0/24, the switch in-process, a ping from a to b, the learned MACs and datapath flows printed, and
/// everything removed again, also on failure or Ctrl-C.
/// </summary>
internal static class Demo
{
    public static int Run()
    {
        if (Environment.UserName != "root")
        {
            Console.Error.WriteLine("vswitch: demo must run as root (it creates network namespaces and tap devices)");
            return 1;
        }
        var id = Convert.ToHexStringLower(BitConverter.GetBytes(Random.Shared.Next()))[..4];
        string nsA = $"vsw{id}a", nsB = $"vsw{id}b", tapA = $"vsw{id}ta", tapB = $"vsw{id}tb", br = $"vsw{id}br";
        int x = Random.Shared.Next(100, 250), y = Random.Shared.Next(1, 250);
        string ipA = $"10.{x}.{y}.1", ipB = $"10.{x}.{y}.2";
        var created = new List<string>();
        using var runtime = new DatapathRuntime(4096);
        var daemon = new SwitchDaemon(new SwitchDaemonOptions { StateDirectory = null, DatapathFactory = runtime.CreateBridgeDatapath });
        using var cancel = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, c =>
        {
            c.Cancel = true;
            Cleanup(daemon, created);
            Environment.Exit(130);
        });
        try
        {
            Console.WriteLine($"== bridge {br} with tap ports {tapA} and {tapB}");
            Step(daemon, "add-br", br);
            Step(daemon, "add-port", br, tapA, "type=tap", $"iface={tapA}");
            Step(daemon, "add-port", br, tapB, "type=tap", $"iface={tapB}");
            foreach (var (ns, tap, ip) in new[] { (nsA, tapA, ipA), (nsB, tapB, ipB) })
            {
                Console.WriteLine($"== namespace {ns}: {tap} = {ip}/24");
                Ip("netns", "add", ns);
                created.Add(ns);
                Ip("link", "set", tap, "netns", ns);
                Ip("-n", ns, "link", "set", "lo", "up");
                Ip("-n", ns, "addr", "add", $"{ip}/24", "dev", tap);
                Ip("-n", ns, "link", "set", tap, "up");
            }
            Console.WriteLine($"== ping {ipB} from {nsA}");
            var (exit, output) = Exec("ip", "netns", "exec", nsA, "ping", "-c", "3", "-i", "0.2", "-W", "2", ipB);
            Console.Write(output);
            Console.WriteLine($"== learned MACs (fdb/show {br})");
            Console.Write(daemon.Execute("fdb/show", br).Output);
            Console.WriteLine($"== datapath flows (dpctl/dump-flows {br})");
            Console.Write(daemon.Execute("dpctl/dump-flows", br).Output);
            Console.WriteLine(exit == 0 ? "== ping succeeded" : "== ping FAILED");
            return exit == 0 ? 0 : 1;
        }
        catch (InvalidOperationException ex)
        {
            Console.Error.WriteLine($"vswitch: demo: {ex.Message}");
            return 1;
        }
        finally
        {
            Cleanup(daemon, created);
            Console.WriteLine("== cleaned up");
        }
    }

    private static void Cleanup(SwitchDaemon daemon, List<string> namespaces)
    {
        lock (namespaces)
        {
            daemon.Dispose();
            foreach (var ns in namespaces) Exec("ip", "netns", "del", ns);
            namespaces.Clear();
        }
    }

    private static void Step(SwitchDaemon daemon, string command, params string[] args)
    {
        var r = daemon.Execute(command, args);
        if (!r.Ok) throw new InvalidOperationException($"{command} {string.Join(' ', args)}: {r.Error}");
    }

    private static void Ip(params string[] args)
    {
        var (exit, output) = Exec("ip", args);
        if (exit != 0) throw new InvalidOperationException($"ip {string.Join(' ', args)}: {output.Trim()}");
    }

    private static (int Exit, string Output) Exec(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(psi)!;
            var o = p.StandardOutput.ReadToEndAsync();
            var e = p.StandardError.ReadToEndAsync();
            p.WaitForExit();
            return (p.ExitCode, o.Result + e.Result);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return (127, string.Create(CultureInfo.InvariantCulture, $"{file}: {ex.Message}"));
        }
    }
}
