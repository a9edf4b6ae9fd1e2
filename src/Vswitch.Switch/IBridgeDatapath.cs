using Vswitch.Datapath.Odp;
using Vswitch.Interop.Linux;
using Vswitch.Netdev;
using Vswitch.Packets;
using Vswitch.Switch.Normal;

namespace Vswitch.Switch;

/// <summary>One port of a datapath as the bridge sees it.</summary>
/// <param name="PortNo">Datapath port number.</param>
/// <param name="Name">Device name.</param>
/// <param name="Type">Netdev type (<c>tap</c>, <c>afpacket</c>, <c>memory</c>, ...).</param>
/// <param name="RxPackets">Packets received.</param>
/// <param name="RxBytes">Bytes received.</param>
/// <param name="TxPackets">Packets sent.</param>
/// <param name="TxBytes">Bytes sent.</param>
/// <param name="RxDropped">Packets dropped on receive.</param>
/// <param name="TxDropped">Packets dropped on send.</param>
/// <param name="InterfaceName">The kernel interface behind the port (e.g. the tap device's name), when there is one.</param>
/// <param name="Upcalls">Upcalls queued for packets received on the port (0 when the datapath does not count per port).</param>
/// <param name="UpcallsLost">Upcalls of the port dropped (its queue was full, or the datapath's).</param>
public sealed record BridgeDatapathPort(uint PortNo, string Name, string Type,
    ulong RxPackets = 0, ulong RxBytes = 0, ulong TxPackets = 0, ulong TxBytes = 0, ulong RxDropped = 0, ulong TxDropped = 0,
    string? InterfaceName = null, ulong Upcalls = 0, ulong UpcallsLost = 0);

/// <summary>Datapath-wide counters, as <c>dpctl/show</c> prints them.</summary>
/// <param name="Hit">Packets that matched a flow.</param>
/// <param name="Missed">Packets that matched no flow (upcalls).</param>
/// <param name="Lost">Upcalls dropped (queue full or nobody listening).</param>
/// <param name="Flows">Installed flows.</param>
public readonly record struct BridgeDatapathStats(ulong Hit, ulong Missed, ulong Lost, ulong Flows);

/// <summary>A miss upcall: the packet's flow key and the packet itself (owned by the receiver from now on; may be null
/// when the datapath sends the key only).</summary>
/// <param name="Key">The extracted flow key (InPort = datapath port number).</param>
/// <param name="Packet">The packet, owned by whoever received the upcall.</param>
public readonly record struct BridgeUpcall(FlowKey Key, PacketBuffer? Packet);

/// <summary>
/// The seam between a <see cref="Bridge"/> and the datapath it owns: the subset of the datapath contract
/// (OVS's dpif) the switch layer needs. A datapath satisfies it through a thin adapter
/// (<see cref="DatapathBridgeAdapter"/>); the tests also use an in-memory implementation (flow table and ports, no packet
/// I/O, tests/Vswitch.Switch.Tests/OfflineDatapath.cs).
/// </summary>
/// <remarks>
/// All calls return an <see cref="Errno"/> and never throw for datapath errors. Unless stated, any thread may call
/// any member; calls never block for long (flow and port operations are control-path operations).
/// </remarks>
public interface IBridgeDatapath : IDisposable
{
    /// <summary>Datapath name (e.g. the bridge name).</summary>
    string Name { get; }

    /// <summary>Datapath type, as <c>dpctl/show</c> prints it (e.g. <c>netdev</c>).</summary>
    string Type { get; }

    /// <summary>
    /// Opens the device <paramref name="name"/> with provider <paramref name="type"/> and <paramref name="options"/> and adds it
    /// as a port. On success <paramref name="portNo"/> is its number. Errors: <c>EEXIST</c> (a port of that name exists),
    /// <c>EINVAL</c> (bad type or options; <paramref name="error"/> says why), <c>ENODEV</c> (no such device), others from the
    /// provider. Nothing is added on error.
    /// </summary>
    Errno AddPort(string name, string type, NetdevOptions options, out uint portNo, out string? error);

    /// <summary>
    /// Opens the device a port would have (provider <paramref name="type"/>, <paramref name="options"/> fully validated, the
    /// device opened) without adding it, so a reconfiguration can be refused before the running port is touched. On success
    /// the caller owns <paramref name="device"/> and passes it to <see cref="AddOpenedPort"/> or disposes it. Errors as
    /// <see cref="AddPort"/>; <c>EBUSY</c>/<c>EEXIST</c> when the kernel interface is held by another open device (e.g. the
    /// port's own, for a single-queue tap). <c>EOPNOTSUPP</c> (the default) when the datapath has no separate open step.
    /// </summary>
    Errno OpenDevice(string name, string type, NetdevOptions options, out Netdev.Netdev? device, out string? error)
    {
        device = null;
        error = $"datapath {Name}: opening a device without adding it is not supported";
        return Errno.EOPNOTSUPP;
    }

    /// <summary>
    /// Adds a device from <see cref="OpenDevice"/> as port <paramref name="requestedPortNo"/> (or the lowest free number for
    /// <c>uint.MaxValue</c>). On success the datapath owns the device; on error the caller keeps it. <c>EOPNOTSUPP</c> by default.
    /// </summary>
    Errno AddOpenedPort(Netdev.Netdev device, uint requestedPortNo, out uint portNo)
    {
        portNo = 0;
        return Errno.EOPNOTSUPP;
    }

    /// <summary>Removes port <paramref name="portNo"/> and closes its device. <c>ENOENT</c> when there is no such port.
    /// Flows that output to it stay until revalidated.</summary>
    Errno DeletePort(uint portNo);

    /// <summary>Datapath-wide counters; false when the datapath keeps none (the caller then derives them).</summary>
    bool TryGetStats(out BridgeDatapathStats stats);

    /// <summary>The ports with their counters, by ascending number.</summary>
    IReadOnlyList<BridgeDatapathPort> ListPorts();

    /// <summary>
    /// Installs a flow (<paramref name="modify"/> false: <c>EEXIST</c> when a flow with this key and mask exists) or changes
    /// the actions of an existing one (<paramref name="modify"/> true: <c>ENOENT</c> when none). <c>EFBIG</c> when the table is full.
    /// </summary>
    Errno PutFlow(in FlowKey key, in FlowKey mask, OdpActionList actions, bool modify);

    /// <summary>Deletes the flow with this key and mask; <c>ENOENT</c> when there is none.</summary>
    Errno DeleteFlow(in FlowKey key, in FlowKey mask);

    /// <summary>A snapshot of the installed flows. <see cref="InstalledFlow.LastUsedMs"/> is on the monotonic clock given by
    /// <see cref="MonotonicClock.NowMs"/> of the bridge's <see cref="TimeProvider"/>; a flow never hit reports its install time.</summary>
    List<InstalledFlow> DumpFlows();

    /// <summary>
    /// Runs <paramref name="actions"/> on <paramref name="packet"/> as if it had arrived on <paramref name="inPort"/>. Takes ownership
    /// of the packet whatever the result.
    /// </summary>
    Errno Execute(PacketBuffer packet, uint inPort, OdpActionList actions);

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> for a miss upcall. <c>EAGAIN</c> on timeout. The caller owns the upcall's packet.
    /// Called by the bridge's single handler thread.
    /// </summary>
    Errno ReceiveUpcall(int timeoutMs, out BridgeUpcall upcall);
}
