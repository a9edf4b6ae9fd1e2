using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using Vswitch.Datapath.Odp;
using Vswitch.Packets;

namespace Vswitch.Datapath.Userspace;

/// <summary>
/// In-place header edits for the action executor: push/pop VLAN and masked <c>set</c> of Ethernet, IPv4, IPv6, TCP,
/// UDP, SCTP fields and metadata, with incremental checksum updates (RFC 1624) for IPv4 and TCP/UDP/ICMPv6 and a
/// recomputed CRC32c for SCTP. Offsets come from <see cref="PacketBuffer.Layout"/> (set by extraction, kept up to date
/// by push/pop). Every method returns false instead of throwing when the frame does not have the header.
/// </summary>
internal static class HeaderRewriter
{
    public static bool PushVlan(PacketBuffer p, ushort tpid, ushort tci)
    {
        if (p.Length < 14 || !p.TryPush(4)) return false;
        var d = p.Data;
        d.Slice(4, 12).CopyTo(d);
        BinaryPrimitives.WriteUInt16BigEndian(d[12..], tpid);
        BinaryPrimitives.WriteUInt16BigEndian(d[14..], (ushort)(tci & ~FlowKey.VlanCfi));
        if (p.Layout.L3Offset >= 0) p.Layout.L3Offset += 4;
        if (p.Layout.L4Offset >= 0) p.Layout.L4Offset += 4;
        return true;
    }

    public static void PopVlan(PacketBuffer p)
    {
        var d = p.Data;
        if (d.Length < 18) return;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(d[12..]);
        if (type != 0x8100 && type != 0x88A8) return;
        d[..12].CopyTo(d[4..]);
        p.TryPull(4);
        if (p.Layout.L3Offset >= 4) p.Layout.L3Offset -= 4;
        if (p.Layout.L4Offset >= 4) p.Layout.L4Offset -= 4;
    }

    /// <summary>Applies a set action; false when the packet lacks the header (the packet is left unchanged).</summary>
    public static bool ApplySet(PacketBuffer p, SetAction set)
    {
        ref readonly FlowKey v = ref set.Value;
        ref readonly FlowKey m = ref set.Mask;
        switch (set.Target)
        {
            case OdpSetTarget.Ethernet:
                {
                    var d = p.Data;
                    if (d.Length < 14) return false;
                    SetBytes(d[..6], Bytes(in v.EthDst), Bytes(in m.EthDst));
                    SetBytes(d.Slice(6, 6), Bytes(in v.EthSrc), Bytes(in m.EthSrc));
                    return true;
                }
            case OdpSetTarget.SkbPriority:
                p.Metadata.SkbPriority = (p.Metadata.SkbPriority & ~m.SkbPriority) | (v.SkbPriority & m.SkbPriority);
                return true;
            case OdpSetTarget.SkbMark:
                p.Metadata.SkbMark = (p.Metadata.SkbMark & ~m.SkbMark) | (v.SkbMark & m.SkbMark);
                return true;
            case OdpSetTarget.Ipv4: return SetIpv4(p, in v, in m);
            case OdpSetTarget.Ipv6: return SetIpv6(p, in v, in m);
            case OdpSetTarget.Tcp: return SetPorts(p, 6, in v, in m);
            case OdpSetTarget.Udp: return SetPorts(p, 17, in v, in m);
            case OdpSetTarget.Sctp: return SetPorts(p, 132, in v, in m);
            default: return false;
        }
    }

    private static ReadOnlySpan<byte> Bytes<T>(in T value) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value));

    private static void SetBytes(Span<byte> dst, ReadOnlySpan<byte> value, ReadOnlySpan<byte> mask)
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = (byte)((dst[i] & ~mask[i]) | (value[i] & mask[i]));
    }

    private static bool SetIpv4(PacketBuffer p, in FlowKey v, in FlowKey m)
    {
        var d = p.Data;
        int l3 = p.Layout.L3Offset;
        if (l3 < 0 || d.Length < l3 + 20 || (d[l3] >> 4) != 4) return false;
        var ip = d[l3..];
        int l4 = p.Layout.L4Offset;
        byte proto = ip[9];
        ushort ipCsum = BinaryPrimitives.ReadUInt16BigEndian(ip[10..]);
        // TOS and TTL share 16-bit words with neighbours; update the checksum word-wise.
        if (m.NwTos != 0)
        {
            ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(ip);
            ip[1] = (byte)((ip[1] & ~m.NwTos) | (v.NwTos & m.NwTos));
            ipCsum = Update16(ipCsum, oldWord, BinaryPrimitives.ReadUInt16BigEndian(ip));
        }
        if (m.NwTtl != 0)
        {
            ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(ip[8..]);
            ip[8] = (byte)((ip[8] & ~m.NwTtl) | (v.NwTtl & m.NwTtl));
            ipCsum = Update16(ipCsum, oldWord, BinaryPrimitives.ReadUInt16BigEndian(ip[8..]));
        }
        int l4CsumOffset = L4ChecksumOffset(d, l4, proto);
        for (int which = 0; which < 2; which++)
        {
            uint mask = which == 0 ? m.Ipv4Src : m.Ipv4Dst;
            if (mask == 0) continue;
            var field = ip.Slice(which == 0 ? 12 : 16, 4);
            uint old = BinaryPrimitives.ReadUInt32BigEndian(field);
            uint now = (old & ~mask) | ((which == 0 ? v.Ipv4Src : v.Ipv4Dst) & mask);
            BinaryPrimitives.WriteUInt32BigEndian(field, now);
            ipCsum = Update32(ipCsum, old, now);
            if (l4CsumOffset >= 0) UpdateL4(d, l4CsumOffset, proto, old, now);
        }
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], ipCsum);
        return true;
    }

    private static bool SetIpv6(PacketBuffer p, in FlowKey v, in FlowKey m)
    {
        var d = p.Data;
        int l3 = p.Layout.L3Offset;
        if (l3 < 0 || d.Length < l3 + 40 || (d[l3] >> 4) != 6) return false;
        var ip = d[l3..];
        uint vtcfl = BinaryPrimitives.ReadUInt32BigEndian(ip);
        uint tcMask = (uint)m.NwTos << 20, flMask = m.Ipv6Label & 0xFFFFF;
        vtcfl = (vtcfl & ~tcMask) | (((uint)v.NwTos << 20) & tcMask);
        vtcfl = (vtcfl & ~flMask) | (v.Ipv6Label & flMask);
        BinaryPrimitives.WriteUInt32BigEndian(ip, vtcfl);
        if (m.NwTtl != 0) ip[7] = (byte)((ip[7] & ~m.NwTtl) | (v.NwTtl & m.NwTtl));
        int l4 = p.Layout.L4Offset;
        // The L4 protocol: the key's view (after extension headers) is what L4Offset points at.
        byte proto = l4 >= 0 ? GuessIpv6L4Proto(d, l3, l4) : (byte)0;
        int csumOff = L4ChecksumOffset(d, l4, proto);
        for (int which = 0; which < 2; which++)
        {
            var mask = Bytes(in which == 0 ? ref Unsafe.AsRef(in m.Ipv6Src) : ref Unsafe.AsRef(in m.Ipv6Dst));
            var val = Bytes(in which == 0 ? ref Unsafe.AsRef(in v.Ipv6Src) : ref Unsafe.AsRef(in v.Ipv6Dst));
            var field = ip.Slice(which == 0 ? 8 : 24, 16);
            for (int w = 0; w < 16; w += 4)
            {
                uint mk = BinaryPrimitives.ReadUInt32BigEndian(mask[w..]);
                if (mk == 0) continue;
                uint old = BinaryPrimitives.ReadUInt32BigEndian(field[w..]);
                uint now = (old & ~mk) | (BinaryPrimitives.ReadUInt32BigEndian(val[w..]) & mk);
                BinaryPrimitives.WriteUInt32BigEndian(field[w..], now);
                if (csumOff >= 0) UpdateL4(d, csumOff, proto, old, now);
            }
        }
        return true;
    }

    private static byte GuessIpv6L4Proto(Span<byte> d, int l3, int l4)
    {
        // Walk the extension chain again to the header at l4 (rarely more than the fixed header).
        byte next = d[l3 + 6];
        int off = l3 + 40;
        while (off < l4 && off + 2 <= d.Length)
        {
            byte nn = d[off];
            int len = next == 44 ? 8 : next == 51 ? (d[off + 1] + 2) * 4 : (d[off + 1] + 1) * 8;
            off += len;
            next = nn;
        }
        return next;
    }

    private static int L4ChecksumOffset(Span<byte> d, int l4, byte proto)
    {
        if (l4 < 0) return -1;
        int off = proto switch { 6 => l4 + 16, 17 => l4 + 6, 58 => l4 + 2, _ => -1 };
        return off >= 0 && off + 2 <= d.Length ? off : -1;
    }

    private static void UpdateL4(Span<byte> d, int csumOff, byte proto, uint old, uint now)
    {
        ushort c = BinaryPrimitives.ReadUInt16BigEndian(d[csumOff..]);
        if (proto == 17 && c == 0) return; // UDP without checksum stays without
        c = Update32(c, old, now);
        if (proto == 17 && c == 0) c = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(d[csumOff..], c);
    }

    private static bool SetPorts(PacketBuffer p, byte proto, in FlowKey v, in FlowKey m)
    {
        var d = p.Data;
        int l4 = p.Layout.L4Offset;
        int need = proto == 6 ? 20 : proto == 17 ? 8 : 12;
        if (l4 < 0 || d.Length < l4 + need || !L4IsProto(d, p.Layout.L3Offset, l4, proto)) return false;
        var h = d[l4..];
        ushort oldSrc = BinaryPrimitives.ReadUInt16BigEndian(h), oldDst = BinaryPrimitives.ReadUInt16BigEndian(h[2..]);
        ushort src = (ushort)((oldSrc & ~m.TpSrc) | (v.TpSrc & m.TpSrc));
        ushort dst = (ushort)((oldDst & ~m.TpDst) | (v.TpDst & m.TpDst));
        BinaryPrimitives.WriteUInt16BigEndian(h, src);
        BinaryPrimitives.WriteUInt16BigEndian(h[2..], dst);
        if (proto == 132)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(h[8..], 0);
            BinaryPrimitives.WriteUInt32LittleEndian(h[8..], Crc32c(h));
            return true;
        }
        int csumOff = proto == 6 ? 16 : 6;
        ushort c = BinaryPrimitives.ReadUInt16BigEndian(h[csumOff..]);
        if (proto == 17 && c == 0) return true;
        c = Update16(Update16(c, oldSrc, src), oldDst, dst);
        if (proto == 17 && c == 0) c = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(h[csumOff..], c);
        return true;
    }

    private static bool L4IsProto(Span<byte> d, int l3, int l4, byte proto)
    {
        if (l3 < 0) return false;
        if ((d[l3] >> 4) == 4) return d[l3 + 9] == proto;
        return GuessIpv6L4Proto(d, l3, l4) == proto;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort Update16(ushort csum, ushort oldWord, ushort newWord) => Checksum.Update16(csum, oldWord, newWord);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort Update32(ushort csum, uint oldValue, uint newValue) => Checksum.Update32(csum, oldValue, newValue);

    /// <summary>CRC32c (Castagnoli) as SCTP uses it (result to be stored little-endian).</summary>
    public static uint Crc32c(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        int i = 0;
        if (Sse42.X64.IsSupported)
        {
            ulong c = crc;
            for (; i + 8 <= data.Length; i += 8) c = Sse42.X64.Crc32(c, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
            crc = (uint)c;
        }
        if (Sse42.IsSupported)
        {
            for (; i < data.Length; i++) crc = Sse42.Crc32(crc, data[i]);
        }
        else
        {
            for (; i < data.Length; i++)
            {
                crc ^= data[i];
                for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82F63B78u & (uint)-(int)(crc & 1));
            }
        }
        return ~crc;
    }
}
