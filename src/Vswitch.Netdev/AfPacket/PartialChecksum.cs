using System.Buffers.Binary;
using Vswitch.Packets;

namespace Vswitch.Netdev.AfPacket;

/// <summary>
/// Completes TCP and UDP checksums that the kernel left partial (CHECKSUM_PARTIAL, reported by
/// PACKET_AUXDATA's TP_STATUS_CSUMNOTREADY): frames a local stack sends through a veth carry only the
/// pseudo-header sum, which is wrong on any other wire. The checksum is recomputed from scratch over the
/// pseudo-header and the L4 segment. Allocation-free; never reads outside the frame.
/// </summary>
public static class PartialChecksum
{
    private const int ProtoTcp = 6;
    private const int ProtoUdp = 17;

    /// <summary>
    /// Recomputes the TCP/UDP checksum of an Ethernet frame (up to two VLAN tags, IPv4 without fragments or
    /// IPv6 without extension headers). Returns false (frame unchanged) when the frame is not such a packet or is malformed.
    /// </summary>
    public static bool TryComplete(Span<byte> frame)
    {
        if (frame.Length < 14) return false;
        int offset = 12;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]);
        for (int tags = 0; tags < 2 && (type == 0x8100 || type == 0x88A8); tags++)
        {
            offset += 4;
            if (frame.Length < offset + 2) return false;
            type = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]);
        }
        int l3 = offset + 2;
        uint sum;
        int protocol, l4, l4Length;
        if (type == 0x0800)
        {
            if (frame.Length < l3 + 20 || (frame[l3] >> 4) != 4) return false;
            int ihl = (frame[l3] & 0xF) * 4;
            int total = BinaryPrimitives.ReadUInt16BigEndian(frame[(l3 + 2)..]);
            if (ihl < 20 || total < ihl || l3 + total > frame.Length) return false;
            if ((BinaryPrimitives.ReadUInt16BigEndian(frame[(l3 + 6)..]) & 0x3FFF) != 0) return false; // fragment
            protocol = frame[l3 + 9];
            l4 = l3 + ihl;
            l4Length = total - ihl;
            sum = Checksum.Sum(frame.Slice(l3 + 12, 8));
        }
        else if (type == 0x86DD)
        {
            if (frame.Length < l3 + 40 || (frame[l3] >> 4) != 6) return false;
            int payload = BinaryPrimitives.ReadUInt16BigEndian(frame[(l3 + 4)..]);
            protocol = frame[l3 + 6];
            l4 = l3 + 40;
            l4Length = payload;
            if (l4 + l4Length > frame.Length) return false;
            sum = Checksum.Sum(frame.Slice(l3 + 8, 32));
        }
        else
        {
            return false;
        }
        int field;
        if (protocol == ProtoTcp) { if (l4Length < 20) return false; field = 16; }
        else if (protocol == ProtoUdp) { if (l4Length < 8) return false; field = 6; }
        else return false;
        sum = Checksum.Add(sum, (uint)protocol + (uint)l4Length);
        var segment = frame.Slice(l4, l4Length);
        segment[field] = 0;
        segment[field + 1] = 0;
        ushort result = Checksum.Finish(Checksum.Sum(segment, sum));
        if (protocol == ProtoUdp && result == 0) result = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(segment[field..], result);
        return true;
    }
}
