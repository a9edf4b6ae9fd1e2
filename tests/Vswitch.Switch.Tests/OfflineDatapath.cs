using System.Collections.Concurrent;
using Vswitch.Datapath.Odp;
using Vswitch.Interop.Linux;
using Vswitch.Netdev;
using Vswitch.Packets;
using Vswitch.Switch.Normal;

namespace Vswitch.Switch.Tests;

/// <summary>
/// Test scaffolding: an in-memory <see cref="IBridgeDatapath"/> with ports and a flow table but no packet I/O, for
/// tests of the bridge logic and of the daemon's commands and persistence. Upcalls are injected with
/// <see cref="InjectUpcall"/>; executed packets are counted and released. Thread-safe. (Linked into
/// Vswitch.Daemon.Tests; a running switch always has a real datapath.)
/// </summary>
public sealed class OfflineDatapath : IBridgeDatapath
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<uint, BridgeDatapathPort> _ports = [];
    private readonly Dictionary<(FlowKey Key, FlowKey Mask), InstalledFlow> _flows = [];
    private readonly BlockingCollection<BridgeUpcall> _upcalls = new(1024);
    private readonly TimeProvider _time;
    private long _executed;

    /// <summary>Creates an empty datapath named <paramref name="name"/>.</summary>
    public OfflineDatapath(string name, TimeProvider? time = null)
    {
        Name = name;
        _time = time ?? TimeProvider.System;
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public string Type => "offline";

    /// <summary>Packets given to <see cref="Execute"/> with a non-drop action list.</summary>
    public long ExecutedPackets => Interlocked.Read(ref _executed);

    /// <summary>The actions of the last executed packet.</summary>
    public OdpActionList? LastExecuted { get; private set; }

    /// <inheritdoc/>
    public Errno AddPort(string name, string type, NetdevOptions options, out uint portNo, out string? error)
    {
        lock (_lock)
        {
            portNo = 0;
            error = null;
            if (_ports.Values.Any(p => p.Name == name)) { error = $"port {name} already exists"; return Errno.EEXIST; }
            uint no = 1;
            while (_ports.ContainsKey(no)) no++;
            _ports[no] = new BridgeDatapathPort(no, name, type);
            portNo = no;
            return Errno.Success;
        }
    }

    /// <inheritdoc/>
    public Errno DeletePort(uint portNo)
    {
        lock (_lock) return _ports.Remove(portNo) ? Errno.Success : Errno.ENOENT;
    }

    /// <inheritdoc/>
    public bool TryGetStats(out BridgeDatapathStats stats)
    {
        stats = default;
        return false;
    }

    /// <inheritdoc/>
    public IReadOnlyList<BridgeDatapathPort> ListPorts()
    {
        lock (_lock) return _ports.Values.ToArray();
    }

    /// <inheritdoc/>
    public Errno PutFlow(in FlowKey key, in FlowKey mask, OdpActionList actions, bool modify)
    {
        var k = (FlowKey.ApplyMask(key, mask), mask);
        long now = MonotonicClock.NowMs(_time);
        lock (_lock)
        {
            bool exists = _flows.TryGetValue(k, out var old);
            if (modify)
            {
                if (!exists) return Errno.ENOENT;
                _flows[k] = old! with { Actions = actions };
                return Errno.Success;
            }
            if (exists) return Errno.EEXIST;
            _flows[k] = new InstalledFlow(k.Item1, mask, actions, 0, 0, now);
            return Errno.Success;
        }
    }

    /// <inheritdoc/>
    public Errno DeleteFlow(in FlowKey key, in FlowKey mask)
    {
        lock (_lock) return _flows.Remove((FlowKey.ApplyMask(key, mask), mask)) ? Errno.Success : Errno.ENOENT;
    }

    /// <inheritdoc/>
    public List<InstalledFlow> DumpFlows()
    {
        lock (_lock) return [.. _flows.Values];
    }

    /// <summary>
    /// Looks a packet key up in the flow table as the fast path would; on a hit the flow's counters and last-used time
    /// are updated and its actions returned, on a miss null (the caller would then upcall).
    /// </summary>
    public OdpActionList? Lookup(in FlowKey packetKey, int bytes = 64)
    {
        long now = MonotonicClock.NowMs(_time);
        lock (_lock)
        {
            foreach (var (k, f) in _flows)
            {
                if (!FlowKey.MatchesMasked(packetKey, k.Mask, k.Key)) continue;
                _flows[k] = f with { Packets = f.Packets + 1, Bytes = f.Bytes + (ulong)bytes, LastUsedMs = now };
                return f.Actions;
            }
        }
        return null;
    }

    /// <inheritdoc/>
    public Errno Execute(PacketBuffer packet, uint inPort, OdpActionList actions)
    {
        if (!actions.IsDrop) Interlocked.Increment(ref _executed);
        LastExecuted = actions;
        packet.Release();
        return Errno.Success;
    }

    /// <summary>Queues a miss upcall for the bridge's handler. False when the queue is full (the upcall is lost, as in a datapath).</summary>
    public bool InjectUpcall(in FlowKey key, PacketBuffer? packet = null) => _upcalls.TryAdd(new BridgeUpcall(key, packet));

    /// <inheritdoc/>
    public Errno ReceiveUpcall(int timeoutMs, out BridgeUpcall upcall)
    {
        try
        {
            return _upcalls.TryTake(out upcall, timeoutMs) ? Errno.Success : Errno.EAGAIN;
        }
        catch (ObjectDisposedException)
        {
            upcall = default;
            return Errno.EBADF;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _upcalls.CompleteAdding();
    }
}
