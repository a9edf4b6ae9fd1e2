using System.Globalization;
using System.Text;
using Vswitch.Datapath.Odp;
using Vswitch.Interop.Linux;
using Vswitch.Netdev;
using Vswitch.Packets;
using Vswitch.Switch.Diagnostics;
using Vswitch.Switch.Normal;

namespace Vswitch.Switch;

/// <summary>What a port should be: name, netdev type and options, VLAN configuration.</summary>
/// <param name="Name">Port (device) name.</param>
/// <param name="Type">Netdev provider type (default <c>afpacket</c>).</param>
/// <param name="Options">Provider options (e.g. <c>iface=tap7,queues=2</c>).</param>
/// <param name="Vlan">VLAN configuration.</param>
public sealed record BridgePortSpec(string Name, string Type, NetdevOptions Options, PortVlanConfig Vlan)
{
    /// <summary>The kernel interface name behind the port: the <c>iface</c> option when given, else the port name.</summary>
    public string InterfaceName => Options.Get("iface") ?? Name;
}

/// <summary>A port of a bridge: its configuration and datapath port number.</summary>
/// <param name="Spec">Configuration.</param>
/// <param name="PortNo">Datapath port number.</param>
public sealed record BridgePort(BridgePortSpec Spec, uint PortNo)
{
    /// <summary>Port name.</summary>
    public string Name => Spec.Name;
}

/// <summary>Settings of a bridge's learning table and flow table.</summary>
/// <param name="MacAging">MAC aging time (default 300 s).</param>
/// <param name="MacTableSize">MAC table size limit (default 8192).</param>
/// <param name="Flows">Flow idle timeout and flow limit.</param>
/// <param name="RevalidatorInterval">How often the revalidator runs its periodic pass (default 500 ms).</param>
public sealed record BridgeSettings(TimeSpan MacAging, int MacTableSize, FlowLimits Flows, TimeSpan RevalidatorInterval)
{
    /// <summary>The defaults.</summary>
    public static BridgeSettings Default { get; } =
        new(MacLearningTable.DefaultAging, MacLearningTable.DefaultMaxEntries, FlowLimits.Default, TimeSpan.FromMilliseconds(500));
}

/// <summary>A bridge operation failed; the message names the bridge, the port and the reason. Nothing was changed.</summary>
public sealed class BridgeException(string message) : Exception(message);

/// <summary>
/// A bridge: one datapath, its ports, NORMAL forwarding, a handler thread that turns miss upcalls into megaflows
/// (flow put with the computed mask, then execute the packet) and a revalidator thread (idle expiry, flow limit,
/// MAC aging and MAC-move revalidation). Port changes are serialised by an internal lock; the port set seen by the
/// handler is an immutable snapshot.
/// </summary>
public sealed class Bridge : IDisposable
{
    private static readonly VLogModule s_log = VLog.Module("bridge");
    private static readonly VLogRateLimit s_upcallLimit = new(60, 20);
    private static readonly CoverageCounter s_upcalls = Coverage.Define("upcall_miss", "miss upcalls handled");
    private static readonly CoverageCounter s_flowPut = Coverage.Define("flow_put", "megaflows installed");
    private static readonly CoverageCounter s_flowPutFail = Coverage.Define("flow_put_error", "megaflow installs that failed");
    private static readonly CoverageCounter s_flowLimited = Coverage.Define("flow_limit_hit", "upcalls executed without a flow because of the flow limit");
    private static readonly CoverageCounter s_flowDel = Coverage.Define("flow_del", "flows deleted by the revalidator");
    private static readonly CoverageCounter s_flowMod = Coverage.Define("flow_mod", "flows modified by the revalidator");
    private static readonly CoverageCounter s_macMove = Coverage.Define("mac_move", "MAC addresses that moved to another port");
    private static readonly CoverageCounter s_macLearn = Coverage.Define("mac_learn", "MAC addresses learned");
    private static readonly CoverageCounter s_executeFail = Coverage.Define("execute_error", "packets whose execute failed");

    private readonly Lock _configLock = new();
    private readonly Lock _revalidateLock = new();
    private readonly Lock _scopeLock = new();
    private readonly TimeProvider _time;
    private readonly AutoResetEvent _revalidateNow = new(false);
    private readonly CancellationTokenSource _stop = new();
    private volatile NormalPortSet _portSet = NormalPortSet.Empty;
    private volatile BridgePort[] _ports = [];
    private RevalidationScope _pendingScope = RevalidationScope.None;
    private Thread? _handler;
    private Thread? _revalidator;
    private BridgeSettings _settings;
    private int _flowCount;
    private long _upcalls, _flowsInstalled, _flowsDeleted, _flowsModified, _macMoves;

    /// <summary>Creates a bridge over <paramref name="datapath"/> (which it owns from now on). Threads start with <see cref="Start"/>.</summary>
    public Bridge(string name, IBridgeDatapath datapath, BridgeSettings? settings = null, TimeProvider? time = null)
    {
        Name = name;
        Datapath = datapath;
        _settings = settings ?? BridgeSettings.Default;
        _time = time ?? TimeProvider.System;
        Macs = new MacLearningTable(_time, _settings.MacAging, _settings.MacTableSize);
    }

    /// <summary>Bridge name.</summary>
    public string Name { get; }

    /// <summary>The datapath the bridge owns.</summary>
    public IBridgeDatapath Datapath { get; }

    /// <summary>The MAC learning table.</summary>
    public MacLearningTable Macs { get; }

    /// <summary>Now on the bridge's monotonic clock, in ms (the clock of <see cref="InstalledFlow.LastUsedMs"/>).</summary>
    public long NowMs => MonotonicClock.NowMs(_time);

    /// <summary>Current settings.</summary>
    public BridgeSettings Settings => Volatile.Read(ref _settings);

    /// <summary>The ports, by ascending port number.</summary>
    public IReadOnlyList<BridgePort> Ports => _ports;

    /// <summary>Upcalls handled, flows installed / deleted / modified, MAC moves (per-bridge counters).</summary>
    public (long Upcalls, long FlowsInstalled, long FlowsDeleted, long FlowsModified, long MacMoves) Counters =>
        (Interlocked.Read(ref _upcalls), Interlocked.Read(ref _flowsInstalled), Interlocked.Read(ref _flowsDeleted),
         Interlocked.Read(ref _flowsModified), Interlocked.Read(ref _macMoves));

    /// <summary>Finds a port by name.</summary>
    public BridgePort? FindPort(string name) => Array.Find(_ports, p => p.Name == name);

    /// <summary>Finds a port by datapath number.</summary>
    public BridgePort? FindPort(uint portNo) => Array.Find(_ports, p => p.PortNo == portNo);

    /// <summary>Applies new settings (MAC aging/size, flow limits).</summary>
    public void ApplySettings(BridgeSettings settings)
    {
        Macs.SetLimits(settings.MacAging, settings.MacTableSize);
        Volatile.Write(ref _settings, settings);
        RequestRevalidation(RevalidationScope.All);
    }

    /// <summary>Starts the handler and revalidator threads.</summary>
    public void Start()
    {
        lock (_configLock)
        {
            if (_handler is not null) return;
            _handler = new Thread(HandlerLoop) { IsBackground = true, Name = $"handler-{Name}" };
            _revalidator = new Thread(RevalidatorLoop) { IsBackground = true, Name = $"revalidator-{Name}" };
            _handler.Start();
            _revalidator.Start();
        }
    }

    /// <summary>Adds a port. Throws <see cref="BridgeException"/> (nothing changed) when the name is taken or the datapath refuses it.</summary>
    public BridgePort AddPort(BridgePortSpec spec)
    {
        lock (_configLock)
        {
            if (FindPort(spec.Name) is not null) throw new BridgeException($"bridge {Name}: port {spec.Name} already exists");
            var err = Datapath.AddPort(spec.Name, spec.Type, spec.Options, out var portNo, out var detail);
            if (err.IsError)
                throw new BridgeException($"bridge {Name}: cannot add port {spec.Name} (type {spec.Type}): {detail ?? err.ToString()}");
            var port = new BridgePort(spec, portNo);
            SetPorts([.. _ports, port]);
            s_log.Info("port added", ("bridge", Name), ("port", spec.Name), ("port_no", portNo), ("type", spec.Type), ("vlan", spec.Vlan.ToString()));
        }
        RevalidateNow(RevalidationScope.All);
        return FindPort(spec.Name)!;
    }

    /// <summary>Removes a port; its MAC entries are forgotten and flows revalidated. Throws <see cref="BridgeException"/> when absent.</summary>
    public void DeletePort(string name)
    {
        lock (_configLock)
        {
            var port = FindPort(name) ?? throw new BridgeException($"bridge {Name}: no port {name}");
            var err = Datapath.DeletePort(port.PortNo);
            if (err.IsError && err != Errno.ENOENT) throw new BridgeException($"bridge {Name}: cannot delete port {name}: {err}");
            SetPorts(Array.FindAll(_ports, p => p.PortNo != port.PortNo));
            Macs.FlushPort(port.PortNo);
            s_log.Info("port deleted", ("bridge", Name), ("port", name));
        }
        RevalidateNow(RevalidationScope.All);
    }

    /// <summary>
    /// Changes a port's configuration. A VLAN-only change is applied in place. A change of type or options opens the new
    /// device <b>before</b> the old one is touched, so a change the provider refuses (unknown type or option, bad value,
    /// missing interface) leaves the running port, its device and its counters exactly as they were; only then is the old
    /// device replaced by the new one under the same port number. When the new device cannot be opened while the old one
    /// holds the interface (<c>EBUSY</c>/<c>EEXIST</c>, e.g. a single-queue tap of the same name), the old device is closed
    /// first and restored if the new one still fails. Throws <see cref="BridgeException"/> when the change is refused.
    /// </summary>
    public BridgePort ReconfigurePort(BridgePortSpec spec)
    {
        lock (_configLock)
        {
            var old = FindPort(spec.Name) ?? throw new BridgeException($"bridge {Name}: no port {spec.Name}");
            BridgePort updated;
            if (old.Spec.Type == spec.Type && old.Spec.Options.ToString() == spec.Options.ToString())
            {
                updated = old with { Spec = spec };
            }
            else
            {
                updated = new BridgePort(spec, ReplaceDevice(old, spec));
            }
            SetPorts([.. Array.FindAll(_ports, p => p.PortNo != old.PortNo), updated]);
            Macs.FlushPort(old.PortNo);
            s_log.Info("port reconfigured", ("bridge", Name), ("port", spec.Name), ("vlan", spec.Vlan.ToString()), ("options", spec.Options.ToString()));
        }
        RevalidateNow(RevalidationScope.All);
        return FindPort(spec.Name)!;
    }

    /// <summary>Replaces <paramref name="old"/>'s device by one for <paramref name="spec"/>; returns the new port number.</summary>
    private uint ReplaceDevice(BridgePort old, BridgePortSpec spec)
    {
        BridgeException Refused(Errno err, string? detail) =>
            new($"bridge {Name}: cannot reconfigure port {spec.Name} (type {spec.Type}): {detail ?? err.ToString()}; the port is unchanged");

        var err = Datapath.OpenDevice(spec.Name, spec.Type, spec.Options, out var device, out var detail);
        if (err.IsSuccess)
        {
            Datapath.DeletePort(old.PortNo);
            err = Datapath.AddOpenedPort(device!, old.PortNo, out var portNo);
            if (err.IsSuccess) return portNo;
            device!.Dispose();
            RestoreOld(old);
            throw Refused(err, $"datapath refused the new device: {err}");
        }
        if (err != Errno.EOPNOTSUPP && err != Errno.EBUSY && err != Errno.EEXIST) throw Refused(err, detail);

        // The datapath cannot open a device on the side, or the old device holds the interface: close it first.
        Datapath.DeletePort(old.PortNo);
        err = AddAt(spec, old.PortNo, out var newNo, out detail);
        if (err.IsSuccess) return newNo;
        RestoreOld(old);
        throw new BridgeException($"bridge {Name}: cannot reconfigure port {spec.Name} (type {spec.Type}): {detail ?? err.ToString()}; the old device was re-opened");
    }

    /// <summary>Opens <paramref name="spec"/>'s device and adds it as port <paramref name="portNo"/> when the datapath can; else any number.</summary>
    private Errno AddAt(BridgePortSpec spec, uint portNo, out uint newNo, out string? detail)
    {
        newNo = 0;
        var err = Datapath.OpenDevice(spec.Name, spec.Type, spec.Options, out var device, out detail);
        if (err == Errno.EOPNOTSUPP) return Datapath.AddPort(spec.Name, spec.Type, spec.Options, out newNo, out detail);
        if (err.IsError) return err;
        err = Datapath.AddOpenedPort(device!, portNo, out newNo);
        if (err.IsError)
        {
            device!.Dispose();
            detail = $"datapath refused the device: {err}";
        }
        return err;
    }

    private void RestoreOld(BridgePort old)
    {
        var back = AddAt(old.Spec, old.PortNo, out var oldNo, out var why);
        if (back.IsError)
        {
            SetPorts(Array.FindAll(_ports, p => p.PortNo != old.PortNo));
            s_log.Err("port lost while restoring it", ("bridge", Name), ("port", old.Name), ("error", why ?? back.ToString()));
        }
        else if (oldNo != old.PortNo)
        {
            SetPorts([.. Array.FindAll(_ports, p => p.PortNo != old.PortNo), old with { PortNo = oldNo }]);
        }
    }

    private void SetPorts(BridgePort[] ports)
    {
        Array.Sort(ports, static (a, b) => a.PortNo.CompareTo(b.PortNo));
        _ports = ports;
        _portSet = new NormalPortSet(ports.Select(p => new NormalPort(p.PortNo, p.Name, p.Spec.Vlan)));
    }

    /// <summary>
    /// Handles one miss upcall: NORMAL decision (with learning), flow put with the decision's mask (unless the flow limit
    /// is reached), then execute of the packet (ownership of <paramref name="packet"/> passes to this method).
    /// </summary>
    public NormalDecision HandleUpcall(in FlowKey key, PacketBuffer? packet)
    {
        Interlocked.Increment(ref _upcalls);
        s_upcalls.Increment();
        var decision = NormalForwarding.Decide(key, _portSet, Macs, learn: true);
        var learning = decision.Learning;
        if (learning.Kind == MacLearnKind.Learned) s_macLearn.Increment();
        if (learning.ChangesForwarding)
        {
            var macs = new List<MacAddress> { key.EthSrc };
            if (learning.Evicted is { } ev) macs.Add(ev.Mac);
            if (learning.Kind == MacLearnKind.Moved)
            {
                s_macMove.Increment();
                Interlocked.Increment(ref _macMoves);
                if (s_log.IsEnabled(VLogLevel.Info, s_upcallLimit))
                    s_log.Log(VLogLevel.Info, "MAC moved", ("bridge", Name), ("mac", key.EthSrc), ("vlan", decision.Vlan),
                        ("from", learning.PreviousPort), ("to", key.InPort));
            }
            // A move is rare and its stale flows misdeliver traffic: fix them before the next upcall. New addresses
            // only turn flooding into unicast, so the revalidator thread handles them.
            if (learning.Kind == MacLearnKind.Moved) RevalidateNow(RevalidationScope.ForMacs(macs));
            else RequestRevalidation(RevalidationScope.ForMacs(macs));
        }

        var limits = Settings.Flows;
        if (FlowRevalidator.MayInstall(Volatile.Read(ref _flowCount), limits))
        {
            var masked = FlowKey.ApplyMask(key, decision.Mask);
            var mask = decision.Mask;
            var err = Datapath.PutFlow(masked, mask, decision.Actions, modify: false);
            if (err.IsSuccess)
            {
                Interlocked.Increment(ref _flowCount);
                Interlocked.Increment(ref _flowsInstalled);
                s_flowPut.Increment();
            }
            else if (err != Errno.EEXIST)
            {
                s_flowPutFail.Increment();
                if (s_log.IsEnabled(VLogLevel.Warn, s_upcallLimit))
                    s_log.Log(VLogLevel.Warn, "flow put failed", ("bridge", Name), ("error", err), ("flow", OdpFlowFormatter.Format(masked, mask)));
            }
        }
        else
        {
            s_flowLimited.Increment();
        }

        if (packet is not null)
        {
            var err = Datapath.Execute(packet, key.InPort, decision.Actions);
            if (err.IsError)
            {
                s_executeFail.Increment();
                if (s_log.IsEnabled(VLogLevel.Warn, s_upcallLimit))
                    s_log.Log(VLogLevel.Warn, "execute failed", ("bridge", Name), ("error", err));
            }
        }
        return decision;
    }

    /// <summary>Asks the revalidator to re-translate the flows in <paramref name="scope"/> soon (within milliseconds).</summary>
    public void RequestRevalidation(RevalidationScope scope)
    {
        lock (_scopeLock) _pendingScope = _pendingScope.Union(scope);
        try { _revalidateNow.Set(); } catch (ObjectDisposedException) { }
    }

    /// <summary>Runs one revalidator pass now, on the calling thread, with <paramref name="extra"/> added to the pending scope.
    /// Returns the verdicts applied.</summary>
    public IReadOnlyList<FlowRevalidation> RevalidateNow(RevalidationScope? extra = null)
    {
        lock (_revalidateLock)
        {
            RevalidationScope scope;
            lock (_scopeLock)
            {
                scope = extra is null ? _pendingScope : _pendingScope.Union(extra);
                _pendingScope = RevalidationScope.None;
            }
            var expired = Macs.Expire();
            if (expired.Count > 0) scope = scope.Union(RevalidationScope.ForMacs(expired.Select(e => e.Mac)));

            var flows = Datapath.DumpFlows();
            var plan = FlowRevalidator.Plan(flows, _portSet, Macs, scope, Settings.Flows, MonotonicClock.NowMs(_time));
            int deleted = 0;
            foreach (var r in plan)
            {
                if (r.Verdict == FlowVerdict.Delete)
                {
                    if (Datapath.DeleteFlow(r.Flow.Key, r.Flow.Mask).IsSuccess) deleted++;
                    if (s_log.IsEnabled(VLogLevel.Dbg))
                        s_log.Dbg("flow deleted", ("bridge", Name), ("reason", r.Reason), ("flow", OdpFlowFormatter.Format(r.Flow.Key, r.Flow.Mask)));
                }
                else if (r.Verdict == FlowVerdict.Modify)
                {
                    if (Datapath.PutFlow(r.Flow.Key, r.Flow.Mask, r.NewActions!, modify: true).IsSuccess)
                    {
                        Interlocked.Increment(ref _flowsModified);
                        s_flowMod.Increment();
                    }
                    if (s_log.IsEnabled(VLogLevel.Dbg))
                        s_log.Dbg("flow modified", ("bridge", Name), ("reason", r.Reason), ("flow", OdpFlowFormatter.Format(r.Flow.Key, r.Flow.Mask)));
                }
            }
            Interlocked.Add(ref _flowsDeleted, deleted);
            s_flowDel.Add(deleted);
            Volatile.Write(ref _flowCount, flows.Count - deleted);
            return plan;
        }
    }

    /// <summary>
    /// What the bridge would do with a packet described by <paramref name="key"/>, without learning or installing anything,
    /// as text like <c>ofproto/trace</c>.
    /// </summary>
    public string Trace(in FlowKey key)
    {
        var d = NormalForwarding.Decide(key, _portSet, Macs, learn: false, trace: true);
        var sb = new StringBuilder();
        sb.Append("Flow: ").AppendLine(OdpFlowFormatter.Format(key));
        sb.AppendLine();
        sb.Append("bridge(\"").Append(Name).AppendLine("\")");
        sb.Append('-', Name.Length + 10).AppendLine();
        foreach (var step in d.Trace) sb.Append(" ").AppendLine(step);
        sb.AppendLine();
        sb.Append("Final flow: ").AppendLine(OdpFlowFormatter.Format(key));
        sb.Append("Megaflow: ").AppendLine(OdpFlowFormatter.Format(FlowKey.ApplyMask(key, d.Mask), d.Mask));
        sb.Append("Datapath actions: ").AppendLine(d.Actions.ToString());
        if (d.DropReason is not null) sb.Append("Drop reason: ").AppendLine(d.DropReason);
        return sb.ToString();
    }

    /// <summary>
    /// Parses a packet description in datapath flow syntax (an exact key, as <c>ofproto/trace</c> takes it);
    /// <c>in_port(NAME)</c> may name a port of this bridge. False with an error naming the problem.
    /// </summary>
    public bool TryParseFlow(string text, out FlowKey key, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        var resolved = System.Text.RegularExpressions.Regex.Replace(text, @"in_port\(([^)0-9][^)]*)\)", m =>
            FindPort(m.Groups[1].Value) is { } p ? $"in_port({p.PortNo.ToString(CultureInfo.InvariantCulture)})" : m.Value);
        if (OdpFlowParser.TryParseKey(resolved, out key, out var parseError))
        {
            error = null;
            return true;
        }
        error = $"bad flow: {parseError}";
        return false;
    }

    /// <summary>Writes the MAC table as <c>fdb/show</c> does (port, VLAN, MAC, age in seconds).</summary>
    public void WriteFdb(TextWriter output)
    {
        var entries = Macs.Snapshot().OrderBy(e => e.Port).ThenBy(e => e.Vlan).ThenBy(e => e.Mac.ToUInt64()).ToList();
        var names = entries.Select(e => FindPort(e.Port)?.Name ?? e.Port.ToString(CultureInfo.InvariantCulture)).ToList();
        int width = Math.Max(5, names.Count == 0 ? 0 : names.Max(n => n.Length));
        output.WriteLine($"{"port".PadLeft(width)}  VLAN  MAC                Age");
        for (int i = 0; i < entries.Count; i++)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{names[i].PadLeft(width)}  {entries[i].Vlan,4}  {entries[i].Mac}  {Macs.AgeSeconds(entries[i]),3}"));
    }

    /// <summary>Forgets every learned address and revalidates all flows.</summary>
    public int FlushFdb()
    {
        int n = Macs.Flush().Count;
        RevalidateNow(RevalidationScope.All);
        return n;
    }

    private void HandlerLoop()
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            Errno err;
            BridgeUpcall upcall;
            try
            {
                err = Datapath.ReceiveUpcall(200, out upcall);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                s_log.LogLimited(s_upcallLimit, VLogLevel.Err, "upcall receive failed", ("bridge", Name), ("error", ex.Message));
                Thread.Sleep(100);
                continue;
            }
            if (err == Errno.EAGAIN) continue;
            if (err.IsError)
            {
                if (token.IsCancellationRequested) break;
                if (s_log.IsEnabled(VLogLevel.Warn, s_upcallLimit))
                    s_log.Log(VLogLevel.Warn, "upcall receive error", ("bridge", Name), ("error", err));
                Thread.Sleep(50);
                continue;
            }
            try
            {
                HandleUpcall(upcall.Key, upcall.Packet);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                s_log.LogLimited(s_upcallLimit, VLogLevel.Err, "upcall handling failed", ("bridge", Name), ("error", ex.Message));
            }
        }
    }

    private void RevalidatorLoop()
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                _revalidateNow.WaitOne(Settings.RevalidatorInterval);
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            if (token.IsCancellationRequested) break;
            try
            {
                RevalidateNow();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                s_log.LogLimited(s_upcallLimit, VLogLevel.Err, "revalidation failed", ("bridge", Name), ("error", ex.Message));
            }
        }
    }

    /// <summary>Stops the threads, deletes the ports and disposes the datapath.</summary>
    public void Dispose()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        _revalidateNow.Set();
        _handler?.Join(2000);
        _revalidator?.Join(2000);
        lock (_configLock)
        {
            foreach (var p in _ports) Datapath.DeletePort(p.PortNo);
            _ports = [];
            _portSet = NormalPortSet.Empty;
        }
        Datapath.Dispose();
        _revalidateNow.Dispose();
        _stop.Dispose();
    }
}
