using System.Diagnostics.CodeAnalysis;
using Vswitch.Datapath.Odp;
using Vswitch.Packets;

namespace Vswitch.Datapath.Userspace;

/// <summary>Checks a flow key/mask before it is installed (the seam to the odp layer's validator).</summary>
internal interface IFlowKeyValidator
{
    /// <summary>
    /// False with <paramref name="error"/> naming the problem when the (key, mask) pair is inconsistent or incomplete;
    /// otherwise the normalised pair the datapath installs (key AND mask, and the mask possibly adjusted).
    /// </summary>
    bool Validate(in FlowKey key, in FlowKey mask, out FlowKey normalizedKey, out FlowKey normalizedMask, [NotNullWhen(false)] out string? error);
}

/// <summary>
/// The datapath's key/mask checks: the odp layer's <see cref="OdpFlowValidator"/>, which refuses what OVS's userspace
/// datapath refuses (in_port not exact, fields matched without exact prerequisites, fields the key's protocols do not
/// have, partial eth_type/proto/frag masks, reserved bytes) and normalises the pair (key AND mask, recirc_id exact,
/// VLAN TCI mask 0 → 0x1fff, all-ones masks narrowed to field widths) exactly as the flow text parser does, so a flow
/// put from text and one from an upcall get the same identity.
/// </summary>
internal sealed class OdpFlowKeyValidator : IFlowKeyValidator
{
    public static readonly OdpFlowKeyValidator Instance = new();

    public bool Validate(in FlowKey key, in FlowKey mask, out FlowKey normalizedKey, out FlowKey normalizedMask, [NotNullWhen(false)] out string? error) =>
        OdpFlowValidator.TryValidate(key, mask, out normalizedKey, out normalizedMask, out error);
}

/// <summary>Action checks done at flow put and execute (what the datapath can run).</summary>
internal static class ActionValidation
{
    public const int MaxNesting = OdpActionLimits.MaxNesting;

    /// <summary>The size and nesting limits (<see cref="OdpActionLimits"/>) first, then what this datapath can run.</summary>
    public static bool Validate(OdpActionList actions, int maxPorts, [NotNullWhen(false)] out string? error) =>
        OdpActionLimits.TryCheck(actions, out error) && Validate(actions, maxPorts, 0, out error);

    private static bool Validate(OdpActionList actions, int maxPorts, int depth, [NotNullWhen(false)] out string? error)
    {
        if (depth > MaxNesting) { error = $"actions nested more than {MaxNesting} deep"; return false; }
        foreach (var a in actions)
        {
            switch (a)
            {
                case OutputAction o when o.Port >= (uint)maxPorts:
                    error = $"output to port {o.Port}: port numbers must be below {maxPorts}";
                    return false;
                case PushVlanAction pv when pv.Tpid is not 0x8100 and not 0x88A8:
                    error = $"push_vlan tpid 0x{pv.Tpid:x4}: must be 0x8100 or 0x88a8";
                    return false;
                case TruncAction t when t.MaxLength < 14:
                    error = $"trunc({t.MaxLength}): must be at least 14 bytes";
                    return false;
                case SampleAction s when !Validate(s.Actions, maxPorts, depth + 1, out error):
                    return false;
                case CloneAction c when !Validate(c.Actions, maxPorts, depth + 1, out error):
                    return false;
                case SetAction set when set.Target is not (OdpSetTarget.Ethernet or OdpSetTarget.Ipv4 or OdpSetTarget.Ipv6
                    or OdpSetTarget.Tcp or OdpSetTarget.Udp or OdpSetTarget.Sctp or OdpSetTarget.SkbPriority or OdpSetTarget.SkbMark):
                    error = $"set of {set.Target} is not supported";
                    return false;
            }
        }
        error = null;
        return true;
    }
}
