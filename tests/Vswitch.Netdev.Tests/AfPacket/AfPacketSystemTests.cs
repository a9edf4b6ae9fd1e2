using PacketDotNet;
using Vswitch.Interop.Linux;
using Vswitch.Netdev.AfPacket;
using Vswitch.Netdev.Linux;
using Vswitch.Netdev.Tests.SystemTests;
using Vswitch.Packets;

namespace Vswitch.Netdev.Tests.AfPacket;

/// <summary>A veth pair: <see cref="HostEnd"/> in our namespace, <see cref="NsEnd"/> in <see cref="Namespace"/>.</summary>
internal sealed class VethInNamespace : IDisposable
{
    public VethInNamespace(int mtu = 1500)
    {
        Namespace = new NetNamespace();
        HostEnd = Ip.UniqueName("h");
        NsEnd = Ip.UniqueName("i");
        try
        {
            Ip.AddVeth(HostEnd, NsEnd, $"mtu {mtu}", $"mtu {mtu} netns {Namespace.Name}");
            Ip.Run($"link set {HostEnd} up");
            Namespace.Exec($"ip link set {NsEnd} up");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public NetNamespace Namespace { get; }
    public string HostEnd { get; }
    public string NsEnd { get; }

    public void Dispose()
    {
        Ip.TryRun($"link del {HostEnd}");
        Namespace.Dispose();
    }
}

public sealed class AfPacketSystemTests : IDisposable
{
    private readonly PacketPool _pool = new(512);

    public void Dispose() => _pool.Dispose();

    [RootFact]
    public void MissingInterfaceIsENODEVWithItsName()
    {
        var e = Devices.Registry().Open("system", "vswnosuchif9", NetdevOptions.Empty, _pool, out var dev, out var error);
        Assert.Equal(Errno.ENODEV, e);
        Assert.Null(dev);
        Assert.Contains("vswnosuchif9", error, StringComparison.Ordinal);
        Assert.True(NetdevOptions.TryParse("iface=lo,csum=maybe", out var o, out _));
        Assert.Equal(Errno.EINVAL, Devices.Registry().Open("afpacket", "x", o, _pool, out _, out error));
        Assert.Contains("csum=maybe", error, StringComparison.Ordinal);
    }

    [RootTheory]
    [InlineData(1500, 56, false)]
    [InlineData(9000, 8900, false)]
    [InlineData(1500, 56, true)]
    [InlineData(9000, 8900, true)]
    public void TwoVethPairsJoinedByAForwarderPass_Ping(int mtu, int payload, bool ring)
    {
        using var v1 = new VethInNamespace(mtu);
        using var v2 = new VethInNamespace(mtu);
        string net = TestSubnet.Next();
        v1.Namespace.Exec($"ip addr add {net}.1/24 dev {v1.NsEnd}");
        v2.Namespace.Exec($"ip addr add {net}.2/24 dev {v2.NsEnd}");
        using var a = Devices.Open(_pool, "afpacket", v1.HostEnd, $"rx_ring={ring}");
        using var b = Devices.Open(_pool, "system", "port-b", $"iface={v2.HostEnd},rx_ring={ring}");
        Assert.Equal(ring ? "tpacket_v3" : "recvmmsg", a.GetInfo().Status["rx_ring"]);
        Assert.True(a.GetMtu(out int m).IsSuccess);
        Assert.Equal(mtu, m);
        using var fwd = new Forwarder(a, b);
        string mtuFlag = mtu == 1500 ? "" : "-M do ";
        var (code, o, err) = v1.Namespace.TryExec($"ping -c 3 -i 0.2 -W 2 {mtuFlag}-s {payload} {net}.2", 15_000);
        Assert.True(code == 0, $"ping failed: {o} {err}; forwarded {fwd.Forwarded}");
        Assert.Null(fwd.Failure);
        Assert.Contains("3 received", o, StringComparison.Ordinal);
        var s = a.GetStats();
        Assert.True(s.RxPackets >= 3 && s.TxPackets >= 3);
        if (mtu == 9000) Assert.True(s.RxBytes > 3 * 8900UL);
        Assert.Equal(0UL, s.RxTruncated);
    }

    [RootTheory]
    [InlineData((ushort)0x8100, false)]
    [InlineData((ushort)0x88a8, false)]
    [InlineData((ushort)0x8100, true)]
    [InlineData((ushort)0x88a8, true)]
    public void VlanTagsStrippedByTheKernelAreRestoredFromAuxdata(ushort tpid, bool ring)
    {
        // The kernel's receive path moves any 802.1Q/802.1ad tag into skb metadata (skb_vlan_untag), so a
        // tagged frame sent into one end of a veth pair reaches the other end's packet socket untagged,
        // with the tag in PACKET_AUXDATA. (This works without the 8021q module.)
        string end1 = Ip.UniqueName("t"), end2 = Ip.UniqueName("u");
        try
        {
            Ip.AddVeth(end1, end2);
            Ip.Run($"link set {end1} up");
            Ip.Run($"link set {end2} up");
            using var a = Devices.Open(_pool, "afpacket", end1, "");
            using var b = Devices.Open(_pool, "afpacket", end2, $"rx_ring={ring}");
            var frame = Devices.TestFrame(200, MacAddress.Parse("02:00:00:00:00:02"), MacAddress.Parse("02:00:00:00:00:01"), tpid);
            frame[14] = 0x20; frame[15] = 0x64; // PCP 1, VID 100
            Assert.Equal(1, Devices.SendFrame(a, _pool, frame));
            byte[]? got = null;
            Assert.True(Devices.ReceiveUntil(b, (_, f) => f.Length > 20 && f[^1] == frame[^1] && f.Length >= 200 && (got = f) is not null),
                "the tagged frame did not arrive");
            Assert.Equal(Convert.ToHexString(frame), Convert.ToHexString(got!));
        }
        finally
        {
            Ip.TryRun($"link del {end1}");
        }
    }

    [RootVlanFact]
    public void FramesOfAVlanSubinterfaceInANamespaceArriveTagged()
    {
        using var v = new VethInNamespace();
        string net = TestSubnet.Next();
        v.Namespace.Exec($"ip link add link {v.NsEnd} name vlan100 type vlan id 100 && ip addr add {net}.1/24 dev vlan100 && ip link set vlan100 up");
        using var dev = Devices.Open(_pool, "afpacket", v.HostEnd, "");
        v.Namespace.TryExec($"ping -c 1 -W 0.3 {net}.2");
        bool tagged = Devices.ReceiveUntil(dev, (_, f) =>
            f.Length >= 18 && f[12] == 0x81 && f[13] == 0x00 && (((f[14] << 8) | f[15]) & 0x0FFF) == 100
            && f[16] == 0x08 && f[17] == 0x06);
        Assert.True(tagged, "no ARP request tagged with VLAN 100 was received");
    }

    [RootFact]
    public void OwnTransmissionsAreNeverReadBack()
    {
        using var v = new VethInNamespace();
        using var dev = (AfPacketNetdev)Devices.Open(_pool, "afpacket", v.HostEnd, "");
        long before = long.Parse(v.Namespace.Exec($"cat /sys/class/net/{v.NsEnd}/statistics/rx_packets").Trim());
        var frame = Devices.TestFrame(100, MacAddress.Broadcast, MacAddress.Parse("02:00:00:00:00:77"));
        for (int i = 0; i < 5; i++) Assert.Equal(1, Devices.SendFrame(dev, _pool, frame));
        Assert.True(Devices.WaitFor(() =>
            long.Parse(v.Namespace.Exec($"cat /sys/class/net/{v.NsEnd}/statistics/rx_packets").Trim()) >= before + 5));
        // Control: a datagram from the namespace reaches our socket after anything it queued for our own sends.
        string net = TestSubnet.Next();
        v.Namespace.Exec($"ip addr add {net}.1/24 dev {v.NsEnd} && ip neigh replace {net}.2 lladdr 02:00:00:00:00:02 dev {v.NsEnd} && echo control > /dev/udp/{net}.2/7777");
        bool readBack = false;
        Assert.True(Devices.ReceiveUntil(dev, (_, f) => { readBack |= f.AsSpan().SequenceEqual(frame); return IsOurUdp(f); }),
            "the control datagram from the namespace did not arrive");
        Assert.False(readBack, "a frame we transmitted was received again");
        Assert.Equal(5UL, dev.GetStats().TxPackets);
    }

    [RootTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void PartialChecksumsFromVethAreCompletedWhenCsumIsFill(bool ring)
    {
        using var v = new VethInNamespace();
        string net = TestSubnet.Next();
        v.Namespace.Exec($"ip addr add {net}.1/24 dev {v.NsEnd} && ip neigh replace {net}.2 lladdr 02:00:00:00:00:02 dev {v.NsEnd}");
        using var fill = Devices.Open(_pool, "afpacket", "fill", $"iface={v.HostEnd},rx_ring={ring}");
        using var none = Devices.Open(_pool, "afpacket", "none", $"iface={v.HostEnd},csum=none,rx_ring={ring}");
        v.Namespace.Exec($"echo vswitch-checksum-test > /dev/udp/{net}.2/7777");
        byte[]? filled = null, raw = null;
        Assert.True(Devices.ReceiveUntil(fill, (_, f) => IsOurUdp(f) && (filled = f) is not null));
        Assert.True(Devices.ReceiveUntil(none, (_, f) => IsOurUdp(f) && (raw = f) is not null));
        var good = (UdpPacket)Packet.ParsePacket(LinkLayers.Ethernet, filled!).PayloadPacket.PayloadPacket;
        Assert.True(good.ValidUdpChecksum, "csum=fill must deliver a valid UDP checksum");
        var partial = (UdpPacket)Packet.ParsePacket(LinkLayers.Ethernet, raw!).PayloadPacket.PayloadPacket;
        Assert.False(partial.ValidUdpChecksum, "veth should hand AF_PACKET a partial checksum (CHECKSUM_PARTIAL)");
    }

    private static bool IsOurUdp(byte[] f) =>
        f.Length > 42 && f[12] == 0x08 && f[13] == 0x00 && f[23] == 17 && f[36] == 0x1e && f[37] == 0x61; // dst port 7777

    [RootFact]
    public void OverMtuTxIsDroppedAndCounted()
    {
        using var v = new VethInNamespace();
        using var dev = Devices.Open(_pool, "afpacket", v.HostEnd, "");
        var src = MacAddress.Parse("02:00:00:00:00:01");
        Assert.Equal(1, Devices.SendFrame(dev, _pool, Devices.TestFrame(1514, MacAddress.Broadcast, src)));
        Assert.Equal(0, Devices.SendFrame(dev, _pool, Devices.TestFrame(1515, MacAddress.Broadcast, src)));
        Assert.Equal(1, Devices.SendFrame(dev, _pool, Devices.TestFrame(1518, MacAddress.Broadcast, src, 0x8100)));
        var s = dev.GetStats();
        Assert.Equal(1UL, s.TxMtuDropped);
        Assert.Equal(2UL, s.TxPackets);
        // Unchanged options are accepted again; a change is refused naming the option.
        Assert.Equal(Errno.Success, dev.Reconfigure(dev.Options, out _));
        Assert.Equal(Errno.EOPNOTSUPP, dev.Reconfigure(dev.Options.With("promisc", "false"), out var error));
        Assert.Contains("promisc", error, StringComparison.Ordinal);
    }

    [RootTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void PeerDownAndDeletionBumpChangeSeqWithinOneSecond(bool ring)
    {
        using var v = new VethInNamespace();
        using var dev = (AfPacketNetdev)Devices.Open(_pool, "afpacket", v.HostEnd, $"rx_ring={ring}");
        Assert.True(Devices.WaitFor(() => dev.GetLinkState(out var s).IsSuccess && s == LinkState.Up), "link up");
        long seq = dev.ChangeSeq;
        v.Namespace.Exec($"ip link set {v.NsEnd} down");
        Assert.True(Devices.WaitFor(() => dev.ChangeSeq > seq && dev.GetLinkState(out var s).IsSuccess && s == LinkState.Down, 1000),
            "carrier loss not seen within 1 s");
        seq = dev.ChangeSeq;
        v.Namespace.Exec($"ip link set {v.NsEnd} up");
        Assert.True(Devices.WaitFor(() => dev.ChangeSeq > seq && dev.GetLinkState(out var s).IsSuccess && s == LinkState.Up, 1000));

        seq = dev.ChangeSeq;
        Ip.Run($"link del {v.HostEnd}");
        Assert.True(Devices.WaitFor(() => dev.ChangeSeq > seq && dev.InterfaceState == KernelInterfaceState.Gone, 1000), "deletion not seen");
        Assert.True(dev.GetLinkState(out var state).IsSuccess);
        Assert.Equal(LinkState.Down, state);
        var batch = new PacketBatch();
        Assert.Equal(0, dev.GetRxQueue(0).Receive(ref batch));
        Assert.Equal(0, Devices.SendFrame(dev, _pool, Devices.TestFrame(60, MacAddress.Broadcast, MacAddress.Parse("02:00:00:00:00:01"))));
        Assert.Equal(1UL, dev.GetStats().TxDropped);
        Assert.Equal(Errno.ENODEV, dev.SetMac(MacAddress.Parse("02:00:00:00:00:09")));
        // The socket's error was consumed: a poll thread sleeping on WaitFd does not spin.
        Devices.AssertWaitFdStaysQuiet(dev.GetRxQueue(0));
    }

    [RootFact]
    public void TcpThroughTwoVethPairsWorksWithChecksumFill()
    {
        // The namespaces' stacks send partial TCP checksums through their veths (CHECKSUM_PARTIAL); csum=fill
        // completes them, so TCP works across the forwarder. Segmentation offload is turned off on the senders
        // (docs/ports/afpacket.md): 64 KiB GSO packets do not fit a packet buffer.
        using var v1 = new VethInNamespace();
        using var v2 = new VethInNamespace();
        string net = TestSubnet.Next();
        v1.Namespace.Exec($"ip addr add {net}.1/24 dev {v1.NsEnd} && ethtool -K {v1.NsEnd} tso off gso off >/dev/null");
        v2.Namespace.Exec($"ip addr add {net}.2/24 dev {v2.NsEnd} && ethtool -K {v2.NsEnd} tso off gso off >/dev/null");
        using var a = Devices.Open(_pool, "afpacket", v1.HostEnd, "");
        using var b = Devices.Open(_pool, "afpacket", v2.HostEnd, "");
        using var fwd = new Forwarder(a, b);
        using var server = new IperfServer(v2.Namespace);
        var (code, o, e) = v1.Namespace.TryExec($"timeout 10 iperf3 --connect-timeout 3000 -c {net}.2 -t 1 -4", 20_000);
        Assert.True(code == 0, $"iperf3 failed: {o} {e}; forwarded {fwd.Forwarded}; truncated {a.GetStats().RxTruncated}");
        Assert.Null(fwd.Failure);
        Assert.Contains("receiver", o, StringComparison.Ordinal);
    }

    [RootTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void FanoutQueuesEachReceiveWholeFlows(bool ring)
    {
        using var v = new VethInNamespace();
        string net = TestSubnet.Next();
        using var dev = Devices.Open(_pool, "afpacket", v.HostEnd, $"queues=2,rx_ring={ring}");
        Assert.Equal(2, dev.RxQueueCount);
        Assert.NotEqual(dev.GetRxQueue(0).WaitFd, dev.GetRxQueue(1).WaitFd);
        var cmd = new System.Text.StringBuilder($"ip addr add {net}.1/24 dev {v.NsEnd}; ");
        for (int i = 10; i < 42; i++) cmd.Append($"ip neigh replace {net}.{i} lladdr 02:00:00:00:00:{i:x2} dev {v.NsEnd}; ");
        v.Namespace.Exec(cmd.ToString());
        // 32 flows (one socket each), two datagrams each: a flow's datagrams must land on one queue.
        v.Namespace.Exec($"for i in $(seq 10 41); do exec 3>/dev/udp/{net}.$i/$((6000+i)); echo x >&3; echo y >&3; exec 3>&-; done", 20_000);
        var queueOfFlow = new Dictionary<int, HashSet<int>>();
        int total = 0;
        Devices.ReceiveUntil(dev, (q, f) =>
        {
            if (f.Length > 37 && f[12] == 0x08 && f[13] == 0x00 && f[23] == 17)
            {
                int dst = (f[33] << 16) | (f[34] << 8) | f[35]; // destination address, source port
                if (!queueOfFlow.TryGetValue(dst, out var set)) queueOfFlow[dst] = set = [];
                set.Add(q);
                total++;
            }
            return total >= 64;
        });
        Assert.Equal(64, total);
        Assert.All(queueOfFlow.Values, set => Assert.Single(set));
        Assert.True(dev.GetRxQueue(0).Stats.RxPackets > 0 && dev.GetRxQueue(1).Stats.RxPackets > 0,
            $"queue 0: {dev.GetRxQueue(0).Stats.RxPackets}, queue 1: {dev.GetRxQueue(1).Stats.RxPackets}");
        // Both tx queues send.
        Assert.Equal(1, Devices.SendFrame(dev, _pool, Devices.TestFrame(60, MacAddress.Broadcast, MacAddress.Parse("02:00:00:00:00:01")), 1));
        Assert.Equal(1UL, dev.GetTxQueue(1).Stats.TxPackets);
    }
}
