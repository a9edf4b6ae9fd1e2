using Vswitch.Daemon;
using Vswitch.Datapath;
using Vswitch.Datapath.Odp;
using Vswitch.Datapath.Userspace;
using Vswitch.Netdev;
using Vswitch.Netdev.Memory;
using Vswitch.Packets;

namespace Vswitch.SystemTests;

/// <summary>
/// Test scaffolding that drives one userspace datapath the way <c>ovs-dpctl</c> does, on the daemon's own
/// <see cref="DatapathRuntime"/> (the same providers and pool as <c>vswitch run</c>, not a second runtime): it creates
/// the datapath, adds ports by netdev type and an options string (<c>memory</c>, <c>tap</c> and
/// <c>afpacket</c>/<c>system</c>), installs flows written in OVS datapath-flow syntax, dumps them back as
/// <c>dump-flows</c> lines with statistics, and reports port changes.
/// </summary>
/// <remarks>
/// <para>Errors throw: <see cref="DatapathException"/> (naming the datapath) for datapath calls,
/// <see cref="InvalidOperationException"/> for a port that cannot be opened (the message names the type, port and
/// option), <see cref="FormatException"/> for flow text that does not parse (the message names the argument and
/// offset). Nothing is half-applied: a device that opened but could not be added is closed again.</para>
/// <para>Threads: the control members are meant for one thread (a test); the datapath's poll threads forward
/// packets meanwhile. <see cref="Dispose"/> destroys the datapath (closing every port's device) and frees the
/// packet pool.</para>
/// </remarks>
public sealed class DatapathHarness : IDisposable
{
    private readonly DatapathRuntime _runtime;
    private bool _disposed;

    /// <summary>
    /// Creates a userspace (<c>netdev</c>) datapath named <paramref name="name"/> (default: <c>vsw</c> plus a random
    /// id) with <paramref name="options"/>, and a packet pool of <paramref name="poolPackets"/> buffers for its ports.
    /// </summary>
    public DatapathHarness(string? name = null, UserspaceDatapathOptions? options = null, int poolPackets = 4096)
    {
        _runtime = new DatapathRuntime(poolPackets, options);
        try
        {
            Datapath = _runtime.OpenDatapath(UserspaceDatapathProvider.TypeName, name ?? "vsw" + Guid.NewGuid().ToString("N")[..8]);
        }
        catch
        {
            _runtime.Dispose();
            throw;
        }
    }

    /// <summary>The datapath (generic API; throws <see cref="DatapathException"/> on errors).</summary>
    public Vswitch.Datapath.Datapath Datapath { get; }

    /// <summary>The netdev registry ports are opened through (memory, tap, afpacket registered).</summary>
    public NetdevRegistry Netdevs => _runtime.Netdevs;

    /// <summary>The memory provider (to find memory devices by name and inject/take frames).</summary>
    public MemoryNetdevProvider Memory => _runtime.Memory;

    /// <summary>The packet pool shared by every port's device.</summary>
    public PacketPool Pool => _runtime.Pool;

    /// <summary>
    /// Opens a device of netdev <paramref name="type"/> named <paramref name="name"/> with <paramref name="options"/>
    /// (<c>key=value,key=value</c>, e.g. <c>iface=veth0,csum=fill</c>) and adds it as a port; returns the port
    /// number (<paramref name="requestedPortNo"/> when given). Throws <see cref="InvalidOperationException"/> when the
    /// device cannot be opened and <see cref="DatapathException"/> when the port cannot be added (the device is
    /// closed again).
    /// </summary>
    public uint AddPort(string name, string type, string? options = null, uint requestedPortNo = IDatapath.NoPort)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(type);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!NetdevOptions.TryParse(options, out var parsed, out var error))
            throw new InvalidOperationException($"port '{name}' (type {type}): {error}");
        var rc = Netdevs.Open(type, name, parsed, Pool, out var device, out error);
        if (rc.IsError) throw new InvalidOperationException($"port '{name}' (type {type}): {error ?? rc.ToString()}");
        try
        {
            return Datapath.AddPort(device!, requestedPortNo);
        }
        catch
        {
            device!.Dispose();
            throw;
        }
    }

    /// <summary>The device of port <paramref name="portNo"/>; throws <see cref="KeyNotFoundException"/> when there is no such port.</summary>
    public Vswitch.Netdev.Netdev GetDevice(uint portNo) =>
        Datapath.FindPort(portNo)?.Device ?? throw new KeyNotFoundException($"datapath {Datapath.Name}: no port {portNo}");

    /// <summary>Removes port <paramref name="portNo"/> (its device is closed).</summary>
    public void DeletePort(uint portNo) => Datapath.DeletePort(portNo);

    /// <summary>
    /// Installs a flow from <c>dpctl/add-flow</c>'s two arguments, e.g. <paramref name="flow"/> =
    /// <c>in_port(1),eth(),eth_type(0x0806),arp()</c> and <paramref name="actions"/> = <c>2</c>. Throws
    /// <see cref="FormatException"/> for bad text and <see cref="DatapathException"/> when the datapath refuses
    /// the flow (e.g. it already exists or its key is inconsistent).
    /// </summary>
    public void AddFlow(string flow, string actions)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!OdpFlowLine.TryParseAddFlow(flow, actions, out var key, out var mask, out var parsedActions, out var error))
            throw new FormatException($"add-flow {flow} {actions}: {error}");
        Datapath.PutFlow(FlowPutFlags.Create, key, mask, parsedActions);
    }

    /// <summary>Installs a flow from one <c>FLOW ACTIONS</c> line (the flow without spaces), as <see cref="AddFlow(string, string)"/>.</summary>
    public void AddFlow(string line)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!OdpFlowLine.TryParseAddFlow(line, out var key, out var mask, out var actions, out var error))
            throw new FormatException($"add-flow {line}: {error}");
        Datapath.PutFlow(FlowPutFlags.Create, key, mask, actions);
    }

    /// <summary>
    /// Removes the flow written as <paramref name="flow"/> (same key and mask as when it was added, as
    /// <c>dpctl/del-flow</c>) and returns its final statistics. Throws <see cref="FormatException"/> for bad text and
    /// <see cref="DatapathException"/> (ENOENT) when there is no such flow.
    /// </summary>
    public DatapathFlowStats DeleteFlow(string flow)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!OdpFlowParser.TryParse(flow, out var key, out var mask, out var error))
            throw new FormatException($"del-flow {flow}: {error}");
        return Datapath.DeleteFlow(key, mask);
    }

    /// <summary>Removes every flow.</summary>
    public void FlushFlows() => Datapath.FlushFlows();

    /// <summary>
    /// The installed flows as <c>dpctl/dump-flows</c> lines
    /// (<c>KEY, packets:N, bytes:N, used:T[, flags:F], actions:ACTIONS</c>), in dump order.
    /// </summary>
    public IReadOnlyList<string> DumpFlows(bool verbose = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long now = Environment.TickCount64;
        var lines = new List<string>();
        foreach (var f in Datapath.DumpFlows())
        {
            var s = f.Stats;
            TimeSpan? ago = s.UsedMs == 0 ? null : TimeSpan.FromMilliseconds(Math.Max(0, now - s.UsedMs));
            lines.Add(OdpFlowLine.FormatDump(f.Key, f.Mask, new OdpFlowStats(s.Packets, s.Bytes, ago, s.TcpFlags), f.Actions, verbose));
        }
        return lines;
    }

    /// <summary>The installed flows parsed back from their <c>dump-flows</c> lines (the text round trip is part of the check).</summary>
    public IReadOnlyList<OdpDumpedFlow> DumpFlowsParsed()
    {
        var lines = DumpFlows();
        var flows = new OdpDumpedFlow[lines.Count];
        for (int i = 0; i < lines.Count; i++) flows[i] = OdpFlowLine.ParseDump(lines[i]);
        return flows;
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> for a port change and returns the changed device's name (null when
    /// changes were lost to an overflow: re-read all ports), or false on timeout.
    /// </summary>
    public bool TryPollPortChange(int timeoutMs, out string? deviceName)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long deadline = Environment.TickCount64 + Math.Max(0, timeoutMs);
        while (true)
        {
            if (Datapath.PollPortChange(out deviceName)) return true;
            long left = deadline - Environment.TickCount64;
            if (left <= 0) return false;
            Datapath.WaitPortChange((int)left);
        }
    }

    /// <summary>Discards every pending port change (e.g. the ones the harness's own port adds caused).</summary>
    public void DrainPortChanges()
    {
        while (Datapath.PollPortChange(out _)) { }
    }

    /// <summary>Destroys the datapath (every port's device is closed) and frees the packet pool. Idempotent.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            Datapath.Handle.Destroy();
        }
        finally
        {
            Datapath.Dispose();
            _runtime.Dispose();
        }
    }
}
