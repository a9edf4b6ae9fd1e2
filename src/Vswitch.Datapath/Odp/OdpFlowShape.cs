using Vswitch.Packets;

namespace Vswitch.Datapath.Odp;

/// <summary>Layer-3 attribute a key implies (from its innermost Ethertype).</summary>
internal enum OdpL3 : byte { None, Ipv4, Ipv6, Arp }

/// <summary>Layer-4 attribute a key implies (from its IP protocol and fragment state).</summary>
internal enum OdpL4 : byte { None, Tcp, Udp, Sctp, Icmp, Icmpv6 }

/// <summary>
/// Which datapath key attributes a <see cref="FlowKey"/> implies, derived from the key's <em>values</em> as
/// Open vSwitch's odp_flow_key_from_flow does: VLAN tags from the CFI (present) bits, the L3 attribute from the
/// innermost Ethertype, the L4 attribute from the IP protocol unless the packet is a later fragment, and
/// neighbour discovery from an ICMPv6 type 135/136 with code 0.
/// </summary>
internal readonly struct OdpFlowShape
{
    public const ushort EthTypeIpv4 = 0x0800;
    public const ushort EthTypeIpv6 = 0x86DD;
    public const ushort EthTypeArp = 0x0806;
    public const ushort EthTypeRarp = 0x8035;
    public const ushort EthTypeMin = 0x0600;

    public readonly bool Tag0;
    public readonly bool Tag1;
    public readonly OdpL3 L3;
    public readonly OdpL4 L4;
    /// <summary>ICMPv6 neighbour solicitation/advertisement (type 135/136, code 0) by value.</summary>
    public readonly bool NdByValue;

    public OdpFlowShape(in FlowKey key)
    {
        Tag0 = (key.Vlan0Tci & FlowKey.VlanCfi) != 0;
        Tag1 = Tag0 && (key.Vlan1Tci & FlowKey.VlanCfi) != 0;
        L3 = L3Of(key.EthType);
        L4 = OdpL4.None;
        NdByValue = false;
        if ((L3 == OdpL3.Ipv4 || L3 == OdpL3.Ipv6) && !IsLaterFragment(key.NwFrag))
        {
            L4 = key.NwProto switch
            {
                6 => OdpL4.Tcp,
                17 => OdpL4.Udp,
                132 => OdpL4.Sctp,
                1 when L3 == OdpL3.Ipv4 => OdpL4.Icmp,
                58 when L3 == OdpL3.Ipv6 => OdpL4.Icmpv6,
                _ => OdpL4.None,
            };
            NdByValue = L4 == OdpL4.Icmpv6 && (key.TpSrc == 135 || key.TpSrc == 136) && key.TpDst == 0;
        }
    }

    /// <summary>A later fragment (no L4 header) as ODP's frag enumeration sees it: both fragment bits set.</summary>
    public static bool IsLaterFragment(byte nwFrag) =>
        (nwFrag & (FlowKey.FragAny | FlowKey.FragLater)) == (FlowKey.FragAny | FlowKey.FragLater);

    public static OdpL3 L3Of(ushort ethType) => ethType switch
    {
        EthTypeIpv4 => OdpL3.Ipv4,
        EthTypeIpv6 => OdpL3.Ipv6,
        EthTypeArp or EthTypeRarp => OdpL3.Arp,
        _ => OdpL3.None,
    };

    /// <summary>True when the nd(...) attribute belongs to a masked key: by value, and the ICMPv6
    /// type and code exactly matched (OVS exports ND in a mask only then).</summary>
    public bool NdWithMask(in FlowKey mask) => NdByValue && (mask.TpSrc & 0xFF) == 0xFF && (mask.TpDst & 0xFF) == 0xFF;

    /// <summary>Bitwise AND of two MAC addresses.</summary>
    public static MacAddress And(MacAddress a, MacAddress b) => MacAddress.FromUInt64(a.ToUInt64() & b.ToUInt64());

    /// <summary>ODP frag round trip of <see cref="FlowKey.NwFrag"/> bits: none, first (any) or later (any|later).</summary>
    public static byte CanonicalFrag(byte nwFrag) =>
        (nwFrag & FlowKey.FragAny) == 0 ? (byte)0
        : (nwFrag & FlowKey.FragLater) != 0 ? (byte)(FlowKey.FragAny | FlowKey.FragLater) : FlowKey.FragAny;
}
