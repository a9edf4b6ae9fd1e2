using System.Buffers.Binary;
using Vswitch.Interop.Linux;
using Vswitch.Netdev.Memory;
using Vswitch.Packets;

namespace Vswitch.Netdev.Tests.Memory;

/// <summary>Behaviour specific to the memory provider (wiring, capture, rings, the wait protocol).</summary>
public sealed class MemoryNetdevTests : IDisposable
{
    private readonly PacketPool _pool = new(256);
    private readonly NetdevRegistry _registry = new();
    private readonly MemoryNetdevProvider _provider;

    public MemoryNetdevTests() => _provider = _registry.AddMemoryProvider();

    public void Dispose()
    {
        foreach (var name in _provider.DeviceNames)
            if (_provider.TryGetDevice(name, out var d)) d.Dispose();
        _pool.Dispose();
    }

    private static byte[] Frame(int seq, int length = 64)
    {
        var f = new byte[length];
        MacAddress.Broadcast.CopyTo(f);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x88B5);
        BinaryPrimitives.WriteInt32BigEndian(f.AsSpan(14), seq);
        for (int i = 18; i < length; i++) f[i] = (byte)(seq + i);
        return f;
    }

    private static int Seq(PacketBuffer p) => BinaryPrimitives.ReadInt32BigEndian(p.Data[14..]);

    private int Send(Netdev dev, int queue, params byte[][] frames)
    {
        var batch = new PacketBatch();
        foreach (var f in frames)
        {
            Assert.True(_pool.TryRent(out var p));
            p.TrySetFrame(f);
            batch.TryAdd(p);
        }
        return dev.GetTxQueue(queue).Send(ref batch);
    }

    private static List<byte[]> Receive(Netdev dev, int queue)
    {
        var result = new List<byte[]>();
        var batch = new PacketBatch();
        while (dev.GetRxQueue(queue).Receive(ref batch) > 0)
        {
            for (int i = 0; i < batch.Count; i++) result.Add(batch[i].Data.ToArray());
            batch.ReleaseAll();
        }
        return result;
    }

    [Fact]
    public void Standalone_InjectFeedsRx_AndTxIsCaptured()
    {
        using var dev = _provider.OpenDevice("vswa", _pool);
        Assert.Null(dev.PeerName);
        Assert.True(dev.GetLinkState(out var link).IsSuccess);
        Assert.Equal(LinkState.Up, link);

        Assert.True(dev.Inject(Frame(1, 100)));
        var rx = Receive(dev, 0);
        Assert.Single(rx);
        Assert.Equal(Frame(1, 100), rx[0]);

        Assert.Equal(2, Send(dev, 0, Frame(2), Frame(3, 90)));
        Assert.Equal(2, dev.CapturedCount);
        Assert.True(dev.TryTake(out var first));
        Assert.Equal(Frame(2), first.Data.ToArray());
        first.Release();
        Assert.True(dev.TryTake(out var second));
        Assert.Equal(Frame(3, 90), second.Data.ToArray());
        second.Release();
        Assert.False(dev.TryTake(out _));
        Assert.Equal(_pool.Capacity, _pool.Available);
    }

    [Fact]
    public void InjectPacketBuffer_TakesOwnership_AndMetadataIsZeroedOnReceive()
    {
        using var dev = _provider.OpenDevice("vswa", _pool);
        Assert.True(_pool.TryRent(out var p));
        p.TrySetFrame(Frame(5));
        p.Metadata.InPort = 42;
        p.Metadata.SkbMark = 7;
        Assert.True(dev.Inject(p));

        var batch = new PacketBatch();
        Assert.Equal(1, dev.GetRxQueue(0).Receive(ref batch));
        Assert.Same(p, batch[0]);
        Assert.Equal(0u, batch[0].Metadata.InPort);
        Assert.Equal(0u, batch[0].Metadata.SkbMark);
        batch.ReleaseAll();
    }

    [Fact]
    public void Inject_BadQueue_Throws_OversizeFrame_CountsRxError()
    {
        using var dev = _provider.OpenDevice("vswa", _pool, "queues=2");
        Assert.Throws<ArgumentOutOfRangeException>(() => dev.Inject(Frame(1), 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => dev.Inject(Frame(1), -1));
        Assert.False(dev.Inject(new byte[PacketBuffer.MaxFrameSize + 1]));
        Assert.Equal(1UL, dev.GetStats().RxErrors);
        Assert.Equal(_pool.Capacity, _pool.Available);
    }

    [Fact]
    public void Wire_TxOnOneEndIsRxOnTheOther_ZeroCopy_BothDirections()
    {
        var (a, b) = _provider.OpenPair("vswa", "vswb", _pool);
        using var _a = a;
        using var _b = b;
        Assert.Same(b, a.Peer);
        Assert.Same(a, b.Peer);

        var batch = new PacketBatch();
        Assert.True(_pool.TryRent(out var p));
        p.TrySetFrame(Frame(9));
        batch.TryAdd(p);
        Assert.Equal(1, a.GetTxQueue(0).Send(ref batch));
        Assert.Equal(1, b.GetRxQueue(0).Receive(ref batch));
        Assert.Same(p, batch[0]);
        batch.ReleaseAll();

        Assert.Equal(1, Send(b, 0, Frame(10)));
        Assert.Equal(Frame(10), Assert.Single(Receive(a, 0)));
        Assert.Equal(0, a.CapturedCount);
        Assert.Equal(_pool.Capacity, _pool.Available);
    }

    [Fact]
    public void Transmit_CopiesAndSendsThroughTheTxQueue()
    {
        var (a, b) = _provider.OpenPair("vswa", "vswb", _pool, "mtu=100");
        using var _a = a;
        using var _b = b;

        Assert.True(a.Transmit(Frame(1, 100)));
        Assert.False(a.Transmit(Frame(2, 119)));       // over MTU + 18: dropped like any Send
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Transmit(Frame(3), 1));

        Assert.Equal(Frame(1, 100), Assert.Single(Receive(b, 0)));
        Assert.Equal(1UL, a.GetStats().TxMtuDropped);
        Assert.Equal(1UL, a.GetStats().TxPackets);
        Assert.Equal(_pool.Capacity, _pool.Available);
    }

    [Fact]
    public void Wire_ConnectsInEitherOrder_WithChangeSeqAndLink()
    {
        using var a = _provider.OpenDevice("vswa", _pool, "peer=vswb");
        Assert.Null(a.Peer);
        Assert.True(a.GetLinkState(out var before).IsSuccess);
        Assert.Equal(LinkState.Down, before);
        Assert.Equal(0, Send(a, 0, Frame(1)));
        Assert.Equal(1UL, a.GetStats().TxDropped);
        Assert.Equal(0, a.CapturedCount);
        long seq = a.ChangeSeq;

        using var b = _provider.OpenDevice("vswb", _pool);
        Assert.Same(b, a.Peer);
        Assert.Equal("vswa", b.PeerName);
        Assert.True(a.ChangeSeq > seq);
        Assert.True(a.GetLinkState(out var after).IsSuccess);
        Assert.Equal(LinkState.Up, after);
    }

    [Fact]
    public void PeerDisposed_LinkGoesDown_ChangeSeqBumps_AndReopenReconnects()
    {
        var (a, b) = _provider.OpenPair("vswa", "vswb", _pool);
        using var _a = a;
        long seq = a.ChangeSeq;
        Assert.Equal(1, Send(b, 0, Frame(1)));

        b.Dispose();

        Assert.Null(a.Peer);
        Assert.True(a.ChangeSeq > seq);
        Assert.True(a.GetLinkState(out var link).IsSuccess);
        Assert.Equal(LinkState.Down, link);
        Assert.Equal(0, Send(a, 0, Frame(2)));
        Assert.Equal(1UL, a.GetStats().TxDropped);
        Assert.False(_provider.TryGetDevice("vswb", out _));

        using var b2 = _provider.OpenDevice("vswb", _pool);
        Assert.Same(b2, a.Peer);
        Assert.Equal(1, Send(a, 0, Frame(3)));
        Assert.Single(Receive(b2, 0));
        Assert.Single(Receive(a, 0)); // the frame b sent before it went away is still a's
        Assert.Equal(_pool.Capacity, _pool.Available);
    }

    [Fact]
    public void PeerAdminDown_TakesLinkDown_AndBumpsOurChangeSeq()
    {
        var (a, b) = _provider.OpenPair("vswa", "vswb", _pool);
        using var _a = a;
        using var _b = b;
        long seq = a.ChangeSeq;

        Assert.Equal(Errno.Success, b.UpdateFlags(NetdevFlags.Up, NetdevFlags.None, out _));

        Assert.True(a.ChangeSeq > seq);
        Assert.True(a.GetLinkState(out var link).IsSuccess);
        Assert.Equal(LinkState.Down, link);
        Assert.Equal(0, Send(a, 0, Frame(1)));
        Assert.Equal(1UL, a.GetStats().TxDropped);

        Assert.Equal(Errno.Success, b.UpdateFlags(NetdevFlags.None, NetdevFlags.Up, out _));
        Assert.True(a.GetLinkState(out link).IsSuccess);
        Assert.Equal(LinkState.Up, link);
    }

    [Fact]
    public void DownDevice_DropsInjectedAndQueuedRx_Counted()
    {
        using var dev = _provider.OpenDevice("vswa", _pool);
        Assert.True(dev.Inject(Frame(1)));
        Assert.Equal(Errno.Success, dev.UpdateFlags(NetdevFlags.Up, NetdevFlags.None, out var old));
        Assert.Equal(NetdevFlags.Up, old);

        Assert.False(dev.Inject(Frame(2)));
        var batch = new PacketBatch();
        Assert.Equal(0, dev.GetRxQueue(0).Receive(ref batch));

        Assert.Equal(2UL, dev.GetStats().RxDropped);
        Assert.Equal(_pool.Capacity, _pool.Available);
    }

    [Fact]
    public void FullRing_DropsAndCountsOnBothEnds()
    {
        var (a, b) = _provider.OpenPair("vswa", "vswb", _pool, "capacity=4");
        using var _a = a;
        using var _b = b;

        int sent = Send(a, 0, Frame(0), Frame(1), Frame(2), Frame(3), Frame(4), Frame(5));

        Assert.Equal(4, sent);
        Assert.Equal(2UL, a.GetStats().TxDropped);
        Assert.Equal(4UL, a.GetStats().TxPackets);
        Assert.Equal(2UL, b.GetStats().RxDropped);
        var rx = Receive(b, 0);
        Assert.Equal(4, rx.Count);
        for (int i = 0; i < 4; i++) Assert.Equal(Frame(i), rx[i]);

        Assert.True(b.Inject(Frame(6)));
        Assert.True(b.Inject(Frame(7)));
        Assert.True(b.Inject(Frame(8)));
        Assert.True(b.Inject(Frame(9)));
        Assert.False(b.Inject(Frame(10)));
        Assert.Equal(3UL, b.GetStats().RxDropped);
        Assert.Equal(4, b.GetRxQueue(0).Drain());
        Assert.Equal(_pool.Capacity, _pool.Available);
    }

    [Fact]
    public void MultiQueue_TxQueueMapsToPeerRxQueueModuloCount()
    {
        using var a = _provider.OpenDevice("vswa", _pool, "queues=4,peer=vswb");
        using var b = _provider.OpenDevice("vswb", _pool, "queues=2");
        Assert.Equal(4, a.TxQueueCount);
        Assert.Equal(2, b.RxQueueCount);

        for (int q = 0; q < 4; q++) Assert.Equal(1, Send(a, q, Frame(q)));

        var rx0 = Receive(b, 0);
        var rx1 = Receive(b, 1);
        Assert.Equal([Frame(0), Frame(2)], rx0);
        Assert.Equal([Frame(1), Frame(3)], rx1);

        Assert.Equal(1, Send(b, 1, Frame(7)));
        Assert.Equal(Frame(7), Assert.Single(Receive(a, 1)));
    }

    [Fact]
    public void Open_Errors_NameTheProblem_AndLeaveNothingBehind()
    {
        using var a = _provider.OpenDevice("vswa", _pool, "peer=vswb");
        using var b = _provider.OpenDevice("vswb", _pool);

        var rc = _registry.Open("memory", "vswa", NetdevOptions.Empty, _pool, out var dup, out var error);
        Assert.Equal(Errno.EEXIST, rc);
        Assert.Null(dup);
        Assert.Contains("vswa", error);

        rc = _registry.Open("mem", "vswc", NetdevOptions.Empty.With("peer", "vswa"), _pool, out var busy, out error);
        Assert.Equal(Errno.EBUSY, rc);
        Assert.Null(busy);
        Assert.Contains("peer=vswa", error);

        rc = _registry.Open("memory", "vswd", NetdevOptions.Empty.With("peer", "vswd"), _pool, out var self, out error);
        Assert.Equal(Errno.EINVAL, rc);
        Assert.Null(self);
        Assert.Contains("peer", error);

        rc = _registry.Open("memory", "", NetdevOptions.Empty, _pool, out _, out error);
        Assert.Equal(Errno.EINVAL, rc);

        Assert.Equal(["vswa", "vswb"], _provider.DeviceNames.Order().ToArray());
        Assert.Same(b, a.Peer);
    }

    [Fact]
    public void Options_Parsed_AndReportedBack()
    {
        using var dev = _provider.OpenDevice("vswa", _pool, "queues=3,mtu=9000,mac=02:00:00:00:00:07,capacity=64");
        Assert.Equal(3, dev.RxQueueCount);
        Assert.Equal(3, dev.TxQueueCount);
        Assert.Equal(64, dev.RingCapacity);
        Assert.True(dev.GetMtu(out int mtu).IsSuccess);
        Assert.Equal(9000, mtu);
        Assert.True(dev.GetMac(out var mac).IsSuccess);
        Assert.Equal(MacAddress.Parse("02:00:00:00:00:07"), mac);
        Assert.Equal("queues=3,mtu=9000,mac=02:00:00:00:00:07,capacity=64", dev.Options.ToString());
        var info = dev.GetInfo();
        Assert.Equal("memory", info.Driver);
        Assert.Equal("3", info.Status["queues"]);
        Assert.Equal("false", info.Status["connected"]);

        Assert.Equal(Errno.EOPNOTSUPP, dev.Reconfigure(NetdevOptions.Empty.With("mtu", "1500"), out var error));
        Assert.Contains("memory", error);
    }

    [Fact]
    public void Providers_HaveSeparateNamespaces()
    {
        var other = new MemoryNetdevProvider();
        using var mine = _provider.OpenDevice("vswa", _pool, "peer=vswb");
        using var theirs = other.OpenDevice("vswb", _pool);
        Assert.Null(mine.Peer);
        Assert.Null(theirs.Peer);
        Assert.False(_provider.TryGetDevice("vswb", out _));
        using var theirA = other.OpenDevice("vswa", _pool);
        Assert.True(other.TryGetDevice("vswa", out var found));
        Assert.Same(theirA, found);
    }

    [Fact]
    public void AddMemoryProvider_Twice_Refused()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => _registry.AddMemoryProvider());
        Assert.Contains("memory", ex.Message);
        Assert.True(_registry.TryGetProvider("mem", out var byAlias));
        Assert.Same(_provider, byAlias);
    }

    [Fact]
    public void Dispose_ReleasesQueuedAndCapturedPackets()
    {
        var dev = _provider.OpenDevice("vswa", _pool, "queues=2");
        Assert.True(dev.Inject(Frame(1), 0));
        Assert.True(dev.Inject(Frame(2), 1));
        Assert.Equal(1, Send(dev, 1, Frame(3)));
        Assert.True(_pool.Available < _pool.Capacity);

        dev.Dispose();

        Assert.Equal(_pool.Capacity, _pool.Available);
        Assert.Equal(LinkState.Down, dev.GetLinkState(out var link).IsSuccess ? link : LinkState.Unknown);
        Assert.Equal(Errno.ENODEV, dev.SetMtu(1400));
    }

    [Fact]
    public void WaitProtocol_SignalsOnlyAnArmedSleeper()
    {
        using var dev = _provider.OpenDevice("vswa", _pool);
        var rxq = dev.GetRxQueue(0);
        // Not armed: a producer makes no system call, the eventfd stays unreadable.
        Assert.True(dev.Inject(Frame(1)));
        Assert.Equal(Errno.EAGAIN, EventFd.Read(rxq.WaitFd, out _));
        Assert.False(rxq.PrepareToWait());           // pending: do not sleep
        Assert.Equal(1, rxq.Drain());

        Assert.True(rxq.PrepareToWait());            // armed
        Assert.True(dev.Inject(Frame(2)));           // wakes the sleeper once
        Assert.True(dev.Inject(Frame(3)));
        Assert.Equal(Errno.Success, EventFd.Read(rxq.WaitFd, out ulong counter));
        Assert.Equal(1UL, counter);
        rxq.FinishWait();
        Assert.Equal(Errno.EAGAIN, EventFd.Read(rxq.WaitFd, out _));
        Assert.Equal(2, rxq.Drain());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ConcurrentProducers_SleepingConsumer_NoLostWakeupAndPerProducerOrderKept(int producers)
    {
        using var a = _provider.OpenDevice("vswa", _pool, $"queues={producers},peer=vswb,capacity=64");
        using var b = _provider.OpenDevice("vswb", _pool, "capacity=64");
        const int perProducer = 20_000;
        int total = perProducer * producers;
        var rxq = b.GetRxQueue(0);
        Assert.Equal(Errno.Success, EpollSet.Create(out var epoll));
        int lostWakeups = 0;
        int sleeps = 0;        // times the consumer went to sleep in epoll_wait
        bool consumerDone = false;
        var threads = new List<Thread>();
        try
        {
            Assert.Equal(Errno.Success, epoll!.Add(rxq.WaitFd, 0));
            for (int t = 0; t < producers; t++)
            {
                int id = t;
                var producer = new Thread(() =>
                {
                    var tx = a.GetTxQueue(id);
                    var batch = new PacketBatch();
                    for (int seq = 0; seq < perProducer;)
                    {
                        int n = Math.Min(8 + id * 5, perProducer - seq);
                        for (int i = 0; i < n; i++)
                        {
                            PacketBuffer? p;
                            while (!_pool.TryRent(out p)) Thread.Yield();
                            p.TrySetFrame(Frame((id << 24) | (seq + i)));
                            batch.TryAdd(p);
                        }
                        seq += n;
                        tx.Send(ref batch);
                        if ((seq & 1023) < n)
                        {
                            // Now and then, pause until the consumer has fallen asleep: the next send must wake it.
                            int asleep = Volatile.Read(ref sleeps);
                            Wait.Until(() => Volatile.Read(ref sleeps) != asleep || Volatile.Read(ref consumerDone));
                        }
                    }
                });
                threads.Add(producer);
                producer.Start();
            }

            var rx = new PacketBatch();
            Span<EpollEvent> events = stackalloc EpollEvent[1];
            var last = new int[producers];
            Array.Fill(last, -1);
            int received = 0;
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (received + (int)a.GetStats().TxDropped < total && DateTime.UtcNow < deadline)
            {
                if (rxq.Receive(ref rx) == 0 && rxq.PrepareToWait())
                {
                    Interlocked.Increment(ref sleeps);
                    epoll!.Wait(events, 2000, out int ready);
                    rxq.FinishWait(signalled: ready > 0);
                    // Waking by timeout with packets pending is a lost wake-up.
                    if (ready == 0 && rxq.Receive(ref rx) > 0) lostWakeups++;
                }
                for (int i = 0; i < rx.Count; i++)
                {
                    int tagged = Seq(rx[i]);
                    int id = tagged >> 24, seq = tagged & 0xFFFFFF;
                    Assert.True(seq > last[id], $"producer {id}: {seq} after {last[id]}");
                    last[id] = seq;
                }
                received += rx.Count;
                rx.ReleaseAll();
            }
            Volatile.Write(ref consumerDone, true);
            foreach (var t in threads) t.Join();
            received += Receive(b, 0).Count;
            Assert.Equal(total, received + (int)a.GetStats().TxDropped);
            Assert.Equal(a.GetStats().TxDropped, b.GetStats().RxDropped);
            Assert.Equal(0, lostWakeups);
            Assert.Equal(_pool.Capacity, _pool.Available);
        }
        finally
        {
            Volatile.Write(ref consumerDone, true);
            foreach (var t in threads) t.Join();
            epoll?.Dispose();
        }
    }
}
