using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Xunit.Abstractions;
using Vswitch.Netdev.Tests.SystemTests;

namespace Vswitch.Daemon.Tests;

/// <summary>
/// Hostile traffic against a running `vswitch run` (issue 15), with tools nobody here wrote: a trafgen MAC flood on one port
/// while two other ports ping each other, and scapy-built priority-plus-inner-tag frames watched by tcpdump.
/// </summary>
public partial class HostileTrafficTests(ITestOutputHelper output)
{
    /// <summary>A process in a namespace whose output is collected; killed (with its children) on dispose.</summary>
    private sealed class NsTool : IDisposable
    {
        private readonly Process _p;
        private readonly StringBuilder _out = new();

        public NsTool(string ns, params string[] command)
        {
            var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in (string[])["netns", "exec", ns, .. command]) psi.ArgumentList.Add(a);
            _p = Process.Start(psi)!;
            TestObjects.RecordProcess(_p);   // the sweep ends it if this test process dies first
            _p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_out) _out.AppendLine(e.Data); };
            _p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_out) _out.AppendLine(e.Data); };
            _p.BeginOutputReadLine();
            _p.BeginErrorReadLine();
        }

        public string Output { get { lock (_out) return _out.ToString(); } }
        public bool HasExited => _p.HasExited;

        public void WaitForOutput(string text, TimeSpan timeout)
        {
            Wait.For(() => Output.Contains(text, StringComparison.Ordinal) || _p.HasExited, $"'{text}' from {_p.StartInfo.ArgumentList.Last()}", timeout);
            Assert.True(Output.Contains(text, StringComparison.Ordinal), $"exited without '{text}':\n{Output}");
        }

        public void Stop()
        {
            if (_p.HasExited) return;
            try { _p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            _p.WaitForExit(10_000);
        }

        public void Dispose()
        {
            Stop();
            _p.Dispose();
        }
    }

    private static Dictionary<string, (long Upcalls, long Lost)> PortUpcalls(SwitchProcess sw, string br)
    {
        var text = sw.Ctl("appctl", "bridge/counters", br).Output;
        var result = new Dictionary<string, (long, long)>();
        foreach (Match m in PortCounterLine().Matches(text))
            result[m.Groups[1].Value] = (long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), long.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture));
        return result;
    }

    [GeneratedRegex(@"port \d+ \((\S+)\): upcalls:(\d+) upcalls_lost:(\d+)")]
    private static partial Regex PortCounterLine();

    [RootFact]
    public void AMacFloodOnOnePortCostsTheOthersNoPing()
    {
        Assert.True(File.Exists("/usr/sbin/trafgen") || Sh.Run("which", "trafgen").Exit == 0, "trafgen (netsniff-ng) is required (.ci/run installs it)");
        var dll = ControlSocketTests.RequireVswitchDll();
        using var dir = new TempDir();
        using var topo = new Topology();
        using var sw = new SwitchProcess(dll, dir.Path);
        sw.Start();
        var br = topo.Bridge;
        Assert.Equal(0, sw.Ctl("ctl", "add-br", br).Exit);
        var flooder = topo.AddHost("f", "10.231.11.9/24");
        var hostB = topo.AddHost("b", "10.231.11.2/24");
        var hostC = topo.AddHost("c", "10.231.11.3/24");
        foreach (var h in new[] { flooder, hostB, hostC }) Assert.Equal(0, sw.Ctl("ctl", "add-port", br, h).Exit);
        Assert.True(topo.Ping("b", "10.231.11.3"), "b -> c before the flood");

        // Random locally administered source MACs to an unknown unicast address: every frame is a new flow (a miss).
        var conf = Path.Combine(dir.Path, "flood.cfg");
        File.WriteAllText(conf, "{ 0x02, 0x00, 0x00, 0x00, 0x00, 0x99, 0x02, drnd(5), c16(0x88b5), fill(0x41, 46) }\n");
        using var flood = new NsTool(topo.Ns("f"), "trafgen", "-o", "eth0", "-i", conf, "--cpus", "1", "-t", "10us", "-q");
        Wait.For(() => PortUpcalls(sw, br).GetValueOrDefault(flooder).Upcalls > 5000 || flood.HasExited, "the flood to reach the switch", TimeSpan.FromSeconds(30));
        Assert.False(flood.HasExited, "trafgen stopped: " + flood.Output);

        // New flows between b and c while the storm lasts: the flood keeps evicting their MACs, so their flows are
        // revalidated away and re-learned through upcalls again and again.
        var ping = Sh.Run("ip", "netns", "exec", topo.Ns("b"), "ping", "-c", "40", "-i", "0.2", "-W", "3", "10.231.11.3");
        var during = PortUpcalls(sw, br);
        flood.Stop();

        var counters = sw.Ctl("appctl", "bridge/counters", br).Output;
        output.WriteLine(ping.Output);
        output.WriteLine(counters);
        output.WriteLine(sw.Ctl("dpctl", "show", br).Output);
        var m = Regex.Match(ping.Output, @"(\d+) packets transmitted, (\d+) received");
        Assert.True(m.Success, ping.Output);
        Assert.True(m.Groups[1].Value == m.Groups[2].Value, $"pings lost during the flood:\n{ping.Output}\n{counters}");
        Assert.True(during[flooder].Upcalls > 10_000, $"the flood was too weak to test anything:\n{counters}");
        Assert.True(during[flooder].Lost > 0, $"the flood never overflowed the upcall queue, so fairness was not exercised:\n{counters}");
        Assert.Equal(0, during[hostB].Lost);
        Assert.Equal(0, during[hostC].Lost);
        Assert.True(sw.Ctl("appctl", "version").Exit == 0, "the switch died");
    }

    /// <summary>Frames of a pcap file (libpcap format, as tcpdump -w writes it).</summary>
    private static List<byte[]> ReadPcap(string path)
    {
        var frames = new List<byte[]>();
        var b = File.ReadAllBytes(path);
        int o = 24;
        while (o + 16 <= b.Length)
        {
            int len = BitConverter.ToInt32(b, o + 8);
            if (o + 16 + len > b.Length) break;
            frames.Add(b[(o + 16)..(o + 16 + len)]);
            o += 16 + len;
        }
        return frames;
    }

    private static bool Carries(byte[] frame, string marker) => frame.AsSpan().IndexOf(Encoding.ASCII.GetBytes(marker)) >= 0;

    [RootFact]
    public void APriorityTagPlusInnerTagFromAnAccessPortReachesNoOtherVlanAndNoTrunk()
    {
        Assert.True(Sh.Run("/usr/bin/python3", "-c", "import scapy.all").Exit == 0, "python3-scapy is required (.ci/run installs it)");
        var dll = ControlSocketTests.RequireVswitchDll();
        using var dir = new TempDir();
        using var topo = new Topology();
        using var sw = new SwitchProcess(dll, dir.Path);
        sw.Start();
        var br = topo.Bridge;
        Assert.Equal(0, sw.Ctl("ctl", "add-br", br).Exit);
        Assert.Equal(0, sw.Ctl("ctl", "add-port", br, topo.AddHost("a", "10.231.12.1/24"), "tag=10").Exit);
        Assert.Equal(0, sw.Ctl("ctl", "add-port", br, topo.AddHost("b", "10.231.12.2/24"), "tag=20").Exit);
        Assert.Equal(0, sw.Ctl("ctl", "add-port", br, topo.AddHost("n", "10.231.12.3/24"), "tag=10", "trunks=20").Exit);  // native-untagged 10
        Assert.Equal(0, sw.Ctl("ctl", "add-port", br, topo.AddHost("t", "10.231.12.9/24"), "trunks=10,20").Exit);

        var captures = new Dictionary<string, (NsTool Tool, string File)>();
        try
        {
            foreach (var tag in new[] { "b", "n", "t" })
            {
                var file = Path.Combine(dir.Path, $"{tag}.pcap");
                captures[tag] = (new NsTool(topo.Ns(tag), "tcpdump", "-U", "-n", "-i", "eth0", "-w", file), file);
            }
            foreach (var (tool, _) in captures.Values) tool.WaitForOutput("listening on", TimeSpan.FromSeconds(20));

            // From the access port: the hop attempts (802.1Q and 802.1ad priority tags, inner VID 20), then a control.
            const string Send = """
                import sys
                from scapy.all import Ether, Dot1Q, Dot1AD, IP, UDP, Raw, sendp
                bcast = "ff:ff:ff:ff:ff:ff"
                hop = lambda outer, m: Ether(dst=bcast, src="02:00:00:00:0a:01") / outer / Dot1Q(vlan=20) / IP(dst="10.231.12.255") / UDP(dport=9999) / Raw(m)
                sendp([hop(Dot1Q(vlan=0, prio=3), b"HOPQ"), hop(Dot1AD(vlan=0, prio=3), b"HOPAD")], iface="eth0", verbose=False)
                sendp(Ether(dst=bcast, src="02:00:00:00:0a:01") / IP(dst="10.231.12.255") / UDP(dport=9999) / Raw(b"CTRL10"), iface="eth0", verbose=False)
                """;
            var r = Sh.Run("ip", "netns", "exec", topo.Ns("a"), "/usr/bin/python3", "-c", Send);
            Assert.True(r.Exit == 0, r.Output);
            // A control for VLAN 20 from the trunk, so b's capture window is defined by traffic too.
            const string Send20 = """
                from scapy.all import Ether, Dot1Q, IP, UDP, Raw, sendp
                sendp(Ether(dst="ff:ff:ff:ff:ff:ff", src="02:00:00:00:0a:09") / Dot1Q(vlan=20) / IP(dst="10.231.12.255") / UDP(dport=9999) / Raw(b"CTRL20"), iface="eth0", verbose=False)
                """;
            r = Sh.Run("ip", "netns", "exec", topo.Ns("t"), "/usr/bin/python3", "-c", Send20);
            Assert.True(r.Exit == 0, r.Output);

            Wait.For(() => ReadPcap(captures["t"].File).Exists(f => Carries(f, "CTRL10"))
                && ReadPcap(captures["n"].File).Exists(f => Carries(f, "CTRL10"))
                && ReadPcap(captures["b"].File).Exists(f => Carries(f, "CTRL20")), "the control frames", TimeSpan.FromSeconds(20));
            foreach (var (tool, _) in captures.Values) tool.Stop();

            foreach (var (tag, (_, file)) in captures)
            {
                var frames = ReadPcap(file);
                Assert.DoesNotContain(frames, f => Carries(f, "HOP"));
            }
            var trace = sw.Ctl("appctl", "ofproto/trace", br,
                $"in_port({topo.HostEnd("a")}),eth(src=02:00:00:00:0a:01,dst=ff:ff:ff:ff:ff:ff),eth_type(0x8100),vlan(vid=0,pcp=3),encap(eth_type(0x8100),vlan(vid=20),encap(eth_type(0x0800),ipv4(src=10.231.12.1,dst=10.231.12.255,proto=17,tos=0,ttl=64,frag=no),udp(src=9999,dst=9999)))").Output;
            Assert.Contains("carries a second VLAN tag (VID 20", trace);
        }
        finally
        {
            foreach (var (tool, _) in captures.Values) tool.Dispose();
        }
    }
}
