using Vswitch.Interop.Linux;

namespace Vswitch.Netdev.AfPacket;

/// <summary>
/// The <c>afpacket</c> provider (alias <c>system</c>): attaches to an existing Linux interface (veth, a
/// physical NIC, a bridge port...) with an AF_PACKET/SOCK_RAW socket bound to its ifindex, as OVS's
/// netdev-linux "system" ports do. Batched I/O with recvmmsg/sendmmsg; VLAN tags the kernel stripped are
/// put back from PACKET_AUXDATA; own transmissions are never read back. Requires CAP_NET_RAW.
/// </summary>
/// <remarks>Stateless and thread-safe. Registered with <see cref="AfPacketNetdevRegistryExtensions.AddAfPacketProvider"/>.
/// See docs/ports/afpacket.md.</remarks>
public sealed class AfPacketNetdevProvider : INetdevProvider
{
    /// <summary>The type name.</summary>
    public const string TypeName = "afpacket";

    /// <inheritdoc/>
    public string Type => TypeName;

    /// <inheritdoc/>
    public IReadOnlyList<string> Aliases { get; } = ["system"];

    /// <inheritdoc/>
    public IReadOnlyList<NetdevOptionDescriptor> Options { get; } =
    [
        new("iface", "existing kernel interface to attach to; default: the port name"),
        new("queues", $"queue pairs, one socket each, joined in a PACKET_FANOUT group that hashes flows to rx queues: 1..{AfPacketNetdev.MaxQueues}, default 1"),
        new("promisc", "receive all unicast frames (PACKET_MR_PROMISC membership): true/false, default true"),
        new("rx_ring", "receive through a PACKET_MMAP TPACKET_V3 ring (4 MiB per queue) instead of recvmmsg: true/false, default false"),
        new("csum", "partial TCP/UDP checksums on received frames (TP_STATUS_CSUMNOTREADY): fill (complete them, default) or none (pass as is)"),
    ];

    /// <inheritdoc/>
    public Errno Open(NetdevOpenRequest request, out Netdev? device, out string? error)
    {
        ArgumentNullException.ThrowIfNull(request);
        device = null;
        var options = request.Options;
        string iface = options.Get("iface") ?? request.Name;
        if (!NetDevice.IsValidName(iface))
        {
            error = $"afpacket: iface={iface}: not a valid interface name";
            return Errno.EINVAL;
        }
        if (!options.TryGetBool("promisc", true, out bool promisc, out error)
            || !options.TryGetInt("queues", 1, 1, AfPacketNetdev.MaxQueues, out int queues, out error)
            || !options.TryGetBool("rx_ring", false, out bool ring, out error))
        {
            error = "afpacket: " + error;
            return Errno.EINVAL;
        }
        bool fillChecksums;
        switch (options.Get("csum") ?? "fill")
        {
            case "fill": fillChecksums = true; break;
            case "none": fillChecksums = false; break;
            default:
                error = $"afpacket: csum={options.Get("csum")}: expected fill or none";
                return Errno.EINVAL;
        }
        var e = AfPacketNetdev.Create(request.Name, iface, queues, promisc, fillChecksums, ring, options, request.Pool, out var dev, out error);
        device = dev;
        return e;
    }
}
