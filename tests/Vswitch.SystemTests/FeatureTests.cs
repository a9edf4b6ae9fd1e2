using System.Diagnostics;
using Vswitch.Netdev;
using Vswitch.Netdev.Tests.SystemTests;

namespace Vswitch.SystemTests;

/// <summary>VLAN push/pop, multi-queue taps and link events through the userspace datapath. Root only.</summary>
public sealed class FeatureTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [RootVlanFact]
    public void PushAndPopVlanBetweenATaggedAndAnUntaggedNamespace()
    {
        using var t = new TwoHosts(PortKind.AfPacket);
        // A talks through VLAN 10 on its veth; B is untagged.
        const string vlanIf = "vswv10";
        t.A.Ns.Exec($"ip addr flush dev {t.A.Iface} && ip link add link {t.A.Iface} name {vlanIf} type vlan id 10 && ip link set {vlanIf} up && ip addr add {t.A.Address}/24 dev {vlanIf}");
        uint a = t.A.PortNo, b = t.B.PortNo;
        t.Dp.AddFlow($"in_port({a}),eth(),eth_type(0x8100),vlan(vid=10),encap(eth_type(0x0806))", $"pop_vlan,{b}");
        t.Dp.AddFlow($"in_port({a}),eth(),eth_type(0x8100),vlan(vid=10),encap(eth_type(0x0800),ipv4(proto=1))", $"pop_vlan,{b}");
        t.Dp.AddFlow($"in_port({b}),eth(),eth_type(0x0806),arp()", $"push_vlan(vid=10,pcp=0),{a}");
        t.Dp.AddFlow($"in_port({b}),eth(),eth_type(0x0800),ipv4(proto=1)", $"push_vlan(vid=10,pcp=0),{a}");

        string pcapA = TestObjects.NewTempPath('c', ".pcap"), pcapB = TestObjects.NewTempPath('c', ".pcap");
        try
        {
            using (var capA = StartCapture(t.A, pcapA))
            using (var capB = StartCapture(t.B, pcapB))
            {
                var (code, o) = TwoHosts.Ping(t.A, t.B, 3);
                Assert.True(code == 0, $"ping over VLAN failed: {o}\n{t.DumpText()}");
                Assert.Contains("3 received", o, StringComparison.Ordinal);
                // Every echo crossed both wires before ping printed "3 received": stop each capture once it holds them.
                WaitCaptured(pcapA, 6);
                WaitCaptured(pcapB, 6);
                capA.Interrupt();
                capB.Interrupt();
            }
            string tagged = ReadCapture(pcapA), untagged = ReadCapture(pcapB);
            // Replies from B reach A's wire tagged with VLAN 10 (pushed by the datapath)...
            Assert.Contains(tagged.Split('\n'), l => l.Contains("vlan 10", StringComparison.Ordinal) && l.Contains("ICMP echo reply", StringComparison.Ordinal));
            Assert.Contains(tagged.Split('\n'), l => l.Contains("vlan 10", StringComparison.Ordinal) && l.Contains("ICMP echo request", StringComparison.Ordinal));
            // ...and A's requests reach B untagged (popped).
            Assert.Contains(untagged.Split('\n'), l => l.Contains("ICMP echo request", StringComparison.Ordinal));
            Assert.DoesNotContain("vlan", untagged, StringComparison.Ordinal);
            Assert.Equal(3UL, t.FlowPackets(t.A, "encap(eth_type(0x0800)"));
            Assert.Equal(3UL, t.FlowPackets(t.B, "proto=1"));
        }
        finally
        {
            File.Delete(pcapA);
            File.Delete(pcapB);
        }
    }

    /// <summary>
    /// The same push/pop without kernel VLAN devices (this test runs where 8021q is missing): two untagged namespaces
    /// joined through a trunk veth pair in this namespace; the datapath pushes VLAN 10 onto the trunk and pops it off
    /// (the tag comes back on receive from PACKET_AUXDATA). The trunk capture must show every ICMP frame with vlan 10.
    /// </summary>
    [RootFact]
    public void PushAndPopVlanAcrossATaggedTrunk()
    {
        using var t = new TwoHosts(PortKind.AfPacket);
        var (t1, if1, t2, if2) = t.AddTrunk();
        uint a = t.A.PortNo, b = t.B.PortNo;
        // A -> tag -> trunk(t1) ~~ wire ~~ trunk(t2) -> untag -> B, and back.
        foreach (var (from, into, outOf, to) in new[] { (a, t1, t2, b), (b, t2, t1, a) })
        {
            t.Dp.AddFlow($"in_port({from}),eth(),eth_type(0x0806),arp()", $"push_vlan(vid=10,pcp=0),{into}");
            t.Dp.AddFlow($"in_port({from}),eth(),eth_type(0x0800),ipv4(proto=1)", $"push_vlan(vid=10,pcp=0),{into}");
            t.Dp.AddFlow($"in_port({outOf}),eth(),eth_type(0x8100),vlan(vid=10),encap(eth_type(0x0806))", $"pop_vlan,{to}");
            t.Dp.AddFlow($"in_port({outOf}),eth(),eth_type(0x8100),vlan(vid=10),encap(eth_type(0x0800),ipv4(proto=1))", $"pop_vlan,{to}");
        }
        string pcap = TestObjects.NewTempPath('c', ".pcap");
        try
        {
            string capOutput;
            using (var cap = new NsProcess(null, $"tcpdump -i {if1} --immediate-mode -e -nn -U -w {pcap}", 20))
            {
                WaitListening(cap);
                var (code, o) = TwoHosts.Ping(t.A, t.B, 3);
                Assert.True(code == 0, $"ping across the VLAN trunk failed: {o}\n{t.DumpText()}");
                Assert.Contains("3 received", o, StringComparison.Ordinal);
                WaitCaptured(pcap, 6);
                cap.Interrupt();
                capOutput = cap.Output;
            }
            var lines = ReadCapture(pcap).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var icmp = lines.Where(l => l.Contains("ICMP echo", StringComparison.Ordinal)).ToArray();
            Assert.True(icmp.Length >= 6, $"trunk capture ({capOutput}):\n{string.Join('\n', lines)}\n{t.DumpText()}");
            Assert.All(icmp, l => Assert.Contains("vlan 10", l, StringComparison.Ordinal));
            Assert.All(lines.Where(l => l.Contains("ARP", StringComparison.Ordinal)), l => Assert.Contains("vlan 10", l, StringComparison.Ordinal));
            Assert.Equal(3UL, t.FlowPackets(t.A, "proto=1"));
            Assert.Equal(3UL, t.FlowPackets(t2, "encap(eth_type(0x0800)")); // popped towards B: A's requests
            Assert.Equal(3UL, t.FlowPackets(t1, "encap(eth_type(0x0800)")); // popped towards A: B's replies
        }
        finally
        {
            File.Delete(pcap);
        }
    }

    /// <summary>tcpdump prints "listening on" (stderr) once its socket is bound and filtering: from then on it captures.</summary>
    private static void WaitListening(NsProcess p) =>
        Wait.For(() => p.Output.Contains("listening on", StringComparison.Ordinal) || p.HasExited, () => $"tcpdump to start: {p.Output}");

    /// <summary>
    /// Waits until the capture file (written packet by packet, <c>-U</c>) holds at least <paramref name="echoes"/> ICMP
    /// echo frames: what the kernel handed tcpdump before the ping ended is in the file, so SIGINT loses nothing.
    /// </summary>
    private static void WaitCaptured(string file, int echoes)
    {
        string seen = "";
        Wait.For(() =>
        {
            seen = Ip.Exec("tcpdump", $"-r {file} -nn", 10_000).Out; // a record being written may end the read early
            return seen.Split('\n').Count(l => l.Contains("ICMP echo", StringComparison.Ordinal)) >= echoes;
        }, () => $"{echoes} ICMP echoes in {file}:\n{seen}");
    }

    private static NsProcess StartCapture(Host host, string file)
    {
        var p = new NsProcess(host.Ns, $"tcpdump -i {host.Iface} --immediate-mode -e -nn -U -w {file}", 20);
        WaitListening(p);
        return p;
    }

    private static string ReadCapture(string file)
    {
        var (code, o, e) = Ip.Exec("tcpdump", $"-r {file} -e -nn", 10_000);
        Assert.True(code == 0, $"tcpdump -r {file}: {e}");
        return o;
    }

    [RootFact]
    public void MultiQueueTapSpreadsParallelFlowsOverBothRxQueues()
    {
        using var t = new TwoHosts(PortKind.Tap, queues: 2, pollThreads: 2);
        t.AddL3Flows(1, 6);
        var dev = t.Dp.GetDevice(t.A.PortNo);
        Assert.Equal(2, dev.RxQueueCount);
        using (var server = Iperf.StartServer(t.B))
        {
            var (code, o) = Iperf.Client(t.A, t.B, 3, "-P 8");
            Assert.True(code == 0, $"iperf3 -P 8 failed ({code}): {o}\nserver: {server.Output}\n{t.DumpText()}");
        }
        ulong q0 = dev.GetRxQueue(0).Stats.RxPackets, q1 = dev.GetRxQueue(1).Stats.RxPackets;
        output.WriteLine($"port A rx queue packets: q0={q0} q1={q1}; B: q0={t.Dp.GetDevice(t.B.PortNo).GetRxQueue(0).Stats.RxPackets} q1={t.Dp.GetDevice(t.B.PortNo).GetRxQueue(1).Stats.RxPackets}");
        Assert.True(q0 > 100 && q1 > 100, $"rx queue packets: q0={q0} q1={q1}");
        Assert.True(t.FlowPackets(t.A, "proto=6") >= 200, t.DumpText());
    }

    [RootFact]
    public void VethPeerDownUpAndDeletionAreSeenByPortPollWithinOneSecond()
    {
        using var t = new TwoHosts(PortKind.AfPacket);
        var dev = t.Dp.GetDevice(t.A.PortNo);
        WaitLink(dev, LinkState.Up);
        t.Dp.DrainPortChanges();

        t.A.Ns.Exec($"ip link set {t.A.Iface} down");
        AssertChangeWithinOneSecond(t, t.A.PortName, "peer down");
        WaitLink(dev, LinkState.Down);
        t.Dp.DrainPortChanges();

        t.A.Ns.Exec($"ip link set {t.A.Iface} up");
        AssertChangeWithinOneSecond(t, t.A.PortName, "peer up");
        WaitLink(dev, LinkState.Up);
        t.Dp.DrainPortChanges();

        t.A.Ns.Exec($"ip link del {t.A.Iface}"); // takes the host end (the port's interface) with it
        AssertChangeWithinOneSecond(t, t.A.PortName, "peer deleted");
        WaitLink(dev, LinkState.Down);
        // The other port is untouched.
        Assert.True(t.Dp.GetDevice(t.B.PortNo).GetLinkState(out var other).IsSuccess);
        Assert.Equal(LinkState.Up, other);
    }

    /// <summary>
    /// A tap deleted inside the namespace it was moved to is not seen by this namespace's link monitor
    /// (docs/ports/tap.md); the next read on its fd fails with EBADFD and the port goes down from there.
    /// </summary>
    [RootFact]
    public void TapDeletedInItsNamespaceIsSeenByPortPollWithinOneSecond()
    {
        using var t = new TwoHosts(PortKind.Tap);
        var dev = t.Dp.GetDevice(t.A.PortNo);
        t.Dp.DrainPortChanges();
        t.A.Ns.Exec($"ip link del {t.A.Iface}");
        AssertChangeWithinOneSecond(t, t.A.PortName, "tap deleted in its namespace");
        WaitLink(dev, LinkState.Down);
        // (B's link state is not checked: a moved tap reports the Down its move caused, docs/ports/tap.md.)
        Assert.True(dev.GetStats().RxErrors + dev.GetStats().TxErrors >= 1, "EBADFD counted once");
    }

    [RootFact]
    public void TapSetDownIsSeenByPortPollWithinOneSecond()
    {
        using var dp = new DatapathHarness();
        string tap = Ip.UniqueName("t");
        uint port = dp.AddPort("tp", "tap", $"iface={tap}");
        TestObjects.MarkLink(tap);
        Ip.Run($"link set {tap} up");
        WaitLink(dp.GetDevice(port), LinkState.Up);
        dp.DrainPortChanges();
        var clock = Stopwatch.StartNew();
        Ip.Run($"link set {tap} down");
        Assert.True(dp.TryPollPortChange(1000, out var name), "no port change within 1 s after ip link set down");
        Assert.True(clock.ElapsedMilliseconds < 1000);
        Assert.Equal("tp", name);
        WaitLink(dp.GetDevice(port), LinkState.Down);
    }

    private static void AssertChangeWithinOneSecond(TwoHosts t, string port, string what)
    {
        var clock = Stopwatch.StartNew();
        Assert.True(t.Dp.TryPollPortChange(1000, out var name), $"{what}: no port change within 1 s");
        Assert.True(clock.ElapsedMilliseconds <= 1000, $"{what}: seen after {clock.ElapsedMilliseconds} ms");
        Assert.Equal(port, name);
    }

    private static void WaitLink(Vswitch.Netdev.Netdev dev, LinkState expected)
    {
        LinkState state = LinkState.Unknown;
        Wait.For(() => dev.GetLinkState(out state).IsSuccess && state == expected, () => $"{dev.Name}: link {state}, expected {expected}");
    }
}
