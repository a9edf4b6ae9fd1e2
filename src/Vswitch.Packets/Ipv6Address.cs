using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Vswitch.Packets;

/// <summary>An IPv6 address: 16 bytes in wire order, no padding (it lives inside <see cref="FlowKey"/>).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = 16)]
public struct Ipv6Address : IEquatable<Ipv6Address>
{
    private ulong _hi;
    private ulong _lo;

    /// <summary>Reads 16 bytes in wire order.</summary>
    public Ipv6Address(ReadOnlySpan<byte> bytes) => this = MemoryMarshal.Read<Ipv6Address>(bytes);

    /// <summary>Writes the 16 bytes in wire order.</summary>
    public readonly void CopyTo(Span<byte> destination) => MemoryMarshal.Write(destination, in this);

    /// <summary>True for ::.</summary>
    public readonly bool IsZero => (_hi | _lo) == 0;

    /// <summary>All bits set (an exact mask).</summary>
    public static Ipv6Address AllOnes => new() { _hi = ulong.MaxValue, _lo = ulong.MaxValue };

    /// <summary>Bitwise and.</summary>
    public static Ipv6Address operator &(Ipv6Address a, Ipv6Address b) => new() { _hi = a._hi & b._hi, _lo = a._lo & b._lo };

    /// <summary>Parses any textual form <see cref="IPAddress"/> accepts for IPv6.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out Ipv6Address address)
    {
        address = default;
        if (!IPAddress.TryParse(text, out var ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            return false;
        Span<byte> b = stackalloc byte[16];
        if (!ip.TryWriteBytes(b, out _)) return false;
        address = new Ipv6Address(b);
        return true;
    }

    /// <summary>The conventional compressed text form (RFC 5952), as OVS prints it.</summary>
    public readonly override string ToString()
    {
        Span<byte> b = stackalloc byte[16];
        CopyTo(b);
        return new IPAddress(b).ToString();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool Equals(Ipv6Address other) => _hi == other._hi && _lo == other._lo;

    /// <inheritdoc/>
    public readonly override bool Equals(object? obj) => obj is Ipv6Address a && Equals(a);

    /// <inheritdoc/>
    public readonly override int GetHashCode() => HashCode.Combine(_hi, _lo);

    /// <summary>Equality.</summary>
    public static bool operator ==(Ipv6Address a, Ipv6Address b) => a.Equals(b);

    /// <summary>Inequality.</summary>
    public static bool operator !=(Ipv6Address a, Ipv6Address b) => !a.Equals(b);
}
