using System.Text;
using Vswitch.Packets;

namespace Vswitch.Datapath.Odp;

/// <summary>
/// Prints a <see cref="FlowKey"/> (optionally with its mask) in Open vSwitch's datapath flow syntax, as
/// <c>ovs-dpctl dump-flows</c> does (odp-util's odp_flow_format), e.g.
/// <c>in_port(1),eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15/ff:ff:ff:00:00:00),eth_type(0x0800),ipv4(src=35.8.2.41/255.255.255.0,proto=6,frag=no),tcp(dst=80)</c>.
/// </summary>
/// <remarks>
/// <para>Attributes print in the kernel datapath's order: <c>recirc_id, dp_hash, skb_priority, in_port, skb_mark, eth,
/// eth_type, vlan, encap(...)</c> or <c>eth_type, ipv4|ipv6|arp, tcp|udp|sctp|icmp|icmpv6, tcp_flags, nd</c>.
/// Which attributes exist follows the key's values (a tag when the TCI's CFI bit is set, ipv4 when the innermost
/// Ethertype is 0x0800, tcp when the IP protocol is 6 and the packet is not a later fragment, and so on).</para>
/// <para>With a mask, non-verbose output (the default) omits attributes whose fields are all wildcarded and fields
/// whose mask is zero, and shows <c>/mask</c> only for partially masked fields. Verbose output prints every field of
/// every implied attribute with its mask. Without a mask (an exact key such as an upcall's) every field of every
/// implied attribute prints, with no masks. Two small deviations from OVS keep the output parseable:
/// a wildcarded Ethernet attribute is omitted instead of printing <c>eth()</c>, and a tag's <c>vlan(...)</c> always prints.</para>
/// <para>Not a hot path: it allocates the result string (or appends to a caller's builder).</para>
/// </remarks>
public static class OdpFlowFormatter
{
    private const ushort VidMask = 0x0FFF;
    private const uint LabelMask = 0xFFFFF;

    /// <summary>Formats an exact key (no mask): every field of every attribute the key implies.</summary>
    public static string Format(in FlowKey key)
    {
        var sb = new StringBuilder(256);
        Append(sb, in key);
        return sb.ToString();
    }

    /// <summary>Formats a key with its mask (dump-flows style; <paramref name="verbose"/> = <c>dump-flows -m</c>).</summary>
    public static string Format(in FlowKey key, in FlowKey mask, bool verbose = false)
    {
        var sb = new StringBuilder(256);
        Append(sb, in key, in mask, verbose);
        return sb.ToString();
    }

    /// <summary>Appends an exact key (no mask).</summary>
    public static void Append(StringBuilder sb, in FlowKey key)
    {
        FlowKey allOnes = FlowKey.AllOnes;
        new Writer(sb, hasMask: false, verbose: true).Flow(in key, in allOnes);
    }

    /// <summary>Appends a key with its mask.</summary>
    public static void Append(StringBuilder sb, in FlowKey key, in FlowKey mask, bool verbose = false) =>
        new Writer(sb, hasMask: true, verbose).Flow(in key, in mask);

    /// <summary>
    /// The key/mask pair that the text printed for (<paramref name="key"/>, <paramref name="mask"/>) stands for: what
    /// <see cref="OdpFlowParser"/> returns for <c>Format(key, mask)</c>, after masking. Fields outside the attributes the
    /// key implies are dropped, field masks are narrowed to the field widths, the fragment mask becomes all or
    /// nothing, a tag's mask always includes the present bit and an untagged key matches "no tag" exactly
    /// (as Open vSwitch reads a datapath key without a VLAN attribute). The returned key is masked.
    /// </summary>
    public static void Canonicalize(in FlowKey key, in FlowKey mask, out FlowKey canonicalKey, out FlowKey canonicalMask)
    {
        var shape = new OdpFlowShape(in key);
        FlowKey k = default, m = default;
        m.RecircId = mask.RecircId; k.RecircId = key.RecircId & mask.RecircId;
        m.DpHash = mask.DpHash; k.DpHash = key.DpHash & mask.DpHash;
        m.SkbPriority = mask.SkbPriority; k.SkbPriority = key.SkbPriority & mask.SkbPriority;
        m.SkbMark = mask.SkbMark; k.SkbMark = key.SkbMark & mask.SkbMark;
        m.InPort = mask.InPort; k.InPort = key.InPort & mask.InPort;
        m.EthSrc = mask.EthSrc; k.EthSrc = OdpFlowShape.And(key.EthSrc, mask.EthSrc);
        m.EthDst = mask.EthDst; k.EthDst = OdpFlowShape.And(key.EthDst, mask.EthDst);

        if (!shape.Tag0)
        {
            m.Vlan0Tpid = 0xFFFF;
            m.Vlan0Tci = 0xFFFF;
        }
        else
        {
            m.Vlan0Tpid = mask.Vlan0Tpid; k.Vlan0Tpid = (ushort)(key.Vlan0Tpid & mask.Vlan0Tpid);
            m.Vlan0Tci = (ushort)(mask.Vlan0Tci | FlowKey.VlanCfi); k.Vlan0Tci = (ushort)(key.Vlan0Tci & m.Vlan0Tci);
            if (shape.Tag1)
            {
                m.Vlan1Tpid = mask.Vlan1Tpid; k.Vlan1Tpid = (ushort)(key.Vlan1Tpid & mask.Vlan1Tpid);
                m.Vlan1Tci = (ushort)(mask.Vlan1Tci | FlowKey.VlanCfi); k.Vlan1Tci = (ushort)(key.Vlan1Tci & m.Vlan1Tci);
            }
        }

        if (key.EthType < OdpFlowShape.EthTypeMin)
        {
            if (mask.EthType != 0)
            {
                m.EthType = 0xFFFF;
                k.EthType = FlowKey.EthTypeNone;
            }
        }
        else
        {
            m.EthType = mask.EthType; k.EthType = (ushort)(key.EthType & mask.EthType);
        }

        switch (shape.L3)
        {
            case OdpL3.Ipv4:
                m.Ipv4Src = mask.Ipv4Src; k.Ipv4Src = key.Ipv4Src & mask.Ipv4Src;
                m.Ipv4Dst = mask.Ipv4Dst; k.Ipv4Dst = key.Ipv4Dst & mask.Ipv4Dst;
                CopyIpCommon(in key, in mask, ref k, ref m);
                break;
            case OdpL3.Ipv6:
                m.Ipv6Src = mask.Ipv6Src; k.Ipv6Src = key.Ipv6Src & mask.Ipv6Src;
                m.Ipv6Dst = mask.Ipv6Dst; k.Ipv6Dst = key.Ipv6Dst & mask.Ipv6Dst;
                m.Ipv6Label = mask.Ipv6Label & LabelMask; k.Ipv6Label = key.Ipv6Label & m.Ipv6Label;
                CopyIpCommon(in key, in mask, ref k, ref m);
                break;
            case OdpL3.Arp:
                m.Ipv4Src = mask.Ipv4Src; k.Ipv4Src = key.Ipv4Src & mask.Ipv4Src;
                m.Ipv4Dst = mask.Ipv4Dst; k.Ipv4Dst = key.Ipv4Dst & mask.Ipv4Dst;
                m.NwProto = mask.NwProto; k.NwProto = (byte)(key.NwProto & mask.NwProto);
                m.ArpSha = mask.ArpSha; k.ArpSha = OdpFlowShape.And(key.ArpSha, mask.ArpSha);
                m.ArpTha = mask.ArpTha; k.ArpTha = OdpFlowShape.And(key.ArpTha, mask.ArpTha);
                break;
        }

        switch (shape.L4)
        {
            case OdpL4.Tcp or OdpL4.Udp or OdpL4.Sctp:
                m.TpSrc = mask.TpSrc; k.TpSrc = (ushort)(key.TpSrc & mask.TpSrc);
                m.TpDst = mask.TpDst; k.TpDst = (ushort)(key.TpDst & mask.TpDst);
                if (shape.L4 == OdpL4.Tcp)
                {
                    m.TcpFlags = (ushort)(mask.TcpFlags & 0xFFF); k.TcpFlags = (ushort)(key.TcpFlags & m.TcpFlags);
                }
                break;
            case OdpL4.Icmp or OdpL4.Icmpv6:
                m.TpSrc = (ushort)(mask.TpSrc & 0xFF); k.TpSrc = (ushort)(key.TpSrc & m.TpSrc);
                m.TpDst = (ushort)(mask.TpDst & 0xFF); k.TpDst = (ushort)(key.TpDst & m.TpDst);
                if (shape.NdWithMask(in mask))
                {
                    m.NdTarget = mask.NdTarget; k.NdTarget = key.NdTarget & mask.NdTarget;
                    m.ArpSha = mask.ArpSha; k.ArpSha = OdpFlowShape.And(key.ArpSha, mask.ArpSha);
                    m.ArpTha = mask.ArpTha; k.ArpTha = OdpFlowShape.And(key.ArpTha, mask.ArpTha);
                }
                break;
        }
        canonicalKey = k;
        canonicalMask = m;
    }

    private static void CopyIpCommon(in FlowKey key, in FlowKey mask, ref FlowKey k, ref FlowKey m)
    {
        m.NwProto = mask.NwProto; k.NwProto = (byte)(key.NwProto & mask.NwProto);
        m.NwTos = mask.NwTos; k.NwTos = (byte)(key.NwTos & mask.NwTos);
        m.NwTtl = mask.NwTtl; k.NwTtl = (byte)(key.NwTtl & mask.NwTtl);
        if ((mask.NwFrag & FlowKey.FragAny) != 0)
        {
            m.NwFrag = FlowKey.FragAny | FlowKey.FragLater;
            k.NwFrag = OdpFlowShape.CanonicalFrag(key.NwFrag);
        }
    }

    /// <summary>Appends the fields of one set-action target (used by <see cref="OdpSetFormatter"/>).</summary>
    internal static void AppendSetTarget(StringBuilder sb, OdpSetTarget target, in FlowKey value, in FlowKey mask, bool masked)
    {
        var w = new Writer(sb, hasMask: masked, verbose: !masked);
        w.SetTarget(target, in value, in mask);
    }

    /// <summary>The attribute writer: one instance per formatting call.</summary>
    private struct Writer(StringBuilder sb, bool hasMask, bool verbose)
    {
        private readonly StringBuilder _sb = sb;
        private readonly bool _hasMask = hasMask;
        private readonly bool _verbose = verbose;
        private bool _first = true;

        private void Sep()
        {
            if (!_first) _sb.Append(',');
            _first = false;
        }

        private readonly bool Show(bool maskNonZero) => !_hasMask || _verbose || maskNonZero;

        private void Open(string name)
        {
            Sep();
            _sb.Append(name).Append('(');
        }

        private readonly void Close()
        {
            if (_sb[^1] == ',') _sb.Length--;
            _sb.Append(')');
        }

        public void Flow(in FlowKey k, in FlowKey m)
        {
            var shape = new OdpFlowShape(in k);
            U32Attr("recirc_id", k.RecircId, m.RecircId);
            U32Attr("dp_hash", k.DpHash, m.DpHash);
            U32Attr("skb_priority", k.SkbPriority, m.SkbPriority);
            if (Show(m.InPort != 0))
            {
                Open("in_port");
                OdpText.Dec(_sb, k.InPort);
                if (_hasMask && m.InPort != uint.MaxValue)
                {
                    _sb.Append('/');
                    OdpText.AltHex(_sb, m.InPort);
                }
                _sb.Append(')');
            }
            U32Attr("skb_mark", k.SkbMark, m.SkbMark);
            if (Show(!m.EthSrc.IsZero || !m.EthDst.IsZero))
            {
                Open("eth");
                Mac("src", k.EthSrc, m.EthSrc);
                Mac("dst", k.EthDst, m.EthDst);
                Close();
            }
            if (shape.Tag0)
            {
                Tag(k.Vlan0Tpid, m.Vlan0Tpid, k.Vlan0Tci, m.Vlan0Tci);
                Open("encap");
                var inner = new Writer(_sb, _hasMask, _verbose);
                if (shape.Tag1)
                {
                    inner.Tag(k.Vlan1Tpid, m.Vlan1Tpid, k.Vlan1Tci, m.Vlan1Tci);
                    inner.Open("encap");
                    var inner2 = new Writer(_sb, _hasMask, _verbose);
                    inner2.Innermost(in k, in m, in shape);
                    _sb.Append(')');
                }
                else
                {
                    inner.Innermost(in k, in m, in shape);
                }
                _sb.Append(')');
            }
            else
            {
                Innermost(in k, in m, in shape);
            }
        }

        private void Tag(ushort tpid, ushort tpidMask, ushort tci, ushort tciMask)
        {
            Open("eth_type");
            OdpText.Hex4(_sb, tpid);
            if (_hasMask && tpidMask != 0xFFFF)
            {
                _sb.Append('/');
                OdpText.Hex4(_sb, tpidMask);
            }
            _sb.Append(')');
            Open("vlan");
            if (!_hasMask) tciMask = 0xFFFF;
            int vid = tci & VidMask, vidMask = tciMask & VidMask;
            if (_verbose || vid != 0 || vidMask != 0)
            {
                _sb.Append("vid=");
                OdpText.Dec(_sb, (uint)vid);
                if (vidMask != VidMask)
                {
                    _sb.Append("/0x");
                    OdpText.HexDigits(_sb, (uint)vidMask);
                }
                _sb.Append(',');
            }
            int pcp = tci >> 13, pcpMask = tciMask >> 13;
            if (_verbose || pcp != 0 || pcpMask != 0)
            {
                _sb.Append("pcp=");
                OdpText.Dec(_sb, (uint)pcp);
                if (pcpMask != 7)
                {
                    _sb.Append("/0x");
                    OdpText.HexDigits(_sb, (uint)pcpMask);
                }
                _sb.Append(',');
            }
            if ((tci & FlowKey.VlanCfi) == 0) _sb.Append("cfi=0,");
            Close();
        }

        private void Innermost(in FlowKey k, in FlowKey m, in OdpFlowShape shape)
        {
            bool ndShown = _hasMask ? shape.NdWithMask(in m) : shape.NdByValue;
            bool l3Shown = shape.L3 switch
            {
                OdpL3.Ipv4 => Show(m.Ipv4Src != 0 || m.Ipv4Dst != 0 || IpCommonMasked(in m)),
                OdpL3.Ipv6 => Show(!m.Ipv6Src.IsZero || !m.Ipv6Dst.IsZero || (m.Ipv6Label & LabelMask) != 0 || IpCommonMasked(in m)),
                OdpL3.Arp => Show(m.Ipv4Src != 0 || m.Ipv4Dst != 0 || m.NwProto != 0 || !m.ArpSha.IsZero || !m.ArpTha.IsZero),
                _ => false,
            };
            bool l4Shown = shape.L4 switch
            {
                OdpL4.Tcp or OdpL4.Udp or OdpL4.Sctp => Show(m.TpSrc != 0 || m.TpDst != 0),
                OdpL4.Icmp or OdpL4.Icmpv6 => Show((m.TpSrc & 0xFF) != 0 || (m.TpDst & 0xFF) != 0),
                _ => false,
            };
            bool flagsShown = shape.L4 == OdpL4.Tcp && Show((m.TcpFlags & 0xFFF) != 0);
            ndShown = ndShown && Show(!m.NdTarget.IsZero || !m.ArpSha.IsZero || !m.ArpTha.IsZero);

            if (k.EthType < OdpFlowShape.EthTypeMin)
            {
                // 802.3 (no Ethertype): OVS omits the key attribute and prints the mask alone.
                if (_hasMask && m.EthType != 0)
                {
                    Open("eth_type");
                    _sb.Append("0/0xffff)");
                }
            }
            else if (Show(m.EthType != 0) || (!l3Shown && (l4Shown || flagsShown)))
            {
                // The second condition keeps the text parseable: an L4 attribute needs its IP version.
                Open("eth_type");
                OdpText.Hex4(_sb, k.EthType);
                if (_hasMask && m.EthType != 0xFFFF)
                {
                    _sb.Append('/');
                    OdpText.Hex4(_sb, m.EthType);
                }
                _sb.Append(')');
            }

            if (l3Shown)
            {
                switch (shape.L3)
                {
                    case OdpL3.Ipv4:
                        Ipv4Attribute(k, m);
                        break;
                    case OdpL3.Ipv6:
                        Ipv6Attribute(k, m);
                        break;
                    case OdpL3.Arp:
                        Open("arp");
                        Ipv4("sip", k.Ipv4Src, m.Ipv4Src);
                        Ipv4("tip", k.Ipv4Dst, m.Ipv4Dst);
                        // The opcode is 16 bits in ODP but 8 in the key: an exact byte mask prints as /0xff, as OVS.
                        Be16Dec("op", k.NwProto, (ushort)(_hasMask ? m.NwProto : 0xFFFF));
                        Mac("sha", k.ArpSha, m.ArpSha);
                        Mac("tha", k.ArpTha, m.ArpTha);
                        Close();
                        break;
                }
            }

            if (l4Shown)
            {
                switch (shape.L4)
                {
                    case OdpL4.Tcp or OdpL4.Udp or OdpL4.Sctp:
                        PortsAttribute(shape.L4 == OdpL4.Tcp ? "tcp" : shape.L4 == OdpL4.Udp ? "udp" : "sctp", k, m);
                        break;
                    case OdpL4.Icmp or OdpL4.Icmpv6:
                        Open(shape.L4 == OdpL4.Icmp ? "icmp" : "icmpv6");
                        U8Dec("type", (byte)k.TpSrc, (byte)m.TpSrc);
                        U8Dec("code", (byte)k.TpDst, (byte)m.TpDst);
                        Close();
                        break;
                }
            }

            if (flagsShown)
            {
                Open("tcp_flags");
                uint flags = k.TcpFlags & 0xFFFu, fmask = m.TcpFlags & 0xFFFu;
                if (!_hasMask || fmask == 0xFFF) OdpText.TcpFlags(_sb, flags);
                else OdpText.TcpFlagsMasked(_sb, flags, fmask);
                _sb.Append(')');
            }

            if (ndShown)
            {
                Open("nd");
                Ipv6("target", k.NdTarget, m.NdTarget);
                Mac("sll", k.ArpSha, m.ArpSha);
                Mac("tll", k.ArpTha, m.ArpTha);
                Close();
            }
        }

        /// <summary><c>ipv4(src=,dst=,proto=,tos=,ttl=,frag=)</c>, as a key attribute and inside <c>set(...)</c>.</summary>
        private void Ipv4Attribute(in FlowKey k, in FlowKey m)
        {
            Open("ipv4");
            Ipv4("src", k.Ipv4Src, m.Ipv4Src);
            Ipv4("dst", k.Ipv4Dst, m.Ipv4Dst);
            U8Dec("proto", k.NwProto, m.NwProto);
            U8Hex("tos", k.NwTos, m.NwTos);
            U8Dec("ttl", k.NwTtl, m.NwTtl);
            Frag(k.NwFrag, m.NwFrag);
            Close();
        }

        /// <summary><c>ipv6(src=,dst=,label=,proto=,tclass=,hlimit=,frag=)</c>.</summary>
        private void Ipv6Attribute(in FlowKey k, in FlowKey m)
        {
            Open("ipv6");
            Ipv6("src", k.Ipv6Src, m.Ipv6Src);
            Ipv6("dst", k.Ipv6Dst, m.Ipv6Dst);
            Label(k.Ipv6Label, m.Ipv6Label);
            U8Dec("proto", k.NwProto, m.NwProto);
            U8Hex("tclass", k.NwTos, m.NwTos);
            U8Dec("hlimit", k.NwTtl, m.NwTtl);
            Frag(k.NwFrag, m.NwFrag);
            Close();
        }

        /// <summary><c>tcp|udp|sctp(src=,dst=)</c>.</summary>
        private void PortsAttribute(string name, in FlowKey k, in FlowKey m)
        {
            Open(name);
            Be16Dec("src", k.TpSrc, m.TpSrc);
            Be16Dec("dst", k.TpDst, m.TpDst);
            Close();
        }

        private static bool IpCommonMasked(in FlowKey m) =>
            m.NwProto != 0 || m.NwTos != 0 || m.NwTtl != 0 || (m.NwFrag & FlowKey.FragAny) != 0;

        public void SetTarget(OdpSetTarget target, in FlowKey k, in FlowKey m)
        {
            switch (target)
            {
                case OdpSetTarget.Ethernet:
                    Open("eth");
                    Mac("src", k.EthSrc, m.EthSrc);
                    Mac("dst", k.EthDst, m.EthDst);
                    Close();
                    break;
                case OdpSetTarget.Ipv4:
                    Ipv4Attribute(k, m);
                    break;
                case OdpSetTarget.Ipv6:
                    Ipv6Attribute(k, m);
                    break;
                case OdpSetTarget.Tcp or OdpSetTarget.Udp or OdpSetTarget.Sctp:
                    PortsAttribute(target == OdpSetTarget.Tcp ? "tcp" : target == OdpSetTarget.Udp ? "udp" : "sctp", k, m);
                    break;
                case OdpSetTarget.SkbPriority:
                    U32Attr("skb_priority", k.SkbPriority, m.SkbPriority, always: true);
                    break;
                case OdpSetTarget.SkbMark:
                    U32Attr("skb_mark", k.SkbMark, m.SkbMark, always: true);
                    break;
            }
        }

        private void U32Attr(string name, uint v, uint m, bool always = false)
        {
            if (!always && !Show(m != 0)) return;
            Open(name);
            OdpText.AltHex(_sb, v);
            if (_hasMask && m != uint.MaxValue)
            {
                _sb.Append('/');
                OdpText.AltHex(_sb, m);
            }
            _sb.Append(')');
        }

        private readonly void Mac(string name, MacAddress v, MacAddress m)
        {
            if (!Show(!m.IsZero)) return;
            _sb.Append(name).Append('=');
            OdpText.Mac(_sb, v);
            if (_hasMask && !m.IsBroadcast)
            {
                _sb.Append('/');
                OdpText.Mac(_sb, m);
            }
            _sb.Append(',');
        }

        private readonly void Ipv4(string name, uint v, uint m)
        {
            if (!Show(m != 0)) return;
            _sb.Append(name).Append('=');
            OdpText.Ipv4(_sb, v);
            if (_hasMask && m != uint.MaxValue)
            {
                _sb.Append('/');
                OdpText.Ipv4(_sb, m);
            }
            _sb.Append(',');
        }

        private readonly void Ipv6(string name, Ipv6Address v, Ipv6Address m)
        {
            if (!Show(!m.IsZero)) return;
            _sb.Append(name).Append('=');
            OdpText.Ipv6(_sb, v);
            if (_hasMask && m != Ipv6Address.AllOnes)
            {
                _sb.Append('/');
                OdpText.Ipv6(_sb, m);
            }
            _sb.Append(',');
        }

        private readonly void Label(uint v, uint m) => Number("label", v & LabelMask, m & LabelMask, LabelMask, hexValue: true);

        private readonly void U8Dec(string name, byte v, byte m) => Number(name, v, m, 0xFF, hexValue: false);

        private readonly void U8Hex(string name, byte v, byte m) => Number(name, v, m, 0xFF, hexValue: true);

        private readonly void Be16Dec(string name, ushort v, ushort m) => Number(name, v, m, 0xFFFF, hexValue: false);

        /// <summary><c>name=value[/mask],</c>: skipped when wildcarded (unless verbose); the mask printed in hex when not
        /// <paramref name="exact"/>; the value in decimal or hex as OVS prints that field.</summary>
        private readonly void Number(string name, ulong v, ulong m, ulong exact, bool hexValue)
        {
            if (!Show(m != 0)) return;
            _sb.Append(name).Append('=');
            if (hexValue) OdpText.AltHex(_sb, v); else OdpText.Dec(_sb, v);
            if (_hasMask && m != exact)
            {
                _sb.Append('/');
                OdpText.AltHex(_sb, m);
            }
            _sb.Append(',');
        }

        private readonly void Frag(byte v, byte m)
        {
            // ODP frag is an enumeration: printed only when matched, never with a mask (even verbose), as OVS.
            if (_hasMask && (m & FlowKey.FragAny) == 0) return;
            _sb.Append("frag=").Append(OdpText.FragName(v)).Append(',');
        }
    }
}
