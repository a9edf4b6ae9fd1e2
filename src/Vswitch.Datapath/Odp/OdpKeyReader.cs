using Vswitch.Packets;

namespace Vswitch.Datapath.Odp;

/// <summary>
/// Parses datapath key text (odp_flow_from_string syntax) into a <see cref="FlowKey"/> and its mask. Attributes are
/// collected first and resolved at the end (VLAN levels, inferred Ethertype and IP protocol, structural checks), so
/// their order in the text does not matter, as in Open vSwitch.
/// </summary>
internal sealed class OdpKeyReader : OdpTextReader
{
    private const ushort VidMax = 0x0FFF;

    private struct Level
    {
        public bool HasEthType, HasVlan, HasEncap;
        public ushort EthType, EthTypeMask, Tci, TciMask;
        public int EthTypeAt, VlanAt, EncapAt;
    }

    private readonly bool _keyOnly;
    private FlowKey _key;
    private FlowKey _mask;
    private Level _level0, _level1, _level2;
    private uint _topSeen;                 // bit per top-level attribute (see TopBit)
    private OdpL3 _l3;
    private int _l3Level, _l3At;
    private OdpL4 _l4;
    private int _l4Level, _l4At;
    private bool _protoGiven, _hasTcpFlags, _hasNd;
    private int _tcpFlagsLevel, _tcpFlagsAt, _ndLevel, _ndAt;

    public OdpKeyReader(string text, int start, int end, bool keyOnly) : base(text, start, end) => _keyOnly = keyOnly;

    public ref readonly FlowKey Key => ref _key;
    public ref readonly FlowKey Mask => ref _mask;

    private ref Level LevelAt(int i)
    {
        if (i == 0) return ref _level0;
        if (i == 1) return ref _level1;
        return ref _level2;
    }

    /// <summary>Parses the whole range as a flow key.</summary>
    public bool ParseFlow()
    {
        SkipDelimiters();
        if (TryConsume("ufid:"))
        {
            // dpctl/dump-flows can prefix the key with its UFID; it is not part of the key.
            while (!AtEnd && !IsDelimiter(Peek)) Pos++;
        }
        if (!Attributes(0)) return false;
        return Resolve();
    }

    private bool Attributes(int level)
    {
        while (true)
        {
            SkipDelimiters();
            if (AtEnd)
            {
                if (level == 0) return true;
                return Fail(Pos, "encap: missing ')'");
            }
            if (level > 0 && Peek == ')')
            {
                Pos++;
                return true;
            }
            if (!Attribute(level)) return false;
        }
    }

    private static uint TopBit(ReadOnlySpan<char> name) => name switch
    {
        "recirc_id" => 1,
        "dp_hash" => 2,
        "skb_priority" => 4,
        "skb_mark" => 8,
        "in_port" => 16,
        "eth" => 32,
        "packet_type" => 64,
        _ => 0,
    };

    private bool Attribute(int level)
    {
        int at = Pos;
        var name = Name();
        if (name.IsEmpty) return Fail(at, $"expected an attribute name but found '{Snippet(at)}'");
        string attr = AttrName(name);
        if (attr.Length == 0) return Fail(at, $"unknown attribute '{name}'");
        if (!Expect('(', attr)) return false;

        uint top = TopBit(name);
        if (top != 0)
        {
            if (level > 0) return Fail(at, $"{attr}: only allowed at the top level, not inside encap(...)");
            if ((_topSeen & top) != 0) return Fail(at, $"duplicate attribute '{attr}'");
            _topSeen |= top;
        }

        switch (attr)
        {
            case "recirc_id": return U32Single(attr, ref _key.RecircId, ref _mask.RecircId);
            case "dp_hash": return U32Single(attr, ref _key.DpHash, ref _mask.DpHash);
            case "skb_priority": return U32Single(attr, ref _key.SkbPriority, ref _mask.SkbPriority);
            case "skb_mark": return U32Single(attr, ref _key.SkbMark, ref _mask.SkbMark);
            case "in_port": return U32Single(attr, ref _key.InPort, ref _mask.InPort);
            case "eth": return Fields(attr, FieldSet.Eth);
            case "packet_type": return PacketType();
            case "eth_type":
            {
                ref var lv = ref LevelAt(level);
                if (lv.HasEthType) return Fail(at, "duplicate attribute 'eth_type'");
                lv.HasEthType = true;
                lv.EthTypeAt = at;
                if (!Masked16(attr, 0xFFFF, out lv.EthType, out lv.EthTypeMask)) return false;
                return Expect(')', attr);
            }
            case "vlan":
            {
                ref var lv = ref LevelAt(level);
                if (lv.HasVlan) return Fail(at, "duplicate attribute 'vlan'");
                lv.HasVlan = true;
                lv.VlanAt = at;
                lv.Tci = FlowKey.VlanCfi;
                lv.TciMask = FlowKey.VlanCfi;
                return Vlan(level);
            }
            case "encap":
            {
                ref var lv = ref LevelAt(level);
                if (lv.HasEncap) return Fail(at, "duplicate attribute 'encap'");
                if (level >= 2) return Fail(at, "encap: at most 2 VLAN tags are supported");
                lv.HasEncap = true;
                lv.EncapAt = at;
                return Attributes(level + 1);
            }
            case "ipv4": return L3(OdpL3.Ipv4, level, at) && Fields(attr, FieldSet.Ipv4);
            case "ipv6": return L3(OdpL3.Ipv6, level, at) && Fields(attr, FieldSet.Ipv6);
            case "arp": return L3(OdpL3.Arp, level, at) && Fields(attr, FieldSet.Arp);
            case "tcp": return L4(OdpL4.Tcp, level, at) && Fields(attr, FieldSet.Ports);
            case "udp": return L4(OdpL4.Udp, level, at) && Fields(attr, FieldSet.Ports);
            case "sctp": return L4(OdpL4.Sctp, level, at) && Fields(attr, FieldSet.Ports);
            case "icmp": return L4(OdpL4.Icmp, level, at) && Fields(attr, FieldSet.Icmp);
            case "icmpv6": return L4(OdpL4.Icmpv6, level, at) && Fields(attr, FieldSet.Icmp);
            case "tcp_flags":
                if (_hasTcpFlags) return Fail(at, "duplicate attribute 'tcp_flags'");
                _hasTcpFlags = true;
                _tcpFlagsLevel = level;
                _tcpFlagsAt = at;
                return TcpFlags();
            case "nd":
                if (_hasNd) return Fail(at, "duplicate attribute 'nd'");
                _hasNd = true;
                _ndLevel = level;
                _ndAt = at;
                return Fields(attr, FieldSet.Nd);
            default:
                return Fail(at, $"unknown attribute '{attr}'");
        }
    }

    private static string AttrName(ReadOnlySpan<char> name) => name switch
    {
        "recirc_id" => "recirc_id",
        "dp_hash" => "dp_hash",
        "skb_priority" => "skb_priority",
        "skb_mark" => "skb_mark",
        "in_port" => "in_port",
        "eth" => "eth",
        "packet_type" => "packet_type",
        "eth_type" => "eth_type",
        "vlan" => "vlan",
        "encap" => "encap",
        "ipv4" => "ipv4",
        "ipv6" => "ipv6",
        "arp" => "arp",
        "tcp" => "tcp",
        "udp" => "udp",
        "sctp" => "sctp",
        "icmp" => "icmp",
        "icmpv6" => "icmpv6",
        "tcp_flags" => "tcp_flags",
        "nd" => "nd",
        _ => "",
    };

    /// <summary>For set(...): parses one settable attribute into the key/mask. The reader must be positioned at its name.</summary>
    public bool SetAttribute(out OdpSetTarget target)
    {
        target = default;
        int at = Pos;
        var name = Name();
        string attr = AttrName(name);
        if (attr.Length == 0) return Fail(at, name.IsEmpty ? $"set: expected an attribute but found '{Snippet(at)}'" : $"set: unknown attribute '{name}'");
        if (!Expect('(', attr)) return false;
        switch (attr)
        {
            case "eth": target = OdpSetTarget.Ethernet; return Fields(attr, FieldSet.Eth);
            case "ipv4": target = OdpSetTarget.Ipv4; return Fields(attr, FieldSet.Ipv4);
            case "ipv6": target = OdpSetTarget.Ipv6; return Fields(attr, FieldSet.Ipv6);
            case "tcp": target = OdpSetTarget.Tcp; return Fields(attr, FieldSet.Ports);
            case "udp": target = OdpSetTarget.Udp; return Fields(attr, FieldSet.Ports);
            case "sctp": target = OdpSetTarget.Sctp; return Fields(attr, FieldSet.Ports);
            case "skb_priority": target = OdpSetTarget.SkbPriority; return U32Single(attr, ref _key.SkbPriority, ref _mask.SkbPriority);
            case "skb_mark": target = OdpSetTarget.SkbMark; return U32Single(attr, ref _key.SkbMark, ref _mask.SkbMark);
            default: return Fail(at, $"set: cannot set '{attr}'");
        }
    }

    private bool L3(OdpL3 kind, int level, int at)
    {
        if (_l3 != OdpL3.None)
            return Fail(at, _l3 == kind ? $"duplicate attribute '{L3Name(kind)}'" : $"{L3Name(kind)}: conflicts with {L3Name(_l3)}(...) (one of ipv4, ipv6, arp)");
        _l3 = kind;
        _l3Level = level;
        _l3At = at;
        return true;
    }

    private bool L4(OdpL4 kind, int level, int at)
    {
        if (_l4 != OdpL4.None)
            return Fail(at, _l4 == kind ? $"duplicate attribute '{L4Name(kind)}'" : $"{L4Name(kind)}: conflicts with {L4Name(_l4)}(...)");
        _l4 = kind;
        _l4Level = level;
        _l4At = at;
        return true;
    }

    private static string L3Name(OdpL3 kind) => kind switch { OdpL3.Ipv4 => "ipv4", OdpL3.Ipv6 => "ipv6", _ => "arp" };

    private static string L4Name(OdpL4 kind) => kind switch
    {
        OdpL4.Tcp => "tcp", OdpL4.Udp => "udp", OdpL4.Sctp => "sctp", OdpL4.Icmp => "icmp", _ => "icmpv6",
    };

    private bool NoMaskAllowed(OdpCtx context)
    {
        if (Peek == '/' && _keyOnly) return Fail(Pos, $"{context}: a key without mask cannot have '/mask'");
        return true;
    }

    private bool U32Single(string attr, ref uint key, ref uint mask)
    {
        if (!Number(attr, uint.MaxValue, out ulong v)) return false;
        ulong m = uint.MaxValue;
        if (!NoMaskAllowed(attr)) return false;
        if (TryConsume('/') && !Number(((OdpCtx)attr).Mask(), uint.MaxValue, out m)) return false;
        key = (uint)v;
        mask = (uint)m;
        return Expect(')', attr);
    }

    private bool Masked16(OdpCtx context, ulong max, out ushort value, out ushort mask)
    {
        value = mask = 0;
        if (!Number(context, max, out ulong v)) return false;
        ulong m = max;
        if (!NoMaskAllowed(context)) return false;
        if (TryConsume('/') && !Number(context.Mask(), max, out m)) return false;
        value = (ushort)v;
        mask = (ushort)m;
        return true;
    }

    private bool Masked8(OdpCtx context, out byte value, out byte mask)
    {
        bool ok = Masked16(context, 0xFF, out ushort v, out ushort m);
        value = (byte)v;
        mask = (byte)m;
        return ok;
    }

    private bool PacketType()
    {
        // Accepted for pasting dpif-netdev output; only Ethernet packets exist here.
        ulong ns = 0, id = 0;
        int at = Pos;
        while (Peek != ')')
        {
            int fieldAt = Pos;
            var field = Name();
            if (!TryConsume('=')) return Fail(fieldAt, $"packet_type: unknown field '{Snippet(fieldAt)}'");
            if (field.SequenceEqual("ns")) { if (!Number("packet_type(ns=...)", 0xFFFF, out ns)) return false; }
            else if (field.SequenceEqual("id")) { if (!Number("packet_type(id=...)", 0xFFFF, out id)) return false; }
            else return Fail(fieldAt, $"packet_type: unknown field '{field}'");
            if (!TryConsume(',')) break;
        }
        if (ns != 0 || id != 0) return Fail(at, "packet_type: only Ethernet packets (ns=0,id=0) are supported");
        return Expect(')', "packet_type");
    }

    private enum FieldSet { Eth, Ipv4, Ipv6, Arp, Ports, Icmp, Nd }

    private bool Fields(string attr, FieldSet set)
    {
        uint seen = 0;
        if (TryConsume(')')) return true;
        while (true)
        {
            int fieldAt = Pos;
            var field = Name();
            if (field.IsEmpty) return Fail(fieldAt, $"{attr}: expected field=value but found '{Snippet(fieldAt)}'");
            int bit = FieldIndex(set, field);
            if (bit < 0) return Fail(fieldAt, $"{attr}: unknown field '{field}'");
            if (Peek != '=') return Fail(Pos, $"{attr}: expected '=' after '{field}'");
            if ((seen & (1u << bit)) != 0) return Fail(fieldAt, $"{attr}: duplicate field '{field}'");
            seen |= 1u << bit;
            Pos++; // '='
            if (!Field(attr, set, bit)) return false;
            if (TryConsume(',')) continue;
            if (TryConsume(')')) return true;
            return Fail(Pos, AtEnd ? $"{attr}: missing ')'" : $"{attr}: expected ',' or ')' but found '{Snippet(Pos)}'");
        }
    }

    private static int FieldIndex(FieldSet set, ReadOnlySpan<char> f) => set switch
    {
        FieldSet.Eth => f switch { "src" => 0, "dst" => 1, _ => -1 },
        FieldSet.Ipv4 => f switch { "src" => 0, "dst" => 1, "proto" => 2, "tos" => 3, "ttl" => 4, "frag" => 5, _ => -1 },
        FieldSet.Ipv6 => f switch { "src" => 0, "dst" => 1, "label" => 6, "proto" => 2, "tclass" => 3, "hlimit" => 4, "frag" => 5, _ => -1 },
        FieldSet.Arp => f switch { "sip" => 0, "tip" => 1, "op" => 2, "sha" => 3, "tha" => 4, _ => -1 },
        FieldSet.Ports => f switch { "src" => 0, "dst" => 1, _ => -1 },
        FieldSet.Icmp => f switch { "type" => 0, "code" => 1, _ => -1 },
        FieldSet.Nd => f switch { "target" => 0, "sll" => 1, "tll" => 2, _ => -1 },
        _ => -1,
    };

    private static readonly string[][] FieldNames =
    [
        ["src", "dst"],
        ["src", "dst", "proto", "tos", "ttl", "frag"],
        ["src", "dst", "proto", "tclass", "hlimit", "frag", "label"],
        ["sip", "tip", "op", "sha", "tha"],
        ["src", "dst"],
        ["type", "code"],
        ["target", "sll", "tll"],
    ];

    private static OdpCtx Ctx(string attr, FieldSet set, int bit) => new(attr, FieldNames[(int)set][bit]);

    private bool Field(string attr, FieldSet set, int bit)
    {
        switch (set)
        {
            case FieldSet.Eth:
                return bit == 0 ? MacField(attr, set, bit, ref _key.EthSrc, ref _mask.EthSrc)
                                : MacField(attr, set, bit, ref _key.EthDst, ref _mask.EthDst);
            case FieldSet.Ipv4 or FieldSet.Ipv6:
            {
                bool v6 = set == FieldSet.Ipv6;
                switch (bit)
                {
                    case 0: return v6 ? Ipv6Field(attr, set, bit, ref _key.Ipv6Src, ref _mask.Ipv6Src) : Ipv4Field(attr, set, bit, ref _key.Ipv4Src, ref _mask.Ipv4Src);
                    case 1: return v6 ? Ipv6Field(attr, set, bit, ref _key.Ipv6Dst, ref _mask.Ipv6Dst) : Ipv4Field(attr, set, bit, ref _key.Ipv4Dst, ref _mask.Ipv4Dst);
                    case 2:
                        _protoGiven = true;
                        return Masked8(Ctx(attr, set, bit), out _key.NwProto, out _mask.NwProto);
                    case 3: return Masked8(Ctx(attr, set, bit), out _key.NwTos, out _mask.NwTos);
                    case 4: return Masked8(Ctx(attr, set, bit), out _key.NwTtl, out _mask.NwTtl);
                    case 5: return Frag(Ctx(attr, set, bit));
                    default:
                    {
                        OdpCtx ctx = Ctx(attr, set, bit);
                        if (!Number(ctx, 0xFFFFF, out ulong v)) return false;
                        ulong m = 0xFFFFF;
                        if (!NoMaskAllowed(ctx)) return false;
                        if (TryConsume('/') && !Number(ctx.Mask(), 0xFFFFF, out m)) return false;
                        _key.Ipv6Label = (uint)v;
                        _mask.Ipv6Label = (uint)m;
                        return true;
                    }
                }
            }
            case FieldSet.Arp:
                switch (bit)
                {
                    case 0: return Ipv4Field(attr, set, bit, ref _key.Ipv4Src, ref _mask.Ipv4Src);
                    case 1: return Ipv4Field(attr, set, bit, ref _key.Ipv4Dst, ref _mask.Ipv4Dst);
                    case 2:
                    {
                        OdpCtx ctx = Ctx(attr, set, bit);
                        int at = Pos;
                        if (!Masked16(ctx, 0xFFFF, out ushort op, out ushort m)) return false;
                        if (op > 0xFF) return Fail(at, $"{ctx}: opcode {op} not supported (the key keeps 8 bits)");
                        if (m > 0xFF && m != 0xFFFF) return Fail(at, $"{ctx}: mask 0x{m:x} has bits above 0xff");
                        _key.NwProto = (byte)op;
                        _mask.NwProto = (byte)m;
                        return true;
                    }
                    case 3: return MacField(attr, set, bit, ref _key.ArpSha, ref _mask.ArpSha);
                    default: return MacField(attr, set, bit, ref _key.ArpTha, ref _mask.ArpTha);
                }
            case FieldSet.Ports:
                return bit == 0 ? Masked16(Ctx(attr, set, bit), 0xFFFF, out _key.TpSrc, out _mask.TpSrc)
                                : Masked16(Ctx(attr, set, bit), 0xFFFF, out _key.TpDst, out _mask.TpDst);
            case FieldSet.Icmp:
                return bit == 0 ? Masked16(Ctx(attr, set, bit), 0xFF, out _key.TpSrc, out _mask.TpSrc)
                                : Masked16(Ctx(attr, set, bit), 0xFF, out _key.TpDst, out _mask.TpDst);
            default:
                return bit switch
                {
                    0 => Ipv6Field(attr, set, bit, ref _key.NdTarget, ref _mask.NdTarget),
                    1 => MacField(attr, set, bit, ref _key.ArpSha, ref _mask.ArpSha),
                    _ => MacField(attr, set, bit, ref _key.ArpTha, ref _mask.ArpTha),
                };
        }
    }

    private bool MacField(string attr, FieldSet set, int bit, ref MacAddress key, ref MacAddress mask)
    {
        if (!Mac(Ctx(attr, set, bit), out key)) return false;
        mask = MacAddress.Broadcast;
        if (!NoMaskAllowed(Ctx(attr, set, bit))) return false;
        return !TryConsume('/') || Mac(Ctx(attr, set, bit).Mask(), out mask);
    }

    private bool Ipv4Field(string attr, FieldSet set, int bit, ref uint key, ref uint mask)
    {
        if (!Ipv4(Ctx(attr, set, bit), out key)) return false;
        mask = uint.MaxValue;
        if (!NoMaskAllowed(Ctx(attr, set, bit))) return false;
        return !TryConsume('/') || Ipv4Mask(Ctx(attr, set, bit).Mask(), out mask);
    }

    private bool Ipv6Field(string attr, FieldSet set, int bit, ref Ipv6Address key, ref Ipv6Address mask)
    {
        if (!Ipv6(Ctx(attr, set, bit), out key)) return false;
        mask = Ipv6Address.AllOnes;
        if (!NoMaskAllowed(Ctx(attr, set, bit))) return false;
        return !TryConsume('/') || Ipv6Mask(Ctx(attr, set, bit).Mask(), out mask);
    }

    private bool Frag(OdpCtx ctx)
    {
        int at = Pos;
        var word = Name();
        if (word.SequenceEqual("no")) _key.NwFrag = 0;
        else if (word.SequenceEqual("first")) _key.NwFrag = FlowKey.FragAny;
        else if (word.SequenceEqual("later")) _key.NwFrag = FlowKey.FragAny | FlowKey.FragLater;
        else return Fail(at, $"{ctx}: expected no, first or later but found '{Snippet(at)}'");
        _mask.NwFrag = FlowKey.FragAny | FlowKey.FragLater;
        if (Peek == '/') return Fail(Pos, $"{ctx}: frag cannot have a mask");
        return true;
    }

    private bool Vlan(int level)
    {
        ref var lv = ref LevelAt(level);
        uint seen = 0;
        if (TryConsume(')')) return true;
        while (true)
        {
            int fieldAt = Pos;
            var field = Name();
            int bit = field switch { "vid" => 0, "pcp" => 1, "cfi" => 2, _ => -1 };
            if (bit < 0 || Peek != '=') return Fail(fieldAt, $"vlan: unknown field '{Snippet(fieldAt)}'");
            if ((seen & (1u << bit)) != 0) return Fail(fieldAt, $"vlan: duplicate field '{field}'");
            seen |= 1u << bit;
            Pos++;
            int at = Pos;
            switch (bit)
            {
                case 0:
                    if (!Masked16("vlan(vid=...)", VidMax, out ushort vid, out ushort vidMask)) return false;
                    lv.Tci |= vid;
                    lv.TciMask |= vidMask;
                    break;
                case 1:
                    if (!Masked16("vlan(pcp=...)", 7, out ushort pcp, out ushort pcpMask)) return false;
                    lv.Tci |= (ushort)(pcp << 13);
                    lv.TciMask |= (ushort)(pcpMask << 13);
                    break;
                default:
                    if (!Masked16("vlan(cfi=...)", 1, out ushort cfi, out _)) return false;
                    if (cfi == 0) return Fail(at, "vlan(cfi=...): cfi=0 (no tag present) cannot be matched inside vlan(...)");
                    break;
            }
            if (TryConsume(',')) continue;
            if (TryConsume(')')) return true;
            return Fail(Pos, AtEnd ? "vlan: missing ')'" : $"vlan: expected ',' or ')' but found '{Snippet(Pos)}'");
        }
    }

    private bool TcpFlags()
    {
        OdpCtx ctx = "tcp_flags";
        uint value = 0, mask = 0xFFF;
        if (char.IsAsciiDigit(Peek))
        {
            if (!Number(ctx, 0xFFF, out ulong v)) return false;
            ulong m = 0xFFF;
            if (!NoMaskAllowed(ctx)) return false;
            if (TryConsume('/') && !Number(ctx.Mask(), 0xFFF, out m)) return false;
            value = (uint)v;
            mask = (uint)m;
        }
        else if (Peek is '+' or '-')
        {
            if (_keyOnly) return Fail(Pos, $"{ctx}: a key without mask cannot use +flag/-flag");
            mask = 0;
            while (Peek is '+' or '-')
            {
                bool set = S[Pos] == '+';
                Pos++;
                if (!FlagBit(ctx, out int bit)) return false;
                mask |= 1u << bit;
                if (set) value |= 1u << bit;
                else value &= ~(1u << bit);
            }
        }
        else if (Peek != ')')
        {
            while (true)
            {
                if (!FlagBit(ctx, out int bit)) return false;
                value |= 1u << bit;
                if (!TryConsume('|')) break;
            }
        }
        _key.TcpFlags = (ushort)value;
        _mask.TcpFlags = (ushort)mask;
        return Expect(')', ctx);
    }

    private bool FlagBit(OdpCtx ctx, out int bit)
    {
        int at = Pos;
        while (Pos < End && (char.IsAsciiLetterOrDigit(S[Pos]) || S[Pos] is '[' or ']')) Pos++;
        bit = OdpText.TcpFlagBit(Token(at));
        return bit >= 0 || Fail(at, $"{ctx}: unknown flag '{Snippet(at)}'");
    }

    /// <summary>Resolves VLAN levels, the innermost Ethertype, inferred values and structural rules.</summary>
    private bool Resolve()
    {
        int inner = -1;
        for (int i = 0; i < 3; i++)
        {
            ref var lv = ref LevelAt(i);
            if (lv.HasVlan)
            {
                if (i == 2) return Fail(lv.VlanAt, "vlan: at most 2 VLAN tags are supported");
                if (!lv.HasEthType) return Fail(lv.VlanAt, "vlan: needs the tag's eth_type (0x8100 or 0x88a8) next to it");
                if (i == 0)
                {
                    _key.Vlan0Tpid = lv.EthType; _mask.Vlan0Tpid = lv.EthTypeMask;
                    _key.Vlan0Tci = lv.Tci; _mask.Vlan0Tci = lv.TciMask;
                }
                else
                {
                    _key.Vlan1Tpid = lv.EthType; _mask.Vlan1Tpid = lv.EthTypeMask;
                    _key.Vlan1Tci = lv.Tci; _mask.Vlan1Tci = lv.TciMask;
                }
                if (!lv.HasEncap) break;
                continue;
            }
            if (lv.HasEncap) return Fail(lv.EncapAt, "encap: needs vlan(...) next to it");
            inner = i;
            break;
        }
        if (!_level0.HasVlan && !_keyOnly)
        {
            // A datapath key without a VLAN attribute matches only untagged packets (odp_flow_key_to_mask).
            _mask.Vlan0Tpid = 0xFFFF;
            _mask.Vlan0Tci = 0xFFFF;
        }

        if (_l3 != OdpL3.None && _l3Level != inner)
            return Fail(_l3At, $"{L3Name(_l3)}: not allowed next to vlan(...); put it inside encap(...)");
        if (_l4 != OdpL4.None && _l4Level != inner)
            return Fail(_l4At, $"{L4Name(_l4)}: not allowed next to vlan(...); put it inside encap(...)");
        if (_hasTcpFlags && _tcpFlagsLevel != inner)
            return Fail(_tcpFlagsAt, "tcp_flags: not allowed next to vlan(...); put it inside encap(...)");
        if (_hasNd && _ndLevel != inner)
            return Fail(_ndAt, "nd: not allowed next to vlan(...); put it inside encap(...)");
        if (inner < 0) return true;

        ref var il = ref LevelAt(inner);
        if (il.HasEthType)
        {
            if (il.EthType < OdpFlowShape.EthTypeMin)
            {
                if (!_keyOnly && il.EthTypeMask != 0xFFFF)
                    return Fail(il.EthTypeAt, "eth_type: 802.3 frames (no Ethertype) can only be matched exactly, as eth_type(0/0xffff)");
                _key.EthType = FlowKey.EthTypeNone;
                _mask.EthType = 0xFFFF;
            }
            else
            {
                _key.EthType = il.EthType;
                _mask.EthType = il.EthTypeMask;
            }
        }

        if (_l3 != OdpL3.None)
        {
            ushort expected = _l3 switch { OdpL3.Ipv4 => OdpFlowShape.EthTypeIpv4, OdpL3.Ipv6 => OdpFlowShape.EthTypeIpv6, _ => OdpFlowShape.EthTypeArp };
            if (!il.HasEthType) _key.EthType = expected;
            else if (OdpFlowShape.L3Of(_key.EthType) != _l3)
                return Fail(_l3At, $"{L3Name(_l3)}: eth_type is 0x{_key.EthType:x4}, not 0x{expected:x4}");
        }
        else if (!il.HasEthType && _keyOnly)
        {
            _key.EthType = FlowKey.EthTypeNone;
        }

        var l3 = OdpFlowShape.L3Of(_key.EthType);
        bool ip = l3 is OdpL3.Ipv4 or OdpL3.Ipv6;
        if (_l4 != OdpL4.None)
        {
            string name = L4Name(_l4);
            if (_l4 == OdpL4.Icmp && l3 != OdpL3.Ipv4) return Fail(_l4At, "icmp: needs eth_type(0x0800) or ipv4(...)");
            if (_l4 == OdpL4.Icmpv6 && l3 != OdpL3.Ipv6) return Fail(_l4At, "icmpv6: needs eth_type(0x86dd) or ipv6(...)");
            if (!ip) return Fail(_l4At, $"{name}: needs eth_type(0x0800) or eth_type(0x86dd)");
            byte proto = _l4 switch { OdpL4.Tcp => 6, OdpL4.Udp => 17, OdpL4.Sctp => 132, OdpL4.Icmp => 1, _ => 58 };
            if (_protoGiven && _key.NwProto != proto)
                return Fail(_l4At, $"{name}: the IP protocol is {_key.NwProto}, not {proto}");
            _key.NwProto = proto;
            if ((_key.NwFrag & FlowKey.FragLater) != 0)
                return Fail(_l4At, $"{name}: not allowed with frag=later (a later fragment has no L4 header)");
        }
        if (_hasTcpFlags)
        {
            if (_l4 != OdpL4.None && _l4 != OdpL4.Tcp) return Fail(_tcpFlagsAt, $"tcp_flags: not allowed with {L4Name(_l4)}(...)");
            if (!ip) return Fail(_tcpFlagsAt, "tcp_flags: needs eth_type(0x0800) or eth_type(0x86dd)");
            if (_protoGiven && _key.NwProto != 6) return Fail(_tcpFlagsAt, $"tcp_flags: the IP protocol is {_key.NwProto}, not 6");
            if ((_key.NwFrag & FlowKey.FragLater) != 0)
                return Fail(_tcpFlagsAt, "tcp_flags: not allowed with frag=later (a later fragment has no L4 header)");
            _key.NwProto = 6;
        }
        if (_hasNd)
        {
            if (_l4 != OdpL4.Icmpv6 || (_key.TpSrc != 135 && _key.TpSrc != 136) || _key.TpDst != 0)
                return Fail(_ndAt, "nd: needs icmpv6(type=135 or 136,code=0)");
            if (!_keyOnly && (_mask.TpSrc != 0xFF || _mask.TpDst != 0xFF))
                return Fail(_ndAt, "nd: needs the icmpv6 type and code matched exactly");
        }
        return true;
    }
}
