using Vswitch.Interop.Linux;
using Vswitch.Netdev.Linux;
using Vswitch.Netdev.Tap;
using Vswitch.Netdev.Tests.SystemTests;
using Vswitch.Packets;

namespace Vswitch.Netdev.Tests.Tap;

public sealed class TapSystemTests : IDisposable
{
    private readonly PacketPool _pool = new(512);

    public void Dispose() => _pool.Dispose();

    [RootFact]
    public void CreatesTapWithDefaultPatternRandomLocalMacAndControls()
    {
        using var dev = (TapNetdev)Devices.Open(_pool, "tap", "p0", "speed=2500");
        string kname = dev.GetKernelName();
        Assert.StartsWith("vswtap", kname, StringComparison.Ordinal);
        Assert.Contains("tun", Devices.LinkShow(kname), StringComparison.Ordinal);
        Assert.True(dev.GetMac(out var mac).IsSuccess);
        Assert.False(mac.IsMulticast);
        Assert.True((mac.ToUInt64() & 0x0200_0000_0000UL) != 0, $"{mac} is not locally administered");
        var info = dev.GetInfo();
        Assert.Equal(2500, info.SpeedMbps);
        Assert.Equal(kname, info.KernelName);
        Assert.True(info.IfIndex > 0);

        long seq = dev.ChangeSeq;
        var newMac = MacAddress.Parse("02:11:22:33:44:55");
        Assert.Equal(Errno.Success, dev.SetMac(newMac));
        Assert.Contains("02:11:22:33:44:55", Devices.LinkShow(kname), StringComparison.Ordinal);
        Assert.Equal(Errno.EINVAL, dev.SetMac(MacAddress.Broadcast));
        Assert.Equal(Errno.Success, dev.SetMtu(9000));
        Assert.Contains("mtu 9000", Devices.LinkShow(kname), StringComparison.Ordinal);
        Assert.True(dev.GetMtu(out int mtu).IsSuccess);
        Assert.Equal(9000, mtu);
        Assert.Equal(Errno.EINVAL, dev.SetMtu(dev.Capabilities.MaxMtu + 1));
        Assert.True(dev.ChangeSeq > seq);

        Assert.Equal(Errno.Success, dev.UpdateFlags(NetdevFlags.None, NetdevFlags.Up | NetdevFlags.Promiscuous, out var old));
        Assert.Equal(NetdevFlags.None, old & (NetdevFlags.Up | NetdevFlags.Promiscuous));
        string show = Devices.LinkShow(kname);
        Assert.Contains("PROMISC", show, StringComparison.Ordinal);
        Assert.Contains(",UP", show, StringComparison.Ordinal);
        Assert.Equal(Errno.Success, dev.UpdateFlags(NetdevFlags.Promiscuous, NetdevFlags.AllMulticast, out old));
        Assert.Equal(NetdevFlags.Up | NetdevFlags.Promiscuous, old);
        show = Devices.LinkShow(kname);
        Assert.DoesNotContain("PROMISC", show, StringComparison.Ordinal);
        Assert.Contains("ALLMULTI", show, StringComparison.Ordinal);
        // A tap is up with carrier once an fd is attached and it is administratively up.
        Assert.True(Devices.WaitFor(() => dev.GetLinkState(out var s).IsSuccess && s == LinkState.Up));
        dev.Dispose();
        Assert.True(Devices.WaitFor(() => NetDevice.NameToIndex(kname, out _).IsError), "non-persistent tap must vanish on close");
    }

    [RootFact]
    public void OptionsAreValidatedWithClearErrors()
    {
        var registry = Devices.Registry();
        foreach (var (text, needle) in new[]
                 {
                     ("queues=0", "queues=0"), ("queues=17", "queues=17"), ("mac=01:00:00:00:00:01", "mac=01:00:00:00:00:01"),
                     ("mac=zz", "mac=zz"), ("local_ip=1.2.3", "local_ip=1.2.3"), ("local_netmask=33", "local_netmask=33"),
                     ("local_netmask=255.0.255.0", "local_netmask"), ("iface=a/b", "iface=a/b"), ("iface=waytoolonginterfacename", "iface"),
                     ("remote=vswnosuchif0", "remote=vswnosuchif0"), ("bogus=1", "bogus"),
                 })
        {
            Assert.True(NetdevOptions.TryParse(text, out var o, out _));
            var e = registry.Open("tap", "p", o, _pool, out var dev, out var error);
            Assert.True(e.IsError, text);
            Assert.Null(dev);
            Assert.Contains(needle, error, StringComparison.Ordinal);
        }
    }

    [RootFact]
    public void AnExistingNonTapInterfaceIsEEXIST()
    {
        Assert.True(NetdevOptions.TryParse("iface=lo", out var o, out _));
        var e = Devices.Registry().Open("tap", "p", o, _pool, out var dev, out var error);
        Assert.Equal(Errno.EEXIST, e);
        Assert.Null(dev);
        Assert.Contains("iface=lo", error, StringComparison.Ordinal);
    }

    [RootFact]
    public void MacCopiedFromRemoteAndPersistKeepsInterface()
    {
        string name = Ip.UniqueName("p");
        try
        {
            using (var first = (TapNetdev)Devices.Open(_pool, "tap", "a", $"iface={name},persist=true,mac=02:aa:bb:cc:dd:01"))
            {
                TestObjects.MarkLink(name); // persistent: it would outlive a crash of this process
                using var second = (TapNetdev)Devices.Open(_pool, "tap", "b", $"remote={name}");
                Assert.True(second.GetMac(out var mac).IsSuccess);
                Assert.Equal(MacAddress.Parse("02:aa:bb:cc:dd:01"), mac);
                Assert.Equal("true", first.GetInfo().Status["persist"]);
            }
            Assert.True(NetDevice.NameToIndex(name, out _).IsSuccess, "persist=true must keep the interface after close");
            // Attaching to the existing persistent tap keeps its MAC. (A child process another test is forking
            // at this moment may hold our closed fd until its exec: EBUSY for a moment, so retry briefly.)
            Assert.True(NetdevOptions.TryParse($"iface={name}", out var attach, out _));
            Netdev? reopened = null;
            Assert.True(Devices.WaitFor(() => Devices.Registry().Open("tap", "c", attach, _pool, out reopened, out _).IsSuccess));
            using var again = (TapNetdev)reopened!;
            Assert.True(again.GetMac(out var kept).IsSuccess);
            Assert.Equal(MacAddress.Parse("02:aa:bb:cc:dd:01"), kept);
        }
        finally
        {
            Ip.TryRun($"link del {name}");
        }
    }

    [RootFact]
    public void OverMtuFramesAreDroppedAndCountedVlanAllowance()
    {
        using var dev = Devices.Open(_pool, "tap", "p0", "");
        Assert.Equal(Errno.Success, dev.UpdateFlags(NetdevFlags.None, NetdevFlags.Up, out _));
        Assert.True(dev.GetMtu(out int mtu).IsSuccess);
        Assert.Equal(1500, mtu);
        var src = MacAddress.Parse("02:00:00:00:00:01");
        Assert.Equal(1, Devices.SendFrame(dev, _pool, Devices.TestFrame(1514, MacAddress.Broadcast, src)));
        Assert.Equal(0, Devices.SendFrame(dev, _pool, Devices.TestFrame(1515, MacAddress.Broadcast, src)));
        Assert.Equal(1, Devices.SendFrame(dev, _pool, Devices.TestFrame(1518, MacAddress.Broadcast, src, 0x8100)));
        Assert.Equal(0, Devices.SendFrame(dev, _pool, Devices.TestFrame(1519, MacAddress.Broadcast, src, 0x8100)));
        var stats = dev.GetStats();
        Assert.Equal(2UL, stats.TxMtuDropped);
        Assert.Equal(2UL, stats.TxDropped);
        Assert.Equal(2UL, stats.TxPackets);
        Assert.Equal((ulong)(1514 + 1518), stats.TxBytes);
        Assert.Equal(Errno.Success, dev.ResetStats());
        Assert.Equal(0UL, dev.GetStats().TxPackets);
    }

    [RootTheory]
    [InlineData(1500, 56)]
    [InlineData(9000, 8900)]
    public void TwoTapsInTwoNamespacesJoinedByAForwarderPass_Ping(int mtu, int payload)
    {
        using var ns1 = new NetNamespace();
        using var ns2 = new NetNamespace();
        string net = TestSubnet.Next();
        using var a = (TapNetdev)Devices.Open(_pool, "tap", "a", mtu == 1500 ? "" : $"mtu={mtu}");
        using var b = (TapNetdev)Devices.Open(_pool, "tap", "b", mtu == 1500 ? "" : $"mtu={mtu}");
        Ip.Run($"link set {a.GetKernelName()} netns {ns1.Name}");
        Ip.Run($"link set {b.GetKernelName()} netns {ns2.Name}");
        ns1.Exec($"ip addr add {net}.1/24 dev {a.GetKernelName()} && ip link set {a.GetKernelName()} up");
        ns2.Exec($"ip addr add {net}.2/24 dev {b.GetKernelName()} && ip link set {b.GetKernelName()} up");
        Assert.True(Devices.WaitFor(() => a.InterfaceState == KernelInterfaceState.OtherNamespace
                                         && b.InterfaceState == KernelInterfaceState.OtherNamespace));
        // Control by name is gone with the move; getters answer from what is known.
        Assert.Equal(Errno.ENODEV, a.SetMtu(1400));
        Assert.True(a.GetMtu(out int known).IsSuccess);
        Assert.Equal(mtu, known);
        Assert.Equal("other-namespace", a.GetInfo().Status["interface"]);

        using var fwd = new Forwarder(a, b);
        string mtuFlag = mtu == 1500 ? "" : "-M do ";
        var (code, o, err) = ns1.TryExec($"ping -c 3 -i 0.2 -W 2 {mtuFlag}-s {payload} {net}.2", 15_000);
        Assert.True(code == 0, $"ping failed: {o} {err}; forwarded {fwd.Forwarded}; a {Describe(a)}; b {Describe(b)}");
        Assert.Null(fwd.Failure);
        Assert.Contains("3 received", o, StringComparison.Ordinal);
        var sa = a.GetStats();
        Assert.True(sa.RxPackets >= 3 && sa.TxPackets >= 3, Describe(a));
        if (mtu == 9000) Assert.True(sa.RxBytes > 3 * 8900UL);
    }

    private static string Describe(Netdev d)
    {
        var s = d.GetStats();
        return $"rx {s.RxPackets}/{s.RxBytes}B err {s.RxErrors} trunc {s.RxTruncated} tx {s.TxPackets} drop {s.TxDropped} err {s.TxErrors}";
    }

    [RootFact]
    public void MultiQueueTapSpreadsFlowsOverBothQueues()
    {
        using var ns = new NetNamespace();
        string net = TestSubnet.Next();
        using var dev = (TapNetdev)Devices.Open(_pool, "tap", "mq", "queues=2");
        Assert.Equal(2, dev.RxQueueCount);
        Assert.Equal(2, dev.TxQueueCount);
        Assert.NotEqual(dev.GetRxQueue(0).WaitFd, dev.GetRxQueue(1).WaitFd);
        Assert.Contains("multi_queue", Devices.LinkShow(dev.GetKernelName()), StringComparison.Ordinal);
        string k = dev.GetKernelName();
        Ip.Run($"link set {k} netns {ns.Name}");
        ns.Exec($"ip addr add {net}.1/24 dev {k} && ip link set {k} up");
        // 32 UDP flows to 32 neighbours with static ARP entries: the kernel spreads them over the queues by flow hash.
        var cmd = new System.Text.StringBuilder();
        for (int i = 10; i < 42; i++) cmd.Append($"ip neigh replace {net}.{i} lladdr 02:00:00:00:00:{i:x2} dev {k}; ");
        ns.Exec(cmd.ToString());
        ns.Exec($"for i in $(seq 10 41); do for p in 1 2; do echo x > /dev/udp/{net}.$i/$((5000+i*2+p)); done; done", 20_000);
        var perQueue = new int[2];
        Devices.ReceiveUntil(dev, (q, f) =>
        {
            if (f.Length > 23 && f[12] == 0x08 && f[13] == 0x00 && f[23] == 17) perQueue[q]++;
            return perQueue[0] + perQueue[1] >= 64;
        });
        Assert.True(perQueue[0] > 0 && perQueue[1] > 0, $"queue 0: {perQueue[0]}, queue 1: {perQueue[1]}");
        Assert.Equal(64, perQueue[0] + perQueue[1]);
        Assert.True(dev.GetRxQueue(0).Stats.RxPackets > 0 && dev.GetRxQueue(1).Stats.RxPackets > 0);
        // Both tx queues reach the kernel: a frame to the namespace's MAC on each queue is counted by the kernel.
        var kmac = MacAddress.Parse(ns.Exec($"cat /sys/class/net/{k}/address").Trim());
        string before = ns.Exec($"cat /sys/class/net/{k}/statistics/rx_packets").Trim();
        Assert.Equal(1, Devices.SendFrame(dev, _pool, Devices.TestFrame(60, kmac, MacAddress.Parse("02:00:00:00:00:0a")), 0));
        Assert.Equal(1, Devices.SendFrame(dev, _pool, Devices.TestFrame(60, kmac, MacAddress.Parse("02:00:00:00:00:0a")), 1));
        Assert.True(Devices.WaitFor(() => long.Parse(ns.Exec($"cat /sys/class/net/{k}/statistics/rx_packets").Trim()) >= long.Parse(before) + 2));
    }

    [RootFact]
    public void OversizedFramesFromTheKernelAreCountedTruncatedNotDelivered()
    {
        using var ns = new NetNamespace();
        string net = TestSubnet.Next();
        using var dev = (TapNetdev)Devices.Open(_pool, "tap", "big", "");
        string k = dev.GetKernelName();
        Ip.Run($"link set {k} netns {ns.Name}");
        // Larger than a packet buffer can hold (our SetMtu refuses it, the kernel does not).
        ns.Exec($"ip link set {k} mtu 12000 && ip addr add {net}.1/24 dev {k} && ip link set {k} up && ip neigh replace {net}.2 lladdr 02:00:00:00:00:02 dev {k}");
        ns.TryExec($"ping -c 1 -W 0.2 -s 11000 {net}.2");
        ns.TryExec($"ping -c 1 -W 0.2 -s 100 {net}.2");
        int small = 0;
        Devices.ReceiveUntil(dev, (_, f) =>
        {
            Assert.True(f.Length <= PacketBuffer.MaxFrameSize);
            if (f.Length < 200 && f.Length > 23 && f[23] == 1) small++;
            return small > 0;
        });
        Assert.Equal(1, small);
        var s = dev.GetStats();
        Assert.True(s.RxTruncated >= 1, $"truncated {s.RxTruncated}");
        Assert.True(s.RxErrors >= s.RxTruncated);
    }

    [RootFact]
    public void LocalIpAndNetmaskAreAppliedOnceBothAreValid()
    {
        string net = TestSubnet.Next();
        using var ns = new NetNamespace();
        // Only local_ip: pending, interface stays down.
        using var dev = (TapNetdev)Devices.Open(_pool, "tap", "l", $"local_ip={net}.1");
        string k = dev.GetKernelName();
        Assert.False(dev.LocalAddressApplied);
        Assert.Equal("pending", dev.GetInfo().Status["local_address"]);
        Assert.DoesNotContain($"{net}.1", Ip.Run($"-4 addr show dev {k}"), StringComparison.Ordinal);
        long seq = dev.ChangeSeq;
        // A bad netmask changes nothing.
        Assert.True(NetdevOptions.TryParse($"local_ip={net}.1,local_netmask=40", out var bad, out _));
        Assert.Equal(Errno.EINVAL, dev.Reconfigure(bad, out var error));
        Assert.Contains("local_netmask=40", error, StringComparison.Ordinal);
        Assert.Equal(Errno.EOPNOTSUPP, dev.Reconfigure(dev.Options.With("queues", "2"), out error));
        Assert.Contains("queues", error, StringComparison.Ordinal);
        // Both valid: the address is on the interface and it is up.
        Assert.Equal(Errno.Success, dev.Reconfigure(dev.Options.With("local_netmask", "255.255.255.0"), out error));
        Assert.True(dev.LocalAddressApplied);
        string addr = Ip.Run($"-4 addr show dev {k}");
        Assert.Contains($"inet {net}.1/24", addr, StringComparison.Ordinal);
        Assert.Contains(",UP", addr, StringComparison.Ordinal);
        Assert.True(dev.ChangeSeq > seq);
        Assert.Equal("255.255.255.0", dev.Options.Get("local_netmask"));

        // At open with both: applied at once.
        string net2 = TestSubnet.Next();
        using var dev2 = (TapNetdev)Devices.Open(_pool, "tap", "l2", $"local_ip={net2}.7,local_netmask=28");
        Assert.Contains($"inet {net2}.7/28", Ip.Run($"-4 addr show dev {dev2.GetKernelName()}"), StringComparison.Ordinal);
        Assert.Equal("applied", dev2.GetInfo().Status["local_address"]);
    }

    [RootFact]
    public void LinkDownAndDeletionBumpChangeSeqWithinOneSecond()
    {
        using var dev = (TapNetdev)Devices.Open(_pool, "tap", "ev", "");
        string k = dev.GetKernelName();
        Ip.Run($"link set {k} up");
        Assert.True(Devices.WaitFor(() => dev.GetLinkState(out var s).IsSuccess && s == LinkState.Up), "link up");
        long seq = dev.ChangeSeq;
        Ip.Run($"link set {k} down");
        Assert.True(Devices.WaitFor(() => dev.ChangeSeq > seq && dev.GetLinkState(out var s).IsSuccess && s == LinkState.Down, 1000),
            "link down not seen within 1 s");
        seq = dev.ChangeSeq;
        Ip.Run($"link set {k} mtu 1400");
        Assert.True(Devices.WaitFor(() => dev.ChangeSeq > seq, 1000), "mtu change not seen");
        Assert.True(dev.GetMtu(out int mtu).IsSuccess);
        Assert.Equal(1400, mtu);
        Ip.Run($"link set {k} up");
        Assert.True(Devices.WaitFor(() => dev.GetLinkState(out var s).IsSuccess && s == LinkState.Up));

        seq = dev.ChangeSeq;
        Ip.Run($"link del {k}");
        Assert.True(Devices.WaitFor(() => dev.ChangeSeq > seq && dev.InterfaceState == KernelInterfaceState.Gone, 1000), "deletion not seen within 1 s");
        Assert.True(dev.GetLinkState(out var state).IsSuccess);
        Assert.Equal(LinkState.Down, state);
        Assert.Equal(Errno.ENODEV, dev.SetMtu(1500));
        Assert.Equal(Errno.ENODEV, dev.UpdateFlags(NetdevFlags.None, NetdevFlags.Up, out _));
        var batch = new PacketBatch();
        Assert.Equal(0, dev.GetRxQueue(0).Receive(ref batch));
        Assert.Equal(0, Devices.SendFrame(dev, _pool, Devices.TestFrame(60, MacAddress.Broadcast, MacAddress.Parse("02:00:00:00:00:01"))));
        Assert.Equal(1UL, dev.GetStats().TxDropped);
        // The wait fd no longer signals (no busy loop for a poll thread sleeping on it).
        Devices.AssertWaitFdStaysQuiet(dev.GetRxQueue(0));
        Assert.Equal("gone", dev.GetInfo().Status["interface"]);
    }

    [RootFact]
    public void TapDestroyedWithTheNamespaceItWasMovedToGoesDownWithoutCrashing()
    {
        var ns = new NetNamespace();
        using var dev = (TapNetdev)Devices.Open(_pool, "tap", "moved", "");
        try
        {
            Ip.Run($"link set {dev.GetKernelName()} netns {ns.Name}");
            Assert.True(Devices.WaitFor(() => dev.InterfaceState == KernelInterfaceState.OtherNamespace));
            ns.Exec($"ip link set {dev.GetKernelName()} up");
        }
        finally
        {
            ns.Dispose();
        }
        long seq = dev.ChangeSeq;
        var batch = new PacketBatch();
        // Our namespace's monitor never hears of it; the fast path finds out (EBADFD) on its next read.
        Assert.True(Devices.WaitFor(() =>
        {
            dev.GetRxQueue(0).Receive(ref batch);
            batch.ReleaseAll();
            return dev.InterfaceState == KernelInterfaceState.Gone;
        }), "EBADFD not turned into a gone port");
        Assert.True(dev.ChangeSeq > seq);
        Assert.True(dev.GetLinkState(out var state).IsSuccess);
        Assert.Equal(LinkState.Down, state);
        Assert.True(dev.GetStats().RxErrors >= 1);
        Assert.Equal(0, Devices.SendFrame(dev, _pool, Devices.TestFrame(60, MacAddress.Broadcast, MacAddress.Parse("02:00:00:00:00:01"))));
    }

    [RootFact]
    public void TcpThroughTwoMultiQueueTapsUsesBothQueues()
    {
        using var ns1 = new NetNamespace();
        using var ns2 = new NetNamespace();
        string net = TestSubnet.Next();
        using var a = (TapNetdev)Devices.Open(_pool, "tap", "a", "queues=2");
        using var b = (TapNetdev)Devices.Open(_pool, "tap", "b", "queues=2");
        Ip.Run($"link set {a.GetKernelName()} netns {ns1.Name}");
        Ip.Run($"link set {b.GetKernelName()} netns {ns2.Name}");
        ns1.Exec($"ip addr add {net}.1/24 dev {a.GetKernelName()} && ip link set {a.GetKernelName()} up");
        ns2.Exec($"ip addr add {net}.2/24 dev {b.GetKernelName()} && ip link set {b.GetKernelName()} up");
        using var fwd = new Forwarder(a, b);
        using var server = new IperfServer(ns2);
        var (code, o, e) = ns1.TryExec($"timeout 10 iperf3 --connect-timeout 3000 -c {net}.2 -t 1 -P 4 -4", 20_000);
        Assert.True(code == 0, $"iperf3 failed: {o} {e}; forwarded {fwd.Forwarded}");
        Assert.Null(fwd.Failure);
        Assert.Contains("receiver", o, StringComparison.Ordinal);
        Assert.True(a.GetRxQueue(0).Stats.RxPackets > 0 && a.GetRxQueue(1).Stats.RxPackets > 0,
            $"queue 0: {a.GetRxQueue(0).Stats.RxPackets}, queue 1: {a.GetRxQueue(1).Stats.RxPackets}");
        Assert.Equal(0UL, a.GetStats().RxTruncated);
    }
}
