using Vswitch.Daemon.Config;
using Vswitch.Datapath;
using Vswitch.Switch;
using Vswitch.Switch.Commands;

namespace Vswitch.Daemon;

/// <summary>
/// What the daemon holds between commands: the configuration in force (what is saved), the running bridge of each
/// configured bridge, and the configured ports that could not be opened (shown by <c>show</c>). Changed only by
/// <see cref="StateRestore"/> at start and by the <see cref="ChangeTransaction"/>; read by the commands, one at a time.
/// </summary>
internal sealed class SwitchState : IBridgeSet, IDisposable
{
    private readonly DatapathFactory _datapathFactory;
    private readonly TimeProvider? _time;
    private readonly bool _startThreads;
    private readonly SortedDictionary<string, Bridge> _bridges = new(StringComparer.Ordinal);

    public SwitchState(DatapathFactory datapathFactory, TimeProvider? time, bool startThreads)
    {
        _datapathFactory = datapathFactory;
        _time = time;
        _startThreads = startThreads;
    }

    /// <summary>The configuration in force.</summary>
    public SwitchConfig Config { get; set; } = SwitchConfig.Empty;

    /// <summary>The digest of the config file the configuration came from, saved with it.</summary>
    public string? ConfigDigest { get; set; }

    /// <summary>Configured ports that are not running, with the reason, by port name.</summary>
    public Dictionary<string, string> PortErrors { get; } = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public IReadOnlyList<Bridge> Bridges => _bridges.Values.ToArray();

    /// <summary>The running bridge named <paramref name="name"/> (every configured bridge has one).</summary>
    public Bridge Running(string name) => _bridges[name];

    /// <summary>The running bridge named <paramref name="name"/>, or null.</summary>
    public Bridge? FindRunning(string name) => _bridges.GetValueOrDefault(name);

    /// <summary>The configured bridge named <paramref name="name"/>, or a <see cref="CommandException"/> naming it.</summary>
    public BridgeConfig RequireBridge(string name) =>
        Config.FindBridge(name) ?? throw new CommandException($"no bridge named \"{name}\"");

    /// <summary>The configured port named <paramref name="name"/> and its bridge, or a <see cref="CommandException"/> naming it.</summary>
    public (BridgeConfig Bridge, PortConfig Port) RequirePort(string name)
    {
        foreach (var b in Config.Bridges)
            foreach (var p in b.Ports)
                if (p.Name == name) return (b, p);
        throw new CommandException($"no port named \"{name}\"");
    }

    /// <summary>
    /// Starts bridge <paramref name="config"/> (without its ports) on a datapath from the factory and returns it. Throws
    /// <see cref="BridgeException"/> naming the bridge when its datapath cannot be created (nothing is left running).
    /// </summary>
    public Bridge StartBridge(BridgeConfig config)
    {
        IBridgeDatapath dp;
        try
        {
            // Every bridge runs on the default datapath type until the configuration names a type per bridge.
            dp = _datapathFactory(DatapathRegistry.DefaultType, config.Name);
        }
        catch (Exception ex) when (ex is DatapathException or InvalidOperationException or ArgumentException)
        {
            throw new BridgeException($"bridge {config.Name}: cannot create its datapath: {ex.Message}");
        }
        var bridge = new Bridge(config.Name, dp, config.ToSettings(Config.Defaults), _time);
        _bridges[config.Name] = bridge;
        if (_startThreads) bridge.Start();
        return bridge;
    }

    /// <summary>Stops bridge <paramref name="name"/> (its datapath goes with it), if it runs.</summary>
    public void StopBridge(string name)
    {
        if (_bridges.Remove(name, out var b)) b.Dispose();
    }

    /// <summary>Stops every bridge.</summary>
    public void Dispose()
    {
        foreach (var b in _bridges.Values) b.Dispose();
        _bridges.Clear();
    }
}
