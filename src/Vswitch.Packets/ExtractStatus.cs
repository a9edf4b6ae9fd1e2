namespace Vswitch.Packets;

/// <summary>
/// Outcome of <see cref="FlowExtractor.Extract(ReadOnlySpan{byte}, in PacketMetadata, out FlowKey, out PacketLayout)"/>.
/// Anything but <see cref="Ok"/> is a frame the datapath should count (it is still forwarded by
/// its key, which is filled as far as the headers were valid, exactly as Open vSwitch does).
/// </summary>
/// <remarks>
/// The values are ordered by layer so a caller may test <c>status &gt;= ExtractStatus.TruncatedL4</c>
/// for "the network header was fine".
/// </remarks>
public enum ExtractStatus : byte
{
    /// <summary>Every header the key describes was complete and consistent.</summary>
    Ok = 0,

    /// <summary>
    /// The frame is shorter than an Ethernet header (14 bytes: only the metadata fields are set), or a VLAN
    /// tag is not followed by a complete tag and ethertype (the tags before it are set and
    /// <see cref="FlowKey.EthType"/> is that tag's TPID, as OVS's <c>parse_vlan</c> leaves it).
    /// <see cref="PacketLayout.L3Offset"/> is -1.
    /// </summary>
    TruncatedL2 = 1,

    /// <summary>
    /// The IPv4, IPv6 or ARP header is cut short: shorter than its fixed part, than the IPv4 header length,
    /// or than the IPv4 total length / IPv6 payload length says. No network fields are set and
    /// <see cref="PacketLayout.L3Offset"/> is -1. Exception (as OVS): when the fixed IPv6 header is valid but an
    /// extension header runs past the payload, the IPv6 addresses are set, the other network fields are zero,
    /// and <see cref="PacketLayout.L3Offset"/> points at the IPv6 header.
    /// </summary>
    TruncatedL3 = 2,

    /// <summary>
    /// The IPv4 header is inconsistent (header length below 20 bytes or above the total length, or more than
    /// 65535 bytes of trailing padding; likewise for IPv6). No network fields are set; <see cref="PacketLayout.L3Offset"/> is -1.
    /// </summary>
    MalformedL3 = 3,

    /// <summary>
    /// The transport header is shorter than its fixed part (TCP 20, UDP 8, SCTP 12, ICMP 8, ICMPv6 8 bytes):
    /// network fields are set, transport fields are zero and <see cref="PacketLayout.L4Offset"/> is -1.
    /// Also returned for an IPv6 neighbour discovery message too short for its target address (type and code
    /// are set, <see cref="PacketLayout.L4Offset"/> is set, the target and link-layer addresses are zero).
    /// </summary>
    TruncatedL4 = 4,

    /// <summary>
    /// The transport header is complete but inconsistent: a TCP data offset below 5 words or beyond the segment
    /// (the key is still filled from the first 20 bytes, as OVS's userspace extractor does), a neighbour
    /// discovery option of length 0 or running past the message (addresses found before it are kept), a
    /// repeated source/target link-layer option (target and link-layer addresses are cleared, as OVS), or
    /// a transport header at an offset beyond 32767 (transport fields zero, <see cref="PacketLayout.L4Offset"/> -1).
    /// In the other cases the fixed transport header is complete, so <see cref="PacketLayout.L4Offset"/> is set.
    /// </summary>
    MalformedL4 = 5,
}
