using Vswitch.Datapath.Odp;
using Vswitch.Datapath.Userspace;
using Vswitch.Packets;

namespace Vswitch.Datapath.Tests.Userspace;

public class ClassifierTests
{
    private static FlowKey RandomKey(Random r)
    {
        FlowKey k = default;
        // Small value ranges so random packets actually hit random flows.
        k.InPort = (uint)r.Next(3);
        k.EthType = r.Next(2) == 0 ? (ushort)0x0800 : (ushort)0x86DD;
        k.NwProto = (byte)(r.Next(2) == 0 ? 6 : 17);
        k.Ipv4Src = (uint)r.Next(4) << 24 | (uint)r.Next(4);
        k.Ipv4Dst = (uint)r.Next(4) << 8 | (uint)r.Next(4);
        k.TpSrc = (ushort)r.Next(4);
        k.TpDst = (ushort)(r.Next(4) << 8 | r.Next(4));
        k.Vlan0Tci = (ushort)(r.Next(2) * (FlowKey.VlanCfi | r.Next(3)));
        return k;
    }

    private static FlowKey RandomMask(Random r)
    {
        FlowKey m = default;
        m.InPort = r.Next(3) == 0 ? 0 : uint.MaxValue;
        if (r.Next(2) == 0) m.EthType = 0xFFFF;
        if (r.Next(2) == 0) m.NwProto = 0xFF;
        m.Ipv4Src = r.Next(3) switch { 0 => 0, 1 => 0xFF000000, _ => uint.MaxValue };
        m.Ipv4Dst = r.Next(3) switch { 0 => 0, 1 => 0xFFFFFF00, _ => uint.MaxValue };
        if (r.Next(3) == 0) m.TpSrc = 0xFFFF;
        m.TpDst = (ushort)(r.Next(3) switch { 0 => 0, 1 => 0xFF00, _ => 0xFFFF });
        if (r.Next(4) == 0) m.Vlan0Tci = 0xFFFF;
        return m;
    }

    private sealed record Entry(FlowKey Key, FlowKey Mask, DpFlow Flow);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void MatchesLikeABruteForceLinearMatcher(int seed)
    {
        var r = new Random(seed);
        var classifier = new Classifier();
        var entries = new List<Entry>();
        // Random flows in many masks; skip overlapping duplicates of the same (masked key, mask).
        for (int i = 0; i < 400; i++)
        {
            var mask = RandomMask(r);
            var key = FlowKey.ApplyMask(RandomKey(r), mask);
            if (classifier.Find(key, mask) is not null) continue;
            var flow = new DpFlow(key, mask, OdpActionList.Drop);
            classifier.Insert(flow);
            entries.Add(new Entry(key, mask, flow));
        }
        // Delete some to exercise removal paths.
        for (int i = 0; i < 60; i++)
        {
            int victim = r.Next(entries.Count);
            Assert.True(classifier.Remove(entries[victim].Flow));
            entries.RemoveAt(victim);
        }
        Assert.Equal(entries.Count, classifier.FlowCount);
        int hits = 0;
        for (int i = 0; i < 5000; i++)
        {
            if (i % 1000 == 999) classifier.Rerank();
            var packet = RandomKey(r);
            var matching = entries.Where(e => FlowKey.MatchesMasked(packet, e.Mask, e.Key)).Select(e => e.Flow).ToHashSet();
            var found = classifier.Lookup(packet);
            if (matching.Count == 0)
            {
                Assert.Null(found);
            }
            else
            {
                Assert.NotNull(found);
                Assert.Contains(found, matching); // any matching flow is acceptable when flows overlap
                hits++;
            }
            // Find by (masked key, mask) agrees with the list.
            var e0 = entries[r.Next(entries.Count)];
            Assert.Same(e0.Flow, classifier.Find(e0.Key, e0.Mask));
        }
        Assert.True(hits > 500, $"the random test should exercise hits (got {hits})");
    }

    [Fact]
    public void RerankPutsTheMostHitSubtableFirst()
    {
        var c = new Classifier();
        FlowKey m1 = default, m2 = default, k = default;
        m1.InPort = uint.MaxValue;
        m2.InPort = uint.MaxValue;
        m2.TpDst = 0xFFFF;
        k.InPort = 1;
        k.TpDst = 7;
        c.Insert(new DpFlow(FlowKey.ApplyMask(k, m1), m1, OdpActionList.Drop));
        var other = k;
        other.InPort = 2;
        c.Insert(new DpFlow(FlowKey.ApplyMask(other, m2), m2, OdpActionList.Drop));
        Assert.True(c.Subtables[0].Mask.Equals(m1));
        for (int i = 0; i < 10; i++) c.Lookup(other);
        c.Rerank();
        Assert.True(c.Subtables[0].Mask.Equals(m2));
        Assert.Equal(2, c.Subtables.Length);
    }

    [Fact]
    public void SubtableGrowsAndShrinksWithoutLosingFlows()
    {
        var c = new Classifier();
        FlowKey m = default;
        m.InPort = uint.MaxValue;
        m.Ipv4Dst = uint.MaxValue;
        var flows = new List<DpFlow>();
        for (uint i = 0; i < 5000; i++)
        {
            FlowKey k = default;
            k.InPort = 1;
            k.Ipv4Dst = i * 2654435761u;
            var f = new DpFlow(k, m, OdpActionList.Drop);
            c.Insert(f);
            flows.Add(f);
        }
        foreach (var f in flows) Assert.Same(f, c.Lookup(f.Key));
        for (int i = 0; i < flows.Count; i += 2) Assert.True(c.Remove(flows[i]));
        for (int i = 0; i < flows.Count; i++)
        {
            if (i % 2 == 0) { Assert.Null(c.Lookup(flows[i].Key)); Assert.True(flows[i].Dead); }
            else Assert.Same(flows[i], c.Lookup(flows[i].Key));
        }
        Assert.Equal(2500, c.FlowCount);
    }
}
