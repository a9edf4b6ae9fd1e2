using System.Globalization;
using System.Text;

namespace Vswitch.Datapath.Odp;

/// <summary>Prints actions in Open vSwitch's datapath text syntax.</summary>
public static class OdpActionFormatter
{
    /// <summary>Formats one action.</summary>
    public static string Format(OdpAction action)
    {
        var sb = new StringBuilder();
        Append(sb, action);
        return sb.ToString();
    }

    /// <summary>Formats a list; the empty list is <c>drop</c>.</summary>
    public static string Format(OdpActionList actions)
    {
        var sb = new StringBuilder();
        Append(sb, actions);
        return sb.ToString();
    }

    /// <summary>Appends a list; the empty list is <c>drop</c>.</summary>
    public static void Append(StringBuilder sb, OdpActionList actions)
    {
        if (actions.IsDrop)
        {
            sb.Append("drop");
            return;
        }
        for (int i = 0; i < actions.Count; i++)
        {
            if (i > 0) sb.Append(',');
            Append(sb, actions[i]);
        }
    }

    /// <summary>Appends one action.</summary>
    public static void Append(StringBuilder sb, OdpAction action)
    {
        var inv = CultureInfo.InvariantCulture;
        switch (action)
        {
            case OutputAction o:
                sb.Append(o.Port.ToString(inv));
                break;
            case PushVlanAction p:
                sb.Append(inv, $"push_vlan(");
                if (p.Tpid != 0x8100) sb.Append(inv, $"tpid=0x{p.Tpid:x4},");
                sb.Append(inv, $"vid={p.Vid},pcp={p.Pcp}");
                if ((p.Tci & 0x1000) == 0) sb.Append(",cfi=0");
                sb.Append(')');
                break;
            case PopVlanAction:
                sb.Append("pop_vlan");
                break;
            case SetAction s:
                OdpSetFormatter.Append(sb, s);
                break;
            case SampleAction s:
                // OVS prints the percentage with one decimal (format_odp_sample_action's "%.1f%%").
                sb.Append("sample(sample=").Append((s.Probability * 100.0 / uint.MaxValue).ToString("F1", inv)).Append("%,actions(");
                Append(sb, s.Actions);
                sb.Append("))");
                break;
            case UserspaceAction u:
                sb.Append(inv, $"userspace(pid={u.Pid}");
                if (u.Userdata is { } data)
                {
                    sb.Append(",userdata(");
                    foreach (var b in data) sb.Append(inv, $"{b:x2}");
                    sb.Append(')');
                }
                sb.Append(')');
                break;
            case CloneAction c:
                sb.Append("clone(");
                Append(sb, c.Actions);
                sb.Append(')');
                break;
            case TruncAction t:
                sb.Append(inv, $"trunc({t.MaxLength})");
                break;
            default:
                sb.Append("unknown_action");
                break;
        }
    }
}
