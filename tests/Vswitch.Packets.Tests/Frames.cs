using System.Buffers.Binary;
using System.Reflection;
using Vswitch.Packets;

namespace Vswitch.Packets.Tests;

/// <summary>Hand-built frames (byte arrays) and key assertions.</summary>
internal static class Frames
{
    public static readonly byte[] Dst = [0x10, 0x11, 0x12, 0x13, 0x14, 0x15];
    public static readonly byte[] Src = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05];
    public static readonly MacAddress DstMac = new(Dst);
    public static readonly MacAddress SrcMac = new(Src);

    public static readonly PacketMetadata Metadata = new()
    {
        InPort = 7, RecircId = 0x1234, DpHash = 0xCAFEBABE, SkbPriority = 3, SkbMark = 0x55,
    };

    public static readonly byte[] V6Src = Convert.FromHexString("20010db8000000000000000000000001");
    public static readonly byte[] V6Dst = Convert.FromHexString("fe800000000000000202b3fffe1e8329");

    public static byte[] Cat(params byte[][] parts)
    {
        var result = new byte[parts.Sum(p => p.Length)];
        int o = 0;
        foreach (var p in parts) { p.CopyTo(result, o); o += p.Length; }
        return result;
    }

    public static byte[] Be16(int v) => [(byte)(v >> 8), (byte)v];
    public static byte[] Be32(uint v) => [(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v];

    /// <summary>Ethernet header: dst, src, then the given ethertype/TPID word.</summary>
    public static byte[] Eth(int type) => Cat(Dst, Src, Be16(type));

    /// <summary>A VLAN tag's TCI and the following type word (the TPID is the previous type word).</summary>
    public static byte[] TagThen(int tci, int nextType) => Cat(Be16(tci), Be16(nextType));

    public static byte[] Ipv4(byte proto, uint src, uint dst, int payloadLength, byte tos = 0, byte ttl = 64,
                              int fragField = 0, byte[]? options = null, int? ihlOverride = null, int? totalLengthOverride = null)
    {
        options ??= [];
        int hl = 20 + options.Length;
        var h = new byte[hl];
        h[0] = (byte)(0x40 | (ihlOverride ?? hl / 4));
        h[1] = tos;
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(2), (ushort)(totalLengthOverride ?? hl + payloadLength));
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(4), 0x1c46);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(6), (ushort)fragField);
        h[8] = ttl;
        h[9] = proto;
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(12), src);
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(16), dst);
        options.CopyTo(h, 20);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(10), Checksum.Ipv4Header(h));
        return h;
    }

    public static byte[] Ipv6(byte next, int payloadLength, byte tclass = 0, uint label = 0, byte hopLimit = 64,
                              byte[]? src = null, byte[]? dst = null)
    {
        var h = new byte[40];
        BinaryPrimitives.WriteUInt32BigEndian(h, 0x6000_0000u | ((uint)tclass << 20) | (label & 0xFFFFF));
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(4), (ushort)payloadLength);
        h[6] = next;
        h[7] = hopLimit;
        (src ?? V6Src).CopyTo(h, 8);
        (dst ?? V6Dst).CopyTo(h, 24);
        return h;
    }

    /// <summary>A generic IPv6 extension header (hop-by-hop, routing, destination options) of 8×(lenUnits+1) bytes.</summary>
    public static byte[] Ext(byte next, int lenUnits = 0)
    {
        var h = new byte[(lenUnits + 1) * 8];
        h[0] = next;
        h[1] = (byte)lenUnits;
        for (int i = 2; i < h.Length; i++) h[i] = 0x01; // PadN-ish filler
        return h;
    }

    /// <summary>An AH header: (payloadLenField + 2) × 4 bytes.</summary>
    public static byte[] Ah(byte next, int payloadLenField = 4)
    {
        var h = new byte[(payloadLenField + 2) * 4];
        h[0] = next;
        h[1] = (byte)payloadLenField;
        h[4] = 0xAA; // SPI
        return h;
    }

    /// <summary>An IPv6 fragment header: offset in 8-byte units, M flag.</summary>
    public static byte[] Frag(byte next, int offsetUnits, bool more) =>
        Cat([next, 0], Be16((offsetUnits << 3) | (more ? 1 : 0)), Be32(0xdeadbeef));

    public static byte[] Tcp(ushort sp, ushort dp, int flags, int dataOffsetWords = 5, int totalHeaderBytes = -1)
    {
        var h = new byte[totalHeaderBytes < 0 ? Math.Max(20, dataOffsetWords * 4) : totalHeaderBytes];
        BinaryPrimitives.WriteUInt16BigEndian(h, sp);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(2), dp);
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(4), 1000);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(12), (ushort)((dataOffsetWords << 12) | (flags & 0xFFF)));
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(14), 8192);
        return h;
    }

    public static byte[] Udp(ushort sp, ushort dp, int payloadLength = 0) =>
        Cat(Be16(sp), Be16(dp), Be16(8 + payloadLength), Be16(0), new byte[payloadLength]);

    public static byte[] Sctp(ushort sp, ushort dp) => Cat(Be16(sp), Be16(dp), Be32(0x01020304), Be32(0));

    public static byte[] Icmp(byte type, byte code) => [type, code, 0, 0, 0, 1, 0, 1];

    public static byte[] Arp(int op, byte[] sha, uint spa, byte[] tha, uint tpa, int htype = 1, int ptype = 0x0800, byte hlen = 6, byte plen = 4) =>
        Cat(Be16(htype), Be16(ptype), [hlen, plen], Be16(op), sha, Be32(spa), tha, Be32(tpa));

    /// <summary>An ND NS (135) or NA (136) body: 8-byte ICMPv6 header, target, then options.</summary>
    public static byte[] Nd(byte type, byte[] target, params byte[][] options) =>
        Cat([type, 0, 0, 0, type == 136 ? (byte)0x60 : (byte)0, 0, 0, 0], target, Cat(options));

    public static byte[] LinkAddrOption(byte optType, byte[] mac) => Cat([optType, 1], mac);

    /// <summary>The key the extractor should produce before any header field: the metadata only.</summary>
    public static FlowKey MetadataKey()
    {
        return new FlowKey
        {
            InPort = Metadata.InPort, RecircId = Metadata.RecircId, DpHash = Metadata.DpHash,
            SkbPriority = Metadata.SkbPriority, SkbMark = Metadata.SkbMark,
        };
    }

    /// <summary>Metadata plus untagged Ethernet addresses and the given ethertype.</summary>
    public static FlowKey L2Key(ushort ethType)
    {
        var k = MetadataKey();
        k.EthSrc = SrcMac;
        k.EthDst = DstMac;
        k.EthType = ethType;
        return k;
    }

    public static Ipv6Address V6(byte[] b) => new(b);

    public static ExtractStatus Extract(byte[] frame, out FlowKey key, out PacketLayout layout) =>
        FlowExtractor.Extract(frame, in Metadata, out key, out layout);

    /// <summary>Compares every field of two keys, naming the fields that differ.</summary>
    public static void AssertKey(FlowKey expected, FlowKey actual)
    {
        var diffs = new List<string>();
        foreach (var f in typeof(FlowKey).GetFields(BindingFlags.Public | BindingFlags.Instance))
        {
            object? e = f.GetValue(expected), a = f.GetValue(actual);
            if (!Equals(e, a)) diffs.Add($"{f.Name}: expected {Format(e)}, actual {Format(a)}");
        }
        Assert.True(diffs.Count == 0, string.Join("\n", diffs));
        Assert.Equal(expected, actual); // also the reserved bytes
    }

    private static string Format(object? v) => v switch
    {
        uint u => $"0x{u:x}",
        ushort s => $"0x{s:x}",
        byte b => $"0x{b:x}",
        _ => v?.ToString() ?? "null",
    };
}
