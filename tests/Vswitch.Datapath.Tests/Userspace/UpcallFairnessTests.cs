using Vswitch.Datapath.Userspace;
using Vswitch.Packets;

namespace Vswitch.Datapath.Tests.Userspace;

/// <summary>
/// Upcall fairness across ports (issue 15): a miss storm on one port fills only its own queue, receivers serve the ports
/// round-robin, and drops are counted per port. Before, one shared FIFO let a MAC flood on one port take every slot.
/// </summary>
public class UpcallFairnessTests
{
    private static DatapathUpcall Upcall(PacketPool pool, uint port)
    {
        Assert.True(pool.TryRent(out var p));
        FlowKey key = default;
        key.InPort = port;
        return new DatapathUpcall(DatapathUpcallType.Miss, key, p!);
    }

    [Fact]
    public void AStormFillsOnlyItsOwnPortQueueAndTheOthersAreServedInTurn()
    {
        using var pool = new PacketPool(2048);
        var q = new UpcallQueue(capacity: 1024, perPortCapacity: 256, maxPorts: 16);
        int accepted = 0;
        for (int i = 0; i < 1000; i++) if (q.TryEnqueue(Upcall(pool, 1))) accepted++;   // the storm
        Assert.Equal(256, accepted);
        Assert.True(q.TryEnqueue(Upcall(pool, 2)));
        Assert.True(q.TryEnqueue(Upcall(pool, 3)));
        // Round-robin: the quiet ports' upcalls come out within the first three, not after 256 storm upcalls.
        var order = new List<uint>();
        for (int i = 0; i < 3; i++) { var u = q.TryDequeue()!; order.Add(u.Key.InPort); u.Packet.Release(); }
        Assert.Equal([1u, 2u, 3u], order);
        Assert.Equal((256L, 744L, 255), q.PortStats(1));
        Assert.Equal((1L, 0L, 0), q.PortStats(2));
        Assert.Equal(744, q.Lost);
        q.Purge();
    }

    [Fact]
    public void WhenTheWholeQueueIsFullTheLongestPortQueueMakesRoom()
    {
        using var pool = new PacketPool(256);
        var q = new UpcallQueue(capacity: 8, perPortCapacity: 6, maxPorts: 16);
        for (int i = 0; i < 6; i++) Assert.True(q.TryEnqueue(Upcall(pool, 1)));
        for (int i = 0; i < 2; i++) Assert.True(q.TryEnqueue(Upcall(pool, 2)));
        Assert.Equal(8, q.Count);
        Assert.True(q.TryEnqueue(Upcall(pool, 3)));      // port 1 (6 queued) gives up its newest
        Assert.Equal((6L, 1L, 5), q.PortStats(1));
        Assert.True(q.TryEnqueue(Upcall(pool, 2)));      // port 2 (2) is shorter than port 1 (5): room again
        Assert.True(q.TryEnqueue(Upcall(pool, 2)));      // port 1: 3 left, port 2: 4
        Assert.False(q.TryEnqueue(Upcall(pool, 2)));     // the longest queue cannot take room from shorter ones
        Assert.True(q.TryEnqueue(Upcall(pool, 1)));      // but port 1 (3) takes it from port 2 (4)
        Assert.Equal((4L, 2L, 3), q.PortStats(2));
        Assert.Equal(8, q.Count);
        Assert.Equal(8, q.Purge());
        Assert.Equal(pool.Capacity, pool.Available);       // every dropped or purged upcall released its packet
    }

    [Fact]
    public void PerPortCountersAreVisibleThroughTheDatapath()
    {
        using var t = new ManualDatapath(new UserspaceDatapathOptions { PollThreads = 0, UpcallQueueCapacity = 64, UpcallQueuePerPortCapacity = 8 }, poolSize: 4096);
        t.Dp.SetListenMask(DatapathListenMask.Miss);
        for (int i = 0; i < 40; i++) t.P1.Inject(TestFrames.Tcp4(sport: (ushort)(1000 + i)));
        t.P2.Inject(TestFrames.Tcp4(sport: 7));
        while (t.Dp.PollOnce() > 0) { }
        Assert.True(t.Dp.GetPortUpcallStats(1, out var s1).IsSuccess);
        Assert.True(t.Dp.GetPortUpcallStats(2, out var s2).IsSuccess);
        Assert.Equal(8ul, s1.Upcalls);
        Assert.Equal(32ul, s1.Lost);
        Assert.Equal(8ul, s1.Pending);
        Assert.Equal(1ul, s2.Upcalls);
        Assert.Equal(0ul, s2.Lost);
        Assert.Equal(32ul, t.Stats.Lost);
        // The quiet port's upcall is the second one received, not the ninth.
        Assert.True(t.Dp.RecvUpcall(out var a).IsSuccess);
        Assert.True(t.Dp.RecvUpcall(out var b).IsSuccess);
        Assert.Equal([1u, 2u], new[] { a!.Key.InPort, b!.Key.InPort });
        a.Packet.Release();
        b.Packet.Release();
        Assert.Equal(Vswitch.Interop.Linux.Errno.ENOENT, t.Dp.GetPortUpcallStats(100_000, out _));
        t.Dp.RecvPurge();
    }
}
