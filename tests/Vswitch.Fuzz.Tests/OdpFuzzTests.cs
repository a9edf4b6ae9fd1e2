using CsCheck;
using Vswitch.Datapath.Odp;
using Vswitch.Packets;
using Xunit.Abstractions;

namespace Vswitch.Fuzz.Tests;

/// <summary>
/// The flow and action parser and printer: arbitrary text never throws; whatever parses prints to text that parses to the
/// same thing (parse → print → parse); random keys, masks and action lists print to text that parses back.
/// </summary>
public class OdpFuzzTests(ITestOutputHelper output)
{
    private static readonly string[] FlowSeeds =
    [
        "recirc_id(0),in_port(1),eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15/ff:ff:ff:00:00:00),eth_type(0x8100),vlan(vid=99,pcp=7),encap(eth_type(0x0800),ipv4(src=35.8.2.41/255.255.255.0,dst=172.16.0.20,proto=6,tos=0,ttl=128,frag=no),tcp(src=80/0xff00,dst=8080),tcp_flags(+syn-ack))",
        "in_port(2),eth_type(0x86dd),ipv6(src=2001:db8::1,dst=::/0,label=0x12345,proto=58,tclass=0,hlimit=255,frag=no),icmpv6(type=135,code=0),nd(target=::1,sll=00:11:22:33:44:55,tll=00:00:00:00:00:00)",
        "recirc_id(0),in_port(3),eth(src=0c:42:a1:ef:1b:06,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),arp(sip=192.168.211.162,tip=192.168.211.2,op=1/0xff)",
        "in_port(1),eth_type(0x88a8),vlan(vid=100),encap(eth_type(0x8100),vlan(vid=200),encap(eth_type(0x0800),ipv4(frag=later)))",
    ];

    private static readonly string[] ActionSeeds =
    [
        "push_vlan(vid=10,pcp=3),1,pop_vlan,2,set(ipv4(src=10.0.0.0/255.0.0.0,ttl=63)),3",
        "clone(set(eth(src=00:01:02:03:04:05,dst=00:01:02:03:04:06)),1),sample(sample=50.0%,actions(userspace(pid=7,userdata(0102abcd)))),trunc(100),2",
        "set(tcp(src=1,dst=2)),set(skb_mark(0x1/0xff)),set(ipv6(src=::1,dst=::2,label=0,proto=6,tclass=0,hlimit=64,frag=no)),1",
        "push_vlan(tpid=0x88a8,vid=100,pcp=0),push_vlan(vid=200,pcp=1,cfi=0),1,drop",
    ];

    internal static readonly Gen<string> FlowTexts = Gen.OneOf(
        Gen.Select(Gen.Int[0, FlowSeeds.Length - 1], Gen.Int, (i, seed) => Mutate.Text(FlowSeeds[i], seed)),
        Gen.String[Gen.Char["(),=/:.0123456789abcdefx+-|_ encapvlanipv4tcp"], 0, 200]);

    internal static readonly Gen<string> ActionTexts = Gen.OneOf(
        Gen.Select(Gen.Int[0, ActionSeeds.Length - 1], Gen.Int, (i, seed) => Mutate.Text(ActionSeeds[i], seed)),
        Gen.String[Gen.Char["(),=/:.0123456789abcdefx%+-|_ clonesamplepush_vlanpop_vlansetusertrunc"], 0, 200]);

    [Fact]
    public void FlowTextParsesPrintsAndParsesAgainOrIsRefused()
    {
        FuzzBudget.Run(FlowTexts, text =>
        {
            if (!OdpFlowParser.TryParse(text, out var key, out var mask, out var error))
            {
                Assert.False(string.IsNullOrEmpty(error.Message));
                Assert.InRange(error.Offset, 0, text.Length);
                return;
            }
            var printed = OdpFlowFormatter.Format(key, mask);
            Assert.True(OdpFlowParser.TryParse(printed, out var k2, out var m2, out var e2), $"{e2} in {printed} (from {text})");
            Assert.Equal(printed, OdpFlowFormatter.Format(k2, m2));
            var verbose = OdpFlowFormatter.Format(key, mask, verbose: true);
            Assert.True(OdpFlowParser.TryParse(verbose, out _, out _, out e2), $"{e2} in {verbose}");
            // Exact keys: whatever TryParseKey accepts prints and reads back the same.
            if (OdpFlowParser.TryParseKey(text, out var exact, out _))
            {
                var exactText = OdpFlowFormatter.Format(exact);
                Assert.True(OdpFlowParser.TryParseKey(exactText, out var exact2, out e2), $"{e2} in {exactText}");
                Assert.Equal(exactText, OdpFlowFormatter.Format(exact2));
            }
            OdpFlowValidator.TryValidate(key, mask, out _, out _, out _);
        }, FuzzBudget.Strings, output);
    }

    [Fact]
    public void ActionTextParsesPrintsAndParsesAgainOrIsRefused()
    {
        FuzzBudget.Run(ActionTexts, text =>
        {
            if (!OdpActionParser.TryParse(text, out var actions, out var error))
            {
                Assert.False(string.IsNullOrEmpty(error.Message));
                return;
            }
            Assert.True(OdpActionLimits.TryCheck(actions, out var limit), limit);
            var printed = actions.ToString();
            Assert.True(OdpActionParser.TryParse(printed, out var again, out var e2), $"{e2} in {printed} (from {text})");
            Assert.Equal(printed, again.ToString());
        }, FuzzBudget.Strings, output);
    }

    internal static readonly Gen<FlowKey> Keys = Gen.Select(Gen.Byte.Array[124], Gen.Int[0, 7], Gen.Int[0, 7], Gen.Int[0, 3], Gen.Int[0, 2], (bytes, e, p, frag, tags) =>
    {
        var k = new FlowKey();
        bytes.CopyTo(FlowKey.AsBytes(ref k));
        ushort[] ethTypes = [0x0800, 0x86DD, 0x0806, 0x8035, FlowKey.EthTypeNone, 0x88CC, 0x0800, 0x86DD];
        byte[] protos = [6, 17, 132, 1, 58, 47, 6, 58];
        k.EthType = ethTypes[e];
        k.NwProto = protos[p];
        k.NwFrag = (byte)frag;
        k.Vlan0Tci = tags > 0 ? (ushort)(k.Vlan0Tci | FlowKey.VlanCfi) : (ushort)0;
        k.Vlan0Tpid = tags > 0 ? (ushort)0x8100 : (ushort)0;
        k.Vlan1Tci = tags > 1 ? (ushort)(k.Vlan1Tci | FlowKey.VlanCfi) : (ushort)0;
        k.Vlan1Tpid = tags > 1 ? (ushort)0x8100 : (ushort)0;
        if (k.NwProto is 1 or 58) { k.TpSrc = (ushort)(k.TpSrc & 0xFF); k.TpDst = (ushort)(k.TpDst & 0xFF); }
        return k;
    });

    internal static readonly Gen<FlowKey> Masks = Gen.Int[0, 2].Array[124].Select(Gen.Byte.Array[124], (choice, random) =>
    {
        var m = new FlowKey();
        var b = FlowKey.AsBytes(ref m);
        for (int i = 0; i < 124; i++) b[i] = choice[i] switch { 0 => 0, 1 => 0xFF, _ => random[i] };
        return m;
    });

    [Fact]
    public void RandomFlowsPrintToTextThatParsesBack()
    {
        FuzzBudget.Run(Gen.Select(Keys, Masks, Gen.Bool), t =>
        {
            var (key, mask, verbose) = t;
            var text = OdpFlowFormatter.Format(key, mask, verbose);
            Assert.True(OdpFlowParser.TryParse(text, out var parsed, out var parsedMask, out var error), $"{error} in {text}");
            var again = OdpFlowFormatter.Format(parsed, parsedMask, verbose);
            Assert.True(OdpFlowParser.TryParse(again, out var p2, out var m2, out error), $"{error} in {again}");
            Assert.Equal(again, OdpFlowFormatter.Format(p2, m2, verbose));
            var exact = OdpFlowFormatter.Format(key);
            Assert.True(OdpFlowParser.TryParseKey(exact, out _, out error), $"{error} in {exact}");
        }, FuzzBudget.Strings, output);
    }

    internal static readonly Gen<OdpAction> Leaf = Gen.OneOf<OdpAction>(
        Gen.UInt[0, 300].Select(p => (OdpAction)new OutputAction(p)),
        Gen.Const<OdpAction>(PopVlanAction.Instance),
        Gen.Select(Gen.Int[0, 1], Gen.UShort, (t, tci) => (OdpAction)new PushVlanAction(t == 0 ? (ushort)0x8100 : (ushort)0x88A8, (ushort)(tci | FlowKey.VlanCfi))),
        Gen.UInt[14, 2000].Select(n => (OdpAction)new TruncAction(n)),
        Gen.Select(Gen.Int[0, 7], Keys, Masks, Gen.Bool, (target, value, mask, masked) =>
        {
            var t = (OdpSetTarget)target;
            var full = SetAction.TargetMask(t);
            var m = masked ? FlowKey.ApplyMask(mask, full) : full;
            if (m == default) m = full;
            if (t is OdpSetTarget.Ipv4 or OdpSetTarget.Ipv6) { m.NwProto = 0; m.NwFrag = 0; if (!masked) m = full; }
            return (OdpAction)new SetAction(t, FlowKey.ApplyMask(value, m), m, m != full);
        }),
        Gen.Select(Gen.UInt, Gen.Byte.Array[0, 12], Gen.Bool, (pid, data, has) => (OdpAction)new UserspaceAction(pid, has ? data : null)));

    internal static readonly Gen<OdpActionList> ActionLists = Gen.Recursive<OdpActionList>((depth, lists) =>
        depth >= 3
            ? Leaf.List[0, 6].Select(l => new OdpActionList(l))
            : Gen.OneOf<OdpAction>(
                Leaf,
                lists.Select(l => (OdpAction)new CloneAction(l)),
                Gen.Select(Gen.UInt, lists, (p, l) => (OdpAction)new SampleAction(p, l))).List[0, 6].Select(l => new OdpActionList(l)));

    [Fact]
    public void RandomActionListsPrintToTextThatParsesBack()
    {
        FuzzBudget.Run(ActionLists, actions =>
        {
            var text = actions.ToString();
            if (!OdpActionParser.TryParse(text, out var parsed, out var error))
            {
                // Only what the printer cannot express as the parser reads it: nothing, today.
                Assert.Fail($"{error} in {text}");
            }
            Assert.Equal(text, parsed.ToString());
        }, FuzzBudget.Strings, output, print: a => a.ToString());
    }
}
