using Vswitch.Datapath.Odp;
using Vswitch.Interop.Linux;
using Vswitch.Packets;

namespace Vswitch.Datapath;

/// <summary>
/// An open handle on a datapath: a set of ports exposed as one switch, with a flow table of megaflows
/// (masked keys) and an upcall queue (OVS's <c>struct dpif</c> and the operations of <c>dpif_class</c>).
/// </summary>
/// <remarks>
/// <para><b>Conventions.</b> Every operation returns 0 or a positive <see cref="Errno"/> and never throws for bad
/// input or a vanished port. Every operation is thread-safe and may be called from any thread except a datapath
/// poll thread; control operations are serialised inside the datapath and never stop the fast path for more than a
/// quick table swap (readers use published snapshots, see docs/datapath.md). Operations on a handle that was
/// closed, or on a datapath that was destroyed, return <c>ENODEV</c>.</para>
/// <para><b>Flows</b> are megaflows, as in OVS's userspace datapath: a flow is identified by (key AND mask, mask).
/// Keys given to flow operations are masked by the datapath before use, so bits outside the mask are ignored.
/// Two flows with different masks may overlap; a packet then matches one of them (unspecified which).</para>
/// <para><b>Dispose</b> is OVS's close: it frees this handle only (idempotent). The datapath, its ports, flows and
/// threads live on until <see cref="Destroy"/>.</para>
/// </remarks>
public interface IDatapath : IDisposable
{
    /// <summary>The datapath's name (as given at creation).</summary>
    string Name { get; }

    /// <summary>The provider type, e.g. <c>netdev</c>.</summary>
    string Type { get; }

    /// <summary>
    /// Adds every name this datapath can be opened by to <paramref name="names"/> (OVS's get_all_names), without
    /// disturbing names already there. The userspace datapath has one name. Never blocks.
    /// </summary>
    Errno GetAllNames(ICollection<string> names);

    /// <summary>
    /// Destroys the datapath: stops its poll threads, deletes every flow, discards queued upcalls (releasing their
    /// packets), removes and disposes every port's device, and forgets the name so it can be created again. Other open
    /// handles then get <c>ENODEV</c> from every operation; this handle may only be disposed. Blocks until the poll
    /// threads have stopped (normally well under a second). Errors: <c>ENODEV</c> if already destroyed.
    /// </summary>
    Errno Destroy();

    /// <summary>Reads the datapath-wide counters. Counters of running poll threads may be a batch stale. Never blocks.</summary>
    Errno GetStats(out DatapathStats stats);

    /// <summary>
    /// Reads the IP fragment policy: true = IP fragments are dropped (counted in <see cref="DatapathStats.FragmentsDropped"/>)
    /// before flow lookup; false = fragments are looked up like other packets (their L4 fields are zero for
    /// later fragments). Default false.
    /// </summary>
    Errno GetDropFrags(out bool dropFrags);

    /// <summary>Sets the IP fragment policy (see <see cref="GetDropFrags"/>); takes effect within one batch on every poll thread.</summary>
    Errno SetDropFrags(bool dropFrags);

    /// <summary>
    /// Adds <paramref name="device"/> as a port and returns its number in <paramref name="portNo"/>. The lowest
    /// free number ≥ 1 is chosen unless <paramref name="requestedPortNo"/> is not <see cref="NoPort"/>.
    /// </summary>
    /// <remarks>
    /// <para>Ownership: on success the datapath owns the device: it polls its rx queues, sends on its tx queues and
    /// disposes it when the port is deleted or the datapath destroyed. On failure the caller keeps it.</para>
    /// <para>Blocking: briefly, while poll threads pick up the new queue assignment. Errors: <c>EEXIST</c> when a port
    /// with the same name exists or the requested number is taken; <c>EFBIG</c> when every port number below
    /// <see cref="MaxPorts"/> is used (or the requested one is ≥ <see cref="MaxPorts"/>); <c>EINVAL</c> for a disposed
    /// device or one with no queues; <c>ENODEV</c> for a destroyed datapath. On failure nothing changed.</para>
    /// <para>Port changes are reported by <see cref="PortPoll"/>.</para>
    /// </remarks>
    Errno PortAdd(Netdev.Netdev device, uint requestedPortNo, out uint portNo);

    /// <summary>
    /// Removes port <paramref name="portNo"/>. Blocks until no poll thread uses the device any more, then disposes it
    /// (packets still queued in it are dropped; flows that output to the port stay and drop those packets, counted in
    /// <see cref="DatapathStats.ActionDrops"/>). Errors: <c>ENOENT</c> no such port; <c>EINVAL</c> for port 0 (the
    /// local port lives as long as the datapath).
    /// </summary>
    Errno PortDel(uint portNo);

    /// <summary>Looks up port <paramref name="portNo"/>. <c>ENOENT</c> when there is none. Never blocks.</summary>
    Errno PortQueryByNumber(uint portNo, out DatapathPort? port);

    /// <summary>Looks up the port whose device is called <paramref name="name"/>. <c>ENOENT</c> when there is none. Never blocks.</summary>
    Errno PortQueryByName(string name, out DatapathPort? port);

    /// <summary>One more than the largest port number accepted (in port add and in output actions).</summary>
    int MaxPorts { get; }

    /// <summary>
    /// Starts a port dump (OVS's port_dump_start/next/done). The returned sequence is a snapshot of the ports at the
    /// time of the call, ordered by number; enumerating it never blocks and is unaffected by later changes.
    /// </summary>
    Errno PortDump(out IReadOnlyList<DatapathPort> ports);

    /// <summary>
    /// Reports one port change: stores the name of a device that was added, deleted or changed (its
    /// <see cref="Netdev.Netdev.ChangeSeq"/> moved, e.g. link down) in <paramref name="deviceName"/> and returns 0;
    /// returns <c>ENOBUFS</c> ("changes were lost, resynchronise by dumping ports") when more changes happened than
    /// the change log holds; returns <c>EAGAIN</c> when nothing changed since the last call. False positives are allowed.
    /// Never blocks. The change log is shared by all handles of a datapath (one consumer expected).
    /// </summary>
    Errno PortPoll(out string? deviceName);

    /// <summary>
    /// Blocks until <see cref="PortPoll"/> would return something other than <c>EAGAIN</c> or
    /// <paramref name="timeoutMs"/> milliseconds pass (-1 = no limit). Returns true when a change is pending.
    /// Device change sequences are sampled every few milliseconds while waiting.
    /// </summary>
    bool PortPollWait(int timeoutMs);

    /// <summary>
    /// Gets the flow identified by (<paramref name="key"/> AND <paramref name="mask"/>, <paramref name="mask"/>).
    /// <c>ENOENT</c> when no such flow exists. Never blocks.
    /// </summary>
    Errno FlowGet(in FlowKey key, in FlowKey mask, out DatapathFlow? flow);

    /// <summary>
    /// Finds the flow a packet with exact key <paramref name="packetKey"/> would match (as the fast path would; used by
    /// <c>dpctl get-flow</c> with an unmasked key). <c>ENOENT</c> when none matches. Never blocks, never updates stats.
    /// </summary>
    Errno FlowLookup(in FlowKey packetKey, out DatapathFlow? flow);

    /// <summary>
    /// Adds or modifies the flow (<paramref name="key"/> AND <paramref name="mask"/>, <paramref name="mask"/>)
    /// with <paramref name="actions"/>, following OVS's flow_put exactly:
    /// <list type="bullet">
    /// <item>If the flow does not exist, it is added if <paramref name="flags"/> includes <see cref="FlowPutFlags.Create"/>,
    /// otherwise the put fails with <c>ENOENT</c>. On success <paramref name="oldStats"/> is zero.</item>
    /// <item>If the flow exists, its actions are replaced if <paramref name="flags"/> includes <see cref="FlowPutFlags.Modify"/>,
    /// otherwise the put fails with <c>EEXIST</c>. When actions are replaced the statistics are zeroed if
    /// <paramref name="flags"/> includes <see cref="FlowPutFlags.ZeroStats"/> and kept otherwise. On success
    /// <paramref name="oldStats"/> holds the statistics before the update.</item>
    /// </list>
    /// </summary>
    /// <remarks>
    /// Errors: <c>EINVAL</c> with <paramref name="error"/> naming the problem for a key/mask the datapath refuses (e.g. an
    /// in_port that is not an exact match, L4 port matches without an exact eth_type and IP protocol, reserved bytes set)
    /// or actions it cannot run (output port ≥ <see cref="MaxPorts"/>, trunc below 14 bytes) or must refuse whoever built them:
    /// every provider enforces <see cref="Odp.OdpActionLimits"/> (at most 32 KB as netlink attributes, i.e. 4,096 outputs, and
    /// nesting at most 8 deep), since callers that build actions in code do not go through the parser;
    /// <c>EFBIG</c> when creating would exceed the flow limit. On any error the flow table is unchanged.
    /// A modification is visible to all poll threads within one batch; a new flow from the next lookup; packets already
    /// cached for the flow see the new actions. Blocking: briefly (serialised with other control calls).
    /// </remarks>
    Errno FlowPut(FlowPutFlags flags, in FlowKey key, in FlowKey mask, OdpActionList actions, out DatapathFlowStats oldStats, out string? error);

    /// <summary>
    /// Deletes the flow (<paramref name="key"/> AND <paramref name="mask"/>, <paramref name="mask"/>) and returns its final
    /// statistics in <paramref name="stats"/>. <c>ENOENT</c> when there is no such flow. After return no poll thread starts
    /// a new batch with the flow (exact-match cache entries of a deleted flow are ignored); a batch already in flight may
    /// still count a few packets that are then not in <paramref name="stats"/>.
    /// </summary>
    Errno FlowDel(in FlowKey key, in FlowKey mask, out DatapathFlowStats stats);

    /// <summary>Deletes every flow and discards every queued upcall (releasing their packets). Never fails on a live datapath.</summary>
    Errno FlowFlush();

    /// <summary>
    /// Starts a flow dump. The dump tolerates concurrent change: it never throws and never returns an unchanged flow twice;
    /// flows added, modified or deleted during the dump may or may not be returned. Each returned flow is an immutable
    /// snapshot owned by the caller.
    /// </summary>
    Errno FlowDumpStart(out IDatapathFlowDump? dump);

    /// <summary>
    /// Executes <paramref name="actions"/> on <paramref name="packet"/> as if it had matched a flow with those actions
    /// (OVS's execute). The packet's input port is <see cref="PacketBuffer.Metadata"/>.InPort.
    /// </summary>
    /// <remarks>
    /// Ownership: the datapath takes ownership of <paramref name="packet"/> in every case (sent, dropped or released).
    /// Blocking: no (a full tx queue drops and counts). Errors: <c>EINVAL</c> for actions the datapath refuses (as in
    /// <see cref="FlowPut"/>, <see cref="Odp.OdpActionLimits"/> included); the packet is released then. Packets sent to a missing port are counted as action drops.
    /// Threads: any; executes are serialised among themselves, and share tx queues with poll threads safely.
    /// </remarks>
    Errno Execute(PacketBuffer packet, OdpActionList actions);

    /// <summary>Reads the listen mask: which upcall kinds <see cref="RecvUpcall"/> returns.</summary>
    Errno GetListenMask(out DatapathListenMask mask);

    /// <summary>
    /// Sets the listen mask. Kinds not listened for are not queued: their packets are dropped and counted as
    /// <see cref="DatapathStats.Lost"/> (a miss still counts in <see cref="DatapathStats.Missed"/>). Default: <see cref="DatapathListenMask.None"/>
    /// (as in OVS, a datapath nobody listens to drops misses). The mask is datapath-wide (shared by all handles).
    /// </summary>
    Errno SetListenMask(DatapathListenMask mask);

    /// <summary>
    /// Takes the oldest queued upcall. Never blocks: <c>EAGAIN</c> when the queue is empty. The caller owns the upcall's packet.
    /// Threads: any number of receivers may call concurrently; each upcall goes to exactly one of them.
    /// </summary>
    Errno RecvUpcall(out DatapathUpcall? upcall);

    /// <summary>
    /// Blocks until an upcall is queued or <paramref name="timeoutMs"/> milliseconds pass (-1 = no limit; 0 = just check).
    /// Returns true when <see cref="RecvUpcall"/> would find an upcall (another receiver may take it first); false on
    /// timeout, on a closed handle, and at once for every waiter when the datapath is destroyed.
    /// </summary>
    bool RecvWait(int timeoutMs);

    /// <summary>Discards every queued upcall, releasing their packets (OVS's recv_purge).</summary>
    Errno RecvPurge();

    /// <summary>
    /// Reads the upcall counters of input port <paramref name="portNo"/>: upcalls queued, upcalls lost (the port's queue or
    /// the datapath's was full, or nobody listened) and upcalls pending. A datapath that queues upcalls per port (the
    /// userspace one: per-port queues served round-robin, so one port's miss storm does not cost the others their
    /// upcalls) counts them per port. Never blocks. <c>ENOENT</c> for a number ≥ <see cref="MaxPorts"/>; <c>EOPNOTSUPP</c>
    /// (the default) when the datapath keeps no per-port upcall counters.
    /// </summary>
    Errno GetPortUpcallStats(uint portNo, out DatapathPortUpcallStats stats)
    {
        stats = default;
        return Errno.EOPNOTSUPP;
    }

    /// <summary>
    /// Reads the datapath-wide sFlow sampling probability, as a fraction of <see cref="uint.MaxValue"/> (0 = off).
    /// While non-zero and <see cref="DatapathListenMask.Sample"/> is listened for, each packet that matches a flow is
    /// copied to the upcall queue as a <see cref="DatapathUpcallType.Sample"/> upcall with that probability (before its
    /// actions run). This is independent of <c>sample(...)</c> actions, which carry their own probability.
    /// </summary>
    Errno GetSflowProbability(out uint probability);

    /// <summary>Sets the sFlow sampling probability (see <see cref="GetSflowProbability"/>); takes effect within one batch.</summary>
    Errno SetSflowProbability(uint probability);

    /// <summary>
    /// Translates QoS queue id <paramref name="queueId"/> into the priority value a <c>set(skb_priority(...))</c> action
    /// uses (as OVS on Linux: the tc class handle 1:(queue+1), i.e. 0x10000 | (queueId + 1)).
    /// <c>EINVAL</c> when <paramref name="queueId"/> ≥ 0xf000.
    /// </summary>
    Errno QueueToPriority(uint queueId, out uint priority);

    /// <summary>The port number meaning "none" / "choose one for me".</summary>
    public const uint NoPort = uint.MaxValue;

    /// <summary>The datapath's local port number.</summary>
    public const uint LocalPort = 0;
}

/// <summary>
/// An in-progress flow dump (OVS's flow_dump_next/done). Single-threaded: one caller at a time. Dispose is flow_dump_done.
/// </summary>
public interface IDatapathFlowDump : IDisposable
{
    /// <summary>
    /// Returns the next flow (a snapshot owned by the caller) and 0, or <c>ENOENT</c> at the end of the table (OVS's EOF).
    /// After <c>ENOENT</c> or after dispose every call returns <c>ENOENT</c>. Never blocks for long, never throws.
    /// </summary>
    Errno Next(out DatapathFlow? flow);
}
