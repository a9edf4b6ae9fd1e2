using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using PacketDotNet;
using PacketDotNet.Utils;
using Vswitch.Packets;
using static Vswitch.Packets.Tests.Frames;

namespace Vswitch.Packets.Tests;

/// <summary>Flow extraction from frames built by PacketDotNet (an independent encoder).</summary>
public class FlowExtractorPacketDotNetTests
{
    private static readonly PhysicalAddress SrcHw = new(Src);
    private static readonly PhysicalAddress DstHw = new(Dst);

    private static uint V4(string s) => BinaryPrimitives.ReadUInt32BigEndian(IPAddress.Parse(s).GetAddressBytes());
    private static Ipv6Address V6Of(string s) => new(IPAddress.Parse(s).GetAddressBytes());

    private static byte[] Build(EthernetType type, Packet payload)
    {
        var eth = new EthernetPacket(SrcHw, DstHw, type) { PayloadPacket = payload };
        eth.UpdateCalculatedValues();
        return eth.Bytes;
    }

    /// <summary>Inserts a VLAN tag after the MAC addresses of an untagged frame.</summary>
    private static byte[] Tag(byte[] frame, int tpid, int tci) =>
        Cat(frame[..12], Be16(tpid), Be16(tci), frame[12..]);

    private static byte[] BuildIpv4Tcp(out IPv4Packet ip, out TcpPacket tcp)
    {
        tcp = new TcpPacket(34567, 80) { Synchronize = true, Acknowledgment = true, SequenceNumber = 77, WindowSize = 1000 };
        tcp.PayloadData = "GET / HTTP/1.1\r\n"u8.ToArray();
        ip = new IPv4Packet(IPAddress.Parse("10.1.2.3"), IPAddress.Parse("172.16.0.9"))
        {
            TimeToLive = 33, TypeOfService = 0x28, PayloadPacket = tcp,
        };
        ip.UpdateCalculatedValues();
        tcp.UpdateTcpChecksum();
        ip.UpdateIPChecksum();
        return Build(EthernetType.IPv4, ip);
    }

    private static FlowKey ExpectedIpv4Tcp()
    {
        var e = L2Key(0x0800);
        e.Ipv4Src = V4("10.1.2.3"); e.Ipv4Dst = V4("172.16.0.9"); e.NwProto = 6; e.NwTos = 0x28; e.NwTtl = 33;
        e.TpSrc = 34567; e.TpDst = 80; e.TcpFlags = 0x012;
        return e;
    }

    [Fact]
    public void Ipv4Tcp()
    {
        var frame = BuildIpv4Tcp(out _, out _);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        AssertKey(ExpectedIpv4Tcp(), key);
        Assert.Equal(14, layout.L3Offset);
        Assert.Equal(34, layout.L4Offset);
    }

    [Theory]
    [InlineData(0x8100, 0, 1)]
    [InlineData(0x8100, 7, 4094)]
    [InlineData(0x88a8, 3, 100)]
    public void VlanTaggedIpv4Tcp(int tpid, int pcp, int vid)
    {
        var frame = Tag(BuildIpv4Tcp(out _, out _), tpid, (pcp << 13) | vid);
        // Cross-check the tag with PacketDotNet's own decoder when it knows the TPID.
        if (tpid == 0x8100)
        {
            var parsed = (EthernetPacket)Packet.ParsePacket(LinkLayers.Ethernet, frame);
            var q = parsed.Extract<Ieee8021QPacket>();
            Assert.Equal(vid, q.VlanIdentifier);
            Assert.Equal(pcp, (int)q.PriorityControlPoint);
        }
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        var e = ExpectedIpv4Tcp();
        e.Vlan0Tpid = (ushort)tpid; e.Vlan0Tci = (ushort)((pcp << 13) | 0x1000 | vid);
        AssertKey(e, key);
        Assert.Equal(18, layout.L3Offset);
        Assert.Equal(38, layout.L4Offset);
    }

    [Fact]
    public void QinQIpv4Tcp()
    {
        var frame = Tag(Tag(BuildIpv4Tcp(out _, out _), 0x8100, 200), 0x88a8, 0x2000 | 300);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        var e = ExpectedIpv4Tcp();
        e.Vlan0Tpid = 0x88a8; e.Vlan0Tci = 0x3000 | 300;
        e.Vlan1Tpid = 0x8100; e.Vlan1Tci = 0x1000 | 200;
        AssertKey(e, key);
        Assert.Equal(22, layout.L3Offset);
        Assert.Equal(42, layout.L4Offset);
    }

    [Fact]
    public void Ipv4Udp()
    {
        var udp = new UdpPacket(53, 40001) { PayloadData = new byte[37] };
        var ip = new IPv4Packet(IPAddress.Parse("192.0.2.1"), IPAddress.Parse("198.51.100.2")) { TimeToLive = 1, PayloadPacket = udp };
        ip.UpdateCalculatedValues();
        udp.UpdateUdpChecksum();
        var frame = Build(EthernetType.IPv4, ip);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        var e = L2Key(0x0800);
        e.Ipv4Src = V4("192.0.2.1"); e.Ipv4Dst = V4("198.51.100.2"); e.NwProto = 17; e.NwTtl = 1; e.TpSrc = 53; e.TpDst = 40001;
        AssertKey(e, key);
        Assert.Equal(34, layout.L4Offset);
    }

    [Fact]
    public void Ipv4IcmpEcho()
    {
        var icmpBytes = new byte[] { 8, 0, 0, 0, 0x12, 0x34, 0, 1, 1, 2, 3, 4 };
        var icmp = new IcmpV4Packet(new ByteArraySegment(icmpBytes));
        icmp.UpdateIcmpChecksum();
        var ip = new IPv4Packet(IPAddress.Parse("10.0.0.1"), IPAddress.Parse("10.0.0.2")) { PayloadPacket = icmp };
        ip.UpdateCalculatedValues();
        var frame = Build(EthernetType.IPv4, ip);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out _));
        var e = L2Key(0x0800);
        e.Ipv4Src = V4("10.0.0.1"); e.Ipv4Dst = V4("10.0.0.2"); e.NwProto = 1; e.NwTtl = (byte)ip.TimeToLive;
        e.TpSrc = 8; e.TpDst = 0;
        AssertKey(e, key);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Ipv6TcpAndUdp(bool tcp)
    {
        Packet l4 = tcp
            ? new TcpPacket(2000, 443) { Finished = true, Push = true, Acknowledgment = true, PayloadData = new byte[5] }
            : new UdpPacket(5000, 5001) { PayloadData = new byte[9] };
        var ip = new IPv6Packet(IPAddress.Parse("2001:db8::10"), IPAddress.Parse("2001:db8:1::20"))
        {
            HopLimit = 9, TrafficClass = 0xb8, FlowLabel = 0x12345, PayloadPacket = l4,
        };
        ip.UpdateCalculatedValues();
        var frame = Build(EthernetType.IPv6, ip);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        var e = L2Key(0x86dd);
        e.Ipv6Src = V6Of("2001:db8::10"); e.Ipv6Dst = V6Of("2001:db8:1::20");
        e.NwProto = (byte)(tcp ? 6 : 17); e.NwTtl = 9; e.NwTos = 0xb8; e.Ipv6Label = 0x12345;
        e.TpSrc = (ushort)(tcp ? 2000 : 5000); e.TpDst = (ushort)(tcp ? 443 : 5001);
        if (tcp) e.TcpFlags = 0x019; // FIN|PSH|ACK
        AssertKey(e, key);
        Assert.Equal(54, layout.L4Offset);
    }

    [Fact]
    public void Arp()
    {
        var senderHw = PhysicalAddress.Parse("02-00-00-00-00-AA");
        var arp = new ArpPacket(ArpOperation.Request, PhysicalAddress.Parse("00-00-00-00-00-00"), IPAddress.Parse("10.0.0.254"),
                                senderHw, IPAddress.Parse("10.0.0.1"));
        var frame = Build(EthernetType.Arp, arp);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        var e = L2Key(0x0806);
        e.NwProto = 1; e.Ipv4Src = V4("10.0.0.1"); e.Ipv4Dst = V4("10.0.0.254");
        e.ArpSha = new MacAddress(senderHw.GetAddressBytes());
        AssertKey(e, key);
        Assert.Equal(14, layout.L3Offset);
    }

    [Fact]
    public void RandomValidFrames_AgreeWithPacketDotNetDecoder()
    {
        const int seed = 20261123;
        var rng = new Random(seed);
        for (int i = 0; i < 500; i++)
        {
            bool v6 = rng.Next(2) == 0, tcp = rng.Next(2) == 0;
            ushort sp = (ushort)rng.Next(65536), dp = (ushort)rng.Next(65536);
            Packet l4 = tcp ? new TcpPacket(sp, dp) { Flags = (ushort)rng.Next(0x200), PayloadData = new byte[rng.Next(100)] }
                            : new UdpPacket(sp, dp) { PayloadData = new byte[rng.Next(100)] };
            var srcBytes = new byte[v6 ? 16 : 4]; rng.NextBytes(srcBytes);
            var dstBytes = new byte[v6 ? 16 : 4]; rng.NextBytes(dstBytes);
            IPPacket ip = v6
                ? new IPv6Packet(new IPAddress(srcBytes), new IPAddress(dstBytes)) { HopLimit = rng.Next(256), FlowLabel = rng.Next(1 << 20) }
                : new IPv4Packet(new IPAddress(srcBytes), new IPAddress(dstBytes)) { TimeToLive = rng.Next(256), TypeOfService = rng.Next(256) };
            ip.PayloadPacket = l4;
            ip.UpdateCalculatedValues();
            var frame = Build(v6 ? EthernetType.IPv6 : EthernetType.IPv4, ip);

            var decoded = Packet.ParsePacket(LinkLayers.Ethernet, frame);
            var dip = decoded.Extract<IPPacket>();
            Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
            Assert.True(layout.L4Offset > 0, $"seed {seed} frame {i}");
            Assert.Equal((byte)dip.Protocol, key.NwProto);
            Assert.Equal((byte)dip.TimeToLive, key.NwTtl);
            if (v6)
            {
                Assert.Equal(new Ipv6Address(dip.SourceAddress.GetAddressBytes()), key.Ipv6Src);
                Assert.Equal(new Ipv6Address(dip.DestinationAddress.GetAddressBytes()), key.Ipv6Dst);
                Assert.Equal((uint)((IPv6Packet)dip).FlowLabel, key.Ipv6Label);
            }
            else
            {
                Assert.Equal(BinaryPrimitives.ReadUInt32BigEndian(dip.SourceAddress.GetAddressBytes()), key.Ipv4Src);
                Assert.Equal(BinaryPrimitives.ReadUInt32BigEndian(dip.DestinationAddress.GetAddressBytes()), key.Ipv4Dst);
                Assert.Equal((byte)((IPv4Packet)dip).TypeOfService, key.NwTos);
            }
            if (tcp)
            {
                var t = decoded.Extract<TcpPacket>();
                Assert.Equal(t.SourcePort, key.TpSrc);
                Assert.Equal(t.DestinationPort, key.TpDst);
                Assert.Equal(t.Flags & 0xFFF, key.TcpFlags);
            }
            else
            {
                var u = decoded.Extract<UdpPacket>();
                Assert.Equal(u.SourcePort, key.TpSrc);
                Assert.Equal(u.DestinationPort, key.TpDst);
            }
        }
    }
    [Fact]
    public void HandBuiltNeighborSolicitation_AgreesWithPacketDotNet_AndChecksumMatches()
    {
        var target = IPAddress.Parse("fe80::1:2ff:fe03:405");
        byte[] sll = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
        var nd = Nd(135, target.GetAddressBytes(), LinkAddrOption(1, sll));
        var frame = Cat(Eth(0x86dd), Ipv6(58, nd.Length, hopLimit: 255), nd);

        var decoded = Packet.ParsePacket(LinkLayers.Ethernet, frame);
        var icmp = decoded.Extract<IcmpV6Packet>();
        Assert.NotNull(icmp);
        Assert.Equal(IcmpV6Type.NeighborSolicitation, icmp.Type);
        icmp.UpdateIcmpChecksum();
        var ns = decoded.Extract<NdpNeighborSolicitationPacket>();
        Assert.NotNull(ns);
        Assert.Equal(target, ns.TargetAddress);

        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        Assert.Equal(new Ipv6Address(ns.TargetAddress.GetAddressBytes()), key.NdTarget);
        Assert.Equal(new MacAddress(sll), key.ArpSha);
        Assert.True(key.ArpTha.IsZero);
        Assert.Equal(135, key.TpSrc);
        Assert.Equal(0, key.TpDst);
        Assert.Equal(58, key.NwProto);

        // ICMPv6 checksum (pseudo-header) agrees with PacketDotNet's.
        // PacketDotNet wrote its checksum into the frame's bytes: with it in place, verification gives 0.
        var segment = frame.AsSpan(layout.L4Offset).ToArray();
        var src = key.Ipv6Src; var dst = key.Ipv6Dst;
        Assert.NotEqual(0, icmp.Checksum);
        Assert.Equal(0, Checksum.TransportIpv6(in src, in dst, 58, segment));
        segment[IcmpHeader.ChecksumOffset] = 0;
        segment[IcmpHeader.ChecksumOffset + 1] = 0;
        Assert.Equal(icmp.Checksum, Checksum.TransportIpv6(in src, in dst, 58, segment));
    }
}
