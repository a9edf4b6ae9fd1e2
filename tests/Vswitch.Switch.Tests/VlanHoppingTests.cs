using Vswitch.Datapath;
using Vswitch.Datapath.Userspace;
using Vswitch.Netdev;
using Vswitch.Netdev.Memory;
using Vswitch.Packets;
using Vswitch.Switch.Normal;
using static Vswitch.Switch.Tests.Keys;

namespace Vswitch.Switch.Tests;

/// <summary>
/// A priority-tagged frame (VID 0) that carries a second tag (issue 15): admitted as "untagged" it left an access or native
/// VLAN with its inner tag outermost, a VLAN hop for the next switch. It is dropped on every port, and the trace says why.
/// </summary>
public sealed class VlanHoppingTests : IDisposable
{
    private static FlowKey PriorityPlusInner(uint inPort, ushort outerTpid, int innerVid)
    {
        var k = Eth(inPort, Mac(1), MacAddress.Broadcast, vid: 0, pcp: 3);
        k.Vlan0Tpid = outerTpid;
        k.Vlan1Tpid = 0x8100;
        k.Vlan1Tci = (ushort)(FlowKey.VlanCfi | innerVid);
        return k;
    }

    [Theory]
    [InlineData(0x8100)]
    [InlineData(0x88a8)]
    public void AccessPortDropsAPriorityTagFollowedByAnotherTag(int outerTpid)
    {
        var macs = new MacLearningTable(new ManualClock());
        var ports = Ports((1, PortVlanConfig.Access(10)), (2, PortVlanConfig.Access(20)), (3, PortVlanConfig.Trunk()),
            (4, PortVlanConfig.Create(VlanMode.NativeUntagged, 10, [20])));
        var d = NormalForwarding.Decide(PriorityPlusInner(1, (ushort)outerTpid, 20), ports, macs, learn: true, trace: true);
        Assert.True(d.Actions.IsDrop);
        Assert.Equal($"priority-tagged frame (VID 0, TPID 0x{outerTpid:x4}) carries a second VLAN tag (VID 20, TPID 0x8100) on port p1: dropped, its inner tag must not select a VLAN", d.DropReason);
        Assert.Contains(d.Trace, s => s.Contains("carries a second VLAN tag"));
        Assert.Equal(FlowKey.VlanCfi, d.Mask.Vlan1Tci);        // the drop depends on the inner tag being there
        Assert.Equal(0, macs.Count);                           // nothing learned from it
    }

    [Fact]
    public void TrunkAndNativePortsDropItToo()
    {
        var macs = new MacLearningTable(new ManualClock());
        var ports = Ports((1, PortVlanConfig.Access(10)), (3, PortVlanConfig.Trunk()), (4, PortVlanConfig.Create(VlanMode.NativeUntagged, 10, [20])));
        Assert.True(NormalForwarding.Decide(PriorityPlusInner(3, 0x8100, 20), ports, macs, true).Actions.IsDrop);
        Assert.True(NormalForwarding.Decide(PriorityPlusInner(4, 0x8100, 20), ports, macs, true).Actions.IsDrop);
    }

    [Fact]
    public void APriorityTagAloneIsStillUntaggedAndItsFlowExcludesDoubleTaggedFrames()
    {
        var macs = new MacLearningTable(new ManualClock());
        var ports = Ports((1, PortVlanConfig.Access(10)), (2, PortVlanConfig.Access(10)), (3, PortVlanConfig.Trunk(10)));
        var k = Eth(1, Mac(1), MacAddress.Broadcast, vid: 0, pcp: 5);
        var d = NormalForwarding.Decide(k, ports, macs, learn: true, trace: true);
        Assert.Equal("pop_vlan,2,push_vlan(vid=10,pcp=5),3", d.Actions.ToString());
        Assert.Equal(FlowKey.VlanCfi, d.Mask.Vlan1Tci);
        // The double-tagged frame with the same addresses does not match the flow installed for this one.
        var hop = PriorityPlusInner(1, 0x8100, 20);
        hop.Vlan0Tci = k.Vlan0Tci;
        Assert.False(FlowKey.MatchesMasked(hop, d.Mask, FlowKey.ApplyMask(k, d.Mask)));
        Assert.True(FlowKey.MatchesMasked(k, d.Mask, FlowKey.ApplyMask(k, d.Mask)));
        Assert.Contains(d.Trace, s => s.Contains("priority-tagged frame (VID 0) without a second tag"));
    }

    // ---- through the userspace datapath, memory ports ----

    private readonly NetdevRegistry _netdevs = new();
    private readonly MemoryNetdevProvider _memory;
    private readonly PacketPool _pool = new(1024);
    private readonly Bridge _bridge;

    public VlanHoppingTests()
    {
        _memory = _netdevs.AddMemoryProvider();
        var registry = new DatapathRegistry();
        registry.AddUserspaceProvider();
        var name = "vsw" + Guid.NewGuid().ToString("N")[..6];
        _bridge = new Bridge(name, new DatapathBridgeAdapter(registry.Open(UserspaceDatapathProvider.TypeName, name, create: true), _netdevs, _pool));
        _bridge.Start();
    }

    public void Dispose()
    {
        _bridge.Dispose();
        _pool.Dispose();
    }

    private MemoryNetdev Port(string name, PortVlanConfig vlan)
    {
        _bridge.AddPort(new BridgePortSpec(name, "memory", NetdevOptions.Empty, vlan));
        Assert.True(_memory.TryGetDevice(name, out var dev));
        return dev;
    }

    /// <summary>dst, src, then each (TPID, TCI) tag, then ethertype 0x88b5 and a payload byte.</summary>
    private static byte[] Frame(MacAddress src, byte payload, params (ushort Tpid, ushort Tci)[] tags)
    {
        var f = new byte[64 + 4 * tags.Length];
        MacAddress.Broadcast.CopyTo(f);
        src.CopyTo(f.AsSpan(6));
        int o = 12;
        foreach (var (tpid, tci) in tags)
        {
            f[o++] = (byte)(tpid >> 8); f[o++] = (byte)tpid;
            f[o++] = (byte)(tci >> 8); f[o++] = (byte)tci;
        }
        f[o++] = 0x88; f[o++] = 0xB5;
        f[o] = payload;
        return f;
    }

    /// <summary>Everything <paramref name="dev"/> sent until a frame with payload <paramref name="control"/> arrived.</summary>
    private static List<byte[]> UntilControl(MemoryNetdev dev, byte control)
    {
        var frames = new List<byte[]>();
        var deadline = Environment.TickCount64 + 10_000;
        while (Environment.TickCount64 < deadline)
        {
            while (dev.TryTake(out var p)) { frames.Add(p.Data.ToArray()); p.Release(); }
            if (frames.Exists(f => IsControl(f, control))) return frames;
            Thread.Sleep(2);
        }
        throw new TimeoutException($"the positive control frame {control} never reached {dev.Name}");
    }

    private static bool IsControl(byte[] f, byte control)
    {
        int o = 12;
        while (f[o] == 0x81 || f[o] == 0x88 && f[o + 1] == 0xA8) o += 4;
        return f[o] == 0x88 && f[o + 1] == 0xB5 && f[o + 2] == control;
    }

    [Fact]
    public void PriorityPlusInnerTagFromAnAccessPortReachesNoOtherVlanAndNoTrunkExposesTheInnerTag()
    {
        var a10 = Port("a10", PortVlanConfig.Access(10));
        var a10b = Port("a10b", PortVlanConfig.Access(10));
        var a20 = Port("a20", PortVlanConfig.Access(20));
        var trunk = Port("trunk", PortVlanConfig.Trunk(10, 20));
        var native = Port("native", PortVlanConfig.Create(VlanMode.NativeUntagged, 10, [20]));
        // A priority-tagged frame first (so a flow for these addresses exists), then the hop attempts, then a control.
        Assert.True(a10.Inject(Frame(Mac(1), 1, (0x8100, 0x6000))));
        Assert.True(a10.Inject(Frame(Mac(1), 2, (0x8100, 0x6000), (0x8100, 20))));
        Assert.True(a10.Inject(Frame(Mac(1), 3, (0x88a8, 0x0000), (0x8100, 20))));
        Assert.True(a10.Inject(Frame(Mac(1), 9)));
        foreach (var (dev, vlanOut) in new[] { (a10b, (int?)null), (trunk, 10), (native, null) })
        {
            var frames = UntilControl(dev, 9);
            Assert.Equal(2, frames.Count);                      // the priority-tagged frame and the control, nothing else
            foreach (var f in frames)
            {
                bool tagged = f[12] == 0x81;
                Assert.Equal(vlanOut is not null, tagged);
                if (tagged)
                {
                    Assert.Equal(10, ((f[14] & 0x0F) << 8) | f[15]);
                    Assert.False(f[16] == 0x81 || (f[16] == 0x88 && f[17] == 0xA8), "an inner tag left the trunk");
                }
                else Assert.False(f[12] == 0x88 && f[13] == 0xA8);
            }
        }
        // Nothing reached VLAN 20: a control sent into VLAN 20 afterwards is the only frame a20 gets.
        Assert.True(trunk.Inject(Frame(Mac(3), 8, (0x8100, 20))));
        Assert.Single(UntilControl(a20, 8));
    }
}
