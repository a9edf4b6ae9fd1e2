using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Vswitch.Packets;

namespace Vswitch.Datapath.Userspace;

/// <summary>
/// Builds the datapath <see cref="FlowKey"/> of a frame and records its header offsets in
/// <see cref="PacketBuffer.Layout"/>. This is the userspace datapath's single entry point for flow extraction
/// (Ethernet, up to two VLAN tags, LLC/SNAP, ARP, IPv4, IPv6 with extension headers, TCP, UDP, SCTP, ICMP,
/// ICMPv6 with neighbour discovery). A frame that ends inside a header gives the key as far as it parsed and
/// returns false (the caller counts it as malformed); it never throws and never allocates.
/// </summary>
internal static class PacketKeyExtractor
{
    private const ushort EthTypeIpv4 = 0x0800, EthTypeIpv6 = 0x86DD, EthTypeArp = 0x0806, EthTypeRarp = 0x8035;
    private const ushort Tpid8021Q = 0x8100, Tpid8021AD = 0x88A8;

    /// <summary>Extracts the key of <paramref name="packet"/> (metadata fields from <see cref="PacketBuffer.Metadata"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Extract(PacketBuffer packet, out FlowKey key)
    {
        key = default;
        ref readonly var md = ref packet.Metadata;
        key.InPort = md.InPort;
        key.RecircId = md.RecircId;
        key.DpHash = md.DpHash;
        key.SkbPriority = md.SkbPriority;
        key.SkbMark = md.SkbMark;
        var layout = PacketLayout.None;
        bool ok = Parse(packet.Data, ref key, ref layout);
        packet.Layout = layout;
        return ok;
    }

    private static bool Parse(ReadOnlySpan<byte> f, ref FlowKey key, ref PacketLayout layout)
    {
        if (f.Length < 14) return false;
        key.EthDst = MemoryMarshal.Read<MacAddress>(f);
        key.EthSrc = MemoryMarshal.Read<MacAddress>(f[6..]);
        int off = 12;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(f[off..]);
        // VLAN tags (up to two are kept; more are skipped as OVS would leave them in the payload).
        if (type == Tpid8021Q || type == Tpid8021AD)
        {
            if (f.Length < off + 6) return false;
            key.Vlan0Tpid = type;
            key.Vlan0Tci = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(f[(off + 2)..]) | FlowKey.VlanCfi);
            off += 4;
            type = BinaryPrimitives.ReadUInt16BigEndian(f[off..]);
            if (type == Tpid8021Q || type == Tpid8021AD)
            {
                if (f.Length < off + 6) return false;
                key.Vlan1Tpid = type;
                key.Vlan1Tci = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(f[(off + 2)..]) | FlowKey.VlanCfi);
                off += 4;
                type = BinaryPrimitives.ReadUInt16BigEndian(f[off..]);
            }
        }
        off += 2;
        if (type < 0x600)
        {
            // 802.3 length field: LLC/SNAP carries an ethertype, anything else has none.
            if (f.Length >= off + 8 && f[off] == 0xAA && f[off + 1] == 0xAA && f[off + 2] == 0x03
                && f[off + 3] == 0 && f[off + 4] == 0 && f[off + 5] == 0)
            {
                type = BinaryPrimitives.ReadUInt16BigEndian(f[(off + 6)..]);
                off += 8;
            }
            else
            {
                key.EthType = FlowKey.EthTypeNone;
                return true;
            }
        }
        key.EthType = type;
        layout.L3Offset = (short)off;
        var l3 = f[off..];
        switch (type)
        {
            case EthTypeIpv4: return ParseIpv4(l3, off, ref key, ref layout);
            case EthTypeIpv6: return ParseIpv6(l3, off, ref key, ref layout);
            case EthTypeArp:
            case EthTypeRarp: return ParseArp(l3, ref key);
            default: return true;
        }
    }

    private static bool ParseArp(ReadOnlySpan<byte> a, ref FlowKey key)
    {
        if (a.Length < 28) return false;
        // Only Ethernet/IPv4 ARP fills the key (as OVS).
        if (BinaryPrimitives.ReadUInt16BigEndian(a) != 1 || BinaryPrimitives.ReadUInt16BigEndian(a[2..]) != 0x0800 || a[4] != 6 || a[5] != 4)
            return true;
        ushort op = BinaryPrimitives.ReadUInt16BigEndian(a[6..]);
        if (op <= 0xff) key.NwProto = (byte)op;
        key.ArpSha = MemoryMarshal.Read<MacAddress>(a[8..]);
        key.Ipv4Src = BinaryPrimitives.ReadUInt32BigEndian(a[14..]);
        key.ArpTha = MemoryMarshal.Read<MacAddress>(a[18..]);
        key.Ipv4Dst = BinaryPrimitives.ReadUInt32BigEndian(a[24..]);
        return true;
    }

    private static bool ParseIpv4(ReadOnlySpan<byte> ip, int l3Offset, ref FlowKey key, ref PacketLayout layout)
    {
        if (ip.Length < 20) return false;
        int ihl = (ip[0] & 0x0F) * 4;
        if ((ip[0] >> 4) != 4 || ihl < 20 || ip.Length < ihl) return false;
        key.NwTos = ip[1];
        ushort fragField = BinaryPrimitives.ReadUInt16BigEndian(ip[6..]);
        key.NwTtl = ip[8];
        key.NwProto = ip[9];
        key.Ipv4Src = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]);
        key.Ipv4Dst = BinaryPrimitives.ReadUInt32BigEndian(ip[16..]);
        if ((fragField & 0x3FFF) != 0)
        {
            key.NwFrag = FlowKey.FragAny;
            if ((fragField & 0x1FFF) != 0)
            {
                key.NwFrag |= FlowKey.FragLater;
                return true;
            }
        }
        int l4 = l3Offset + ihl;
        return ParseL4(ip[ihl..], l4, key.NwProto, false, ref key, ref layout);
    }

    private static bool ParseIpv6(ReadOnlySpan<byte> ip, int l3Offset, ref FlowKey key, ref PacketLayout layout)
    {
        if (ip.Length < 40) return false;
        uint vtcfl = BinaryPrimitives.ReadUInt32BigEndian(ip);
        if ((vtcfl >> 28) != 6) return false;
        key.NwTos = (byte)(vtcfl >> 20);
        key.Ipv6Label = vtcfl & 0xFFFFF;
        byte next = ip[6];
        key.NwTtl = ip[7];
        key.Ipv6Src = MemoryMarshal.Read<Ipv6Address>(ip[8..]);
        key.Ipv6Dst = MemoryMarshal.Read<Ipv6Address>(ip[24..]);
        int off = 40;
        // Extension headers: hop-by-hop (0), routing (43), destination options (60), fragment (44), AH (51).
        for (int guard = 0; guard < 8; guard++)
        {
            if (next is 0 or 43 or 60 or 51)
            {
                if (ip.Length < off + 8) { key.NwProto = next; return false; }
                byte nn = ip[off];
                int len = next == 51 ? (ip[off + 1] + 2) * 4 : (ip[off + 1] + 1) * 8;
                off += len;
                next = nn;
            }
            else if (next == 44)
            {
                if (ip.Length < off + 8) { key.NwProto = next; return false; }
                byte nn = ip[off];
                ushort fo = BinaryPrimitives.ReadUInt16BigEndian(ip[(off + 2)..]);
                key.NwFrag = FlowKey.FragAny;
                off += 8;
                next = nn;
                if ((fo & 0xFFF8) != 0)
                {
                    key.NwFrag |= FlowKey.FragLater;
                    key.NwProto = next;
                    return true;
                }
            }
            else break;
        }
        key.NwProto = next;
        if (ip.Length < off) return false;
        return ParseL4(ip[off..], l3Offset + off, next, true, ref key, ref layout);
    }

    private static bool ParseL4(ReadOnlySpan<byte> l4, int l4Offset, byte proto, bool ipv6, ref FlowKey key, ref PacketLayout layout)
    {
        switch (proto)
        {
            case 6: // TCP
                if (l4.Length < 20) return false;
                layout.L4Offset = (short)l4Offset;
                key.TpSrc = BinaryPrimitives.ReadUInt16BigEndian(l4);
                key.TpDst = BinaryPrimitives.ReadUInt16BigEndian(l4[2..]);
                key.TcpFlags = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(l4[12..]) & 0x0FFF);
                return true;
            case 17: // UDP
            case 132: // SCTP
                if (l4.Length < (proto == 17 ? 8 : 12)) return false;
                layout.L4Offset = (short)l4Offset;
                key.TpSrc = BinaryPrimitives.ReadUInt16BigEndian(l4);
                key.TpDst = BinaryPrimitives.ReadUInt16BigEndian(l4[2..]);
                return true;
            case 1 when !ipv6: // ICMP
                if (l4.Length < 8) return false;
                layout.L4Offset = (short)l4Offset;
                key.TpSrc = l4[0];
                key.TpDst = l4[1];
                return true;
            case 58 when ipv6: // ICMPv6
                if (l4.Length < 8) return false;
                layout.L4Offset = (short)l4Offset;
                key.TpSrc = l4[0];
                key.TpDst = l4[1];
                if ((l4[0] == 135 || l4[0] == 136) && l4[1] == 0) return ParseNd(l4, ref key);
                return true;
            default:
                return true;
        }
    }

    private static bool ParseNd(ReadOnlySpan<byte> icmp, ref FlowKey key)
    {
        if (icmp.Length < 24) return false;
        key.NdTarget = MemoryMarshal.Read<Ipv6Address>(icmp[8..]);
        int off = 24;
        while (icmp.Length >= off + 8)
        {
            byte type = icmp[off];
            int len = icmp[off + 1] * 8;
            if (len == 0 || icmp.Length < off + len) return false;
            if (len == 8)
            {
                if (type == 1 && icmp[0] == 135 && key.ArpSha.IsZero) key.ArpSha = MemoryMarshal.Read<MacAddress>(icmp[(off + 2)..]);
                else if (type == 2 && icmp[0] == 136 && key.ArpTha.IsZero) key.ArpTha = MemoryMarshal.Read<MacAddress>(icmp[(off + 2)..]);
            }
            off += len;
        }
        return true;
    }
}
