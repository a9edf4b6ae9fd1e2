using Vswitch.Datapath;
using Vswitch.Datapath.Userspace;
using Vswitch.Netdev;
using Vswitch.Netdev.Memory;
using Vswitch.Packets;
using Vswitch.Switch;

namespace Vswitch.Daemon;

/// <summary>
/// What a running switch needs below the bridges, in one place: the netdev providers (memory, tap, afpacket), the
/// datapath providers (the userspace datapath, type <c>netdev</c>), and the packet pool every device rents from.
/// <see cref="CreateBridgeDatapath"/> is the daemon's <see cref="DatapathFactory"/>: it opens each bridge's datapath
/// by type, so a registry holding several datapath types serves bridges of different types.
/// </summary>
/// <remarks>
/// This is the only runtime in src: <c>vswitch run</c>, <c>vswitch demo</c> and the system tests' harness all build on
/// it. A new provider is registered here with its one registration call (docs/netdev-contract.md, docs/datapath.md).
/// Thread-safe as the registries are. Dispose it after every bridge built on it (it frees the packet pool).
/// </remarks>
public sealed class DatapathRuntime : IDisposable
{
    /// <summary>Packets in the shared pool.</summary>
    public const int DefaultPoolSize = 16384;

    /// <summary>
    /// Registers the providers and creates a pool of <paramref name="poolSize"/> packets. The userspace datapaths use
    /// <paramref name="userspace"/> (defaults when null); an out-of-range option throws <see cref="ArgumentException"/>
    /// naming it.
    /// </summary>
    public DatapathRuntime(int poolSize = DefaultPoolSize, UserspaceDatapathOptions? userspace = null)
    {
        Netdevs = new NetdevRegistry();
        Memory = Netdevs.AddMemoryProvider();
        Netdevs.AddTapProvider();
        Netdevs.AddAfPacketProvider();
        Datapaths = new DatapathRegistry();
        Datapaths.AddUserspaceProvider(userspace);
        Pool = new PacketPool(poolSize);
    }

    /// <summary>The netdev providers.</summary>
    public NetdevRegistry Netdevs { get; }

    /// <summary>The memory provider (tests reach its devices' far ends through it).</summary>
    public MemoryNetdevProvider Memory { get; }

    /// <summary>The packet pool every device rents from.</summary>
    public PacketPool Pool { get; }

    /// <summary>The datapath providers.</summary>
    public DatapathRegistry Datapaths { get; }

    /// <summary>
    /// Opens datapath <paramref name="name"/> of <paramref name="type"/>, creating it if it does not exist. Throws
    /// <see cref="DatapathException"/> naming the datapath (an unknown type lists the known ones).
    /// </summary>
    public Vswitch.Datapath.Datapath OpenDatapath(string type, string name) => Datapaths.Open(type, name, create: true);

    /// <summary>
    /// The datapath of bridge <paramref name="bridgeName"/>: datapath <paramref name="datapathType"/>@<paramref name="bridgeName"/>
    /// (created if needed) wrapped for the bridge; its ports are opened through <see cref="Netdevs"/> with <see cref="Pool"/>,
    /// and it is destroyed with the bridge. Throws <see cref="DatapathException"/> as <see cref="OpenDatapath"/>.
    /// </summary>
    public IBridgeDatapath CreateBridgeDatapath(string datapathType, string bridgeName)
    {
        var dp = OpenDatapath(datapathType, bridgeName);
        try
        {
            return new DatapathBridgeAdapter(dp, Netdevs, Pool);
        }
        catch
        {
            dp.Handle.Destroy();
            dp.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public void Dispose() => Pool.Dispose();
}
