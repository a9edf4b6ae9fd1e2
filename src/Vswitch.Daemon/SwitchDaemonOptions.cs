using Vswitch.Switch;

namespace Vswitch.Daemon;

/// <summary>Creates the datapath of a new bridge (the seam to a datapath provider), e.g. <see cref="DatapathRuntime.CreateBridgeDatapath"/>.</summary>
/// <param name="datapathType">The datapath type, e.g. <c>netdev</c> (the userspace datapath).</param>
/// <param name="bridgeName">The bridge (and datapath) name.</param>
/// <returns>The bridge's datapath, owned by the bridge from now on.</returns>
/// <exception cref="Vswitch.Datapath.DatapathException">The datapath cannot be created (the daemon reports it naming the bridge).</exception>
public delegate IBridgeDatapath DatapathFactory(string datapathType, string bridgeName);

/// <summary>How a <see cref="SwitchDaemon"/> starts.</summary>
public sealed class SwitchDaemonOptions
{
    /// <summary>Where the state is persisted (default /var/lib/vswitch); null = not persisted (in-process use, tests, demo).</summary>
    public string? StateDirectory { get; init; } = StateStore.DefaultDirectory;

    /// <summary>A configuration file (YAML or JSON) to apply, or null.</summary>
    public string? ConfigFile { get; init; }

    /// <summary>
    /// Creates each bridge's datapath; required (<c>vswitch run</c> passes <see cref="DatapathRuntime.CreateBridgeDatapath"/>).
    /// There is no default: a switch without a packet datapath refuses to start rather than silently forwarding nothing.
    /// </summary>
    public required DatapathFactory DatapathFactory { get; init; }

    /// <summary>Clock for MAC aging and flow expiry.</summary>
    public TimeProvider? Time { get; init; }

    /// <summary>Start each bridge's handler and revalidator threads (true for a running switch).</summary>
    public bool StartThreads { get; init; } = true;
}
