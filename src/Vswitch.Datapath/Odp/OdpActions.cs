using System.Collections;
using Vswitch.Packets;

namespace Vswitch.Datapath.Odp;

/// <summary>Kinds of datapath action (OVS's <c>OVS_ACTION_ATTR_*</c> subset Vswitch implements).</summary>
public enum OdpActionKind
{
    /// <summary>Send to a port: <c>N</c>.</summary>
    Output,
    /// <summary>Insert a VLAN tag: <c>push_vlan(vid=,pcp=[,tpid=,cfi=])</c>.</summary>
    PushVlan,
    /// <summary>Remove the outer VLAN tag: <c>pop_vlan</c>.</summary>
    PopVlan,
    /// <summary>Rewrite header fields: <c>set(eth(...))</c>, masked or not.</summary>
    Set,
    /// <summary>Run nested actions on a fraction of packets: <c>sample(sample=P%,actions(...))</c>.</summary>
    Sample,
    /// <summary>Send to userspace (an upcall of type action): <c>userspace(pid=N[,userdata(...)])</c>.</summary>
    Userspace,
    /// <summary>Run nested actions on a copy: <c>clone(...)</c>.</summary>
    Clone,
    /// <summary>Truncate the packet on output: <c>trunc(N)</c>.</summary>
    Trunc,
}

/// <summary>Which header a <see cref="SetAction"/> rewrites (the attribute inside <c>set(...)</c>).</summary>
public enum OdpSetTarget
{
    /// <summary><c>eth(src=,dst=)</c>.</summary>
    Ethernet,
    /// <summary><c>ipv4(src=,dst=,proto=,tos=,ttl=,frag=)</c> (proto and frag cannot be changed).</summary>
    Ipv4,
    /// <summary><c>ipv6(src=,dst=,label=,proto=,tclass=,hlimit=,frag=)</c>.</summary>
    Ipv6,
    /// <summary><c>tcp(src=,dst=)</c>.</summary>
    Tcp,
    /// <summary><c>udp(src=,dst=)</c>.</summary>
    Udp,
    /// <summary><c>sctp(src=,dst=)</c>.</summary>
    Sctp,
    /// <summary><c>skb_priority(N)</c>.</summary>
    SkbPriority,
    /// <summary><c>skb_mark(N)</c>.</summary>
    SkbMark,
}

/// <summary>One datapath action. Immutable; shared by every packet that runs it.</summary>
public abstract class OdpAction
{
    /// <summary>The kind, for switch-based dispatch in the executor.</summary>
    public abstract OdpActionKind Kind { get; }

    /// <summary>The action in OVS datapath text syntax.</summary>
    public override string ToString() => OdpActionFormatter.Format(this);
}

/// <summary>Output to datapath port <see cref="Port"/>.</summary>
public sealed class OutputAction(uint port) : OdpAction
{
    /// <summary>Datapath port number.</summary>
    public uint Port { get; } = port;
    /// <inheritdoc/>
    public override OdpActionKind Kind => OdpActionKind.Output;
}

/// <summary>Push a VLAN header with <see cref="Tpid"/> and <see cref="Tci"/> (CFI bit set = the tag's present bit).</summary>
public sealed class PushVlanAction(ushort tpid, ushort tci) : OdpAction
{
    /// <summary>Tag protocol id (0x8100 or 0x88a8).</summary>
    public ushort Tpid { get; } = tpid;
    /// <summary>Tag control information: pcp(3) | cfi(1) | vid(12).</summary>
    public ushort Tci { get; } = tci;
    /// <summary>VLAN id.</summary>
    public int Vid => Tci & 0x0FFF;
    /// <summary>Priority code point.</summary>
    public int Pcp => Tci >> 13;
    /// <inheritdoc/>
    public override OdpActionKind Kind => OdpActionKind.PushVlan;
}

/// <summary>Remove the outermost VLAN header (no effect on an untagged packet).</summary>
public sealed class PopVlanAction : OdpAction
{
    /// <summary>The one instance.</summary>
    public static PopVlanAction Instance { get; } = new();
    /// <inheritdoc/>
    public override OdpActionKind Kind => OdpActionKind.PopVlan;
}

/// <summary>
/// Rewrite the fields of <see cref="Target"/>: each bit set in <see cref="Mask"/> takes its value from
/// <see cref="Value"/> (fields live where <see cref="FlowKey"/> keeps them). A non-masked set has an all-ones
/// mask over the target's fields. Checksums are updated.
/// </summary>
public sealed class SetAction(OdpSetTarget target, FlowKey value, FlowKey mask, bool masked) : OdpAction
{
    private readonly FlowKey _value = value;
    private readonly FlowKey _mask = mask;
    /// <summary>The header rewritten.</summary>
    public OdpSetTarget Target { get; } = target;
    /// <summary>New values (only bits under <see cref="Mask"/> matter; pre-masked).</summary>
    public ref readonly FlowKey Value => ref _value;
    /// <summary>Which bits to rewrite.</summary>
    public ref readonly FlowKey Mask => ref _mask;
    /// <summary>True when written as a masked set (<c>/mask</c> syntax, OVS's set_masked).</summary>
    public bool IsMasked { get; } = masked;
    /// <inheritdoc/>
    public override OdpActionKind Kind => OdpActionKind.Set;

    /// <summary>
    /// The mask of every field <paramref name="target"/> covers (what a non-masked set rewrites): Ethernet src/dst;
    /// IPv4 src/dst/proto/tos/ttl/frag; IPv6 src/dst/label(20 bits)/proto/tclass/hlimit/frag; L4 ports; the priority or mark.
    /// </summary>
    public static FlowKey TargetMask(OdpSetTarget target)
    {
        FlowKey m = default;
        switch (target)
        {
            case OdpSetTarget.Ethernet:
                m.EthSrc = MacAddress.Broadcast;
                m.EthDst = MacAddress.Broadcast;
                break;
            case OdpSetTarget.Ipv4:
                m.Ipv4Src = uint.MaxValue;
                m.Ipv4Dst = uint.MaxValue;
                m.NwProto = m.NwTos = m.NwTtl = 0xFF;
                m.NwFrag = FlowKey.FragAny | FlowKey.FragLater;
                break;
            case OdpSetTarget.Ipv6:
                m.Ipv6Src = Ipv6Address.AllOnes;
                m.Ipv6Dst = Ipv6Address.AllOnes;
                m.Ipv6Label = 0xFFFFF;
                m.NwProto = m.NwTos = m.NwTtl = 0xFF;
                m.NwFrag = FlowKey.FragAny | FlowKey.FragLater;
                break;
            case OdpSetTarget.Tcp or OdpSetTarget.Udp or OdpSetTarget.Sctp:
                m.TpSrc = m.TpDst = 0xFFFF;
                break;
            case OdpSetTarget.SkbPriority:
                m.SkbPriority = uint.MaxValue;
                break;
            case OdpSetTarget.SkbMark:
                m.SkbMark = uint.MaxValue;
                break;
        }
        return m;
    }
}

/// <summary>Run <see cref="Actions"/> on a copy of the packet with probability <see cref="Probability"/>/2^32-1.</summary>
public sealed class SampleAction(uint probability, OdpActionList actions) : OdpAction
{
    /// <summary>Probability scaled to <see cref="uint.MaxValue"/> = 100%.</summary>
    public uint Probability { get; } = probability;
    /// <summary>Nested actions.</summary>
    public OdpActionList Actions { get; } = actions;
    /// <inheritdoc/>
    public override OdpActionKind Kind => OdpActionKind.Sample;
}

/// <summary>Send a copy of the packet to the upcall queue as an action upcall for listener <see cref="Pid"/>.</summary>
public sealed class UserspaceAction(uint pid, byte[]? userdata) : OdpAction
{
    /// <summary>Listener id (OVS's netlink pid).</summary>
    public uint Pid { get; } = pid;
    /// <summary>Opaque bytes returned with the upcall, or null.</summary>
    public byte[]? Userdata { get; } = userdata;
    /// <inheritdoc/>
    public override OdpActionKind Kind => OdpActionKind.Userspace;
}

/// <summary>Run <see cref="Actions"/> on a copy; changes made inside do not affect the original.</summary>
public sealed class CloneAction(OdpActionList actions) : OdpAction
{
    /// <summary>Nested actions.</summary>
    public OdpActionList Actions { get; } = actions;
    /// <inheritdoc/>
    public override OdpActionKind Kind => OdpActionKind.Clone;
}

/// <summary>Truncate the packet to at most <see cref="MaxLength"/> bytes for the following outputs.</summary>
public sealed class TruncAction(uint maxLength) : OdpAction
{
    /// <summary>Maximum length in bytes (OVS requires ≥ 60, ETH_TOTAL_MIN... we require ≥ 14).</summary>
    public uint MaxLength { get; } = maxLength;
    /// <inheritdoc/>
    public override OdpActionKind Kind => OdpActionKind.Trunc;
}

/// <summary>An immutable action list. Empty means drop (printed <c>drop</c>).</summary>
public sealed class OdpActionList : IReadOnlyList<OdpAction>
{
    private readonly OdpAction[] _actions;

    /// <summary>The empty list: drop.</summary>
    public static OdpActionList Drop { get; } = new([]);

    /// <summary>Wraps a copy of <paramref name="actions"/>.</summary>
    public OdpActionList(IEnumerable<OdpAction> actions) => _actions = actions.ToArray();

    /// <summary>The actions as a span (no allocation; for the executor).</summary>
    public ReadOnlySpan<OdpAction> AsSpan() => _actions;

    /// <summary>True when the list is empty.</summary>
    public bool IsDrop => _actions.Length == 0;

    /// <inheritdoc/>
    public int Count => _actions.Length;

    /// <inheritdoc/>
    public OdpAction this[int index] => _actions[index];

    /// <inheritdoc/>
    public IEnumerator<OdpAction> GetEnumerator() => ((IEnumerable<OdpAction>)_actions).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _actions.GetEnumerator();

    /// <summary>The list in OVS datapath text syntax (<c>drop</c> when empty).</summary>
    public override string ToString() => OdpActionFormatter.Format(this);
}
