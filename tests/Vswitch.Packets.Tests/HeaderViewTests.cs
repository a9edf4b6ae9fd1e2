using System.Net;
using PacketDotNet;
using Vswitch.Packets;
using static Vswitch.Packets.Tests.Frames;

namespace Vswitch.Packets.Tests;

public class HeaderViewTests
{
    [Fact]
    public void SetIpv4SourceAndTcpPort_WithIncrementalChecksums_DecodesAsValidInPacketDotNet()
    {
        var tcpPkt = new TcpPacket(1111, 80) { Synchronize = true, PayloadData = new byte[13] };
        var ipPkt = new IPv4Packet(IPAddress.Parse("10.0.0.1"), IPAddress.Parse("10.0.0.2")) { PayloadPacket = tcpPkt };
        ipPkt.UpdateCalculatedValues();
        tcpPkt.UpdateTcpChecksum();
        ipPkt.UpdateIPChecksum();
        var eth = new EthernetPacket(new System.Net.NetworkInformation.PhysicalAddress(Src), new System.Net.NetworkInformation.PhysicalAddress(Dst), EthernetType.IPv4) { PayloadPacket = ipPkt };
        byte[] frame = eth.Bytes;

        Assert.Equal(ExtractStatus.Ok, Extract(frame, out _, out var layout));
        Assert.True(Ipv4Header.TryCreate(frame.AsSpan(layout.L3Offset), out var ip));
        var tcp = new TcpHeader(frame.AsSpan(layout.L4Offset));
        Assert.Equal(4, ip.Version);
        Assert.Equal(20, ip.HeaderLength);
        Assert.Equal(0x0A000001u, ip.Source);
        Assert.Equal(1111, tcp.SourcePort);
        Assert.Equal(0x002, tcp.Flags);

        // NAT: 10.0.0.1:1111 -> 192.168.7.7:2222.
        uint newSrc = 0xC0A80707;
        ip.HeaderChecksum = Checksum.Update32(ip.HeaderChecksum, ip.Source, newSrc);
        tcp.Checksum = Checksum.Update32(tcp.Checksum, ip.Source, newSrc);
        ip.Source = newSrc;
        tcp.Checksum = Checksum.Update16(tcp.Checksum, tcp.SourcePort, 2222);
        tcp.SourcePort = 2222;
        ip.Ttl = 63;
        ip.UpdateChecksum();

        var decoded = Packet.ParsePacket(LinkLayers.Ethernet, frame);
        var dip = decoded.Extract<IPv4Packet>();
        var dtcp = decoded.Extract<TcpPacket>();
        Assert.Equal("192.168.7.7", dip.SourceAddress.ToString());
        Assert.Equal(63, dip.TimeToLive);
        Assert.True(dip.ValidIPChecksum);
        Assert.Equal(2222, dtcp.SourcePort);
        Assert.True(dtcp.ValidTcpChecksum);
        Assert.True(Checksum.IsIpv4HeaderValid(ip.Bytes));
    }

    [Fact]
    public void EthernetVlanIpv6UdpViews_ReadAndWrite()
    {
        var udp = Udp(1000, 2000, 4);
        byte[] frame = Cat(Eth(0x8100), TagThen((3 << 13) | 77, 0x86dd), Ipv6(17, udp.Length, tclass: 0x12, label: 0x54321, hopLimit: 9), udp);
        var eth = new EthernetHeader(frame);
        Assert.Equal(DstMac, eth.Destination);
        Assert.Equal(SrcMac, eth.Source);
        Assert.Equal(0x8100, eth.EtherType);
        eth.Source = MacAddress.Parse("02:00:00:00:00:09");
        Assert.Equal(MacAddress.Parse("02:00:00:00:00:09"), new MacAddress(frame.AsSpan(6, 6)));

        var tag = new VlanHeader(frame.AsSpan(12));
        Assert.Equal(77, tag.Vid);
        Assert.Equal(3, tag.Pcp);
        tag.Vid = 4000;
        tag.Pcp = 6;
        Assert.Equal((6 << 13) | 4000, tag.Tci);

        Assert.True(Ipv6Header.TryCreate(frame.AsSpan(18), out var ip6));
        Assert.Equal(6, ip6.Version);
        Assert.Equal(0x12, ip6.TrafficClass);
        Assert.Equal(0x54321u, ip6.FlowLabel);
        Assert.Equal(9, ip6.HopLimit);
        Assert.Equal(17, ip6.NextHeader);
        Assert.Equal(udp.Length, ip6.PayloadLength);
        Assert.Equal(V6(V6Src), ip6.Source);
        ip6.TrafficClass = 0xFF;
        Assert.Equal(0x54321u, ip6.FlowLabel);
        ip6.FlowLabel = 0xFFFFF;
        Assert.Equal(0xFF, ip6.TrafficClass);
        Assert.Equal(6, ip6.Version);
        ip6.Destination = V6(V6Src);

        var u = new UdpHeader(frame.AsSpan(58));
        Assert.Equal(1000, u.SourcePort);
        Assert.Equal(2000, u.DestinationPort);
        Assert.Equal(12, u.TotalLength);

        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out _));
        Assert.Equal(0x1000 | (6 << 13) | 4000, key.Vlan0Tci);
        Assert.Equal(0xFFFFFu, key.Ipv6Label);
        Assert.Equal(0xFF, key.NwTos);
        Assert.Equal(V6(V6Src), key.Ipv6Dst);
    }

    [Fact]
    public void TryCreate_RejectsShortSpans()
    {
        Assert.False(EthernetHeader.TryCreate(new byte[13], out _));
        Assert.False(Ipv4Header.TryCreate(new byte[19], out _));
        var h = new byte[20]; h[0] = 0x46;
        Assert.False(Ipv4Header.TryCreate(h, out _));
        h[0] = 0x45;
        Assert.True(Ipv4Header.TryCreate(h, out _));
        Assert.False(Ipv6Header.TryCreate(new byte[39], out _));
    }

    [Fact]
    public void ArpIcmpSctpViews()
    {
        byte[] mac = [2, 1, 2, 3, 4, 5];
        var arpBytes = Arp(2, mac, 0x01020304, mac, 0x05060708);
        var arp = new ArpHeader(arpBytes);
        Assert.Equal(2, arp.Operation);
        Assert.Equal(new MacAddress(mac), arp.SenderHardwareAddress);
        Assert.Equal(0x01020304u, arp.SenderProtocolAddress);
        Assert.Equal(0x05060708u, arp.TargetProtocolAddress);
        arp.TargetHardwareAddress = MacAddress.Broadcast;
        Assert.True(new MacAddress(arpBytes.AsSpan(18, 6)).IsBroadcast);

        var icmp = new IcmpHeader(Icmp(3, 1));
        Assert.Equal(3, icmp.Type);
        Assert.Equal(1, icmp.Code);

        var sctp = new SctpHeader(Sctp(7, 8));
        Assert.Equal(7, sctp.SourcePort);
        sctp.DestinationPort = 9;
        Assert.Equal(9, sctp.DestinationPort);
    }
}
