using Vswitch.Datapath.Odp;
using Vswitch.Datapath.Userspace;
using Vswitch.Interop.Linux;
using Vswitch.Packets;

namespace Vswitch.Datapath.Tests.Userspace;

public class FlowTableTests
{
    private static FlowKey TcpKey(uint inPort = 1, ushort dport = 80) => TestFrames.KeyOf(TestFrames.Tcp4(dport: dport), inPort);

    [Fact]
    public void PutFollowsCreateModifyZeroStatsSemantics()
    {
        using var t = new ManualDatapath();
        var dp = t.Dp;
        var key = TcpKey();
        var mask = Masks.TcpDst();
        // Not existing, no Create: ENOENT.
        Assert.Equal(Errno.ENOENT, dp.FlowPut(FlowPutFlags.Modify, key, mask, Actions.Output(2), out _, out _));
        // Create: success, zero old stats.
        Assert.True(dp.FlowPut(FlowPutFlags.Create, key, mask, Actions.Output(2), out var old, out _).IsSuccess);
        Assert.Equal(default, old);
        // Existing, no Modify: EEXIST, actions unchanged.
        Assert.Equal(Errno.EEXIST, dp.FlowPut(FlowPutFlags.Create, key, mask, Actions.Output(1), out _, out _));
        Assert.Equal("2", dp.FlowGet(key, mask, out var f).IsSuccess ? f!.Actions.ToString() : "?");

        // Give it traffic so the stats are non-zero.
        for (int i = 0; i < 3; i++) t.P1.Inject(TestFrames.Tcp4(dport: 80, flags: (ushort)(i == 0 ? 0x02 : 0x10)));
        t.Dp.PollOnce();
        Assert.Equal(3, t.Drain(t.P2).Count);
        dp.FlowGet(key, mask, out f);
        Assert.Equal(3UL, f!.Stats.Packets);
        Assert.Equal(0x12, f.Stats.TcpFlags);
        Assert.True(f.Stats.UsedMs > 0);

        // Modify without ZeroStats: returns old stats, keeps them.
        Assert.True(dp.FlowPut(FlowPutFlags.Modify, key, mask, Actions.Output(1), out old, out _).IsSuccess);
        Assert.Equal(3UL, old.Packets);
        dp.FlowGet(key, mask, out f);
        Assert.Equal(3UL, f!.Stats.Packets);
        Assert.Equal("1", f.Actions.ToString());
        // Modify with ZeroStats: returns old stats, zeroes them.
        Assert.True(dp.FlowPut(FlowPutFlags.Modify | FlowPutFlags.ZeroStats, key, mask, Actions.Output(2), out old, out _).IsSuccess);
        Assert.Equal(3UL, old.Packets);
        Assert.Equal((ulong)(3 * TestFrames.Tcp4().Length), old.Bytes);
        dp.FlowGet(key, mask, out f);
        Assert.Equal(0UL, f!.Stats.Packets);
        Assert.Equal(0UL, f.Stats.Bytes);
        // Create|Modify on an existing flow modifies.
        Assert.True(dp.FlowPut(FlowPutFlags.Create | FlowPutFlags.Modify, key, mask, OdpActionList.Drop, out _, out _).IsSuccess);
        dp.FlowGet(key, mask, out f);
        Assert.True(f!.Actions.IsDrop);
        Assert.True(t.Stats.Flows == 1);
    }

    [Fact]
    public void FlowsAreIdentifiedByMaskedKeyAndMask()
    {
        using var t = new ManualDatapath();
        var dp = t.Dp;
        var key = TcpKey();
        var mask = Masks.Ipv4Dst(0xFFFFFF00);
        t.Put(key, mask, Actions.Output(2));
        // Bits outside the mask do not matter for get/del/put identity.
        var other = key;
        other.Ipv4Dst = 0x0A0000FE;
        other.TpDst = 9999;
        Assert.True(dp.FlowGet(other, mask, out var f).IsSuccess);
        Assert.Equal(0x0A000000u, f!.Key.Ipv4Dst);
        Assert.Equal(0, f.Key.TpDst);
        Assert.Equal(Errno.EEXIST, dp.FlowPut(FlowPutFlags.Create, other, mask, Actions.Output(1), out _, out _));
        // A different mask is a different flow.
        Assert.Equal(Errno.ENOENT, dp.FlowGet(key, Masks.Ipv4Dst(0xFFFF0000), out _));
        t.Put(key, Masks.Ipv4Dst(0xFFFF0000), Actions.Output(1));
        Assert.Equal(2UL, t.Stats.Flows);
        Assert.Equal(2UL, t.Stats.Masks);
        // Lookup by an exact packet key finds a matching flow; a non-matching key finds none.
        Assert.True(dp.FlowLookup(other, out var hit).IsSuccess);
        Assert.NotNull(hit);
        var far = key;
        far.Ipv4Dst = 0x0B000001;
        Assert.Equal(Errno.ENOENT, dp.FlowLookup(far, out _));
        // Delete returns stats; a second delete is ENOENT.
        Assert.True(dp.FlowDel(other, mask, out var stats).IsSuccess);
        Assert.Equal(0UL, stats.Packets);
        Assert.Equal(Errno.ENOENT, dp.FlowDel(key, mask, out _));
        Assert.Equal(1UL, t.Stats.Flows);
        Assert.True(dp.FlowFlush().IsSuccess);
        Assert.Equal(0UL, t.Stats.Flows);
        Assert.Equal(0UL, t.Stats.Masks);
        Assert.Equal(Errno.ENOENT, dp.FlowLookup(other, out _));
    }

    [Fact]
    public void FlowLimitIsEfbig()
    {
        using var t = new ManualDatapath(new UserspaceDatapathOptions { PollThreads = 0, MaxFlows = 10 });
        for (ushort i = 0; i < 10; i++) t.Put(TcpKey(dport: i), Masks.TcpDst(), Actions.Output(2));
        Assert.Equal(Errno.EFBIG, t.Dp.FlowPut(FlowPutFlags.Create, TcpKey(dport: 999), Masks.TcpDst(), Actions.Output(2), out _, out var err));
        Assert.Contains("10", err);
        // Modifying an existing flow is still allowed at the limit.
        Assert.True(t.Dp.FlowPut(FlowPutFlags.Modify, TcpKey(dport: 3), Masks.TcpDst(), Actions.Output(1), out _, out _).IsSuccess);
    }

    public static TheoryData<string, string> BadKeys() => new()
    {
        { "in_port wildcarded", "in_port" },
        { "in_port partial", "in_port" },
        { "tcp dst without proto", "IP protocol is not exact" },
        { "tcp dst without eth_type", "eth_type" },
        { "ipv4 dst without eth_type", "eth_type" },
        { "ipv6 src with ipv4 eth_type", "ipv6 fields" },
        { "eth_type partial mask", "eth_type is not exact" },
        { "tcp flags with udp", "tcp_flags" },
        { "ports for proto 47", "IP protocol 47" },
        { "reserved bytes", "reserved" },
        { "nd target without icmpv6", "nd target" },
        { "l4 on later fragment", "fragment" },
    };

    [Theory]
    [MemberData(nameof(BadKeys))]
    public void InconsistentOrIncompleteKeysAreRefusedWithAClearError(string what, string expected)
    {
        using var t = new ManualDatapath();
        var key = TcpKey();
        var mask = Masks.TcpDst();
        switch (what)
        {
            case "in_port wildcarded": mask.InPort = 0; break;
            case "in_port partial": mask.InPort = 0xFFFF; break;
            case "tcp dst without proto": mask.NwProto = 0; break;
            case "tcp dst without eth_type": mask.EthType = 0; break;
            case "ipv4 dst without eth_type": mask = Masks.InPortOnly(); mask.Ipv4Dst = uint.MaxValue; break;
            case "ipv6 src with ipv4 eth_type": mask = Masks.InPortEthType(); mask.Ipv6Src = Ipv6Address.AllOnes; key.Ipv6Src = Ipv6Address.AllOnes; break;
            case "eth_type partial mask": mask.EthType = 0xFF00; break;
            case "tcp flags with udp": key.NwProto = 17; key.TcpFlags = 0x10; mask.TcpFlags = 0xFFF; break;
            case "ports for proto 47": key.NwProto = 47; break;
            case "reserved bytes": FlowKey.AsBytes(ref mask)[125] = 1; break;
            case "nd target without icmpv6": mask = Masks.InPortEthType(); mask.NdTarget = Ipv6Address.AllOnes; key.NdTarget = Ipv6Address.AllOnes; break;
            case "l4 on later fragment": key.NwFrag = FlowKey.FragAny | FlowKey.FragLater; mask.NwFrag = 0xFF; break;
        }
        var rc = t.Dp.FlowPut(FlowPutFlags.Create, key, mask, Actions.Output(2), out _, out var error);
        Assert.Equal(Errno.EINVAL, rc);
        Assert.Contains(expected, error);
        Assert.Equal(0UL, t.Stats.Flows); // nothing half-applied
    }

    [Fact]
    public void ConsistentKeysAreAccepted()
    {
        using var t = new ManualDatapath();
        var key = TcpKey();
        t.Put(key, Masks.InPortOnly(), Actions.Output(2));
        t.Put(key, Masks.TcpDst(), Actions.Output(2));
        var m = Masks.TcpDst();
        m.TcpFlags = 0xFFF;
        m.Ipv4Src = 0xFFFFFF00;
        t.Put(key, m, Actions.Output(2));
        t.Put(key, OdpFlowValidator.ExactMaskFor(key), Actions.Output(2));
        Assert.Equal(4UL, t.Stats.Flows);
        // The datapath installs the normalised pair (recirc_id exact, VLAN TCI mask 0 -> 0x1fff, as OVS), and get/del
        // with the caller's original mask find it.
        Assert.True(t.Dp.FlowGet(key, Masks.InPortOnly(), out var f).IsSuccess);
        Assert.Equal(uint.MaxValue, f!.Mask.RecircId);
        Assert.Equal(0x1FFF, f.Mask.Vlan0Tci);
        Assert.True(t.Dp.FlowDel(key, Masks.InPortOnly(), out _).IsSuccess);
        // An all-ones mask over fields the packet lacks (an inner VLAN tag, IPv6 in an IPv4 flow) is refused, as OVS refuses it.
        Assert.Equal(Errno.EINVAL, t.Dp.FlowPut(FlowPutFlags.Create, key, FlowKey.AllOnes, Actions.Output(2), out _, out var error));
        Assert.Contains("matched but", error);
    }

    [Fact]
    public void BadActionsAreRefused()
    {
        using var t = new ManualDatapath(new UserspaceDatapathOptions { PollThreads = 0, MaxPorts = 8 });
        var key = TcpKey();
        var mask = Masks.InPortOnly();
        Assert.Equal(Errno.EINVAL, t.Dp.FlowPut(FlowPutFlags.Create, key, mask, Actions.Output(8), out _, out var e1));
        Assert.Contains("port 8", e1);
        Assert.Equal(Errno.EINVAL, t.Dp.FlowPut(FlowPutFlags.Create, key, mask, Actions.Of(new PushVlanAction(0x0800, 0x1005)), out _, out var e2));
        Assert.Contains("tpid", e2);
        Assert.Equal(Errno.EINVAL, t.Dp.FlowPut(FlowPutFlags.Create, key, mask, Actions.Of(new TruncAction(4), new OutputAction(1)), out _, out var e3));
        Assert.Contains("trunc", e3);
        OdpActionList nested = Actions.Output(1);
        for (int i = 0; i < 12; i++) nested = Actions.Of(new CloneAction(nested));
        Assert.Equal(Errno.EINVAL, t.Dp.FlowPut(FlowPutFlags.Create, key, mask, nested, out _, out var e4));
        Assert.Contains("nested", e4);
        Assert.Equal(0UL, t.Stats.Flows);
    }

    [Fact]
    public void DumpReturnsEveryFlowOnceAsSnapshots()
    {
        using var t = new ManualDatapath();
        var expected = new HashSet<(ushort, uint, bool)>();
        for (ushort i = 0; i < 200; i++)
        {
            t.Put(TcpKey(dport: i), Masks.TcpDst(), Actions.Output(2));
            expected.Add((i, 0, true));
        }
        for (uint p = 0; p < 50; p++)
        {
            var k = TcpKey();
            k.Ipv4Dst = p << 8;
            t.Put(k, Masks.Ipv4Dst(0xFFFFFF00), Actions.Output(1));
            expected.Add((0, p << 8, false));
        }
        Assert.True(t.Dp.FlowDumpStart(out var dump).IsSuccess);
        var seen = new List<(ushort, uint, bool)>();
        while (dump!.Next(out var f).IsSuccess) seen.Add((f!.Key.TpDst, f.Key.Ipv4Dst, f.Mask.TpDst != 0));
        Assert.Equal(Errno.ENOENT, dump.Next(out _));
        dump.Dispose();
        Assert.Equal(expected.Count, seen.Count);
        Assert.True(expected.SetEquals(seen));
    }

    [Fact]
    public void DumpToleratesConcurrentChangeWithoutDuplicatesOfStableFlows()
    {
        using var t = new ManualDatapath();
        var stable = new HashSet<ushort>();
        for (ushort i = 0; i < 300; i++)
        {
            t.Put(TcpKey(dport: i), Masks.TcpDst(), Actions.Output(2));
            stable.Add(i);
        }
        using var stop = new CancellationTokenSource();
        Exception? churnError = null;
        var churn = new Thread(() =>
        {
            try
            {
                var r = new Random(1);
                while (!stop.IsCancellationRequested)
                {
                    // Churn flows in other masks and other ports (forces bucket-array growth and subtable changes).
                    var k = TcpKey(dport: (ushort)(1000 + r.Next(2000)));
                    var m = r.Next(2) == 0 ? Masks.TcpDst() : OdpFlowValidator.ExactMaskFor(k);
                    if (t.Dp.FlowPut(FlowPutFlags.Create, k, m, Actions.Output(1), out _, out _).IsError)
                        t.Dp.FlowDel(k, m, out _);
                }
            }
            catch (Exception e) { churnError = e; }
        });
        churn.Start();
        try
        {
            for (int round = 0; round < 30; round++)
            {
                t.Dp.FlowDumpStart(out var dump);
                var counts = new Dictionary<(ushort, bool), int>();
                while (dump!.Next(out var f).IsSuccess)
                {
                    var id = (f!.Key.TpDst, f.Mask.TpSrc != 0);
                    counts[id] = counts.GetValueOrDefault(id) + 1;
                }
                foreach (var port in stable) Assert.Equal(1, counts.GetValueOrDefault((port, false)));
                Assert.All(counts.Values, c => Assert.Equal(1, c));
            }
        }
        finally
        {
            stop.Cancel();
            churn.Join();
        }
        Assert.Null(churnError);
    }
}
