using System.Globalization;
using System.Text;
using Vswitch.Packets;

namespace Vswitch.Datapath.Odp;

/// <summary>A datapath flow's statistics as <c>dpctl/dump-flows</c> shows them.</summary>
/// <param name="Packets">Packets that matched the flow.</param>
/// <param name="Bytes">Bytes of those packets.</param>
/// <param name="UsedAgo">Time since the flow last matched a packet, or null when it never did (<c>used:never</c>).</param>
/// <param name="TcpFlags">OR of the TCP flags seen (printed as <c>flags:SFPRU.ECN</c> letters when not zero).</param>
public readonly record struct OdpFlowStats(ulong Packets, ulong Bytes, TimeSpan? UsedAgo, ushort TcpFlags);

/// <summary>One parsed <c>dump-flows</c> line.</summary>
public sealed class OdpDumpedFlow
{
    private readonly FlowKey _key;
    private readonly FlowKey _mask;

    /// <summary>Creates a dumped flow.</summary>
    public OdpDumpedFlow(in FlowKey key, in FlowKey mask, OdpFlowStats stats, OdpActionList actions)
    {
        _key = key;
        _mask = mask;
        Stats = stats;
        Actions = actions;
    }

    /// <summary>The key as written (unmasked; see <see cref="OdpFlowParser"/>).</summary>
    public ref readonly FlowKey Key => ref _key;
    /// <summary>The mask.</summary>
    public ref readonly FlowKey Mask => ref _mask;
    /// <summary>The statistics.</summary>
    public OdpFlowStats Stats { get; }
    /// <summary>The actions.</summary>
    public OdpActionList Actions { get; }
}

/// <summary>
/// Whole-line forms: the <c>dpctl/dump-flows</c> line <c>KEY, packets:N, bytes:N, used:0.412s[, flags:S.], actions:ACTIONS</c>
/// (<c>used:never</c> when unused) and <c>dpctl/add-flow</c>'s two arguments <c>FLOW ACTIONS</c>.
/// </summary>
public static class OdpFlowLine
{
    /// <summary>Formats a dump-flows line (OVS's dpctl_dump_flows: odp_flow_format, dpif_flow_stats_format, format_odp_actions).</summary>
    public static string FormatDump(in FlowKey key, in FlowKey mask, in OdpFlowStats stats, OdpActionList actions, bool verbose = false)
    {
        ArgumentNullException.ThrowIfNull(actions);
        var sb = new StringBuilder(320);
        OdpFlowFormatter.Append(sb, in key, in mask, verbose);
        sb.Append(", ");
        AppendStats(sb, in stats);
        sb.Append(", actions:");
        OdpActionFormatter.Append(sb, actions);
        return sb.ToString();
    }

    /// <summary>Appends <c>packets:N, bytes:N, used:T[, flags:S]</c> (dpif_flow_stats_format).</summary>
    public static void AppendStats(StringBuilder sb, in OdpFlowStats stats)
    {
        sb.Append("packets:");
        OdpText.Dec(sb, stats.Packets);
        sb.Append(", bytes:");
        OdpText.Dec(sb, stats.Bytes);
        sb.Append(", used:");
        if (stats.UsedAgo is { } ago) sb.Append(Math.Max(0, ago.TotalSeconds).ToString("F3", CultureInfo.InvariantCulture)).Append('s');
        else sb.Append("never");
        if (stats.TcpFlags != 0)
        {
            sb.Append(", flags:");
            OdpText.TcpFlagLetters(sb, stats.TcpFlags);
        }
    }

    /// <summary>Parses a dump-flows line (an optional leading <c>ufid:...</c> is skipped). Never throws.</summary>
    public static bool TryParseDump(string line, out OdpDumpedFlow? flow, out OdpParseError error)
    {
        ArgumentNullException.ThrowIfNull(line);
        flow = null;
        int keyEnd = line.IndexOf(", packets:", StringComparison.Ordinal);
        if (keyEnd < 0)
        {
            error = new OdpParseError(line.Length, "dump-flows line: missing ', packets:'");
            return false;
        }
        if (!OdpFlowParser.TryParse(line, 0, keyEnd, out var key, out var mask, out error)) return false;

        int pos = keyEnd + 2;
        if (!StatField(line, ref pos, "packets:", out ulong packets, out error)) return false;
        if (!Separator(line, ref pos, out error)) return false;
        if (!StatField(line, ref pos, "bytes:", out ulong bytes, out error)) return false;
        if (!Separator(line, ref pos, out error)) return false;
        if (!Used(line, ref pos, out var used, out error)) return false;
        if (!Separator(line, ref pos, out error)) return false;
        ushort tcpFlags = 0;
        if (string.CompareOrdinal(line, pos, "flags:", 0, 6) == 0)
        {
            pos += 6;
            if (!FlagLetters(line, ref pos, out tcpFlags, out error)) return false;
            if (!Separator(line, ref pos, out error)) return false;
        }
        if (string.CompareOrdinal(line, pos, "actions:", 0, 8) != 0)
        {
            error = new OdpParseError(pos, "dump-flows line: expected 'actions:'");
            return false;
        }
        pos += 8;
        if (!OdpActionParser.TryParse(line, pos, line.Length, out var actions, out error)) return false;
        flow = new OdpDumpedFlow(in key, in mask, new OdpFlowStats(packets, bytes, used, tcpFlags), actions);
        return true;
    }

    /// <summary>Parses a dump-flows line or throws <see cref="FormatException"/>.</summary>
    public static OdpDumpedFlow ParseDump(string line) =>
        TryParseDump(line, out var flow, out var error) ? flow! : throw new FormatException(error.ToString());

    /// <summary>
    /// Parses <c>dpctl/add-flow</c>'s arguments: the flow (key with masks) and the actions. Error offsets are within the
    /// argument named at the start of the message (<c>flow:</c> or <c>actions:</c>). Never throws.
    /// </summary>
    public static bool TryParseAddFlow(string flow, string actions, out FlowKey key, out FlowKey mask, out OdpActionList parsedActions, out OdpParseError error)
    {
        ArgumentNullException.ThrowIfNull(flow);
        ArgumentNullException.ThrowIfNull(actions);
        parsedActions = OdpActionList.Drop;
        if (!OdpFlowParser.TryParse(flow, out key, out mask, out error))
        {
            error = error with { Message = "flow: " + error.Message };
            return false;
        }
        if (!OdpActionParser.TryParse(actions, out parsedActions, out error))
        {
            error = error with { Message = "actions: " + error.Message };
            return false;
        }
        return true;
    }

    /// <summary>
    /// Parses <c>FLOW ACTIONS</c> as one line (the two add-flow arguments separated by white space outside parentheses;
    /// the flow itself must not contain spaces). Offsets are within <paramref name="line"/>. Never throws.
    /// </summary>
    public static bool TryParseAddFlow(string line, out FlowKey key, out FlowKey mask, out OdpActionList actions, out OdpParseError error)
    {
        ArgumentNullException.ThrowIfNull(line);
        actions = OdpActionList.Drop;
        int start = 0;
        while (start < line.Length && char.IsWhiteSpace(line[start])) start++;
        int depth = 0, split = -1;
        for (int i = start; i < line.Length; i++)
        {
            char c = line[i];
            if (c == '(') depth++;
            else if (c == ')') depth--;
            else if (depth == 0 && char.IsWhiteSpace(c))
            {
                split = i;
                break;
            }
        }
        if (split < 0)
        {
            key = mask = default;
            error = new OdpParseError(line.Length, "add-flow: expected FLOW ACTIONS (two arguments)");
            return false;
        }
        if (!OdpFlowParser.TryParse(line, start, split, out key, out mask, out error)) return false;
        return OdpActionParser.TryParse(line, split + 1, line.Length, out actions, out error);
    }

    private static bool StatField(string s, ref int pos, string name, out ulong value, out OdpParseError error)
    {
        value = 0;
        if (string.CompareOrdinal(s, pos, name, 0, name.Length) != 0)
        {
            error = new OdpParseError(pos, $"dump-flows line: expected '{name}'");
            return false;
        }
        pos += name.Length;
        int start = pos;
        while (pos < s.Length && char.IsAsciiDigit(s[pos])) pos++;
        if (pos == start || !ulong.TryParse(s.AsSpan(start, pos - start), NumberStyles.None, CultureInfo.InvariantCulture, out value))
        {
            error = new OdpParseError(start, $"dump-flows line: {name} expected a number");
            return false;
        }
        error = default;
        return true;
    }

    private static bool Separator(string s, ref int pos, out OdpParseError error)
    {
        if (string.CompareOrdinal(s, pos, ", ", 0, 2) != 0)
        {
            error = new OdpParseError(pos, "dump-flows line: expected ', '");
            return false;
        }
        pos += 2;
        error = default;
        return true;
    }

    private static bool Used(string s, ref int pos, out TimeSpan? used, out OdpParseError error)
    {
        used = null;
        if (string.CompareOrdinal(s, pos, "used:", 0, 5) != 0)
        {
            error = new OdpParseError(pos, "dump-flows line: expected 'used:'");
            return false;
        }
        pos += 5;
        if (string.CompareOrdinal(s, pos, "never", 0, 5) == 0)
        {
            pos += 5;
            error = default;
            return true;
        }
        int start = pos;
        while (pos < s.Length && (char.IsAsciiDigit(s[pos]) || s[pos] == '.')) pos++;
        if (pos == start || pos >= s.Length || s[pos] != 's' ||
            !double.TryParse(s.AsSpan(start, pos - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double seconds))
        {
            error = new OdpParseError(start, "dump-flows line: used: expected seconds like 0.412s or never");
            return false;
        }
        pos++;
        used = TimeSpan.FromMilliseconds(Math.Round(seconds * 1000.0));
        error = default;
        return true;
    }

    private static bool FlagLetters(string s, ref int pos, out ushort flags, out OdpParseError error)
    {
        flags = 0;
        int start = pos;
        if (string.CompareOrdinal(s, pos, "none", 0, 4) == 0)
        {
            pos += 4;
            error = default;
            return true;
        }
        while (pos < s.Length && s[pos] != ',')
        {
            char c = s[pos];
            ushort bit = c switch
            {
                'S' => 0x002, 'F' => 0x001, 'P' => 0x008, 'R' => 0x004, 'U' => 0x020, '.' => 0x010,
                'E' => 0x040, 'C' => 0x080, 'N' => 0x100, _ => 0,
            };
            if (bit == 0 && c == '[')
            {
                bit = string.CompareOrdinal(s, pos, "[200]", 0, 5) == 0 ? (ushort)0x200
                    : string.CompareOrdinal(s, pos, "[400]", 0, 5) == 0 ? (ushort)0x400
                    : string.CompareOrdinal(s, pos, "[800]", 0, 5) == 0 ? (ushort)0x800 : (ushort)0;
                if (bit != 0) pos += 4;
            }
            if (bit == 0)
            {
                error = new OdpParseError(pos, $"dump-flows line: flags: unknown TCP flag letter '{c}'");
                return false;
            }
            flags |= bit;
            pos++;
        }
        if (pos == start)
        {
            error = new OdpParseError(pos, "dump-flows line: flags: expected TCP flag letters");
            return false;
        }
        error = default;
        return true;
    }
}
