using System.Globalization;
using Vswitch.Datapath.Odp;
using Vswitch.Interop.Linux;
using Vswitch.Packets;
using Vswitch.Switch.Normal;

namespace Vswitch.Switch.Commands;

/// <summary>
/// The flow verbs of <c>dpctl/*</c> in ovs-dpctl syntax and output (flows in Open vSwitch's datapath text format):
/// <c>dump-flows</c>, <c>add-flow</c>, <c>mod-flow</c>, <c>get-flow</c>, <c>del-flow</c>, <c>del-flows</c>.
/// </summary>
public static class DpctlFlowCommands
{
    /// <summary>Registers the verbs on <paramref name="registry"/>.</summary>
    public static void Register(CommandRegistry registry, IBridgeSet bridges)
    {
        registry.Register("dpctl/dump-flows", "[-m] [DP] [filter=FLOW]", 0, 3, "show the flows of a datapath", inv => DumpFlows(bridges, inv));
        registry.Register("dpctl/add-flow", "[DP] FLOW ACTIONS", 2, 3, "add a flow", inv => Put(bridges, inv, modify: false));
        registry.Register("dpctl/mod-flow", "[--clear] [--may-create] [DP] FLOW ACTIONS", 2, 5, "change a flow's actions", inv => Put(bridges, inv, modify: true));
        registry.Register("dpctl/get-flow", "[DP] FLOW", 1, 2, "show one flow", inv =>
        {
            var (br, rest) = Split(bridges, inv.Args, 1, inv.Name);
            var (key, mask) = ParseFlow(inv.Name, rest[0]);
            var f = Find(br, key, mask) ?? throw new CommandException($"{inv.Name}: no such flow in {br.Name} (No such file or directory)");
            inv.Output.WriteLine(Line(br, f, verbose: false));
        });
        registry.Register("dpctl/del-flow", "[DP] FLOW", 1, 2, "delete a flow", inv =>
        {
            var (br, rest) = Split(bridges, inv.Args, 1, inv.Name);
            var (key, mask) = ParseFlow(inv.Name, rest[0]);
            var err = br.Datapath.DeleteFlow(key, mask);
            if (err == Errno.ENOENT) throw new CommandException($"{inv.Name}: no such flow in {br.Name} (No such file or directory)");
            if (err.IsError) throw new CommandException($"{inv.Name}: {br.Name}: {err}", 1);
        });
        registry.Register("dpctl/del-flows", "[DP]", 0, 1, "delete every flow of a datapath", inv =>
        {
            var br = SwitchCommands.SingleDatapath(bridges, inv.Args.Count == 1 ? inv.Args[0] : null);
            foreach (var f in br.Datapath.DumpFlows()) br.Datapath.DeleteFlow(f.Key, f.Mask);
        });
    }

    private static (Bridge Bridge, IReadOnlyList<string> Remaining) Split(IBridgeSet bridges, IReadOnlyList<string> args, int needed, string command)
    {
        if (args.Count == needed) return (SwitchCommands.SingleDatapath(bridges, null), args);
        if (args.Count == needed + 1) return (SwitchCommands.SingleDatapath(bridges, args[0]), args.Skip(1).ToList());
        throw new CommandException($"{command}: wrong number of arguments");
    }

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
        var args = inv.Args.ToList();
        bool mayCreate = modify && args.Remove("--may-create");
        if (modify) args.Remove("--clear");
        if (args.Any(a => a.StartsWith("--", StringComparison.Ordinal)))
            throw new CommandException($"{inv.Name}: unknown option {args.First(a => a.StartsWith("--", StringComparison.Ordinal))}");
        var (br, rest) = Split(bridges, args, 2, inv.Name);
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
        string? dp = null;
        bool verbose = false;
        FlowKey? filterKey = null, filterMask = null;
        foreach (var a in inv.Args)
        {
            if (a is "-m" or "--more") { verbose = true; continue; }
            if (a.StartsWith("filter=", StringComparison.Ordinal))
            {
                var (k, m) = ParseFlow(inv.Name, a["filter=".Length..]);
                filterKey = k;
                filterMask = m;
                continue;
            }
            if (a.StartsWith('-')) throw new CommandException($"{inv.Name}: unknown option {a}");
            if (dp is not null) throw new CommandException($"{inv.Name}: at most one datapath");
            dp = a;
        }
        var br = SwitchCommands.SingleDatapath(bridges, dp);
        foreach (var f in br.Datapath.DumpFlows())
        {
            if (filterKey is { } fk && !FlowKey.MatchesMasked(f.Key, filterMask!.Value, FlowKey.ApplyMask(fk, filterMask.Value))) continue;
            inv.Output.WriteLine(Line(br, f, verbose));
        }
    }
}
