using System.Globalization;
using Vswitch.Switch.Normal;

namespace Vswitch.Switch.Commands;

/// <summary>The bridges a switch runs, as the management commands see them.</summary>
public interface IBridgeSet
{
    /// <summary>The bridges, sorted by name. Called with the command lock held.</summary>
    IReadOnlyList<Bridge> Bridges { get; }
}

/// <summary>
/// Management commands over bridges (<c>fdb/*</c>, <c>ofproto/trace</c>, <c>dpctl/*</c> reading the datapaths), written once
/// and registered into a <see cref="CommandRegistry"/> used by the daemon's control socket and in-process callers.
/// </summary>
public static class SwitchCommands
{
    /// <summary>Registers the commands on <paramref name="registry"/>.</summary>
    public static void Register(CommandRegistry registry, IBridgeSet bridges)
    {
        registry.Register("fdb/show", "BR", 1, 1, "show the MAC learning table of bridge BR",
            inv => Find(bridges, inv.Args[0]).WriteFdb(inv.Output));
        registry.Register("fdb/flush", "[BR]", 0, 1, "forget the learned MAC addresses (of BR, or of every bridge)", inv =>
        {
            var list = inv.Args.Count == 1 ? [Find(bridges, inv.Args[0])] : bridges.Bridges;
            foreach (var b in list) b.FlushFdb();
            inv.Output.WriteLine("table successfully flushed");
        });
        registry.Register("bridge/counters", "[BR]", 0, 1, "show per-bridge counters: upcalls, flows installed/modified/deleted, MAC moves", inv =>
        {
            var list = inv.Args.Count == 1 ? [Find(bridges, inv.Args[0])] : bridges.Bridges;
            foreach (var b in list)
            {
                var c = b.Counters;
                inv.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{b.Name}: upcalls:{c.Upcalls} flows_installed:{c.FlowsInstalled} flows_modified:{c.FlowsModified} flows_deleted:{c.FlowsDeleted} mac_moves:{c.MacMoves}"));
            }
        });
        registry.Register("ofproto/trace", "BR FLOW", 2, 2, "show what BR would do with a packet described by FLOW (datapath flow syntax)", inv =>
        {
            var br = Find(bridges, inv.Args[0]);
            if (!br.TryParseFlow(inv.Args[1], out var key, out var error))
                throw new CommandException($"ofproto/trace: {error}");
            inv.Output.Write(br.Trace(key));
        });
        registry.Register("dpctl/dump-dps", "", 0, 0, "list the datapaths", inv =>
        {
            foreach (var b in bridges.Bridges) inv.Output.WriteLine($"{b.Datapath.Type}@{b.Datapath.Name}");
        });
        registry.Register("dpctl/show", "[-s] [DP...]", 0, int.MaxValue, "show datapaths, their ports and counters", inv => Show(bridges, inv));
        DpctlFlowCommands.Register(registry, bridges);
    }

    /// <summary>The bridge named <paramref name="name"/>, or a <see cref="CommandException"/> naming it.</summary>
    public static Bridge Find(IBridgeSet bridges, string name)
    {
        foreach (var b in bridges.Bridges) if (b.Name == name) return b;
        throw new CommandException($"no such bridge \"{name}\"");
    }

    /// <summary>Resolves a datapath argument (<c>NAME</c> or <c>TYPE@NAME</c>); with none, the only datapath.</summary>
    public static Bridge SingleDatapath(IBridgeSet bridges, string? dp)
    {
        if (dp is not null)
        {
            int at = dp.IndexOf('@');
            return Find(bridges, at >= 0 ? dp[(at + 1)..] : dp);
        }
        var all = bridges.Bridges;
        return all.Count switch
        {
            1 => all[0],
            0 => throw new CommandException("no datapaths exist"),
            _ => throw new CommandException($"there are {all.Count} datapaths: name one ({string.Join(", ", all.Select(b => b.Name))})"),
        };
    }

    private static void Show(IBridgeSet bridges, CommandInvocation inv)
    {
        bool stats = false;
        var names = new List<string>();
        foreach (var a in inv.Args)
        {
            if (a is "-s" or "--statistics") stats = true;
            else if (a.StartsWith('-')) throw new CommandException($"dpctl/show: unknown option {a}");
            else names.Add(a);
        }
        var list = names.Count == 0 ? bridges.Bridges : names.Select(n => SingleDatapath(bridges, n)).ToList();
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
