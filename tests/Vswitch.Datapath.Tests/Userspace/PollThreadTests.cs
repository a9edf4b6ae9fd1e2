using Vswitch.Datapath.Odp;
using Vswitch.Datapath.Userspace;
using Vswitch.Netdev.Memory;
using Vswitch.Packets;

namespace Vswitch.Datapath.Tests.Userspace;

public class PollThreadTests
{
    private static ulong Processed(ManualDatapath t)
    {
        var s = t.Stats;
        return s.Hit + s.Missed + s.FragmentsDropped;
    }

    private static void WaitProcessed(ManualDatapath t, ulong expected)
    {
        Wait.Until(() => Processed(t) >= expected);
        Assert.Equal(expected, Processed(t));
    }

    /// <summary>Both poll threads of <paramref name="t"/> (named pmdN-&lt;datapath&gt;) asleep in epoll_wait.</summary>
    private static void WaitPollThreadsAsleep(ManualDatapath t, int threads)
    {
        string suffix = ("pmd0-" + t.Dp.Name)[5..Math.Min(15, 5 + t.Dp.Name.Length)]; // the kernel keeps 15 characters
        Wait.ForThreadsAsleep(comm => comm.StartsWith("pmd", StringComparison.Ordinal) && comm.EndsWith(suffix, StringComparison.Ordinal),
            threads, Wait.InEpoll, "the poll threads to sleep in epoll_wait");
    }

    [Fact]
    public void EveryRxQueueIsPolledByExactlyOneThread()
    {
        using var t = new ManualDatapath(new UserspaceDatapathOptions { PollThreads = 2 }, memOptions: "queues=3");
        var table = t.Dp.Backend.Ports;
        var all = table.PerThread.SelectMany(x => x).Select(a => (a.Port.PortNo, a.Queue.Index)).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.Equal(1 + 3 + 3, all.Count); // local port + two ports with 3 queues
        Assert.All(table.PerThread, q => Assert.NotEmpty(q));
    }

    [Theory]
    [InlineData(0, 1, new[] { false })]              // manual mode: the control context is the only sender
    [InlineData(1, 1, new[] { true })]               // poll thread 0 and the control context share queue 0
    [InlineData(1, 2, new[] { false, false })]       // one queue each
    [InlineData(2, 2, new[] { true, false })]        // senders 0 and 2 (control) on queue 0, sender 1 alone on queue 1
    [InlineData(2, 4, new[] { false, false, false, false })]
    public void TxQueueIsLockedOnlyWhenMoreThanOneSenderMapsToIt(int pollThreads, int txQueues, bool[] shared)
    {
        using var t = new ManualDatapath(new UserspaceDatapathOptions { PollThreads = pollThreads }, memOptions: $"queues={txQueues}");
        var port = t.Dp.Backend.Ports.ByNumber[1]!;
        Assert.Equal(shared, port.TxShared);
        Assert.Equal(txQueues, port.TxLocks.Length);
    }

    [Fact]
    public void ThreadsForwardFromEveryQueueAndWakeFromSleep()
    {
        using var t = new ManualDatapath(new UserspaceDatapathOptions { PollThreads = 2 }, memOptions: "queues=2,capacity=4096", poolSize: 8192);
        var frame = TestFrames.Udp4();
        t.Put(TestFrames.KeyOf(frame, 1), Masks.InPortOnly(), Actions.Output(2));
        WaitPollThreadsAsleep(t, 2);
        for (int i = 0; i < 1000; i++) Assert.True(t.P1.Inject(frame, i % 2));
        WaitProcessed(t, 1000);
        int got = 0;
        Wait.Until(() => (got += t.Drain(t.P2).Count) >= 1000);
        Assert.Equal(1000, got);
        WaitPollThreadsAsleep(t, 2);
        t.P1.Inject(frame, 1);
        WaitProcessed(t, 1001);
    }

    [Fact]
    public void FlowChangesWhileTrafficFlowsKeepCountsConsistent()
    {
        using var t = new ManualDatapath(new UserspaceDatapathOptions { PollThreads = 2 }, memOptions: "capacity=4096", poolSize: 16384);
        var frames = Enumerable.Range(0, 16).Select(i => TestFrames.Tcp4(dport: (ushort)(100 + i))).ToArray();
        var keys = frames.Select(f => TestFrames.KeyOf(f, 1)).ToArray();
        foreach (var k in keys) t.Put(k, Masks.TcpDst(), Actions.Output(2));
        ulong injected = 0;
        long changes = 0;
        Exception? error = null;
        using var stop = new CancellationTokenSource();
        var traffic = new Thread(() =>
        {
            try
            {
                int i = 0;
                while (!stop.IsCancellationRequested)
                {
                    if (t.P1.Inject(frames[i++ % frames.Length])) Interlocked.Increment(ref injected);
                    else Thread.Yield();
                    if ((i & 255) == 0) t.Drain(t.P2);
                }
            }
            catch (Exception e) { error = e; }
        });
        var control = new Thread(() =>
        {
            try
            {
                var r = new Random(5);
                while (!stop.IsCancellationRequested)
                {
                    var k = keys[r.Next(keys.Length)];
                    switch (r.Next(4))
                    {
                        case 0: t.Dp.FlowPut(FlowPutFlags.Modify, k, Masks.TcpDst(), OdpActionList.Drop, out _, out _); break;
                        case 1: t.Dp.FlowPut(FlowPutFlags.Modify | FlowPutFlags.ZeroStats, k, Masks.TcpDst(), Actions.Output(2), out _, out _); break;
                        case 2: t.Dp.FlowDel(k, Masks.TcpDst(), out _); break;
                        default: t.Dp.FlowPut(FlowPutFlags.Create, k, Masks.TcpDst(), Actions.Output(2), out _, out _); break;
                    }
                    t.Dp.FlowDumpStart(out var d);
                    while (d!.Next(out _).IsSuccess) { }
                    Interlocked.Increment(ref changes);
                }
            }
            catch (Exception e) { error = e; }
        });
        traffic.Start();
        control.Start();
        // Enough of both, overlapping, to matter: counted, not timed.
        Wait.Until(() => Interlocked.Read(ref injected) >= 10_000 && Interlocked.Read(ref changes) >= 1_000 || error is not null);
        stop.Cancel();
        traffic.Join();
        control.Join();
        Assert.Null(error);
        Assert.True(injected > 1000, $"traffic should flow (injected {injected})");
        WaitProcessed(t, injected);
        var s = t.Stats;
        Assert.Equal(s.Missed, s.Lost); // nobody listens: every miss is lost, nothing else
        Assert.Equal(0UL, s.ActionDrops);
        t.Drain(t.P2);
    }

    [Fact]
    public void PortDeleteWhileTrafficFlowsIsSafe()
    {
        using var t = new ManualDatapath(new UserspaceDatapathOptions { PollThreads = 2 }, memOptions: "capacity=4096", poolSize: 16384);
        var frame = TestFrames.Udp4();
        t.Put(TestFrames.KeyOf(frame, 1), Masks.InPortOnly(), Actions.Output(2));
        var extra = new List<MemoryNetdev>();
        ulong injected = 0;
        Exception? error = null;
        using var stop = new CancellationTokenSource();
        var traffic = new Thread(() =>
        {
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    if (t.P1.Inject(frame)) Interlocked.Increment(ref injected);
                    else Thread.Yield();
                }
            }
            catch (Exception e) { error = e; }
        });
        traffic.Start();
        try
        {
            // Traffic is flowing through port 2 when it goes.
            Wait.For(() => t.Stats.Hit >= 100 || error is not null, "traffic through port 2");
            Assert.True(t.Dp.PortDel(2).IsSuccess);
            Assert.True(t.P2.IsDisposed);
            // Ports come and go while traffic flows.
            for (int i = 0; i < 20; i++)
            {
                var dev = t.Memory.OpenDevice("vswx" + Guid.NewGuid().ToString("N")[..6], t.Pool);
                Assert.True(t.Dp.PortAdd(dev, out var no).IsSuccess);
                Assert.True(t.Dp.PortDel(no).IsSuccess);
            }
            // And keeps flowing (to the deleted port) after the churn.
            ulong after = Processed(t);
            Wait.For(() => Processed(t) >= after + 100 || error is not null, "traffic after the port churn");
        }
        finally
        {
            stop.Cancel();
            traffic.Join();
        }
        Assert.Null(error);
        WaitProcessed(t, injected);
        Assert.True(t.Stats.ActionDrops > 0, "output to the deleted port is counted as an action drop");
    }
}
