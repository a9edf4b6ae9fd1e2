using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Vswitch.Packets;

namespace Vswitch.Netdev.Memory;

/// <summary>
/// A bounded lock-free multi-producer / single-consumer ring of packet buffers (D. Vyukov's bounded
/// queue with per-slot sequence numbers, consumer side simplified to one thread). Enqueue and dequeue
/// never allocate and never block; a full ring refuses the packet (the caller drops and counts it).
/// </summary>
/// <remarks>
/// Producers: any number of threads. Consumer: one thread at a time (<see cref="TryDequeue"/>,
/// <see cref="IsEmpty"/>, <see cref="DrainAndRelease"/>). The ring holds references only; ownership of a
/// buffer moves into the ring on a successful enqueue and out of it on dequeue.
/// </remarks>
internal sealed class PacketRing
{
    private readonly Slot[] _slots;
    private readonly long _mask;
    private PaddedLong _enqueuePos;
    private PaddedLong _dequeuePos;

    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct PaddedLong
    {
        [FieldOffset(64)] public long Value;
    }

    private struct Slot
    {
        public long Sequence;
        public PacketBuffer? Item;
    }

    /// <summary>Creates a ring of <paramref name="capacity"/> slots (a power of two, at least 2).</summary>
    public PacketRing(int capacity)
    {
        if (capacity < 2 || (capacity & (capacity - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "ring capacity must be a power of two >= 2");
        _slots = new Slot[capacity];
        for (int i = 0; i < capacity; i++) _slots[i].Sequence = i;
        _mask = capacity - 1;
    }

    /// <summary>Number of slots.</summary>
    public int Capacity => _slots.Length;

    /// <summary>Packets in the ring (approximate while producers run).</summary>
    public int Count => (int)Math.Clamp(Volatile.Read(ref _enqueuePos.Value) - Volatile.Read(ref _dequeuePos.Value), 0, _slots.Length);

    /// <summary>Adds <paramref name="packet"/>; false (ownership stays with the caller) when the ring is full. Any thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryEnqueue(PacketBuffer packet)
    {
        var slots = _slots;
        long pos = Volatile.Read(ref _enqueuePos.Value);
        while (true)
        {
            ref Slot slot = ref slots[pos & _mask];
            long diff = Volatile.Read(ref slot.Sequence) - pos;
            if (diff == 0)
            {
                if (Interlocked.CompareExchange(ref _enqueuePos.Value, pos + 1, pos) == pos)
                {
                    slot.Item = packet;
                    Volatile.Write(ref slot.Sequence, pos + 1);
                    return true;
                }
                pos = Volatile.Read(ref _enqueuePos.Value);
            }
            else if (diff < 0)
            {
                return false;
            }
            else
            {
                pos = Volatile.Read(ref _enqueuePos.Value);
            }
        }
    }

    /// <summary>
    /// Adds a prefix of <paramref name="packets"/> (all non-null) with one compare-and-swap for the whole burst, as
    /// DPDK's <c>rte_ring_enqueue_burst</c> does; returns how many were added (0..Length, fewer when the ring fills).
    /// Ownership of the added packets moves into the ring; the rest stay with the caller. Any thread.
    /// </summary>
    /// <remarks>
    /// Correct with a single consumer that frees slots in order: the consumer resets a slot's sequence before it
    /// advances the dequeue position, so <c>capacity - (enqueuePos - dequeuePos)</c> read in that order never
    /// overestimates the free slots.
    /// </remarks>
    public int EnqueueBurst(ReadOnlySpan<PacketBuffer?> packets)
    {
        if (packets.IsEmpty) return 0;
        var slots = _slots;
        long capacity = slots.Length;
        long pos, n;
        while (true)
        {
            pos = Volatile.Read(ref _enqueuePos.Value);
            long head = Volatile.Read(ref _dequeuePos.Value);
            n = Math.Min(capacity - (pos - head), packets.Length);
            if (n <= 0) return 0;
            if (Interlocked.CompareExchange(ref _enqueuePos.Value, pos + n, pos) == pos) break;
        }
        for (long i = 0; i < n; i++)
        {
            ref Slot slot = ref slots[(pos + i) & _mask];
            slot.Item = packets[(int)i];
            Volatile.Write(ref slot.Sequence, pos + i + 1);
        }
        return (int)n;
    }

    /// <summary>
    /// Moves up to <paramref name="max"/> of the oldest packets into <paramref name="batch"/> (bounded by its free
    /// space) and returns how many. Consumer thread only.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int DequeueBurst(ref PacketBatch batch, int max)
    {
        var slots = _slots;
        long pos = _dequeuePos.Value;
        long start = pos;
        max = Math.Min(max, batch.FreeCount);
        while (pos - start < max)
        {
            ref Slot slot = ref slots[pos & _mask];
            if (Volatile.Read(ref slot.Sequence) != pos + 1) break;
            batch.TryAdd(slot.Item!);
            slot.Item = null;
            Volatile.Write(ref slot.Sequence, pos + _mask + 1);
            pos++;
        }
        if (pos != start) Volatile.Write(ref _dequeuePos.Value, pos);
        return (int)(pos - start);
    }

    /// <summary>Takes the oldest packet; false when empty. Consumer thread only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryDequeue([NotNullWhen(true)] out PacketBuffer? packet)
    {
        long pos = _dequeuePos.Value;
        ref Slot slot = ref _slots[pos & _mask];
        if (Volatile.Read(ref slot.Sequence) != pos + 1)
        {
            packet = null;
            return false;
        }
        packet = slot.Item!;
        slot.Item = null;
        Volatile.Write(ref slot.Sequence, pos + _mask + 1);
        Volatile.Write(ref _dequeuePos.Value, pos + 1);
        return true;
    }

    /// <summary>True when no published packet is waiting. Consumer thread only.</summary>
    public bool IsEmpty
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            long pos = _dequeuePos.Value;
            return Volatile.Read(ref _slots[pos & _mask].Sequence) != pos + 1;
        }
    }

    /// <summary>Releases every queued packet to its pool; returns how many. Consumer thread only.</summary>
    public int DrainAndRelease()
    {
        int n = 0;
        while (TryDequeue(out var p))
        {
            p.Release();
            n++;
        }
        return n;
    }
}
