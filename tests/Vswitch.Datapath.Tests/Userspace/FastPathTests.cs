using System.Buffers.Binary;
using Vswitch.Datapath.Odp;
using Vswitch.Datapath.Userspace;
using Vswitch.Interop.Linux;
using Vswitch.Packets;

namespace Vswitch.Datapath.Tests.Userspace;

public class FastPathTests
{
    [Fact]
    public void PacketMatchingAFlowIsForwardedAndCounted()
    {
        using var t = new ManualDatapath();
        var frame = TestFrames.Tcp4();
        t.Put(TestFrames.KeyOf(frame, 1), Masks.TcpDst(), Actions.Output(2));
        for (int i = 0; i < 5; i++) t.P1.Inject(frame);
        Assert.Equal(5, t.Dp.PollOnce());
        var got = t.Drain(t.P2);
        Assert.Equal(5, got.Count);
        Assert.All(got, g => Assert.Equal(frame, g));
        var s = t.Stats;
        Assert.Equal(5UL, s.Hit);
        Assert.Equal(1UL, s.MaskHit); // first packet through the classifier, the rest from the EMC
        Assert.Equal(4UL, s.EmcHit);
        Assert.Equal(0UL, s.Missed);
        Assert.Empty(t.Drain(t.P1));
    }

    [Fact]
    public void MissWithoutListenerIsLostAndWithListenerBecomesAnUpcall()
    {
        using var t = new ManualDatapath();
        t.P1.Inject(TestFrames.Tcp4());
        t.Dp.PollOnce();
        Assert.Equal(1UL, t.Stats.Missed);
        Assert.Equal(1UL, t.Stats.Lost);
        Assert.Equal(Errno.EAGAIN, t.Dp.RecvUpcall(out _));

        t.Dp.SetListenMask(DatapathListenMask.Miss);
        var frame = TestFrames.Tcp4(dport: 443);
        t.P1.Inject(frame);
        t.Dp.PollOnce();
        Assert.True(t.Dp.RecvWait(0));
        Assert.True(t.Dp.RecvUpcall(out var up).IsSuccess);
        Assert.Equal(DatapathUpcallType.Miss, up!.Type);
        Assert.Equal(1u, up.Key.InPort);
        Assert.Equal(443, up.Key.TpDst);
        Assert.Equal(frame, up.Packet.Data.ToArray());
        Assert.Equal(1u, up.Packet.Metadata.InPort);

        // Miss -> put -> execute, as the switch layer does.
        t.Put(up.Key, Masks.TcpDst(), Actions.Output(2));
        Assert.True(t.Dp.Execute(up.Packet, Actions.Output(2)).IsSuccess);
        Assert.Single(t.Drain(t.P2));
        t.P1.Inject(frame);
        t.Dp.PollOnce();
        Assert.Single(t.Drain(t.P2));
        Assert.Equal(Errno.EAGAIN, t.Dp.RecvUpcall(out _));
        Assert.Equal(2UL, t.Stats.Missed);
        Assert.Equal(1UL, t.Stats.Hit);
    }

    [Fact]
    public void UpcallOverflowIsCountedAsLostAndMemoryStaysBounded()
    {
        using var t = new ManualDatapath(new UserspaceDatapathOptions { PollThreads = 0, UpcallQueueCapacity = 8 }, poolSize: 512);
        t.Dp.SetListenMask(DatapathListenMask.Miss);
        int available = t.Pool.Available;
        for (int round = 0; round < 20; round++)
        {
            for (int i = 0; i < 16; i++) t.P1.Inject(TestFrames.Udp4(sport: (ushort)(round * 16 + i)));
            t.Dp.PollOnce();
        }
        var s = t.Stats;
        Assert.Equal(320UL, s.Missed);
        Assert.Equal(312UL, s.Lost);
        // Only the queued upcalls hold buffers; every dropped one went back to the pool.
        Assert.Equal(available - 8, t.Pool.Available);
        int n = 0;
        while (t.Dp.RecvUpcall(out var u).IsSuccess) { u!.Packet.Release(); n++; }
        Assert.Equal(8, n);
        Assert.Equal(available, t.Pool.Available);
        // Purge releases queued packets too.
        t.P1.Inject(TestFrames.Udp4());
        t.Dp.PollOnce();
        Assert.True(t.Dp.RecvPurge().IsSuccess);
        Assert.Equal(Errno.EAGAIN, t.Dp.RecvUpcall(out _));
        Assert.Equal(available, t.Pool.Available);
    }

    [Fact]
    public void DeletedFlowStopsMatchingEvenFromTheExactMatchCache()
    {
        using var t = new ManualDatapath();
        var frame = TestFrames.Tcp4();
        var key = TestFrames.KeyOf(frame, 1);
        t.Put(key, Masks.TcpDst(), Actions.Output(2));
        t.P1.Inject(frame);
        t.P1.Inject(frame);
        t.Dp.PollOnce();
        Assert.Equal(2, t.Drain(t.P2).Count);
        Assert.True(t.Dp.FlowDel(key, Masks.TcpDst(), out var stats).IsSuccess);
        Assert.Equal(2UL, stats.Packets);
        t.P1.Inject(frame);
        t.Dp.PollOnce();
        Assert.Empty(t.Drain(t.P2));
        Assert.Equal(1UL, t.Stats.Missed);
        // A new flow with the same key is found again; modify takes effect for cached packets.
        t.Put(key, Masks.TcpDst(), Actions.Output(2));
        t.P1.Inject(frame);
        t.Dp.PollOnce();
        Assert.Single(t.Drain(t.P2));
        t.Dp.FlowPut(FlowPutFlags.Modify, key, Masks.TcpDst(), Actions.Output(1), out _, out _);
        t.P1.Inject(frame);
        t.Dp.PollOnce();
        Assert.Empty(t.Drain(t.P2));
        Assert.Single(t.Drain(t.P1));
        // Flush empties the caches too.
        t.Dp.FlowFlush();
        t.P1.Inject(frame);
        t.Dp.PollOnce();
        Assert.Empty(t.Drain(t.P1));
        Assert.Equal(2UL, t.Stats.Missed);
    }

    [Fact]
    public void MaskedFlowsMatchExactlyTheRightPackets()
    {
        using var t = new ManualDatapath();
        // 10.0.0.0/24 -> port 2; tcp dst 22 (any address) -> drop; everything else on port 1 misses.
        var k = TestFrames.KeyOf(TestFrames.Tcp4(dst: 0x0A000005), 1);
        t.Put(k, Masks.Ipv4Dst(0xFFFFFF00), Actions.Output(2));
        var ssh = TestFrames.KeyOf(TestFrames.Tcp4(dst: 0x0B000001, dport: 22), 1);
        t.Put(ssh, Masks.TcpDst(), OdpActionList.Drop);
        t.P1.Inject(TestFrames.Tcp4(dst: 0x0A000001));        // /24 hit
        t.P1.Inject(TestFrames.Tcp4(dst: 0x0A0000FF, dport: 5)); // /24 hit
        t.P1.Inject(TestFrames.Tcp4(dst: 0x0A000101));        // outside /24, port 80 -> miss
        t.P1.Inject(TestFrames.Tcp4(dst: 0x0C000001, dport: 22)); // ssh -> drop
        t.P2.Inject(TestFrames.Tcp4(dst: 0x0A000001));        // other in_port -> miss
        t.Dp.PollOnce();
        Assert.Equal(2, t.Drain(t.P2).Count);
        Assert.Empty(t.Drain(t.P1));
        var s = t.Stats;
        Assert.Equal(3UL, s.Hit);
        Assert.Equal(2UL, s.Missed);
        t.Dp.FlowGet(ssh, Masks.TcpDst(), out var f);
        Assert.Equal(1UL, f!.Stats.Packets);
    }

    [Fact]
    public void VlanPushPopAndSetRewriteHeadersWithValidChecksums()
    {
        using var t = new ManualDatapath();
        var frame = TestFrames.Tcp4(src: 0x0A000001, dst: 0x0A000002, sport: 1000, dport: 80);
        var key = TestFrames.KeyOf(frame, 1);
        FlowKey ipVal = default, ipMask = default;
        ipVal.Ipv4Dst = 0xC0A80102; ipMask.Ipv4Dst = uint.MaxValue;
        ipVal.NwTtl = 9; ipMask.NwTtl = 0xFF;
        FlowKey tcpVal = default, tcpMask = default;
        tcpVal.TpDst = 8080; tcpMask.TpDst = 0xFFFF;
        FlowKey ethVal = default, ethMask = default;
        ethVal.EthDst = MacAddress.Parse("aa:bb:cc:dd:ee:ff"); ethMask.EthDst = MacAddress.Broadcast;
        t.Put(key, Masks.TcpDst(), Actions.Of(
            new SetAction(OdpSetTarget.Ipv4, ipVal, ipMask, true),
            new SetAction(OdpSetTarget.Tcp, tcpVal, tcpMask, true),
            new SetAction(OdpSetTarget.Ethernet, ethVal, ethMask, true),
            new PushVlanAction(0x8100, (ushort)(FlowKey.VlanCfi | (3 << 13) | 10)),
            new OutputAction(2)));
        t.P1.Inject(frame);
        t.Dp.PollOnce();
        var got = Assert.Single(t.Drain(t.P2));
        Assert.Equal(frame.Length + 4, got.Length);
        Assert.Equal(0x8100, BinaryPrimitives.ReadUInt16BigEndian(got.AsSpan(12)));
        Assert.Equal((3 << 13) | 10, BinaryPrimitives.ReadUInt16BigEndian(got.AsSpan(14))); // CFI cleared on the wire
        var outKey = TestFrames.KeyOf(got, 2);
        Assert.Equal(0xC0A80102u, outKey.Ipv4Dst);
        Assert.Equal(0x0A000001u, outKey.Ipv4Src);
        Assert.Equal(9, outKey.NwTtl);
        Assert.Equal(8080, outKey.TpDst);
        Assert.Equal(MacAddress.Parse("aa:bb:cc:dd:ee:ff"), outKey.EthDst);
        Assert.Equal(10, outKey.Vlan0Tci & 0xFFF);
        Assert.True(TestFrames.TcpChecksumValid(got, 18), "IPv4/TCP checksums after set");

        // Pop the tag again on the way back.
        var vkey = TestFrames.KeyOf(got, 2);
        var vmask = Masks.InPortEthType();
        vmask.Vlan0Tci = 0xFFFF;
        t.Put(vkey, vmask, Actions.Of(PopVlanAction.Instance, new OutputAction(1)));
        t.P2.Inject(got);
        t.Dp.PollOnce();
        var back = Assert.Single(t.Drain(t.P1));
        Assert.Equal(frame.Length, back.Length);
        Assert.Equal(0x0800, BinaryPrimitives.ReadUInt16BigEndian(back.AsSpan(12)));
        Assert.True(TestFrames.TcpChecksumValid(back));
    }

    [Fact]
    public void UdpPortRewriteKeepsChecksumValidAndMaskedSetOnlyTouchesMaskedBits()
    {
        using var t = new ManualDatapath();
        var frame = TestFrames.Udp4(src: 0x0A000001, dst: 0x0A000002, sport: 0x1234, dport: 53);
        FlowKey v = default, m = default;
        v.TpSrc = 0xAB00; m.TpSrc = 0xFF00;     // only the high byte
        v.Ipv4Src = 0x01020304; m.Ipv4Src = 0x000000FF; // only the last octet
        t.Put(TestFrames.KeyOf(frame, 1), Masks.InPortOnly(), Actions.Of(
            new SetAction(OdpSetTarget.Udp, v, m, true), new SetAction(OdpSetTarget.Ipv4, v, m, true), new OutputAction(2)));
        t.P1.Inject(frame);
        t.Dp.PollOnce();
        var got = Assert.Single(t.Drain(t.P2));
        var k = TestFrames.KeyOf(got, 2);
        Assert.Equal(0xAB34, k.TpSrc);
        Assert.Equal(0x0A000004u, k.Ipv4Src);
        Assert.True(TestFrames.TcpChecksumValid(got));
    }

    [Fact]
    public void OutputToSeveralPortsCloneTruncAndSampleBehave()
    {
        using var t = new ManualDatapath();
        var frame = TestFrames.Udp4(payload: 200);
        var key = TestFrames.KeyOf(frame, 1);
        int free = t.Pool.Available;
        t.Put(key, Masks.InPortOnly(), Actions.Of(
            new OutputAction(2),
            new TruncAction(60), new OutputAction(0),            // local port gets a 60-byte copy
            new CloneAction(Actions.Of(PopVlanAction.Instance, new OutputAction(2))),
            new SampleAction(0, Actions.Output(2)),              // never
            new SampleAction(uint.MaxValue, Actions.Output(1)), // always
            new OutputAction(1)));
        t.P1.Inject(frame);
        t.Dp.PollOnce();
        Assert.Equal(2, t.Drain(t.P2).Count);
        Assert.Equal(2, t.Drain(t.P1).Count);
        Assert.True(t.Dp.LocalPort.TryTakeTransmitted(out var local));
        Assert.Equal(60, local!.Length);
        local.Release();
        Assert.Equal(free, t.Pool.Available); // every copy accounted for
        Assert.Equal(0UL, t.Stats.ActionDrops);
    }

    [Fact]
    public void SampleWithProbabilityIsRoughlyProportional()
    {
        using var t = new ManualDatapath(memOptions: "capacity=4096", poolSize: 8192);
        var frame = TestFrames.Udp4();
        t.Put(TestFrames.KeyOf(frame, 1), Masks.InPortOnly(), Actions.Of(new SampleAction(uint.MaxValue / 4, Actions.Output(2))));
        for (int i = 0; i < 4000; i++)
        {
            t.P1.Inject(frame);
            if (i % 32 == 31) t.Dp.PollOnce();
        }
        while (t.Dp.PollOnce() > 0) { }
        int n = t.Drain(t.P2).Count;
        Assert.InRange(n, 800, 1200);
    }

    [Fact]
    public void UserspaceActionSendsAnActionUpcallWithUserdata()
    {
        using var t = new ManualDatapath();
        var frame = TestFrames.Udp4();
        t.Put(TestFrames.KeyOf(frame, 1), Masks.InPortOnly(), Actions.Of(new UserspaceAction(7, [1, 2, 3]), new OutputAction(2)));
        t.P1.Inject(frame);
        t.Dp.PollOnce();
        Assert.Single(t.Drain(t.P2));
        Assert.Equal(1UL, t.Stats.Lost); // not listening for action upcalls
        t.Dp.SetListenMask(DatapathListenMask.Action);
        t.P1.Inject(frame);
        t.Dp.PollOnce();
        Assert.True(t.Dp.RecvUpcall(out var up).IsSuccess);
        Assert.Equal(DatapathUpcallType.Action, up!.Type);
        Assert.Equal(7u, up.Pid);
        Assert.Equal(new byte[] { 1, 2, 3 }, up.Userdata);
        Assert.Equal(frame, up.Packet.Data.ToArray());
        up.Packet.Release();
    }

    [Fact]
    public void SflowProbabilitySamplesMatchedPacketsWhenListened()
    {
        using var t = new ManualDatapath();
        var frame = TestFrames.Udp4();
        t.Put(TestFrames.KeyOf(frame, 1), Masks.InPortOnly(), Actions.Output(2));
        t.Dp.SetSflowProbability(uint.MaxValue);
        t.P1.Inject(frame);
        t.Dp.PollOnce();
        Assert.Equal(Errno.EAGAIN, t.Dp.RecvUpcall(out _)); // Sample not in the listen mask
        t.Dp.SetListenMask(DatapathListenMask.Sample);
        t.P1.Inject(frame);
        t.Dp.PollOnce();
        Assert.True(t.Dp.RecvUpcall(out var up).IsSuccess);
        Assert.Equal(DatapathUpcallType.Sample, up!.Type);
        Assert.Equal("2", up.Actions!.ToString());
        up.Packet.Release();
        Assert.Equal(2, t.Drain(t.P2).Count);
    }

    [Fact]
    public void DropFragsDropsFragmentsBeforeLookup()
    {
        using var t = new ManualDatapath();
        var frag = TestFrames.Udp4(frag: 0x2000); // MF set: first fragment
        t.Put(TestFrames.KeyOf(frag, 1), Masks.InPortOnly(), Actions.Output(2));
        t.P1.Inject(frag);
        t.Dp.PollOnce();
        Assert.Single(t.Drain(t.P2));
        t.Dp.SetDropFrags(true);
        t.P1.Inject(frag);
        t.P1.Inject(TestFrames.Udp4());
        t.Dp.PollOnce();
        Assert.Single(t.Drain(t.P2));
        Assert.Equal(1UL, t.Stats.FragmentsDropped);
    }

    [Fact]
    public void MalformedFramesAreCountedAndStillLookedUp()
    {
        using var t = new ManualDatapath();
        var full = TestFrames.Tcp4();
        var cut = full[..30]; // IPv4 header truncated
        t.Put(TestFrames.KeyOf(cut, 1), Masks.InPortEthType(), Actions.Output(2));
        t.P1.Inject(cut);
        t.P1.Inject(new byte[] { 1, 2, 3 });
        t.Dp.PollOnce();
        Assert.Equal(2UL, t.Stats.Malformed);
        Assert.Single(t.Drain(t.P2));
    }

    [Fact]
    public void ExecuteRefusesBadActionsAndCountsOutputToMissingPorts()
    {
        using var t = new ManualDatapath();
        int free = t.Pool.Available;
        t.Pool.TryRent(out var p);
        p!.TrySetFrame(TestFrames.Udp4());
        Assert.Equal(Errno.EINVAL, t.Dp.Execute(p, Actions.Output(9999)));
        Assert.Equal(free, t.Pool.Available); // released anyway
        t.Pool.TryRent(out p);
        p!.TrySetFrame(TestFrames.Udp4());
        Assert.True(t.Dp.Execute(p, Actions.Output(77)).IsSuccess);
        Assert.Equal(1UL, t.Stats.ActionDrops);
        Assert.Equal(free, t.Pool.Available);
    }

    [Fact]
    public void LocalPortReceivesAndSends()
    {
        using var t = new ManualDatapath();
        var frame = TestFrames.Udp4();
        t.Put(TestFrames.KeyOf(frame, 0), Masks.InPortOnly(), Actions.Output(1));
        t.Pool.TryRent(out var p);
        p!.TrySetFrame(frame);
        Assert.True(t.Dp.LocalPort.Inject(p));
        t.Dp.PollOnce();
        Assert.Single(t.Drain(t.P1));
    }
}
