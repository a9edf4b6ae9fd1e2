using Vswitch.Switch.Diagnostics;

namespace Vswitch.Switch.Commands;

/// <summary>The logging and counter commands: <c>vlog/set</c>, <c>vlog/list</c>, <c>coverage/show</c>.</summary>
public static class DiagnosticsCommands
{
    /// <summary>Registers the commands on <paramref name="registry"/>.</summary>
    public static void Register(CommandRegistry registry)
    {
        registry.Register("vlog/set", "SPEC...", 1, int.MaxValue, "set log levels: [MODULE|ANY][:console]:LEVEL", inv =>
        {
            // Every spec is checked before any is applied: a bad one changes nothing.
            var errors = new List<string>();
            foreach (var spec in inv.Args) if (!VLog.TryValidate(spec, out var e)) errors.Add(e!);
            if (errors.Count > 0) throw new CommandException(string.Join("; ", errors));
            foreach (var spec in inv.Args) VLog.TrySet(spec, out _);
        });
        registry.Register("vlog/list", "", 0, 0, "list log modules and their levels", inv => VLog.List(inv.Output));
        registry.Register("coverage/show", "", 0, 0, "show event counters", inv => Coverage.Show(inv.Output));
    }
}
