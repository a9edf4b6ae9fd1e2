using System.Diagnostics.CodeAnalysis;
using Vswitch.Datapath.Odp;
using Vswitch.Packets;

namespace Vswitch.Datapath.Userspace;

/// <summary>Checks a flow key/mask before it is installed (the seam to the odp layer's validator).</summary>
internal interface IFlowKeyValidator
{
    /// <summary>
    /// False with <paramref name="error"/> naming the problem when the (key, mask) pair is inconsistent or incomplete;
    /// otherwise the normalised pair the datapath installs (key AND mask, and the mask possibly adjusted).
    /// </summary>
    bool Validate(in FlowKey key, in FlowKey mask, out FlowKey normalizedKey, out FlowKey normalizedMask, [NotNullWhen(false)] out string? error);
}

/// <summary>
/// The userspace datapath's own key/mask checks, modelled on what OVS's userspace datapath refuses: in_port must be an
/// exact match; a field may only be matched when the fields that define its meaning are matched exactly (L3 fields
/// need an exact eth_type of the right protocol; L4 ports need an exact eth_type and IP protocol, and not a later
/// fragment; ND fields need ICMPv6 type 135/136); eth_type and ip proto masks are all-or-nothing; the reserved bytes are zero.
/// </summary>
internal sealed class BasicFlowKeyValidator : IFlowKeyValidator
{
    public static readonly BasicFlowKeyValidator Instance = new();

    private const ushort Ipv4 = 0x0800, Ipv6 = 0x86DD, Arp = 0x0806, Rarp = 0x8035;

    public bool Validate(in FlowKey key, in FlowKey mask, out FlowKey normalizedKey, out FlowKey normalizedMask, [NotNullWhen(false)] out string? error)
    {
        normalizedMask = mask;
        normalizedKey = FlowKey.ApplyMask(key, mask);
        return Check(key, mask, out error);
    }

    private static bool Check(in FlowKey key, in FlowKey mask, [NotNullWhen(false)] out string? error)
    {
        var kb = FlowKey.AsBytes(ref System.Runtime.CompilerServices.Unsafe.AsRef(in key));
        var mb = FlowKey.AsBytes(ref System.Runtime.CompilerServices.Unsafe.AsRef(in mask));
        for (int i = 124; i < 128; i++)
            if (kb[i] != 0 || mb[i] != 0) { error = "reserved key bytes 124..127 must be zero"; return false; }
        if (mask.InPort != uint.MaxValue)
        {
            error = $"in_port must be an exact match (mask 0x{mask.InPort:x8} given); the userspace datapath does not wildcard the input port";
            return false;
        }
        if (mask.EthType is not 0 and not 0xFFFF) { error = $"eth_type mask 0x{mask.EthType:x4} must be 0 or 0xffff"; return false; }
        // A field may be matched only when its prerequisites are matched exactly, unless the match is on zero (what
        // extraction leaves in a field a packet does not have, so an all-ones "exact" mask over a TCP key is fine).
        var m = FlowKey.ApplyMask(key, mask);
        bool ethExact = mask.EthType == 0xFFFF;
        ushort et = key.EthType;
        bool isIp = ethExact && (et == Ipv4 || et == Ipv6);
        bool isArp = ethExact && (et == Arp || et == Rarp);

        if ((m.Vlan1Tci != 0 || m.Vlan1Tpid != 0) && (mask.Vlan0Tci & FlowKey.VlanCfi) == 0)
        { error = "an inner VLAN match requires the outer VLAN tag to be matched as present (vlan tci mask with 0x1000)"; return false; }

        if ((m.Ipv4Src | m.Ipv4Dst) != 0 && !(ethExact && (et == Ipv4 || isArp)))
        { error = "ipv4/arp address match requires an exact eth_type(0x0800) or eth_type(0x0806)"; return false; }
        if ((m.NwTos | m.NwTtl | m.NwFrag) != 0 && !isIp)
        { error = "tos/ttl/frag match requires an exact eth_type(0x0800) or eth_type(0x86dd)"; return false; }
        if (m.NwProto != 0 && !(isIp || isArp))
        { error = "ip proto / arp op match requires an exact eth_type(0x0800, 0x86dd or 0x0806)"; return false; }
        if ((!m.Ipv6Src.IsZero || !m.Ipv6Dst.IsZero || m.Ipv6Label != 0) && !(ethExact && et == Ipv6))
        { error = "ipv6 address/label match requires an exact eth_type(0x86dd)"; return false; }

        bool protoExact = mask.NwProto == 0xFF;
        if (mask.NwProto is not 0 and not 0xFF && isIp) { error = $"ip proto mask 0x{mask.NwProto:x2} must be 0 or 0xff"; return false; }
        if ((m.TpSrc | m.TpDst) != 0)
        {
            if (!isIp || !protoExact)
            { error = "tcp/udp/sctp/icmp field match requires an exact eth_type (0x0800 or 0x86dd) and an exact ip proto"; return false; }
            byte p = key.NwProto;
            bool ok = p is 6 or 17 or 132 || (p == 1 && et == Ipv4) || (p == 58 && et == Ipv6);
            if (!ok) { error = $"L4 field match with ip proto {p}, which has no ports or types"; return false; }
            if ((mask.NwFrag & FlowKey.FragLater) != 0 && (key.NwFrag & FlowKey.FragLater) != 0)
            { error = "L4 field match on later IP fragments (frag=later), which carry no L4 header"; return false; }
        }
        if (m.TcpFlags != 0 && !(isIp && protoExact && key.NwProto == 6))
        { error = "tcp_flags match requires an exact eth_type (0x0800 or 0x86dd) and ip proto=6"; return false; }

        bool ndExact = ethExact && et == Ipv6 && protoExact && key.NwProto == 58 && mask.TpSrc == 0xFFFF && key.TpSrc is 135 or 136;
        if (!m.NdTarget.IsZero && !ndExact)
        { error = "nd target match requires eth_type(0x86dd), ipv6 proto=58 and an exact icmpv6 type 135 or 136"; return false; }
        if ((!m.ArpSha.IsZero || !m.ArpTha.IsZero) && !(isArp || ndExact))
        { error = "arp sha/tha (or nd sll/tll) match requires eth_type(0x0806) or an exact ICMPv6 neighbour discovery type"; return false; }
        error = null;
        return true;
    }
}

/// <summary>Action checks done at flow put and execute (what the datapath can run).</summary>
internal static class ActionValidation
{
    public const int MaxNesting = 8;

    public static bool Validate(OdpActionList actions, int maxPorts, [NotNullWhen(false)] out string? error) =>
        Validate(actions, maxPorts, 0, out error);

    private static bool Validate(OdpActionList actions, int maxPorts, int depth, [NotNullWhen(false)] out string? error)
    {
        if (depth > MaxNesting) { error = $"actions nested more than {MaxNesting} deep"; return false; }
        foreach (var a in actions)
        {
            switch (a)
            {
                case OutputAction o when o.Port >= (uint)maxPorts:
                    error = $"output to port {o.Port}: port numbers must be below {maxPorts}";
                    return false;
                case PushVlanAction pv when pv.Tpid is not 0x8100 and not 0x88A8:
                    error = $"push_vlan tpid 0x{pv.Tpid:x4}: must be 0x8100 or 0x88a8";
                    return false;
                case TruncAction t when t.MaxLength < 14:
                    error = $"trunc({t.MaxLength}): must be at least 14 bytes";
                    return false;
                case SampleAction s when !Validate(s.Actions, maxPorts, depth + 1, out error):
                    return false;
                case CloneAction c when !Validate(c.Actions, maxPorts, depth + 1, out error):
                    return false;
                case SetAction set when set.Target is not (OdpSetTarget.Ethernet or OdpSetTarget.Ipv4 or OdpSetTarget.Ipv6
                    or OdpSetTarget.Tcp or OdpSetTarget.Udp or OdpSetTarget.Sctp or OdpSetTarget.SkbPriority or OdpSetTarget.SkbMark):
                    error = $"set of {set.Target} is not supported";
                    return false;
            }
        }
        error = null;
        return true;
    }
}
