using System.Buffers.Binary;
using System.Net;
using PacketDotNet;
using Vswitch.Packets;

namespace Vswitch.Packets.Tests;

public class ChecksumTests
{
    private const int Seed = 4242;

    [Fact]
    public void Rfc1071Example()
    {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (folded), checksum 220d.
        byte[] data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        Assert.Equal(0xddf2u, Checksum.Sum(data));
        Assert.Equal(0x220d, Checksum.Compute(data));
    }

    [Fact]
    public void KnownIpv4Header()
    {
        // A widely used example header (192.168.0.1 -> 192.168.0.199, UDP): checksum b861.
        byte[] h = Convert.FromHexString("450000730000400040110000c0a80001c0a800c7");
        Assert.Equal(0xb861, Checksum.Ipv4Header(h));
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(10), 0xb861);
        Assert.True(Checksum.IsIpv4HeaderValid(h));
        Assert.Equal(0, Checksum.Compute(h));
        // The checksum field's content is ignored when computing.
        Assert.Equal(0xb861, Checksum.Ipv4Header(h));
        h[8] = 0x3f;
        Assert.False(Checksum.IsIpv4HeaderValid(h));
    }

    [Fact]
    public void OddLength_PadsWithZero()
    {
        byte[] odd = [0x12, 0x34, 0x56];
        Assert.Equal(Checksum.Compute([0x12, 0x34, 0x56, 0x00]), Checksum.Compute(odd));
        Assert.Equal(0xFFFF, Checksum.Compute([]));
    }

    [Fact]
    public void Sum_ChainsAcrossEvenChunks_AndMatchesNaiveSum()
    {
        var rng = new Random(Seed);
        for (int n = 0; n < 300; n++)
        {
            var data = new byte[rng.Next(0, 1600)];
            rng.NextBytes(data);
            uint naive = 0;
            for (int i = 0; i < data.Length; i += 2)
                naive += (uint)(data[i] << 8 | (i + 1 < data.Length ? data[i + 1] : 0));
            while (naive > 0xFFFF) naive = (naive & 0xFFFF) + (naive >> 16);
            Assert.Equal(naive, Checksum.Sum(data));
            int cut = rng.Next(0, data.Length / 2 + 1) * 2;
            Assert.Equal(Checksum.Compute(data), Checksum.Finish(Checksum.Sum(data.AsSpan(cut), Checksum.Sum(data.AsSpan(0, cut)))));
        }
    }

    [Fact]
    public void Ipv4Header_MatchesPacketDotNet()
    {
        var rng = new Random(Seed);
        for (int i = 0; i < 200; i++)
        {
            var ip = RandomIpv4(rng, new UdpPacket(1, 2) { PayloadData = new byte[rng.Next(50)] });
            ip.UpdateIPChecksum();
            var header = ip.HeaderData;
            Assert.Equal(ip.Checksum, Checksum.Ipv4Header(header));
            Assert.True(Checksum.IsIpv4HeaderValid(header));
        }
    }

    [Fact]
    public void TcpAndUdpOverIpv4_MatchPacketDotNet()
    {
        var rng = new Random(Seed);
        for (int i = 0; i < 200; i++)
        {
            bool tcp = (i & 1) == 0;
            Packet l4 = tcp ? new TcpPacket((ushort)rng.Next(65536), (ushort)rng.Next(65536)) { SequenceNumber = (uint)rng.Next(), PayloadData = RandomBytes(rng, 0, 300) }
                            : new UdpPacket((ushort)rng.Next(65536), (ushort)rng.Next(65536)) { PayloadData = RandomBytes(rng, 0, 300) };
            var ip = RandomIpv4(rng, l4);
            ushort expected;
            if (tcp) { ((TcpPacket)l4).UpdateTcpChecksum(); expected = ((TcpPacket)l4).Checksum; }
            else { ((UdpPacket)l4).UpdateUdpChecksum(); expected = ((UdpPacket)l4).Checksum; }

            var segment = l4.Bytes;
            int csumOffset = tcp ? TcpHeader.ChecksumOffset : UdpHeader.ChecksumOffset;
            uint src = Be32(ip.SourceAddress), dst = Be32(ip.DestinationAddress);
            byte proto = (byte)(tcp ? 6 : 17);
            // With the correct checksum in place, verification gives 0.
            Assert.Equal(0, Checksum.Finish(Checksum.Sum(segment, Checksum.PseudoHeaderIpv4(src, dst, proto, segment.Length))));
            BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(csumOffset), 0);
            Assert.Equal(expected, Checksum.TransportIpv4(src, dst, proto, segment));
        }
    }

    [Fact]
    public void TcpAndUdpOverIpv6_MatchPacketDotNet()
    {
        var rng = new Random(Seed);
        for (int i = 0; i < 200; i++)
        {
            bool tcp = (i & 1) == 0;
            Packet l4 = tcp ? new TcpPacket((ushort)rng.Next(65536), (ushort)rng.Next(65536)) { PayloadData = RandomBytes(rng, 0, 300) }
                            : new UdpPacket((ushort)rng.Next(65536), (ushort)rng.Next(65536)) { PayloadData = RandomBytes(rng, 0, 300) };
            var ip = new IPv6Packet(new IPAddress(RandomBytes(rng, 16, 16)), new IPAddress(RandomBytes(rng, 16, 16))) { PayloadPacket = l4 };
            ip.UpdateCalculatedValues();
            ushort expected;
            if (tcp) { ((TcpPacket)l4).UpdateTcpChecksum(); expected = ((TcpPacket)l4).Checksum; }
            else { ((UdpPacket)l4).UpdateUdpChecksum(); expected = ((UdpPacket)l4).Checksum; }

            var segment = l4.Bytes;
            var src = new Ipv6Address(ip.SourceAddress.GetAddressBytes());
            var dst = new Ipv6Address(ip.DestinationAddress.GetAddressBytes());
            BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(tcp ? TcpHeader.ChecksumOffset : UdpHeader.ChecksumOffset), 0);
            Assert.Equal(expected, Checksum.TransportIpv6(in src, in dst, (byte)(tcp ? 6 : 17), segment));
        }
    }

    [Theory]
    [InlineData(17, 0xFFFF)] // UDP: a computed zero is transmitted as all ones
    [InlineData(6, 0x0000)]  // TCP: zero is an ordinary value
    public void ComputedZero_OnlyUdpMapsToFfff(int protocol, int expected)
    {
        uint src = 0x0A000001, dst = 0x0A000002;
        var seg = new byte[10];
        BinaryPrimitives.WriteUInt16BigEndian(seg, 1000);
        BinaryPrimitives.WriteUInt16BigEndian(seg.AsSpan(2), 2000);
        BinaryPrimitives.WriteUInt16BigEndian(seg.AsSpan(4), 10);
        // Choose the last word so the whole sum folds to 0xFFFF (checksum 0).
        uint partial = Checksum.Sum(seg.AsSpan(0, 8), Checksum.PseudoHeaderIpv4(src, dst, (byte)protocol, seg.Length));
        BinaryPrimitives.WriteUInt16BigEndian(seg.AsSpan(8), (ushort)(0xFFFF - partial));
        Assert.Equal(0, Checksum.Finish(Checksum.Sum(seg, Checksum.PseudoHeaderIpv4(src, dst, (byte)protocol, seg.Length))));
        Assert.Equal(expected, Checksum.TransportIpv4(src, dst, (byte)protocol, seg));
    }

    [Fact]
    public void IncrementalUpdates_EqualFullRecomputation()
    {
        var rng = new Random(Seed);
        for (int i = 0; i < 2000; i++)
        {
            // IPv4 header: change TTL/protocol word and the source address.
            var h = RandomBytes(rng, 20, 20);
            h[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(10), Checksum.Ipv4Header(h));
            ushort csum = BinaryPrimitives.ReadUInt16BigEndian(h.AsSpan(10));

            ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(h.AsSpan(8));
            h[8] = (byte)rng.Next(256);
            ushort newWord = BinaryPrimitives.ReadUInt16BigEndian(h.AsSpan(8));
            csum = Checksum.Update16(csum, oldWord, newWord);
            Assert.Equal(Checksum.Ipv4Header(h), csum);

            uint oldSrc = BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(12));
            uint newSrc = (uint)rng.NextInt64(0, 1L << 32);
            BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(12), newSrc);
            csum = Checksum.Update32(csum, oldSrc, newSrc);
            Assert.Equal(Checksum.Ipv4Header(h), csum);
        }
    }

    [Fact]
    public void IncrementalUpdates_TransportChecksumThroughPseudoHeader()
    {
        var rng = new Random(Seed);
        for (int i = 0; i < 500; i++)
        {
            var seg = RandomBytes(rng, 20, 200);
            BinaryPrimitives.WriteUInt16BigEndian(seg.AsSpan(16), 0);
            uint src = (uint)rng.NextInt64(0, 1L << 32), dst = (uint)rng.NextInt64(0, 1L << 32);
            ushort csum = Checksum.TransportIpv4(src, dst, 6, seg);

            // Rewrite the destination port and the source address (NAT).
            ushort oldPort = BinaryPrimitives.ReadUInt16BigEndian(seg.AsSpan(2));
            ushort newPort = (ushort)rng.Next(65536);
            BinaryPrimitives.WriteUInt16BigEndian(seg.AsSpan(2), newPort);
            csum = Checksum.Update16(csum, oldPort, newPort);
            uint newSrc = (uint)rng.NextInt64(0, 1L << 32);
            csum = Checksum.Update32(csum, src, newSrc);
            Assert.Equal(Checksum.TransportIpv4(newSrc, dst, 6, seg), csum);

            // IPv6: rewrite the destination address.
            var s6 = new Ipv6Address(RandomBytes(rng, 16, 16));
            var d6 = new Ipv6Address(RandomBytes(rng, 16, 16));
            var n6 = new Ipv6Address(RandomBytes(rng, 16, 16));
            ushort c6 = Checksum.TransportIpv6(in s6, in d6, 6, seg);
            Assert.Equal(Checksum.TransportIpv6(in s6, in n6, 6, seg), Checksum.UpdateIpv6Address(c6, in d6, in n6));
        }
    }

    [Fact]
    public void UdpIncremental_ZeroMeansNoChecksum()
    {
        Assert.Equal(0, Checksum.UpdateUdp16(0, 1000, 2000));
        Assert.Equal(0, Checksum.UpdateUdp32(0, 0x0A000001, 0x0A000002));
        // A non-zero checksum is updated; a result of zero becomes 0xFFFF.
        ushort c = Checksum.Update16(0x1234, 0x1111, 0x2222);
        Assert.Equal(c == 0 ? 0xFFFF : c, Checksum.UpdateUdp16(0x1234, 0x1111, 0x2222));
        // ~(~HC + ~m + m') = 0 when ~HC + ~m + m' folds to 0xFFFF: 0xEEEE + 0xEEEE + 0x2222 = 0x1FFFE -> 0xFFFF.
        Assert.Equal(0, Checksum.Update16(0x1111, 0x1111, 0x2222));
        Assert.Equal(0xFFFF, Checksum.UpdateUdp16(0x1111, 0x1111, 0x2222));
    }

    [Fact]
    public void Ipv4Header_RejectsShortOrInconsistent()
    {
        Assert.Equal(0, Checksum.Ipv4Header(new byte[19]));
        var h = new byte[20]; h[0] = 0x46; // IHL 6 = 24 bytes, only 20 present
        Assert.Equal(0, Checksum.Ipv4Header(h));
        Assert.False(Checksum.IsIpv4HeaderValid(h));
    }

    private static IPv4Packet RandomIpv4(Random rng, Packet payload)
    {
        var ip = new IPv4Packet(new IPAddress(RandomBytes(rng, 4, 4)), new IPAddress(RandomBytes(rng, 4, 4)))
        {
            TimeToLive = rng.Next(256), TypeOfService = rng.Next(256), Id = (ushort)rng.Next(65536), PayloadPacket = payload,
        };
        ip.UpdateCalculatedValues();
        return ip;
    }

    private static byte[] RandomBytes(Random rng, int min, int max)
    {
        var b = new byte[rng.Next(min, max + 1)];
        rng.NextBytes(b);
        return b;
    }

    private static uint Be32(IPAddress a) => BinaryPrimitives.ReadUInt32BigEndian(a.GetAddressBytes());
}
