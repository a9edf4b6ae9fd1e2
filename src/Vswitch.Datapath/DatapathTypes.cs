using Vswitch.Datapath.Odp;
using Vswitch.Netdev;
using Vswitch.Packets;

namespace Vswitch.Datapath;

/// <summary>Datapath-wide counters (OVS's <c>struct odp_stats</c> / <c>dpif_dp_stats</c>).</summary>
public readonly record struct DatapathStats
{
    /// <summary>Packets that matched a flow (exact-match cache or classifier).</summary>
    public ulong Hit { get; init; }
    /// <summary>Packets that matched no flow (each became a miss upcall or was lost).</summary>
    public ulong Missed { get; init; }
    /// <summary>Upcalls (miss, action or sample) dropped because the upcall queue was full or nobody listened for them.</summary>
    public ulong Lost { get; init; }
    /// <summary>Flows currently installed.</summary>
    public ulong Flows { get; init; }
    /// <summary>Of <see cref="Hit"/>: packets found in a poll thread's exact-match cache.</summary>
    public ulong EmcHit { get; init; }
    /// <summary>Of <see cref="Hit"/>: packets found by the classifier (tuple-space search).</summary>
    public ulong MaskHit { get; init; }
    /// <summary>Number of masks (classifier subtables) currently in use.</summary>
    public ulong Masks { get; init; }
    /// <summary>Frames whose headers could not be fully parsed (still looked up with the partial key, as OVS does).</summary>
    public ulong Malformed { get; init; }
    /// <summary>IP fragments dropped because <c>drop_frags</c> is on.</summary>
    public ulong FragmentsDropped { get; init; }
    /// <summary>Packets dropped while executing actions (output to a missing port, pool exhausted for a copy, headroom exhausted).</summary>
    public ulong ActionDrops { get; init; }
}

/// <summary>Upcall counters of one input port (<see cref="IDatapath.GetPortUpcallStats"/>).</summary>
public readonly record struct DatapathPortUpcallStats
{
    /// <summary>Upcalls queued for the port's packets.</summary>
    public ulong Upcalls { get; init; }
    /// <summary>Upcalls dropped: the port's queue or the whole queue was full (also those evicted for a shorter port queue), or nobody listened.</summary>
    public ulong Lost { get; init; }
    /// <summary>Upcalls waiting to be received now.</summary>
    public ulong Pending { get; init; }
}

/// <summary>Statistics of one datapath flow (OVS's <c>dpif_flow_stats</c>).</summary>
public readonly record struct DatapathFlowStats
{
    /// <summary>Packets that matched the flow.</summary>
    public ulong Packets { get; init; }
    /// <summary>Bytes of those packets (as received).</summary>
    public ulong Bytes { get; init; }
    /// <summary>When the flow last matched a packet, in <see cref="Environment.TickCount64"/> milliseconds; 0 = never.</summary>
    public long UsedMs { get; init; }
    /// <summary>OR of the TCP flags of every TCP packet that matched.</summary>
    public ushort TcpFlags { get; init; }
}

/// <summary>
/// A snapshot of one datapath flow: a megaflow identified by its (masked) <see cref="Key"/> and its <see cref="Mask"/>,
/// with actions and statistics. Returned by flow get and flow dump; never changes after it is returned.
/// </summary>
public sealed class DatapathFlow
{
    private readonly FlowKey _key;
    private readonly FlowKey _mask;

    /// <summary>Creates a snapshot.</summary>
    public DatapathFlow(in FlowKey key, in FlowKey mask, OdpActionList actions, DatapathFlowStats stats)
    {
        _key = key;
        _mask = mask;
        Actions = actions;
        Stats = stats;
    }

    /// <summary>The flow key, already masked (every bit outside <see cref="Mask"/> is zero).</summary>
    public ref readonly FlowKey Key => ref _key;
    /// <summary>The mask: a set bit must match.</summary>
    public ref readonly FlowKey Mask => ref _mask;
    /// <summary>The actions.</summary>
    public OdpActionList Actions { get; }
    /// <summary>Statistics at the time of the snapshot.</summary>
    public DatapathFlowStats Stats { get; }
}

/// <summary>A datapath port (OVS's <c>struct dpif_port</c>).</summary>
/// <param name="PortNo">Port number (0 is the datapath's local port).</param>
/// <param name="Name">Device name (unique within the datapath).</param>
/// <param name="Type">Netdev type (e.g. <c>memory</c>, <c>tap</c>, <c>internal</c>).</param>
/// <param name="Device">The device. Owned by the datapath: do not dispose; it may be disposed once the port is deleted.</param>
public sealed record DatapathPort(uint PortNo, string Name, string Type, Netdev.Netdev Device);

/// <summary>Flags for flow put (OVS's <c>ODPPF_*</c> / <c>DPIF_FP_*</c>).</summary>
[Flags]
public enum FlowPutFlags
{
    /// <summary>Nothing allowed: a put with no flags always fails (ENOENT or EEXIST).</summary>
    None = 0,
    /// <summary>Create the flow if it does not exist.</summary>
    Create = 1,
    /// <summary>Replace the actions of an existing flow.</summary>
    Modify = 2,
    /// <summary>With <see cref="Modify"/>: zero the flow's statistics when its actions are replaced.</summary>
    ZeroStats = 4,
}

/// <summary>Kinds of upcall a listener can ask for (OVS's listen mask <c>ODPL_*</c>).</summary>
[Flags]
public enum DatapathListenMask
{
    /// <summary>Nothing: every upcall is dropped and counted as lost.</summary>
    None = 0,
    /// <summary>Packets that matched no flow.</summary>
    Miss = 1,
    /// <summary>Packets sent to userspace by a <c>userspace(...)</c> action.</summary>
    Action = 2,
    /// <summary>Packets sampled by the datapath-wide sFlow probability.</summary>
    Sample = 4,
    /// <summary>All kinds.</summary>
    All = Miss | Action | Sample,
}

/// <summary>Why a packet was sent up.</summary>
public enum DatapathUpcallType
{
    /// <summary>No flow matched (OVS's DPIF_UC_MISS).</summary>
    Miss,
    /// <summary>A <c>userspace</c> action (OVS's DPIF_UC_ACTION).</summary>
    Action,
    /// <summary>sFlow sampling (OVS's DPIF_UC_SAMPLE); <see cref="DatapathUpcall.Actions"/> holds the matched flow's actions.</summary>
    Sample,
}

/// <summary>
/// A packet sent to userspace. The receiver owns <see cref="Packet"/> and must release it (or pass it to
/// execute, which takes ownership).
/// </summary>
public sealed class DatapathUpcall
{
    private readonly FlowKey _key;

    /// <summary>Creates an upcall.</summary>
    public DatapathUpcall(DatapathUpcallType type, in FlowKey key, PacketBuffer packet, uint pid = 0, byte[]? userdata = null, OdpActionList? actions = null)
    {
        Type = type;
        _key = key;
        Packet = packet;
        Pid = pid;
        Userdata = userdata;
        Actions = actions;
    }

    /// <summary>Why the packet came up.</summary>
    public DatapathUpcallType Type { get; }
    /// <summary>The datapath's flow key for the packet (input port included).</summary>
    public ref readonly FlowKey Key => ref _key;
    /// <summary>The packet (metadata included). Owned by the receiver.</summary>
    public PacketBuffer Packet { get; }
    /// <summary>For <see cref="DatapathUpcallType.Action"/>: the listener id of the userspace action.</summary>
    public uint Pid { get; }
    /// <summary>For <see cref="DatapathUpcallType.Action"/>: the action's userdata, or null.</summary>
    public byte[]? Userdata { get; }
    /// <summary>For <see cref="DatapathUpcallType.Sample"/>: the actions of the flow the packet matched.</summary>
    public OdpActionList? Actions { get; }
}
