using Vswitch.Packets;

namespace Vswitch.Datapath.Odp;

/// <summary>Parses datapath action text (odp_actions_from_string syntax) into <see cref="OdpAction"/>s.</summary>
internal sealed class OdpActionReader : OdpTextReader
{
    private const int MaxDepth = 32;

    public OdpActionReader(string text, int start, int end) : base(text, start, end)
    {
    }

    public OdpActionList? Result { get; private set; }

    /// <summary>Parses the whole range: <c>drop</c>, empty, or a list of actions separated by commas or spaces.</summary>
    public bool ParseAll()
    {
        SkipDelimiters();
        int start = Pos;
        if (End - Pos >= 4 && S.AsSpan(Pos, 4).Equals("drop", StringComparison.OrdinalIgnoreCase))
        {
            Pos += 4;
            SkipDelimiters();
            if (AtEnd)
            {
                Result = OdpActionList.Drop;
                return true;
            }
            Pos = start;
        }
        var list = new List<OdpAction>();
        while (true)
        {
            SkipDelimiters();
            if (AtEnd) break;
            if (!Action(list, 0)) return false;
            if (!AtEnd && !IsDelimiter(Peek))
                return Fail(Pos, $"expected ',' between actions but found '{Snippet(Pos)}'");
        }
        Result = list.Count == 0 ? OdpActionList.Drop : new OdpActionList(list);
        return true;
    }

    /// <summary>A nested list up to and including ')'. <c>drop</c> inside means empty (as printed by OVS).</summary>
    private bool NestedList(string context, int depth, out OdpActionList actions)
    {
        actions = OdpActionList.Drop;
        if (depth >= MaxDepth) return Fail(Pos, $"{context}: actions nested too deeply");
        var list = new List<OdpAction>();
        bool sawDrop = false;
        while (true)
        {
            SkipDelimiters();
            if (AtEnd) return Fail(Pos, $"{context}: missing ')'");
            if (TryConsume(')')) break;
            int at = Pos;
            if (TryConsume("drop") && (Peek == ')' || IsDelimiter(Peek)))
            {
                if (sawDrop || list.Count > 0) return Fail(at, $"{context}: 'drop' must be the only action");
                sawDrop = true;
                continue;
            }
            Pos = at;
            if (sawDrop) return Fail(at, $"{context}: 'drop' must be the only action");
            if (!Action(list, depth)) return false;
            if (Peek != ')' && !IsDelimiter(Peek) && !AtEnd)
                return Fail(Pos, $"{context}: expected ',' between actions but found '{Snippet(Pos)}'");
        }
        if (list.Count > 0) actions = new OdpActionList(list);
        return true;
    }

    private bool Action(List<OdpAction> list, int depth)
    {
        int at = Pos;
        if (char.IsAsciiDigit(Peek))
        {
            if (!Number("output", uint.MaxValue, out ulong port)) return false;
            list.Add(new OutputAction((uint)port));
            return true;
        }
        var name = Name();
        if (name.IsEmpty) return Fail(at, $"expected an action but found '{Snippet(at)}'");
        if (name.SequenceEqual("pop_vlan"))
        {
            list.Add(PopVlanAction.Instance);
            return true;
        }
        if (Peek != '(')
            return Fail(at, name.SequenceEqual("drop") ? "'drop' must be the only action" : $"unknown action '{name}'");
        switch (name)
        {
            case "push_vlan": Pos++; return PushVlan(list);
            case "set": Pos++; return Set(list);
            case "sample": Pos++; return Sample(list, depth);
            case "userspace": Pos++; return Userspace(list);
            case "clone":
            {
                Pos++;
                if (!NestedList("clone", depth + 1, out var nested)) return false;
                list.Add(new CloneAction(nested));
                return true;
            }
            case "trunc":
            {
                Pos++;
                if (!Number("trunc", uint.MaxValue, out ulong len)) return false;
                list.Add(new TruncAction((uint)len));
                return Expect(')', "trunc");
            }
            default:
                return Fail(at, $"unknown action '{name}'");
        }
    }

    private bool PushVlan(List<OdpAction> list)
    {
        ulong tpid = 0x8100, vid = 0, pcp = 0, cfi = 1;
        bool hasVid = false, hasPcp = false;
        uint seen = 0;
        int start = Pos;
        while (true)
        {
            int fieldAt = Pos;
            var field = Name();
            int bit = field switch { "tpid" => 0, "vid" => 1, "pcp" => 2, "cfi" => 3, _ => -1 };
            if (bit < 0 || !TryConsume('=')) return Fail(fieldAt, $"push_vlan: unknown field '{Snippet(fieldAt)}'");
            if ((seen & (1u << bit)) != 0) return Fail(fieldAt, $"push_vlan: duplicate field '{field}'");
            seen |= 1u << bit;
            bool ok = bit switch
            {
                0 => Number("push_vlan(tpid=...)", 0xFFFF, out tpid),
                1 => hasVid = Number("push_vlan(vid=...)", 0xFFF, out vid),
                2 => hasPcp = Number("push_vlan(pcp=...)", 7, out pcp),
                _ => Number("push_vlan(cfi=...)", uint.MaxValue, out cfi),
            };
            if (!ok) return false;
            if (TryConsume(',')) continue;
            if (!Expect(')', "push_vlan")) return false;
            break;
        }
        if (!hasVid) return Fail(start, "push_vlan: missing vid=");
        if (!hasPcp) return Fail(start, "push_vlan: missing pcp=");
        ushort tci = (ushort)(vid | pcp << 13 | (cfi != 0 ? FlowKey.VlanCfi : 0u));
        list.Add(new PushVlanAction((ushort)tpid, tci));
        return true;
    }

    private bool Set(List<OdpAction> list)
    {
        var reader = new OdpKeyReader(S, Pos, End, keyOnly: false);
        if (!reader.SetAttribute(out var target))
            return Fail(reader.Error.Offset, reader.Error.Message);
        Pos = reader.Position;
        if (!Expect(')', "set")) return false;
        FlowKey full = SetAction.TargetMask(target);
        FlowKey mask = FlowKey.ApplyMask(in reader.Mask, in full);
        FlowKey value = FlowKey.ApplyMask(in reader.Key, in mask);
        list.Add(new SetAction(target, value, mask, masked: mask != full));
        return true;
    }

    private bool Sample(List<OdpAction> list, int depth)
    {
        int at = Pos;
        if (!TryConsume("sample=")) return Fail(at, "sample: expected sample=P%");
        int numAt = Pos;
        if (!Decimal("sample(sample=...)", out double percent)) return false;
        if (percent > 100.0) return Fail(numAt, $"sample(sample=...): {Token(numAt)}% is more than 100%");
        if (!Expect('%', "sample(sample=...)")) return false;
        if (!TryConsume(",actions(")) return Fail(Pos, "sample: expected ',actions(' after the probability");
        if (!NestedList("sample(actions(...))", depth + 1, out var nested)) return false;
        if (!Expect(')', "sample")) return false;
        double p = Math.Floor(uint.MaxValue * (percent / 100.0) + 0.5);
        uint probability = p <= 0 ? 0 : p >= uint.MaxValue ? uint.MaxValue : (uint)p;
        list.Add(new SampleAction(probability, nested));
        return true;
    }

    private bool Userspace(List<OdpAction> list)
    {
        if (!TryConsume("pid=")) return Fail(Pos, "userspace: expected pid=");
        if (!Number("userspace(pid=...)", uint.MaxValue, out ulong pid)) return false;
        byte[]? userdata = null;
        if (TryConsume(",userdata("))
        {
            int at = Pos;
            var bytes = new List<byte>();
            while (char.IsAsciiHexDigit(Peek))
            {
                if (!char.IsAsciiHexDigit(PeekAt(1))) return Fail(at, "userspace(userdata(...)): odd number of hex digits");
                bytes.Add((byte)(HexValue(S[Pos]) << 4 | HexValue(S[Pos + 1])));
                Pos += 2;
            }
            if (!Expect(')', "userspace(userdata(...))")) return false;
            userdata = bytes.ToArray();
        }
        if (!Expect(')', "userspace")) return false;
        list.Add(new UserspaceAction((uint)pid, userdata));
        return true;
    }

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
