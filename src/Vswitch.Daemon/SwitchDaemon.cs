using System.Reflection;
using Vswitch.Daemon.Config;
using Vswitch.Switch.Commands;
using Vswitch.Switch.Diagnostics;
using Vswitch.Switch;

namespace Vswitch.Daemon;

/// <summary>
/// The switch as a long-running service: the configuration (from the saved state or a config file), its bridges, the
/// command registry (ctl, appctl and dpctl commands) and persistence after every successful change. The parts, one file
/// each: <see cref="StateRestore"/> (start-up), <see cref="ChangeTransaction"/> (every change: validate → apply → save →
/// undo on failure), <see cref="PortSettings"/> (what port settings mean), the command registrations
/// (<see cref="CtlCommands"/>, <see cref="DaemonCommands"/>, and from Vswitch.Switch <see cref="BridgeCommands"/>,
/// <see cref="DpctlCommands"/>, <see cref="DiagnosticsCommands"/>), and <see cref="SwitchState"/> between commands.
/// </summary>
public sealed class SwitchDaemon : IBridgeSet, IDisposable
{
    private readonly SwitchState _state;
    private readonly ManualResetEventSlim _exitRequested = new(false);

    /// <summary>
    /// Creates the daemon, registers its commands and builds the bridges from the saved state or config file. Nothing is
    /// left running when it throws: <see cref="ArgumentException"/> without a <see cref="SwitchDaemonOptions.DatapathFactory"/>,
    /// <see cref="ConfigException"/> for an invalid config file or state, <see cref="BridgeException"/> when a bridge's
    /// datapath cannot be created, <see cref="IOException"/> when the state cannot be saved.
    /// </summary>
    public SwitchDaemon(SwitchDaemonOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.DatapathFactory is null)
            throw new ArgumentException("the switch has no datapath factory (SwitchDaemonOptions.DatapathFactory): its bridges would forward nothing; "
                + "vswitch run uses DatapathRuntime.CreateBridgeDatapath", nameof(options));
        var store = options.StateDirectory is null ? null : new StateStore(options.StateDirectory);
        _state = new SwitchState(options.DatapathFactory, options.Time, options.StartThreads);
        var changes = new ChangeTransaction(_state, store);
        Commands = new CommandRegistry();
        CtlCommands.Register(Commands, _state, changes);
        DaemonCommands.Register(Commands, _state, _exitRequested);
        DiagnosticsCommands.Register(Commands);
        BridgeCommands.Register(Commands, _state);
        DpctlCommands.Register(Commands, _state, changes);
        // The modules exist before their first message, so vlog/list shows them and vlog/set accepts them.
        VLog.Module("daemon");
        VLog.Module("bridge");
        VLog.Module("control");
        try
        {
            StateRestore.Restore(_state, store, options.ConfigFile);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The command registry (served by the control socket; callable in-process).</summary>
    public CommandRegistry Commands { get; }

    /// <summary>The current configuration.</summary>
    public SwitchConfig Config => _state.Config;

    /// <summary>Set when the <c>exit</c> command was run.</summary>
    public WaitHandle ExitRequested => _exitRequested.WaitHandle;

    /// <inheritdoc/>
    public IReadOnlyList<Bridge> Bridges => _state.Bridges;

    /// <summary>The version string.</summary>
    public static string Version =>
        typeof(SwitchDaemon).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(SwitchDaemon).Assembly.GetName().Version?.ToString() ?? "0";

    /// <summary>Runs a command in-process (same code path as the control socket).</summary>
    public CommandResult Execute(string command, params string[] args) => Commands.Execute(command, args);

    /// <summary>Stops every bridge (the saved state stays).</summary>
    public void Dispose()
    {
        _state.Dispose();
        _exitRequested.Dispose();
    }
}
