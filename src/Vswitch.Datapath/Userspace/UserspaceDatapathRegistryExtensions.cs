using Vswitch.Datapath.Userspace;

namespace Vswitch.Datapath;

/// <summary>
/// Registration of the userspace datapath provider (type <c>netdev</c>): the one call a host makes, in the registry's
/// namespace so that <c>using Vswitch.Datapath;</c> is enough (Kestrel's <c>UseSockets()</c> shape; docs/datapath.md).
/// </summary>
public static class UserspaceDatapathRegistryExtensions
{
    /// <summary>
    /// Registers a new <see cref="UserspaceDatapathProvider"/> whose datapaths use <paramref name="options"/> (defaults
    /// when null) and returns it.
    /// </summary>
    /// <exception cref="InvalidOperationException">The type <c>netdev</c> is already registered.</exception>
    /// <exception cref="ArgumentException">An option is out of range (the message names it).</exception>
    public static UserspaceDatapathProvider AddUserspaceProvider(this DatapathRegistry registry, UserspaceDatapathOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        var provider = new UserspaceDatapathProvider(options);
        registry.Register(provider);
        return provider;
    }
}
