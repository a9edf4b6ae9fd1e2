using Vswitch.Daemon.Config;
using Vswitch.Switch;
using Vswitch.Switch.Commands;
using Vswitch.Switch.Diagnostics;

namespace Vswitch.Daemon;

/// <summary>
/// Every configuration change, as one transaction: <b>validate</b> the whole change against the configuration in force
/// (names, ownership, settings) → <b>apply</b> it to the running bridges (a bridge refuses a port atomically; what this
/// change already applied is taken back) → <b>save</b> the new configuration → <b>undo</b> the running change if saving
/// fails. A refused change leaves the configuration, the running bridges and the saved state as they were, and the
/// exception says why (<see cref="CommandException"/>, or <see cref="BridgeException"/> from a bridge).
/// </summary>
/// <remarks>Called with the command lock held: one change at a time.</remarks>
internal sealed class ChangeTransaction : IBridgeConfigurator
{
    private static readonly VLogModule s_log = VLog.Module("daemon");

    private readonly SwitchState _state;
    private readonly StateStore? _store;

    public ChangeTransaction(SwitchState state, StateStore? store)
    {
        _state = state;
        _store = store;
    }

    private SwitchConfig Config => _state.Config;

    /// <inheritdoc/>
    public void AddBridge(string command, string bridge, bool mayExist, IReadOnlyList<PortRequest> ports)
    {
        if (ConfigNames.Check(bridge, "bridge") is { } problem) throw new CommandException($"{command}: {problem}");
        if (Config.FindBridge(bridge) is not null)
        {
            if (mayExist) return;
            throw new CommandException($"{command}: bridge \"{bridge}\" already exists");
        }
        if (Config.FindBridgeOfPort(bridge) is { } owner) throw new CommandException($"{command}: \"{bridge}\" is already a port of bridge \"{owner.Name}\"");
        var config = new BridgeConfig(bridge, []);
        var newPorts = ValidateNewPorts(command, config, ports, mayExist: false);

        var running = _state.StartBridge(config);
        try
        {
            foreach (var p in newPorts) running.AddPort(p.ToSpec());
        }
        catch
        {
            _state.StopBridge(bridge);
            throw;
        }
        Commit(Config.WithBridge(config with { Ports = newPorts }), undo: () => _state.StopBridge(bridge));
        s_log.Info("bridge added", ("bridge", bridge));
    }

    /// <inheritdoc/>
    public void DeleteBridge(string command, string bridge, bool ifExists)
    {
        var config = Config.FindBridge(bridge);
        if (config is null)
        {
            if (ifExists) return;
            throw new CommandException($"{command}: no bridge named \"{bridge}\"");
        }
        // Save first: re-creating a stopped bridge to undo would be a change of its own.
        var previous = Config;
        _state.Config = Config.WithoutBridge(bridge);
        try
        {
            Save();
        }
        catch (IOException ex)
        {
            _state.Config = previous;
            throw new CommandException($"{ex.Message}; nothing was changed", 1);
        }
        _state.StopBridge(bridge);
        foreach (var p in config.Ports) _state.PortErrors.Remove(p.Name);
        s_log.Info("bridge deleted", ("bridge", bridge));
    }

    /// <inheritdoc/>
    public void AddPorts(string command, string bridge, IReadOnlyList<PortRequest> ports, bool mayExist)
    {
        var config = _state.RequireBridge(bridge);
        var newPorts = ValidateNewPorts(command, config, ports, mayExist);
        if (newPorts.Count == 0) return;

        var running = _state.Running(bridge);
        var added = new List<string>();
        try
        {
            foreach (var p in newPorts)
            {
                running.AddPort(p.ToSpec());   // throws BridgeException (nothing changed) when the datapath refuses
                added.Add(p.Name);
            }
        }
        catch
        {
            DeleteRunningPorts(running, added);
            throw;
        }
        Commit(Config.WithBridge(config with { Ports = [.. config.Ports, .. newPorts] }), undo: () => DeleteRunningPorts(running, added));
    }

    /// <inheritdoc/>
    public void SetPort(string command, string bridge, string port, IReadOnlyList<KeyValuePair<string, string>> settings)
    {
        var config = _state.RequireBridge(bridge);
        var old = config.Ports.FirstOrDefault(p => p.Name == port)
            ?? throw new CommandException($"{command}: bridge \"{config.Name}\" has no port \"{port}\"");
        var updated = PortSettings.Apply(command, old, settings, isSet: true);
        var next = Config.WithBridge(config with { Ports = config.Ports.Select(p => p.Name == port ? updated : p).ToList() });

        var running = _state.Running(config.Name);
        if (running.FindPort(port) is null)
        {
            // A configured port that could not be opened (see show): the new settings get it running.
            running.AddPort(updated.ToSpec());
            Commit(next, undo: () => DeleteRunningPorts(running, [port]));
            _state.PortErrors.Remove(port);
            return;
        }
        running.ReconfigurePort(updated.ToSpec());
        Commit(next, undo: () =>
        {
            try { running.ReconfigurePort(old.ToSpec()); } catch (BridgeException) { }
        });
    }

    /// <inheritdoc/>
    public void DeletePorts(string command, string bridge, IReadOnlyList<string> ports)
    {
        var config = _state.RequireBridge(bridge);
        var removed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in ports)
        {
            if (!config.Ports.Any(p => p.Name == name)) throw new CommandException($"{command}: {config.Name} has no port {name}");
            if (!removed.Add(name)) throw new CommandException($"{command}: port {name} given twice");
        }

        var running = _state.Running(config.Name);
        var stopped = new List<PortConfig>();   // the ones that were running, to start again on undo
        try
        {
            foreach (var p in config.Ports)
            {
                if (!removed.Contains(p.Name) || running.FindPort(p.Name) is null) continue;
                running.DeletePort(p.Name);
                stopped.Add(p);
            }
        }
        catch
        {
            AddRunningPorts(running, stopped);
            throw;
        }
        Commit(Config.WithBridge(config with { Ports = config.Ports.Where(p => !removed.Contains(p.Name)).ToList() }),
            undo: () => AddRunningPorts(running, stopped));
        foreach (var name in removed) _state.PortErrors.Remove(name);
    }

    /// <summary>
    /// Checks ports to be added to <paramref name="bridge"/> and builds their configuration: valid unique names that are
    /// neither a port elsewhere nor a bridge, and valid settings. With <paramref name="mayExist"/> a port already on this
    /// bridge is skipped.
    /// </summary>
    private List<PortConfig> ValidateNewPorts(string command, BridgeConfig bridge, IReadOnlyList<PortRequest> ports, bool mayExist)
    {
        var result = new List<PortConfig>();
        foreach (var request in ports)
        {
            var name = request.Name;
            if (ConfigNames.Check(name, "port") is { } problem) throw new CommandException($"{command}: {problem}");
            if (Config.FindBridgeOfPort(name) is { } owner)
            {
                if (mayExist && owner.Name == bridge.Name) continue;
                throw new CommandException($"{command}: port \"{name}\" already exists on bridge \"{owner.Name}\"");
            }
            if (name == bridge.Name || Config.FindBridge(name) is not null) throw new CommandException($"{command}: \"{name}\" is a bridge name");
            if (result.Exists(p => p.Name == name)) throw new CommandException($"{command}: port {name} given twice");
            result.Add(PortSettings.NewPort(command, name, request.Settings));
        }
        return result;
    }

    /// <summary>Makes <paramref name="next"/> the configuration and saves it; if saving fails, restores the previous one, runs <paramref name="undo"/> and throws.</summary>
    private void Commit(SwitchConfig next, Action undo)
    {
        var previous = Config;
        _state.Config = next;
        try
        {
            Save();
        }
        catch (IOException ex)
        {
            _state.Config = previous;
            undo();
            throw new CommandException($"{ex.Message}; the change was undone", 1);
        }
    }

    private void Save() => _store?.Save(_state.Config, _state.ConfigDigest);

    private static void DeleteRunningPorts(Bridge running, IEnumerable<string> names)
    {
        foreach (var n in names)
        {
            try { running.DeletePort(n); } catch (BridgeException) { }
        }
    }

    private static void AddRunningPorts(Bridge running, IEnumerable<PortConfig> ports)
    {
        foreach (var p in ports)
        {
            try { running.AddPort(p.ToSpec()); } catch (BridgeException) { }
        }
    }
}
