using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Vswitch.Packets;

/// <summary>
/// Builds a <see cref="FlowKey"/> from an Ethernet frame, following Open vSwitch's userspace
/// <c>miniflow_extract</c> (lib/flow.c): the same fields, the same shared storage and the same rules for
/// what is filled when headers are short or malformed.
/// </summary>
/// <remarks>
/// <para><b>Contract.</b> Never throws, never allocates, reads only inside the given span, and is safe to call
/// from any number of threads at once. The key is zeroed first and then filled as far as the headers are valid;
/// the returned <see cref="ExtractStatus"/> says where (and why) parsing stopped so callers can count it.</para>
/// <para><b>Metadata.</b> <see cref="FlowKey.RecircId"/>, <see cref="FlowKey.DpHash"/>, <see cref="FlowKey.SkbPriority"/>,
/// <see cref="FlowKey.SkbMark"/> and <see cref="FlowKey.InPort"/> always come from the metadata, whatever the frame.</para>
/// <para><b>Ethernet.</b> A frame under 14 bytes sets nothing else (<see cref="ExtractStatus.TruncatedL2"/>).
/// Up to two VLAN tags with TPID 0x8100 or 0x88a8, in either position, are parsed; a tag is parsed only if its
/// TCI and the following ethertype are present (OVS's <c>parse_vlan</c>), otherwise parsing stops with
/// <see cref="FlowKey.EthType"/> = that TPID. The stored TCI has <see cref="FlowKey.VlanCfi"/> set ("present").
/// A third tag stays payload: <see cref="FlowKey.EthType"/> is then its TPID. An ethertype below 0x600 is an
/// 802.3 length: if an LLC/SNAP header (AA AA 03, OUI 00 00 00) with an ethertype ≥ 0x600 follows,
/// that ethertype is used and the network header starts after the SNAP header; otherwise
/// <see cref="FlowKey.EthType"/> is <see cref="FlowKey.EthTypeNone"/> (0x05ff).</para>
/// <para><b>ARP / RARP</b> (0x0806, 0x8035): the 28-byte header must be present (else <see cref="ExtractStatus.TruncatedL3"/>).
/// Fields are filled only for Ethernet/IPv4 ARP (htype 1, ptype 0x0800, hlen 6, plen 4): SPA/TPA in
/// <see cref="FlowKey.Ipv4Src"/>/<see cref="FlowKey.Ipv4Dst"/>, SHA/THA in <see cref="FlowKey.ArpSha"/>/<see cref="FlowKey.ArpTha"/>,
/// and the opcode in <see cref="FlowKey.NwProto"/> only when it is ≤ 255. Other ARP formats are <see cref="ExtractStatus.Ok"/> with no ARP fields.</para>
/// <para><b>IPv4</b>: at least 20 bytes, IHL ≥ 5, IHL×4 ≤ total length ≤ available bytes, otherwise no
/// network field is set (<see cref="ExtractStatus.TruncatedL3"/>/<see cref="ExtractStatus.MalformedL3"/>). The version
/// nibble is not checked (neither does OVS). Options are skipped via IHL; bytes past the total length
/// (Ethernet padding) are never parsed as transport data. Fragment bits: <see cref="FlowKey.FragAny"/> when MF is set or the
/// offset is non-zero, plus <see cref="FlowKey.FragLater"/> when the offset is non-zero.</para>
/// <para><b>IPv6</b>: the 40-byte header and the payload length must fit, else nothing is set. Hop-by-hop, routing,
/// destination options, fragment and AH headers are skipped (each must have 8 bytes and its full length inside
/// the payload; otherwise only the addresses are set, as OVS). <see cref="FlowKey.NwProto"/> is the first other next-header value.
/// A fragment header with a non-zero offset/M field makes the packet a fragment; a non-zero offset makes it a later
/// fragment, and then <see cref="FlowKey.NwProto"/> is 44 (IPPROTO_FRAGMENT), as OVS and the Linux datapath report it.
/// <see cref="FlowKey.NwTos"/> is the traffic class, <see cref="FlowKey.NwTtl"/> the hop limit, <see cref="FlowKey.Ipv6Label"/> the 20-bit flow label.</para>
/// <para><b>Transport</b> (never for a later fragment; the protocol number selects the parser whichever IP version
/// carried it, as OVS): TCP (≥ 20 bytes: ports and the 12 flag bits), UDP (≥ 8: ports), SCTP (≥ 12: ports),
/// ICMP (≥ 8: type in <see cref="FlowKey.TpSrc"/>, code in <see cref="FlowKey.TpDst"/>), ICMPv6 (≥ 8: type/code likewise). A shorter
/// header leaves every transport field zero (<see cref="ExtractStatus.TruncatedL4"/>). An ICMPv6 neighbour solicitation
/// or advertisement (type 135/136, code 0) also sets <see cref="FlowKey.NdTarget"/> and, from its source/target link-layer
/// address options (type 1/2, length 1), <see cref="FlowKey.ArpSha"/>/<see cref="FlowKey.ArpTha"/>; see <see cref="ExtractStatus.MalformedL4"/>
/// for option errors.</para>
/// <para><b>Layout.</b> <see cref="PacketLayout.L3Offset"/> is the offset of the network header when the Ethernet
/// header (and tags) were complete and, for IPv4, IPv6 and ARP/RARP, the fixed network header passed the checks
/// above, so a set action may rewrite it in place; for any other ethertype it is the first byte after the L2
/// headers. <see cref="PacketLayout.L4Offset"/> is set only when the transport header the key describes
/// (TCP/UDP/SCTP/ICMP/ICMPv6, not a later fragment) is complete. Otherwise each is -1.</para>
/// </remarks>
public static class FlowExtractor
{
    private const int EthHeaderLength = 14;
    private const ushort EthTypeIpv4 = 0x0800;
    private const ushort EthTypeArp = 0x0806;
    private const ushort EthTypeRarp = 0x8035;
    private const ushort EthTypeIpv6 = 0x86dd;
    private const ushort EthTypeVlan = 0x8100;
    private const ushort EthTypeQinQ = 0x88a8;
    private const ushort EthTypeMin = 0x0600;

    private const byte ProtoHopByHop = 0;
    private const byte ProtoIcmp = 1;
    private const byte ProtoTcp = 6;
    private const byte ProtoUdp = 17;
    private const byte ProtoRouting = 43;
    private const byte ProtoFragment = 44;
    private const byte ProtoAh = 51;
    private const byte ProtoIcmpv6 = 58;
    private const byte ProtoDestOpts = 60;
    private const byte ProtoSctp = 132;

    private const byte NdNeighborSolicit = 135;
    private const byte NdNeighborAdvert = 136;
    private const byte NdOptSourceLinkAddr = 1;
    private const byte NdOptTargetLinkAddr = 2;

    /// <summary>
    /// Extracts the flow key of <paramref name="frame"/> (an Ethernet frame starting at its destination MAC).
    /// See the class remarks for exactly which fields are filled in which cases.
    /// </summary>
    /// <param name="frame">The frame; only these bytes are read.</param>
    /// <param name="metadata">Datapath metadata copied into the key (in_port, recirc_id, dp_hash, priority, mark).</param>
    /// <param name="key">Receives the key: zeroed, then filled as far as the headers are valid.</param>
    /// <param name="layout">Receives the L3/L4 header offsets from the frame start (-1 when absent).</param>
    /// <returns><see cref="ExtractStatus.Ok"/>, or why parsing stopped early. Never throws.</returns>
    [SkipLocalsInit]
    public static ExtractStatus Extract(ReadOnlySpan<byte> frame, in PacketMetadata metadata, out FlowKey key, out PacketLayout layout)
    {
        key = default;
        key.RecircId = metadata.RecircId;
        key.DpHash = metadata.DpHash;
        key.SkbPriority = metadata.SkbPriority;
        key.SkbMark = metadata.SkbMark;
        key.InPort = metadata.InPort;
        layout.L3Offset = -1;
        layout.L4Offset = -1;

        int size = frame.Length;
        if (size < EthHeaderLength)
            return ExtractStatus.TruncatedL2;

        ref byte p = ref MemoryMarshal.GetReference(frame);
        key.EthDst = Unsafe.ReadUnaligned<MacAddress>(ref p);
        key.EthSrc = Unsafe.ReadUnaligned<MacAddress>(ref Unsafe.Add(ref p, 6));

        // 'off' always points at a 2-byte ethertype/TPID that is inside the frame.
        int off = 12;
        ushort type = Be16(ref p, off);
        if (IsVlanTpid(type))
        {
            if (size - off < 6)
            {
                key.EthType = type;
                return ExtractStatus.TruncatedL2;
            }
            key.Vlan0Tpid = type;
            key.Vlan0Tci = (ushort)(Be16(ref p, off + 2) | FlowKey.VlanCfi);
            off += 4;
            type = Be16(ref p, off);
            if (IsVlanTpid(type))
            {
                if (size - off < 6)
                {
                    key.EthType = type;
                    return ExtractStatus.TruncatedL2;
                }
                key.Vlan1Tpid = type;
                key.Vlan1Tci = (ushort)(Be16(ref p, off + 2) | FlowKey.VlanCfi);
                off += 4;
                type = Be16(ref p, off);
            }
        }
        off += 2;
        if (type < EthTypeMin)
            type = ParseLlcSnap(ref p, size, ref off);
        key.EthType = type;

        int l3 = off;
        int l3Size = size - off;
        if (type == EthTypeIpv4)
            return ExtractIpv4(ref p, l3, l3Size, ref key, ref layout);
        if (type == EthTypeIpv6)
            return ExtractIpv6(ref p, l3, l3Size, ref key, ref layout);
        if (type == EthTypeArp || type == EthTypeRarp)
            return ExtractArp(ref p, l3, l3Size, ref key, ref layout);

        layout.L3Offset = (short)l3;
        return ExtractStatus.Ok;
    }

    /// <summary>
    /// Extracts the key of <paramref name="packet"/> using its <see cref="PacketBuffer.Metadata"/>, and stores the header
    /// offsets in its <see cref="PacketBuffer.Layout"/>. Same rules as the span overload; never throws or allocates.
    /// </summary>
    /// <param name="packet">The packet (not modified except for <see cref="PacketBuffer.Layout"/>).</param>
    /// <param name="key">Receives the key.</param>
    /// <returns>The extraction status.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ExtractStatus Extract(PacketBuffer packet, out FlowKey key) =>
        Extract(packet.Data, in packet.Metadata, out key, out packet.Layout);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsVlanTpid(ushort type) => type == EthTypeVlan || type == EthTypeQinQ;

    /// <summary>OVS's parse_ethertype for an 802.3 length field; 'off' is just after the length field.</summary>
    private static ushort ParseLlcSnap(ref byte p, int size, ref int off)
    {
        if (size - off < 8)
            return FlowKey.EthTypeNone;
        ref byte llc = ref Unsafe.Add(ref p, off);
        // DSAP 0xAA, SSAP 0xAA, control 0x03, OUI 00-00-00: the first 6 bytes as a big-endian 48-bit value.
        if (Unsafe.Add(ref llc, 0) != 0xAA || Unsafe.Add(ref llc, 1) != 0xAA || Unsafe.Add(ref llc, 2) != 0x03 ||
            Unsafe.Add(ref llc, 3) != 0 || Unsafe.Add(ref llc, 4) != 0 || Unsafe.Add(ref llc, 5) != 0)
            return FlowKey.EthTypeNone;
        ushort snapType = Be16(ref llc, 6);
        if (snapType < EthTypeMin)
            return FlowKey.EthTypeNone;
        off += 8;
        return snapType;
    }

    private static ExtractStatus ExtractIpv4(ref byte p, int l3, int size, ref FlowKey key, ref PacketLayout layout)
    {
        if (size < 20)
            return ExtractStatus.TruncatedL3;
        ref byte ip = ref Unsafe.Add(ref p, l3);
        int headerLength = (ip & 0x0F) * 4;
        if (headerLength < 20)
            return ExtractStatus.MalformedL3;
        if (size < headerLength)
            return ExtractStatus.TruncatedL3;
        int totalLength = Be16(ref ip, 2);
        if (totalLength > size)
            return ExtractStatus.TruncatedL3;
        if (headerLength > totalLength || size - totalLength > ushort.MaxValue)
            return ExtractStatus.MalformedL3;

        key.Ipv4Src = Be32(ref ip, 12);
        key.Ipv4Dst = Be32(ref ip, 16);
        key.NwTos = Unsafe.Add(ref ip, 1);
        key.NwTtl = Unsafe.Add(ref ip, 8);
        byte proto = Unsafe.Add(ref ip, 9);
        key.NwProto = proto;
        ushort fragField = Be16(ref ip, 6);
        byte frag = 0;
        if ((fragField & 0x3FFF) != 0)
        {
            frag = FlowKey.FragAny;
            if ((fragField & 0x1FFF) != 0)
                frag |= FlowKey.FragLater;
        }
        key.NwFrag = frag;
        layout.L3Offset = (short)l3;

        if ((frag & FlowKey.FragLater) != 0)
            return ExtractStatus.Ok;
        return ExtractL4(ref p, l3 + headerLength, totalLength - headerLength, proto, ref key, ref layout);
    }

    private static ExtractStatus ExtractIpv6(ref byte p, int l3, int size, ref FlowKey key, ref PacketLayout layout)
    {
        if (size < 40)
            return ExtractStatus.TruncatedL3;
        ref byte ip = ref Unsafe.Add(ref p, l3);
        int payloadLength = Be16(ref ip, 4);
        if (payloadLength + 40 > size)
            return ExtractStatus.TruncatedL3;
        if (size - (payloadLength + 40) > ushort.MaxValue)
            return ExtractStatus.MalformedL3;

        key.Ipv6Src = Unsafe.ReadUnaligned<Ipv6Address>(ref Unsafe.Add(ref ip, 8));
        key.Ipv6Dst = Unsafe.ReadUnaligned<Ipv6Address>(ref Unsafe.Add(ref ip, 24));
        layout.L3Offset = (short)l3;
        uint tcFlow = Be32(ref ip, 0);
        byte proto = Unsafe.Add(ref ip, 6);

        // Extension headers: 'pos' is the next header's offset in the frame, 'end' the end of the payload.
        int pos = l3 + 40;
        int end = pos + payloadLength;
        byte frag = 0;
        while (true)
        {
            if (proto != ProtoHopByHop && proto != ProtoRouting && proto != ProtoDestOpts &&
                proto != ProtoAh && proto != ProtoFragment)
                break;
            if (end - pos < 8)
                return ExtractStatus.TruncatedL3;
            ref byte ext = ref Unsafe.Add(ref p, pos);
            byte next = ext;
            if (proto == ProtoFragment)
            {
                ushort offsetAndFlags = Be16(ref ext, 2);
                pos += 8;
                proto = next;
                if (offsetAndFlags != 0)
                {
                    frag = FlowKey.FragAny;
                    if ((offsetAndFlags & 0xFFF8) != 0)
                    {
                        frag |= FlowKey.FragLater;
                        proto = ProtoFragment;
                        break;
                    }
                }
            }
            else
            {
                int length = proto == ProtoAh
                    ? (Unsafe.Add(ref ext, 1) + 2) * 4
                    : (Unsafe.Add(ref ext, 1) + 1) * 8;
                if (end - pos < length)
                    return ExtractStatus.TruncatedL3;
                pos += length;
                proto = next;
            }
        }

        key.Ipv6Label = tcFlow & 0x000F_FFFF;
        key.NwTos = (byte)(tcFlow >> 20);
        key.NwTtl = Unsafe.Add(ref ip, 7);
        key.NwProto = proto;
        key.NwFrag = frag;

        if ((frag & FlowKey.FragLater) != 0)
            return ExtractStatus.Ok;
        return ExtractL4(ref p, pos, end - pos, proto, ref key, ref layout);
    }

    private static ExtractStatus ExtractArp(ref byte p, int l3, int size, ref FlowKey key, ref PacketLayout layout)
    {
        if (size < 28)
            return ExtractStatus.TruncatedL3;
        layout.L3Offset = (short)l3;
        ref byte arp = ref Unsafe.Add(ref p, l3);
        if (Be16(ref arp, 0) != 1 || Be16(ref arp, 2) != EthTypeIpv4 ||
            Unsafe.Add(ref arp, 4) != 6 || Unsafe.Add(ref arp, 5) != 4)
            return ExtractStatus.Ok;
        ushort op = Be16(ref arp, 6);
        if (op <= 0xFF)
            key.NwProto = (byte)op;
        key.ArpSha = Unsafe.ReadUnaligned<MacAddress>(ref Unsafe.Add(ref arp, 8));
        key.Ipv4Src = Be32(ref arp, 14);
        key.ArpTha = Unsafe.ReadUnaligned<MacAddress>(ref Unsafe.Add(ref arp, 18));
        key.Ipv4Dst = Be32(ref arp, 24);
        return ExtractStatus.Ok;
    }

    /// <summary>Transport header at frame offset <paramref name="l4"/> with <paramref name="size"/> bytes of IP payload.</summary>
    private static ExtractStatus ExtractL4(ref byte p, int l4, int size, byte proto, ref FlowKey key, ref PacketLayout layout)
    {
        int minimum = proto switch
        {
            ProtoTcp => 20,
            ProtoUdp => 8,
            ProtoSctp => 12,
            ProtoIcmp => 8,
            ProtoIcmpv6 => 8,
            _ => 0,
        };
        if (minimum == 0)
            return ExtractStatus.Ok;
        if (size < minimum)
            return ExtractStatus.TruncatedL4;
        if (l4 > short.MaxValue)
            return ExtractStatus.MalformedL4;

        ref byte h = ref Unsafe.Add(ref p, l4);
        layout.L4Offset = (short)l4;
        if (proto == ProtoTcp)
        {
            key.TpSrc = Be16(ref h, 0);
            key.TpDst = Be16(ref h, 2);
            ushort control = Be16(ref h, 12);
            key.TcpFlags = (ushort)(control & 0x0FFF);
            int dataOffset = (control >> 12) * 4;
            return dataOffset < 20 || dataOffset > size ? ExtractStatus.MalformedL4 : ExtractStatus.Ok;
        }
        if (proto == ProtoUdp || proto == ProtoSctp)
        {
            key.TpSrc = Be16(ref h, 0);
            key.TpDst = Be16(ref h, 2);
            return ExtractStatus.Ok;
        }

        // ICMP / ICMPv6: type and code.
        byte icmpType = h;
        byte icmpCode = Unsafe.Add(ref h, 1);
        key.TpSrc = icmpType;
        key.TpDst = icmpCode;
        if (proto == ProtoIcmpv6 && icmpCode == 0 && (icmpType == NdNeighborSolicit || icmpType == NdNeighborAdvert))
            return ExtractNeighborDiscovery(ref Unsafe.Add(ref h, 8), size - 8, ref key);
        return ExtractStatus.Ok;
    }

    /// <summary>OVS's parse_icmpv6: ND target, then SLL/TLL options. 'nd' points after the 8-byte ICMPv6 header.</summary>
    private static ExtractStatus ExtractNeighborDiscovery(ref byte nd, int size, ref FlowKey key)
    {
        if (size < 16)
            return ExtractStatus.TruncatedL4;
        Ipv6Address target = Unsafe.ReadUnaligned<Ipv6Address>(ref nd);
        MacAddress sourceLinkAddr = default;
        MacAddress targetLinkAddr = default;
        int pos = 16;
        var status = ExtractStatus.Ok;
        while (size - pos >= 8)
        {
            ref byte opt = ref Unsafe.Add(ref nd, pos);
            byte optType = opt;
            int optLength = Unsafe.Add(ref opt, 1) * 8;
            if (optLength == 0 || optLength > size - pos)
            {
                status = ExtractStatus.MalformedL4;
                break;
            }
            if (optLength == 8 && optType == NdOptSourceLinkAddr)
            {
                if (!sourceLinkAddr.IsZero)
                    return ExtractStatus.MalformedL4;   // duplicate: target and addresses stay zero, as OVS
                sourceLinkAddr = Unsafe.ReadUnaligned<MacAddress>(ref Unsafe.Add(ref opt, 2));
            }
            else if (optLength == 8 && optType == NdOptTargetLinkAddr)
            {
                if (!targetLinkAddr.IsZero)
                    return ExtractStatus.MalformedL4;
                targetLinkAddr = Unsafe.ReadUnaligned<MacAddress>(ref Unsafe.Add(ref opt, 2));
            }
            pos += optLength;
        }
        key.NdTarget = target;
        key.ArpSha = sourceLinkAddr;
        key.ArpTha = targetLinkAddr;
        return status;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort Be16(ref byte p, int offset)
    {
        ushort v = Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref p, offset));
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(v) : v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Be32(ref byte p, int offset)
    {
        uint v = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, offset));
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(v) : v;
    }
}
