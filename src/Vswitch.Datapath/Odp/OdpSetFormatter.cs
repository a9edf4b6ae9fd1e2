using System.Text;

namespace Vswitch.Datapath.Odp;

/// <summary>Prints <c>set(...)</c> actions; the header fields use the key formatter's syntax.</summary>
internal static class OdpSetFormatter
{
    /// <summary>Appends <c>set(ATTR(...))</c>. Interim: the Odp key formatter replaces this body.</summary>
    public static void Append(StringBuilder sb, SetAction action)
    {
        sb.Append("set(").Append(action.Target.ToString().ToLowerInvariant()).Append("(...))");
    }
}
