using Vswitch.Netdev.Tap;

namespace Vswitch.Netdev;

/// <summary>
/// Registration of the <c>tap</c> provider: the one call a host makes, in the registry's namespace so that
/// <c>using Vswitch.Netdev;</c> is enough (Kestrel's <c>UseSockets()</c> shape; docs/netdev-contract.md).
/// </summary>
public static class TapNetdevRegistryExtensions
{
    /// <summary>Registers a new <see cref="TapNetdevProvider"/> (type <c>tap</c>) and returns it.</summary>
    /// <exception cref="InvalidOperationException">The name <c>tap</c> is already registered.</exception>
    public static TapNetdevProvider AddTapProvider(this NetdevRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        var provider = new TapNetdevProvider();
        registry.Register(provider);
        return provider;
    }
}
