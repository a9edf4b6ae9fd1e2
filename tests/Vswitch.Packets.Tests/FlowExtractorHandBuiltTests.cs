using Vswitch.Packets;
using static Vswitch.Packets.Tests.Frames;

namespace Vswitch.Packets.Tests;

/// <summary>Flow extraction from frames built byte by byte.</summary>
public class FlowExtractorHandBuiltTests
{
    private const uint A = 0x0A000001, B = 0xC0A80102;

    private static FlowKey Ipv4Key(byte proto, byte tos = 0, byte ttl = 64, byte frag = 0, ushort ethType = 0x0800)
    {
        var k = L2Key(ethType);
        k.Ipv4Src = A; k.Ipv4Dst = B; k.NwProto = proto; k.NwTos = tos; k.NwTtl = ttl; k.NwFrag = frag;
        return k;
    }

    private static FlowKey Ipv6Key(byte proto, byte tclass = 0, uint label = 0, byte hlim = 64, byte frag = 0)
    {
        var k = L2Key(0x86dd);
        k.Ipv6Src = V6(V6Src); k.Ipv6Dst = V6(V6Dst); k.NwProto = proto; k.NwTos = tclass; k.Ipv6Label = label;
        k.NwTtl = hlim; k.NwFrag = frag;
        return k;
    }

    [Fact]
    public void Ipv4Tcp_AllFields()
    {
        var tcp = Tcp(443, 51000, 0x018); // PSH|ACK
        var frame = Cat(Eth(0x0800), Ipv4(6, A, B, tcp.Length, tos: 0xb8, ttl: 17), tcp);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        var e = Ipv4Key(6, 0xb8, 17);
        e.TpSrc = 443; e.TpDst = 51000; e.TcpFlags = 0x018;
        AssertKey(e, key);
        Assert.Equal(14, layout.L3Offset);
        Assert.Equal(34, layout.L4Offset);
    }

    [Fact]
    public void Ipv4Tcp_AllTwelveFlagBits()
    {
        var tcp = Tcp(1, 2, 0xFFF);
        var frame = Cat(Eth(0x0800), Ipv4(6, A, B, tcp.Length), tcp);
        Extract(frame, out var key, out _);
        Assert.Equal(0xFFF, key.TcpFlags);
    }

    [Fact]
    public void Ipv4WithOptions_SkipsOptionsViaIhl()
    {
        var options = new byte[] { 0x94, 0x04, 0, 0, 0x01, 0x01, 0x01, 0x00, 0x07, 0x07, 0x04, 0, 0, 0, 0, 0 }; // RA, NOPs, RR
        var udp = Udp(5353, 53, 4);
        var frame = Cat(Eth(0x0800), Ipv4(17, A, B, udp.Length, options: options), udp);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        var e = Ipv4Key(17);
        e.TpSrc = 5353; e.TpDst = 53;
        AssertKey(e, key);
        Assert.Equal(14, layout.L3Offset);
        Assert.Equal(14 + 36, layout.L4Offset);
    }

    [Fact]
    public void Ipv4_EthernetPaddingIsNotParsedAsTransport()
    {
        // Total length covers 10 TCP bytes; the frame is padded with 30 more bytes that would make a TCP header.
        var frame = Cat(Eth(0x0800), Ipv4(6, A, B, 10), Tcp(80, 81, 2)[..10], Tcp(80, 81, 2)[10..], new byte[20]);
        Assert.Equal(ExtractStatus.TruncatedL4, Extract(frame, out var key, out var layout));
        AssertKey(Ipv4Key(6), key);
        Assert.Equal(14, layout.L3Offset);
        Assert.Equal(-1, layout.L4Offset);
    }

    [Fact]
    public void Ipv4_ShortUdpWithPaddingToMinimumFrame()
    {
        var udp = Udp(68, 67);
        var frame = Cat(Eth(0x0800), Ipv4(17, A, B, udp.Length), udp, new byte[18]); // 60-byte minimum frame
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out _));
        var e = Ipv4Key(17); e.TpSrc = 68; e.TpDst = 67;
        AssertKey(e, key);
    }

    [Theory]
    [InlineData(0x0000, 0)]                                              // not a fragment
    [InlineData(0x4000, 0)]                                              // DF only
    [InlineData(0x2000, FlowKey.FragAny)]                                // MF, offset 0: first fragment
    [InlineData(0x2000 | 185, FlowKey.FragAny | FlowKey.FragLater)]      // middle fragment
    [InlineData(185, FlowKey.FragAny | FlowKey.FragLater)]               // last fragment
    public void Ipv4_FragmentBits(int fragField, int expectedFrag)
    {
        var udp = Udp(1000, 2000, 8);
        var frame = Cat(Eth(0x0800), Ipv4(17, A, B, udp.Length, fragField: fragField), udp);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        var e = Ipv4Key(17, frag: (byte)expectedFrag);
        if ((expectedFrag & FlowKey.FragLater) == 0) { e.TpSrc = 1000; e.TpDst = 2000; }
        AssertKey(e, key);
        Assert.Equal((expectedFrag & FlowKey.FragLater) == 0 ? 34 : -1, layout.L4Offset);
    }

    [Fact]
    public void Ipv4Sctp_Ports()
    {
        var sctp = Sctp(3868, 3869);
        var frame = Cat(Eth(0x0800), Ipv4(132, A, B, sctp.Length), sctp);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        var e = Ipv4Key(132); e.TpSrc = 3868; e.TpDst = 3869;
        AssertKey(e, key);
        Assert.Equal(34, layout.L4Offset);
    }

    [Fact]
    public void Ipv4Icmp_TypeAndCodeInPorts()
    {
        var icmp = Icmp(3, 4); // destination unreachable, fragmentation needed
        var frame = Cat(Eth(0x0800), Ipv4(1, A, B, icmp.Length), icmp);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        var e = Ipv4Key(1); e.TpSrc = 3; e.TpDst = 4;
        AssertKey(e, key);
        Assert.Equal(34, layout.L4Offset);
    }

    [Fact]
    public void Ipv4_UnknownProtocol_NetworkFieldsOnly()
    {
        var gre = new byte[] { 0, 0, 0x08, 0, 1, 2, 3, 4 };
        var frame = Cat(Eth(0x0800), Ipv4(47, A, B, gre.Length), gre);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        AssertKey(Ipv4Key(47), key);
        Assert.Equal(-1, layout.L4Offset);
    }

    [Fact]
    public void SingleVlan_8100_TciHasPresentBit()
    {
        var tcp = Tcp(22, 2222, 0x002);
        var frame = Cat(Eth(0x8100), TagThen((5 << 13) | 100, 0x0800), Ipv4(6, A, B, tcp.Length), tcp);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        var e = Ipv4Key(6);
        e.Vlan0Tpid = 0x8100; e.Vlan0Tci = (5 << 13) | 0x1000 | 100;
        e.TpSrc = 22; e.TpDst = 2222; e.TcpFlags = 2;
        AssertKey(e, key);
        Assert.Equal(18, layout.L3Offset);
        Assert.Equal(38, layout.L4Offset);
    }

    [Fact]
    public void SingleVlan_CfiAlreadySetOnWire_Kept()
    {
        var frame = Cat(Eth(0x8100), TagThen(0x1000 | 7, 0x9000), new byte[46]);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        Assert.Equal(0x1007, key.Vlan0Tci);
        Assert.Equal(0x9000, key.EthType);
        Assert.Equal(18, layout.L3Offset);
    }

    [Theory]
    [InlineData(0x88a8, 0x8100)]
    [InlineData(0x8100, 0x8100)]
    [InlineData(0x8100, 0x88a8)]
    [InlineData(0x88a8, 0x88a8)]
    public void QinQ_BothTagsEitherTpid(int outer, int inner)
    {
        var udp = Udp(4789, 4789);
        var frame = Cat(Eth(outer), TagThen(0x0FFF, inner), TagThen((7 << 13) | 1, 0x0800), Ipv4(17, A, B, udp.Length), udp);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        var e = Ipv4Key(17);
        e.Vlan0Tpid = (ushort)outer; e.Vlan0Tci = 0x1FFF;
        e.Vlan1Tpid = (ushort)inner; e.Vlan1Tci = (7 << 13) | 0x1000 | 1;
        e.TpSrc = 4789; e.TpDst = 4789;
        AssertKey(e, key);
        Assert.Equal(22, layout.L3Offset);
        Assert.Equal(42, layout.L4Offset);
    }

    [Fact]
    public void ThirdTagStaysInPayload()
    {
        var frame = Cat(Eth(0x88a8), TagThen(10, 0x8100), TagThen(20, 0x8100), TagThen(30, 0x0800), Ipv4(17, A, B, 8), Udp(1, 2));
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        var e = L2Key(0x8100);
        e.Vlan0Tpid = 0x88a8; e.Vlan0Tci = 0x1000 | 10;
        e.Vlan1Tpid = 0x8100; e.Vlan1Tci = 0x1000 | 20;
        AssertKey(e, key);
        Assert.Equal(22, layout.L3Offset);
        Assert.Equal(-1, layout.L4Offset);
    }

    [Fact]
    public void Llc_NonSnap_IsEthTypeNone()
    {
        var stp = new byte[] { 0x42, 0x42, 0x03, 0, 0, 0, 0, 0, 0x80, 0x00 };
        var frame = Cat(Eth(stp.Length), stp, new byte[36]);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        AssertKey(L2Key(FlowKey.EthTypeNone), key);
        Assert.Equal(14, layout.L3Offset);
    }

    [Fact]
    public void Snap_OuiZero_GivesInnerEthertypeAndParsesIpv4()
    {
        var tcp = Tcp(80, 8080, 0x010);
        var ip = Ipv4(6, A, B, tcp.Length);
        var snap = new byte[] { 0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00 };
        var frame = Cat(Eth(snap.Length + ip.Length + tcp.Length), snap, ip, tcp);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        var e = Ipv4Key(6); e.TpSrc = 80; e.TpDst = 8080; e.TcpFlags = 0x010;
        AssertKey(e, key);
        Assert.Equal(22, layout.L3Offset);
        Assert.Equal(42, layout.L4Offset);
    }

    [Fact]
    public void Snap_InsideVlan()
    {
        var snap = new byte[] { 0xAA, 0xAA, 0x03, 0, 0, 0, 0x88, 0xcc };
        var frame = Cat(Eth(0x8100), TagThen(42, 0x0030), snap, new byte[40]);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        var e = L2Key(0x88cc); e.Vlan0Tpid = 0x8100; e.Vlan0Tci = 0x1000 | 42;
        AssertKey(e, key);
        Assert.Equal(26, layout.L3Offset);
    }

    [Fact]
    public void Snap_ExactlyEightBytesAtEndOfFrame_IsUsed()
    {
        var frame = Cat(Eth(8), new byte[] { 0xAA, 0xAA, 0x03, 0, 0, 0, 0x88, 0xb5 });
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        AssertKey(L2Key(0x88b5), key);
        Assert.Equal(22, layout.L3Offset);
    }

    [Theory]
    [InlineData(new byte[] { 0xAA, 0xAA, 0x03, 0x00, 0x00, 0x0C, 0x20, 0x00 })] // Cisco OUI (CDP)
    [InlineData(new byte[] { 0xAA, 0xAA, 0x03, 0x00, 0x00, 0x00, 0x05, 0xFF })] // SNAP type below 0x600
    [InlineData(new byte[] { 0xAA, 0xAA, 0x03, 0x00, 0x00, 0x00, 0x08 })]       // too short for SNAP
    [InlineData(new byte[] { 0xAA, 0xAB, 0x03, 0x00, 0x00, 0x00, 0x08, 0x00 })] // wrong SSAP
    public void Snap_NotUsable_IsEthTypeNone_AndL3AfterLengthField(byte[] llc)
    {
        var frame = Cat(Eth(llc.Length), llc);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        AssertKey(L2Key(FlowKey.EthTypeNone), key);
        Assert.Equal(14, layout.L3Offset);
    }

    [Fact]
    public void Ipv6Tcp_AllFields()
    {
        var tcp = Tcp(5201, 40000, 0x0C2); // CWR|ECE|SYN
        var frame = Cat(Eth(0x86dd), Ipv6(6, tcp.Length, tclass: 0x2e, label: 0xABCDE, hopLimit: 3), tcp);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        var e = Ipv6Key(6, 0x2e, 0xABCDE, 3); e.TpSrc = 5201; e.TpDst = 40000; e.TcpFlags = 0x0C2;
        AssertKey(e, key);
        Assert.Equal(14, layout.L3Offset);
        Assert.Equal(54, layout.L4Offset);
    }

    [Fact]
    public void Ipv6_ExtensionHeaderChain_HopByHopRoutingDestOpts()
    {
        var udp = Udp(546, 547, 3);
        var ext = Cat(Ext(43), Ext(60, 1), Ext(17, 2)); // HBH(8) -> routing(16) -> dest opts(24) -> UDP
        var frame = Cat(Eth(0x86dd), Ipv6(0, ext.Length + udp.Length), ext, udp);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        var e = Ipv6Key(17); e.TpSrc = 546; e.TpDst = 547;
        AssertKey(e, key);
        Assert.Equal(54 + 48, layout.L4Offset);
    }

    [Fact]
    public void Ipv6_AuthenticationHeader_LengthInFourByteUnits()
    {
        var tcp = Tcp(179, 50000, 0x010);
        var ah = Ah(6, payloadLenField: 4); // (4 + 2) * 4 = 24 bytes
        var frame = Cat(Eth(0x86dd), Ipv6(51, ah.Length + tcp.Length), ah, tcp);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        var e = Ipv6Key(6); e.TpSrc = 179; e.TpDst = 50000; e.TcpFlags = 0x010;
        AssertKey(e, key);
        Assert.Equal(54 + 24, layout.L4Offset);
    }

    [Fact]
    public void Ipv6_FirstFragment_ParsesTransport()
    {
        var udp = Udp(9999, 53, 16);
        var frame = Cat(Eth(0x86dd), Ipv6(44, 8 + udp.Length), Frag(17, 0, more: true), udp);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        var e = Ipv6Key(17, frag: FlowKey.FragAny); e.TpSrc = 9999; e.TpDst = 53;
        AssertKey(e, key);
        Assert.Equal(62, layout.L4Offset);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Ipv6_LaterFragment_ProtoIsFragmentAndNoTransport(bool more)
    {
        var data = Udp(9999, 53, 16);
        var frame = Cat(Eth(0x86dd), Ipv6(0, 8 + 8 + data.Length), Ext(44), Frag(17, 100, more), data);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        AssertKey(Ipv6Key(44, frag: FlowKey.FragAny | FlowKey.FragLater), key);
        Assert.Equal(14, layout.L3Offset);
        Assert.Equal(-1, layout.L4Offset);
    }

    [Fact]
    public void Ipv6_AtomicFragment_IsNotAFragment()
    {
        var tcp = Tcp(1, 2, 1);
        var frame = Cat(Eth(0x86dd), Ipv6(44, 8 + tcp.Length), Frag(6, 0, more: false), tcp);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out _));
        var e = Ipv6Key(6); e.TpSrc = 1; e.TpDst = 2; e.TcpFlags = 1;
        AssertKey(e, key);
    }

    [Fact]
    public void Ipv6_TruncatedExtensionHeader_AddressesOnly()
    {
        // Hop-by-hop says 16 bytes but the payload holds only 8 more.
        var frame = Cat(Eth(0x86dd), Ipv6(0, 8), Ext(6, 1)[..8]);
        Assert.Equal(ExtractStatus.TruncatedL3, Extract(frame, out var key, out var layout));
        var e = L2Key(0x86dd); e.Ipv6Src = V6(V6Src); e.Ipv6Dst = V6(V6Dst);
        AssertKey(e, key);
        Assert.Equal(14, layout.L3Offset);
        Assert.Equal(-1, layout.L4Offset);
    }

    [Fact]
    public void Ipv6_ExtensionHeaderShorterThanEightBytes_AddressesOnly()
    {
        var frame = Cat(Eth(0x86dd), Ipv6(60, 4), new byte[] { 6, 0, 1, 0 });
        Assert.Equal(ExtractStatus.TruncatedL3, Extract(frame, out var key, out _));
        var e = L2Key(0x86dd); e.Ipv6Src = V6(V6Src); e.Ipv6Dst = V6(V6Dst);
        AssertKey(e, key);
    }

    [Fact]
    public void Ipv6Sctp_And_Ipv6Udp()
    {
        var sctp = Sctp(36412, 36412);
        var frame = Cat(Eth(0x86dd), Ipv6(132, sctp.Length), sctp);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out _));
        var e = Ipv6Key(132); e.TpSrc = 36412; e.TpDst = 36412;
        AssertKey(e, key);

        var udp = Udp(123, 123, 48);
        frame = Cat(Eth(0x86dd), Ipv6(17, udp.Length, hopLimit: 255), udp);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out key, out _));
        e = Ipv6Key(17, hlim: 255); e.TpSrc = 123; e.TpDst = 123;
        AssertKey(e, key);
    }

    [Fact]
    public void Icmpv6Echo_TypeCode_NoNd()
    {
        var icmp = Icmp(128, 0);
        var frame = Cat(Eth(0x86dd), Ipv6(58, icmp.Length), icmp);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        var e = Ipv6Key(58); e.TpSrc = 128;
        AssertKey(e, key);
        Assert.Equal(54, layout.L4Offset);
    }

    private static readonly byte[] Target = Convert.FromHexString("fe80000000000000020000fffe000099");
    private static readonly byte[] MacA = [0x02, 0xAA, 0xBB, 0xCC, 0xDD, 0x01];
    private static readonly byte[] MacB = [0x02, 0xAA, 0xBB, 0xCC, 0xDD, 0x02];

    private static FlowKey NdKey(byte type, byte[]? sll, byte[]? tll, bool target = true)
    {
        var e = Ipv6Key(58, hlim: 255); e.TpSrc = type;
        if (target) e.NdTarget = V6(Target);
        if (sll != null) e.ArpSha = new MacAddress(sll);
        if (tll != null) e.ArpTha = new MacAddress(tll);
        return e;
    }

    private static byte[] NdFrame(byte[] nd) => Cat(Eth(0x86dd), Ipv6(58, nd.Length, hopLimit: 255), nd);

    [Fact]
    public void NeighborSolicitation_WithSourceLinkAddress()
    {
        var frame = NdFrame(Nd(135, Target, LinkAddrOption(1, MacA)));
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        AssertKey(NdKey(135, MacA, null), key);
        Assert.Equal(54, layout.L4Offset);
    }

    [Fact]
    public void NeighborAdvertisement_WithTargetLinkAddress()
    {
        var frame = NdFrame(Nd(136, Target, LinkAddrOption(2, MacB)));
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out _));
        AssertKey(NdKey(136, null, MacB), key);
    }

    [Fact]
    public void NeighborDiscovery_BothOptions_UnknownOptionSkipped_NoOptions()
    {
        var mtu = Cat([5, 1, 0, 0], Be32(1500));
        var frame = NdFrame(Nd(135, Target, mtu, LinkAddrOption(2, MacB), LinkAddrOption(1, MacA)));
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out _));
        AssertKey(NdKey(135, MacA, MacB), key);

        frame = NdFrame(Nd(135, Target));
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out key, out _));
        AssertKey(NdKey(135, null, null), key);
    }

    [Fact]
    public void NeighborDiscovery_DuplicateOption_ClearsTargetAndAddresses()
    {
        var frame = NdFrame(Nd(135, Target, LinkAddrOption(1, MacA), LinkAddrOption(1, MacB)));
        Assert.Equal(ExtractStatus.MalformedL4, Extract(frame, out var key, out var layout));
        AssertKey(NdKey(135, null, null, target: false), key);
        Assert.Equal(54, layout.L4Offset);
    }

    [Fact]
    public void NeighborDiscovery_ZeroLengthOption_KeepsWhatWasFound()
    {
        var frame = NdFrame(Nd(136, Target, LinkAddrOption(2, MacB), new byte[] { 1, 0, 1, 2, 3, 4, 5, 6 }));
        Assert.Equal(ExtractStatus.MalformedL4, Extract(frame, out var key, out _));
        AssertKey(NdKey(136, null, MacB), key);
    }

    [Fact]
    public void NeighborDiscovery_OptionPastEnd_KeepsWhatWasFound()
    {
        var frame = NdFrame(Nd(135, Target, LinkAddrOption(1, MacA), new byte[] { 2, 2, 1, 2, 3, 4, 5, 6 }));
        Assert.Equal(ExtractStatus.MalformedL4, Extract(frame, out var key, out _));
        AssertKey(NdKey(135, MacA, null), key);
    }

    [Fact]
    public void NeighborDiscovery_TruncatedTarget_TypeCodeOnly()
    {
        var frame = NdFrame(Nd(135, Target)[..20]);
        Assert.Equal(ExtractStatus.TruncatedL4, Extract(frame, out var key, out var layout));
        AssertKey(NdKey(135, null, null, target: false), key);
        Assert.Equal(54, layout.L4Offset);
    }

    [Fact]
    public void NeighborDiscovery_NonZeroCode_IsPlainIcmpv6()
    {
        var nd = Nd(135, Target, LinkAddrOption(1, MacA));
        nd[1] = 1;
        var frame = NdFrame(nd);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out _));
        var e = Ipv6Key(58, hlim: 255); e.TpSrc = 135; e.TpDst = 1;
        AssertKey(e, key);
    }

    [Fact]
    public void Arp_RequestAndReply()
    {
        foreach (int op in new[] { 1, 2 })
        {
            var frame = Cat(Eth(0x0806), Arp(op, MacA, A, MacB, B), new byte[18]);
            Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
            var e = L2Key(0x0806);
            e.NwProto = (byte)op; e.Ipv4Src = A; e.Ipv4Dst = B; e.ArpSha = new MacAddress(MacA); e.ArpTha = new MacAddress(MacB);
            AssertKey(e, key);
            Assert.Equal(14, layout.L3Offset);
            Assert.Equal(-1, layout.L4Offset);
        }
    }

    [Fact]
    public void Rarp_SameFieldsAsArp()
    {
        var frame = Cat(Eth(0x8035), Arp(3, MacA, 0, MacA, 0));
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out _));
        var e = L2Key(0x8035); e.NwProto = 3; e.ArpSha = new MacAddress(MacA); e.ArpTha = new MacAddress(MacA);
        AssertKey(e, key);
    }

    [Fact]
    public void Arp_OpcodeAbove255_NotInNwProto()
    {
        var frame = Cat(Eth(0x0806), Arp(0x0101, MacA, A, MacB, B));
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out _));
        var e = L2Key(0x0806);
        e.Ipv4Src = A; e.Ipv4Dst = B; e.ArpSha = new MacAddress(MacA); e.ArpTha = new MacAddress(MacB);
        AssertKey(e, key);
    }

    [Theory]
    [InlineData(6, 0x0800, 6, 4)]   // IEEE 802 hardware
    [InlineData(1, 0x86dd, 6, 4)]   // other protocol
    [InlineData(1, 0x0800, 8, 4)]   // wrong hardware length
    [InlineData(1, 0x0800, 6, 16)]  // wrong protocol length
    public void Arp_NotEthernetIpv4_NoArpFields(int htype, int ptype, byte hlen, byte plen)
    {
        var frame = Cat(Eth(0x0806), Arp(1, MacA, A, MacB, B, htype, ptype, hlen, plen));
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        AssertKey(L2Key(0x0806), key);
        Assert.Equal(14, layout.L3Offset);
    }

    [Fact]
    public void Arp_Truncated()
    {
        var frame = Cat(Eth(0x0806), Arp(1, MacA, A, MacB, B)[..27]);
        Assert.Equal(ExtractStatus.TruncatedL3, Extract(frame, out var key, out var layout));
        AssertKey(L2Key(0x0806), key);
        Assert.Equal(-1, layout.L3Offset);
    }

    [Fact]
    public void UnknownEthertype_L2Only()
    {
        var frame = Cat(Eth(0x88cc), new byte[46]);
        Assert.Equal(ExtractStatus.Ok, Extract(frame, out var key, out var layout));
        AssertKey(L2Key(0x88cc), key);
        Assert.Equal(14, layout.L3Offset);
        Assert.Equal(-1, layout.L4Offset);
    }

    [Fact]
    public void Extract_FromPacketBuffer_UsesMetadataAndStoresLayout()
    {
        using var pool = new PacketPool(2);
        Assert.True(pool.TryRent(out var packet));
        var tcp = Tcp(80, 1234, 0x011);
        Assert.True(packet.TrySetFrame(Cat(Eth(0x8100), TagThen(9, 0x0800), Ipv4(6, A, B, tcp.Length), tcp)));
        packet.Metadata = Metadata;
        Assert.Equal(ExtractStatus.Ok, FlowExtractor.Extract(packet, out var key));
        Assert.Equal(18, packet.Layout.L3Offset);
        Assert.Equal(38, packet.Layout.L4Offset);
        var e = Ipv4Key(6); e.Vlan0Tpid = 0x8100; e.Vlan0Tci = 0x1009; e.TpSrc = 80; e.TpDst = 1234; e.TcpFlags = 0x011;
        AssertKey(e, key);
        packet.Release();
    }
}
