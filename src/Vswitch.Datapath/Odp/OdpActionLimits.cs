using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Vswitch.Datapath.Odp;

/// <summary>
/// How big an action list may be: at most <see cref="MaxEncodedBytes"/> bytes when encoded as the datapath's netlink
/// attributes (Open vSwitch's kernel datapath refuses larger lists: <c>MAX_ACTIONS_BUFSIZE</c>, 32 KB), and nested lists
/// (<c>clone</c>, <c>sample</c>) at most <see cref="MaxNesting"/> deep. Enforced when action text is parsed and by every
/// datapath at flow put and execute (callers that build actions in code do not go through the parser), so one packet can
/// never become tens of thousands (an output costs 8 bytes: at most 4,096 outputs).
/// </summary>
public static class OdpActionLimits
{
    /// <summary>Largest encoded action list, in bytes (OVS kernel datapath's <c>MAX_ACTIONS_BUFSIZE</c>).</summary>
    public const int MaxEncodedBytes = 32 * 1024;

    /// <summary>Deepest nesting of action lists inside <c>clone(...)</c> / <c>sample(...)</c>.</summary>
    public const int MaxNesting = 8;

    /// <summary>
    /// False with an error naming the limit when <paramref name="actions"/> is too large or nested too deep. Never recurses
    /// deeper than <see cref="MaxNesting"/>, whatever the list.
    /// </summary>
    public static bool TryCheck(OdpActionList actions, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(actions);
        long size = 0, count = 0;
        if (!Walk(actions, 0, ref size, ref count, out error)) return false;
        if (size > MaxEncodedBytes)
        {
            error = string.Create(CultureInfo.InvariantCulture,
                $"action list too large: {count} actions take {size} bytes as datapath attributes, more than the limit of {MaxEncodedBytes} (OVS's MAX_ACTIONS_BUFSIZE; an output takes 8 bytes)");
            return false;
        }
        return true;
    }

    /// <summary>The size of <paramref name="actions"/> as OVS netlink action attributes (each 4-byte aligned, nested lists included).</summary>
    public static long EncodedSize(OdpActionList actions)
    {
        long size = 0, count = 0;
        Walk(actions, int.MinValue, ref size, ref count, out _);
        return size;
    }

    private static bool Walk(OdpActionList actions, int depth, ref long size, ref long count, [NotNullWhen(false)] out string? error)
    {
        if (depth > MaxNesting)
        {
            error = $"actions nested more than {MaxNesting} deep";
            return false;
        }
        foreach (var a in actions.AsSpan())
        {
            count++;
            size += a switch
            {
                OutputAction or TruncAction or PushVlanAction => 8,   // header + u32 / struct ovs_action_push_vlan
                PopVlanAction => 4,
                SetAction set => SetSize(set),
                UserspaceAction u => 4 + 8 + (u.Userdata is { } d ? 4 + Align(d.Length) : 0),
                SampleAction => 4 + 8 + 4,     // OVS_ACTION_ATTR_SAMPLE: probability, nested OVS_SAMPLE_ATTR_ACTIONS
                CloneAction => 4,
                _ => 8,
            };
            var nested = a switch { SampleAction s => s.Actions, CloneAction c => c.Actions, _ => null };
            if (nested is not null && !Walk(nested, depth + 1, ref size, ref count, out error)) return false;
        }
        error = null;
        return true;
    }

    /// <summary>OVS_ACTION_ATTR_SET(key attribute) or SET_MASKED(key attribute with value and mask).</summary>
    private static int SetSize(SetAction set)
    {
        int key = set.Target switch
        {
            OdpSetTarget.Ethernet => 12,     // struct ovs_key_ethernet
            OdpSetTarget.Ipv4 => 12,         // struct ovs_key_ipv4
            OdpSetTarget.Ipv6 => 40,         // struct ovs_key_ipv6
            _ => 4,                          // ports, skb_priority, skb_mark
        };
        return 4 + 4 + Align(set.IsMasked ? 2 * key : key);
    }

    private static int Align(int n) => (n + 3) & ~3;
}
