using System.Net;
using System.Net.NetworkInformation;
using PacketDotNet;
using Vswitch.Netdev.AfPacket;
using Vswitch.Netdev.Linux;

namespace Vswitch.Netdev.Tests.AfPacket;

public sealed class PartialChecksumTests
{
    private static byte[] Frame(bool v6, bool tcp, bool vlan, int payloadLength)
    {
        var payload = new byte[payloadLength];
        for (int i = 0; i < payload.Length; i++) payload[i] = (byte)(i * 7 + 3);
        Packet l4 = tcp ? new TcpPacket(40000, 80) { PayloadData = payload, SequenceNumber = 12345, WindowSize = 1000 }
                        : new UdpPacket(5353, 7777) { PayloadData = payload };
        IPPacket ip = v6
            ? new IPv6Packet(IPAddress.Parse("fd00::1"), IPAddress.Parse("fd00::2"))
            : new IPv4Packet(IPAddress.Parse("10.1.2.3"), IPAddress.Parse("10.4.5.6"));
        ip.PayloadPacket = l4;
        var eth = new EthernetPacket(PhysicalAddress.Parse("02-00-00-00-00-01"), PhysicalAddress.Parse("02-00-00-00-00-02"),
            v6 ? EthernetType.IPv6 : EthernetType.IPv4) { PayloadPacket = ip };
        if (tcp) ((TcpPacket)l4).UpdateTcpChecksum(); else ((UdpPacket)l4).UpdateUdpChecksum();
        if (ip is IPv4Packet v4) v4.UpdateIPChecksum();
        var bytes = eth.Bytes;
        if (!vlan) return bytes;
        var tagged = new byte[bytes.Length + 4];
        bytes.AsSpan(0, 12).CopyTo(tagged);
        tagged[12] = 0x81; tagged[13] = 0x00; tagged[14] = 0x00; tagged[15] = 0x64;
        bytes.AsSpan(12).CopyTo(tagged.AsSpan(16));
        return tagged;
    }

    [Theory]
    [InlineData(false, false, false, 21)]
    [InlineData(false, true, false, 100)]
    [InlineData(true, false, false, 33)]
    [InlineData(true, true, false, 0)]
    [InlineData(false, false, true, 64)]
    [InlineData(true, true, true, 1001)]
    public void RecomputesTheChecksumPacketDotNetComputes(bool v6, bool tcp, bool vlan, int payload)
    {
        var frame = Frame(v6, tcp, vlan, payload);
        int l4 = (vlan ? 18 : 14) + (v6 ? 40 : 20);
        int field = l4 + (tcp ? 16 : 6);
        var expected = frame.AsSpan(field, 2).ToArray();
        // What a CHECKSUM_PARTIAL frame carries: some other value (the pseudo-header sum).
        frame[field] ^= 0x5a;
        frame[field + 1] ^= 0xa5;
        Assert.True(PartialChecksum.TryComplete(frame));
        Assert.Equal(expected, frame.AsSpan(field, 2).ToArray());
    }

    [Fact]
    public void LeavesOtherAndMalformedFramesAlone()
    {
        var frame = Frame(false, false, false, 40);
        var copy = frame.ToArray();
        Assert.False(PartialChecksum.TryComplete(frame.AsSpan(0, 30)));   // truncated IPv4 header
        Assert.False(PartialChecksum.TryComplete(frame.AsSpan(0, 40)));   // total length past the end
        Assert.Equal(copy, frame);
        frame[12] = 0x08; frame[13] = 0x06;                                // ARP
        Assert.False(PartialChecksum.TryComplete(frame));
        Assert.False(PartialChecksum.TryComplete(new byte[5]));
        var frag = Frame(false, false, false, 40);
        frag[14 + 6] = 0x20;                                               // more fragments
        Assert.False(PartialChecksum.TryComplete(frag));
    }

    [Theory]
    [InlineData(1514, 1500, false, false)]
    [InlineData(1515, 1500, false, true)]
    [InlineData(1518, 1500, true, false)]
    [InlineData(1519, 1500, true, true)]
    [InlineData(9014, 9000, false, false)]
    [InlineData(9015, 9000, false, true)]
    public void MtuCheckAllowsL2HeaderAndVlanTags(int length, int mtu, bool tagged, bool exceeds)
    {
        var f = new byte[length];
        f[12] = tagged ? (byte)0x81 : (byte)0x08;
        f[13] = 0;
        if (tagged) { f[16] = 0x08; f[17] = 0; }
        Assert.Equal(exceeds, KernelInterfaceNetdev.ExceedsMtu(f, mtu));
    }
}
