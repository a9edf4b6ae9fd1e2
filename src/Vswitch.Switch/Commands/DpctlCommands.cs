using System.Globalization;
using Vswitch.Datapath.Odp;
using Vswitch.Interop.Linux;
using Vswitch.Packets;
using Vswitch.Switch.Normal;

namespace Vswitch.Switch.Commands;

/// <summary>
/// Every <c>dpctl/*</c> verb, in ovs-dpctl syntax and output (flows in Open vSwitch's datapath text format). A datapath
/// is a bridge: the datapath verbs (<c>add-dp</c>, <c>del-dp</c>, <c>add-if</c>, <c>set-if</c>, <c>del-if</c>) change the
/// persisted configuration through an <see cref="IBridgeConfigurator"/>; the others read or change the running
/// datapaths of the <see cref="IBridgeSet"/>.
/// </summary>
public static class DpctlCommands
{
    /// <summary>Registers the verbs on <paramref name="registry"/>.</summary>
    public static void Register(CommandRegistry registry, IBridgeSet bridges, IBridgeConfigurator configurator)
    {
        // Datapaths and their ports (configuration changes, persisted).
        registry.Register("dpctl/add-dp", "DP [NETDEV[,OPTION=VALUE...]...]", 1, int.MaxValue, "create datapath DP (a bridge) with the given ports",
            inv => configurator.AddBridge(inv.Name, DatapathName(inv.Args[0]), mayExist: false, Interfaces(inv, 1)));
        registry.Register("dpctl/del-dp", "DP", 1, 1, "delete datapath DP (its bridge and ports)",
            inv => configurator.DeleteBridge(inv.Name, DatapathName(inv.Args[0]), ifExists: false));
        registry.Register("dpctl/add-if", "DP NETDEV[,OPTION=VALUE...]...", 2, int.MaxValue, "add ports to DP",
            inv => configurator.AddPorts(inv.Name, DatapathName(inv.Args[0]), Interfaces(inv, 1), mayExist: false));
        registry.Register("dpctl/set-if", "DP NETDEV,OPTION=VALUE...", 2, 2, "change a port's options", inv =>
        {
            var (name, settings) = CommandArgs.ParseInterface(inv.Name, inv.Args[1]);
            if (settings.Count == 0) throw new CommandException($"{inv.Name}: nothing to set (NETDEV,OPTION=VALUE...)");
            configurator.SetPort(inv.Name, DatapathName(inv.Args[0]), name, settings);
        });
        registry.Register("dpctl/del-if", "DP NETDEV...", 2, int.MaxValue, "remove ports from DP",
            inv => configurator.DeletePorts(inv.Name, DatapathName(inv.Args[0]), inv.Args.Skip(1).ToList()));

        // Reading the datapaths.
        registry.Register("dpctl/dump-dps", "", 0, 0, "list the datapaths", inv =>
        {
            foreach (var b in bridges.Bridges) inv.Output.WriteLine($"{b.Datapath.Type}@{b.Datapath.Name}");
        });
        registry.Register("dpctl/show", "[-s] [DP...]", CommandSyntax.Positional(0, int.MaxValue).Flag("-s", "--statistics"),
            "show datapaths, their ports and counters", inv => Show(bridges, inv));

        // Flows.
        registry.Register("dpctl/dump-flows", "[-m] [DP] [filter=FLOW]", CommandSyntax.Positional(0, 1, "datapath").Flag("-m", "--more").Keyed("filter"),
            "show the flows of a datapath", inv => DumpFlows(bridges, inv));
        registry.Register("dpctl/add-flow", "[DP] FLOW ACTIONS", 2, 3, "add a flow", inv => Put(bridges, inv, modify: false));
        registry.Register("dpctl/mod-flow", "[--clear] [--may-create] [DP] FLOW ACTIONS",
            CommandSyntax.Positional(2, 3, "flow", "actions").Flag("--clear").Flag("--may-create"),
            "change a flow's actions", inv => Put(bridges, inv, modify: true));
        registry.Register("dpctl/get-flow", "[DP] FLOW", 1, 2, "show one flow", inv =>
        {
            var (br, rest) = DatapathAndRest(bridges, inv.Args, 1);
            var (key, mask) = ParseFlow(inv.Name, rest[0]);
            var f = Find(br, key, mask) ?? throw new CommandException($"{inv.Name}: no such flow in {br.Name} (No such file or directory)");
            inv.Output.WriteLine(Line(br, f, verbose: false));
        });
        registry.Register("dpctl/del-flow", "[DP] FLOW", 1, 2, "delete a flow", inv =>
        {
            var (br, rest) = DatapathAndRest(bridges, inv.Args, 1);
            var (key, mask) = ParseFlow(inv.Name, rest[0]);
            var err = br.Datapath.DeleteFlow(key, mask);
            if (err == Errno.ENOENT) throw new CommandException($"{inv.Name}: no such flow in {br.Name} (No such file or directory)");
            if (err.IsError) throw new CommandException($"{inv.Name}: {br.Name}: {err}", 1);
        });
        registry.Register("dpctl/del-flows", "[DP]", 0, 1, "delete every flow of a datapath", inv =>
        {
            var br = SingleDatapath(bridges, inv.Args.Count == 1 ? inv.Args[0] : null);
            foreach (var f in br.Datapath.DumpFlows()) br.Datapath.DeleteFlow(f.Key, f.Mask);
        });
    }

    /// <summary>Resolves a datapath argument (<c>NAME</c> or <c>TYPE@NAME</c>); with none, the only datapath.</summary>
    public static Bridge SingleDatapath(IBridgeSet bridges, string? dp)
    {
        if (dp is not null) return bridges.Find(DatapathName(dp));
        var all = bridges.Bridges;
        return all.Count switch
        {
            1 => all[0],
            0 => throw new CommandException("no datapaths exist"),
            _ => throw new CommandException($"there are {all.Count} datapaths: name one ({string.Join(", ", all.Select(b => b.Name))})"),
        };
    }

    /// <summary>The bridge named by a datapath argument: <c>NAME</c>, or <c>TYPE@NAME</c> as ovs-dpctl writes it.</summary>
    private static string DatapathName(string dp)
    {
        int at = dp.IndexOf('@');
        return at >= 0 ? dp[(at + 1)..] : dp;
    }

    /// <summary>The interface arguments from <paramref name="start"/> on (<c>NETDEV[,OPTION=VALUE...]</c>), each device once.</summary>
    private static List<PortRequest> Interfaces(CommandInvocation inv, int start)
    {
        var ports = new List<PortRequest>();
        foreach (var arg in inv.Args.Skip(start))
        {
            var (name, settings) = CommandArgs.ParseInterface(inv.Name, arg);
            if (ports.Any(p => p.Name == name)) throw new CommandException($"{inv.Name}: interface {name} given twice");
            ports.Add(new PortRequest(name, settings));
        }
        return ports;
    }

    /// <summary>An optional leading DP before <paramref name="needed"/> arguments (<c>[DP] FLOW ...</c>).</summary>
    private static (Bridge Bridge, IReadOnlyList<string> Remaining) DatapathAndRest(IBridgeSet bridges, IReadOnlyList<string> args, int needed) =>
        args.Count > needed ? (SingleDatapath(bridges, args[0]), args.Skip(1).ToList()) : (SingleDatapath(bridges, null), args);

    private static (FlowKey Key, FlowKey Mask) ParseFlow(string command, string text)
    {
        if (!OdpFlowParser.TryParse(text, out var key, out var mask, out var error))
            throw new CommandException($"{command}: bad flow: {error}");
        return (key, mask);
    }

    private static InstalledFlow? Find(Bridge br, in FlowKey key, in FlowKey mask)
    {
        var masked = FlowKey.ApplyMask(key, mask);
        foreach (var f in br.Datapath.DumpFlows())
            if (f.Mask == mask && FlowKey.ApplyMask(f.Key, f.Mask) == masked) return f;
        return null;
    }

    private static string Line(Bridge br, InstalledFlow f, bool verbose)
    {
        TimeSpan? usedAgo = f.Packets == 0 ? null : TimeSpan.FromMilliseconds(Math.Max(0, br.NowMs - f.LastUsedMs));
        return OdpFlowLine.FormatDump(f.Key, f.Mask, new OdpFlowStats(f.Packets, f.Bytes, usedAgo, 0), f.Actions, verbose);
    }

    private static void Put(IBridgeSet bridges, CommandInvocation inv, bool modify)
    {
        bool mayCreate = inv.Args.Has("--may-create");   // --clear: statistics start from zero anyway
        var (br, rest) = DatapathAndRest(bridges, inv.Args, 2);
        if (!OdpFlowLine.TryParseAddFlow(rest[0], rest[1], out var key, out var mask, out var actions, out var error))
            throw new CommandException($"{inv.Name}: {error}");
        var err = br.Datapath.PutFlow(key, mask, actions, modify);
        if (modify && mayCreate && err == Errno.ENOENT) err = br.Datapath.PutFlow(key, mask, actions, modify: false);
        if (err == Errno.EEXIST) throw new CommandException($"{inv.Name}: flow already exists in {br.Name} (File exists)");
        if (err == Errno.ENOENT) throw new CommandException($"{inv.Name}: no such flow in {br.Name} (No such file or directory)");
        if (err.IsError) throw new CommandException($"{inv.Name}: {br.Name}: {err}", 1);
    }

    private static void DumpFlows(IBridgeSet bridges, CommandInvocation inv)
    {
        FlowKey? filterKey = null, filterMask = null;
        if (inv.Args.Value("filter") is { } filter)
        {
            var (k, m) = ParseFlow(inv.Name, filter);
            filterKey = k;
            filterMask = m;
        }
        bool verbose = inv.Args.Has("-m");
        var br = SingleDatapath(bridges, inv.Args.Count == 1 ? inv.Args[0] : null);
        foreach (var f in br.Datapath.DumpFlows())
        {
            if (filterKey is { } fk && !FlowKey.MatchesMasked(f.Key, filterMask!.Value, FlowKey.ApplyMask(fk, filterMask.Value))) continue;
            inv.Output.WriteLine(Line(br, f, verbose));
        }
    }

    private static void Show(IBridgeSet bridges, CommandInvocation inv)
    {
        bool stats = inv.Args.Has("-s");
        var list = inv.Args.Count == 0 ? bridges.Bridges : inv.Args.Select(n => SingleDatapath(bridges, n)).ToList();
        var inv2 = CultureInfo.InvariantCulture;
        foreach (var b in list)
        {
            var flows = b.Datapath.DumpFlows();
            var c = b.Counters;
            inv.Output.WriteLine($"{b.Datapath.Type}@{b.Datapath.Name}:");
            if (!b.Datapath.TryGetStats(out var st))
                st = new BridgeDatapathStats((ulong)flows.Sum(f => (long)f.Packets), (ulong)c.Upcalls, 0, (ulong)flows.Count);
            inv.Output.WriteLine(string.Create(inv2, $"  lookups: hit:{st.Hit} missed:{st.Missed} lost:{st.Lost}"));
            inv.Output.WriteLine(string.Create(inv2, $"  flows: {st.Flows}"));
            foreach (var p in b.Datapath.ListPorts())
            {
                var spec = b.FindPort(p.PortNo)?.Spec;
                var opts = spec is { Options.Count: > 0 } ? $": {spec.Options.ToString().Replace(",", ", ", StringComparison.Ordinal)}" : "";
                inv.Output.WriteLine(string.Create(inv2, $"  port {p.PortNo}: {p.Name} ({p.Type}{opts})"));
                if (stats)
                {
                    inv.Output.WriteLine(string.Create(inv2, $"    RX packets:{p.RxPackets} errors:0 dropped:{p.RxDropped}"));
                    inv.Output.WriteLine(string.Create(inv2, $"    TX packets:{p.TxPackets} errors:0 dropped:{p.TxDropped}"));
                    inv.Output.WriteLine(string.Create(inv2, $"    RX bytes:{p.RxBytes} TX bytes:{p.TxBytes}"));
                }
            }
        }
    }
}
