using Vswitch.Datapath.Odp;
using Vswitch.Datapath.Userspace;
using Vswitch.Interop.Linux;
using Vswitch.Netdev.Memory;
using Vswitch.Packets;

namespace Vswitch.Datapath.Tests.Userspace;

/// <summary>Poll threads plus an upcall handler thread, as the switch runs it: miss -> upcall -> put -> execute.</summary>
public class EndToEndTests
{
    [Fact]
    public void UpcallHandlerInstallsFlowsAndEveryPacketIsDelivered()
    {
        using var t = new ManualDatapath(new UserspaceDatapathOptions { PollThreads = 2 }, memOptions: "capacity=4096", poolSize: 8192);
        t.Dp.SetListenMask(DatapathListenMask.Miss);
        using var stop = new CancellationTokenSource();
        Exception? error = null;
        int upcalls = 0, eexist = 0;
        var handler = new Thread(() =>
        {
            try
            {
                var mask = Masks.TcpDst();
                while (!stop.IsCancellationRequested)
                {
                    if (!t.Dp.RecvWait(50)) continue;
                    while (t.Dp.RecvUpcall(out var up).IsSuccess)
                    {
                        upcalls++;
                        var rc = t.Dp.FlowPut(FlowPutFlags.Create, up!.Key, mask, Actions.Output(2), out _, out var err);
                        if (rc == Errno.EEXIST) eexist++; // a second packet of the flow missed before the put
                        else if (rc.IsError) throw new InvalidOperationException($"put: {rc} {err}");
                        Assert.True(t.Dp.Execute(up.Packet, Actions.Output(2)).IsSuccess);
                    }
                }
            }
            catch (Exception e) { error = e; }
        });
        handler.Start();
        var received = new List<byte[]>();
        try
        {
            for (int round = 0; round < 20; round++)
            {
                for (ushort f = 0; f < 10; f++) Assert.True(t.P1.Inject(TestFrames.Tcp4(dport: (ushort)(7000 + f))));
                if (round == 0)
                {
                    // Let the handler install the ten flows (the first packets are delivered by execute).
                    Wait.Until(() =>
                    {
                        received.AddRange(t.Drain(t.P2));
                        return t.Stats.Flows >= 10 && received.Count >= 10;
                    });
                }
                received.AddRange(t.Drain(t.P2));
            }
            Wait.Until(() =>
            {
                received.AddRange(t.Drain(t.P2));
                return received.Count >= 200;
            });
        }
        finally
        {
            stop.Cancel();
            handler.Join();
        }
        Assert.Null(error);
        Assert.Equal(200, received.Count);
        Assert.Equal(10, received.Select(r => TestFrames.KeyOf(r, 2).TpDst).Distinct().Count());
        var s = t.Stats;
        Assert.Equal(10UL, s.Flows);
        Assert.Equal(10, upcalls);
        Assert.Equal(0, eexist);
        Assert.Equal(10UL, s.Missed);
        Assert.Equal(190UL, s.Hit);
    }

    [Fact]
    public void WiredMemoryPortsForwardBetweenTwoDatapaths()
    {
        // Two datapaths joined by a memory wire: dp1 port "a" <-> dp2 port "b".
        using var pool = new PacketPool(2048);
        var mem = new MemoryNetdevProvider();
        var provider = new UserspaceDatapathProvider(new UserspaceDatapathOptions { PollThreads = 1 });
        string n1 = "vsw" + Guid.NewGuid().ToString("N")[..8], n2 = "vsw" + Guid.NewGuid().ToString("N")[..8];
        provider.Open(n1, true, out var h1);
        provider.Open(n2, true, out var h2);
        var dp1 = (UserspaceDatapathHandle)h1!;
        var dp2 = (UserspaceDatapathHandle)h2!;
        try
        {
            var (a, b) = mem.OpenPair(n1 + "w", n2 + "w", pool);
            var host = mem.OpenDevice(n2 + "h", pool);
            Assert.True(dp1.PortAdd(a, out var pa).IsSuccess);
            Assert.True(dp2.PortAdd(b, out var pb).IsSuccess);
            Assert.True(dp2.PortAdd(host, out var ph).IsSuccess);
            var frame = TestFrames.Udp4();
            // dp1: local port -> wire; dp2: wire -> host port.
            Assert.True(dp1.FlowPut(FlowPutFlags.Create, TestFrames.KeyOf(frame, 0), Masks.InPortOnly(), Actions.Output(pa), out _, out _).IsSuccess);
            Assert.True(dp2.FlowPut(FlowPutFlags.Create, TestFrames.KeyOf(frame, pb), Masks.InPortOnly(), Actions.Output(ph), out _, out _).IsSuccess);
            for (int i = 0; i < 50; i++)
            {
                pool.TryRent(out var p);
                p!.TrySetFrame(frame);
                Assert.True(dp1.LocalPort.Inject(p));
            }
            int got = 0;
            Wait.Until(() =>
            {
                while (host.TryTake(out var p)) { Assert.Equal(frame, p.Data.ToArray()); p.Release(); got++; }
                return got >= 50;
            });
            Assert.Equal(50, got);
        }
        finally
        {
            dp1.Destroy();
            dp2.Destroy();
        }
    }
}
