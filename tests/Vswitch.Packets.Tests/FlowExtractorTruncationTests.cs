using Vswitch.Packets;
using static Vswitch.Packets.Tests.Frames;

namespace Vswitch.Packets.Tests;

/// <summary>What is filled, and which status is returned, when a frame stops at each layer.</summary>
public class FlowExtractorTruncationTests
{
    private const uint A = 0x0A000001, B = 0xC0A80102;

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(6)]
    [InlineData(13)]
    public void ShorterThanEthernet_MetadataOnly(int length)
    {
        var frame = Cat(Eth(0x0800), Ipv4(17, A, B, 8), Udp(1, 2))[..length];
        Assert.Equal(ExtractStatus.TruncatedL2, Extract(frame, out var key, out var layout));
        AssertKey(MetadataKey(), key);
        Assert.Equal(-1, layout.L3Offset);
        Assert.Equal(-1, layout.L4Offset);
    }

    [Theory]
    [InlineData(14)]
    [InlineData(16)]
    [InlineData(17)]
    public void VlanTagCutShort_EthTypeIsTpid(int length)
    {
        var frame = Cat(Eth(0x8100), TagThen(5, 0x0800), Ipv4(17, A, B, 8), Udp(1, 2))[..length];
        Assert.Equal(ExtractStatus.TruncatedL2, Extract(frame, out var key, out var layout));
        AssertKey(L2Key(0x8100), key);
        Assert.Equal(-1, layout.L3Offset);
    }

    [Theory]
    [InlineData(18)]
    [InlineData(21)]
    public void InnerVlanTagCutShort_OuterTagKept(int length)
    {
        var frame = Cat(Eth(0x88a8), TagThen(5, 0x8100), TagThen(6, 0x0800), new byte[20])[..length];
        Assert.Equal(ExtractStatus.TruncatedL2, Extract(frame, out var key, out _));
        var e = L2Key(0x8100); e.Vlan0Tpid = 0x88a8; e.Vlan0Tci = 0x1005;
        AssertKey(e, key);
    }

    [Fact]
    public void VlanTagWithEthertypeButNoPayload_Ok()
    {
        var frame = Cat(Eth(0x8100), TagThen(5, 0x88cc));
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        var e = L2Key(0x88cc); e.Vlan0Tpid = 0x8100; e.Vlan0Tci = 0x1005;
        AssertKey(e, key);
        Assert.Equal(18, layout.L3Offset);
    }

    [Fact]
    public void Ipv4_EveryTruncationOfTheHeaderOrPayload_IsTruncatedL3_L2Only()
    {
        var udp = Udp(1, 2, 4);
        var full = Cat(Eth(0x0800), Ipv4(17, A, B, udp.Length, options: new byte[8]), udp);
        for (int length = 14; length < full.Length; length++)
        {
            Assert.Equal(ExtractStatus.TruncatedL3, Extract(full[..length], out var key, out var layout));
            AssertKey(L2Key(0x0800), key);
            Assert.Equal(-1, layout.L3Offset);
        }
        Assert.Equal(ExtractStatus.Ok, Extract(full, out _, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    public void Ipv4_IhlBelowFive_Malformed(int ihl)
    {
        var frame = Cat(Eth(0x0800), Ipv4(17, A, B, 8, ihlOverride: ihl), Udp(1, 2));
        Assert.Equal(ExtractStatus.MalformedL3, Extract(frame, out var key, out var layout));
        AssertKey(L2Key(0x0800), key);
        Assert.Equal(-1, layout.L3Offset);
    }

    [Fact]
    public void Ipv4_TotalLengthBelowHeaderLength_Malformed()
    {
        var frame = Cat(Eth(0x0800), Ipv4(17, A, B, 8, totalLengthOverride: 19), Udp(1, 2));
        Assert.Equal(ExtractStatus.MalformedL3, Extract(frame, out var key, out _));
        AssertKey(L2Key(0x0800), key);
    }

    [Fact]
    public void Ipv4_IhlBeyondFrame_Truncated()
    {
        var frame = Cat(Eth(0x0800), Ipv4(17, A, B, 0, ihlOverride: 15, totalLengthOverride: 20));
        Assert.Equal(ExtractStatus.TruncatedL3, Extract(frame, out _, out _));
    }

    [Fact]
    public void Ipv6_ShortHeaderOrPayload_TruncatedL3_L2Only()
    {
        var tcp = Tcp(1, 2, 2);
        var full = Cat(Eth(0x86dd), Ipv6(6, tcp.Length), tcp);
        for (int length = 14; length < full.Length; length++)
        {
            Assert.Equal(ExtractStatus.TruncatedL3, Extract(full[..length], out var key, out var layout));
            AssertKey(L2Key(0x86dd), key);
            Assert.Equal(-1, layout.L3Offset);
        }
    }

    public static TheoryData<byte, int, int> ShortTransport => new()
    {
        { 6, 19, 20 }, { 17, 7, 8 }, { 132, 11, 12 }, { 1, 7, 8 }, { 58, 7, 8 },
    };

    [Theory]
    [MemberData(nameof(ShortTransport))]
    public void Ipv4_TransportShorterThanFixedHeader_NetworkFieldsOnly(byte proto, int shortLength, int fullLength)
    {
        var l4 = Cat(Tcp(1, 2, 0x3F)[..Math.Min(20, shortLength)], new byte[Math.Max(0, shortLength - 20)]);
        var frame = Cat(Eth(0x0800), Ipv4(proto, A, B, l4.Length), l4);
        Assert.Equal(ExtractStatus.TruncatedL4, Extract(frame, out var key, out var layout));
        var e = L2Key(0x0800); e.Ipv4Src = A; e.Ipv4Dst = B; e.NwProto = proto; e.NwTtl = 64;
        AssertKey(e, key);
        Assert.Equal(14, layout.L3Offset);
        Assert.Equal(-1, layout.L4Offset);

        var complete = Cat(Tcp(1, 2, 0x3F)[..Math.Min(20, fullLength)]);
        frame = Cat(Eth(0x0800), Ipv4(proto, A, B, complete.Length), complete);
        Assert.NotEqual(ExtractStatus.TruncatedL4, Extract(frame, out _, out layout));
        Assert.Equal(34, layout.L4Offset);
    }

    [Theory]
    [MemberData(nameof(ShortTransport))]
    public void Ipv6_TransportShorterThanFixedHeader_NetworkFieldsOnly(byte proto, int shortLength, int fullLength)
    {
        _ = fullLength;
        var l4 = Cat(Tcp(1, 2, 0x3F)[..Math.Min(20, shortLength)]);
        var frame = Cat(Eth(0x86dd), Ipv6(proto, l4.Length), l4);
        Assert.Equal(ExtractStatus.TruncatedL4, Extract(frame, out var key, out var layout));
        var e = L2Key(0x86dd); e.Ipv6Src = V6(V6Src); e.Ipv6Dst = V6(V6Dst); e.NwProto = proto; e.NwTtl = 64;
        AssertKey(e, key);
        Assert.Equal(-1, layout.L4Offset);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(0)]
    [InlineData(6)] // 24 bytes announced, 20 present
    public void Tcp_BadDataOffset_KeyStillFilledButMalformed(int dataOffsetWords)
    {
        var tcp = Tcp(80, 81, 0x002, dataOffsetWords, totalHeaderBytes: 20);
        var frame = Cat(Eth(0x0800), Ipv4(6, A, B, tcp.Length), tcp);
        Assert.Equal(ExtractStatus.MalformedL4, Extract(frame, out var key, out var layout));
        var e = L2Key(0x0800); e.Ipv4Src = A; e.Ipv4Dst = B; e.NwProto = 6; e.NwTtl = 64;
        e.TpSrc = 80; e.TpDst = 81; e.TcpFlags = 2;
        AssertKey(e, key);
        Assert.Equal(34, layout.L4Offset);
    }

    [Fact]
    public void Tcp_WithOptions_Ok()
    {
        var tcp = Tcp(80, 81, 0x002, dataOffsetWords: 10);
        var frame = Cat(Eth(0x0800), Ipv4(6, A, B, tcp.Length), tcp);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out _));
        Assert.Equal(80, key.TpSrc);
    }
}
