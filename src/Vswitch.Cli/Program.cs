using System.CommandLine;
using System.Runtime.InteropServices;
using Vswitch.Daemon;
using Vswitch.Daemon.Config;
using Vswitch.Switch;
using Vswitch.Switch.Diagnostics;

namespace Vswitch.Cli;

/// <summary>The <c>vswitch</c> executable: <c>run</c>, the <c>ctl</c>/<c>appctl</c>/<c>dpctl</c> clients, <c>trace</c> and <c>demo</c>.</summary>
public static class Program
{
    private static readonly string[] s_passThrough = ["ctl", "appctl", "dpctl"];

    /// <summary>Entry point.</summary>
    public static int Main(string[] args) => BuildRoot().Parse(Normalise(args)).Invoke();

    /// <summary>
    /// For the pass-through clients, moves <c>--control PATH</c> before the command and puts <c>--</c> before the rest, so that
    /// the command's own options (<c>-m</c>, <c>--may-exist</c>) reach the switch untouched and in order.
    /// </summary>
    internal static string[] Normalise(string[] args)
    {
        if (args.Length == 0 || !s_passThrough.Contains(args[0])) return args;
        var result = new List<string> { args[0] };
        var rest = new List<string>();
        for (int i = 1; i < args.Length; i++)
        {
            var a = args[i];
            if (a == "--control" && i + 1 < args.Length) { result.Add(a); result.Add(args[++i]); }
            else if (a.StartsWith("--control=", StringComparison.Ordinal)) result.Add(a);
            else if (a is "-h" or "--help" && rest.Count == 0) result.Add(a);
            else if (a == "--" && rest.Count == 0) continue;
            else rest.Add(a);
        }
        result.Add("--");
        result.AddRange(rest);
        return [.. result];
    }

    internal static RootCommand BuildRoot()
    {
        var root = new RootCommand("vswitch: a userspace virtual switch (run it, control it, trace it)");

        var stateDir = new Option<string>("--state-dir") { Description = "where the switch saves its state", DefaultValueFactory = _ => StateStore.DefaultDirectory };
        var configFile = new Option<string?>("--config") { Description = "configuration file (YAML or JSON) with bridges and ports" };
        var run = new Command("run", "run the switch in the foreground") { stateDir, ControlOption(), configFile };
        run.SetAction(r => Run(r.GetValue(stateDir)!, ControlClient.ResolvePath(r.GetValue<string?>("--control")), r.GetValue(configFile)));
        root.Subcommands.Add(run);

        root.Subcommands.Add(Client("ctl", "change bridges and ports: add-br, del-br, add-port, del-port, set-port, show", prefix: ""));
        root.Subcommands.Add(Client("appctl", "run a management command: list-commands, fdb/show BR, vlog/set, coverage/show, dpctl/...", prefix: ""));
        root.Subcommands.Add(Client("dpctl", "datapath commands (ovs-dpctl syntax): show, dump-flows, add-flow, ...", prefix: "dpctl/"));

        var br = new Argument<string>("BR") { Description = "bridge" };
        var flow = new Argument<string>("FLOW") { Description = "packet in datapath flow syntax, e.g. in_port(1),eth(src=..,dst=..),eth_type(0x0800)" };
        var traceControl = ControlOption();
        var trace = new Command("trace", "show what a bridge would do with a packet") { br, flow, traceControl };
        trace.SetAction(r => Send(ControlClient.ResolvePath(r.GetValue(traceControl)), "ofproto/trace", [r.GetValue(br)!, r.GetValue(flow)!]));
        root.Subcommands.Add(trace);

        var demo = new Command("demo", "as root: two namespaces with tap ports on a bridge, ping between them, show MACs and flows, clean up");
        demo.SetAction(_ => Demo.Run());
        root.Subcommands.Add(demo);
        return root;
    }

    private static Option<string?> ControlOption() => new("--control")
    {
        Description = $"control socket (default ${ControlClient.EnvironmentVariable} or {ControlServer.DefaultPath})",
    };

    private static Command Client(string name, string description, string prefix)
    {
        var control = ControlOption();
        var words = new Argument<string[]>("COMMAND") { Arity = ArgumentArity.OneOrMore, Description = "command and its arguments" };
        var cmd = new Command(name, description) { control, words };
        cmd.SetAction(r =>
        {
            var w = r.GetValue(words)!;
            return Send(ControlClient.ResolvePath(r.GetValue(control)), prefix + w[0], w[1..]);
        });
        return cmd;
    }

    private static int Send(string path, string command, IReadOnlyList<string> args)
    {
        try
        {
            var result = ControlClient.Send(path, command, args);
            Console.Out.Write(result.Output);
            if (!result.Ok)
            {
                Console.Error.WriteLine($"vswitch: {result.Error}");
                return result.ExitCode == 0 ? 1 : result.ExitCode;
            }
            return 0;
        }
        catch (ControlClientException ex)
        {
            Console.Error.WriteLine($"vswitch: {ex.Message}");
            return 1;
        }
    }

    private static int Run(string stateDir, string control, string? config)
    {
        // Declared before the daemon, so it is disposed after every bridge built on it.
        using var runtime = new DatapathRuntime();
        SwitchDaemon daemon;
        try
        {
            daemon = new SwitchDaemon(new SwitchDaemonOptions
            {
                StateDirectory = stateDir,
                ConfigFile = config,
                DatapathFactory = runtime.CreateBridgeDatapath,
            });
        }
        catch (ConfigException ex)
        {
            Console.Error.WriteLine($"vswitch: {ex.Message}");
            return 2;
        }
        catch (Exception ex) when (ex is IOException or BridgeException)
        {
            Console.Error.WriteLine($"vswitch: {ex.Message}");
            return 1;
        }
        using (daemon)
        {
            ControlServer server;
            try
            {
                server = new ControlServer(control, daemon.Commands);
            }
            catch (IOException ex)
            {
                Console.Error.WriteLine($"vswitch: {ex.Message}");
                return 1;
            }
            using (server)
            {
                using var stop = new ManualResetEventSlim(false);
                using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Set(); });
                using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Set(); });
                server.Start();
                VLog.Module("daemon").Info("vswitch running", ("control", control), ("state_dir", stateDir), ("bridges", daemon.Bridges.Count));
                WaitHandle.WaitAny([stop.WaitHandle, daemon.ExitRequested]);
                VLog.Module("daemon").Info("vswitch stopping");
            }
        }
        return 0;
    }
}
