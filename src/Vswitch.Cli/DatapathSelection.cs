using Vswitch.Daemon;
using Vswitch.Switch;

namespace Vswitch.Cli;

/// <summary>Which datapath <c>vswitch run</c> gives each bridge.</summary>
internal static class DatapathSelection
{
    /// <summary>
    /// The factory used by <c>vswitch run</c>. Until the userspace datapath is wired in, bridges get an
    /// <see cref="OfflineDatapath"/> (configuration, control, fdb and trace work; no packets move).
    /// </summary>
    public static DatapathFactory Factory { get; } = name => new OfflineDatapath(name);
}
