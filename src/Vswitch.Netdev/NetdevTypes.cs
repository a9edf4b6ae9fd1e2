namespace Vswitch.Netdev;

/// <summary>Administrative device flags (OVS's <c>netdev_flags</c>).</summary>
[Flags]
public enum NetdevFlags
{
    /// <summary>No flags.</summary>
    None = 0,
    /// <summary>Administratively up.</summary>
    Up = 1,
    /// <summary>Receive all unicast frames.</summary>
    Promiscuous = 2,
    /// <summary>Receive all multicast frames.</summary>
    AllMulticast = 4,
}

/// <summary>Carrier (operational) state.</summary>
public enum LinkState
{
    /// <summary>The provider cannot tell.</summary>
    Unknown = 0,
    /// <summary>Carrier present: frames can flow.</summary>
    Up = 1,
    /// <summary>No carrier, interface down or gone.</summary>
    Down = 2,
}

/// <summary>Offloads a device can do or accept (bhyve's capabilities, DPDK's offload flags).</summary>
[Flags]
public enum NetdevOffloads
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>Transmit may carry a partial checksum for the device to complete.</summary>
    TxChecksum = 1,
    /// <summary>Received checksums are verified by the device.</summary>
    RxChecksum = 2,
    /// <summary>TCP segmentation offload.</summary>
    Tso = 4,
    /// <summary>VLAN tags are stripped on receive and reported as metadata.</summary>
    RxVlanStrip = 8,
}

/// <summary>What a device can do. Optional operations a device lacks return <c>EOPNOTSUPP</c>.</summary>
public sealed record NetdevCapabilities
{
    /// <summary>Maximum rx queues the device can open.</summary>
    public int MaxRxQueues { get; init; } = 1;
    /// <summary>Maximum tx queues the device can open.</summary>
    public int MaxTxQueues { get; init; } = 1;
    /// <summary>Largest MTU the device accepts.</summary>
    public int MaxMtu { get; init; } = 1500;
    /// <summary>Offloads supported.</summary>
    public NetdevOffloads Offloads { get; init; }
    /// <summary>True when the MAC address can be changed.</summary>
    public bool CanSetMac { get; init; }
    /// <summary>True when the MTU can be changed.</summary>
    public bool CanSetMtu { get; init; }
    /// <summary>True when link state changes are reported (change sequence bumps).</summary>
    public bool ReportsLinkChanges { get; init; }
}

/// <summary>Descriptive information (DPDK's dev_info, OVS's get_status).</summary>
public sealed record NetdevInfo
{
    /// <summary>Provider type, e.g. <c>tap</c>.</summary>
    public required string Driver { get; init; }
    /// <summary>Kernel interface name, when the device has one.</summary>
    public string? KernelName { get; init; }
    /// <summary>Kernel ifindex, or 0.</summary>
    public int IfIndex { get; init; }
    /// <summary>Link speed in Mbit/s, or 0 when unknown.</summary>
    public long SpeedMbps { get; init; }
    /// <summary>Provider-specific key/value status (shown by <c>dpctl show</c>).</summary>
    public IReadOnlyDictionary<string, string> Status { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// Traffic counters of one queue or a whole device. Queue counters are written only by the
/// thread that owns the queue and may be read (slightly stale) from any thread.
/// </summary>
public struct NetdevStats
{
    /// <summary>Packets received and handed to the caller.</summary>
    public ulong RxPackets;
    /// <summary>Bytes of those packets.</summary>
    public ulong RxBytes;
    /// <summary>Receive errors (truncated, malformed, read failures).</summary>
    public ulong RxErrors;
    /// <summary>Frames dropped on receive (no buffer, queue full, device gone).</summary>
    public ulong RxDropped;
    /// <summary>Of <see cref="RxDropped"/>: no packet buffer could be rented.</summary>
    public ulong RxNoBuffer;
    /// <summary>Of <see cref="RxErrors"/>: frames longer than the buffer, detected and discarded.</summary>
    public ulong RxTruncated;
    /// <summary>Packets transmitted.</summary>
    public ulong TxPackets;
    /// <summary>Bytes transmitted.</summary>
    public ulong TxBytes;
    /// <summary>Transmit errors (write failures, device gone).</summary>
    public ulong TxErrors;
    /// <summary>Packets dropped on transmit (queue full, device down, over MTU).</summary>
    public ulong TxDropped;
    /// <summary>Of <see cref="TxDropped"/>: larger than the MTU allows.</summary>
    public ulong TxMtuDropped;

    /// <summary>Adds <paramref name="other"/> into this.</summary>
    public void Add(in NetdevStats other)
    {
        RxPackets += other.RxPackets; RxBytes += other.RxBytes; RxErrors += other.RxErrors;
        RxDropped += other.RxDropped; RxNoBuffer += other.RxNoBuffer; RxTruncated += other.RxTruncated;
        TxPackets += other.TxPackets; TxBytes += other.TxBytes; TxErrors += other.TxErrors;
        TxDropped += other.TxDropped; TxMtuDropped += other.TxMtuDropped;
    }
}
