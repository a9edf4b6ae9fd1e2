using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using Vswitch.Packets;

namespace Vswitch.Switch.Normal;

/// <summary>
/// The subset of Open vSwitch's datapath flow syntax that NORMAL forwarding looks at, for <c>trace</c> and
/// logs: <c>recirc_id(N)</c>, <c>in_port(N|NAME)</c>, <c>eth(src=M,dst=M)</c>, <c>vlan(vid=N,pcp=N)</c>,
/// <c>eth_type(0xNNNN)</c>, <c>ipv4(src=A,dst=A,proto=N,frag=no|first|later)</c>; the L4 attributes
/// <c>tcp/udp/icmp/icmpv6/arp/ipv6/nd(...)</c> are accepted and ignored (NORMAL never reads them).
/// </summary>
public static class FlowText
{
    private static readonly HashSet<string> s_ignored = ["tcp", "udp", "sctp", "icmp", "icmpv6", "arp", "ipv6", "nd", "tcp_flags", "skb_priority", "skb_mark", "dp_hash"];

    /// <summary>
    /// Parses <paramref name="text"/>. <paramref name="portByName"/> resolves <c>in_port(NAME)</c>. False with an error naming the
    /// offending attribute.
    /// </summary>
    public static bool TryParse(string text, Func<string, uint?>? portByName, out FlowKey key, [NotNullWhen(false)] out string? error)
    {
        key = default;
        error = null;
        int i = 0;
        text = text.Trim();
        bool sawIpv4 = false;
        while (i < text.Length)
        {
            int open = text.IndexOf('(', i);
            if (open < 0) { error = $"flow: expected NAME(...) at '{text[i..]}'"; return false; }
            var name = text[i..open].Trim();
            int depth = 0, close = -1;
            for (int j = open; j < text.Length; j++)
            {
                if (text[j] == '(') depth++;
                else if (text[j] == ')' && --depth == 0) { close = j; break; }
            }
            if (close < 0) { error = $"flow: unbalanced parentheses in '{name}('"; return false; }
            var body = text[(open + 1)..close];
            if (!ParseAttribute(name, body, portByName, ref key, ref sawIpv4, out var attrError)) { error = attrError ?? $"flow: bad attribute '{name}'"; return false; }
            i = close + 1;
            while (i < text.Length && (text[i] == ',' || char.IsWhiteSpace(text[i]))) i++;
        }
        if (key.EthType == 0) key.EthType = sawIpv4 ? (ushort)0x0800 : FlowKey.EthTypeNone;
        return true;
    }

    private static bool ParseAttribute(string name, string body, Func<string, uint?>? portByName, ref FlowKey key, ref bool sawIpv4, out string? error)
    {
        error = null;
        var inv = CultureInfo.InvariantCulture;
        switch (name)
        {
            case "recirc_id":
                if (!TryUInt(body, out var r)) { error = $"recirc_id({body}): expected a number"; return false; }
                key.RecircId = r;
                return true;
            case "in_port":
                if (TryUInt(body, out var p)) { key.InPort = p; return true; }
                if (portByName?.Invoke(body) is { } byName) { key.InPort = byName; return true; }
                error = $"in_port({body}): no such port";
                return false;
            case "eth_type":
                if (!TryUInt(body, out var t) || t > 0xFFFF) { error = $"eth_type({body}): expected a 16-bit number"; return false; }
                key.EthType = (ushort)t;
                return true;
            case "eth":
                foreach (var (k, v) in Fields(body))
                {
                    if (!MacAddress.TryParse(v, out var mac)) { error = $"eth({k}={v}): bad MAC address"; return false; }
                    if (k == "src") key.EthSrc = mac;
                    else if (k == "dst") key.EthDst = mac;
                    else { error = $"eth: unknown field '{k}' (src, dst)"; return false; }
                }
                return true;
            case "vlan":
            {
                int vid = 0, pcp = 0;
                foreach (var (k, v) in Fields(body))
                {
                    if (!int.TryParse(v, NumberStyles.Integer, inv, out var n)) { error = $"vlan({k}={v}): expected a number"; return false; }
                    if (k == "vid" && n is >= 0 and <= 4095) vid = n;
                    else if (k == "pcp" && n is >= 0 and <= 7) pcp = n;
                    else if (k == "cfi") { }
                    else { error = $"vlan({k}={v}): unknown field or out of range (vid 0..4095, pcp 0..7)"; return false; }
                }
                key.Vlan0Tpid = 0x8100;
                key.Vlan0Tci = (ushort)((pcp << 13) | FlowKey.VlanCfi | vid);
                return true;
            }
            case "ipv4":
                sawIpv4 = true;
                foreach (var (k, v) in Fields(body))
                {
                    switch (k)
                    {
                        case "src" or "dst":
                            if (!System.Net.IPAddress.TryParse(v, out var a) || a.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
                            { error = $"ipv4({k}={v}): bad IPv4 address"; return false; }
                            uint u = BinaryPrimitives.ReadUInt32BigEndian(a.GetAddressBytes());
                            if (k == "src") key.Ipv4Src = u; else key.Ipv4Dst = u;
                            break;
                        case "proto" or "tos" or "ttl":
                            if (!TryUInt(v, out var b) || b > 255) { error = $"ipv4({k}={v}): expected 0..255"; return false; }
                            if (k == "proto") key.NwProto = (byte)b; else if (k == "tos") key.NwTos = (byte)b; else key.NwTtl = (byte)b;
                            break;
                        case "frag":
                            key.NwFrag = v switch { "no" => 0, "first" => FlowKey.FragAny, "later" => FlowKey.FragAny | FlowKey.FragLater, _ => byte.MaxValue };
                            if (key.NwFrag == byte.MaxValue) { error = $"ipv4(frag={v}): expected no, first or later"; return false; }
                            break;
                        default:
                            error = $"ipv4: unknown field '{k}'";
                            return false;
                    }
                }
                return true;
            default:
                if (s_ignored.Contains(name)) return true;
                error = $"flow: unknown attribute '{name}'";
                return false;
        }
    }

    private static IEnumerable<(string Key, string Value)> Fields(string body)
    {
        foreach (var part in body.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=');
            yield return eq < 0 ? (part, "") : (part[..eq], part[(eq + 1)..].Split('/')[0]);
        }
    }

    private static bool TryUInt(string s, out uint v)
    {
        s = s.Trim();
        return s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? uint.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out v)
            : uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v);
    }

    /// <summary>
    /// Formats the fields NORMAL uses, restricted to <paramref name="mask"/> when given (a megaflow), in datapath syntax:
    /// <c>recirc_id(0),in_port(1),eth(src=..,dst=..),eth_type(0x0800)</c>.
    /// </summary>
    public static string Format(in FlowKey key, in FlowKey? mask = null)
    {
        var m = mask ?? FlowKey.AllOnes;
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        if (m.RecircId != 0) sb.Append(inv, $"recirc_id({key.RecircId}),");
        if (m.InPort != 0) sb.Append(inv, $"in_port({key.InPort}),");
        if (!m.EthSrc.IsZero || !m.EthDst.IsZero)
        {
            sb.Append("eth(");
            if (!m.EthSrc.IsZero) sb.Append("src=").Append(key.EthSrc.ToString());
            if (!m.EthSrc.IsZero && !m.EthDst.IsZero) sb.Append(',');
            if (!m.EthDst.IsZero) sb.Append("dst=").Append(key.EthDst.ToString());
            sb.Append("),");
        }
        if ((key.Vlan0Tci & FlowKey.VlanCfi) != 0 && m.Vlan0Tci != 0)
        {
            sb.Append(inv, $"vlan(vid={key.Vlan0Tci & 0xFFF}");
            if ((m.Vlan0Tci & 0xE000) != 0) sb.Append(inv, $",pcp={key.Vlan0Tci >> 13}");
            sb.Append("),");
        }
        if (m.EthType != 0) sb.Append(inv, $"eth_type(0x{key.EthType:x4}),");
        if (key.EthType == 0x0800 && m.NwFrag != 0 && mask is not null)
            sb.Append("ipv4(frag=").Append((key.NwFrag & FlowKey.FragLater) != 0 ? "later" : (key.NwFrag & FlowKey.FragAny) != 0 ? "first" : "no").Append("),");
        if (sb.Length > 0) sb.Length--;
        return sb.ToString();
    }
}
