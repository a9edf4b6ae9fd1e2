using Vswitch.Daemon;

namespace Vswitch.Cli;

/// <summary>Which datapath <c>vswitch run</c> gives each bridge: the userspace datapath, with memory, tap and afpacket ports.</summary>
internal static class DatapathSelection
{
    private static readonly Lazy<DatapathRuntime> s_runtime = new(() => new DatapathRuntime());

    /// <summary>The factory used by <c>vswitch run</c>.</summary>
    public static DatapathFactory Factory => s_runtime.Value.Factory;
}
