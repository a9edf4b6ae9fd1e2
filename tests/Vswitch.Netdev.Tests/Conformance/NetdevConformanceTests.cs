using System.Buffers.Binary;
using System.Diagnostics;
using Vswitch.Interop.Linux;
using Vswitch.Netdev;
using Vswitch.Packets;

namespace Vswitch.Netdev.Tests.Conformance;

/// <summary>
/// The netdev provider conformance suite: every provider's test project subclasses this once and supplies a
/// harness (<see cref="INetdevConformanceHarness"/>: the device under test plus the far end of its wire), the
/// way OVS runs one system-traffic suite against each datapath.
/// </summary>
/// <remarks>
/// <para>To add a provider: subclass, implement <see cref="ProviderType"/>, <see cref="RegisterProvider"/>,
/// <see cref="OpenHarness"/>, <see cref="NewDeviceName"/> and <see cref="InvalidOptionValues"/>; override
/// <see cref="CountersAreExact"/> / <see cref="DeliveryTimeout"/> when the device is kernel-backed. xunit runs every
/// [Fact] below for the subclass, each with a fresh registry, pool and harness. Kernel-backed harnesses need root
/// (CI runs as root); xunit 2 has no dynamic skip, so a subclass that must not run elsewhere is best marked with a
/// <c>[Trait]</c> the runner filters on.</para>
/// <para>Every frame the suite sends is marked (EtherType <see cref="TestEtherType"/>, a random 8-byte run marker and
/// a sequence number) and every receive ignores unmarked frames, so kernel noise does not break the tests.</para>
/// <para>No test waits for time. A check that a frame does not arrive sends a control frame after it on the same path
/// and receives until the control (<see cref="ReceiveOnFarEndBefore"/>, <see cref="ReceiveOnDeviceBefore"/>): what
/// came before the control is what leaked.</para>
/// </remarks>
public abstract class NetdevConformanceTests : IDisposable
{
    /// <summary>IEEE 802 local experimental EtherType 1: nobody else sends it.</summary>
    public const ushort TestEtherType = 0x88B5;

    private const int HeaderLength = 14;
    private const int MarkerOffset = HeaderLength;
    private const int SequenceOffset = MarkerOffset + 8;
    private const int MinFrame = 60;

    private readonly ulong _marker = (ulong)Random.Shared.NextInt64() | 1UL;
    private INetdevConformanceHarness? _harness;

    protected NetdevConformanceTests()
    {
        Pool = new PacketPool(512);
        Registry = new NetdevRegistry();
        RegisterProvider(Registry);
    }

    /// <summary>Pool for the device's rx buffers and for frames the suite transmits.</summary>
    protected PacketPool Pool { get; }

    /// <summary>A registry holding (at least) the provider under test.</summary>
    protected NetdevRegistry Registry { get; }

    // ---------------- what a provider's subclass supplies ----------------

    /// <summary>The provider's type name (what the registry is asked to open).</summary>
    protected abstract string ProviderType { get; }

    /// <summary>Registers the provider under test in <paramref name="registry"/> (called once per test).</summary>
    protected abstract void RegisterProvider(NetdevRegistry registry);

    /// <summary>
    /// Opens a DUT of <see cref="ProviderType"/> through <paramref name="registry"/> with <paramref name="options"/> (plus
    /// whatever the harness itself needs, e.g. the interface to attach to) and its far end. Throws if that fails.
    /// </summary>
    protected abstract INetdevConformanceHarness OpenHarness(NetdevRegistry registry, PacketPool pool, NetdevOptions options);

    /// <summary>A fresh device name nobody uses (kernel-backed providers: <c>Ip.UniqueName</c>, recorded for the sweep, 15 chars).</summary>
    protected abstract string NewDeviceName();

    /// <summary>
    /// Option values the provider must refuse with <c>EINVAL</c> and an error naming the option key
    /// (e.g. <c>queues=0</c>, <c>queues=abc</c>). At least one.
    /// </summary>
    protected abstract IReadOnlyList<KeyValuePair<string, string>> InvalidOptionValues { get; }

    /// <summary>True when the device sees only the suite's frames, so rx counters can be compared exactly.</summary>
    protected virtual bool CountersAreExact => true;

    /// <summary>How long a frame may take to cross the wire (a deadline for failing tests only: receives return as soon as the frames are there).</summary>
    protected virtual TimeSpan DeliveryTimeout => Wait.Generous;

    // ---------------- tests ----------------

    [Fact]
    public void Open_ReportsQueuesCapabilitiesAndInfo_AndCloseIsIdempotent()
    {
        var dev = Harness.Device;
        Assert.False(dev.IsDisposed);
        Assert.InRange(dev.RxQueueCount, 1, dev.Capabilities.MaxRxQueues);
        Assert.InRange(dev.TxQueueCount, 1, dev.Capabilities.MaxTxQueues);
        for (int i = 0; i < dev.RxQueueCount; i++)
        {
            Assert.Same(dev, dev.GetRxQueue(i).Device);
            Assert.Equal(i, dev.GetRxQueue(i).Index);
        }
        for (int i = 0; i < dev.TxQueueCount; i++)
        {
            Assert.Same(dev, dev.GetTxQueue(i).Device);
            Assert.Equal(i, dev.GetTxQueue(i).Index);
        }
        Assert.True(Registry.TryGetProvider(ProviderType, out var provider));
        Assert.Equal(provider.Type, dev.Type);
        Assert.Equal(provider.Type, dev.GetInfo().Driver);

        dev.Dispose();
        Assert.True(dev.IsDisposed);
        dev.Dispose();
        Assert.True(dev.IsDisposed);
    }

    [Fact]
    public void Close_ThenReopen_WorksAgain()
    {
        Harness.Device.Dispose();
        _harness!.Dispose();
        _harness = null;

        SendFromFarEnd(Frame(1, 100));
        AssertFramesEqual([Frame(1, 100)], ReceiveOnDevice(1));
    }

    [Fact]
    public void RxBurst_ArrivesIntactAndInOrder()
    {
        var frames = new List<byte[]>();
        for (int i = 0; i < 16; i++) frames.Add(Frame(i, MinFrame + i * 37));
        foreach (var f in frames) SendFromFarEnd(f);

        var received = ReceiveOnDevice(frames.Count);
        AssertFramesEqual(frames, received);
    }

    [Fact]
    public void Tx_TakesOwnership_AndFrameArrives()
    {
        var frame = Frame(7, 200);
        var batch = new PacketBatch();
        Assert.True(Pool.TryRent(out var packet));
        Assert.True(packet.TrySetFrame(frame));
        batch.TryAdd(packet);

        int sent = Harness.Device.GetTxQueue(0).Send(ref batch);

        Assert.Equal(1, sent);
        Assert.Equal(0, batch.Count);
        AssertFramesEqual([frame], ReceiveOnFarEnd(1));
    }

    [Fact]
    public void TxBatchOf32_AllArriveInOrder()
    {
        var frames = new List<byte[]>();
        for (int i = 0; i < PacketBatch.Capacity; i++) frames.Add(Frame(i, MinFrame + i * 11));

        int sent = SendFromDevice(frames);

        Assert.Equal(PacketBatch.Capacity, sent);
        AssertFramesEqual(frames, ReceiveOnFarEnd(frames.Count));
    }

    [Fact]
    public void Stats_CountRxAndTxPacketsAndBytes_AndReset()
    {
        var dev = Harness.Device;
        Assert.True(dev.ResetStats().IsSuccess);
        var rxFrames = new List<byte[]> { Frame(1, 100), Frame(2, 300), Frame(3, 64) };
        var txFrames = new List<byte[]> { Frame(4, 90), Frame(5, 1000) };
        foreach (var f in rxFrames) SendFromFarEnd(f);
        ReceiveOnDevice(rxFrames.Count);
        Assert.Equal(txFrames.Count, SendFromDevice(txFrames));
        ReceiveOnFarEnd(txFrames.Count);

        var stats = dev.GetStats();
        ulong rxBytes = (ulong)rxFrames.Sum(f => f.Length);
        ulong txBytes = (ulong)txFrames.Sum(f => f.Length);
        if (CountersAreExact)
        {
            Assert.Equal((ulong)rxFrames.Count, stats.RxPackets);
            Assert.Equal(rxBytes, stats.RxBytes);
            Assert.Equal((ulong)txFrames.Count, stats.TxPackets);
            Assert.Equal(txBytes, stats.TxBytes);
        }
        else
        {
            Assert.True(stats.RxPackets >= (ulong)rxFrames.Count, $"RxPackets {stats.RxPackets}");
            Assert.True(stats.RxBytes >= rxBytes, $"RxBytes {stats.RxBytes}");
            Assert.True(stats.TxPackets >= (ulong)txFrames.Count, $"TxPackets {stats.TxPackets}");
            Assert.True(stats.TxBytes >= txBytes, $"TxBytes {stats.TxBytes}");
        }
        Assert.Equal(0UL, stats.TxDropped);

        Assert.True(dev.ResetStats().IsSuccess);
        var after = dev.GetStats();
        Assert.Equal(0UL, after.TxPackets);
        Assert.Equal(0UL, after.TxBytes);
        if (CountersAreExact)
        {
            Assert.Equal(0UL, after.RxPackets);
            Assert.Equal(0UL, after.RxBytes);
        }
    }

    [Fact]
    public void Mtu_GetAndSet_OverMtuFrameDroppedAndCounted()
    {
        var dev = Harness.Device;
        if (!dev.Capabilities.CanSetMtu) return;
        Assert.True(dev.GetMtu(out int original).IsSuccess);
        Assert.InRange(original, 68, dev.Capabilities.MaxMtu);

        Assert.Equal(Errno.Success, dev.SetMtu(1000));
        Assert.True(dev.GetMtu(out int mtu).IsSuccess);
        Assert.Equal(1000, mtu);
        dev.ResetStats();

        // MTU + 18 bytes of L2 header (Ethernet + one VLAN tag) is the largest frame allowed on tx.
        Assert.Equal(0, SendFromDevice([Frame(1, 1000 + 18 + 1)]));
        var stats = dev.GetStats();
        Assert.Equal(1UL, stats.TxMtuDropped);
        Assert.Equal(1UL, stats.TxDropped);
        Assert.Equal(0UL, stats.TxPackets);

        // The frame that fits is the control: the dropped one must not arrive before it.
        var fits = Frame(2, 1000 + 14);
        Assert.Equal(1, SendFromDevice([fits]));
        Assert.Empty(ReceiveOnFarEndBefore(fits, out var received));
        AssertFramesEqual([fits], [received]);
    }

    [Fact]
    public void Mtu_OutOfRange_RefusedWithEinval_AndUnchanged()
    {
        var dev = Harness.Device;
        if (!dev.Capabilities.CanSetMtu) return;
        Assert.True(dev.GetMtu(out int before).IsSuccess);
        long seq = dev.ChangeSeq;

        Assert.Equal(Errno.EINVAL, dev.SetMtu(67));
        Assert.Equal(Errno.EINVAL, dev.SetMtu(dev.Capabilities.MaxMtu + 1));

        Assert.True(dev.GetMtu(out int after).IsSuccess);
        Assert.Equal(before, after);
        Assert.Equal(seq, dev.ChangeSeq);
    }

    [Fact]
    public void Mac_GetAndSet_MulticastAndZeroRefused()
    {
        var dev = Harness.Device;
        Assert.True(dev.GetMac(out var original).IsSuccess);
        Assert.False(original.IsMulticast);
        Assert.False(original.IsZero);
        if (!dev.Capabilities.CanSetMac) return;

        var wanted = MacAddress.Parse("02:11:22:33:44:55");
        Assert.Equal(Errno.Success, dev.SetMac(wanted));
        Assert.True(dev.GetMac(out var now).IsSuccess);
        Assert.Equal(wanted, now);

        Assert.Equal(Errno.EINVAL, dev.SetMac(MacAddress.Parse("01:00:5e:00:00:01")));
        Assert.Equal(Errno.EINVAL, dev.SetMac(MacAddress.Zero));
        Assert.True(dev.GetMac(out var still).IsSuccess);
        Assert.Equal(wanted, still);
    }

    [Fact]
    public void Flags_UpDownAndPromiscuous_ReturnOldFlags()
    {
        var dev = Harness.Device;
        Assert.Equal(Errno.Success, dev.UpdateFlags(NetdevFlags.None, NetdevFlags.None, out var initial));
        Assert.True(initial.HasFlag(NetdevFlags.Up), $"harness must hand over an up device, flags {initial}");

        Assert.Equal(Errno.Success, dev.UpdateFlags(NetdevFlags.None, NetdevFlags.Promiscuous, out var old1));
        Assert.Equal(initial, old1);
        Assert.Equal(Errno.Success, dev.UpdateFlags(NetdevFlags.Up, NetdevFlags.None, out var old2));
        Assert.Equal(initial | NetdevFlags.Promiscuous, old2);
        Assert.Equal(Errno.Success, dev.UpdateFlags(NetdevFlags.Promiscuous, NetdevFlags.Up, out var old3));
        Assert.Equal((initial | NetdevFlags.Promiscuous) & ~NetdevFlags.Up, old3);
        Assert.Equal(Errno.Success, dev.UpdateFlags(NetdevFlags.None, NetdevFlags.None, out var final));
        Assert.Equal(initial & ~NetdevFlags.Promiscuous, final & ~NetdevFlags.Promiscuous);
        Assert.False(final.HasFlag(NetdevFlags.Promiscuous));
    }

    [Fact]
    public void LinkState_UpWhileUp_DownWhenAdministrativelyDown()
    {
        var dev = Harness.Device;
        Assert.Equal(Errno.Success, dev.GetLinkState(out var state));
        Assert.Equal(LinkState.Up, state);

        Assert.Equal(Errno.Success, dev.UpdateFlags(NetdevFlags.Up, NetdevFlags.None, out _));
        Assert.True(WaitUntil(() => dev.GetLinkState(out var s).IsSuccess && s == LinkState.Down), "link stays up while down");

        Assert.Equal(Errno.Success, dev.UpdateFlags(NetdevFlags.None, NetdevFlags.Up, out _));
        Assert.True(WaitUntil(() => dev.GetLinkState(out var s).IsSuccess && s == LinkState.Up), "link does not come back");
    }

    [Fact]
    public void DownDevice_DropsTx_Counted()
    {
        var dev = Harness.Device;
        Assert.Equal(Errno.Success, dev.UpdateFlags(NetdevFlags.Up, NetdevFlags.None, out _));
        dev.ResetStats();

        int sent = SendFromDevice([Frame(1, 100), Frame(2, 100)]);

        Assert.Equal(0, sent);
        Assert.Equal(2UL, dev.GetStats().TxDropped);
        // Control: up again, a third frame is sent; the two dropped ones must not arrive before it (nor be queued for later).
        // (Sent until accepted: an afpacket socket reports the ENETDOWN it saw while down on its first send after up.)
        Assert.Equal(Errno.Success, dev.UpdateFlags(NetdevFlags.None, NetdevFlags.Up, out _));
        Wait.For(() => dev.GetLinkState(out var s).IsSuccess && s == LinkState.Up, "the link to come back up");
        var control = Frame(3, 100);
        Wait.For(() => SendFromDevice([control]) == 1, "the device to send again after up");
        Assert.Empty(ReceiveOnFarEndBefore(control, out _));
    }

    [Fact]
    public void ChangeSeq_BumpsOnEveryChange()
    {
        var dev = Harness.Device;
        long s0 = dev.ChangeSeq;
        Assert.Equal(Errno.Success, dev.UpdateFlags(NetdevFlags.None, NetdevFlags.Promiscuous, out _));
        long s1 = dev.ChangeSeq;
        Assert.True(s1 > s0, "flags change did not bump ChangeSeq");

        if (dev.Capabilities.CanSetMtu)
        {
            Assert.True(dev.GetMtu(out int mtu).IsSuccess);
            Assert.Equal(Errno.Success, dev.SetMtu(mtu == 1400 ? 1300 : 1400));
            Assert.True(dev.ChangeSeq > s1, "MTU change did not bump ChangeSeq");
            s1 = dev.ChangeSeq;
        }
        if (dev.Capabilities.CanSetMac)
        {
            Assert.Equal(Errno.Success, dev.SetMac(MacAddress.Parse("02:00:00:aa:bb:cc")));
            Assert.True(dev.ChangeSeq > s1, "MAC change did not bump ChangeSeq");
        }
    }

    [Fact]
    public void Drain_DiscardsPendingFrames()
    {
        var dev = Harness.Device;
        const int count = 5;
        for (int i = 0; i < count; i++) SendFromFarEnd(Frame(i, 100));
        Assert.True(WaitReadable(DeliveryTimeout), "no frame arrived to drain");

        int drained = 0;
        for (int q = 0; q < dev.RxQueueCount; q++) drained += dev.GetRxQueue(q).Drain();
        // A device that also sees foreign frames cannot say how many of ours were pending at once: drain until ours are gone.
        if (!CountersAreExact)
            Wait.Until(() => { for (int q = 0; q < dev.RxQueueCount; q++) drained += dev.GetRxQueue(q).Drain(); return drained >= count; });

        if (CountersAreExact) Assert.Equal(count, drained);
        else Assert.True(drained >= 1, $"drained {drained}");
        // Control: a frame sent now is the first to arrive; nothing of the drained burst comes before it.
        var control = Frame(count, 100);
        SendFromFarEnd(control);
        Assert.Empty(ReceiveOnDeviceBefore(control));
    }

    [Fact]
    public void WaitFd_BecomesReadableWhenAFrameArrives()
    {
        var dev = Harness.Device;
        Assert.Equal(Errno.Success, EpollSet.Create(out var epoll));
        using (epoll)
        {
            for (int q = 0; q < dev.RxQueueCount; q++)
            {
                var rxq = dev.GetRxQueue(q);
                Assert.True(rxq.WaitFd >= 0, $"rx queue {q} has no WaitFd");
                Assert.True(rxq.PrepareToWait(), $"rx queue {q}: PrepareToWait with nothing pending must allow sleeping");
                Assert.Equal(Errno.Success, epoll!.Add(rxq.WaitFd, (ulong)q));
            }
            Span<EpollEvent> events = stackalloc EpollEvent[16];
            if (CountersAreExact)
            {
                Assert.Equal(Errno.Success, epoll!.Wait(events, 0, out int idle));
                Assert.Equal(0, idle);
            }

            var frame = Frame(1, 128);
            SendFromFarEnd(frame);

            Assert.Equal(Errno.Success, epoll!.Wait(events, (int)DeliveryTimeout.TotalMilliseconds, out int ready));
            Assert.True(ready >= 1, "WaitFd did not become readable");
            Assert.True((events[0].Events & EpollEvents.Readable) != 0);
            var fired = new bool[dev.RxQueueCount];
            for (int i = 0; i < ready; i++) fired[(int)events[i].Token] = true;
            for (int q = 0; q < dev.RxQueueCount; q++) dev.GetRxQueue(q).FinishWait(fired[q]);
            AssertFramesEqual([frame], ReceiveOnDevice(1));
        }
    }

    [Fact]
    public void Receive_WhenIdle_TakesNoBufferFromThePool()
    {
        // An empty poll is the common case of an idle port: it must not rent (and return) buffers. Providers that
        // receive into pool buffers keep the ones they posted across calls; so with the pool drained, idle polls
        // find nothing to rent and the pool's exhaustion counter does not move. A frame that does arrive without a
        // buffer for it is counted as RxNoBuffer, so kernel noise keeps the two counts equal.
        var dev = Harness.Device;
        var batch = new PacketBatch();
        for (int q = 0; q < dev.RxQueueCount; q++)
        {
            dev.GetRxQueue(q).Receive(ref batch); // the first poll may post buffers
            batch.ReleaseAll();
        }
        var held = new List<PacketBuffer>();
        try
        {
            while (Pool.TryRent(out var p)) held.Add(p);
            long exhausted = Pool.ExhaustedCount;
            ulong noBuffer = dev.GetStats().RxNoBuffer;
            for (int round = 0; round < 50; round++)
            {
                for (int q = 0; q < dev.RxQueueCount; q++)
                {
                    dev.GetRxQueue(q).Receive(ref batch);
                    batch.ReleaseAll(); // noise goes back to the pool, so the next poll can post it again
                }
            }
            Assert.Equal((long)(dev.GetStats().RxNoBuffer - noBuffer), Pool.ExhaustedCount - exhausted);
        }
        finally
        {
            foreach (var p in held) p.Release();
        }
    }

    [Fact]
    public void Registry_RefusesUnknownOption_NamingIt()
    {
        var rc = Registry.Open(ProviderType, NewDeviceName(), NetdevOptions.Empty.With("no_such_option", "1"), Pool, out var device, out var error);

        Assert.Equal(Errno.EINVAL, rc);
        Assert.Null(device);
        Assert.NotNull(error);
        Assert.Contains("no_such_option", error);
    }

    [Fact]
    public void Registry_RefusesBadOptionValues_NamingTheOption()
    {
        Assert.NotEmpty(InvalidOptionValues);
        foreach (var (key, value) in InvalidOptionValues)
        {
            var rc = Registry.Open(ProviderType, NewDeviceName(), NetdevOptions.Empty.With(key, value), Pool, out var device, out var error);
            device?.Dispose();

            Assert.True(rc == Errno.EINVAL, $"{key}={value}: expected EINVAL, got {rc}");
            Assert.Null(device);
            Assert.NotNull(error);
            Assert.Contains(key, error);
        }
    }

    // ---------------- helpers for the tests (and subclasses) ----------------

    /// <summary>The harness for this test, opened on first use with no extra options.</summary>
    protected INetdevConformanceHarness Harness => _harness ??= OpenHarness(Registry, Pool, NetdevOptions.Empty);

    /// <summary>A marked test frame: broadcast, EtherType 0x88B5, marker, sequence, then a pattern up to <paramref name="length"/>.</summary>
    protected byte[] Frame(int sequence, int length)
    {
        length = Math.Max(length, MinFrame);
        var f = new byte[length];
        MacAddress.Broadcast.CopyTo(f);
        MacAddress.Parse("02:76:73:77:00:01").CopyTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), TestEtherType);
        BinaryPrimitives.WriteUInt64BigEndian(f.AsSpan(MarkerOffset), _marker);
        BinaryPrimitives.WriteInt32BigEndian(f.AsSpan(SequenceOffset), sequence);
        for (int i = SequenceOffset + 4; i < length; i++) f[i] = (byte)(i * 7 + sequence);
        return f;
    }

    /// <summary>True when <paramref name="frame"/> was built by this test's <see cref="Frame"/>.</summary>
    protected bool IsMarked(ReadOnlySpan<byte> frame) =>
        frame.Length >= SequenceOffset + 4
        && BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == TestEtherType
        && BinaryPrimitives.ReadUInt64BigEndian(frame[MarkerOffset..]) == _marker;

    /// <summary>Sends one frame from the far end, failing the test if the harness cannot.</summary>
    protected void SendFromFarEnd(byte[] frame) => Assert.True(Harness.SendToDevice(frame), "far end could not send");

    /// <summary>Transmits <paramref name="frames"/> in one batch on tx queue 0; returns what Send returned.</summary>
    protected int SendFromDevice(IReadOnlyList<byte[]> frames)
    {
        Assert.InRange(frames.Count, 1, PacketBatch.Capacity);
        var batch = new PacketBatch();
        foreach (var f in frames)
        {
            Assert.True(Pool.TryRent(out var p), "pool exhausted");
            Assert.True(p.TrySetFrame(f));
            batch.TryAdd(p);
        }
        int sent = Harness.Device.GetTxQueue(0).Send(ref batch);
        Assert.Equal(0, batch.Count);
        return sent;
    }

    /// <summary>Receives marked frames on the device (all rx queues) until <paramref name="count"/> or the timeout.</summary>
    protected List<byte[]> ReceiveOnDevice(int count, TimeSpan? timeout = null, bool expectAll = true)
    {
        var result = new List<byte[]>();
        Wait.Until(() => { ReceiveOnDeviceNow(result); return result.Count >= count; }, timeout ?? DeliveryTimeout);
        if (expectAll) Assert.True(result.Count >= count, $"received {result.Count} of {count} frames on the device");
        return result;
    }

    /// <summary>Receives marked frames on the device until <paramref name="control"/> (its sequence number) arrives; returns the ones before it.</summary>
    protected List<byte[]> ReceiveOnDeviceBefore(byte[] control)
    {
        var result = new List<byte[]>();
        int seen = 0;
        bool found = false;
        Wait.Until(() =>
        {
            ReceiveOnDeviceNow(result);
            for (; seen < result.Count && !found; seen++) found = SequenceOf(result[seen]) == SequenceOf(control);
            return found;
        }, DeliveryTimeout);
        Assert.True(found, $"the control frame did not arrive on the device ({result.Count} other frames did)");
        return result.GetRange(0, seen - 1);
    }

    /// <summary>The sequence number of a marked frame.</summary>
    private static int SequenceOf(ReadOnlySpan<byte> frame) => BinaryPrimitives.ReadInt32BigEndian(frame[SequenceOffset..]);

    private void ReceiveOnDeviceNow(List<byte[]> into)
    {
        var dev = Harness.Device;
        var batch = new PacketBatch();
        for (int q = 0; q < dev.RxQueueCount; q++)
        {
            dev.GetRxQueue(q).Receive(ref batch);
            for (int i = 0; i < batch.Count; i++)
            {
                var p = batch[i];
                Assert.Equal(0u, p.Metadata.InPort);
                if (IsMarked(p.Data)) into.Add(p.Data.ToArray());
            }
            batch.ReleaseAll();
        }
    }

    /// <summary>Receives marked frames at the far end until <paramref name="count"/> or the timeout.</summary>
    protected List<byte[]> ReceiveOnFarEnd(int count, TimeSpan? timeout = null, bool expectAll = true)
    {
        var result = new List<byte[]>();
        var buffer = new byte[PacketBuffer.MaxFrameSize];
        var clock = Stopwatch.StartNew();
        var limit = timeout ?? DeliveryTimeout;
        while (result.Count < count)
        {
            var left = limit - clock.Elapsed;
            if (left <= TimeSpan.Zero || !Harness.TryReceiveFromDevice(buffer, left, out int length)) break;
            if (IsMarked(buffer.AsSpan(0, length))) result.Add(buffer.AsSpan(0, length).ToArray());
        }
        if (expectAll) Assert.True(result.Count >= count, $"received {result.Count} of {count} frames at the far end");
        return result;
    }

    /// <summary>
    /// Receives marked frames at the far end until <paramref name="control"/> (its sequence number) arrives, as
    /// <paramref name="received"/>; returns the ones before it.
    /// </summary>
    protected List<byte[]> ReceiveOnFarEndBefore(byte[] control, out byte[] received)
    {
        var result = new List<byte[]>();
        var buffer = new byte[PacketBuffer.MaxFrameSize];
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var left = DeliveryTimeout - clock.Elapsed;
            int length = 0;
            Assert.True(left > TimeSpan.Zero && Harness.TryReceiveFromDevice(buffer, left, out length),
                $"the control frame did not arrive at the far end ({result.Count} other frames did)");
            var frame = buffer.AsSpan(0, length);
            if (!IsMarked(frame)) continue;
            if (SequenceOf(frame) == SequenceOf(control))
            {
                received = frame.ToArray();
                return result;
            }
            result.Add(frame.ToArray());
        }
    }

    /// <summary>Polls <paramref name="condition"/> until true or <see cref="DeliveryTimeout"/>.</summary>
    protected bool WaitUntil(Func<bool> condition) => Wait.Until(condition, DeliveryTimeout);

    private bool WaitReadable(TimeSpan timeout)
    {
        var dev = Harness.Device;
        Assert.Equal(Errno.Success, EpollSet.Create(out var epoll));
        using (epoll)
        {
            bool sleeping = true;
            for (int q = 0; q < dev.RxQueueCount; q++)
            {
                var rxq = dev.GetRxQueue(q);
                if (!rxq.PrepareToWait()) sleeping = false;
                epoll!.Add(rxq.WaitFd, (ulong)q);
            }
            int ready = 1;
            if (sleeping)
            {
                Span<EpollEvent> events = stackalloc EpollEvent[16];
                epoll!.Wait(events, (int)timeout.TotalMilliseconds, out ready);
            }
            for (int q = 0; q < dev.RxQueueCount; q++) dev.GetRxQueue(q).FinishWait();
            return ready > 0;
        }
    }

    /// <summary>Asserts byte-exact equality and order of marked frames.</summary>
    protected static void AssertFramesEqual(IReadOnlyList<byte[]> expected, IReadOnlyList<byte[]> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
            Assert.True(expected[i].AsSpan().SequenceEqual(actual[i]), $"frame {i} differs (lengths {expected[i].Length} and {actual[i].Length})");
    }

    public void Dispose()
    {
        try
        {
            _harness?.Dispose();
        }
        finally
        {
            Pool.Dispose();
            GC.SuppressFinalize(this);
        }
    }
}
