using Vswitch.Packets;
using Vswitch.Switch.Normal;
using static Vswitch.Switch.Tests.Keys;

namespace Vswitch.Switch.Tests;

public class NormalForwardingTests
{
    private static readonly PortVlanConfig All = PortVlanConfig.TrunkAll;

    [Fact]
    public void UnknownUnicastFloodsToAllButIngress()
    {
        var macs = new MacLearningTable(new ManualClock());
        var ports = Ports((1, All), (2, All), (3, All));
        var d = NormalForwarding.Decide(Eth(2, Mac(1), Mac(9)), ports, macs, learn: true);
        Assert.Equal("1,3", d.Actions.ToString());
        Assert.False(d.DestinationKnown);
        Assert.Equal(MacLearnKind.Learned, d.Learning.Kind);
    }

    [Fact]
    public void BroadcastAndMulticastFlood()
    {
        var macs = new MacLearningTable(new ManualClock());
        var ports = Ports((1, All), (2, All), (3, All));
        Assert.Equal("2,3", NormalForwarding.Decide(Eth(1, Mac(1), MacAddress.Broadcast), ports, macs, true).Actions.ToString());
        var mcast = MacAddress.Parse("01:00:5e:00:00:01");
        Assert.Equal("1,2", NormalForwarding.Decide(Eth(3, Mac(3), mcast), ports, macs, true).Actions.ToString());
    }

    [Fact]
    public void LearnedDestinationIsUnicast()
    {
        var macs = new MacLearningTable(new ManualClock());
        var ports = Ports((1, All), (2, All), (3, All));
        NormalForwarding.Decide(Eth(3, Mac(3), MacAddress.Broadcast), ports, macs, true);
        var d = NormalForwarding.Decide(Eth(1, Mac(1), Mac(3)), ports, macs, true);
        Assert.Equal("3", d.Actions.ToString());
        Assert.True(d.DestinationKnown);
        Assert.Equal([3u], d.OutputPorts);
    }

    [Fact]
    public void NeverSendsBackOutOfTheIngressPort()
    {
        var macs = new MacLearningTable(new ManualClock());
        var ports = Ports((1, All), (2, All));
        macs.Learn(0, Mac(5), 1);
        var d = NormalForwarding.Decide(Eth(1, Mac(1), Mac(5)), ports, macs, true);
        Assert.True(d.Actions.IsDrop);
        Assert.Contains("input port", d.DropReason);
    }

    [Fact]
    public void AccessPortsFloodOnlyWithinTheirVlanAndTrunkGetsTag()
    {
        var macs = new MacLearningTable(new ManualClock());
        var ports = Ports((1, PortVlanConfig.Access(10)), (2, PortVlanConfig.Access(10)), (3, PortVlanConfig.Access(20)), (4, All));
        var d = NormalForwarding.Decide(Eth(1, Mac(1), MacAddress.Broadcast), ports, macs, true);
        Assert.Equal(10, d.Vlan);
        Assert.Equal("2,push_vlan(vid=10,pcp=0),4", d.Actions.ToString());
        Assert.True(macs.TryLookup(10, Mac(1), out _));
        Assert.False(macs.TryLookup(0, Mac(1), out _));
    }

    [Fact]
    public void TaggedFromTrunkIsStrippedToAccessPorts()
    {
        var macs = new MacLearningTable(new ManualClock());
        var ports = Ports((1, PortVlanConfig.Access(10)), (2, PortVlanConfig.Access(10)), (3, PortVlanConfig.Access(20)),
                          (4, All), (5, PortVlanConfig.Trunk(10)));
        var d = NormalForwarding.Decide(Eth(4, Mac(4), MacAddress.Broadcast, vid: 10), ports, macs, true);
        Assert.Equal("5,pop_vlan,1,2", d.Actions.ToString());
    }

    [Fact]
    public void VlanNotAllowedOnTrunkIsDroppedWithNarrowMask()
    {
        var macs = new MacLearningTable(new ManualClock());
        var ports = Ports((1, PortVlanConfig.Trunk(10, 20)), (2, All));
        var d = NormalForwarding.Decide(Eth(1, Mac(1), MacAddress.Broadcast, vid: 30), ports, macs, true);
        Assert.True(d.Actions.IsDrop);
        Assert.Contains("VLAN 30", d.DropReason);
        Assert.True(d.Mask.EthSrc.IsZero);   // the addresses played no part
        Assert.True(d.Mask.EthDst.IsZero);
        Assert.Equal(0x1FFF, d.Mask.Vlan0Tci);
        Assert.Equal(0, macs.Count);         // nothing learned from a refused frame
    }

    [Fact]
    public void TaggedFrameOnAccessPortIsDropped()
    {
        var macs = new MacLearningTable(new ManualClock());
        var ports = Ports((1, PortVlanConfig.Access(10)), (2, PortVlanConfig.Access(10)));
        var d = NormalForwarding.Decide(Eth(1, Mac(1), MacAddress.Broadcast, vid: 10), ports, macs, true);
        Assert.True(d.Actions.IsDrop);
    }

    [Fact]
    public void MaskCoversExactlyTheL2FieldsUsed()
    {
        var macs = new MacLearningTable(new ManualClock());
        var ports = Ports((1, All), (2, All));
        var d = NormalForwarding.Decide(Eth(1, Mac(1), Mac(2)), ports, macs, true);
        var m = d.Mask;
        Assert.Equal(uint.MaxValue, m.InPort);
        Assert.Equal(uint.MaxValue, m.RecircId);
        Assert.Equal(MacAddress.Broadcast, m.EthSrc);
        Assert.Equal(MacAddress.Broadcast, m.EthDst);
        Assert.Equal(ushort.MaxValue, m.EthType);
        Assert.Equal(0x1FFF, m.Vlan0Tci);                       // VID + CFI, not PCP
        Assert.Equal(FlowKey.FragAny | FlowKey.FragLater, m.NwFrag);
        Assert.Equal(0u, m.Ipv4Src);
        Assert.Equal(0u, m.Ipv4Dst);
        Assert.Equal(0, m.NwProto);
        Assert.Equal(0, m.TpSrc);
        Assert.Equal(0, m.TpDst);
        Assert.Equal(0, m.NwTtl);
    }

    [Fact]
    public void NonIpFlowDoesNotMatchFragmentBits()
    {
        var macs = new MacLearningTable(new ManualClock());
        var d = NormalForwarding.Decide(Eth(1, Mac(1), Mac(2), ethType: 0x0806), Ports((1, All), (2, All)), macs, true);
        Assert.Equal(0, d.Mask.NwFrag);
    }

    [Fact]
    public void PushOfANewTagCopiesPriorityAndMatchesIt()
    {
        var macs = new MacLearningTable(new ManualClock());
        var ports = Ports((1, PortVlanConfig.Access(10)), (4, All));
        var d = NormalForwarding.Decide(Eth(1, Mac(1), MacAddress.Broadcast, vid: 0, pcp: 5), ports, macs, true);
        Assert.Equal("pop_vlan,push_vlan(vid=10,pcp=5),4", d.Actions.ToString());
        Assert.Equal(0xFFFF, d.Mask.Vlan0Tci);
    }

    [Fact]
    public void UnknownInputPortDependsOnlyOnAlwaysFields()
    {
        var macs = new MacLearningTable(new ManualClock());
        var d = NormalForwarding.Decide(Eth(9, Mac(1), Mac(2)), Ports((1, All)), macs, true);
        Assert.True(d.Actions.IsDrop);
        Assert.Equal(0, d.Mask.Vlan0Tci);
        Assert.True(d.Mask.EthSrc.IsZero);
    }

    [Fact]
    public void ReservedMulticastIsNotForwarded()
    {
        var macs = new MacLearningTable(new ManualClock());
        var d = NormalForwarding.Decide(Eth(1, Mac(1), MacAddress.Parse("01:80:c2:00:00:00")), Ports((1, All), (2, All)), macs, true);
        Assert.True(d.Actions.IsDrop);
    }

    [Fact]
    public void RevalidationDecisionDoesNotLearn()
    {
        var macs = new MacLearningTable(new ManualClock());
        var d = NormalForwarding.Decide(Eth(1, Mac(1), Mac(2)), Ports((1, All), (2, All)), macs, learn: false);
        Assert.True(d.LearningPending);
        Assert.Equal(0, macs.Count);
    }
}
