using System.Runtime.CompilerServices;
using Vswitch.Datapath.Odp;
using Vswitch.Packets;

namespace Vswitch.Datapath.Userspace;

/// <summary>
/// One installed megaflow. Key and mask never change after creation (a different key or mask is a different flow);
/// the actions are replaced atomically by a modify; the statistics are updated by poll threads with interlocked
/// adds once per (batch, flow) group. <see cref="Dead"/> is set before the flow is unlinked so that exact-match cache
/// entries pointing at it stop matching.
/// </summary>
internal sealed class DpFlow
{
    public readonly FlowKey Key;      // masked
    public readonly FlowKey Mask;
    private OdpActionList _actions;
    private volatile bool _dead;

    public long Packets;
    public long Bytes;
    public long UsedMs;
    public int TcpFlags;

    public DpFlow(in FlowKey maskedKey, in FlowKey mask, OdpActionList actions)
    {
        Key = maskedKey;
        Mask = mask;
        _actions = actions;
    }

    /// <summary>Current actions; one volatile read per batch group.</summary>
    public OdpActionList Actions
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Volatile.Read(ref _actions);
        set => Volatile.Write(ref _actions, value);
    }

    /// <summary>True once the flow was deleted (its EMC entries are then ignored).</summary>
    public bool Dead
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _dead;
        set => _dead = value;
    }

    /// <summary>Adds one batch group's worth of statistics (poll threads; lock-free).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddStats(int packets, long bytes, long nowMs, int tcpFlags)
    {
        Interlocked.Add(ref Packets, packets);
        Interlocked.Add(ref Bytes, bytes);
        if (Volatile.Read(ref UsedMs) != nowMs) Volatile.Write(ref UsedMs, nowMs);
        if (tcpFlags != 0 && (Volatile.Read(ref TcpFlags) | tcpFlags) != Volatile.Read(ref TcpFlags))
            Interlocked.Or(ref TcpFlags, tcpFlags);
    }

    public DatapathFlowStats ReadStats() => new()
    {
        Packets = (ulong)Volatile.Read(ref Packets),
        Bytes = (ulong)Volatile.Read(ref Bytes),
        UsedMs = Volatile.Read(ref UsedMs),
        TcpFlags = (ushort)Volatile.Read(ref TcpFlags),
    };

    public void ZeroStats()
    {
        Volatile.Write(ref Packets, 0);
        Volatile.Write(ref Bytes, 0);
        Volatile.Write(ref UsedMs, 0);
        Volatile.Write(ref TcpFlags, 0);
    }

    public DatapathFlow Snapshot() => new(Key, Mask, Actions, ReadStats());
}
