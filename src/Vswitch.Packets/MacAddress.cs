using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Vswitch.Packets;

/// <summary>An Ethernet MAC address: 6 bytes in wire order, no padding (it lives inside <see cref="FlowKey"/>).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = 6)]
public struct MacAddress : IEquatable<MacAddress>
{
    private ushort _hi;   // bytes 0-1
    private uint _lo;     // bytes 2-5

    /// <summary>00:00:00:00:00:00.</summary>
    public static MacAddress Zero => default;

    /// <summary>ff:ff:ff:ff:ff:ff.</summary>
    public static MacAddress Broadcast => FromUInt64(0xFFFF_FFFF_FFFFUL);

    /// <summary>Reads 6 bytes in wire order.</summary>
    public MacAddress(ReadOnlySpan<byte> bytes)
    {
        this = MemoryMarshal.Read<MacAddress>(bytes);
    }

    /// <summary>Builds an address from the low 48 bits of <paramref name="value"/> (first byte = most significant).</summary>
    public static MacAddress FromUInt64(ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(b, value << 16);
        return new MacAddress(b[..6]);
    }

    /// <summary>The address as a 48-bit number, first byte most significant.</summary>
    public readonly ulong ToUInt64()
    {
        Span<byte> b = stackalloc byte[8];
        b.Clear();
        MemoryMarshal.Write(b[2..], in this);
        return BinaryPrimitives.ReadUInt64BigEndian(b);
    }

    /// <summary>Writes the 6 bytes in wire order.</summary>
    public readonly void CopyTo(Span<byte> destination) => MemoryMarshal.Write(destination, in this);

    /// <summary>True for a group (multicast or broadcast) address.</summary>
    public readonly bool IsMulticast => (ToUInt64() & 0x0100_0000_0000UL) != 0;

    /// <summary>True for ff:ff:ff:ff:ff:ff.</summary>
    public readonly bool IsBroadcast => ToUInt64() == 0xFFFF_FFFF_FFFFUL;

    /// <summary>True for 00:00:00:00:00:00.</summary>
    public readonly bool IsZero => _hi == 0 && _lo == 0;

    /// <summary>A random unicast, locally administered address (as DPDK's TAP driver and OVS pick).</summary>
    public static MacAddress RandomLocal()
    {
        Span<byte> b = stackalloc byte[6];
        Random.Shared.NextBytes(b);
        b[0] = (byte)((b[0] & 0xFE) | 0x02);
        return new MacAddress(b);
    }

    /// <summary>Parses <c>xx:xx:xx:xx:xx:xx</c> (hex digits, one or two per byte).</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out MacAddress mac)
    {
        mac = default;
        Span<byte> b = stackalloc byte[6];
        int part = 0;
        while (part < 6)
        {
            int sep = text.IndexOf(':');
            ReadOnlySpan<char> tok = part == 5 ? text : (sep < 0 ? default : text[..sep]);
            if (part < 5 && sep < 0) return false;
            if (tok.Length is < 1 or > 2 ||
                !byte.TryParse(tok, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out b[part]))
                return false;
            text = part == 5 ? default : text[(sep + 1)..];
            part++;
        }
        mac = new MacAddress(b);
        return true;
    }

    /// <summary>Parses or throws <see cref="FormatException"/> naming the text.</summary>
    public static MacAddress Parse(string text) =>
        TryParse(text, out var m) ? m : throw new FormatException($"bad MAC address '{text}'");

    /// <inheritdoc/>
    public readonly override string ToString()
    {
        Span<byte> b = stackalloc byte[6];
        CopyTo(b);
        return string.Create(CultureInfo.InvariantCulture, $"{b[0]:x2}:{b[1]:x2}:{b[2]:x2}:{b[3]:x2}:{b[4]:x2}:{b[5]:x2}");
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool Equals(MacAddress other) => _hi == other._hi && _lo == other._lo;

    /// <inheritdoc/>
    public readonly override bool Equals(object? obj) => obj is MacAddress m && Equals(m);

    /// <inheritdoc/>
    public readonly override int GetHashCode() => HashCode.Combine(_hi, _lo);

    /// <summary>Equality.</summary>
    public static bool operator ==(MacAddress a, MacAddress b) => a.Equals(b);

    /// <summary>Inequality.</summary>
    public static bool operator !=(MacAddress a, MacAddress b) => !a.Equals(b);
}
