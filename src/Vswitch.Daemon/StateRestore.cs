using Vswitch.Daemon.Config;
using Vswitch.Switch;
using Vswitch.Switch.Diagnostics;

namespace Vswitch.Daemon;

/// <summary>
/// Start-up: chooses the configuration (the saved state, or the config file when it is new or its content changed
/// since the state was saved, or the empty default), starts its bridges and ports, and saves the result. A port that
/// cannot be opened is kept in the configuration and reported by <c>show</c>; a bad config file or state stops start-up.
/// </summary>
internal static class StateRestore
{
    private static readonly VLogModule s_log = VLog.Module("daemon");

    /// <summary>
    /// Restores into <paramref name="state"/>. Throws <see cref="ConfigException"/> (file, line, field) for an invalid or
    /// unreadable config file or state, <see cref="BridgeException"/> when a bridge's datapath cannot be created, and
    /// <see cref="IOException"/> when the state cannot be saved.
    /// </summary>
    public static void Restore(SwitchState state, StateStore? store, string? configFile)
    {
        var (config, digest) = Choose(store, configFile);
        state.Config = config;
        state.ConfigDigest = digest;
        foreach (var b in config.Bridges)
        {
            var bridge = state.StartBridge(b);
            foreach (var p in b.Ports)
            {
                try
                {
                    bridge.AddPort(p.ToSpec());
                }
                catch (BridgeException ex)
                {
                    state.PortErrors[p.Name] = ex.Message;
                    s_log.Err("port could not be added; kept in the configuration", ("bridge", b.Name), ("port", p.Name), ("error", ex.Message));
                }
            }
        }
        store?.Save(config, digest);
    }

    private static (SwitchConfig Config, string? Digest) Choose(StateStore? store, string? configFile)
    {
        var saved = store?.Load();
        string? configText = null;
        if (configFile is not null)
        {
            try
            {
                configText = File.ReadAllText(configFile);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new ConfigException(configFile, 0, 0, "", $"cannot read: {ex.Message}");
            }
        }
        if (configText is not null && (saved is null || saved.Value.ConfigDigest != ConfigLoader.Digest(configText)))
        {
            var config = ConfigLoader.Load(configFile!, configText);
            s_log.Info(saved is null ? "configuration loaded" : "configuration file changed since the saved state: applying it",
                ("file", configFile), ("bridges", config.Bridges.Count));
            return (config, ConfigLoader.Digest(configText));
        }
        if (saved is { } s)
        {
            s_log.Info("saved state restored", ("file", store!.FilePath), ("bridges", s.Config.Bridges.Count));
            return (s.Config, s.ConfigDigest);
        }
        s_log.Info("starting empty with the embedded defaults");
        return (SwitchConfig.Empty, null);
    }
}
