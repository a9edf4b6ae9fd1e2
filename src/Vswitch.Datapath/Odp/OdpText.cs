using System.Text;
using Vswitch.Packets;

namespace Vswitch.Datapath.Odp;

/// <summary>Low-level text helpers shared by the ODP formatters (no per-call allocation beyond the builder).</summary>
internal static class OdpText
{
    private static readonly string[] TcpFlagNames =
        ["fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ns", "[200]", "[400]", "[800]"];

    /// <summary>Name of one TCP flag bit (0..11) as OVS's packet_tcp_flag_to_string.</summary>
    public static string TcpFlagName(int bit) => TcpFlagNames[bit];

    /// <summary>Bit index for a TCP flag name, or -1.</summary>
    public static int TcpFlagBit(ReadOnlySpan<char> name)
    {
        for (int i = 0; i < TcpFlagNames.Length; i++)
            if (name.SequenceEqual(TcpFlagNames[i])) return i;
        return -1;
    }

    /// <summary>Appends <paramref name="value"/> in decimal.</summary>
    public static void Dec(StringBuilder sb, ulong value)
    {
        Span<char> buf = stackalloc char[20];
        int i = buf.Length;
        do
        {
            buf[--i] = (char)('0' + (int)(value % 10));
            value /= 10;
        } while (value != 0);
        sb.Append(buf[i..]);
    }

    /// <summary>Appends lower-case hex digits, at least <paramref name="minDigits"/> of them, no prefix.</summary>
    public static void HexDigits(StringBuilder sb, ulong value, int minDigits = 1)
    {
        Span<char> buf = stackalloc char[16];
        int i = buf.Length;
        do
        {
            int d = (int)(value & 0xF);
            buf[--i] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
            value >>= 4;
        } while (value != 0);
        while (buf.Length - i < minDigits) buf[--i] = '0';
        sb.Append(buf[i..]);
    }

    /// <summary>C's <c>%#x</c>: <c>0</c> for zero, otherwise <c>0x</c> and lower-case hex.</summary>
    public static void AltHex(StringBuilder sb, ulong value)
    {
        if (value == 0)
        {
            sb.Append('0');
            return;
        }
        sb.Append("0x");
        HexDigits(sb, value);
    }

    /// <summary><c>0x%04x</c>.</summary>
    public static void Hex4(StringBuilder sb, ushort value)
    {
        sb.Append("0x");
        HexDigits(sb, value, 4);
    }

    /// <summary>Dotted-quad IPv4 from a host-order number.</summary>
    public static void Ipv4(StringBuilder sb, uint value)
    {
        Dec(sb, value >> 24);
        sb.Append('.');
        Dec(sb, (value >> 16) & 0xFF);
        sb.Append('.');
        Dec(sb, (value >> 8) & 0xFF);
        sb.Append('.');
        Dec(sb, value & 0xFF);
    }

    /// <summary><c>xx:xx:xx:xx:xx:xx</c>.</summary>
    public static void Mac(StringBuilder sb, MacAddress mac)
    {
        Span<byte> b = stackalloc byte[6];
        mac.CopyTo(b);
        for (int i = 0; i < 6; i++)
        {
            if (i > 0) sb.Append(':');
            HexDigits(sb, b[i], 2);
        }
    }

    /// <summary>RFC 5952 text form (as inet_ntop), without allocating an <see cref="System.Net.IPAddress"/>.</summary>
    public static void Ipv6(StringBuilder sb, Ipv6Address address)
    {
        Span<byte> b = stackalloc byte[16];
        address.CopyTo(b);
        Span<ushort> w = stackalloc ushort[8];
        for (int i = 0; i < 8; i++) w[i] = (ushort)(b[2 * i] << 8 | b[2 * i + 1]);

        // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible forms print the tail dotted, as inet_ntop.
        bool mapped = w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0 && w[5] == 0xFFFF;
        bool compat = w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0 && w[5] == 0 && w[6] != 0;
        if (mapped || compat)
        {
            sb.Append(mapped ? "::ffff:" : "::");
            Ipv4(sb, (uint)(w[6] << 16 | w[7]));
            return;
        }

        int bestStart = -1, bestLen = 0;
        for (int i = 0; i < 8;)
        {
            if (w[i] != 0) { i++; continue; }
            int j = i;
            while (j < 8 && w[j] == 0) j++;
            if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
            i = j;
        }
        for (int i = 0; i < 8; i++)
        {
            if (i == bestStart)
            {
                sb.Append("::");
                i += bestLen - 1;
                continue;
            }
            if (i > 0 && i != bestStart + bestLen) sb.Append(':');
            HexDigits(sb, w[i]);
        }
    }

    /// <summary>OVS's format_flags for TCP flags: names joined by '|', <c>0</c> when none.</summary>
    public static void TcpFlags(StringBuilder sb, uint flags)
    {
        if (flags == 0)
        {
            sb.Append('0');
            return;
        }
        bool first = true;
        for (int bit = 0; bit < 12; bit++)
        {
            if ((flags & (1u << bit)) == 0) continue;
            if (!first) sb.Append('|');
            sb.Append(TcpFlagNames[bit]);
            first = false;
        }
        uint bad = flags & ~0xFFFu;
        if (bad != 0)
        {
            if (!first) sb.Append('|');
            sb.Append("0x");
            HexDigits(sb, bad);
        }
    }

    /// <summary>OVS's format_flags_masked for TCP flags: <c>+syn-ack</c>; <c>0/0</c> for an empty mask.</summary>
    public static void TcpFlagsMasked(StringBuilder sb, uint flags, uint mask)
    {
        if (mask == 0xFFF)
        {
            TcpFlags(sb, flags);
            return;
        }
        if (mask == 0)
        {
            sb.Append("0/0");
            return;
        }
        for (int bit = 0; bit < 12; bit++)
        {
            if ((mask & (1u << bit)) == 0) continue;
            sb.Append((flags & (1u << bit)) != 0 ? '+' : '-');
            sb.Append(TcpFlagNames[bit]);
        }
    }

    /// <summary>The TCP flags letters of <c>dpctl/dump-flows</c>' <c>flags:</c> (OVS's packet_format_tcp_flags).</summary>
    public static void TcpFlagLetters(StringBuilder sb, ushort flags)
    {
        if (flags == 0)
        {
            sb.Append("none");
            return;
        }
        if ((flags & 0x002) != 0) sb.Append('S');
        if ((flags & 0x001) != 0) sb.Append('F');
        if ((flags & 0x008) != 0) sb.Append('P');
        if ((flags & 0x004) != 0) sb.Append('R');
        if ((flags & 0x020) != 0) sb.Append('U');
        if ((flags & 0x010) != 0) sb.Append('.');
        if ((flags & 0x040) != 0) sb.Append('E');
        if ((flags & 0x080) != 0) sb.Append('C');
        if ((flags & 0x100) != 0) sb.Append('N');
        if ((flags & 0x200) != 0) sb.Append("[200]");
        if ((flags & 0x400) != 0) sb.Append("[400]");
        if ((flags & 0x800) != 0) sb.Append("[800]");
    }

    /// <summary>ODP frag name for <see cref="FlowKey.NwFrag"/> bits.</summary>
    public static string FragName(byte nwFrag) =>
        (nwFrag & FlowKey.FragAny) == 0 ? "no" : (nwFrag & FlowKey.FragLater) != 0 ? "later" : "first";
}
