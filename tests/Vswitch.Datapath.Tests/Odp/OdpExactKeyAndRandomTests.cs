using Vswitch.Datapath.Odp;
using Vswitch.Packets;

namespace Vswitch.Datapath.Tests.Odp;

public class OdpExactKeyAndRandomTests
{
    private static Ipv6Address V6(string s) => Ipv6Address.TryParse(s, out var a) ? a : throw new FormatException(s);

    [Fact]
    public void ExactTcpKeyPrintsEveryFieldInKernelOrder()
    {
        var key = new FlowKey
        {
            InPort = 3,
            EthSrc = MacAddress.Parse("00:01:02:03:04:05"),
            EthDst = MacAddress.Parse("10:11:12:13:14:15"),
            EthType = 0x0800,
            Ipv4Src = 0x0A000001,
            Ipv4Dst = 0x0A000002,
            NwProto = 6,
            NwTos = 0x10,
            NwTtl = 64,
            TpSrc = 12345,
            TpDst = 80,
            TcpFlags = 0x012,
        };
        Assert.Equal(
            "recirc_id(0),dp_hash(0),skb_priority(0),in_port(3),skb_mark(0),eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15),eth_type(0x0800)," +
            "ipv4(src=10.0.0.1,dst=10.0.0.2,proto=6,tos=0x10,ttl=64,frag=no),tcp(src=12345,dst=80),tcp_flags(syn|ack)",
            OdpFlowFormatter.Format(key));
    }

    [Fact]
    public void ExactVlanUdpKey()
    {
        var key = new FlowKey
        {
            RecircId = 1, InPort = 2, EthType = 0x0800,
            Vlan0Tpid = 0x8100, Vlan0Tci = (ushort)(FlowKey.VlanCfi | 99 | 7 << 13),
            NwProto = 17, NwTtl = 1, NwFrag = FlowKey.FragAny, TpSrc = 68, TpDst = 67,
        };
        Assert.Equal(
            "recirc_id(0x1),dp_hash(0),skb_priority(0),in_port(2),skb_mark(0),eth(src=00:00:00:00:00:00,dst=00:00:00:00:00:00)," +
            "eth_type(0x8100),vlan(vid=99,pcp=7),encap(eth_type(0x0800),ipv4(src=0.0.0.0,dst=0.0.0.0,proto=17,tos=0,ttl=1,frag=first),udp(src=68,dst=67))",
            OdpFlowFormatter.Format(key));
    }

    [Fact]
    public void ExactIcmpv6NeighbourSolicitationKey()
    {
        var key = new FlowKey
        {
            InPort = 1, EthType = 0x86DD, Ipv6Src = V6("fe80::1"), Ipv6Dst = V6("ff02::1:ff00:2"), Ipv6Label = 0xABCDE,
            NwProto = 58, NwTtl = 255, TpSrc = 135, TpDst = 0, NdTarget = V6("fe80::2"), ArpSha = MacAddress.Parse("00:00:00:00:00:01"),
        };
        string text = OdpFlowFormatter.Format(key);
        Assert.EndsWith(
            "eth_type(0x86dd),ipv6(src=fe80::1,dst=ff02::1:ff00:2,label=0xabcde,proto=58,tclass=0,hlimit=255,frag=no),icmpv6(type=135,code=0)," +
            "nd(target=fe80::2,sll=00:00:00:00:00:01,tll=00:00:00:00:00:00)", text);
        Assert.Equal(key, OdpFlowParser.ParseKey(text));
    }

    [Fact]
    public void ExactArpAnd8023Keys()
    {
        var arp = new FlowKey { InPort = 5, EthType = 0x0806, Ipv4Src = 0xC0A80001, Ipv4Dst = 0xC0A80002, NwProto = 1, ArpSha = MacAddress.Parse("02:00:00:00:00:01") };
        string text = OdpFlowFormatter.Format(arp);
        Assert.EndsWith("eth_type(0x0806),arp(sip=192.168.0.1,tip=192.168.0.2,op=1,sha=02:00:00:00:00:01,tha=00:00:00:00:00:00)", text);
        Assert.Equal(arp, OdpFlowParser.ParseKey(text));

        var llc = new FlowKey { InPort = 5, EthType = FlowKey.EthTypeNone, EthDst = MacAddress.Parse("01:80:c2:00:00:00") };
        string llcText = OdpFlowFormatter.Format(llc);
        Assert.Equal("recirc_id(0),dp_hash(0),skb_priority(0),in_port(5),skb_mark(0),eth(src=00:00:00:00:00:00,dst=01:80:c2:00:00:00)", llcText);
        Assert.Equal(llc, OdpFlowParser.ParseKey(llcText));
    }

    [Fact]
    public void LaterFragmentHasNoL4Attribute()
    {
        var key = new FlowKey { InPort = 1, EthType = 0x0800, NwProto = 6, NwFrag = FlowKey.FragAny | FlowKey.FragLater, TpSrc = 1 };
        Assert.EndsWith("ipv4(src=0.0.0.0,dst=0.0.0.0,proto=6,tos=0,ttl=0,frag=later)", OdpFlowFormatter.Format(key));
    }

    [Fact]
    public void ExactKeyRejectsMasks()
    {
        Assert.False(OdpFlowParser.TryParseKey("in_port(1/0xff)", out _, out var error));
        Assert.Contains("in_port", error.Message);
        Assert.Equal(9, error.Offset);
    }

    [Fact]
    public void RandomExactKeysRoundTrip()
    {
        var rng = new Random(1234);
        for (int i = 0; i < 2000; i++)
        {
            var key = RandomKey(rng);
            OdpFlowFormatter.Canonicalize(key, FlowKey.AllOnes, out var canonical, out _);
            string text = OdpFlowFormatter.Format(key);
            // An exact key's text is read back with TryParseKey (an 802.3 key prints no eth_type, as OVS).
            Assert.True(OdpFlowParser.TryParseKey(text, out var exact, out var error), $"{error} in {text}");
            KeyAssert.Equal(canonical, exact, text);
            Assert.Equal(text, OdpFlowFormatter.Format(exact));
            Assert.True(OdpFlowParser.TryParse(text, out _, out _, out error), $"{error} in {text}");
        }
    }

    [Fact]
    public void RandomMaskedFlowsRoundTrip()
    {
        var rng = new Random(4321);
        for (int i = 0; i < 5000; i++)
        {
            var key = RandomKey(rng);
            var mask = RandomMask(rng);
            bool verbose = (i & 7) == 0;
            string text = OdpFlowFormatter.Format(key, mask, verbose);
            Assert.True(OdpFlowParser.TryParse(text, out var parsed, out var parsedMask, out var error), $"{error} in {text}");
            OdpFlowFormatter.Canonicalize(key, mask, out var ck, out var cm);
            KeyAssert.Equal(cm, parsedMask, text);
            KeyAssert.Equal(ck, FlowKey.ApplyMask(parsed, parsedMask), text);
            if (!verbose) Assert.Equal(text, OdpFlowFormatter.Format(parsed, parsedMask));
        }
    }

    [Fact]
    public void GarbageNeverThrows()
    {
        var rng = new Random(99);
        string[] seeds =
        [
            "in_port(1),eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15/ff:ff:ff:00:00:00),eth_type(0x8100),vlan(vid=99,pcp=7),encap(eth_type(0x0800),ipv4(src=35.8.2.41/255.255.255.0,proto=6,frag=no),tcp(src=80/0xff00),tcp_flags(+syn-ack))",
            "in_port(2),eth_type(0x86dd),ipv6(src=2001:db8::1,label=0x12345,proto=58),icmpv6(type=135,code=0),nd(target=::1,sll=00:11:22:33:44:55)",
        ];
        const string alphabet = "(),=/:.0123456789abcdefx+-|_ ";
        for (int i = 0; i < 20000; i++)
        {
            char[] s = seeds[i % seeds.Length].ToCharArray();
            int edits = 1 + rng.Next(4);
            for (int e = 0; e < edits; e++) s[rng.Next(s.Length)] = alphabet[rng.Next(alphabet.Length)];
            string text = new string(s, 0, rng.Next(s.Length + 1));
            if (OdpFlowParser.TryParse(text, out var key, out var mask, out var error))
                Assert.True(OdpFlowParser.TryParse(OdpFlowFormatter.Format(key, mask), out _, out _, out error), error.ToString());
            else
                Assert.InRange(error.Offset, 0, text.Length);
            OdpFlowParser.TryParseKey(text, out _, out _);
        }
    }

    [Fact]
    public void GarbageActionsAndDumpLinesNeverThrow()
    {
        var rng = new Random(7);
        string[] seeds =
        [
            "set(eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15/ff:ff:ff:00:00:00)),set(ipv4(src=1.2.3.4,ttl=64)),push_vlan(tpid=0x88a8,vid=99,pcp=7),pop_vlan,2",
            "sample(sample=12.5%,actions(userspace(pid=7,userdata(0102)))),clone(trunc(100),set(skb_mark(0x1/0xff)),3),4",
            "recirc_id(0),in_port(3),eth_type(0x0806),arp(sip=1.2.3.4,op=1/0xff), packets:2120, bytes:127200, used:0.141s, flags:SFP., actions:1,clone(2)",
        ];
        const string alphabet = "(),=/:.%0123456789abcdefx+-|_ ";
        for (int i = 0; i < 20000; i++)
        {
            int which = i % seeds.Length;
            char[] s = seeds[which].ToCharArray();
            int edits = 1 + rng.Next(4);
            for (int e = 0; e < edits; e++) s[rng.Next(s.Length)] = alphabet[rng.Next(alphabet.Length)];
            string text = new string(s, 0, rng.Next(s.Length + 1));
            if (which < 2)
            {
                if (OdpActionParser.TryParse(text, out var actions, out var error))
                    Assert.True(OdpActionParser.TryParse(actions.ToString(), out _, out error), $"{error} in {actions}");
                else
                    Assert.InRange(error.Offset, 0, text.Length);
            }
            else
            {
                if (!OdpFlowLine.TryParseDump(text, out _, out var error)) Assert.InRange(error.Offset, 0, text.Length);
                OdpFlowLine.TryParseAddFlow(text, out _, out _, out _, out _);
            }
        }
    }

    internal static FlowKey RandomKey(Random rng)
    {
        var k = new FlowKey();
        Span<byte> bytes = FlowKey.AsBytes(ref k);
        rng.NextBytes(bytes);
        bytes[124..].Clear();
        ushort[] ethTypes = [0x0800, 0x86DD, 0x0806, 0x8035, FlowKey.EthTypeNone, 0x88CC, 0x0800, 0x86DD];
        k.EthType = ethTypes[rng.Next(ethTypes.Length)];
        byte[] protos = [6, 17, 132, 1, 58, 47, 6, 58];
        k.NwProto = protos[rng.Next(protos.Length)];
        k.NwFrag = (byte)rng.Next(4);
        int tags = rng.Next(3);
        k.Vlan0Tci = tags > 0 ? (ushort)(k.Vlan0Tci | FlowKey.VlanCfi) : (ushort)0;
        k.Vlan0Tpid = tags > 0 ? (rng.Next(2) == 0 ? (ushort)0x8100 : (ushort)0x88A8) : (ushort)0;
        k.Vlan1Tci = tags > 1 ? (ushort)(k.Vlan1Tci | FlowKey.VlanCfi) : (ushort)0;
        k.Vlan1Tpid = tags > 1 ? (ushort)0x8100 : (ushort)0;
        if (k.NwProto is 1 or 58)
        {
            k.TpSrc = rng.Next(3) switch { 0 => 135, 1 => 136, _ => (ushort)rng.Next(256) };
            k.TpDst = rng.Next(3) == 0 ? (ushort)rng.Next(256) : (ushort)0;
        }
        return k;
    }

    internal static FlowKey RandomMask(Random rng)
    {
        var m = new FlowKey();
        Span<byte> bytes = FlowKey.AsBytes(ref m);
        // Each byte: zero, all ones or random, so whole fields are often exact or wildcarded.
        for (int i = 0; i < 124; i++)
            bytes[i] = rng.Next(3) switch { 0 => 0, 1 => 0xFF, _ => (byte)rng.Next(256) };
        if (rng.Next(4) == 0) m.EthType = 0;
        if (rng.Next(4) == 0) m.TpSrc = m.TpDst = 0xFF;
        return m;
    }
}
