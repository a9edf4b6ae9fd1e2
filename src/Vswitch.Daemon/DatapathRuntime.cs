using Vswitch.Datapath;
using Vswitch.Datapath.Userspace;
using Vswitch.Netdev;
using Vswitch.Netdev.Memory;
using Vswitch.Packets;
using Vswitch.Switch;

namespace Vswitch.Daemon;

/// <summary>
/// What a running switch needs below the bridges: the netdev providers (memory, tap, afpacket), one packet pool and the
/// userspace datapath provider. <see cref="Factory"/> gives each bridge its own userspace datapath.
/// </summary>
public sealed class DatapathRuntime : IDisposable
{
    /// <summary>Packets in the shared pool.</summary>
    public const int DefaultPoolSize = 16384;

    /// <summary>Creates the runtime.</summary>
    public DatapathRuntime(int poolSize = DefaultPoolSize, UserspaceDatapathOptions? options = null)
    {
        Netdevs = new NetdevRegistry();
        Memory = Netdevs.AddMemoryProvider();
        Netdevs.AddTapProvider();
        Netdevs.AddAfPacketProvider();
        Pool = new PacketPool(poolSize);
        Datapaths = new DatapathRegistry();
        Datapaths.AddUserspaceProvider(options);
    }

    /// <summary>The netdev providers.</summary>
    public NetdevRegistry Netdevs { get; }

    /// <summary>The memory provider (tests reach its devices' far ends through it).</summary>
    public MemoryNetdevProvider Memory { get; }

    /// <summary>The packet pool every device rents from.</summary>
    public PacketPool Pool { get; }

    /// <summary>The datapath providers.</summary>
    public DatapathRegistry Datapaths { get; }

    /// <summary>Creates (or opens) the userspace datapath named after the bridge, wrapped for the bridge.</summary>
    public DatapathFactory Factory => name =>
        new DatapathBridgeAdapter(Datapaths.Open(UserspaceDatapathProvider.TypeName, name, create: true), Netdevs, Pool);

    /// <inheritdoc/>
    public void Dispose() => Pool.Dispose();
}
