using System.Globalization;

namespace Vswitch.Switch.Commands;

/// <summary>
/// The bridge commands (<c>fdb/*</c>, <c>bridge/counters</c>, <c>ofproto/trace</c>), written once and registered into a
/// <see cref="CommandRegistry"/> used by the daemon's control socket and in-process callers.
/// </summary>
public static class BridgeCommands
{
    /// <summary>Registers the commands on <paramref name="registry"/>.</summary>
    public static void Register(CommandRegistry registry, IBridgeSet bridges)
    {
        registry.Register("fdb/show", "BR", 1, 1, "show the MAC learning table of bridge BR",
            inv => bridges.Find(inv.Args[0]).WriteFdb(inv.Output));
        registry.Register("fdb/flush", "[BR]", 0, 1, "forget the learned MAC addresses (of BR, or of every bridge)", inv =>
        {
            var list = inv.Args.Count == 1 ? [bridges.Find(inv.Args[0])] : bridges.Bridges;
            foreach (var b in list) b.FlushFdb();
            inv.Output.WriteLine("table successfully flushed");
        });
        registry.Register("bridge/counters", "[BR]", 0, 1,
            "show per-bridge counters (upcalls, flows installed/modified/deleted, MAC moves) and per-port upcalls and upcalls lost", inv =>
        {
            var list = inv.Args.Count == 1 ? [bridges.Find(inv.Args[0])] : bridges.Bridges;
            foreach (var b in list)
            {
                var c = b.Counters;
                inv.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{b.Name}: upcalls:{c.Upcalls} flows_installed:{c.FlowsInstalled} flows_modified:{c.FlowsModified} flows_deleted:{c.FlowsDeleted} mac_moves:{c.MacMoves}"));
                foreach (var p in b.Datapath.ListPorts())
                    inv.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  port {p.PortNo} ({p.Name}): upcalls:{p.Upcalls} upcalls_lost:{p.UpcallsLost}"));
            }
        });
        registry.Register("ofproto/trace", "BR FLOW", 2, 2, "show what BR would do with a packet described by FLOW (datapath flow syntax)", inv =>
        {
            var br = bridges.Find(inv.Args[0]);
            if (!br.TryParseFlow(inv.Args[1], out var key, out var error))
                throw new CommandException($"ofproto/trace: {error}");
            inv.Output.Write(br.Trace(key));
        });
    }
}
