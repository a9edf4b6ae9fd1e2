using System.Buffers.Binary;
using System.Text;
using Vswitch.Datapath.Odp;
using Vswitch.Datapath.Userspace;
using Vswitch.Packets;

namespace Vswitch.Datapath.Tests.Userspace;

public class HeaderRewriterTests
{
    [Fact]
    public void Crc32cMatchesTheStandardCheckValue()
    {
        Assert.Equal(0xE3069283u, HeaderRewriter.Crc32c(Encoding.ASCII.GetBytes("123456789")));
        Assert.Equal(0u, HeaderRewriter.Crc32c([]));
    }

    private static byte[] Udp6(Ipv6Address src, Ipv6Address dst, ushort sport, ushort dport)
    {
        var udp = new byte[8 + 12];
        BinaryPrimitives.WriteUInt16BigEndian(udp, sport);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(4), (ushort)udp.Length);
        for (int i = 8; i < udp.Length; i++) udp[i] = (byte)i;
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(6), Checksum.TransportIpv6(src, dst, 17, udp));
        var ip = new byte[40];
        BinaryPrimitives.WriteUInt32BigEndian(ip, 0x6000_0000u | (0x20u << 20) | 0x12345);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(4), (ushort)udp.Length);
        ip[6] = 17;
        ip[7] = 64;
        src.CopyTo(ip.AsSpan(8));
        dst.CopyTo(ip.AsSpan(24));
        return [.. TestFrames.Eth(TestFrames.MacB, TestFrames.MacA, 0x86DD), .. ip, .. udp];
    }

    private static bool Udp6ChecksumValid(byte[] frame)
    {
        var ip = frame.AsSpan(14);
        var src = new Ipv6Address(ip[8..24]);
        var dst = new Ipv6Address(ip[24..40]);
        var udp = ip[40..].ToArray();
        ushort stored = BinaryPrimitives.ReadUInt16BigEndian(udp.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(6), 0);
        return Checksum.TransportIpv6(src, dst, 17, udp) == stored;
    }

    [Fact]
    public void Ipv6AddressLabelAndPortRewritesKeepTheUdpChecksumValid()
    {
        using var t = new ManualDatapath();
        Ipv6Address.TryParse("2001:db8::1", out var a);
        Ipv6Address.TryParse("2001:db8::2", out var b);
        Ipv6Address.TryParse("fd00::99", out var c);
        var frame = Udp6(a, b, 4000, 53);
        Assert.True(Udp6ChecksumValid(frame));
        FlowKey v = default, m = default;
        v.Ipv6Dst = c; m.Ipv6Dst = Ipv6Address.AllOnes;
        v.Ipv6Label = 0xABCDE; m.Ipv6Label = 0xFFFFF;
        v.NwTtl = 7; m.NwTtl = 0xFF;
        FlowKey pv = default, pm = default;
        pv.TpDst = 5353; pm.TpDst = 0xFFFF;
        var key = TestFrames.KeyOf(frame, 1);
        var mask = Masks.InPortEthType();
        t.Put(key, mask, Actions.Of(new SetAction(OdpSetTarget.Ipv6, v, m, true), new SetAction(OdpSetTarget.Udp, pv, pm, true), new OutputAction(2)));
        t.P1.Inject(frame);
        t.Dp.PollOnce();
        var got = Assert.Single(t.Drain(t.P2));
        var k = TestFrames.KeyOf(got, 2);
        Assert.Equal(c, k.Ipv6Dst);
        Assert.Equal(a, k.Ipv6Src);
        Assert.Equal(0xABCDEu, k.Ipv6Label);
        Assert.Equal(0x20, k.NwTos); // traffic class untouched
        Assert.Equal(7, k.NwTtl);
        Assert.Equal(5353, k.TpDst);
        Assert.True(Udp6ChecksumValid(got));
    }

    [Fact]
    public void SetOnAPacketWithoutTheHeaderLeavesItUnchanged()
    {
        using var t = new ManualDatapath();
        var frame = TestFrames.Udp4();
        FlowKey v = default, m = default;
        v.TpDst = 1; m.TpDst = 0xFFFF;
        // A tcp() set on a UDP packet: nothing to rewrite, the packet goes out as it came.
        t.Put(TestFrames.KeyOf(frame, 1), Masks.InPortOnly(), Actions.Of(new SetAction(OdpSetTarget.Tcp, v, m, true), new OutputAction(2)));
        t.P1.Inject(frame);
        t.Dp.PollOnce();
        Assert.Equal(frame, Assert.Single(t.Drain(t.P2)));
    }
}
