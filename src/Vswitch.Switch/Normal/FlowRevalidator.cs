using Vswitch.Datapath.Odp;
using Vswitch.Packets;

namespace Vswitch.Switch.Normal;

/// <summary>A flow as installed in the datapath, with its statistics.</summary>
/// <param name="Key">The flow key (masked or not; revalidation masks it).</param>
/// <param name="Mask">The flow mask.</param>
/// <param name="Actions">Its actions.</param>
/// <param name="Packets">Packets that hit it.</param>
/// <param name="Bytes">Bytes that hit it.</param>
/// <param name="LastUsedMs">Monotonic time (ms, <see cref="MonotonicClock"/> of the bridge's clock) of the last hit, or of
/// installation when never hit.</param>
public sealed record InstalledFlow(FlowKey Key, FlowKey Mask, OdpActionList Actions, ulong Packets, ulong Bytes, long LastUsedMs);

/// <summary>What to do with one installed flow.</summary>
public enum FlowVerdict
{
    /// <summary>Still correct.</summary>
    Keep,
    /// <summary>Same match, different actions: modify it in place.</summary>
    Modify,
    /// <summary>Delete it (wrong mask, source to relearn, idle, or evicted by the flow limit).</summary>
    Delete,
}

/// <summary>A verdict for one flow, with the new actions for <see cref="FlowVerdict.Modify"/> and the reason.</summary>
public readonly record struct FlowRevalidation(InstalledFlow Flow, FlowVerdict Verdict, OdpActionList? NewActions, string Reason);

/// <summary>Flow table limits of a bridge.</summary>
/// <param name="IdleTimeout">A flow not hit for this long is removed (OVS's default: 10 s).</param>
/// <param name="MaxFlows">At most this many flows; beyond it the least recently used are evicted and upcalls only execute.</param>
public sealed record FlowLimits(TimeSpan IdleTimeout, int MaxFlows)
{
    /// <summary>The defaults: 10 s idle, 200000 flows (OVS's flow-limit default).</summary>
    public static FlowLimits Default { get; } = new(TimeSpan.FromSeconds(10), 200_000);
}

/// <summary>Which flows a revalidation pass must look at.</summary>
public sealed class RevalidationScope
{
    private readonly HashSet<MacAddress>? _macs;

    private RevalidationScope(HashSet<MacAddress>? macs) => _macs = macs;

    /// <summary>Every flow (a port was added, removed or reconfigured, or the MAC table was flushed).</summary>
    public static RevalidationScope All { get; } = new(null);

    /// <summary>No flow (only idle expiry and the flow limit apply).</summary>
    public static RevalidationScope None { get; } = new([]);

    /// <summary>Flows whose source or destination is one of <paramref name="macs"/> (learned, moved or expired addresses).</summary>
    public static RevalidationScope ForMacs(IEnumerable<MacAddress> macs) => new([.. macs]);

    /// <summary>True when every flow is in scope.</summary>
    public bool IsAll => _macs is null;

    /// <summary>True when no flow is in scope.</summary>
    public bool IsEmpty => _macs is { Count: 0 };

    /// <summary>True when <paramref name="flow"/> must be re-translated.</summary>
    public bool Covers(InstalledFlow flow) =>
        _macs is null || (_macs.Count > 0 && (_macs.Contains(flow.Key.EthDst) || _macs.Contains(flow.Key.EthSrc)));

    /// <summary>The union of two scopes.</summary>
    public RevalidationScope Union(RevalidationScope other)
    {
        if (IsAll || other.IsAll) return All;
        var set = new HashSet<MacAddress>(_macs!);
        set.UnionWith(other._macs!);
        return new(set);
    }
}

/// <summary>
/// Decides, for installed flows, which stay, which get new actions and which go: re-translation with NORMAL
/// (learning off) after a MAC table or port change, idle expiry and flow-limit eviction. Pure logic: the
/// bridge's revalidator applies the verdicts to the datapath.
/// </summary>
public static class FlowRevalidator
{
    /// <summary>Re-translates one flow against the current ports and MAC table.</summary>
    public static FlowRevalidation Revalidate(InstalledFlow flow, NormalPortSet ports, MacLearningTable macs)
    {
        var key = FlowKey.ApplyMask(flow.Key, flow.Mask);
        var d = NormalForwarding.Decide(key, ports, macs, learn: false);
        if (d.Mask != flow.Mask) return new(flow, FlowVerdict.Delete, null, "the decision now needs a different mask");
        if (d.LearningPending) return new(flow, FlowVerdict.Delete, null, "its source address must be learned again");
        if (d.Actions.ToString() != flow.Actions.ToString())
            return new(flow, FlowVerdict.Modify, d.Actions, $"actions changed from {flow.Actions} to {d.Actions}");
        return new(flow, FlowVerdict.Keep, null, "unchanged");
    }

    /// <summary>
    /// One revalidator pass over <paramref name="flows"/>: idle flows are deleted, flows in
    /// <paramref name="scope"/> are re-translated, and if more than <see cref="FlowLimits.MaxFlows"/> remain the
    /// least recently used are deleted. Returns only the flows that need a change (Modify or Delete).
    /// </summary>
    public static List<FlowRevalidation> Plan(IReadOnlyCollection<InstalledFlow> flows, NormalPortSet ports, MacLearningTable macs,
        RevalidationScope scope, FlowLimits limits, long nowMs)
    {
        var result = new List<FlowRevalidation>();
        var survivors = new List<InstalledFlow>(flows.Count);
        long idleMs = (long)limits.IdleTimeout.TotalMilliseconds;
        foreach (var f in flows)
        {
            if (nowMs - f.LastUsedMs >= idleMs)
            {
                result.Add(new(f, FlowVerdict.Delete, null, $"idle for {(nowMs - f.LastUsedMs) / 1000.0:0.0}s"));
                continue;
            }
            if (scope.Covers(f))
            {
                var r = Revalidate(f, ports, macs);
                if (r.Verdict != FlowVerdict.Keep) result.Add(r);
                if (r.Verdict == FlowVerdict.Delete) continue;
            }
            survivors.Add(f);
        }
        if (survivors.Count > limits.MaxFlows)
        {
            survivors.Sort(static (a, b) => a.LastUsedMs.CompareTo(b.LastUsedMs));
            int excess = survivors.Count - limits.MaxFlows;
            for (int i = 0; i < excess; i++)
            {
                result.RemoveAll(r => ReferenceEquals(r.Flow, survivors[i]));
                result.Add(new(survivors[i], FlowVerdict.Delete, null, $"flow limit {limits.MaxFlows} exceeded: least recently used"));
            }
        }
        return result;
    }

    /// <summary>True when an upcall may install a new flow given the current count (otherwise it only executes the packet).</summary>
    public static bool MayInstall(int currentFlows, FlowLimits limits) => currentFlows < limits.MaxFlows;
}
