using System.Net;
using System.Net.NetworkInformation;
using PacketDotNet;
using Vswitch.Datapath;
using Vswitch.Netdev.Memory;

namespace Vswitch.SystemTests;

/// <summary>The harness itself, on memory ports (no root needed): ports by type and options, OVS-text flows, dump with stats, port poll.</summary>
public sealed class DatapathHarnessTests
{
    private static readonly PhysicalAddress MacA = PhysicalAddress.Parse("02-00-00-00-00-0A");
    private static readonly PhysicalAddress MacB = PhysicalAddress.Parse("02-00-00-00-00-0B");

    private static byte[] ArpRequest()
    {
        var arp = new ArpPacket(ArpOperation.Request, PhysicalAddress.Parse("00-00-00-00-00-00"), IPAddress.Parse("10.0.0.2"), MacA, IPAddress.Parse("10.0.0.1"));
        return new EthernetPacket(MacA, PhysicalAddress.Parse("FF-FF-FF-FF-FF-FF"), EthernetType.Arp) { PayloadPacket = arp }.Bytes;
    }

    private static byte[] IcmpEcho(PhysicalAddress src, PhysicalAddress dst, string from, string to)
    {
        var icmp = new IcmpV4Packet(new PacketDotNet.Utils.ByteArraySegment(new byte[8 + 32])) { TypeCode = IcmpV4TypeCode.EchoRequest, Id = 7, Sequence = 1 };
        var ip = new IPv4Packet(IPAddress.Parse(from), IPAddress.Parse(to)) { PayloadPacket = icmp, TimeToLive = 64 };
        icmp.UpdateIcmpChecksum();
        ip.UpdateIPChecksum();
        return new EthernetPacket(src, dst, EthernetType.IPv4) { PayloadPacket = ip }.Bytes;
    }

    /// <summary>The next frame <paramref name="dev"/> transmitted, waiting for it; null if none came.</summary>
    private static PacketBufferTake Take(MemoryNetdev dev)
    {
        byte[]? frame = null;
        Wait.Until(() => (frame = TakeNow(dev)) is not null);
        return new PacketBufferTake(frame);
    }

    /// <summary>The frame <paramref name="dev"/> transmitted, if one is there now (no waiting: for negative checks after a control).</summary>
    private static byte[]? TakeNow(MemoryNetdev dev)
    {
        if (!dev.TryTake(out var p)) return null;
        var bytes = p.Data.ToArray();
        p.Release();
        return bytes;
    }

    /// <summary>Frames <paramref name="dev"/> transmitted before <paramref name="control"/>, waiting for the control to arrive.</summary>
    private static List<byte[]> TakeUntil(MemoryNetdev dev, byte[] control)
    {
        var before = new List<byte[]>();
        Wait.For(() =>
        {
            while (TakeNow(dev) is { } f)
            {
                if (f.AsSpan().SequenceEqual(control)) return true;
                before.Add(f);
            }
            return false;
        }, "the control frame");
        return before;
    }

    /// <summary>Frames processed by the datapath so far (hits and misses).</summary>
    private static ulong Processed(DatapathHarness h)
    {
        var s = h.Datapath.GetStats();
        return s.Hit + s.Missed;
    }

    private readonly record struct PacketBufferTake(byte[]? Frame);

    [Fact]
    public void AddsPortsByTypeAndOptionsAndForwardsByOvsTextFlows()
    {
        using var h = new DatapathHarness();
        uint p1 = h.AddPort("vswm1", "memory");
        uint p2 = h.AddPort("vswm2", "mem", "queues=1");
        Assert.NotEqual(p1, p2);
        Assert.NotEqual(0u, p1);
        Assert.Equal("vswm1", h.GetDevice(p1).Name);

        h.AddFlow($"in_port({p1}),eth(),eth_type(0x0806),arp()", $"{p2}");
        h.AddFlow($"in_port({p1}),eth(),eth_type(0x0800),ipv4(proto=1) {p2}");
        var a = (MemoryNetdev)h.GetDevice(p1);
        var b = (MemoryNetdev)h.GetDevice(p2);
        var arp = ArpRequest();
        var icmp = IcmpEcho(MacA, MacB, "10.0.0.1", "10.0.0.2");
        Assert.True(a.Inject(arp));
        Assert.Equal(arp, Take(b).Frame);
        for (int i = 0; i < 3; i++)
        {
            Assert.True(a.Inject(icmp));
            Assert.Equal(icmp, Take(b).Frame);
        }

        var lines = h.DumpFlows();
        Assert.Equal(2, lines.Count);
        var arpLine = Assert.Single(lines, l => l.Contains("eth_type(0x0806)", StringComparison.Ordinal));
        var icmpLine = Assert.Single(lines, l => l.Contains("proto=1", StringComparison.Ordinal));
        Assert.Contains($"in_port({p1})", arpLine, StringComparison.Ordinal);
        Assert.Contains($"packets:1, bytes:{arp.Length}, used:", arpLine, StringComparison.Ordinal);
        Assert.EndsWith($"actions:{p2}", arpLine, StringComparison.Ordinal);
        Assert.Contains($"packets:3, bytes:{3 * icmp.Length}, used:", icmpLine, StringComparison.Ordinal);
        var parsed = h.DumpFlowsParsed();
        Assert.Equal(4L, parsed.Sum(f => (long)f.Stats.Packets));
        Assert.All(parsed, f => Assert.NotNull(f.Stats.UsedAgo));

        // A packet no flow matches is not forwarded: once the datapath has looked it up (and missed), nothing is out.
        ulong processed = Processed(h);
        Assert.True(b.Inject(icmp));
        Wait.For(() => Processed(h) > processed, "the datapath to process the unmatched packet");
        Assert.Null(TakeNow(a));

        // del-flow by text returns the final stats; the flow stops forwarding.
        var final = h.DeleteFlow($"in_port({p1}),eth(),eth_type(0x0800),ipv4(proto=1)");
        Assert.Equal(3UL, final.Packets);
        Assert.Single(h.DumpFlows());
        Assert.True(a.Inject(icmp));
        // Control: an ARP after it on the same port still has its flow; the ICMP must not have come out before it.
        Assert.True(a.Inject(arp));
        Assert.Empty(TakeUntil(b, arp));
        Assert.Throws<DatapathException>(() => h.DeleteFlow($"in_port({p1}),eth(),eth_type(0x0800),ipv4(proto=1)"));
    }

    [Fact]
    public void BadInputIsAClearErrorAndNothingIsLeftBehind()
    {
        using var h = new DatapathHarness();
        var e = Assert.Throws<InvalidOperationException>(() => h.AddPort("vswx", "nosuchtype"));
        Assert.Contains("nosuchtype", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<InvalidOperationException>(() => h.AddPort("vswx", "memory", "bogus=1"));
        Assert.Contains("bogus", e.Message, StringComparison.Ordinal);
        Assert.Single(h.Datapath.GetPorts()); // only the LOCAL port

        uint p1 = h.AddPort("vswm1", "memory");
        var f = Assert.Throws<FormatException>(() => h.AddFlow("in_port(1),eth_type(0x0800),ipv4(srcc=1.2.3.4)", "2"));
        Assert.Contains("srcc", f.Message, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => h.AddFlow($"in_port({p1}),eth(),eth_type(0x0806),arp()", "output("));
        Assert.Empty(h.DumpFlows());
        h.AddFlow($"in_port({p1}),eth(),eth_type(0x0806),arp()", "drop");
        Assert.Throws<DatapathException>(() => h.AddFlow($"in_port({p1}),eth(),eth_type(0x0806),arp()", "drop"));
        Assert.Single(h.DumpFlows());
        Assert.Contains("used:never", h.DumpFlows()[0], StringComparison.Ordinal);
    }

    [Fact]
    public void PortChangesAreReportedAndDisposeRemovesEverything()
    {
        MemoryNetdev a;
        string name;
        using (var h = new DatapathHarness())
        {
            name = h.Datapath.Name;
            uint p1 = h.AddPort("vswm1", "memory");
            a = (MemoryNetdev)h.GetDevice(p1);
            h.DrainPortChanges();
            // Nothing pending now; the next change reported must be the next add (the control), not a late one.
            Assert.False(h.TryPollPortChange(0, out _));
            h.AddPort("vswm2", "memory");
            Assert.True(h.TryPollPortChange((int)Wait.Generous.TotalMilliseconds, out var changed));
            Assert.Equal("vswm2", changed);
            h.DeletePort(p1);
            Assert.True(a.IsDisposed);
            Assert.True(h.TryPollPortChange((int)Wait.Generous.TotalMilliseconds, out changed));
            Assert.Equal("vswm1", changed);
            a = (MemoryNetdev)h.GetDevice(h.Datapath.FindPort("vswm2")!.PortNo);
        }
        Assert.True(a.IsDisposed);
        // The datapath is gone: a new harness may take the same name.
        using var again = new DatapathHarness(name);
        Assert.Single(again.Datapath.GetPorts());
    }
}
