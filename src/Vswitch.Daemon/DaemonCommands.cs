using Vswitch.Switch.Commands;

namespace Vswitch.Daemon;

/// <summary>The daemon's own management commands: <c>version</c>, <c>exit</c> and <c>netdev-tap/get-tapname</c>.</summary>
internal static class DaemonCommands
{
    /// <summary>Registers the commands on <paramref name="registry"/>; <c>exit</c> sets <paramref name="exitRequested"/>.</summary>
    public static void Register(CommandRegistry registry, SwitchState state, ManualResetEventSlim exitRequested)
    {
        registry.Register("version", "", 0, 0, "print the version", inv => inv.Output.WriteLine($"vswitch {SwitchDaemon.Version}"));
        registry.Register("exit", "", 0, 0, "stop the switch", inv => exitRequested.Set());
        registry.Register("netdev-tap/get-tapname", "PORT", 1, 1, "print the kernel tap device behind tap port PORT", inv =>
        {
            var (bridge, port) = state.RequirePort(inv.Args[0]);
            if (port.Type != "tap") throw new CommandException($"port {port.Name} on bridge {bridge.Name} is of type {port.Type}, not tap");
            string? kernel = null;
            if (state.FindRunning(bridge.Name) is { } running && running.FindPort(port.Name) is { } rp)
                kernel = running.Datapath.ListPorts().FirstOrDefault(p => p.PortNo == rp.PortNo)?.InterfaceName;
            inv.Output.WriteLine(kernel ?? port.Options.FirstOrDefault(o => o.Key == "iface").Value ?? port.Name);
        });
    }
}
