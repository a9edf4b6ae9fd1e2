using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Vswitch.Packets;

// Header views: ref structs over a span that starts at the header. Getters and setters use host byte order
// for numbers and wire order for MAC/IPv6 addresses (the FlowKey conventions). Constructing a view does not
// validate anything; use TryCreate to check the span is long enough. Touching a field beyond the span throws
// IndexOutOfRangeException (a caller bug: the flow extractor's layout guarantees the fixed header is present).
// Setters do not update checksums: combine them with the Checksum.Update* helpers.

/// <summary>An Ethernet II header (14 bytes) over <see cref="Bytes"/>.</summary>
public readonly ref struct EthernetHeader
{
    /// <summary>Size of the header without VLAN tags.</summary>
    public const int Length = 14;

    /// <summary>Creates a view over <paramref name="bytes"/> (which starts at the destination MAC).</summary>
    public EthernetHeader(Span<byte> bytes) => Bytes = bytes;

    /// <summary>Creates a view if <paramref name="bytes"/> holds at least <see cref="Length"/> bytes.</summary>
    public static bool TryCreate(Span<byte> bytes, out EthernetHeader header)
    {
        header = new EthernetHeader(bytes);
        return bytes.Length >= Length;
    }

    /// <summary>The underlying bytes.</summary>
    public Span<byte> Bytes { get; }

    /// <summary>Destination MAC.</summary>
    public MacAddress Destination { get => new(Bytes[..6]); set => value.CopyTo(Bytes[..6]); }

    /// <summary>Source MAC.</summary>
    public MacAddress Source { get => new(Bytes.Slice(6, 6)); set => value.CopyTo(Bytes.Slice(6, 6)); }

    /// <summary>The ethertype (or first VLAN TPID, or 802.3 length) at bytes 12-13.</summary>
    public ushort EtherType { get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[12..]); set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[12..], value); }
}

/// <summary>An 802.1Q/802.1ad tag (4 bytes: TPID, TCI) over <see cref="Bytes"/>, which starts at the TPID.</summary>
public readonly ref struct VlanHeader
{
    /// <summary>Size of a tag.</summary>
    public const int Length = 4;

    /// <summary>Creates a view over <paramref name="bytes"/>.</summary>
    public VlanHeader(Span<byte> bytes) => Bytes = bytes;

    /// <summary>The underlying bytes.</summary>
    public Span<byte> Bytes { get; }

    /// <summary>Tag protocol id (0x8100 or 0x88a8).</summary>
    public ushort Tpid { get => BinaryPrimitives.ReadUInt16BigEndian(Bytes); set => BinaryPrimitives.WriteUInt16BigEndian(Bytes, value); }

    /// <summary>Tag control information as on the wire: pcp(3) | dei(1) | vid(12).</summary>
    public ushort Tci { get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[2..]); set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[2..], value); }

    /// <summary>VLAN id (12 bits).</summary>
    public ushort Vid { get => (ushort)(Tci & 0x0FFF); set => Tci = (ushort)((Tci & 0xF000) | (value & 0x0FFF)); }

    /// <summary>Priority code point (3 bits).</summary>
    public byte Pcp { get => (byte)(Tci >> 13); set => Tci = (ushort)((Tci & 0x1FFF) | ((value & 7) << 13)); }
}

/// <summary>An IPv4 header over <see cref="Bytes"/>, which starts at the version/IHL byte.</summary>
public readonly ref struct Ipv4Header
{
    /// <summary>Size of a header without options.</summary>
    public const int MinLength = 20;

    /// <summary>Creates a view over <paramref name="bytes"/>.</summary>
    public Ipv4Header(Span<byte> bytes) => Bytes = bytes;

    /// <summary>Creates a view if the span holds at least 20 bytes and the IHL×4 bytes it announces (IHL ≥ 5).</summary>
    public static bool TryCreate(Span<byte> bytes, out Ipv4Header header)
    {
        header = new Ipv4Header(bytes);
        if (bytes.Length < MinLength) return false;
        int length = (bytes[0] & 0x0F) * 4;
        return length >= MinLength && length <= bytes.Length;
    }

    /// <summary>The underlying bytes.</summary>
    public Span<byte> Bytes { get; }

    /// <summary>IP version (4).</summary>
    public byte Version => (byte)(Bytes[0] >> 4);

    /// <summary>Header length in bytes (IHL × 4).</summary>
    public int HeaderLength => (Bytes[0] & 0x0F) * 4;

    /// <summary>Type of service (DSCP and ECN).</summary>
    public byte Tos { get => Bytes[1]; set => Bytes[1] = value; }

    /// <summary>Total length (header and payload).</summary>
    public ushort TotalLength { get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[2..]); set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[2..], value); }

    /// <summary>Identification.</summary>
    public ushort Identification { get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[4..]); set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[4..], value); }

    /// <summary>Flags (3 bits) and fragment offset (13 bits, in 8-byte units) as one word.</summary>
    public ushort FlagsAndFragmentOffset { get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[6..]); set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[6..], value); }

    /// <summary>Time to live.</summary>
    public byte Ttl { get => Bytes[8]; set => Bytes[8] = value; }

    /// <summary>Protocol.</summary>
    public byte Protocol { get => Bytes[9]; set => Bytes[9] = value; }

    /// <summary>Header checksum.</summary>
    public ushort HeaderChecksum { get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[10..]); set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[10..], value); }

    /// <summary>Source address (host order).</summary>
    public uint Source { get => BinaryPrimitives.ReadUInt32BigEndian(Bytes[12..]); set => BinaryPrimitives.WriteUInt32BigEndian(Bytes[12..], value); }

    /// <summary>Destination address (host order).</summary>
    public uint Destination { get => BinaryPrimitives.ReadUInt32BigEndian(Bytes[16..]); set => BinaryPrimitives.WriteUInt32BigEndian(Bytes[16..], value); }

    /// <summary>Recomputes <see cref="HeaderChecksum"/> from scratch.</summary>
    public void UpdateChecksum() => HeaderChecksum = Checksum.Ipv4Header(Bytes);
}

/// <summary>An IPv6 fixed header (40 bytes) over <see cref="Bytes"/>.</summary>
public readonly ref struct Ipv6Header
{
    /// <summary>Size of the fixed header.</summary>
    public const int Length = 40;

    /// <summary>Creates a view over <paramref name="bytes"/>.</summary>
    public Ipv6Header(Span<byte> bytes) => Bytes = bytes;

    /// <summary>Creates a view if the span holds the 40-byte fixed header.</summary>
    public static bool TryCreate(Span<byte> bytes, out Ipv6Header header)
    {
        header = new Ipv6Header(bytes);
        return bytes.Length >= Length;
    }

    /// <summary>The underlying bytes.</summary>
    public Span<byte> Bytes { get; }

    private uint VersionClassLabel
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(Bytes);
        set => BinaryPrimitives.WriteUInt32BigEndian(Bytes, value);
    }

    /// <summary>IP version (6).</summary>
    public byte Version => (byte)(Bytes[0] >> 4);

    /// <summary>Traffic class (DSCP and ECN).</summary>
    public byte TrafficClass { get => (byte)(VersionClassLabel >> 20); set => VersionClassLabel = (VersionClassLabel & 0xF00F_FFFF) | ((uint)value << 20); }

    /// <summary>Flow label (20 bits).</summary>
    public uint FlowLabel { get => VersionClassLabel & 0x000F_FFFF; set => VersionClassLabel = (VersionClassLabel & 0xFFF0_0000) | (value & 0x000F_FFFF); }

    /// <summary>Payload length (everything after the fixed header).</summary>
    public ushort PayloadLength { get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[4..]); set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[4..], value); }

    /// <summary>Next header.</summary>
    public byte NextHeader { get => Bytes[6]; set => Bytes[6] = value; }

    /// <summary>Hop limit.</summary>
    public byte HopLimit { get => Bytes[7]; set => Bytes[7] = value; }

    /// <summary>Source address.</summary>
    public Ipv6Address Source { get => new(Bytes.Slice(8, 16)); set => value.CopyTo(Bytes.Slice(8, 16)); }

    /// <summary>Destination address.</summary>
    public Ipv6Address Destination { get => new(Bytes.Slice(24, 16)); set => value.CopyTo(Bytes.Slice(24, 16)); }
}

/// <summary>A TCP header over <see cref="Bytes"/>.</summary>
public readonly ref struct TcpHeader
{
    /// <summary>Size of a header without options.</summary>
    public const int MinLength = 20;

    /// <summary>Byte offset of the checksum field.</summary>
    public const int ChecksumOffset = 16;

    /// <summary>Creates a view over <paramref name="bytes"/>.</summary>
    public TcpHeader(Span<byte> bytes) => Bytes = bytes;

    /// <summary>The underlying bytes.</summary>
    public Span<byte> Bytes { get; }

    /// <summary>Source port.</summary>
    public ushort SourcePort { get => BinaryPrimitives.ReadUInt16BigEndian(Bytes); set => BinaryPrimitives.WriteUInt16BigEndian(Bytes, value); }

    /// <summary>Destination port.</summary>
    public ushort DestinationPort { get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[2..]); set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[2..], value); }

    /// <summary>Sequence number.</summary>
    public uint SequenceNumber { get => BinaryPrimitives.ReadUInt32BigEndian(Bytes[4..]); set => BinaryPrimitives.WriteUInt32BigEndian(Bytes[4..], value); }

    /// <summary>Acknowledgement number.</summary>
    public uint AcknowledgmentNumber { get => BinaryPrimitives.ReadUInt32BigEndian(Bytes[8..]); set => BinaryPrimitives.WriteUInt32BigEndian(Bytes[8..], value); }

    /// <summary>Header length in bytes (data offset × 4).</summary>
    public int HeaderLength => (Bytes[12] >> 4) * 4;

    /// <summary>The 12 flag bits (NS, CWR, ECE, URG, ACK, PSH, RST, SYN, FIN and 3 reserved), as in <see cref="FlowKey.TcpFlags"/>.</summary>
    public ushort Flags => (ushort)(BinaryPrimitives.ReadUInt16BigEndian(Bytes[12..]) & 0x0FFF);

    /// <summary>Window.</summary>
    public ushort Window { get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[14..]); set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[14..], value); }

    /// <summary>Checksum.</summary>
    public ushort Checksum { get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[ChecksumOffset..]); set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[ChecksumOffset..], value); }
}

/// <summary>A UDP header (8 bytes) over <see cref="Bytes"/>.</summary>
public readonly ref struct UdpHeader
{
    /// <summary>Size of the header.</summary>
    public const int Length = 8;

    /// <summary>Byte offset of the checksum field.</summary>
    public const int ChecksumOffset = 6;

    /// <summary>Creates a view over <paramref name="bytes"/>.</summary>
    public UdpHeader(Span<byte> bytes) => Bytes = bytes;

    /// <summary>The underlying bytes.</summary>
    public Span<byte> Bytes { get; }

    /// <summary>Source port.</summary>
    public ushort SourcePort { get => BinaryPrimitives.ReadUInt16BigEndian(Bytes); set => BinaryPrimitives.WriteUInt16BigEndian(Bytes, value); }

    /// <summary>Destination port.</summary>
    public ushort DestinationPort { get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[2..]); set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[2..], value); }

    /// <summary>Length of header and payload.</summary>
    public ushort TotalLength { get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[4..]); set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[4..], value); }

    /// <summary>Checksum (0 = none, IPv4 only).</summary>
    public ushort Checksum { get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[ChecksumOffset..]); set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[ChecksumOffset..], value); }
}

/// <summary>An SCTP common header (12 bytes) over <see cref="Bytes"/>. Its checksum is CRC32c over the whole packet, not the Internet checksum.</summary>
public readonly ref struct SctpHeader
{
    /// <summary>Size of the common header.</summary>
    public const int Length = 12;

    /// <summary>Creates a view over <paramref name="bytes"/>.</summary>
    public SctpHeader(Span<byte> bytes) => Bytes = bytes;

    /// <summary>The underlying bytes.</summary>
    public Span<byte> Bytes { get; }

    /// <summary>Source port.</summary>
    public ushort SourcePort { get => BinaryPrimitives.ReadUInt16BigEndian(Bytes); set => BinaryPrimitives.WriteUInt16BigEndian(Bytes, value); }

    /// <summary>Destination port.</summary>
    public ushort DestinationPort { get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[2..]); set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[2..], value); }

    /// <summary>The CRC32c checksum field, as stored (little-endian on the wire per RFC 4960 appendix B).</summary>
    public uint Crc32c { get => MemoryMarshal.Read<uint>(Bytes[8..]); set => MemoryMarshal.Write(Bytes[8..], in value); }
}

/// <summary>An ICMP or ICMPv6 header (type, code, checksum) over <see cref="Bytes"/>.</summary>
public readonly ref struct IcmpHeader
{
    /// <summary>Size of the fixed header the flow extractor requires (type, code, checksum and 4 bytes of data).</summary>
    public const int Length = 8;

    /// <summary>Byte offset of the checksum field.</summary>
    public const int ChecksumOffset = 2;

    /// <summary>Creates a view over <paramref name="bytes"/>.</summary>
    public IcmpHeader(Span<byte> bytes) => Bytes = bytes;

    /// <summary>The underlying bytes.</summary>
    public Span<byte> Bytes { get; }

    /// <summary>Type.</summary>
    public byte Type { get => Bytes[0]; set => Bytes[0] = value; }

    /// <summary>Code.</summary>
    public byte Code { get => Bytes[1]; set => Bytes[1] = value; }

    /// <summary>Checksum.</summary>
    public ushort Checksum { get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[ChecksumOffset..]); set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[ChecksumOffset..], value); }
}

/// <summary>An Ethernet/IPv4 ARP header (28 bytes) over <see cref="Bytes"/>.</summary>
public readonly ref struct ArpHeader
{
    /// <summary>Size of an Ethernet/IPv4 ARP header.</summary>
    public const int Length = 28;

    /// <summary>Creates a view over <paramref name="bytes"/>.</summary>
    public ArpHeader(Span<byte> bytes) => Bytes = bytes;

    /// <summary>The underlying bytes.</summary>
    public Span<byte> Bytes { get; }

    /// <summary>Operation (1 request, 2 reply).</summary>
    public ushort Operation { get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[6..]); set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[6..], value); }

    /// <summary>Sender hardware address.</summary>
    public MacAddress SenderHardwareAddress { get => new(Bytes.Slice(8, 6)); set => value.CopyTo(Bytes.Slice(8, 6)); }

    /// <summary>Sender protocol address (host order).</summary>
    public uint SenderProtocolAddress { get => BinaryPrimitives.ReadUInt32BigEndian(Bytes[14..]); set => BinaryPrimitives.WriteUInt32BigEndian(Bytes[14..], value); }

    /// <summary>Target hardware address.</summary>
    public MacAddress TargetHardwareAddress { get => new(Bytes.Slice(18, 6)); set => value.CopyTo(Bytes.Slice(18, 6)); }

    /// <summary>Target protocol address (host order).</summary>
    public uint TargetProtocolAddress { get => BinaryPrimitives.ReadUInt32BigEndian(Bytes[24..]); set => BinaryPrimitives.WriteUInt32BigEndian(Bytes[24..], value); }
}
