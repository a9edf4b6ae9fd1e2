using System.Collections.Concurrent;
using Vswitch.Datapath;
using Vswitch.Datapath.Odp;
using Vswitch.Interop.Linux;
using Vswitch.Netdev;
using Vswitch.Packets;
using Vswitch.Switch.Normal;

namespace Vswitch.Switch;

/// <summary>
/// Adapts a <see cref="Vswitch.Datapath.Datapath"/> (any <see cref="IDatapath"/>, e.g. the userspace datapath) to the
/// bridge seam <see cref="IBridgeDatapath"/>: ports are opened through a <see cref="NetdevRegistry"/>, flow times are
/// converted to the bridge's clock, and only miss upcalls are handed to the bridge. Thread-safe as the datapath is.
/// </summary>
public sealed class DatapathBridgeAdapter : IBridgeDatapath
{
    private readonly Vswitch.Datapath.Datapath _dp;
    private readonly NetdevRegistry _netdevs;
    private readonly PacketPool _pool;
    private readonly TimeProvider _time;
    private readonly bool _destroyOnDispose;
    private readonly ConcurrentDictionary<(FlowKey Key, FlowKey Mask), long> _installedMs = new();

    /// <summary>
    /// Wraps <paramref name="datapath"/> (owned from now on). Devices are opened with <paramref name="netdevs"/> and rent packets
    /// from <paramref name="pool"/>. Miss upcalls are switched on. With <paramref name="destroyOnDispose"/> the datapath is
    /// destroyed when the adapter is disposed (the bridge's datapath lives as long as the bridge).
    /// </summary>
    public DatapathBridgeAdapter(Vswitch.Datapath.Datapath datapath, NetdevRegistry netdevs, PacketPool pool, TimeProvider? time = null, bool destroyOnDispose = true)
    {
        _dp = datapath;
        _netdevs = netdevs;
        _pool = pool;
        _time = time ?? TimeProvider.System;
        _destroyOnDispose = destroyOnDispose;
        var err = _dp.Handle.SetListenMask(DatapathListenMask.Miss);
        if (err.IsError) throw new InvalidOperationException($"datapath {datapath.Name}: cannot listen for misses: {err}");
    }

    /// <summary>The wrapped datapath.</summary>
    public Vswitch.Datapath.Datapath Datapath => _dp;

    /// <inheritdoc/>
    public string Name => _dp.Name;

    /// <inheritdoc/>
    public string Type => _dp.Type;

    /// <inheritdoc/>
    public Errno AddPort(string name, string type, NetdevOptions options, out uint portNo, out string? error)
    {
        portNo = 0;
        var err = OpenDevice(name, type, options, out var device, out error);
        if (err.IsError) return err;
        err = _dp.Handle.PortAdd(device!, IDatapath.NoPort, out portNo);
        if (err.IsError)
        {
            device!.Dispose();
            error = $"datapath {Name}: port add {name}: {err}";
            return err;
        }
        error = null;
        return Errno.Success;
    }

    /// <inheritdoc/>
    public Errno OpenDevice(string name, string type, NetdevOptions options, out Netdev.Netdev? device, out string? error)
    {
        device = null;
        if (!_netdevs.TryGetProvider(type, out var provider))
        {
            error = $"unknown port type '{type}' (known types: {string.Join(", ", _netdevs.Providers.Select(p => p.Type))})";
            return Errno.EINVAL;
        }
        if (!NetdevRegistry.ValidateOptionKeys(provider, options, out error)) return Errno.EINVAL;
        var err = provider.Open(new NetdevOpenRequest(name, options, _pool), out device, out error);
        if (err.IsError || device is null)
        {
            device?.Dispose();
            device = null;
            error ??= $"cannot open {type} device {name}: {err}";
            return err.IsError ? err : Errno.EINVAL;
        }
        return Errno.Success;
    }

    /// <inheritdoc/>
    public Errno AddOpenedPort(Netdev.Netdev device, uint requestedPortNo, out uint portNo) =>
        _dp.Handle.PortAdd(device, requestedPortNo == uint.MaxValue ? IDatapath.NoPort : requestedPortNo, out portNo);

    /// <inheritdoc/>
    public Errno DeletePort(uint portNo) => _dp.Handle.PortDel(portNo);

    /// <inheritdoc/>
    public bool TryGetStats(out BridgeDatapathStats stats)
    {
        if (_dp.Handle.GetStats(out var s).IsError)
        {
            stats = default;
            return false;
        }
        stats = new BridgeDatapathStats(s.Hit, s.Missed, s.Lost, s.Flows);
        return true;
    }

    /// <inheritdoc/>
    public IReadOnlyList<BridgeDatapathPort> ListPorts()
    {
        if (_dp.Handle.PortDump(out var ports).IsError) return [];
        var list = new List<BridgeDatapathPort>(ports.Count);
        foreach (var p in ports)
        {
            NetdevStats s = default;
            try { s = p.Device.GetStats(); } catch (ObjectDisposedException) { }
            _dp.Handle.GetPortUpcallStats(p.PortNo, out var u);   // zero when the datapath does not count per port
            list.Add(new BridgeDatapathPort(p.PortNo, p.Name, p.Type, s.RxPackets, s.RxBytes, s.TxPackets, s.TxBytes,
                s.RxDropped + s.RxNoBuffer, s.TxDropped + s.TxMtuDropped, Upcalls: u.Upcalls, UpcallsLost: u.Lost));
        }
        list.Sort(static (a, b) => a.PortNo.CompareTo(b.PortNo));
        return list;
    }

    /// <inheritdoc/>
    public Errno PutFlow(in FlowKey key, in FlowKey mask, OdpActionList actions, bool modify)
    {
        var err = _dp.Handle.FlowPut(modify ? FlowPutFlags.Modify : FlowPutFlags.Create, key, mask, actions, out _, out _);
        if (err.IsSuccess && !modify) _installedMs[(FlowKey.ApplyMask(key, mask), mask)] = MonotonicClock.NowMs(_time);
        return err;
    }

    /// <inheritdoc/>
    public Errno DeleteFlow(in FlowKey key, in FlowKey mask)
    {
        _installedMs.TryRemove((FlowKey.ApplyMask(key, mask), mask), out _);
        return _dp.Handle.FlowDel(key, mask, out _);
    }

    /// <inheritdoc/>
    public List<InstalledFlow> DumpFlows()
    {
        var result = new List<InstalledFlow>();
        if (_dp.Handle.FlowDumpStart(out var dump).IsError || dump is null) return result;
        using (dump)
        {
            long nowMs = MonotonicClock.NowMs(_time);
            long tick = Environment.TickCount64;
            while (dump.Next(out var f).IsSuccess && f is not null)
            {
                var id = (FlowKey.ApplyMask(f.Key, f.Mask), f.Mask);
                long used = f.Stats.UsedMs != 0
                    ? nowMs - Math.Max(0, tick - f.Stats.UsedMs)
                    : _installedMs.GetOrAdd(id, nowMs);
                result.Add(new InstalledFlow(f.Key, f.Mask, f.Actions, f.Stats.Packets, f.Stats.Bytes, used));
            }
        }
        return result;
    }

    /// <inheritdoc/>
    public Errno Execute(PacketBuffer packet, uint inPort, OdpActionList actions)
    {
        packet.Metadata.InPort = inPort;
        return _dp.Handle.Execute(packet, actions);
    }

    /// <inheritdoc/>
    public Errno ReceiveUpcall(int timeoutMs, out BridgeUpcall upcall)
    {
        long deadline = Environment.TickCount64 + timeoutMs;
        while (true)
        {
            var err = _dp.Handle.RecvUpcall(out var u);
            if (err.IsSuccess && u is not null)
            {
                if (u.Type == DatapathUpcallType.Miss)
                {
                    upcall = new BridgeUpcall(u.Key, u.Packet);
                    return Errno.Success;
                }
                u.Packet.Release();
                continue;
            }
            if (err != Errno.EAGAIN) { upcall = default; return err; }
            long left = deadline - Environment.TickCount64;
            if (left <= 0 || !_dp.Handle.RecvWait((int)left))
            {
                upcall = default;
                return Errno.EAGAIN;
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_destroyOnDispose) _dp.Handle.Destroy();
        _dp.Dispose();
    }
}
