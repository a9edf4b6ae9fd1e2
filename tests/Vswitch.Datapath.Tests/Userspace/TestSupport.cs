using System.Buffers.Binary;
using Vswitch.Datapath.Odp;
using Vswitch.Datapath.Userspace;
using Vswitch.Netdev.Memory;
using Vswitch.Packets;

namespace Vswitch.Datapath.Tests.Userspace;

/// <summary>Hand-built frames with valid checksums.</summary>
internal static class TestFrames
{
    public static readonly MacAddress MacA = MacAddress.Parse("00:01:02:03:04:05");
    public static readonly MacAddress MacB = MacAddress.Parse("10:11:12:13:14:15");

    public static byte[] Eth(MacAddress dst, MacAddress src, ushort type, ushort? vlanTci = null)
    {
        var h = new byte[vlanTci is null ? 14 : 18];
        dst.CopyTo(h);
        src.CopyTo(h.AsSpan(6));
        if (vlanTci is { } tci)
        {
            BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(12), 0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(14), tci);
            BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(16), type);
        }
        else BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(12), type);
        return h;
    }

    public static byte[] Ipv4Header(byte proto, uint src, uint dst, int payload, byte ttl = 64, byte tos = 0, ushort frag = 0)
    {
        var h = new byte[20];
        h[0] = 0x45;
        h[1] = tos;
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(2), (ushort)(20 + payload));
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(4), 0x1234);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(6), frag);
        h[8] = ttl;
        h[9] = proto;
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(12), src);
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(16), dst);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(10), Checksum.Ipv4Header(h));
        return h;
    }

    public static byte[] Tcp4(uint src = 0x0A000001, uint dst = 0x0A000002, ushort sport = 1000, ushort dport = 80,
        ushort flags = 0x02, int payload = 10, ushort? vlan = null, MacAddress? dstMac = null, MacAddress? srcMac = null)
    {
        var tcp = new byte[20 + payload];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sport);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(4), 1);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(12), (ushort)(0x5000 | flags));
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(14), 8192);
        for (int i = 0; i < payload; i++) tcp[20 + i] = (byte)i;
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(16), Checksum.TransportIpv4(src, dst, 6, tcp));
        return [.. Eth(dstMac ?? MacB, srcMac ?? MacA, 0x0800, vlan), .. Ipv4Header(6, src, dst, tcp.Length), .. tcp];
    }

    public static byte[] Udp4(uint src = 0x0A000001, uint dst = 0x0A000002, ushort sport = 5000, ushort dport = 53, int payload = 18,
        ushort frag = 0, MacAddress? dstMac = null)
    {
        var udp = new byte[8 + payload];
        BinaryPrimitives.WriteUInt16BigEndian(udp, sport);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(4), (ushort)udp.Length);
        for (int i = 0; i < payload; i++) udp[8 + i] = (byte)(i * 3);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(6), Checksum.TransportIpv4(src, dst, 17, udp));
        return [.. Eth(dstMac ?? MacB, MacA, 0x0800), .. Ipv4Header(17, src, dst, udp.Length, frag: frag), .. udp];
    }

    /// <summary>The key the datapath computes for <paramref name="frame"/> arriving on <paramref name="inPort"/>.</summary>
    public static FlowKey KeyOf(byte[] frame, uint inPort)
    {
        FlowExtractor.Extract(frame, new PacketMetadata { InPort = inPort }, out var key, out _);
        return key;
    }

    public static bool TcpChecksumValid(ReadOnlySpan<byte> frame, int l3 = 14)
    {
        var ip = frame[l3..];
        if (!Checksum.IsIpv4HeaderValid(ip[..20])) return false;
        uint src = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]), dst = BinaryPrimitives.ReadUInt32BigEndian(ip[16..]);
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        var seg = ip[20..total].ToArray();
        byte proto = ip[9];
        int csumOff = proto == 6 ? 16 : 6;
        ushort stored = BinaryPrimitives.ReadUInt16BigEndian(seg.AsSpan(csumOff));
        BinaryPrimitives.WriteUInt16BigEndian(seg.AsSpan(csumOff), 0);
        return Checksum.TransportIpv4(src, dst, proto, seg) == stored;
    }
}

/// <summary>Mask construction helpers.</summary>
internal static class Masks
{
    /// <summary>Only in_port exact (the minimum the datapath accepts).</summary>
    public static FlowKey InPortOnly()
    {
        FlowKey m = default;
        m.InPort = uint.MaxValue;
        return m;
    }

    public static FlowKey InPortEthType()
    {
        var m = InPortOnly();
        m.EthType = 0xFFFF;
        return m;
    }

    public static FlowKey Ipv4Dst(uint prefixMask)
    {
        var m = InPortEthType();
        m.Ipv4Dst = prefixMask;
        return m;
    }

    public static FlowKey TcpDst()
    {
        var m = InPortEthType();
        m.NwProto = 0xFF;
        m.TpDst = 0xFFFF;
        return m;
    }
}

internal static class Actions
{
    public static OdpActionList Of(params OdpAction[] actions) => new(actions);
    public static OdpActionList Output(params uint[] ports) => new(ports.Select(p => (OdpAction)new OutputAction(p)));
}

/// <summary>
/// A userspace datapath with manual polling (no poll threads) and two standalone memory ports: port 1 (<see cref="P1"/>)
/// and port 2 (<see cref="P2"/>). Disposing destroys the datapath and frees the pool.
/// </summary>
internal sealed class ManualDatapath : IDisposable
{
    public readonly PacketPool Pool;
    public readonly MemoryNetdevProvider Memory = new();
    public readonly UserspaceDatapathProvider Provider;
    public readonly UserspaceDatapathHandle Dp;
    public readonly MemoryNetdev P1, P2;

    public ManualDatapath(UserspaceDatapathOptions? options = null, int poolSize = 2048, string? memOptions = null)
    {
        Pool = new PacketPool(poolSize);
        Provider = new UserspaceDatapathProvider(options ?? new UserspaceDatapathOptions { PollThreads = 0 });
        string name = "vsw" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(0, Provider.Open(name, true, out var h).Value);
        Dp = (UserspaceDatapathHandle)h!;
        P1 = Memory.OpenDevice(name + "a", Pool, memOptions);
        P2 = Memory.OpenDevice(name + "b", Pool, memOptions);
        Assert.Equal(0, Dp.PortAdd(P1, out var n1).Value);
        Assert.Equal(0, Dp.PortAdd(P2, out var n2).Value);
        Assert.Equal(1u, n1);
        Assert.Equal(2u, n2);
    }

    public DatapathStats Stats
    {
        get
        {
            Assert.Equal(0, Dp.GetStats(out var s).Value);
            return s;
        }
    }

    public void Put(in FlowKey key, in FlowKey mask, OdpActionList actions)
    {
        var rc = Dp.FlowPut(FlowPutFlags.Create, key, mask, actions, out _, out var error);
        Assert.True(rc.IsSuccess, $"flow put failed: {rc} {error}");
    }

    public List<byte[]> Drain(MemoryNetdev dev)
    {
        var list = new List<byte[]>();
        while (dev.TryTake(out var p))
        {
            list.Add(p.Data.ToArray());
            p.Release();
        }
        return list;
    }

    public void Dispose()
    {
        Dp.Destroy();
        Dp.Dispose();
        Pool.Dispose();
    }
}
