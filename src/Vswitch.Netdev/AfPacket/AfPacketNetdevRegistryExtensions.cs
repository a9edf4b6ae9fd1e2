using Vswitch.Netdev.AfPacket;

namespace Vswitch.Netdev;

/// <summary>
/// Registration of the <c>afpacket</c> provider (alias <c>system</c>): the one call a host makes, in the registry's
/// namespace so that <c>using Vswitch.Netdev;</c> is enough (Kestrel's <c>UseSockets()</c> shape; docs/netdev-contract.md).
/// </summary>
public static class AfPacketNetdevRegistryExtensions
{
    /// <summary>Registers a new <see cref="AfPacketNetdevProvider"/> (type <c>afpacket</c>, alias <c>system</c>) and returns it.</summary>
    /// <exception cref="InvalidOperationException">The name <c>afpacket</c> or <c>system</c> is already registered.</exception>
    public static AfPacketNetdevProvider AddAfPacketProvider(this NetdevRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        var provider = new AfPacketNetdevProvider();
        registry.Register(provider);
        return provider;
    }
}
