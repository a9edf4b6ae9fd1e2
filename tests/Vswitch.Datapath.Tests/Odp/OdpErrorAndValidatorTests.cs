using Vswitch.Datapath.Odp;
using Vswitch.Packets;

namespace Vswitch.Datapath.Tests.Odp;

public class OdpErrorAndValidatorTests
{
    public static TheoryData<string, string, string> FlowErrors => new()
    {
        // text, expected message, text at the expected offset
        { "in_port(1),eth_type(0x0800),ipv4(srcc=1.2.3.4)", "ipv4: unknown field 'srcc'", "srcc" },
        { "in_port(1),eth(src=00:01:02:03:04)", "eth(src=...): bad MAC address '00:01:02:03:04'", "00:01" },
        { "in_port(x)", "in_port: expected a number", "x)" },
        { "in_port(1),foo(1)", "unknown attribute 'foo'", "foo" },
        { "in_port(1),eth_type(0x8100),vlan(vid=4096),encap()", "vlan(vid=...): value 4096 out of range (max 4095)", "4096" },
        { "in_port(1),eth_type(0x86dd),ipv4(src=1.2.3.4)", "ipv4: eth_type is 0x86dd, not 0x0800", "ipv4" },
        { "in_port(1),eth_type(0x0800),ipv4(proto=17),tcp(dst=1)", "tcp: the IP protocol is 17, not 6", "tcp" },
        { "in_port(1),tcp(dst=1)", "tcp: needs eth_type(0x0800) or eth_type(0x86dd)", "tcp" },
        { "in_port(1),eth_type(0x0800),ipv4(frag=later),udp(dst=1)", "udp: not allowed with frag=later (a later fragment has no L4 header)", "udp" },
        { "in_port(1),eth_type(0x86dd),ipv6(proto=58),icmpv6(type=128),nd(target=::1)", "nd: needs icmpv6(type=135 or 136,code=0)", "nd(" },
        { "in_port(1),eth_type(0x86dd),icmpv6(type=135),nd(target=::1)", "nd: needs the icmpv6 type and code matched exactly", "nd(" },
        { "in_port(1),eth_type(0x0800),ipv4(src=1.2.3)", "ipv4(src=...): bad IPv4 address '1.2.3'", "1.2.3" },
        { "in_port(1),eth_type(0x86dd),ipv6(src=2001::db8::1)", "ipv6(src=...): bad IPv6 address '2001::db8::1'", "2001" },
        { "in_port(1),in_port(2)", "duplicate attribute 'in_port'", "in_port(2)" },
        { "in_port(1),eth_type(0x8100),encap(eth_type(0x0800))", "encap: needs vlan(...) next to it", "encap" },
        { "in_port(1),eth_type(0x8100),vlan(vid=1),encap(in_port(2))", "in_port: only allowed at the top level, not inside encap(...)", "in_port(2)" },
        { "in_port(1),eth_type(0x8100),vlan(vid=1),ipv4(src=1.1.1.1)", "ipv4: not allowed next to vlan(...); put it inside encap(...)", "ipv4" },
        { "in_port(1),vlan(vid=1)", "vlan: needs the tag's eth_type (0x8100 or 0x88a8) next to it", "vlan" },
        { "in_port(1),eth_type(0x8100),vlan(),encap(eth_type(0x8100),vlan(),encap(eth_type(0x8100),vlan(),encap()))", "encap: at most 2 VLAN tags are supported", "encap())" },
        { "in_port(1),eth_type(0x0800),ipv4(src=1.2.3.4", "ipv4: missing ')'", "" },
        { "in_port(1),eth_type(0x0800),ipv4(frag=maybe)", "ipv4(frag=...): expected no, first or later but found 'maybe'", "maybe" },
        { "in_port(1),eth_type(0x0800),ipv4(proto=6),tcp_flags(syn|foo)", "tcp_flags: unknown flag 'foo'", "foo" },
        { "in_port(1),eth_type(0x0100/0xff00)", "eth_type: 802.3 frames (no Ethertype) can only be matched exactly, as eth_type(0/0xffff)", "eth_type" },
        { "in_port(1),eth_type(0x8100),vlan(cfi=0),encap()", "vlan(cfi=...): cfi=0 (no tag present) cannot be matched inside vlan(...)", "0),encap" },
        { "in_port(1),eth_type(0x0800),ipv4(proto=6),ipv6(proto=6)", "ipv6: conflicts with ipv4(...) (one of ipv4, ipv6, arp)", "ipv6" },
        { "in_port(99999999999)", "in_port: value 99999999999 out of range (max 4294967295)", "999" },
        { "in_port(1),eth_type(0x0806),arp(op=256)", "arp(op=...): opcode 256 not supported (the key keeps 8 bits)", "256" },
        { "in_port(1),eth_type(0x0800),ipv4(ttl=1,ttl=2)", "ipv4: duplicate field 'ttl'", "ttl=2" },
        { "in_port(1),eth_type(0x0800),ipv4(ttl=1;tos=2)", "ipv4: expected ',' or ')' but found ';tos=2'", ";tos" },
        { "in_port(1),eth_type(0x0800),ipv4(proto=17),udp(src=1),tcp_flags(syn)", "tcp_flags: not allowed with udp(...)", "tcp_flags" },
        { "in_port(1),eth_type(0x0800),ipv4(frag=no/0xff)", "ipv4(frag=...): frag cannot have a mask", "/0xff" },
        { "in_port 1", "in_port: expected '(' but found ' '", " 1" },
        { "eth(src),in_port(1)", "eth: expected '=' after 'src'", ")," },
        { "in_port(1),eth(=1)", "eth: expected field=value but found '=1'", "=1" },
    };

    [Theory]
    [MemberData(nameof(FlowErrors))]
    public void FlowErrorsSayWhereAndWhat(string text, string message, string at)
    {
        Assert.False(OdpFlowParser.TryParse(text, out _, out _, out var error));
        Assert.Equal(message, error.Message);
        int expectedOffset = at.Length == 0 ? text.Length : text.IndexOf(at, StringComparison.Ordinal);
        Assert.Equal(expectedOffset, error.Offset);
        var ex = Assert.Throws<FormatException>(() => OdpFlowParser.Parse(text, out _, out _));
        Assert.Equal($"{message} (at offset {expectedOffset})", ex.Message);
    }

    public static TheoryData<string, string, string> ActionErrors => new()
    {
        { "1,foo", "unknown action 'foo'", "foo" },
        { "push_vlan(vid=4096,pcp=0)", "push_vlan(vid=...): value 4096 out of range (max 4095)", "4096" },
        { "push_vlan(vid=1)", "push_vlan: missing pcp=", "vid" },
        { "push_vlan(vid=1,pcp=8)", "push_vlan(pcp=...): value 8 out of range (max 7)", "8)" },
        { "set(in_port(1))", "set: cannot set 'in_port'", "in_port" },
        { "set(ipv4(srcc=1.1.1.1))", "ipv4: unknown field 'srcc'", "srcc" },
        { "set(eth(src=zz:00:00:00:00:00))", "eth(src=...): bad MAC address 'zz:00:00:00:00:00'", "zz" },
        { "set(bogus(1))", "set: unknown attribute 'bogus'", "bogus" },
        { "set(tcp(src=1)", "set: expected ')' but the text ended", "" },
        { "sample(sample=150%,actions(1))", "sample(sample=...): 150% is more than 100%", "150" },
        { "sample(sample=50,actions(1))", "sample(sample=...): expected '%' but found ','", ",actions" },
        { "clone(1,2", "clone: missing ')'", "" },
        { "1,drop", "'drop' must be the only action", "drop" },
        { "clone(drop,1)", "clone: 'drop' must be the only action", "1)" },
        { "userspace(pid=1,userdata(abc))", "userspace(userdata(...)): odd number of hex digits", "abc" },
        { "userspace(1)", "userspace: expected pid=", "1)" },
        { "1;2", "expected ',' between actions but found ';2'", ";2" },
        { "trunc(x)", "trunc: expected a number", "x)" },
        { "ct(commit)", "unknown action 'ct'", "ct" },
    };

    [Theory]
    [MemberData(nameof(ActionErrors))]
    public void ActionErrorsSayWhereAndWhat(string text, string message, string at)
    {
        Assert.False(OdpActionParser.TryParse(text, out _, out var error));
        Assert.Equal(message, error.Message);
        int expectedOffset = at.Length == 0 ? text.Length : text.IndexOf(at, StringComparison.Ordinal);
        Assert.Equal(expectedOffset, error.Offset);
        var ex = Assert.Throws<FormatException>(() => OdpActionParser.Parse(text));
        Assert.Equal($"{message} (at offset {expectedOffset})", ex.Message);
    }

    private static (FlowKey Key, FlowKey Mask) Flow(string text)
    {
        OdpFlowParser.Parse(text, out var key, out var mask);
        return (key, mask);
    }

    [Fact]
    public void ValidFlowIsNormalisedByMasking()
    {
        var (key, mask) = Flow("in_port(1),eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15/ff:ff:ff:00:00:00),eth_type(0x0800),ipv4(src=35.8.2.41/255.255.255.0,dst=172.16.0.20,proto=6,tos=0,ttl=128,frag=no),tcp(src=80/0xff00,dst=8080)");
        Assert.True(OdpFlowValidator.TryValidate(key, mask, out var nk, out var nm, out var error), error);
        Assert.Equal(0x2308_0200u, nk.Ipv4Src);
        Assert.Equal(MacAddress.Parse("10:11:12:00:00:00"), nk.EthDst);
        Assert.Equal(0, nk.TpSrc);
        Assert.Equal(uint.MaxValue, nm.RecircId); // a missing recirc_id is an exact match on 0
        Assert.Equal(0u, nk.RecircId);
        Assert.Equal(nk, FlowKey.ApplyMask(nk, nm));
    }

    [Fact]
    public void ExactProtocolWithoutL4AttributeIsValid()
    {
        var (key, mask) = Flow("in_port(1),eth_type(0x0800),ipv4(proto=6)");
        Assert.True(OdpFlowValidator.TryValidate(key, mask, out _, out _, out var error), error);
    }

    public static TheoryData<string, string> InvalidFlows => new()
    {
        { "in_port(1/0xff),eth_type(0x0800)", "in_port: must be matched exactly" },
        { "eth_type(0x0800)", "in_port: must be matched exactly" },
        { "in_port(1),ipv4(src=1.2.3.4)", "ipv4: fields are matched but eth_type is not exact (mask 0x0000); OVS: unexpected L3 matching with masked Ethertype" },
        { "in_port(1),eth_type(0x0800/0xff00),ipv4(ttl=1)", "ipv4: fields are matched but eth_type is not exact (mask 0xff00)" },
        { "in_port(1),eth_type(0x0806/0),arp(sip=1.2.3.4)", "arp: fields are matched but eth_type is not exact" },
        { "in_port(1),eth_type(0x86dd),ipv6(proto=6/0xf0),tcp(dst=80)", "tcp: fields are matched but the IP protocol is not exact (mask 0xf0); OVS: flow matches on L4 ports but does not define an L4 protocol" },
        { "in_port(1),eth_type(0x0800),tcp(dst=80)", "tcp: fields are matched but the IP protocol is not exact (mask 0x00)" },
        { "in_port(1),eth_type(0x0800),ipv4(proto=6),tcp_flags(syn)", "" },
        { "in_port(1),eth_type(0x0800),ipv4(proto=1),icmp(type=8)", "" },
        { "in_port(1),eth_type(0x86dd),ipv6(proto=58),icmpv6(type=135,code=0),nd(target=::1)", "" },
        { "in_port(1),eth_type(0x8100),vlan(vid=5),encap(eth_type(0x0800),ipv4(proto=17),udp(dst=53))", "" },
        { "in_port(1),eth_type(0x8100),vlan(vid=5),encap(eth_type(0x0800/0),ipv4(proto=17))", "ipv4: fields are matched but eth_type is not exact" },
        { "in_port(1),eth(dst=01:80:c2:00:00:00),eth_type(0/0xffff)", "" },
    };

    [Theory]
    [MemberData(nameof(InvalidFlows))]
    public void ValidatorAppliesDpifNetdevRules(string text, string expectedErrorStart)
    {
        var (key, mask) = Flow(text);
        bool ok = OdpFlowValidator.TryValidate(key, mask, out _, out _, out var error);
        if (expectedErrorStart.Length == 0)
        {
            Assert.True(ok, error);
            return;
        }
        Assert.False(ok);
        Assert.StartsWith(expectedErrorStart, error);
        var ex = Assert.Throws<ArgumentException>(() => OdpFlowValidator.Validate(key, mask, out _, out _));
        Assert.StartsWith(expectedErrorStart, ex.Message);
    }

    private static FlowKey ExactPortMask() => new() { InPort = uint.MaxValue, Vlan0Tci = 0xFFFF, Vlan0Tpid = 0xFFFF };

    [Fact]
    public void FieldsOfAnotherProtocolAreRejected()
    {
        var key = new FlowKey { InPort = 1, EthType = 0x0800, NwProto = 6 };
        var mask = ExactPortMask();
        mask.EthType = 0xFFFF;
        mask.Ipv6Src = Ipv6Address.AllOnes;
        Assert.False(OdpFlowValidator.TryValidate(key, mask, out _, out _, out var error));
        Assert.StartsWith("ipv6 fields: matched but eth_type is 0x0800", error);

        mask = ExactPortMask();
        mask.EthType = 0xFFFF;
        mask.NwProto = 0xFF;
        mask.TpDst = 0xFFFF;
        key.NwProto = 47;
        Assert.False(OdpFlowValidator.TryValidate(key, mask, out _, out _, out error));
        Assert.StartsWith("L4 fields are matched but IP protocol 47 has no ports", error);

        key.NwProto = 17;
        key.NwFrag = FlowKey.FragAny | FlowKey.FragLater;
        Assert.False(OdpFlowValidator.TryValidate(key, mask, out _, out _, out error));
        Assert.StartsWith("L4 fields are matched but the packet is a later fragment", error);
    }

    [Fact]
    public void NeighbourDiscoveryNeedsExactIcmpv6TypeAndCode()
    {
        var key = new FlowKey { InPort = 1, EthType = 0x86DD, NwProto = 58, TpSrc = 135 };
        Assert.True(Ipv6Address.TryParse("fe80::1", out key.NdTarget));
        var mask = ExactPortMask();
        mask.EthType = 0xFFFF;
        mask.NwProto = 0xFF;
        mask.NdTarget = Ipv6Address.AllOnes;
        mask.TpSrc = 0xFF; // code (TpDst) not matched
        Assert.False(OdpFlowValidator.TryValidate(key, mask, out _, out _, out var error));
        Assert.StartsWith("nd: fields are matched but eth_type, IP protocol and the icmpv6 type and code are not all exact", error);
        mask.TpDst = 0xFFFF; // all storage bits: narrowed to 0xff
        Assert.True(OdpFlowValidator.TryValidate(key, mask, out _, out var nm, out error), error);
        Assert.Equal(0xFF, nm.TpDst);
        key.TpSrc = 128;
        Assert.False(OdpFlowValidator.TryValidate(key, mask, out _, out _, out error));
        Assert.StartsWith("nd: fields are matched but the key is not an ICMPv6 neighbour", error);
    }

    [Fact]
    public void VlanRules()
    {
        var key = new FlowKey { InPort = 1, EthType = 0x0800, Vlan0Tci = 5 }; // VID without the present bit
        var mask = new FlowKey { InPort = uint.MaxValue, Vlan0Tci = 0x0FFF };
        Assert.False(OdpFlowValidator.TryValidate(key, mask, out _, out _, out var error));
        Assert.StartsWith("vlan: the TCI mask 0x0fff must include the tag-present (CFI) bit", error);

        mask.Vlan0Tci = 0xFFFF;
        Assert.False(OdpFlowValidator.TryValidate(key, mask, out _, out _, out error));
        Assert.StartsWith("vlan: TCI 0x0005 has VLAN fields but no tag-present (CFI) bit", error);

        key.Vlan0Tci = 0;
        mask.Vlan0Tci = 0; // a zero TCI mask becomes VID|CFI, as dpif-netdev
        Assert.True(OdpFlowValidator.TryValidate(key, mask, out _, out var nm, out error), error);
        Assert.Equal(0x1FFF, nm.Vlan0Tci);

        key.Vlan1Tci = FlowKey.VlanCfi | 7;
        mask.Vlan1Tci = 0xFFFF;
        Assert.False(OdpFlowValidator.TryValidate(key, mask, out _, out _, out error));
        Assert.StartsWith("vlan: the inner tag is matched but the packet has no outer tag", error);
    }

    [Fact]
    public void FieldWidthRules()
    {
        var key = new FlowKey { InPort = 1, EthType = 0x86DD, NwProto = 6 };
        var mask = ExactPortMask();
        mask.EthType = 0xFFFF;
        mask.Ipv6Label = 0x100000;
        Assert.False(OdpFlowValidator.TryValidate(key, mask, out _, out _, out var error));
        Assert.StartsWith("ipv6(label): mask 0x100000 has bits outside the 20-bit flow label", error);

        mask.Ipv6Label = uint.MaxValue; // every storage bit: exact, narrowed
        Assert.True(OdpFlowValidator.TryValidate(key, mask, out _, out var nm, out error), error);
        Assert.Equal(0xFFFFFu, nm.Ipv6Label);

        mask.NwProto = 0xFF;
        mask.TcpFlags = 0x1FFF;
        Assert.False(OdpFlowValidator.TryValidate(key, mask, out _, out _, out error));
        Assert.StartsWith("tcp_flags: mask 0x1fff has bits outside the 12 TCP flag bits", error);
        mask.TcpFlags = 0xFFFF;
        Assert.True(OdpFlowValidator.TryValidate(key, mask, out _, out nm, out error), error);
        Assert.Equal(0xFFF, nm.TcpFlags);

        mask.NwFrag = FlowKey.FragAny;
        Assert.False(OdpFlowValidator.TryValidate(key, mask, out _, out _, out error));
        Assert.StartsWith("ipv6(frag): partial mask 0x1 is not supported", error);

        var llc = new FlowKey { InPort = 1, EthType = 0x0123 };
        var llcMask = ExactPortMask();
        llcMask.EthType = 0xFFFF;
        Assert.False(OdpFlowValidator.TryValidate(llc, llcMask, out _, out _, out error));
        Assert.StartsWith("eth_type: 0x0123 is not an Ethertype", error);
    }

    [Fact]
    public void ExactMasksOfRandomKeysValidate()
    {
        var rng = new Random(77);
        for (int i = 0; i < 3000; i++)
        {
            var raw = OdpExactKeyAndRandomTests.RandomKey(rng);
            OdpFlowFormatter.Canonicalize(raw, FlowKey.AllOnes, out var key, out _);
            var mask = OdpFlowValidator.ExactMaskFor(key);
            Assert.True(OdpFlowValidator.TryValidate(key, mask, out var nk, out var nm, out var error), $"{error}: {OdpFlowFormatter.Format(key)}");
            KeyAssert.Equal(key, nk);
            KeyAssert.Equal(mask, nm);
            // The parsed text of a valid flow validates to the same pair.
            OdpFlowParser.Parse(OdpFlowFormatter.Format(key, mask), out var pk, out var pm);
            Assert.True(OdpFlowValidator.TryValidate(pk, pm, out var pnk, out var pnm, out error), error);
            KeyAssert.Equal(nk, pnk);
            KeyAssert.Equal(nm, pnm);
        }
    }
}
