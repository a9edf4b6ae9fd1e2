using Vswitch.Datapath.Odp;
using Vswitch.Packets;

namespace Vswitch.Datapath.Tests.Odp;

public class OdpFlowRoundTripTests
{
    public static TheoryData<string> CanonicalFlows => new()
    {
        // The brief's example.
        "in_port(1),eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15/ff:ff:ff:00:00:00),eth_type(0x0800),ipv4(src=35.8.2.41/255.255.255.0,dst=172.16.0.20,proto=6,tos=0,ttl=128,frag=no),tcp(src=80/0xff00,dst=8080)",
        // Real dump-flows shapes.
        "recirc_id(0),in_port(2),eth(src=02:00:00:00:01:03,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),arp(sip=10.244.1.3,tip=10.244.1.4,op=1/0xff,sha=02:00:00:00:01:03,tha=00:00:00:00:00:00)",
        "recirc_id(0),in_port(3),eth(src=0c:42:a1:ef:1b:06,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),arp(sip=192.168.211.162,tip=192.168.211.2,op=1/0xff)",
        "recirc_id(0),in_port(1),eth(dst=00:00:00:55:8d:0a),eth_type(0x0800),ipv4(frag=no)",
        "recirc_id(0x1),dp_hash(0x12345678/0xff),skb_priority(0x3),in_port(7),skb_mark(0x10/0xf0),eth_type(0x0800),ipv4(dst=10.0.0.0/255.0.0.0,frag=first)",
        "in_port(1/0xff),eth(src=00:01:02:03:04:05/00:ff:ff:ff:ff:ff)",
        // VLAN and QinQ.
        "in_port(1),eth_type(0x8100),vlan(vid=99,pcp=7),encap(eth_type(0x0800),ipv4(src=1.2.3.4,proto=17,frag=no),udp(dst=53))",
        "in_port(1),eth_type(0x8100),vlan(vid=10),encap(eth_type(0x0806),arp(tip=10.0.0.1))",
        "in_port(1),eth_type(0x8100),vlan(vid=5/0xff0,pcp=3/0x1),encap()",
        "in_port(1),eth_type(0x8100),vlan(),encap(eth_type(0x86dd))",
        "in_port(4),eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02),eth_type(0x88a8),vlan(vid=100),encap(eth_type(0x8100),vlan(vid=200,pcp=1),encap(eth_type(0x0800),ipv4(proto=1,frag=no),icmp(type=8,code=0)))",
        "in_port(1),eth_type(0x88a8/0xff00),vlan(pcp=2),encap(eth_type(0x8100),vlan(vid=7),encap())",
        // IPv4 variants.
        "in_port(1),eth_type(0x0800),ipv4(src=10.1.2.3,dst=10.4.5.6,proto=6,tos=0x10/0xfc,ttl=64/0xf0,frag=no),tcp(src=1024/0xfc00,dst=443),tcp_flags(syn|ack)",
        "in_port(1),eth_type(0x0800),ipv4(proto=6,frag=no),tcp_flags(+syn-ack)",
        "in_port(1),eth_type(0x0800),ipv4(proto=6),tcp_flags(fin|syn|rst|psh|ack|urg|ece|cwr|ns|[200]|[400]|[800])",
        "in_port(1),eth_type(0x0800),ipv4(proto=6),tcp_flags(0)",
        "in_port(1),eth_type(0x0800),ipv4(proto=17,frag=later)",
        "in_port(1),eth_type(0x0800),ipv4(proto=132),sctp(src=9/0xf,dst=10)",
        "in_port(1),eth_type(0x0800),ipv4(proto=1),icmp(type=3,code=4/0xf)",
        "in_port(1),eth_type(0x0800),tcp(dst=22)",
        "in_port(1),ipv4(src=192.168.0.1)",
        "in_port(1),eth_type(0x0800/0xff00)",
        // IPv6, ICMPv6 and ND.
        "in_port(2),eth_type(0x86dd),ipv6(src=2001:db8::1,dst=fe80::/ffc0::,label=0x12345,proto=17,tclass=0x80,hlimit=255,frag=no),udp(src=546,dst=547)",
        "in_port(2),eth_type(0x86dd),ipv6(src=::ffff:10.0.0.1,label=0x5/0xf,proto=6),tcp(src=80),tcp_flags(-fin+syn)",
        "in_port(2),eth_type(0x86dd),ipv6(proto=58,frag=no),icmpv6(type=135,code=0),nd(target=2001:db8::5,sll=00:11:22:33:44:55)",
        "in_port(2),eth_type(0x86dd),ipv6(proto=58),icmpv6(type=136,code=0),nd(target=fe80::1/ffff::,tll=00:11:22:33:44:55/ff:ff:ff:00:00:00)",
        "in_port(2),eth_type(0x86dd),ipv6(proto=58),icmpv6(type=128)",
        "in_port(2),eth_type(0x86dd),ipv6(dst=::)",
        "in_port(2),eth_type(0x86dd),ipv6(src=1:0:0:1::1,dst=::1.2.3.4,label=0)",
        "in_port(2),eth_type(0x86dd),ipv6(src=::1,dst=2001:db8:0:1:1:1:1:1/ffff:ffff:ffff:ffff::)",
        // 802.3 (no Ethertype).
        "in_port(3),eth(dst=01:80:c2:00:00:00),eth_type(0/0xffff)",
        // RARP.
        "in_port(3),eth_type(0x8035),arp(op=3/0xff)",
    };

    [Theory]
    [MemberData(nameof(CanonicalFlows))]
    public void CanonicalFlowPrintsBackIdentically(string text)
    {
        Assert.True(OdpFlowParser.TryParse(text, out var key, out var mask, out var error), error.ToString());
        Assert.Equal(text, OdpFlowFormatter.Format(key, mask));
    }

    [Theory]
    [MemberData(nameof(CanonicalFlows))]
    public void VerboseOutputParsesToTheSameMatch(string text)
    {
        OdpFlowParser.Parse(text, out var key, out var mask);
        string verbose = OdpFlowFormatter.Format(key, mask, verbose: true);
        Assert.True(OdpFlowParser.TryParse(verbose, out var key2, out var mask2, out var error), $"{error} in {verbose}");
        Assert.Equal(mask, mask2);
        Assert.Equal(FlowKey.ApplyMask(key, mask), FlowKey.ApplyMask(key2, mask2));
    }

    [Theory]
    [MemberData(nameof(CanonicalFlows))]
    public void ParseIsTheCanonicalFormOfThePrintedPair(string text)
    {
        OdpFlowParser.Parse(text, out var key, out var mask);
        OdpFlowFormatter.Canonicalize(key, mask, out var ck, out var cm);
        Assert.Equal(cm, mask);
        Assert.Equal(ck, FlowKey.ApplyMask(key, mask));
    }

    [Fact]
    public void FieldsLandInTheSharedFlowKeyStorage()
    {
        OdpFlowParser.Parse(
            "in_port(9),eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15/ff:ff:ff:00:00:00),eth_type(0x0800),ipv4(src=35.8.2.41/255.255.255.0,dst=172.16.0.20,proto=6,tos=0,ttl=128,frag=first),tcp(src=80/0xff00,dst=8080)",
            out var key, out var mask);
        Assert.Equal(9u, key.InPort);
        Assert.Equal(uint.MaxValue, mask.InPort);
        Assert.Equal(MacAddress.Parse("00:01:02:03:04:05"), key.EthSrc);
        Assert.Equal(MacAddress.Parse("ff:ff:ff:00:00:00"), mask.EthDst);
        Assert.Equal(0x0800, key.EthType);
        Assert.Equal(0x2308_0229u, key.Ipv4Src);
        Assert.Equal(0xFFFF_FF00u, mask.Ipv4Src);
        Assert.Equal(0xAC10_0014u, key.Ipv4Dst);
        Assert.Equal(6, key.NwProto);
        Assert.Equal(128, key.NwTtl);
        Assert.Equal(FlowKey.FragAny, key.NwFrag);
        Assert.Equal(FlowKey.FragAny | FlowKey.FragLater, mask.NwFrag);
        Assert.Equal(80, key.TpSrc);
        Assert.Equal(0xFF00, mask.TpSrc);
        Assert.Equal(8080, key.TpDst);
        // No vlan(...) in a datapath key means "untagged only".
        Assert.Equal(0, key.Vlan0Tci);
        Assert.Equal(0xFFFF, mask.Vlan0Tci);
        Assert.Equal(0xFFFF, mask.Vlan0Tpid);
    }

    [Fact]
    public void QinQLandsInBothTagsAndInnerEthertype()
    {
        OdpFlowParser.Parse("in_port(1),eth_type(0x88a8),vlan(vid=100,pcp=5),encap(eth_type(0x8100),vlan(vid=200),encap(eth_type(0x0800),ipv4(proto=1),icmp(type=8)))",
            out var key, out var mask);
        Assert.Equal(0x88A8, key.Vlan0Tpid);
        Assert.Equal(0xFFFF, mask.Vlan0Tpid);
        Assert.Equal(FlowKey.VlanCfi | 100 | 5 << 13, key.Vlan0Tci);
        Assert.Equal(0xFFFF, mask.Vlan0Tci);
        Assert.Equal(0x8100, key.Vlan1Tpid);
        Assert.Equal(FlowKey.VlanCfi | 200, key.Vlan1Tci);
        Assert.Equal(FlowKey.VlanCfi | 0x0FFF, mask.Vlan1Tci);
        Assert.Equal(0x0800, key.EthType);
        Assert.Equal(8, key.TpSrc);
        Assert.Equal(0xFF, mask.TpSrc);
        Assert.Equal(0, mask.TpDst);
    }

    [Fact]
    public void ArpAndNdUseTheSharedFields()
    {
        OdpFlowParser.Parse("in_port(1),eth_type(0x0806),arp(sip=1.2.3.4,tip=5.6.7.8,op=2,sha=00:00:00:00:00:0a,tha=00:00:00:00:00:0b)", out var arp, out var arpMask);
        Assert.Equal(0x01020304u, arp.Ipv4Src);
        Assert.Equal(0x05060708u, arp.Ipv4Dst);
        Assert.Equal(2, arp.NwProto);
        Assert.Equal(0xFF, arpMask.NwProto);
        Assert.Equal(MacAddress.FromUInt64(0x0a), arp.ArpSha);
        Assert.Equal(MacAddress.FromUInt64(0x0b), arp.ArpTha);

        OdpFlowParser.Parse("in_port(1),eth_type(0x86dd),ipv6(proto=58),icmpv6(type=135,code=0),nd(target=fe80::1,sll=00:00:00:00:00:0c,tll=00:00:00:00:00:0d)", out var nd, out _);
        Assert.True(Ipv6Address.TryParse("fe80::1", out var target));
        Assert.Equal(target, nd.NdTarget);
        Assert.Equal(MacAddress.FromUInt64(0x0c), nd.ArpSha);
        Assert.Equal(MacAddress.FromUInt64(0x0d), nd.ArpTha);
        Assert.Equal(135, nd.TpSrc);
    }

    [Fact]
    public void InferredEthertypeAndProtocolHaveZeroMask()
    {
        OdpFlowParser.Parse("in_port(1),ipv4(src=1.1.1.1),tcp(dst=80)", out var key, out var mask);
        Assert.Equal(0x0800, key.EthType);
        Assert.Equal(0, mask.EthType);
        Assert.Equal(6, key.NwProto);
        Assert.Equal(0, mask.NwProto);
        Assert.Equal("in_port(1),ipv4(src=1.1.1.1),tcp(dst=80)", OdpFlowFormatter.Format(key, mask));
    }

    [Fact]
    public void AttributeOrderInTheTextDoesNotMatter()
    {
        OdpFlowParser.Parse("tcp(dst=80),ipv4(proto=6),eth_type(0x0800),in_port(1)", out var key, out var mask);
        Assert.Equal("in_port(1),eth_type(0x0800),ipv4(proto=6),tcp(dst=80)", OdpFlowFormatter.Format(key, mask));
    }

    [Fact]
    public void AlternativeSpellingsParseToTheCanonicalForm()
    {
        (string input, string canonical)[] cases =
        [
            ("in_port(0x1),eth_type(2048)", "in_port(1),eth_type(0x0800)"),
            ("in_port(010)", "in_port(8)"),
            ("in_port(1) eth_type(0x0800), ipv4(src=10.0.0.0/8)", "in_port(1),eth_type(0x0800),ipv4(src=10.0.0.0/255.0.0.0)"),
            ("in_port(1),eth_type(0x86dd),ipv6(src=2001:db8::/32)", "in_port(1),eth_type(0x86dd),ipv6(src=2001:db8::/ffff:ffff::)"),
            ("in_port(1),eth(),eth_type(0x0800)", "in_port(1),eth_type(0x0800)"),
            ("in_port(1),packet_type(ns=0,id=0),eth_type(0x0800)", "in_port(1),eth_type(0x0800)"),
            ("ufid:1e1d2f7a-9e1b-4c8b-8a1e-4b9ef5b3c0d1 in_port(1)", "in_port(1)"),
            ("in_port(1),eth_type(0x0800),ipv4(proto=6),tcp_flags(0x12)", "in_port(1),eth_type(0x0800),ipv4(proto=6),tcp_flags(syn|ack)"),
            ("in_port(1),eth_type(0x0800),ipv4(proto=6),tcp_flags(0x2/0x12)", "in_port(1),eth_type(0x0800),ipv4(proto=6),tcp_flags(+syn-ack)"),
            ("in_port(1),eth_type(0x0806),arp(op=1)", "in_port(1),eth_type(0x0806),arp(op=1/0xff)"),
            ("in_port(1),eth_type(0x0800),ipv4(proto=6),tcp_flags(0/0)", "in_port(1),eth_type(0x0800),ipv4(proto=6)"),
            ("in_port(1),eth_type(0x8100),vlan(vid=5,cfi=1),encap()", "in_port(1),eth_type(0x8100),vlan(vid=5),encap()"),
            ("in_port(1),eth_type(0x05ff)", "in_port(1),eth_type(0/0xffff)"),
        ];
        foreach (var (input, canonical) in cases)
        {
            Assert.True(OdpFlowParser.TryParse(input, out var key, out var mask, out var error), $"{input}: {error}");
            Assert.Equal(canonical, OdpFlowFormatter.Format(key, mask));
        }
    }
}
