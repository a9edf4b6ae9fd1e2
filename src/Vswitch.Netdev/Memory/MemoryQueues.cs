using System.Runtime.CompilerServices;
using Vswitch.Interop.Linux;
using Vswitch.Packets;

namespace Vswitch.Netdev.Memory;

/// <summary>
/// Rx queue of a <see cref="MemoryNetdev"/>: a bounded MPSC ring plus an eventfd signalled only to a sleeper.
/// </summary>
/// <remarks>
/// Wait protocol: the poll thread calls <see cref="PrepareToWait"/> (arms: <c>sleeping = 1</c>, full fence, re-checks the
/// ring), sleeps in epoll on <see cref="WaitFd"/>, then calls <see cref="FinishWait(bool)"/> (disarms; reads the eventfd
/// only when epoll reported it readable).
/// A producer publishes its packets, issues a full fence and signals the eventfd only if it wins the
/// <c>sleeping 1 → 0</c> exchange, so a busy queue never makes a system call.
/// </remarks>
public sealed class MemoryRxQueue : NetdevRxQueue
{
    private const int Awake = 0;
    private const int Sleeping = 1;
    private const int Closed = 2;

    private readonly PacketRing _ring;
    private readonly EventFd _eventFd;
    private readonly int _waitFd;
    private int _state;

    internal MemoryRxQueue(MemoryNetdev device, int index, PacketRing ring, EventFd eventFd) : base(device, index)
    {
        _ring = ring;
        _eventFd = eventFd;
        _waitFd = eventFd.Fd;
    }

    internal PacketRing Ring => _ring;

    /// <summary>Packets waiting (approximate while producers run).</summary>
    public int PendingCount => _ring.Count;

    /// <summary>
    /// Moves up to <c>batch.FreeCount</c> queued packets into <paramref name="batch"/> with metadata and layout reset.
    /// When the device is down, every queued packet is discarded and counted in RxDropped. Never blocks, never throws,
    /// never allocates. Poll thread only.
    /// </summary>
    public override int Receive(ref PacketBatch batch)
    {
        var device = (MemoryNetdev)Device;
        if (!device.IsUp) return DropAllWhileDown();
        int first = batch.Count;
        int added = _ring.DequeueBurst(ref batch, PacketBatch.Capacity);
        var packets = batch.AsSpan();
        ulong bytes = 0;
        for (int i = first; i < packets.Length; i++)
        {
            var packet = packets[i]!;
            packet.Metadata = default;
            packet.Layout = PacketLayout.None;
            bytes += (ulong)packet.Length;
        }
        Stats.RxPackets += (ulong)added;
        Stats.RxBytes += bytes;
        return added;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private int DropAllWhileDown()
    {
        int dropped = _ring.DrainAndRelease();
        Stats.RxDropped += (ulong)dropped;
        return 0;
    }

    /// <summary>The eventfd a poll thread sleeps on (readable after a producer woke it). Valid until the device is disposed.</summary>
    public override int WaitFd => _waitFd;

    /// <summary>
    /// Arms the wake-up and re-checks the ring: false (do not sleep, disarmed) when packets are pending. After a true
    /// return the caller must call <see cref="FinishWait(bool)"/> once it stops waiting. Poll thread only; never blocks.
    /// </summary>
    public override bool PrepareToWait()
    {
        if (!_ring.IsEmpty) return false;
        if (Interlocked.CompareExchange(ref _state, Sleeping, Awake) == Closed) return false;
        if (!_ring.IsEmpty)
        {
            Interlocked.CompareExchange(ref _state, Awake, Sleeping);
            return false;
        }
        return true;
    }

    /// <summary>
    /// Disarms the wake-up; when <paramref name="signalled"/> (epoll reported the eventfd readable) consumes the
    /// signal with one read system call, otherwise makes none. A signal written after the wait ended stays pending
    /// and ends the next wait at once, which then consumes it. Poll thread only.
    /// </summary>
    public override void FinishWait(bool signalled)
    {
        if (Interlocked.CompareExchange(ref _state, Awake, Sleeping) == Closed) return;
        if (signalled) _eventFd.Consume();
    }

    /// <summary>Discards every queued packet (released to its pool); returns how many. Poll thread only.</summary>
    public override int Drain() => _ring.DrainAndRelease();

    /// <summary>Signals the eventfd if the consumer announced it is going to sleep. Called by producers after publishing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void WakeIfSleeping()
    {
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _state) == Sleeping) WakeSlow();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WakeSlow()
    {
        if (Interlocked.CompareExchange(ref _state, Awake, Sleeping) == Sleeping)
            _eventFd.Signal();
    }

    internal void Close()
    {
        Interlocked.Exchange(ref _state, Closed);
        _ring.DrainAndRelease();
        _eventFd.Dispose();
    }
}

/// <summary>
/// Tx queue of a <see cref="MemoryNetdev"/>: tx queue <c>i</c> delivers to the peer's rx queue <c>i mod peer rx count</c>,
/// or to the capture ring of a standalone device.
/// </summary>
public sealed class MemoryTxQueue : NetdevTxQueue
{
    internal MemoryTxQueue(MemoryNetdev device, int index) : base(device, index)
    {
    }

    /// <summary>
    /// Delivers every packet of <paramref name="batch"/> (zero copy: the buffer itself moves to the receiver) and
    /// empties it. Drops, counted and released: device or link down (TxDropped), longer than MTU + 18 bytes
    /// (TxMtuDropped and TxDropped), receiver ring full (TxDropped here, RxDropped on the peer). Returns the number
    /// delivered. Never blocks, never throws, never allocates; one thread per queue at a time.
    /// </summary>
    public override int Send(ref PacketBatch batch)
    {
        var device = (MemoryNetdev)Device;
        var packets = batch.AsSpan();
        var peer = device.Peer;
        PacketRing target;
        MemoryRxQueue? targetQueue = null;
        bool linkUp;
        if (peer is not null)
        {
            targetQueue = peer.RxQueueFor(Index);
            target = targetQueue.Ring;
            linkUp = device.IsUp && peer.IsUp;
        }
        else
        {
            target = device.CaptureRing;
            linkUp = device.IsUp && device.PeerName is null;
        }
        int maxFrame = device.MaxFrameLength;
        ulong dropped = 0;
        ulong mtuDropped = 0;
        ulong bytes = 0;
        int valid = 0;
        if (!linkUp)
        {
            for (int i = 0; i < packets.Length; i++) packets[i]!.Release();
            dropped = (ulong)packets.Length;
        }
        else
        {
            // Compact the packets that may go to the front (order kept), then hand them over in one burst.
            for (int i = 0; i < packets.Length; i++)
            {
                var packet = packets[i]!;
                int length = packet.Length;
                if (length > maxFrame)
                {
                    packet.Release();
                    mtuDropped++;
                    continue;
                }
                bytes += (ulong)length;
                if (valid != i) packets[valid] = packet; // no heap store (write barrier) until something was dropped
                valid++;
            }
            dropped = mtuDropped;
        }
        int sent = valid == 0 ? 0 : target.EnqueueBurst(packets[..valid]);
        if (sent < valid) DropRingFull(packets[sent..valid], peer, ref bytes, ref dropped);
        batch.Clear();
        Stats.TxPackets += (ulong)sent;
        Stats.TxBytes += bytes;
        Stats.TxDropped += dropped;
        Stats.TxMtuDropped += mtuDropped;
        if (sent > 0) targetQueue?.WakeIfSleeping();
        return sent;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void DropRingFull(Span<PacketBuffer?> refused, MemoryNetdev? peer, ref ulong bytes, ref ulong dropped)
    {
        for (int i = 0; i < refused.Length; i++)
        {
            var packet = refused[i]!;
            bytes -= (ulong)packet.Length;
            packet.Release();
            dropped++;
            peer?.CountRxOverflow();
        }
    }
}
