using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Vswitch.Packets;

/// <summary>
/// Internet checksum helpers (RFC 1071, RFC 1624) for building and rewriting headers.
/// </summary>
/// <remarks>
/// <para><b>Conventions.</b> A <em>checksum</em> is the 16-bit value exactly as it is stored in the header,
/// read as a big-endian number: write it with <see cref="BinaryPrimitives.WriteUInt16BigEndian(Span{byte}, ushort)"/>.
/// A <em>partial sum</em> (<c>uint</c>) is an uncomplemented ones'-complement sum of big-endian 16-bit words,
/// always returned folded to 16 bits so partial sums can be chained with <see cref="Add(uint, uint)"/>
/// or by passing one as the <c>initial</c> argument of <see cref="Sum(ReadOnlySpan{byte}, uint)"/>.</para>
/// <para>All methods are pure, allocation-free, never throw, and are safe on any thread.</para>
/// <para><b>Verifying.</b> Summing a region that includes a correct checksum field (plus the pseudo-header
/// for TCP/UDP) and calling <see cref="Finish"/> gives 0.</para>
/// <para><b>UDP.</b> Over IPv4, a UDP checksum of 0 means "none": leave such a field alone when rewriting,
/// and transmit a computed 0 as 0xFFFF (<see cref="TransportIpv4"/> and <see cref="TransportIpv6"/> do this for
/// protocol 17; for incremental updates use <see cref="UpdateUdp16"/>/<see cref="UpdateUdp32"/>).</para>
/// </remarks>
public static class Checksum
{
    /// <summary>IP protocol number of UDP (the only protocol whose zero checksum is special).</summary>
    private const byte ProtoUdp = 17;

    /// <summary>
    /// Adds <paramref name="data"/>, as big-endian 16-bit words (an odd final byte is padded with zero),
    /// to the partial sum <paramref name="initial"/>. When chaining, every chunk except the last must have an even length.
    /// </summary>
    /// <param name="data">The bytes to add.</param>
    /// <param name="initial">A partial sum to continue (0 to start).</param>
    /// <returns>The folded partial sum (≤ 0xFFFF).</returns>
    public static uint Sum(ReadOnlySpan<byte> data, uint initial = 0)
    {
        // Sum native-endian words, then swap: the ones'-complement sum commutes with byte swapping (RFC 1071 §2(B)).
        ulong acc = 0;
        ref byte p = ref MemoryMarshal.GetReference(data);
        int length = data.Length;
        int i = 0;
        for (; i + 32 <= length; i += 32)
        {
            acc += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, i));
            acc += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, i + 4));
            acc += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, i + 8));
            acc += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, i + 12));
            acc += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, i + 16));
            acc += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, i + 20));
            acc += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, i + 24));
            acc += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, i + 28));
        }
        for (; i + 4 <= length; i += 4)
            acc += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, i));
        if (i + 2 <= length)
        {
            acc += Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref p, i));
            i += 2;
        }
        if (i < length)
        {
            byte last = Unsafe.Add(ref p, i);
            // The odd byte is the high byte of a big-endian word: its native-endian image.
            acc += BitConverter.IsLittleEndian ? last : (uint)last << 8;
        }
        // Fold 64 -> 16 bits.
        acc = (acc & 0xFFFF_FFFF) + (acc >> 32);
        acc = (acc & 0xFFFF) + (acc >> 16);
        acc = (acc & 0xFFFF) + (acc >> 16);
        acc = (acc & 0xFFFF) + (acc >> 16);
        ushort folded = (ushort)acc;
        if (BitConverter.IsLittleEndian)
            folded = BinaryPrimitives.ReverseEndianness(folded);
        return Add(folded, initial);
    }

    /// <summary>Adds two partial sums (ones'-complement addition, folded to 16 bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Add(uint a, uint b)
    {
        ulong s = (ulong)a + b;
        s = (s & 0xFFFF) + (s >> 16);
        s = (s & 0xFFFF) + (s >> 16);
        s = (s & 0xFFFF) + (s >> 16);
        return (uint)s;
    }

    /// <summary>Turns a partial sum into a checksum (folds and complements).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Finish(uint partialSum) => (ushort)~Add(partialSum, 0);

    /// <summary>The Internet checksum of <paramref name="data"/> (RFC 1071). 0 when verifying data that holds a correct checksum.</summary>
    public static ushort Compute(ReadOnlySpan<byte> data) => Finish(Sum(data));

    /// <summary>
    /// The IPv4 header checksum of <paramref name="header"/>, computed over IHL×4 bytes with the checksum field
    /// (bytes 10-11) taken as zero, whatever it holds. Returns 0 if the span is shorter than 20 bytes or than IHL×4.
    /// </summary>
    public static ushort Ipv4Header(ReadOnlySpan<byte> header)
    {
        if (header.Length < 20)
            return 0;
        int length = (header[0] & 0x0F) * 4;
        if (length < 20 || length > header.Length)
            return 0;
        uint sum = Sum(header[..10]);
        sum = Sum(header[12..length], sum);
        return Finish(sum);
    }

    /// <summary>True when the IPv4 header (IHL×4 bytes) carries a correct checksum.</summary>
    public static bool IsIpv4HeaderValid(ReadOnlySpan<byte> header)
    {
        if (header.Length < 20)
            return false;
        int length = (header[0] & 0x0F) * 4;
        return length >= 20 && length <= header.Length && Compute(header[..length]) == 0;
    }

    /// <summary>Partial sum of the IPv4 pseudo-header (source, destination, zero, protocol, transport length).</summary>
    /// <param name="source">Source address, host order (10.0.0.1 = 0x0A000001).</param>
    /// <param name="destination">Destination address, host order.</param>
    /// <param name="protocol">IP protocol (6 TCP, 17 UDP).</param>
    /// <param name="transportLength">Length of the transport header plus payload, in bytes.</param>
    public static uint PseudoHeaderIpv4(uint source, uint destination, byte protocol, int transportLength)
    {
        ulong s = (source >> 16) + (source & 0xFFFF) + (destination >> 16) + (destination & 0xFFFF)
                  + protocol + ((uint)transportLength >> 16) + ((uint)transportLength & 0xFFFF);
        return Add((uint)(s & 0xFFFF_FFFF), (uint)(s >> 32));
    }

    /// <summary>Partial sum of the IPv6 pseudo-header (RFC 8200 §8.1: source, destination, 32-bit upper-layer length, next header).</summary>
    /// <param name="source">Source address.</param>
    /// <param name="destination">Destination address.</param>
    /// <param name="nextHeader">Upper-layer protocol (6 TCP, 17 UDP, 58 ICMPv6).</param>
    /// <param name="transportLength">Upper-layer packet length in bytes.</param>
    public static uint PseudoHeaderIpv6(in Ipv6Address source, in Ipv6Address destination, byte nextHeader, int transportLength)
    {
        uint sum = Sum(MemoryMarshal.AsBytes(new ReadOnlySpan<Ipv6Address>(in source)));
        sum = Sum(MemoryMarshal.AsBytes(new ReadOnlySpan<Ipv6Address>(in destination)), sum);
        ulong s = (ulong)sum + nextHeader + ((uint)transportLength >> 16) + ((uint)transportLength & 0xFFFF);
        return Add((uint)(s & 0xFFFF_FFFF), (uint)(s >> 32));
    }

    /// <summary>
    /// TCP/UDP (or any pseudo-header-covered protocol) checksum over IPv4. The checksum field inside
    /// <paramref name="segment"/> must be zero when computing; with a correct checksum in place the result is 0.
    /// For UDP a computed 0 is returned as 0xFFFF (RFC 768).
    /// </summary>
    /// <param name="source">Source address, host order.</param>
    /// <param name="destination">Destination address, host order.</param>
    /// <param name="protocol">IP protocol.</param>
    /// <param name="segment">Transport header and payload (exactly the IP payload).</param>
    public static ushort TransportIpv4(uint source, uint destination, byte protocol, ReadOnlySpan<byte> segment)
    {
        uint sum = Sum(segment, PseudoHeaderIpv4(source, destination, protocol, segment.Length));
        return UdpZero(protocol, Finish(sum));
    }

    /// <summary>
    /// TCP/UDP/ICMPv6 checksum over IPv6, with the same rules as <see cref="TransportIpv4"/>.
    /// </summary>
    /// <param name="source">Source address.</param>
    /// <param name="destination">Destination address.</param>
    /// <param name="nextHeader">Upper-layer protocol.</param>
    /// <param name="segment">Upper-layer header and payload.</param>
    public static ushort TransportIpv6(in Ipv6Address source, in Ipv6Address destination, byte nextHeader, ReadOnlySpan<byte> segment)
    {
        uint sum = Sum(segment, PseudoHeaderIpv6(in source, in destination, nextHeader, segment.Length));
        return UdpZero(nextHeader, Finish(sum));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort UdpZero(byte protocol, ushort checksum) =>
        protocol == ProtoUdp && checksum == 0 ? (ushort)0xFFFF : checksum;

    /// <summary>
    /// Incremental update (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')) of <paramref name="checksum"/> when a
    /// 16-bit field covered by it changes from <paramref name="oldValue"/> to <paramref name="newValue"/>
    /// (both as big-endian numbers, e.g. a port or the TTL/protocol word).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Update16(ushort checksum, ushort oldValue, ushort newValue)
    {
        uint sum = (uint)(ushort)~checksum + (ushort)~oldValue + newValue;
        return Finish(sum);
    }

    /// <summary>
    /// Incremental update for a 32-bit field (e.g. an IPv4 address in host order, which changes both the IP
    /// header checksum and the TCP/UDP checksum through the pseudo-header).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Update32(ushort checksum, uint oldValue, uint newValue)
    {
        uint sum = (uint)(ushort)~checksum
                   + (ushort)~(oldValue >> 16) + (ushort)~oldValue
                   + (newValue >> 16) + (newValue & 0xFFFF);
        return Finish(sum);
    }

    /// <summary>Incremental update for a changed IPv6 address (the TCP/UDP/ICMPv6 checksum covers it via the pseudo-header).</summary>
    public static ushort UpdateIpv6Address(ushort checksum, in Ipv6Address oldValue, in Ipv6Address newValue)
    {
        // ~m summed word by word equals ~(sum of m) in ones'-complement arithmetic.
        uint oldSum = Sum(MemoryMarshal.AsBytes(new ReadOnlySpan<Ipv6Address>(in oldValue)));
        uint newSum = Sum(MemoryMarshal.AsBytes(new ReadOnlySpan<Ipv6Address>(in newValue)));
        uint sum = (uint)(ushort)~checksum + (ushort)~oldSum + newSum;
        return Finish(sum);
    }

    /// <summary>
    /// <see cref="Update16"/> for a UDP checksum: a zero checksum (none, over IPv4) stays zero, and a
    /// result of zero is stored as 0xFFFF.
    /// </summary>
    public static ushort UpdateUdp16(ushort checksum, ushort oldValue, ushort newValue) =>
        checksum == 0 ? (ushort)0 : UdpZero(ProtoUdp, Update16(checksum, oldValue, newValue));

    /// <summary><see cref="Update32"/> for a UDP checksum, with the rules of <see cref="UpdateUdp16"/>.</summary>
    public static ushort UpdateUdp32(ushort checksum, uint oldValue, uint newValue) =>
        checksum == 0 ? (ushort)0 : UdpZero(ProtoUdp, Update32(checksum, oldValue, newValue));
}
