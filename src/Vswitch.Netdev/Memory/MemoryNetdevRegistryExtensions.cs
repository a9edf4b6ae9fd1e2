using Vswitch.Netdev.Memory;

namespace Vswitch.Netdev;

/// <summary>
/// Registration of the <c>memory</c> provider: the one call a host makes, in the registry's namespace so that
/// <c>using Vswitch.Netdev;</c> is enough (Kestrel's <c>UseSockets()</c> shape; docs/netdev-contract.md).
/// </summary>
public static class MemoryNetdevRegistryExtensions
{
    /// <summary>
    /// Registers a new <see cref="MemoryNetdevProvider"/> under <c>memory</c> and <c>mem</c> and returns it (tests reach
    /// its devices through <see cref="MemoryNetdevProvider.TryGetDevice"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">Either name is already registered.</exception>
    public static MemoryNetdevProvider AddMemoryProvider(this NetdevRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        var provider = new MemoryNetdevProvider();
        registry.Register(provider);
        return provider;
    }
}
