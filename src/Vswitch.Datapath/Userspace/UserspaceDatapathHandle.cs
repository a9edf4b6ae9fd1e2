using Vswitch.Datapath.Odp;
using Vswitch.Interop.Linux;
using Vswitch.Packets;

namespace Vswitch.Datapath.Userspace;

/// <summary>
/// A handle on a userspace datapath (returned by <see cref="UserspaceDatapathProvider.Open"/>). Implements
/// <see cref="IDatapath"/> (see there for every operation's contract) plus userspace-only extras: the local port's
/// device and manual polling. After <see cref="Dispose"/> or a destroy every operation returns <c>ENODEV</c>.
/// </summary>
public sealed class UserspaceDatapathHandle : IDatapath
{
    private readonly UserspaceDatapath _dp;
    private volatile bool _closed;

    internal UserspaceDatapathHandle(UserspaceDatapath dp) => _dp = dp;

    internal UserspaceDatapath Backend => _dp;

    private bool Dead => _closed || _dp.Destroyed;

    /// <inheritdoc/>
    public string Name => _dp.Name;

    /// <inheritdoc/>
    public string Type => UserspaceDatapathProvider.TypeName;

    /// <inheritdoc/>
    public int MaxPorts => _dp.MaxPorts;

    /// <summary>
    /// The local port's device (port 0, type <c>internal</c>, named like the datapath): inject frames into the datapath
    /// from the host side and take the frames the datapath outputs to port 0.
    /// </summary>
    public InternalNetdev LocalPort => _dp.LocalDevice;

    /// <summary>
    /// Only for datapaths created with <see cref="UserspaceDatapathOptions.PollThreads"/> = 0: receives one burst from every
    /// rx queue on the calling thread and forwards it; returns the packets received. Returns 0 on a closed handle and
    /// when the datapath has poll threads (each rx queue has exactly one poller).
    /// Serialised with <see cref="Execute"/>.
    /// </summary>
    public int PollOnce() => Dead ? 0 : _dp.PollOnce();

    /// <inheritdoc/>
    public Errno GetAllNames(ICollection<string> names)
    {
        if (Dead) return Errno.ENODEV;
        names.Add(_dp.Name);
        return Errno.Success;
    }

    /// <inheritdoc/>
    public Errno Destroy() => _closed ? Errno.ENODEV : _dp.Destroy();

    /// <inheritdoc/>
    public Errno GetStats(out DatapathStats stats)
    {
        stats = default;
        if (Dead) return Errno.ENODEV;
        stats = _dp.GetStats();
        return Errno.Success;
    }

    /// <inheritdoc/>
    public Errno GetDropFrags(out bool dropFrags)
    {
        dropFrags = _dp.DropFrags;
        return Dead ? Errno.ENODEV : Errno.Success;
    }

    /// <inheritdoc/>
    public Errno SetDropFrags(bool dropFrags)
    {
        if (Dead) return Errno.ENODEV;
        _dp.DropFrags = dropFrags;
        return Errno.Success;
    }

    /// <inheritdoc/>
    public Errno PortAdd(Netdev.Netdev device, uint requestedPortNo, out uint portNo)
    {
        portNo = IDatapath.NoPort;
        return Dead ? Errno.ENODEV : _dp.PortAdd(device, requestedPortNo, out portNo);
    }

    /// <summary>Adds a port with the lowest free number (see <see cref="IDatapath.PortAdd"/>).</summary>
    public Errno PortAdd(Netdev.Netdev device, out uint portNo) => PortAdd(device, IDatapath.NoPort, out portNo);

    /// <inheritdoc/>
    public Errno PortDel(uint portNo) => Dead ? Errno.ENODEV : _dp.PortDel(portNo);

    /// <inheritdoc/>
    public Errno PortQueryByNumber(uint portNo, out DatapathPort? port)
    {
        port = null;
        return Dead ? Errno.ENODEV : _dp.PortQuery(portNo, out port);
    }

    /// <inheritdoc/>
    public Errno PortQueryByName(string name, out DatapathPort? port)
    {
        port = null;
        return Dead ? Errno.ENODEV : _dp.PortQuery(name, out port);
    }

    /// <inheritdoc/>
    public Errno PortDump(out IReadOnlyList<DatapathPort> ports)
    {
        ports = [];
        if (Dead) return Errno.ENODEV;
        ports = _dp.PortSnapshot();
        return Errno.Success;
    }

    /// <inheritdoc/>
    public Errno PortPoll(out string? deviceName)
    {
        deviceName = null;
        return Dead ? Errno.ENODEV : _dp.PortPoll(out deviceName);
    }

    /// <inheritdoc/>
    public bool PortPollWait(int timeoutMs) => Dead || _dp.PortPollWait(timeoutMs);

    /// <inheritdoc/>
    public Errno FlowGet(in FlowKey key, in FlowKey mask, out DatapathFlow? flow)
    {
        flow = null;
        return Dead ? Errno.ENODEV : _dp.FlowGet(key, mask, out flow);
    }

    /// <inheritdoc/>
    public Errno FlowLookup(in FlowKey packetKey, out DatapathFlow? flow)
    {
        flow = null;
        return Dead ? Errno.ENODEV : _dp.FlowLookup(packetKey, out flow);
    }

    /// <inheritdoc/>
    public Errno FlowPut(FlowPutFlags flags, in FlowKey key, in FlowKey mask, OdpActionList actions, out DatapathFlowStats oldStats, out string? error)
    {
        oldStats = default;
        error = null;
        if (Dead) return Errno.ENODEV;
        return _dp.FlowPut(flags, key, mask, actions, out oldStats, out error);
    }

    /// <inheritdoc/>
    public Errno FlowDel(in FlowKey key, in FlowKey mask, out DatapathFlowStats stats)
    {
        stats = default;
        return Dead ? Errno.ENODEV : _dp.FlowDel(key, mask, out stats);
    }

    /// <inheritdoc/>
    public Errno FlowFlush() => Dead ? Errno.ENODEV : _dp.FlowFlush();

    /// <inheritdoc/>
    public Errno FlowDumpStart(out IDatapathFlowDump? dump)
    {
        dump = null;
        if (Dead) return Errno.ENODEV;
        dump = _dp.StartDump();
        return Errno.Success;
    }

    /// <inheritdoc/>
    public Errno Execute(PacketBuffer packet, OdpActionList actions)
    {
        if (Dead)
        {
            packet?.Release();
            return Errno.ENODEV;
        }
        return _dp.Execute(packet, actions);
    }

    /// <inheritdoc/>
    public Errno GetListenMask(out DatapathListenMask mask)
    {
        mask = _dp.ListenMask;
        return Dead ? Errno.ENODEV : Errno.Success;
    }

    /// <inheritdoc/>
    public Errno SetListenMask(DatapathListenMask mask)
    {
        if (Dead) return Errno.ENODEV;
        if ((mask & ~DatapathListenMask.All) != 0) return Errno.EINVAL;
        _dp.ListenMask = mask;
        return Errno.Success;
    }

    /// <inheritdoc/>
    public Errno RecvUpcall(out DatapathUpcall? upcall)
    {
        upcall = null;
        return Dead ? Errno.ENODEV : _dp.RecvUpcall(out upcall);
    }

    /// <inheritdoc/>
    public bool RecvWait(int timeoutMs) => !Dead && _dp.RecvWait(timeoutMs);

    /// <inheritdoc/>
    public Errno RecvPurge() => Dead ? Errno.ENODEV : _dp.RecvPurge();

    /// <inheritdoc/>
    public Errno GetPortUpcallStats(uint portNo, out DatapathPortUpcallStats stats)
    {
        stats = default;
        return Dead ? Errno.ENODEV : _dp.GetPortUpcallStats(portNo, out stats);
    }

    /// <inheritdoc/>
    public Errno GetSflowProbability(out uint probability)
    {
        probability = _dp.SflowProbability;
        return Dead ? Errno.ENODEV : Errno.Success;
    }

    /// <inheritdoc/>
    public Errno SetSflowProbability(uint probability)
    {
        if (Dead) return Errno.ENODEV;
        _dp.SflowProbability = probability;
        return Errno.Success;
    }

    /// <inheritdoc/>
    public Errno QueueToPriority(uint queueId, out uint priority)
    {
        priority = 0;
        if (Dead) return Errno.ENODEV;
        if (queueId >= 0xF000) return Errno.EINVAL;
        priority = 0x10000 | (queueId + 1);
        return Errno.Success;
    }

    /// <summary>Closes this handle (the datapath lives on). Idempotent.</summary>
    public void Dispose() => _closed = true;
}
