using System.Globalization;
using Vswitch.Datapath.Odp;
using Vswitch.Packets;

namespace Vswitch.Switch.Normal;

/// <summary>A bridge port as NORMAL forwarding sees it.</summary>
/// <param name="PortNo">Datapath port number.</param>
/// <param name="Name">Port name (for traces and logs).</param>
/// <param name="Vlan">VLAN configuration.</param>
public sealed record NormalPort(uint PortNo, string Name, PortVlanConfig Vlan);

/// <summary>An immutable set of ports, ordered by port number (flooding order).</summary>
public sealed class NormalPortSet
{
    private readonly Dictionary<uint, NormalPort> _byNo;

    /// <summary>The empty set.</summary>
    public static NormalPortSet Empty { get; } = new([]);

    /// <summary>Builds a set; duplicate port numbers throw <see cref="ArgumentException"/>.</summary>
    public NormalPortSet(IEnumerable<NormalPort> ports)
    {
        Ports = ports.OrderBy(p => p.PortNo).ToArray();
        _byNo = new Dictionary<uint, NormalPort>(Ports.Count);
        foreach (var p in Ports)
            if (!_byNo.TryAdd(p.PortNo, p)) throw new ArgumentException($"duplicate port number {p.PortNo}");
    }

    /// <summary>Ports by ascending number.</summary>
    public IReadOnlyList<NormalPort> Ports { get; }

    /// <summary>Finds a port by number.</summary>
    public bool TryGet(uint portNo, out NormalPort port)
    {
        if (_byNo.TryGetValue(portNo, out var p)) { port = p; return true; }
        port = null!;
        return false;
    }
}

/// <summary>What NORMAL forwarding decided for one flow.</summary>
public sealed class NormalDecision
{
    /// <summary>Datapath actions (empty = drop).</summary>
    public required OdpActionList Actions { get; init; }

    /// <summary>The megaflow mask: exactly the fields the decision depended on.</summary>
    public required FlowKey Mask { get; init; }

    /// <summary>The packet's internal VLAN, or -1 when it was dropped before VLAN classification succeeded.</summary>
    public int Vlan { get; init; } = -1;

    /// <summary>Why the packet is dropped, or null when it is forwarded.</summary>
    public string? DropReason { get; init; }

    /// <summary>What learning did (only when learning was allowed; otherwise Kind is Ignored).</summary>
    public MacLearnResult Learning { get; init; }

    /// <summary>
    /// True when learning the packet's source would change the table (new or moved address). Revalidation
    /// uses it: a flow whose source must be (re)learned is deleted so that its next packet is an upcall.
    /// </summary>
    public bool LearningPending { get; init; }

    /// <summary>True when the destination was found in the MAC table (not flooded).</summary>
    public bool DestinationKnown { get; init; }

    /// <summary>The ports the packet goes out of, in action order.</summary>
    public IReadOnlyList<uint> OutputPorts { get; init; } = [];

    /// <summary>Human-readable steps (only when tracing was requested).</summary>
    public IReadOnlyList<string> Trace { get; init; } = [];
}

/// <summary>
/// NORMAL forwarding (an L2 learning switch with VLANs) as pure logic over <see cref="FlowKey"/>: admission by VLAN,
/// MAC learning, destination lookup, flooding, translation into datapath actions and the megaflow mask.
/// </summary>
/// <remarks>
/// <para><b>Mask rule</b> (as Open vSwitch's xlate does for the NORMAL action). Always un-wildcarded:
/// <c>recirc_id</c>, <c>in_port</c>, <c>eth_type</c>, and for IPv4/IPv6 the fragment bits (xlate_wc_init).
/// Once the input port is known: the outer VLAN TPID and TCI VID+CFI bits (VLAN admission and the
/// VLAN the packet belongs to). Once the VLAN is admitted: <c>eth_src</c> (learning: a new or moved source
/// must miss so it can be learned) and <c>eth_dst</c> (lookup, flooding of group addresses). The PCP
/// bits of the TCI only when an output pushes a new tag that copies the packet's priority. Nothing from
/// L3/L4 beyond that. A packet dropped for an unknown input port depends only on the always-fields; one
/// dropped for its VLAN does not depend on the Ethernet addresses.</para>
/// <para><b>Actions</b>: outputs are grouped by the VLAN treatment they need; outputs that take the
/// packet as received come first, then one <c>pop_vlan</c>/<c>push_vlan</c> transition, then the rest.</para>
/// </remarks>
public static class NormalForwarding
{
    private const ushort VidMask = 0x0FFF;
    private const ushort PcpMask = 0xE000;

    /// <summary>True for the IEEE reserved link-local group 01:80:c2:00:00:0x (STP, LACP, LLDP...), which a bridge never forwards.</summary>
    public static bool IsReservedMulticast(MacAddress mac) => (mac.ToUInt64() & ~0xFUL) == 0x0180_C200_0000UL;

    /// <summary>
    /// Decides what to do with a packet described by <paramref name="key"/>.
    /// </summary>
    /// <param name="key">The packet's flow key (or an installed flow's masked key when revalidating).</param>
    /// <param name="ports">The bridge's ports.</param>
    /// <param name="macs">The bridge's MAC table.</param>
    /// <param name="learn">True to learn the source address (upcalls); false for side-effect-free revalidation and traces.</param>
    /// <param name="trace">True to fill <see cref="NormalDecision.Trace"/>.</param>
    public static NormalDecision Decide(in FlowKey key, NormalPortSet ports, MacLearningTable macs, bool learn, bool trace = false)
    {
        var steps = trace ? new List<string>() : null;
        FlowKey mask = default;
        mask.RecircId = uint.MaxValue;
        mask.InPort = uint.MaxValue;
        mask.EthType = ushort.MaxValue;
        if (key.EthType is 0x0800 or 0x86dd) mask.NwFrag = FlowKey.FragAny | FlowKey.FragLater;

        if (!ports.TryGet(key.InPort, out var inPort))
            return Drop(mask, -1, $"input port {key.InPort} is not a port of this bridge", steps);
        steps?.Add($"input port {inPort.PortNo} ({inPort.Name}), {Describe(inPort.Vlan)}");

        mask.Vlan0Tpid = ushort.MaxValue;
        mask.Vlan0Tci = VidMask | FlowKey.VlanCfi;
        bool tagged = (key.Vlan0Tci & FlowKey.VlanCfi) != 0;
        int? wireVid = tagged ? key.Vlan0Tci & VidMask : null;
        int vlan = inPort.Vlan.InputVlan(wireVid);
        if (vlan < 0)
            return Drop(mask, -1, wireVid is null or 0
                ? $"untagged frame not allowed on port {inPort.Name} ({Describe(inPort.Vlan)})"
                : $"VLAN {wireVid} not allowed on port {inPort.Name} ({Describe(inPort.Vlan)})", steps);
        if (wireVid == 0)
        {
            // A priority tag counts as untagged only if nothing follows it: a second tag would be the outermost one once
            // the priority tag is popped (for an access port's VLAN or a native VLAN sent untagged), and would then select
            // a VLAN on the next switch (VLAN hopping). The decision depends on whether an inner tag is present.
            mask.Vlan1Tci = FlowKey.VlanCfi;
            if ((key.Vlan1Tci & FlowKey.VlanCfi) != 0)
                return Drop(mask, -1, string.Create(CultureInfo.InvariantCulture,
                    $"priority-tagged frame (VID 0, TPID 0x{key.Vlan0Tpid:x4}) carries a second VLAN tag (VID {key.Vlan1Tci & VidMask}, TPID 0x{key.Vlan1Tpid:x4}) on port {inPort.Name}: dropped, its inner tag must not select a VLAN"), steps);
        }
        steps?.Add(wireVid is null ? $"untagged frame: internal VLAN {vlan}"
            : wireVid == 0 ? $"priority-tagged frame (VID 0) without a second tag: internal VLAN {vlan}"
            : $"tagged VID {wireVid}: internal VLAN {vlan}");

        mask.EthSrc = MacAddress.Broadcast;
        mask.EthDst = MacAddress.Broadcast;
        var src = key.EthSrc;
        var dst = key.EthDst;
        if (IsReservedMulticast(dst))
            return Drop(mask, vlan, $"destination {dst} is a reserved link-local group address (never forwarded)", steps);

        MacLearnResult learning = default;
        bool learningPending = false;
        if (!MacLearningTable.IsLearnable(src))
        {
            steps?.Add($"source {src} is not learnable (multicast or zero)");
        }
        else if (learn)
        {
            learning = macs.Learn(vlan, src, inPort.PortNo);
            if (steps is not null)
            {
                steps.Add(learning.Kind switch
                {
                    MacLearnKind.Learned => $"learned {src} on port {inPort.PortNo} in VLAN {vlan}",
                    MacLearnKind.Moved => $"MAC move: {src} in VLAN {vlan} moved from port {learning.PreviousPort} to port {inPort.PortNo}",
                    _ => $"refreshed {src} on port {inPort.PortNo} in VLAN {vlan}",
                });
                if (learning.Evicted is { } ev) steps.Add($"MAC table full: evicted {ev.Mac} (VLAN {ev.Vlan}, port {ev.Port})");
            }
        }
        else
        {
            learningPending = !macs.TryLookup(vlan, src, out var srcPort) || srcPort != inPort.PortNo;
            steps?.Add(learningPending
                ? $"learning would record {src} on port {inPort.PortNo} in VLAN {vlan}"
                : $"source {src} already learned on port {inPort.PortNo} in VLAN {vlan}");
        }

        var outputs = new List<NormalPort>();
        bool known = false;
        if (dst.IsMulticast)
        {
            steps?.Add(dst.IsBroadcast ? "broadcast destination: flood" : $"multicast destination {dst}: flood");
            Flood(ports, inPort, vlan, outputs);
        }
        else if (macs.TryLookup(vlan, dst, out var dstPortNo) && ports.TryGet(dstPortNo, out var dstPort) && dstPort.Vlan.IncludesVlan(vlan))
        {
            known = true;
            if (dstPortNo == inPort.PortNo)
                return new NormalDecision
                {
                    Actions = OdpActionList.Drop, Mask = mask, Vlan = vlan, Learning = learning, LearningPending = learningPending,
                    DestinationKnown = true,
                    DropReason = $"destination {dst} is learned on the input port {inPort.Name}: not sent back",
                    Trace = Finish(steps, $"destination {dst} is learned on the input port: drop"),
                };
            steps?.Add($"destination {dst} learned on port {dstPort.PortNo} ({dstPort.Name})");
            outputs.Add(dstPort);
        }
        else
        {
            steps?.Add($"unknown destination {dst} in VLAN {vlan}: flood");
            Flood(ports, inPort, vlan, outputs);
        }

        if (outputs.Count == 0)
            return new NormalDecision
            {
                Actions = OdpActionList.Drop, Mask = mask, Vlan = vlan, Learning = learning, LearningPending = learningPending,
                DestinationKnown = known, DropReason = $"no other port in VLAN {vlan}",
                Trace = Finish(steps, $"no other port in VLAN {vlan}: drop"),
            };

        var actions = Translate(key, vlan, outputs, ref mask, out var order);
        steps?.Add($"datapath actions: {actions}");
        return new NormalDecision
        {
            Actions = actions, Mask = mask, Vlan = vlan, Learning = learning, LearningPending = learningPending,
            DestinationKnown = known, OutputPorts = order, Trace = steps ?? (IReadOnlyList<string>)[],
        };
    }

    private static void Flood(NormalPortSet ports, NormalPort inPort, int vlan, List<NormalPort> outputs)
    {
        foreach (var p in ports.Ports)
            if (p.PortNo != inPort.PortNo && p.Vlan.IncludesVlan(vlan)) outputs.Add(p);
    }

    /// <summary>Builds the actions: outputs needing the received encapsulation first, then each other treatment.</summary>
    private static OdpActionList Translate(in FlowKey key, int vlan, List<NormalPort> outputs, ref FlowKey mask, out List<uint> order)
    {
        bool tagged = (key.Vlan0Tci & FlowKey.VlanCfi) != 0;
        int? receivedVid = tagged ? key.Vlan0Tci & VidMask : null;
        int? currentVid = receivedVid;
        int pcp = tagged ? key.Vlan0Tci >> 13 : 0;
        ushort tpid = tagged && key.Vlan0Tpid != 0 ? key.Vlan0Tpid : (ushort)0x8100;

        var actions = new List<OdpAction>(outputs.Count + 2);
        order = new List<uint>(outputs.Count);
        // Group 1: ports that take the frame exactly as it is now.
        foreach (var p in outputs)
            if (p.Vlan.OutputVid(vlan) == receivedVid) { actions.Add(new OutputAction(p.PortNo)); order.Add(p.PortNo); }
        // Other treatments, untagged first, then tagged (only two are possible for one VLAN).
        foreach (bool wantTagged in (ReadOnlySpan<bool>)[false, true])
        {
            bool transitioned = false;
            foreach (var p in outputs)
            {
                int? need = p.Vlan.OutputVid(vlan);
                if (need == receivedVid || (need is not null) != wantTagged) continue;
                if (!transitioned)
                {
                    if (currentVid is not null) actions.Add(PopVlanAction.Instance);
                    if (need is { } vid)
                    {
                        actions.Add(new PushVlanAction(tpid, (ushort)((pcp << 13) | FlowKey.VlanCfi | vid)));
                        if (tagged) mask.Vlan0Tci |= PcpMask;
                    }
                    currentVid = need;
                    transitioned = true;
                }
                actions.Add(new OutputAction(p.PortNo));
                order.Add(p.PortNo);
            }
        }
        return new OdpActionList(actions);
    }

    private static NormalDecision Drop(FlowKey mask, int vlan, string reason, List<string>? steps) => new()
    {
        Actions = OdpActionList.Drop, Mask = mask, Vlan = vlan, DropReason = reason, Trace = Finish(steps, $"{reason}: drop"),
    };

    private static IReadOnlyList<string> Finish(List<string>? steps, string last)
    {
        if (steps is null) return [];
        steps.Add(last);
        return steps;
    }

    private static string Describe(PortVlanConfig v)
    {
        var text = v.ToString();
        return text.Length == 0 ? "trunk, all VLANs" : string.Create(CultureInfo.InvariantCulture, $"{PortVlanConfig.FormatMode(v.Mode)} {text}");
    }
}
