using System.Globalization;
using System.Text.RegularExpressions;
using Vswitch.Netdev.Tests.SystemTests;

namespace Vswitch.SystemTests;

/// <summary>
/// Real kernel traffic between two namespaces through the userspace datapath: tap ports (taps moved into the
/// namespaces) and afpacket ports (veth pairs), flows installed as OVS text. Root only; skipped elsewhere.
/// </summary>
public sealed partial class TrafficTests
{
    private const int Icmp = 1, Tcp = 6, Udp = 17;

    [RootTheory]
    [InlineData(PortKind.Tap)]
    [InlineData(PortKind.AfPacket)]
    public void PingBothWaysAndIperf3TcpPass_AndFlowStatsCountThePackets(PortKind kind)
    {
        using var t = new TwoHosts(kind);
        t.AddL3Flows(Icmp, Tcp);

        var (code, o) = TwoHosts.Ping(t.A, t.B, 3);
        Assert.True(code == 0, $"ping A->B failed: {o}\n{t.DumpText()}");
        Assert.Contains("3 received", o, StringComparison.Ordinal);
        (code, o) = TwoHosts.Ping(t.B, t.A, 3);
        Assert.True(code == 0, $"ping B->A failed: {o}\n{t.DumpText()}");
        Assert.Contains("3 received", o, StringComparison.Ordinal);

        // Each side sent 3 echo requests and 3 echo replies; each side resolved the other with ARP.
        Assert.Equal(6UL, t.FlowPackets(t.A, "proto=1"));
        Assert.Equal(6UL, t.FlowPackets(t.B, "proto=1"));
        Assert.InRange(t.FlowPackets(t.A, "eth_type(0x0806)"), 1UL, 10UL);
        Assert.InRange(t.FlowPackets(t.B, "eth_type(0x0806)"), 1UL, 10UL);

        // TCP: through afpacket this relies on csum=fill completing the veth's partial checksums (offload stays on).
        using (var server = Iperf.StartServer(t.B))
        {
            (code, o) = Iperf.Client(t.A, t.B, 5);
            Assert.True(code == 0, $"iperf3 failed ({code}): {o}\nserver: {server.Output}\n{t.DumpText()}");
        }
        Assert.Contains("receiver", o, StringComparison.Ordinal);
        double mbits = ReceiverMbits(o);
        Assert.True(mbits > 1, $"iperf3 receiver rate {mbits} Mbit/s:\n{o}");
        ulong tcpAtoB = t.FlowPackets(t.A, "proto=6"), tcpBtoA = t.FlowPackets(t.B, "proto=6");
        Assert.True(tcpAtoB > 1000 && tcpBtoA > 100, $"TCP flow packets A->B {tcpAtoB}, B->A {tcpBtoA}\n{t.DumpText()}");
        var devA = t.Dp.GetDevice(t.A.PortNo).GetStats();
        Assert.True(devA.RxPackets >= tcpAtoB, $"port A received {devA.RxPackets} < flow packets {tcpAtoB}");
    }

    [RootTheory]
    [InlineData(PortKind.Tap)]
    [InlineData(PortKind.AfPacket)]
    public void JumboFramesAtMtu9000PassUnfragmented(PortKind kind)
    {
        using var t = new TwoHosts(kind, mtu: 9000);
        t.AddL3Flows(Icmp);
        foreach (var host in new[] { t.A, t.B })
        {
            Assert.True(t.Dp.GetDevice(host.PortNo).GetMtu(out int mtu).IsSuccess);
            Assert.Equal(9000, mtu);
            Assert.Contains("mtu 9000", host.Ns.Exec($"ip link show {host.Iface}"), StringComparison.Ordinal);
        }
        var (code, o) = TwoHosts.Ping(t.A, t.B, 3, "-s 8900 -M do");
        Assert.True(code == 0, $"jumbo ping failed: {o}\n{t.DumpText()}");
        Assert.Contains("3 received", o, StringComparison.Ordinal);
        var flow = Vswitch.Datapath.Odp.OdpFlowLine.ParseDump(t.Dp.DumpFlows().Single(l =>
            l.Contains($"in_port({t.A.PortNo})", StringComparison.Ordinal) && l.Contains("proto=1", StringComparison.Ordinal)));
        Assert.Equal(3UL, flow.Stats.Packets);
        Assert.Equal(3UL * (14 + 20 + 8 + 8900), flow.Stats.Bytes); // one unfragmented frame per request
    }

    [RootTheory]
    [InlineData(PortKind.Tap)]
    [InlineData(PortKind.AfPacket)]
    public void OversizedPingWithDontFragmentFailsAtMtu1500(PortKind kind)
    {
        using var t = new TwoHosts(kind);
        t.AddL3Flows(Icmp);
        var (code, o) = TwoHosts.Ping(t.A, t.B, 1, "-s 1400 -M do");
        Assert.True(code == 0, $"ping at 1400 failed: {o}");
        (code, o) = TwoHosts.Ping(t.A, t.B, 1, "-s 8900 -M do");
        Assert.NotEqual(0, code);
    }

    /// <summary>
    /// The afpacket checksum policy (docs/ports/afpacket.md): a veth's TCP segments carry partial checksums. With
    /// <c>csum=fill</c> (default) the provider completes them and TCP works with offload on; with <c>csum=none</c>
    /// TCP works once tx checksum offload is off on the sending veths (<c>ethtool -K VETH tx off</c>, done here).
    /// TSO/GSO are off in both cases (a super-frame does not fit a packet buffer).
    /// </summary>
    [RootTheory]
    [InlineData("fill", true, false)]
    [InlineData("none", false, false)]
    [InlineData("fill", true, true)]
    public void AfPacketTcpWorksUnderTheDocumentedChecksumPolicy(string csum, bool txChecksumOffload, bool rxRing)
    {
        using var t = new TwoHosts(PortKind.AfPacket, csum: csum, txChecksumOffload: txChecksumOffload, extraPortOptions: rxRing ? ",rx_ring=true" : "");
        t.AddL3Flows(Tcp, Udp);
        int code;
        string o;
        using (var server = Iperf.StartServer(t.A))
        {
            (code, o) = Iperf.Client(t.B, t.A, 3);
            Assert.True(code == 0, $"iperf3 TCP (csum={csum}, tx offload {txChecksumOffload}) failed ({code}): {o}\nserver: {server.Output}\n{t.DumpText()}");
        }
        Assert.True(ReceiverMbits(o) > 1, o);
        // UDP too: a partial UDP checksum would make the receiver drop every datagram (100% loss).
        using (var server = Iperf.StartServer(t.A))
        {
            (code, o) = Iperf.Client(t.B, t.A, 1, "-u -b 20M");
            Assert.True(code == 0, $"iperf3 UDP failed ({code}): {o}\nserver: {server.Output}");
        }
        Assert.True(ReceiverMbits(o) > 1, $"UDP receiver rate:\n{o}");
        Assert.True(t.FlowPackets(t.B, "proto=17") > 100, t.DumpText());
    }

    private static double ReceiverMbits(string iperfOutput)
    {
        foreach (var line in iperfOutput.Split('\n'))
        {
            if (!line.Contains("receiver", StringComparison.Ordinal)) continue;
            var m = MbitsRegex().Match(line);
            if (m.Success) return double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        }
        return 0;
    }

    [GeneratedRegex(@"([0-9.]+) Mbits/sec")]
    private static partial Regex MbitsRegex();
}
