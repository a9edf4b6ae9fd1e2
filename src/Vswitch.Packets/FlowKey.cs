using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Vswitch.Packets;

/// <summary>
/// The datapath flow key: every field of Open vSwitch's datapath key that Vswitch supports, in one
/// fixed 128-byte blittable struct. The same struct serves as a <em>mask</em> (a bit set = that bit
/// must match), so a masked match is a few 256-bit AND/compare operations.
/// </summary>
/// <remarks>
/// <para>Numeric fields are in host byte order (an IPv4 address 10.0.0.1 is <c>0x0A000001</c>);
/// MAC and IPv6 addresses are bytes in wire order.</para>
/// <para>As in Open vSwitch's <c>struct flow</c>, some storage is shared between protocols:
/// ARP keeps its opcode in <see cref="NwProto"/> (low 8 bits), its sender/target IPv4 addresses in
/// <see cref="Ipv4Src"/>/<see cref="Ipv4Dst"/> and its hardware addresses in <see cref="ArpSha"/>/<see cref="ArpTha"/>;
/// ICMP and ICMPv6 keep type/code in <see cref="TpSrc"/>/<see cref="TpDst"/>; IPv6 neighbour discovery keeps
/// its source/target link-layer options in <see cref="ArpSha"/>/<see cref="ArpTha"/> and its target in <see cref="NdTarget"/>.</para>
/// <para>VLAN: <see cref="Vlan0Tpid"/>/<see cref="Vlan0Tci"/> is the outer tag and <see cref="Vlan1Tpid"/>/<see cref="Vlan1Tci"/>
/// the inner; a TCI with <see cref="VlanCfi"/> set means "a tag is present" (OVS's convention);
/// <see cref="EthType"/> is the ethertype after all parsed tags. An 802.3 frame (length field &lt; 0x600)
/// without a SNAP ethertype has <see cref="EthType"/> = <see cref="EthTypeNone"/> (0x05ff), as OVS.</para>
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = Size)]
public struct FlowKey : IEquatable<FlowKey>
{
    /// <summary>Size of the key in bytes.</summary>
    public const int Size = 128;

    /// <summary>OVS's FLOW_DL_TYPE_NONE: an 802.3 frame with no usable ethertype.</summary>
    public const ushort EthTypeNone = 0x05ff;

    /// <summary>The "tag present" bit in a TCI (the CFI/DEI bit, as OVS uses it).</summary>
    public const ushort VlanCfi = 0x1000;

    /// <summary><see cref="NwFrag"/> bit: the packet is an IP fragment (first or later).</summary>
    public const byte FragAny = 1;

    /// <summary><see cref="NwFrag"/> bit: the packet is a non-first fragment (no L4 header).</summary>
    public const byte FragLater = 2;

    /// <summary>Recirculation id (0 for packets fresh from a port).</summary>
    [FieldOffset(0)] public uint RecircId;
    /// <summary>Datapath hash (from a hash action; 0 otherwise).</summary>
    [FieldOffset(4)] public uint DpHash;
    /// <summary>Packet priority (QoS queue selection).</summary>
    [FieldOffset(8)] public uint SkbPriority;
    /// <summary>Packet mark.</summary>
    [FieldOffset(12)] public uint SkbMark;
    /// <summary>Datapath port number the packet arrived on.</summary>
    [FieldOffset(16)] public uint InPort;
    /// <summary>Ethernet source.</summary>
    [FieldOffset(20)] public MacAddress EthSrc;
    /// <summary>Ethernet destination.</summary>
    [FieldOffset(26)] public MacAddress EthDst;
    /// <summary>Ethertype after all VLAN tags (or <see cref="EthTypeNone"/>).</summary>
    [FieldOffset(32)] public ushort EthType;
    /// <summary>Outer VLAN tag protocol id (0x8100 or 0x88a8); 0 when untagged.</summary>
    [FieldOffset(34)] public ushort Vlan0Tpid;
    /// <summary>Outer VLAN TCI: pcp(3) | cfi(1, = present) | vid(12).</summary>
    [FieldOffset(36)] public ushort Vlan0Tci;
    /// <summary>Inner VLAN tag protocol id; 0 when not double-tagged.</summary>
    [FieldOffset(38)] public ushort Vlan1Tpid;
    /// <summary>Inner VLAN TCI.</summary>
    [FieldOffset(40)] public ushort Vlan1Tci;
    /// <summary>IP protocol, or the ARP opcode (low 8 bits).</summary>
    [FieldOffset(42)] public byte NwProto;
    /// <summary>IPv4 TOS / IPv6 traffic class (DSCP and ECN).</summary>
    [FieldOffset(43)] public byte NwTos;
    /// <summary>IPv4 TTL / IPv6 hop limit.</summary>
    [FieldOffset(44)] public byte NwTtl;
    /// <summary>Fragment bits: <see cref="FragAny"/>, <see cref="FragLater"/>.</summary>
    [FieldOffset(45)] public byte NwFrag;
    /// <summary>TCP/UDP/SCTP source port, or ICMP/ICMPv6 type.</summary>
    [FieldOffset(46)] public ushort TpSrc;
    /// <summary>TCP/UDP/SCTP destination port, or ICMP/ICMPv6 code.</summary>
    [FieldOffset(48)] public ushort TpDst;
    /// <summary>TCP flags (12 bits).</summary>
    [FieldOffset(50)] public ushort TcpFlags;
    /// <summary>IPv4 source, or ARP sender protocol address.</summary>
    [FieldOffset(52)] public uint Ipv4Src;
    /// <summary>IPv4 destination, or ARP target protocol address.</summary>
    [FieldOffset(56)] public uint Ipv4Dst;
    /// <summary>IPv6 flow label (20 bits).</summary>
    [FieldOffset(60)] public uint Ipv6Label;
    /// <summary>IPv6 source.</summary>
    [FieldOffset(64)] public Ipv6Address Ipv6Src;
    /// <summary>IPv6 destination.</summary>
    [FieldOffset(80)] public Ipv6Address Ipv6Dst;
    /// <summary>IPv6 neighbour discovery target.</summary>
    [FieldOffset(96)] public Ipv6Address NdTarget;
    /// <summary>ARP sender hardware address, or ND source link-layer address option.</summary>
    [FieldOffset(112)] public MacAddress ArpSha;
    /// <summary>ARP target hardware address, or ND target link-layer address option.</summary>
    [FieldOffset(118)] public MacAddress ArpTha;
    // Bytes 124..127 are reserved and always zero.

    /// <summary>The key as 16 64-bit words (for hashing and masking).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Span<ulong> AsWords(ref FlowKey key) =>
        MemoryMarshal.CreateSpan(ref Unsafe.As<FlowKey, ulong>(ref key), Size / 8);

    /// <summary>The key as 128 bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Span<byte> AsBytes(ref FlowKey key) =>
        MemoryMarshal.CreateSpan(ref Unsafe.As<FlowKey, byte>(ref key), Size);

    /// <summary>A mask with every bit set (an exact match).</summary>
    public static FlowKey AllOnes
    {
        get
        {
            FlowKey k = default;
            AsBytes(ref k).Fill(0xFF);
            AsBytes(ref k)[124..].Clear();
            return k;
        }
    }

    /// <summary>True when <paramref name="packet"/> AND <paramref name="mask"/> equals <paramref name="maskedKey"/>
    /// (which must already be masked).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool MatchesMasked(in FlowKey packet, in FlowKey mask, in FlowKey maskedKey)
    {
        ref byte p = ref Unsafe.As<FlowKey, byte>(ref Unsafe.AsRef(in packet));
        ref byte m = ref Unsafe.As<FlowKey, byte>(ref Unsafe.AsRef(in mask));
        ref byte k = ref Unsafe.As<FlowKey, byte>(ref Unsafe.AsRef(in maskedKey));
        if (Vector256.IsHardwareAccelerated)
        {
            var d0 = (Vector256.LoadUnsafe(ref p, 0) & Vector256.LoadUnsafe(ref m, 0)) ^ Vector256.LoadUnsafe(ref k, 0);
            var d1 = (Vector256.LoadUnsafe(ref p, 32) & Vector256.LoadUnsafe(ref m, 32)) ^ Vector256.LoadUnsafe(ref k, 32);
            var d2 = (Vector256.LoadUnsafe(ref p, 64) & Vector256.LoadUnsafe(ref m, 64)) ^ Vector256.LoadUnsafe(ref k, 64);
            var d3 = (Vector256.LoadUnsafe(ref p, 96) & Vector256.LoadUnsafe(ref m, 96)) ^ Vector256.LoadUnsafe(ref k, 96);
            return ((d0 | d1) | (d2 | d3)) == Vector256<byte>.Zero;
        }
        ulong acc = 0;
        for (nuint i = 0; i < Size; i += 8)
            acc |= (Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i)) & Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref m, i)))
                   ^ Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref k, i));
        return acc == 0;
    }

    /// <summary>Returns <paramref name="key"/> AND <paramref name="mask"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FlowKey ApplyMask(in FlowKey key, in FlowKey mask)
    {
        FlowKey r = default;
        ref byte d = ref Unsafe.As<FlowKey, byte>(ref r);
        ref byte a = ref Unsafe.As<FlowKey, byte>(ref Unsafe.AsRef(in key));
        ref byte b = ref Unsafe.As<FlowKey, byte>(ref Unsafe.AsRef(in mask));
        for (nuint i = 0; i < Size; i += 32)
            (Vector256.LoadUnsafe(ref a, i) & Vector256.LoadUnsafe(ref b, i)).StoreUnsafe(ref d, i);
        return r;
    }

    /// <summary>A 64-bit hash of the whole key (for exact-match tables).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Hash(in FlowKey key)
    {
        ref ulong w = ref Unsafe.As<FlowKey, ulong>(ref Unsafe.AsRef(in key));
        ulong h = 0x9E37_79B9_7F4A_7C15UL;
        for (int i = 0; i < Size / 8; i++)
            h = Mix(h ^ Unsafe.Add(ref w, i));
        return h;
    }

    /// <summary>A 64-bit hash of <paramref name="key"/> AND <paramref name="mask"/>, equal to
    /// <c>Hash(ApplyMask(key, mask))</c> without building the masked copy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong HashMasked(in FlowKey key, in FlowKey mask)
    {
        ref ulong w = ref Unsafe.As<FlowKey, ulong>(ref Unsafe.AsRef(in key));
        ref ulong m = ref Unsafe.As<FlowKey, ulong>(ref Unsafe.AsRef(in mask));
        ulong h = 0x9E37_79B9_7F4A_7C15UL;
        for (int i = 0; i < Size / 8; i++)
            h = Mix(h ^ (Unsafe.Add(ref w, i) & Unsafe.Add(ref m, i)));
        return h;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong x)
    {
        x *= 0xBF58_476D_1CE4_E5B9UL;
        return x ^ (x >> 31);
    }

    /// <summary>Byte-wise equality of all 128 bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool Equals(FlowKey other)
    {
        ref byte a = ref Unsafe.As<FlowKey, byte>(ref Unsafe.AsRef(in this));
        ref byte b = ref Unsafe.As<FlowKey, byte>(ref other);
        var x = (Vector256.LoadUnsafe(ref a, 0) ^ Vector256.LoadUnsafe(ref b, 0))
              | (Vector256.LoadUnsafe(ref a, 32) ^ Vector256.LoadUnsafe(ref b, 32))
              | (Vector256.LoadUnsafe(ref a, 64) ^ Vector256.LoadUnsafe(ref b, 64))
              | (Vector256.LoadUnsafe(ref a, 96) ^ Vector256.LoadUnsafe(ref b, 96));
        return x == Vector256<byte>.Zero;
    }

    /// <inheritdoc/>
    public readonly override bool Equals(object? obj) => obj is FlowKey k && Equals(k);

    /// <inheritdoc/>
    public readonly override int GetHashCode() => (int)Hash(in this);

    /// <summary>Equality.</summary>
    public static bool operator ==(FlowKey a, FlowKey b) => a.Equals(b);

    /// <summary>Inequality.</summary>
    public static bool operator !=(FlowKey a, FlowKey b) => !a.Equals(b);
}
