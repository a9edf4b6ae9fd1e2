using System.Diagnostics.CodeAnalysis;
using Vswitch.Datapath.Odp;
using Vswitch.Interop.Linux;
using Vswitch.Packets;

namespace Vswitch.Datapath;

/// <summary>
/// The generic datapath layer (OVS's dpif.c): wraps an <see cref="IDatapath"/> handle and turns its errors into
/// <see cref="DatapathException"/>s that name the datapath and the operation. Normal outcomes (no upcall pending,
/// no such flow on a lookup) are returned as false/null, not thrown. Thread-safety is that of <see cref="IDatapath"/>.
/// Disposing closes the handle (the datapath lives on until <see cref="Destroy"/>).
/// </summary>
public sealed class Datapath : IDisposable
{
    /// <summary>Wraps <paramref name="handle"/>, taking ownership of it.</summary>
    public Datapath(IDatapath handle)
    {
        ArgumentNullException.ThrowIfNull(handle);
        Handle = handle;
    }

    /// <summary>The provider handle, for callers that prefer <see cref="Errno"/> results.</summary>
    public IDatapath Handle { get; }

    /// <summary>The datapath's name.</summary>
    public string Name => Handle.Name;

    /// <summary>The provider type.</summary>
    public string Type => Handle.Type;

    /// <summary>One more than the largest port number.</summary>
    public int MaxPorts => Handle.MaxPorts;

    [DoesNotReturn]
    private void Fail(string operation, Errno rc, string? detail = null) => throw new DatapathException(Name, operation, rc, detail);

    private void Check(Errno rc, string operation, string? detail = null)
    {
        if (rc.IsError) Fail(operation, rc, detail);
    }

    /// <summary>Every name the datapath can be opened by.</summary>
    public IReadOnlyList<string> GetAllNames()
    {
        var names = new List<string>();
        Check(Handle.GetAllNames(names), "get all names");
        return names;
    }

    /// <summary>Destroys the datapath (see <see cref="IDatapath.Destroy"/>).</summary>
    public void Destroy() => Check(Handle.Destroy(), "destroy");

    /// <summary>Datapath counters.</summary>
    public DatapathStats GetStats()
    {
        Check(Handle.GetStats(out var s), "get stats");
        return s;
    }

    /// <summary>The IP fragment policy (true = drop fragments).</summary>
    public bool DropFrags
    {
        get { Check(Handle.GetDropFrags(out var v), "get drop_frags"); return v; }
        set => Check(Handle.SetDropFrags(value), "set drop_frags");
    }

    /// <summary>Adds a port; returns its number. The datapath owns <paramref name="device"/> on success.</summary>
    public uint AddPort(Netdev.Netdev device, uint requestedPortNo = IDatapath.NoPort)
    {
        ArgumentNullException.ThrowIfNull(device);
        var rc = Handle.PortAdd(device, requestedPortNo, out var portNo);
        if (rc.IsError)
        {
            string detail = rc == Errno.EEXIST ? $"port '{device.Name}' or number {requestedPortNo} already exists"
                : rc == Errno.EFBIG ? $"no free port number below {MaxPorts}" : $"cannot add port '{device.Name}'";
            Fail("port add", rc, detail);
        }
        return portNo;
    }

    /// <summary>Deletes a port.</summary>
    public void DeletePort(uint portNo) => Check(Handle.PortDel(portNo), "port del", $"port {portNo}");

    /// <summary>The port numbered <paramref name="portNo"/>, or null.</summary>
    public DatapathPort? FindPort(uint portNo)
    {
        var rc = Handle.PortQueryByNumber(portNo, out var p);
        if (rc == Errno.ENOENT) return null;
        Check(rc, "port query", $"port {portNo}");
        return p;
    }

    /// <summary>The port named <paramref name="name"/>, or null.</summary>
    public DatapathPort? FindPort(string name)
    {
        var rc = Handle.PortQueryByName(name, out var p);
        if (rc == Errno.ENOENT) return null;
        Check(rc, "port query", $"port '{name}'");
        return p;
    }

    /// <summary>All ports, ordered by number.</summary>
    public IReadOnlyList<DatapathPort> GetPorts()
    {
        Check(Handle.PortDump(out var ports), "port dump");
        return ports;
    }

    /// <summary>
    /// One port change: returns true with the changed device's name, true with null for "changes were lost,
    /// resynchronise" (ENOBUFS), false when nothing changed.
    /// </summary>
    public bool PollPortChange(out string? deviceName)
    {
        var rc = Handle.PortPoll(out deviceName);
        if (rc == Errno.EAGAIN) return false;
        if (rc == Errno.ENOBUFS) { deviceName = null; return true; }
        Check(rc, "port poll");
        return true;
    }

    /// <summary>Waits for a port change (see <see cref="IDatapath.PortPollWait"/>).</summary>
    public bool WaitPortChange(int timeoutMs) => Handle.PortPollWait(timeoutMs);

    /// <summary>The flow (key AND mask, mask), or null when there is none.</summary>
    public DatapathFlow? GetFlow(in FlowKey key, in FlowKey mask)
    {
        var rc = Handle.FlowGet(key, mask, out var f);
        if (rc == Errno.ENOENT) return null;
        Check(rc, "flow get");
        return f;
    }

    /// <summary>The flow a packet with exact key <paramref name="packetKey"/> would match, or null.</summary>
    public DatapathFlow? LookupFlow(in FlowKey packetKey)
    {
        var rc = Handle.FlowLookup(packetKey, out var f);
        if (rc == Errno.ENOENT) return null;
        Check(rc, "flow lookup");
        return f;
    }

    /// <summary>Puts a flow (see <see cref="IDatapath.FlowPut"/>); returns the statistics before the update.</summary>
    public DatapathFlowStats PutFlow(FlowPutFlags flags, in FlowKey key, in FlowKey mask, OdpActionList actions)
    {
        var rc = Handle.FlowPut(flags, key, mask, actions, out var old, out var error);
        if (rc.IsError)
            Fail("flow put", rc, error ?? (rc == Errno.EEXIST ? "flow already exists" : rc == Errno.ENOENT ? "no such flow" : rc == Errno.EFBIG ? "too many flows" : null));
        return old;
    }

    /// <summary>Deletes a flow; returns its final statistics. Throws (ENOENT) when there is no such flow.</summary>
    public DatapathFlowStats DeleteFlow(in FlowKey key, in FlowKey mask)
    {
        var rc = Handle.FlowDel(key, mask, out var stats);
        if (rc.IsError) Fail("flow del", rc, rc == Errno.ENOENT ? "no such flow" : null);
        return stats;
    }

    /// <summary>Deletes every flow and purges upcalls.</summary>
    public void FlushFlows() => Check(Handle.FlowFlush(), "flow flush");

    /// <summary>Dumps the flows (tolerates concurrent change; see <see cref="IDatapath.FlowDumpStart"/>).</summary>
    public IEnumerable<DatapathFlow> DumpFlows()
    {
        Check(Handle.FlowDumpStart(out var dump), "flow dump");
        return Iterate(dump!);

        static IEnumerable<DatapathFlow> Iterate(IDatapathFlowDump dump)
        {
            using (dump)
            {
                while (dump.Next(out var f).IsSuccess) yield return f!;
            }
        }
    }

    /// <summary>Executes actions on a packet; the datapath takes ownership of the packet.</summary>
    public void Execute(PacketBuffer packet, OdpActionList actions) => Check(Handle.Execute(packet, actions), "execute");

    /// <summary>Which upcall kinds are queued.</summary>
    public DatapathListenMask ListenMask
    {
        get { Check(Handle.GetListenMask(out var m), "get listen mask"); return m; }
        set => Check(Handle.SetListenMask(value), "set listen mask");
    }

    /// <summary>Takes an upcall without blocking; false when none is queued. The caller owns the upcall's packet.</summary>
    public bool TryReceiveUpcall([NotNullWhen(true)] out DatapathUpcall? upcall)
    {
        var rc = Handle.RecvUpcall(out upcall);
        if (rc == Errno.EAGAIN) return false;
        Check(rc, "recv");
        return upcall is not null;
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for an upcall.</summary>
    public bool WaitUpcall(int timeoutMs) => Handle.RecvWait(timeoutMs);

    /// <summary>Discards queued upcalls.</summary>
    public void PurgeUpcalls() => Check(Handle.RecvPurge(), "recv purge");

    /// <summary>sFlow sampling probability (fraction of <see cref="uint.MaxValue"/>).</summary>
    public uint SflowProbability
    {
        get { Check(Handle.GetSflowProbability(out var p), "get sflow probability"); return p; }
        set => Check(Handle.SetSflowProbability(value), "set sflow probability");
    }

    /// <summary>The skb priority for QoS queue <paramref name="queueId"/>.</summary>
    public uint QueueToPriority(uint queueId)
    {
        Check(Handle.QueueToPriority(queueId, out var p), "queue to priority", $"queue {queueId}");
        return p;
    }

    /// <summary>Closes the handle.</summary>
    public void Dispose() => Handle.Dispose();

    /// <inheritdoc/>
    public override string ToString() => $"{Type}@{Name}";
}
