using System.Text;

namespace Vswitch.Datapath.Odp;

/// <summary>
/// Prints <c>set(...)</c> actions as Open vSwitch's format_odp_action: a plain set prints every field of the
/// target (<c>set(ipv4(src=1.2.3.4,dst=5.6.7.8,proto=6,tos=0,ttl=64,frag=no))</c>); a masked set prints only the
/// rewritten fields, with <c>/mask</c> where partial (<c>set(ipv4(src=10.0.0.0/255.0.0.0,ttl=63))</c>).
/// </summary>
internal static class OdpSetFormatter
{
    /// <summary>Appends <c>set(ATTR(...))</c>.</summary>
    public static void Append(StringBuilder sb, SetAction action)
    {
        sb.Append("set(");
        OdpFlowFormatter.AppendSetTarget(sb, action.Target, in action.Value, in action.Mask, action.IsMasked);
        sb.Append(')');
    }
}
