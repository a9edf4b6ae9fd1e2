using Vswitch.Datapath.Odp;
using Vswitch.Packets;

namespace Vswitch.Datapath.Tests.Odp;

public class OdpActionTextTests
{
    public static TheoryData<string> CanonicalActions => new()
    {
        "drop",
        "1",
        "1,2,4294967295",
        "pop_vlan,3",
        "push_vlan(vid=99,pcp=7),2",
        "push_vlan(vid=0,pcp=0)",
        "push_vlan(tpid=0x88a8,vid=100,pcp=3),push_vlan(vid=200,pcp=0),5",
        "push_vlan(vid=5,pcp=1,cfi=0)",
        "set(eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15)),1",
        "set(eth(dst=10:11:12:13:14:15)),1",
        "set(eth(src=00:01:02:00:00:00/ff:ff:ff:00:00:00))",
        "set(ipv4(src=1.2.3.4,dst=5.6.7.8,proto=6,tos=0x10,ttl=64,frag=no))",
        "set(ipv4(src=10.0.0.0/255.0.0.0,ttl=63))",
        "set(ipv4(tos=0x4/0xfc))",
        "set(ipv6(src=2001:db8::1,dst=2001:db8::2,label=0x12345,proto=17,tclass=0x20,hlimit=64,frag=no))",
        "set(ipv6(dst=fe80::1,hlimit=1))",
        "set(ipv6(label=0x5/0xf))",
        "set(tcp(src=80,dst=8080))",
        "set(tcp(dst=443))",
        "set(udp(src=53,dst=1024/0xfc00))",
        "set(sctp(src=1,dst=2))",
        "set(skb_priority(0x5))",
        "set(skb_mark(0x1))",
        "set(skb_mark(0x1/0xff))",
        "sample(sample=50.0%,actions(1,2))",
        "sample(sample=0.1%,actions(userspace(pid=7)))",
        "sample(sample=100.0%,actions(drop))",
        "userspace(pid=4294967295)",
        "userspace(pid=12,userdata(0102030405060708))",
        "userspace(pid=1,userdata())",
        "clone(push_vlan(vid=1,pcp=0),2),3",
        "clone(drop)",
        "clone(clone(set(eth(dst=00:00:00:00:00:01)),1),sample(sample=25.0%,actions(2)))",
        "trunc(100),1,trunc(1500),2",
    };

    [Theory]
    [MemberData(nameof(CanonicalActions))]
    public void ActionsPrintBackIdentically(string text)
    {
        Assert.True(OdpActionParser.TryParse(text, out var actions, out var error), error.ToString());
        Assert.Equal(text, actions.ToString());
    }

    [Fact]
    public void ParsedActionsHaveTheRightModel()
    {
        var list = OdpActionParser.Parse("push_vlan(tpid=0x88a8,vid=100,pcp=3),pop_vlan,7,trunc(64),userspace(pid=9,userdata(abcd)),clone(1),sample(sample=50.0%,actions(2))");
        Assert.Equal(7, list.Count);
        var push = Assert.IsType<PushVlanAction>(list[0]);
        Assert.Equal(0x88A8, push.Tpid);
        Assert.Equal(100, push.Vid);
        Assert.Equal(3, push.Pcp);
        Assert.Equal(FlowKey.VlanCfi, push.Tci & FlowKey.VlanCfi);
        Assert.Same(PopVlanAction.Instance, list[1]);
        Assert.Equal(7u, Assert.IsType<OutputAction>(list[2]).Port);
        Assert.Equal(64u, Assert.IsType<TruncAction>(list[3]).MaxLength);
        var user = Assert.IsType<UserspaceAction>(list[4]);
        Assert.Equal(9u, user.Pid);
        Assert.Equal(new byte[] { 0xAB, 0xCD }, user.Userdata);
        Assert.Equal(1u, Assert.IsType<OutputAction>(Assert.IsType<CloneAction>(list[5]).Actions[0]).Port);
        var sample = Assert.IsType<SampleAction>(list[6]);
        Assert.Equal(2147483648u, sample.Probability);
        Assert.Equal(2u, Assert.IsType<OutputAction>(sample.Actions[0]).Port);
    }

    [Fact]
    public void SetActionsCarryValueAndMaskInFlowKeyFields()
    {
        var plain = Assert.IsType<SetAction>(OdpActionParser.Parse("set(ipv4(src=1.2.3.4,dst=5.6.7.8,proto=6,tos=0,ttl=64,frag=no))")[0]);
        Assert.Equal(OdpSetTarget.Ipv4, plain.Target);
        Assert.False(plain.IsMasked);
        Assert.Equal(0x01020304u, plain.Value.Ipv4Src);
        Assert.Equal(64, plain.Value.NwTtl);
        Assert.Equal(SetAction.TargetMask(OdpSetTarget.Ipv4), plain.Mask);

        var masked = Assert.IsType<SetAction>(OdpActionParser.Parse("set(ipv4(src=10.1.2.3/255.0.0.0,ttl=63))")[0]);
        Assert.True(masked.IsMasked);
        Assert.Equal(0x0A000000u, masked.Value.Ipv4Src); // value is pre-masked
        Assert.Equal(0xFF000000u, masked.Mask.Ipv4Src);
        Assert.Equal(0xFF, masked.Mask.NwTtl);
        Assert.Equal(0, masked.Mask.NwTos);
        Assert.Equal(0u, masked.Mask.Ipv4Dst);

        var eth = Assert.IsType<SetAction>(OdpActionParser.Parse("set(eth(dst=00:00:00:00:00:07))")[0]);
        Assert.Equal(OdpSetTarget.Ethernet, eth.Target);
        Assert.True(eth.IsMasked);
        Assert.Equal(MacAddress.FromUInt64(7), eth.Value.EthDst);
        Assert.True(eth.Mask.EthSrc.IsZero);

        var mark = Assert.IsType<SetAction>(OdpActionParser.Parse("set(skb_mark(0x10))")[0]);
        Assert.Equal(OdpSetTarget.SkbMark, mark.Target);
        Assert.False(mark.IsMasked);
        Assert.Equal(0x10u, mark.Value.SkbMark);
    }

    [Fact]
    public void ProgrammaticSetActionsPrintAsOvs()
    {
        var full = SetAction.TargetMask(OdpSetTarget.Tcp);
        var value = new FlowKey { TpSrc = 1, TpDst = 2 };
        Assert.Equal("set(tcp(src=1,dst=2))", new SetAction(OdpSetTarget.Tcp, value, full, masked: false).ToString());
        var portMask = new FlowKey { TpDst = 0xFFFF };
        Assert.Equal("set(tcp(dst=2))", new SetAction(OdpSetTarget.Tcp, new FlowKey { TpDst = 2 }, portMask, masked: true).ToString());
        var v6 = new FlowKey { Ipv6Label = 0x12345, NwTtl = 9 };
        Assert.Equal("set(ipv6(src=::,dst=::,label=0x12345,proto=0,tclass=0,hlimit=9,frag=no))",
            new SetAction(OdpSetTarget.Ipv6, v6, SetAction.TargetMask(OdpSetTarget.Ipv6), masked: false).ToString());
        Assert.Equal("set(skb_priority(0x7))",
            new SetAction(OdpSetTarget.SkbPriority, new FlowKey { SkbPriority = 7 }, SetAction.TargetMask(OdpSetTarget.SkbPriority), false).ToString());
    }

    [Fact]
    public void AlternativeActionSpellings()
    {
        (string input, string canonical)[] cases =
        [
            ("", "drop"),
            ("DROP", "drop"),
            ("1 2\t3", "1,2,3"),
            ("0x10", "16"),
            ("push_vlan(pcp=1,vid=2)", "push_vlan(vid=2,pcp=1)"),
            ("push_vlan(tpid=0x8100,vid=2,pcp=1,cfi=1)", "push_vlan(vid=2,pcp=1)"),
            ("sample(sample=33.33333%,actions(1))", "sample(sample=33.3%,actions(1))"),
            ("set(tcp(src=1,dst=0xffff/0xffff))", "set(tcp(src=1,dst=65535))"),
            ("userspace(pid=1,userdata(0A0b))", "userspace(pid=1,userdata(0a0b))"),
        ];
        foreach (var (input, canonical) in cases)
        {
            Assert.True(OdpActionParser.TryParse(input, out var actions, out var error), $"{input}: {error}");
            Assert.Equal(canonical, actions.ToString());
        }
    }

    [Fact]
    public void SampleProbabilityIsScaledAsOvs()
    {
        Assert.Equal(0u, ((SampleAction)OdpActionParser.Parse("sample(sample=0%,actions(1))")[0]).Probability);
        Assert.Equal(uint.MaxValue, ((SampleAction)OdpActionParser.Parse("sample(sample=100%,actions(1))")[0]).Probability);
        Assert.Equal(42949673u, ((SampleAction)OdpActionParser.Parse("sample(sample=1%,actions(1))")[0]).Probability);
    }
}

public class OdpRandomSetActionTests
{
    [Fact]
    public void RandomSetActionsRoundTrip()
    {
        var rng = new Random(2024);
        var targets = Enum.GetValues<OdpSetTarget>();
        for (int i = 0; i < 3000; i++)
        {
            var target = targets[rng.Next(targets.Length)];
            var full = SetAction.TargetMask(target);
            var value = OdpExactKeyAndRandomTests.RandomKey(rng);
            var mask = FlowKey.ApplyMask(OdpExactKeyAndRandomTests.RandomMask(rng), full);
            bool masked = rng.Next(4) != 0;
            if (!masked) mask = full;
            var action = new SetAction(target, FlowKey.ApplyMask(value, mask), mask, masked);
            string text = action.ToString();

            var parsed = Assert.IsType<SetAction>(Assert.Single(OdpActionParser.Parse(text)));
            // What the text can carry: the label is 20 bits, the fragment type is matched whole.
            var expectedMask = mask;
            expectedMask.Ipv6Label &= 0xFFFFF;
            expectedMask.NwFrag = (mask.NwFrag & FlowKey.FragAny) != 0 ? (byte)(FlowKey.FragAny | FlowKey.FragLater) : (byte)0;
            var expectedValue = FlowKey.ApplyMask(action.Value, expectedMask);
            byte frag = action.Value.NwFrag;
            if (expectedMask.NwFrag != 0)
                expectedValue.NwFrag = (frag & FlowKey.FragAny) == 0 ? (byte)0
                    : (frag & FlowKey.FragLater) != 0 ? (byte)3 : FlowKey.FragAny;
            Assert.Equal(target, parsed.Target);
            KeyAssert.Equal(expectedMask, parsed.Mask, text);
            KeyAssert.Equal(expectedValue, parsed.Value, text);
            Assert.Equal(expectedMask != full, parsed.IsMasked);
            Assert.Equal(text, parsed.ToString());
        }
    }
}
