using Vswitch.Packets;

namespace Vswitch.Datapath.Odp;

/// <summary>
/// Checks a key and mask for a flow put the way Open vSwitch's userspace datapath refuses one
/// (dpif_netdev_flow_put → odp_flow_key_to_flow / odp_flow_key_to_mask "fitness", then dp_netdev_flow_add), and
/// returns the normalised pair the datapath would install.
/// </summary>
/// <remarks>
/// <para>Rules, each failing with a message naming the field:</para>
/// <list type="bullet">
/// <item><c>in_port</c> must be matched exactly (dpif-netdev selects the classifier by port).</item>
/// <item>A field may be matched only when its prerequisites are matched exactly ("megaflow prerequisites"): IPv4/IPv6/ARP
/// fields need <c>eth_type</c> exact (0x0800 / 0x86dd / 0x0806 or 0x8035) — OVS "unexpected L3 matching with masked
/// Ethertype"; TCP/UDP/SCTP ports and ICMP type/code need the IP protocol exact — "flow matches on L4 ports but does not
/// define an L4 protocol" — on top of an exact IP Ethertype; <c>tcp_flags</c> needs TCP; neighbour discovery fields need
/// ICMPv6 type 135/136 and code 0 matched exactly — "ICMP (src,dst) masks should be (0xff,0xff)".</item>
/// <item>Fields of an attribute the key does not imply (IPv6 addresses in an IPv4 flow, ports of a later fragment,
/// ports for protocol 47) must not be matched: OVS's "present but not expected" (ODP_FIT_TOO_MUCH), which dpif-netdev refuses.</item>
/// <item>VLAN: the tag-present bit (CFI, 0x1000) must be part of a non-zero TCI mask; matching tag fields needs the tag
/// present in the key; an inner tag needs the outer one. A TCI mask of zero becomes VID|CFI (0x1fff) as dpif-netdev
/// does, because the datapath key format cannot wildcard the presence of a tag.</item>
/// <item>Values and masks must fit the field: IPv6 label 20 bits, TCP flags 12 bits, ICMP type/code 8 bits, fragment
/// bits 0..3; a field whose mask has every storage bit set (as <see cref="FlowKey.AllOnes"/>) counts as exact and is
/// narrowed to the field width. The fragment mask must be all or nothing (ODP frag is an enumeration).</item>
/// <item>An Ethertype below 0x0600 is only valid as 0x05ff (802.3, no Ethertype) and only with an exact mask.</item>
/// <item>A zero <c>recirc_id</c> mask becomes exact (OVS treats a missing recirc_id as an exact match).</item>
/// </list>
/// <para>Bits set in the key where the mask is zero are not an error: the returned key is the key AND the mask.</para>
/// </remarks>
public static class OdpFlowValidator
{
    private const ushort VidCfi = 0x1FFF;

    /// <summary>
    /// The mask that matches exactly every field the key implies and nothing else (OVS's flow_wildcards_init_for_packet:
    /// what a put without a mask, or an upcall's exact match, means). Passes <see cref="TryValidate"/> for any well-formed key.
    /// </summary>
    public static FlowKey ExactMaskFor(in FlowKey key)
    {
        FlowKey allOnes = FlowKey.AllOnes;
        OdpFlowFormatter.Canonicalize(in key, in allOnes, out _, out var mask);
        return mask;
    }

    /// <summary>Validates and normalises; on failure <paramref name="error"/> names the field and the rule.</summary>
    public static bool TryValidate(in FlowKey key, in FlowKey mask, out FlowKey normalizedKey, out FlowKey normalizedMask, out string? error)
    {
        FlowKey m = mask;
        normalizedKey = normalizedMask = default;
        error = Check(in key, ref m);
        if (error is not null) return false;
        normalizedMask = m;
        normalizedKey = FlowKey.ApplyMask(in key, in m);
        return true;
    }

    /// <summary>Validates or throws <see cref="ArgumentException"/> with the same message.</summary>
    public static void Validate(in FlowKey key, in FlowKey mask, out FlowKey normalizedKey, out FlowKey normalizedMask)
    {
        if (!TryValidate(in key, in mask, out normalizedKey, out normalizedMask, out var error))
            throw new ArgumentException(error, nameof(mask));
    }

    private static string? Check(in FlowKey k, ref FlowKey m)
    {
        var bytes = FlowKey.AsBytes(ref m);
        for (int i = 124; i < FlowKey.Size; i++)
            if (bytes[i] != 0) return "mask: reserved bytes 124..127 must be zero";

        if (m.InPort != uint.MaxValue)
            return $"in_port: must be matched exactly, but the mask is 0x{m.InPort:x} (the userspace datapath selects the flow table by port)";
        if (m.RecircId == 0) m.RecircId = uint.MaxValue;

        // VLAN tags.
        bool tag0 = (k.Vlan0Tci & FlowKey.VlanCfi) != 0;
        bool tag1 = (k.Vlan1Tci & FlowKey.VlanCfi) != 0;
        if (m.Vlan0Tci == 0) m.Vlan0Tci = VidCfi;
        if ((m.Vlan0Tci & FlowKey.VlanCfi) == 0)
            return $"vlan: the TCI mask 0x{m.Vlan0Tci:x4} must include the tag-present (CFI) bit 0x1000";
        if (!tag0)
        {
            if ((k.Vlan0Tci & m.Vlan0Tci) != 0)
                return $"vlan: TCI 0x{k.Vlan0Tci:x4} has VLAN fields but no tag-present (CFI) bit";
            if (m.Vlan1Tci != 0 || m.Vlan1Tpid != 0 || tag1)
                return "vlan: the inner tag is matched but the packet has no outer tag";
        }
        if (tag1 || m.Vlan1Tci != 0)
        {
            if ((m.Vlan1Tci & FlowKey.VlanCfi) == 0)
                return $"vlan (inner): the TCI mask 0x{m.Vlan1Tci:x4} must include the tag-present (CFI) bit 0x1000";
            if (!tag1 && (k.Vlan1Tci & m.Vlan1Tci) != 0)
                return $"vlan (inner): TCI 0x{k.Vlan1Tci:x4} has VLAN fields but no tag-present (CFI) bit";
        }

        // Ethertype.
        bool ethExact = m.EthType == 0xFFFF;
        if (k.EthType < OdpFlowShape.EthTypeMin && m.EthType != 0)
        {
            if ((k.EthType & m.EthType) != (FlowKey.EthTypeNone & m.EthType))
                return $"eth_type: 0x{k.EthType:x4} is not an Ethertype (only 0x05ff, 802.3 without Ethertype, is valid below 0x0600)";
            if (!ethExact) return "eth_type: 802.3 frames (no Ethertype) can only be matched exactly";
        }

        var shape = new OdpFlowShape(in k);
        string l3Name = shape.L3 switch { OdpL3.Ipv4 => "ipv4", OdpL3.Ipv6 => "ipv6", OdpL3.Arp => "arp", _ => "" };

        // Fields of each L3 attribute; anything matched must belong to the key's attribute.
        bool ipv4Fields = m.Ipv4Src != 0 || m.Ipv4Dst != 0;
        bool ipv6Fields = !m.Ipv6Src.IsZero || !m.Ipv6Dst.IsZero || m.Ipv6Label != 0;
        bool ipCommon = m.NwTos != 0 || m.NwTtl != 0 || m.NwFrag != 0;
        bool linkFields = !m.ArpSha.IsZero || !m.ArpTha.IsZero;
        bool protoMatched = m.NwProto != 0;
        bool ndTarget = !m.NdTarget.IsZero;

        if (ipv4Fields && shape.L3 is not (OdpL3.Ipv4 or OdpL3.Arp))
            return NotExpected("ipv4 (or arp) addresses", k.EthType);
        if (ipv6Fields && shape.L3 != OdpL3.Ipv6) return NotExpected("ipv6 fields", k.EthType);
        if (ipCommon && shape.L3 is not (OdpL3.Ipv4 or OdpL3.Ipv6)) return NotExpected("ip tos/ttl/frag", k.EthType);
        if (protoMatched && shape.L3 == OdpL3.None) return NotExpected("ip proto (or arp op)", k.EthType);
        if (shape.L3 != OdpL3.None && (ipv4Fields || ipv6Fields || ipCommon || protoMatched || (shape.L3 == OdpL3.Arp && linkFields)) && !ethExact)
            return $"{l3Name}: fields are matched but eth_type is not exact (mask 0x{m.EthType:x4}); OVS: unexpected L3 matching with masked Ethertype";

        if (shape.L3 == OdpL3.Ipv6)
        {
            if (m.Ipv6Label == uint.MaxValue) m.Ipv6Label = 0xFFFFF;
            if ((m.Ipv6Label & ~0xFFFFFu) != 0) return $"ipv6(label): mask 0x{m.Ipv6Label:x} has bits outside the 20-bit flow label";
            if ((k.Ipv6Label & m.Ipv6Label & ~0xFFFFFu) != 0) return $"ipv6(label): 0x{k.Ipv6Label:x} is out of range (20 bits)";
        }
        if (shape.L3 is OdpL3.Ipv4 or OdpL3.Ipv6)
        {
            if (m.NwFrag == 0xFF) m.NwFrag = FlowKey.FragAny | FlowKey.FragLater;
            if ((m.NwFrag & ~3) != 0) return $"{l3Name}(frag): mask 0x{m.NwFrag:x} has bits outside the fragment bits 0x3";
            if (m.NwFrag is 1 or 2) return $"{l3Name}(frag): partial mask 0x{m.NwFrag:x} is not supported (frag is no, first or later)";
            if ((k.NwFrag & m.NwFrag) == FlowKey.FragLater) return $"{l3Name}(frag): value 0x2 (later without fragment) is invalid";
        }

        // L4.
        bool ports = m.TpSrc != 0 || m.TpDst != 0;
        bool flags = m.TcpFlags != 0;
        string l4Name = shape.L4 switch
        {
            OdpL4.Tcp => "tcp", OdpL4.Udp => "udp", OdpL4.Sctp => "sctp", OdpL4.Icmp => "icmp", OdpL4.Icmpv6 => "icmpv6", _ => "",
        };
        if (ports || flags)
        {
            if (shape.L3 is not (OdpL3.Ipv4 or OdpL3.Ipv6))
                return NotExpected(flags ? "tcp_flags" : "L4 ports", k.EthType);
            if (shape.L4 == OdpL4.None)
            {
                return (k.NwFrag & FlowKey.FragLater) != 0
                    ? "L4 fields are matched but the packet is a later fragment (no L4 header); OVS: present but not expected"
                    : $"L4 fields are matched but IP protocol {k.NwProto} has no ports; OVS: present but not expected";
            }
            if (!ethExact) return $"{l4Name}: fields are matched but eth_type is not exact (mask 0x{m.EthType:x4})";
            if (m.NwProto != 0xFF)
                return $"{l4Name}: fields are matched but the IP protocol is not exact (mask 0x{m.NwProto:x2}); OVS: flow matches on L4 ports but does not define an L4 protocol";
            if (flags && shape.L4 != OdpL4.Tcp) return $"tcp_flags: matched but the IP protocol is {k.NwProto}, not 6";
            if (flags)
            {
                if (m.TcpFlags == 0xFFFF) m.TcpFlags = 0xFFF;
                if ((m.TcpFlags & ~0xFFF) != 0) return $"tcp_flags: mask 0x{m.TcpFlags:x} has bits outside the 12 TCP flag bits";
                if ((k.TcpFlags & m.TcpFlags & ~0xFFF) != 0) return $"tcp_flags: 0x{k.TcpFlags:x} is out of range (12 bits)";
            }
            if (shape.L4 is OdpL4.Icmp or OdpL4.Icmpv6)
            {
                if (m.TpSrc == 0xFFFF) m.TpSrc = 0xFF;
                if (m.TpDst == 0xFFFF) m.TpDst = 0xFF;
                if (((m.TpSrc | m.TpDst) & 0xFF00) != 0) return $"{l4Name}: type/code masks have bits outside 8 bits";
                if (((k.TpSrc & m.TpSrc) | (k.TpDst & m.TpDst)) > 0xFF) return $"{l4Name}: type/code out of range (8 bits)";
            }
        }

        // Neighbour discovery (IPv6) shares ArpSha/ArpTha with ARP.
        if (ndTarget || (linkFields && shape.L3 != OdpL3.Arp))
        {
            if (shape.L3 != OdpL3.Ipv6 && ndTarget) return NotExpected("nd target", k.EthType);
            if (shape.L3 is not (OdpL3.Ipv6 or OdpL3.Arp)) return NotExpected("arp sha/tha or nd sll/tll", k.EthType);
            if (!shape.NdByValue)
                return "nd: fields are matched but the key is not an ICMPv6 neighbour solicitation/advertisement (type 135/136, code 0)";
            if (!ethExact || m.NwProto != 0xFF || (m.TpSrc & 0xFF) != 0xFF || (m.TpDst & 0xFF) != 0xFF)
                return "nd: fields are matched but eth_type, IP protocol and the icmpv6 type and code are not all exact; OVS: ICMP (src,dst) masks should be (0xff,0xff)";
        }
        return null;
    }

    private static string NotExpected(string what, ushort ethType) =>
        $"{what}: matched but eth_type is 0x{ethType:x4}, which has no such fields; OVS: present but not expected";
}
