using Vswitch.Packets;

namespace Vswitch.Datapath.Odp;

/// <summary>What is being parsed, for error messages; formatted only when an error is reported.</summary>
internal readonly struct OdpCtx(string attr, string? field = null, bool mask = false)
{
    private readonly string _attr = attr;
    private readonly string? _field = field;
    private readonly bool _mask = mask;

    public static implicit operator OdpCtx(string attr) => new(attr);

    /// <summary>The same context for the value's mask.</summary>
    public OdpCtx Mask() => new(_attr, _field, mask: true);

    public override string ToString() =>
        (_field is null ? _attr : $"{_attr}({_field}=...)") + (_mask ? " mask" : "");
}

/// <summary>
/// Scanning primitives over a slice of a string for the ODP parsers: numbers as C's <c>%i</c> (decimal, <c>0x</c> hex,
/// leading-zero octal), addresses, names. Every method returns false after recording an <see cref="OdpParseError"/>;
/// nothing throws.
/// </summary>
internal class OdpTextReader
{
    protected readonly string S;
    protected readonly int End;
    protected int Pos;
    private OdpParseError _error;

    protected OdpTextReader(string text, int start, int end)
    {
        S = text;
        Pos = start;
        End = end;
    }

    public OdpParseError Error => _error;
    public int Position => Pos;

    protected bool Fail(int at, string message)
    {
        _error = new OdpParseError(at, message);
        return false;
    }

    protected bool AtEnd => Pos >= End;
    protected char Peek => Pos < End ? S[Pos] : '\0';
    protected char PeekAt(int offset) => Pos + offset < End ? S[Pos + offset] : '\0';

    protected static bool IsDelimiter(char c) => c is ',' or ' ' or '\t' or '\r' or '\n';

    protected void SkipDelimiters()
    {
        while (Pos < End && IsDelimiter(S[Pos])) Pos++;
    }

    protected bool TryConsume(char c)
    {
        if (Peek != c) return false;
        Pos++;
        return true;
    }

    protected bool TryConsume(string literal)
    {
        if (End - Pos < literal.Length || string.CompareOrdinal(S, Pos, literal, 0, literal.Length) != 0) return false;
        Pos += literal.Length;
        return true;
    }

    protected bool Expect(char c, OdpCtx context)
    {
        if (TryConsume(c)) return true;
        return Fail(Pos, AtEnd ? $"{context}: expected '{c}' but the text ended" : $"{context}: expected '{c}' but found '{Peek}'");
    }

    /// <summary>A name: letters, digits and '_'. Empty when none.</summary>
    protected ReadOnlySpan<char> Name()
    {
        int start = Pos;
        while (Pos < End && (char.IsAsciiLetterOrDigit(S[Pos]) || S[Pos] == '_')) Pos++;
        return S.AsSpan(start, Pos - start);
    }

    protected ReadOnlySpan<char> Token(int start) => S.AsSpan(start, Pos - start);

    /// <summary>The text from <paramref name="start"/> up to the next delimiter or parenthesis, for messages.</summary>
    protected string Snippet(int start)
    {
        int e = start;
        while (e < End && !IsDelimiter(S[e]) && S[e] is not ('(' or ')' or '/')) e++;
        return S.Substring(start, Math.Min(e - start, 40));
    }

    /// <summary>An unsigned number as C's <c>%i</c>; fails unless it is at most <paramref name="max"/>.</summary>
    protected bool Number(OdpCtx context, ulong max, out ulong value)
    {
        value = 0;
        int start = Pos;
        if (!char.IsAsciiDigit(Peek)) return Fail(Pos, $"{context}: expected a number");
        int radix = 10;
        if (Peek == '0' && (PeekAt(1) == 'x' || PeekAt(1) == 'X') && char.IsAsciiHexDigit(PeekAt(2)))
        {
            radix = 16;
            Pos += 2;
        }
        else if (Peek == '0' && char.IsAsciiDigit(PeekAt(1)))
        {
            radix = 8;
            Pos++;
        }
        bool overflow = false;
        while (Pos < End)
        {
            char c = S[Pos];
            int d = c is >= '0' and <= '9' ? c - '0' : c is >= 'a' and <= 'f' ? c - 'a' + 10 : c is >= 'A' and <= 'F' ? c - 'A' + 10 : 99;
            if (d >= radix) break;
            if (value > (ulong.MaxValue - (ulong)d) / (ulong)radix) overflow = true;
            else value = value * (ulong)radix + (ulong)d;
            Pos++;
        }
        if (char.IsAsciiLetterOrDigit(Peek))
            return Fail(start, $"{context}: bad number '{Snippet(start)}'");
        if (overflow || value > max)
            return Fail(start, $"{context}: value {Token(start)} out of range (max {max})");
        return true;
    }

    /// <summary>A decimal number with an optional fraction (for <c>sample=P%</c>).</summary>
    protected bool Decimal(OdpCtx context, out double value)
    {
        value = 0;
        int start = Pos;
        while (char.IsAsciiDigit(Peek)) Pos++;
        if (Peek == '.')
        {
            Pos++;
            while (char.IsAsciiDigit(Peek)) Pos++;
        }
        if (Pos == start || !double.TryParse(Token(start), System.Globalization.NumberStyles.AllowDecimalPoint,
                System.Globalization.CultureInfo.InvariantCulture, out value))
            return Fail(start, $"{context}: expected a number");
        return true;
    }

    protected bool Mac(OdpCtx context, out MacAddress mac)
    {
        int start = Pos;
        while (Pos < End && (char.IsAsciiHexDigit(S[Pos]) || S[Pos] == ':')) Pos++;
        if (Pos == start || char.IsAsciiLetterOrDigit(Peek) || !MacAddress.TryParse(Token(start), out mac))
        {
            mac = default;
            return Fail(start, $"{context}: bad MAC address '{Snippet(start)}'");
        }
        return true;
    }

    protected bool Ipv4(OdpCtx context, out uint address)
    {
        address = 0;
        int start = Pos;
        for (int i = 0; i < 4; i++)
        {
            if (i > 0 && !TryConsume('.')) return Fail(start, $"{context}: bad IPv4 address '{Snippet(start)}'");
            int digits = Pos;
            uint octet = 0;
            while (char.IsAsciiDigit(Peek) && Pos - digits < 3)
            {
                octet = octet * 10 + (uint)(Peek - '0');
                Pos++;
            }
            if (Pos == digits || octet > 255) return Fail(start, $"{context}: bad IPv4 address '{Snippet(start)}'");
            address = address << 8 | octet;
        }
        if (char.IsAsciiLetterOrDigit(Peek) || Peek == '.') return Fail(start, $"{context}: bad IPv4 address '{Snippet(start)}'");
        return true;
    }

    /// <summary>An IPv4 mask: a dotted quad or a prefix length (<c>/24</c>).</summary>
    protected bool Ipv4Mask(OdpCtx context, out uint mask)
    {
        int start = Pos;
        while (char.IsAsciiDigit(Peek)) Pos++;
        bool prefix = Peek != '.';
        Pos = start;
        if (!prefix) return Ipv4(context, out mask);
        mask = 0;
        if (!Number(context, 32, out ulong len)) return false;
        mask = len == 0 ? 0 : uint.MaxValue << (32 - (int)len);
        return true;
    }

    protected bool Ipv6(OdpCtx context, out Ipv6Address address)
    {
        int start = Pos;
        while (Pos < End && (char.IsAsciiHexDigit(S[Pos]) || S[Pos] == ':' || S[Pos] == '.')) Pos++;
        if (Pos == start || char.IsAsciiLetterOrDigit(Peek) || Token(start).IndexOf(':') < 0 ||
            !Ipv6Address.TryParse(Token(start), out address))
        {
            address = default;
            return Fail(start, $"{context}: bad IPv6 address '{Snippet(start)}'");
        }
        return true;
    }

    /// <summary>An IPv6 mask: an address or a prefix length (<c>/64</c>).</summary>
    protected bool Ipv6Mask(OdpCtx context, out Ipv6Address mask)
    {
        int start = Pos;
        while (char.IsAsciiDigit(Peek)) Pos++;
        bool prefix = Peek != ':' && Peek != '.' && !char.IsAsciiHexDigit(Peek);
        Pos = start;
        if (!prefix) return Ipv6(context, out mask);
        mask = default;
        if (!Number(context, 128, out ulong len)) return false;
        Span<byte> b = stackalloc byte[16];
        for (int i = 0; i < 16; i++)
        {
            int bits = (int)Math.Clamp((long)len - i * 8, 0, 8);
            b[i] = (byte)(0xFF00 >> bits);
        }
        mask = new Ipv6Address(b);
        return true;
    }
}
