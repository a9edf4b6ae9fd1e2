using Vswitch.Netdev;
using Vswitch.Packets;
using Vswitch.Switch.Normal;
using static Vswitch.Switch.Tests.Keys;

namespace Vswitch.Switch.Tests;

public class BridgeTests
{
    private static (Bridge Bridge, OfflineDatapath Dp, ManualClock Clock) Make(int ports, FlowLimits? limits = null, params PortVlanConfig[] vlans)
    {
        var clock = new ManualClock();
        var dp = new OfflineDatapath("br0", clock);
        var settings = BridgeSettings.Default with { Flows = limits ?? FlowLimits.Default };
        var br = new Bridge("br0", dp, settings, clock);
        for (int i = 1; i <= ports; i++)
            br.AddPort(new BridgePortSpec($"p{i}", "memory", NetdevOptions.Empty, i <= vlans.Length ? vlans[i - 1] : PortVlanConfig.TrunkAll));
        return (br, dp, clock);
    }

    [Fact]
    public void UpcallInstallsMegaflowThatCoversOtherL4Traffic()
    {
        var (br, dp, _) = Make(3);
        using var _b = br;
        br.HandleUpcall(Eth(1, Mac(1), Mac(2)), null);
        var flows = dp.DumpFlows();
        Assert.Single(flows);
        var other = Eth(1, Mac(1), Mac(2));
        other.TpSrc = 5555;
        other.Ipv4Dst = 0x0A0000FE;
        Assert.Equal("2,3", dp.Lookup(other)?.ToString());
        var otherSrc = Eth(1, Mac(7), Mac(2));
        Assert.Null(dp.Lookup(otherSrc));    // a new source must reach the switch to be learned
    }

    [Fact]
    public void LearningADestinationTurnsFloodingFlowsIntoUnicast()
    {
        var (br, dp, _) = Make(3);
        using var _b = br;
        br.HandleUpcall(Eth(1, Mac(1), Mac(2)), null);      // flood: 2,3
        br.HandleUpcall(Eth(2, Mac(2), Mac(1)), null);      // learns Mac(2) on port 2
        br.RevalidateNow();
        var flow = dp.DumpFlows().Single(f => f.Key.InPort == 1);
        Assert.Equal("2", flow.Actions.ToString());
    }

    [Fact]
    public void MacMoveRevalidatesFlowsToTheNewPort()
    {
        var (br, dp, _) = Make(3);
        using var _b = br;
        br.HandleUpcall(Eth(2, Mac(2), Mac(1)), null);      // Mac(2) on port 2
        br.HandleUpcall(Eth(1, Mac(1), Mac(2)), null);      // flow in 1 -> 2
        br.RevalidateNow();
        Assert.Equal("2", dp.DumpFlows().Single(f => f.Key.InPort == 1).Actions.ToString());

        var d = br.HandleUpcall(Eth(3, Mac(2), Mac(1)), null);  // Mac(2) appears on port 3
        Assert.Equal(MacLearnKind.Moved, d.Learning.Kind);
        var flows = dp.DumpFlows();                          // revalidated by the upcall that saw the move
        Assert.Equal("3", flows.Single(f => f.Key.InPort == 1).Actions.ToString());
        Assert.DoesNotContain(flows, f => f.Key.InPort == 2);   // the old source flow must relearn
        Assert.Equal(1, br.Counters.MacMoves);
    }

    [Fact]
    public void IdleFlowsExpire()
    {
        var (br, dp, clock) = Make(2, new FlowLimits(TimeSpan.FromSeconds(10), 1000));
        using var _b = br;
        br.HandleUpcall(Eth(1, Mac(1), Mac(2)), null);
        clock.Advance(TimeSpan.FromSeconds(9));
        br.RevalidateNow();
        Assert.Single(dp.DumpFlows());
        dp.Lookup(Eth(1, Mac(1), Mac(2)));                  // used: the idle time restarts
        clock.Advance(TimeSpan.FromSeconds(9));
        br.RevalidateNow();
        Assert.Single(dp.DumpFlows());
        clock.Advance(TimeSpan.FromSeconds(2));
        var plan = br.RevalidateNow();
        Assert.Empty(dp.DumpFlows());
        Assert.Contains(plan, r => r.Reason.StartsWith("idle"));
    }

    [Fact]
    public void FlowLimitEvictsLeastRecentlyUsedAndStopsInstalling()
    {
        var (br, dp, clock) = Make(2, new FlowLimits(TimeSpan.FromSeconds(10), 2));
        using var _b = br;
        for (int i = 1; i <= 3; i++)
        {
            var k = Eth(1, Mac(i), Mac(100));
            dp.PutFlow(k, FlowKey.AllOnes, Datapath.Odp.OdpActionList.Drop, false);
            clock.Advance(TimeSpan.FromMilliseconds(100));
        }
        var plan = br.RevalidateNow();
        Assert.Single(plan);
        Assert.Equal(Mac(1), plan[0].Flow.Key.EthSrc);
        Assert.Equal(2, dp.DumpFlows().Count);
        br.HandleUpcall(Eth(2, Mac(50), Mac(100)), null);   // at the limit: executed, not installed
        Assert.Equal(2, dp.DumpFlows().Count);
        Assert.True(FlowRevalidator.MayInstall(1, new FlowLimits(TimeSpan.FromSeconds(1), 2)));
    }

    [Fact]
    public void DeletingAPortRemovesItFromFlows()
    {
        var (br, dp, _) = Make(3);
        using var _b = br;
        br.HandleUpcall(Eth(1, Mac(1), Mac(2)), null);      // 2,3
        br.DeletePort("p3");
        Assert.Equal("2", dp.DumpFlows().Single().Actions.ToString());
        Assert.Null(br.FindPort("p3"));
    }

    [Fact]
    public void ChangingAPortVlanRevalidates()
    {
        var (br, dp, _) = Make(3);
        using var _b = br;
        br.HandleUpcall(Eth(1, Mac(1), Mac(2)), null);
        br.ReconfigurePort(br.FindPort("p3")!.Spec with { Vlan = PortVlanConfig.Access(10) });
        Assert.Equal("2", dp.DumpFlows().Single().Actions.ToString());
    }

    [Fact]
    public void DuplicatePortIsRefusedAndNothingChanges()
    {
        var (br, dp, _) = Make(2);
        using var _b = br;
        var ex = Assert.Throws<BridgeException>(() => br.AddPort(new BridgePortSpec("p1", "memory", NetdevOptions.Empty, PortVlanConfig.TrunkAll)));
        Assert.Contains("p1", ex.Message);
        Assert.Equal(2, br.Ports.Count);
        Assert.Equal(2, dp.ListPorts().Count);
    }

    [Fact]
    public void HandlerThreadProcessesInjectedUpcalls()
    {
        var (br, dp, _) = Make(2);
        using var _b = br;
        br.Start();
        dp.InjectUpcall(Eth(1, Mac(1), Mac(2)));
        Wait.Until(() => dp.DumpFlows().Count > 0);
        Assert.Single(dp.DumpFlows());
        Assert.True(br.Macs.TryLookup(0, Mac(1), out var port));
        Assert.Equal(1u, port);
    }

    [Fact]
    public void TraceExplainsWithoutLearning()
    {
        var (br, dp, _) = Make(3, null, PortVlanConfig.Access(10), PortVlanConfig.Access(10), PortVlanConfig.TrunkAll);
        using var _b = br;
        Assert.True(br.TryParseFlow("in_port(p1),eth(src=02:00:00:00:00:01,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806)",
            out var key, out var err), err);
        var text = br.Trace(key);
        Assert.Contains("internal VLAN 10", text);
        Assert.Contains("Datapath actions: 2,push_vlan(vid=10,pcp=0),3", text);
        Assert.Contains("Megaflow: recirc_id(0),in_port(1),eth(src=02:00:00:00:00:01,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806)", text);
        Assert.Contains("Flow: ", text);
        Assert.Equal(0, br.Macs.Count);
        Assert.Empty(dp.DumpFlows());
    }

    [Fact]
    public void TraceFlowTextErrorsNameTheProblem()
    {
        var (br, _, _) = Make(1);
        using var _b = br;
        Assert.False(br.TryParseFlow("in_port(1),bogus(3)", out _, out var e));
        Assert.Contains("bogus", e);
        Assert.False(br.TryParseFlow("eth(src=zz:00:00:00:00:01,dst=ff:ff:ff:ff:ff:ff)", out _, out e));
        Assert.Contains("src", e);
        Assert.True(br.TryParseFlow("in_port(p1),eth(src=02:00:00:00:00:01,dst=ff:ff:ff:ff:ff:ff),eth_type(0x8100),vlan(vid=10,pcp=3),encap(eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=6,tos=0,ttl=64,frag=no),tcp(src=1,dst=2))", out var key, out e), e);
        Assert.Equal(0x1000 | (3 << 13) | 10, key.Vlan0Tci);
        Assert.Equal(0x0800, key.EthType);
    }
}
