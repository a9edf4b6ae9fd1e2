using Vswitch.Packets;

namespace Vswitch.Datapath.Odp;

/// <summary>
/// Parses Open vSwitch datapath flow key text (odp_flow_from_string syntax, as printed by <c>ovs-dpctl dump-flows</c>
/// and by <see cref="OdpFlowFormatter"/>) into a <see cref="FlowKey"/> and its mask.
/// </summary>
/// <remarks>
/// <para>A field without <c>/mask</c> is matched exactly; fields and attributes not written are wildcarded (mask 0),
/// except that a key without <c>vlan(...)</c> matches untagged packets only (as OVS reads datapath keys). Attribute order
/// is free. The returned key is not masked: values are as written (so <c>src=35.8.2.41/255.255.255.0</c> prints back
/// unchanged), and values the text implies are filled in with a zero mask (<c>ipv4(...)</c> without <c>eth_type</c>
/// gives eth_type 0x0800, <c>tcp(...)</c> gives IP protocol 6). Structural errors (an <c>ipv4</c> with
/// <c>eth_type(0x86dd)</c>, <c>tcp</c> next to <c>udp</c>, <c>nd</c> without <c>icmpv6(type=135|136,code=0)</c>, an L3
/// attribute outside the innermost <c>encap</c>) are parse errors; matching rules a datapath enforces on top (exact
/// prerequisites, exact in_port) are <see cref="OdpFlowValidator"/>'s.</para>
/// <para>TryParse never throws; it reports the offset and a message naming the attribute and field.
/// Parse throws <see cref="FormatException"/> with the same text.</para>
/// </remarks>
public static class OdpFlowParser
{
    /// <summary>Parses a masked flow key.</summary>
    public static bool TryParse(string text, out FlowKey key, out FlowKey mask, out OdpParseError error)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, 0, text.Length, out key, out mask, out error);
    }

    /// <summary>Parses a masked flow key from <paramref name="text"/>[<paramref name="start"/>..<paramref name="end"/>);
    /// error offsets are positions in <paramref name="text"/>.</summary>
    internal static bool TryParse(string text, int start, int end, out FlowKey key, out FlowKey mask, out OdpParseError error)
    {
        var reader = new OdpKeyReader(text, start, end, keyOnly: false);
        if (!reader.ParseFlow())
        {
            key = mask = default;
            error = reader.Error;
            return false;
        }
        key = reader.Key;
        mask = reader.Mask;
        error = default;
        return true;
    }

    /// <summary>Parses a masked flow key or throws <see cref="FormatException"/> (message and offset).</summary>
    public static void Parse(string text, out FlowKey key, out FlowKey mask)
    {
        if (!TryParse(text, out key, out mask, out var error)) throw new FormatException(error.ToString());
    }

    /// <summary>
    /// Parses an exact key (an upcall's or <c>get-flow</c>'s key): no <c>/mask</c> is allowed; fields not written are zero,
    /// and a key without eth_type (and no L3 attribute) is an 802.3 frame (<see cref="FlowKey.EthTypeNone"/>), as OVS.
    /// </summary>
    public static bool TryParseKey(string text, out FlowKey key, out OdpParseError error)
    {
        ArgumentNullException.ThrowIfNull(text);
        var reader = new OdpKeyReader(text, 0, text.Length, keyOnly: true);
        if (!reader.ParseFlow())
        {
            key = default;
            error = reader.Error;
            return false;
        }
        key = reader.Key;
        error = default;
        return true;
    }

    /// <summary>Parses an exact key or throws <see cref="FormatException"/>.</summary>
    public static FlowKey ParseKey(string text) =>
        TryParseKey(text, out var key, out var error) ? key : throw new FormatException(error.ToString());
}

/// <summary>Parses Open vSwitch datapath action text (odp_actions_from_string syntax).</summary>
/// <remarks>Supported: port numbers, <c>drop</c>, <c>push_vlan(...)</c>, <c>pop_vlan</c>, <c>set(...)</c> (masked when any
/// field has a partial mask or a field of the target is missing), <c>sample(sample=P%,actions(...))</c>,
/// <c>userspace(pid=N[,userdata(HEX)])</c>, <c>clone(...)</c>, <c>trunc(N)</c>. TryParse never throws.</remarks>
public static class OdpActionParser
{
    /// <summary>Parses an action list; <c>drop</c> or an empty string is the empty list.</summary>
    public static bool TryParse(string text, out OdpActionList actions, out OdpParseError error)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, 0, text.Length, out actions, out error);
    }

    internal static bool TryParse(string text, int start, int end, out OdpActionList actions, out OdpParseError error)
    {
        var reader = new OdpActionReader(text, start, end);
        if (!reader.ParseAll())
        {
            actions = OdpActionList.Drop;
            error = reader.Error;
            return false;
        }
        actions = reader.Result!;
        if (!OdpActionLimits.TryCheck(actions, out var limit))
        {
            actions = OdpActionList.Drop;
            error = new OdpParseError(start, limit);
            return false;
        }
        error = default;
        return true;
    }

    /// <summary>Parses an action list or throws <see cref="FormatException"/> (message and offset).</summary>
    public static OdpActionList Parse(string text) =>
        TryParse(text, out var actions, out var error) ? actions : throw new FormatException(error.ToString());
}
