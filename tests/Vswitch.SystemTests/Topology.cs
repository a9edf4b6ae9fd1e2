using System.Diagnostics;
using Vswitch.Datapath;
using Vswitch.Datapath.Userspace;
using Vswitch.Netdev.Tests.SystemTests;

namespace Vswitch.SystemTests;

/// <summary>Which netdev type joins a namespace to the datapath.</summary>
public enum PortKind
{
    /// <summary>A tap created by the tap provider and moved into the namespace.</summary>
    Tap,
    /// <summary>A veth pair: the host end is an afpacket port, the other end lives in the namespace.</summary>
    AfPacket,
}

/// <summary>One namespace attached to the datapath: its interface and address.</summary>
internal sealed class Host
{
    public required NetNamespace Ns { get; init; }
    /// <summary>The interface inside the namespace (tap name, or the veth's namespace end).</summary>
    public required string Iface { get; init; }
    /// <summary>The veth's host end (afpacket only).</summary>
    public string? HostEnd { get; init; }
    public required string Address { get; init; }
    public required uint PortNo { get; init; }
    public required string PortName { get; init; }
}

/// <summary>
/// Two namespaces (<c>vswn…</c>) joined through one userspace datapath by two ports of one kind, with IPv6
/// off (no stray traffic), addresses NET.1/24 and NET.2/24. Everything is removed on dispose, even after failures.
/// </summary>
internal sealed class TwoHosts : IDisposable
{
    private readonly List<Action> _cleanup = [];

    /// <param name="kind">Port type of both hosts.</param>
    /// <param name="mtu">MTU of the interfaces and ports.</param>
    /// <param name="queues">Queue pairs per port (tap <c>queues=</c>; veths get as many kernel queues).</param>
    /// <param name="pollThreads">Datapath poll threads.</param>
    /// <param name="segmentationOffload">Leave TSO/GSO on the namespaces' veths (afpacket; default off as docs/ports/afpacket.md requires).</param>
    /// <param name="csum">The afpacket <c>csum=</c> option (<c>fill</c>, the default, or <c>none</c>).</param>
    /// <param name="extraPortOptions">More port options (afpacket), e.g. <c>,rx_ring=true</c>.</param>
    /// <param name="txChecksumOffload">Leave tx checksum offload on the namespaces' veths (afpacket); off is the documented alternative to <c>csum=fill</c>.</param>
    public TwoHosts(PortKind kind, int mtu = 1500, int queues = 1, int pollThreads = 1, bool segmentationOffload = false,
        string csum = "fill", bool txChecksumOffload = true, string extraPortOptions = "")
    {
        Kind = kind;
        Net = TestSubnet.Next();
        try
        {
            Dp = new DatapathHarness(options: new UserspaceDatapathOptions { PollThreads = pollThreads });
            _cleanup.Add(Dp.Dispose);
            A = Attach(kind, "pa", $"{Net}.1", mtu, queues, segmentationOffload, csum + extraPortOptions, txChecksumOffload);
            B = Attach(kind, "pb", $"{Net}.2", mtu, queues, segmentationOffload, csum + extraPortOptions, txChecksumOffload);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public PortKind Kind { get; }
    public string Net { get; }
    public DatapathHarness Dp { get; } = null!;
    public Host A { get; } = null!;
    public Host B { get; } = null!;

    private Host Attach(PortKind kind, string portName, string address, int mtu, int queues, bool segmentationOffload, string csum, bool txChecksumOffload)
    {
        var ns = new NetNamespace();
        _cleanup.Add(ns.Dispose);
        // No IPv6: router/neighbour solicitations would be extra packets in the flow counts.
        ns.TryExec("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
        string iface;
        string? hostEnd = null;
        uint port;
        if (kind == PortKind.Tap)
        {
            iface = Ip.UniqueName("t");
            port = Dp.AddPort(portName, "tap", $"iface={iface},mtu={mtu},queues={queues}");
            TestObjects.MarkLink(iface);
            Ip.Run($"link set {iface} netns {ns.Name}");
        }
        else
        {
            hostEnd = Ip.UniqueName("y");
            iface = Ip.UniqueName("i");
            string q = queues > 1 ? $" numtxqueues {queues} numrxqueues {queues}" : "";
            Ip.AddVeth(hostEnd, iface, $"mtu {mtu}{q}", $"mtu {mtu}{q} netns {ns.Name}");
            string h = hostEnd;
            _cleanup.Add(() => Ip.TryRun($"link del {h}"));
            try { File.WriteAllText($"/proc/sys/net/ipv6/conf/{hostEnd}/disable_ipv6", "1"); } catch (IOException) { }
            Ip.Run($"link set {hostEnd} up");
            if (!segmentationOffload)
            {
                // docs/ports/afpacket.md: no TSO/GSO through AF_PACKET (a 64 KiB super-frame exceeds a packet buffer).
                // Checksum offload stays on: the provider's csum=fill completes partial checksums.
                ns.Exec($"ethtool -K {iface} tso off gso off");
            }
            if (!txChecksumOffload) ns.Exec($"ethtool -K {iface} tx off");
            port = Dp.AddPort(portName, "afpacket", $"iface={hostEnd},csum={csum}");
        }
        ns.Exec($"ip link set dev {iface} mtu {mtu} up && ip addr add {address}/24 dev {iface}");
        return new Host { Ns = ns, Iface = iface, HostEnd = hostEnd, Address = address, PortNo = port, PortName = portName };
    }

    /// <summary>
    /// A veth pair with both ends in this namespace (a "trunk" wire), both ends added as afpacket ports; returns the
    /// port numbers and interface names. Removed on dispose.
    /// </summary>
    public (uint Port1, string If1, uint Port2, string If2) AddTrunk()
    {
        string if1 = Ip.UniqueName("y"), if2 = Ip.UniqueName("y");
        Ip.AddVeth(if1, if2);
        _cleanup.Add(() => Ip.TryRun($"link del {if1}"));
        foreach (var i in new[] { if1, if2 })
        {
            try { File.WriteAllText($"/proc/sys/net/ipv6/conf/{i}/disable_ipv6", "1"); } catch (IOException) { }
            Ip.Run($"link set {i} up");
        }
        uint p1 = Dp.AddPort("tr1", "afpacket", $"iface={if1}");
        uint p2 = Dp.AddPort("tr2", "afpacket", $"iface={if2}");
        return (p1, if1, p2, if2);
    }

    /// <summary>ARP both ways and IPv4 (split by protocol so ICMP counts are exact) both ways.</summary>
    public void AddL3Flows(params int[] protocols)
    {
        foreach (var (from, to) in new[] { (A, B), (B, A) })
        {
            Dp.AddFlow($"in_port({from.PortNo}),eth(),eth_type(0x0806),arp()", $"{to.PortNo}");
            foreach (int proto in protocols)
                Dp.AddFlow($"in_port({from.PortNo}),eth(),eth_type(0x0800),ipv4(proto={proto},frag=no)", $"{to.PortNo}");
        }
    }

    /// <summary>The dumped flows' packet count for the flow from <paramref name="from"/> whose text contains <paramref name="match"/>.</summary>
    public ulong FlowPackets(Host from, string match) => FlowPackets(from.PortNo, match);

    /// <summary>As <see cref="FlowPackets(Host, string)"/> for the flow from port <paramref name="inPort"/>.</summary>
    public ulong FlowPackets(uint inPort, string match)
    {
        var lines = Dp.DumpFlows();
        var line = lines.SingleOrDefault(l => l.Contains($"in_port({inPort})", StringComparison.Ordinal) && l.Contains(match, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"no flow from port {inPort} with '{match}' in:\n{string.Join('\n', lines)}");
        return Vswitch.Datapath.Odp.OdpFlowLine.ParseDump(line).Stats.Packets;
    }

    public string DumpText()
    {
        var sb = new System.Text.StringBuilder(string.Join('\n', Dp.DumpFlows()));
        foreach (var h in new[] { A, B })
        {
            var st = Dp.GetDevice(h.PortNo).GetStats();
            sb.Append($"\nport {h.PortNo} ({h.PortName}): rx {st.RxPackets} (dropped {st.RxDropped}, errors {st.RxErrors}, nobuf {st.RxNoBuffer}, truncated {st.RxTruncated}), tx {st.TxPackets} (dropped {st.TxDropped}, errors {st.TxErrors}, mtu {st.TxMtuDropped})");
        }
        var ds = Dp.Datapath.GetStats();
        sb.Append($"\ndatapath: hit {ds.Hit} missed {ds.Missed} lost {ds.Lost} malformed {ds.Malformed} action drops {ds.ActionDrops}; pool available {Dp.Pool.Available}/{Dp.Pool.Capacity}, exhausted {Dp.Pool.ExhaustedCount}");
        return sb.ToString();
    }

    /// <summary>Pings <paramref name="to"/> from <paramref name="from"/>; returns (exit code, output). Bounded by -w and a process timeout.</summary>
    public static (int Code, string Out) Ping(Host from, Host to, int count = 3, string extra = "")
    {
        var (code, o, e) = from.Ns.TryExec($"ping -n -c {count} -i 0.2 -W 2 -w {5 + count} {extra} {to.Address}", (8 + count) * 1000);
        return (code, o + e);
    }

    public void Dispose()
    {
        // The datapath first (its ports close their sockets and taps), then links and namespaces, newest first.
        (Dp as IDisposable)?.Dispose();
        for (int i = _cleanup.Count - 1; i >= 0; i--)
        {
            try { _cleanup[i](); } catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException) { }
        }
        _cleanup.Clear();
    }
}

/// <summary>A background process inside a namespace (iperf3 server, tcpdump) with a bounded lifetime; killed by PID on dispose.</summary>
internal sealed class NsProcess : IDisposable
{
    private readonly Process _process;
    private readonly System.Text.StringBuilder _output = new();

    /// <summary>Starts <paramref name="command"/> in <paramref name="ns"/> (null: this namespace), killed after <paramref name="lifetimeSeconds"/>.</summary>
    public NsProcess(NetNamespace? ns, string command, int lifetimeSeconds)
    {
        var psi = ns is null
            ? new ProcessStartInfo("timeout", $"-s KILL {lifetimeSeconds} {command}")
            : new ProcessStartInfo("ip", $"netns exec {ns.Name} timeout -s KILL {lifetimeSeconds} {command}");
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Output { get { lock (_output) return _output.ToString(); } }

    public bool WaitForExit(int timeoutMs) => _process.WaitForExit(timeoutMs);

    public bool HasExited => _process.HasExited;

    /// <summary>
    /// Stops it with SIGINT (tcpdump flushes its file; <c>timeout</c> passes the signal on), then waits. A capture is
    /// interrupted only once it holds what the test waits for (<c>FeatureTests.WaitCaptured</c>).
    /// </summary>
    public void Interrupt()
    {
        if (_process.HasExited) return;
        Ip.Exec("kill", $"-INT {_process.Id}", 2000);
        _process.WaitForExit(3000);
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(3000);
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
    }
}

/// <summary>iperf3 server (one client, bounded lifetime) and client runs.</summary>
internal static class Iperf
{
    public static NsProcess StartServer(Host server, int lifetimeSeconds = 25)
    {
        var p = new NsProcess(server.Ns, "iperf3 -s -1 -p 5201 --rcv-timeout 5000 --forceflush", lifetimeSeconds);
        Wait.For(() => p.HasExited || server.Ns.TryExec("ss -ltn | grep -q ':5201 '").Code == 0, () => $"iperf3 -s to listen on port 5201: {p.Output}");
        return p;
    }

    /// <summary>Runs a client for <paramref name="seconds"/>; returns (exit code, output).</summary>
    public static (int Code, string Out) Client(Host client, Host server, int seconds, string extra = "")
    {
        var (code, o, e) = client.Ns.TryExec(
            $"timeout -k 3 {seconds + 10} iperf3 -c {server.Address} -p 5201 -t {seconds} --connect-timeout 3000 --forceflush -f m {extra}", (seconds + 15) * 1000);
        return (code, o + e);
    }
}
