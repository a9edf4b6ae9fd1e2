using System.Globalization;
using Vswitch.Switch.Commands;
using Vswitch.Switch.Normal;

namespace Vswitch.Daemon;

/// <summary>
/// The <c>ctl</c> commands: bridges and ports of the persisted configuration (<c>add-br</c>, <c>del-br</c>,
/// <c>add-port</c>, <c>del-port</c>, <c>set-port</c>) and <c>show</c>. Changes go through the
/// <see cref="IBridgeConfigurator"/> (the daemon's change transaction); arguments through the registry's shared parser.
/// </summary>
internal static class CtlCommands
{
    /// <summary>Registers the commands on <paramref name="registry"/>.</summary>
    public static void Register(CommandRegistry registry, SwitchState state, IBridgeConfigurator configurator)
    {
        registry.Register("add-br", "[--may-exist] BR", CommandSyntax.Positional(1, 1, "bridge name").Flag("--may-exist"), "add bridge BR",
            inv => configurator.AddBridge(inv.Name, inv.Args[0], inv.Args.Has("--may-exist"), []));
        registry.Register("del-br", "[--if-exists] BR", CommandSyntax.Positional(1, 1, "bridge name").Flag("--if-exists"), "delete bridge BR and its ports",
            inv => configurator.DeleteBridge(inv.Name, inv.Args[0], inv.Args.Has("--if-exists")));
        registry.Register("add-port", "[--may-exist] BR PORT [type=T] [OPTION=VALUE...] [tag=VLAN] [trunks=V1,V2] [vlan_mode=M]",
            CommandSyntax.Positional(2, int.MaxValue, "bridge name", "port name").Flag("--may-exist"), "add port PORT to bridge BR",
            inv => configurator.AddPorts(inv.Name, inv.Args[0], [new PortRequest(inv.Args[1], inv.Args.SettingsFrom(2))], inv.Args.Has("--may-exist")));
        registry.Register("del-port", "[--if-exists] [BR] PORT", CommandSyntax.Positional(1, 2, "port name").Flag("--if-exists"), "delete port PORT",
            inv => DeletePort(state, configurator, inv));
        registry.Register("set-port", "BR PORT OPTION=VALUE...", 3, int.MaxValue,
            "change a port: type=, tag=, trunks=, vlan_mode=, or provider options (OPTION= removes one)",
            inv => configurator.SetPort(inv.Name, inv.Args[0], inv.Args[1], inv.Args.SettingsFrom(2)));
        registry.Register("show", "", 0, 0, "show bridges and ports", inv => Show(state, inv.Output));
    }

    private static void DeletePort(SwitchState state, IBridgeConfigurator configurator, CommandInvocation inv)
    {
        var portName = inv.Args[^1];
        var owner = state.Config.FindBridgeOfPort(portName);
        if (inv.Args.Count == 2)
        {
            var bridge = state.RequireBridge(inv.Args[0]);
            if (owner is not null && owner.Name != bridge.Name)
                throw new CommandException($"{inv.Name}: port \"{portName}\" is on bridge \"{owner.Name}\", not \"{bridge.Name}\"");
        }
        if (owner is null)
        {
            if (inv.Args.Has("--if-exists")) return;
            throw new CommandException($"{inv.Name}: no port named \"{portName}\"");
        }
        configurator.DeletePorts(inv.Name, owner.Name, [portName]);
    }

    private static void Show(SwitchState state, TextWriter o)
    {
        o.WriteLine($"vswitch {SwitchDaemon.Version}");
        foreach (var b in state.Config.Bridges)
        {
            o.WriteLine($"    Bridge {b.Name}");
            var running = state.FindRunning(b.Name);
            foreach (var p in b.Ports)
            {
                o.WriteLine($"        Port {p.Name}");
                var rp = running?.FindPort(p.Name);
                if (rp is not null) o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"            port_no: {rp.PortNo}"));
                o.WriteLine($"            type: {p.Type}");
                if (p.Options.Count > 0) o.WriteLine($"            options: {{{string.Join(", ", p.Options.Select(kv => $"{kv.Key}={kv.Value}"))}}}");
                if (p.VlanMode is { } m) o.WriteLine($"            vlan_mode: {PortVlanConfig.FormatMode(m)}");
                if (p.Tag is { } t) o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"            tag: {t}"));
                if (p.Trunks.Count > 0) o.WriteLine($"            trunks: [{string.Join(", ", p.Trunks)}]");
                if (state.PortErrors.TryGetValue(p.Name, out var err)) o.WriteLine($"            error: \"{err}\"");
            }
        }
    }
}
