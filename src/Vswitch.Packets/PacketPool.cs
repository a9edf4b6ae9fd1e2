using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Vswitch.Packets;

/// <summary>
/// A bounded pool of <see cref="PacketBuffer"/>s carved from one pinned native allocation. Renting
/// and returning are lock-free and allocation-free and may be called from any thread. When the
/// pool is empty <see cref="TryRent"/> returns false and <see cref="ExhaustedCount"/> is incremented:
/// the caller drops or retries; it never throws.
/// </summary>
/// <remarks>
/// The shared store is a bounded MPMC ring (Vyukov): every rent or return is a compare-and-swap on a cache
/// line all threads write. A thread that moves packets in bulk (a poll thread) opts in to a per-thread cache
/// with <see cref="EnableThreadCaches"/>, as DPDK's mempool per-lcore cache: its rents and returns then touch
/// only thread-local memory, and the shared ring is visited in bulk (<see cref="ThreadCacheBulk"/> buffers at a
/// time) when the cache runs empty or full. A buffer may be returned on any thread: into that thread's cache
/// if it has one, otherwise into the ring. Cached buffers are not <see cref="Available"/> to other threads
/// (<see cref="PacketPoolThreadCaches.Count"/> tells how many a thread holds); flushing or disposing the caches
/// (or their collection after the thread ended) returns them to the ring.
/// </remarks>
public sealed unsafe class PacketPool : IDisposable
{
    /// <summary>Buffers a per-thread cache holds at most (for pools of at least <see cref="MinCapacityForThreadCaches"/>).</summary>
    public const int ThreadCacheCapacity = 64;

    /// <summary>Buffers moved between a thread cache and the shared ring at a time.</summary>
    public const int ThreadCacheBulk = ThreadCacheCapacity / 2;

    /// <summary>Smaller pools are not cached per thread: a few caches could otherwise hold most of the pool.</summary>
    public const int MinCapacityForThreadCaches = 8 * ThreadCacheCapacity;

    private readonly byte* _memory;
    private readonly PacketBuffer[] _all;
    private readonly Cell[] _cells;
    private readonly int _mask;
    private PaddedLong _enqueuePos;
    private PaddedLong _dequeuePos;
    private PaddedLong _exhausted;
    private int _disposed;

    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct PaddedLong
    {
        [FieldOffset(64)] public long Value;
    }

    private struct Cell
    {
        public long Sequence;
        public PacketBuffer? Item;
    }

    /// <summary>Creates a pool of <paramref name="capacity"/> buffers of <see cref="PacketBuffer.BufferSize"/> bytes each.</summary>
    /// <exception cref="ArgumentOutOfRangeException">capacity is not in 1..1,048,576.</exception>
    public PacketPool(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, 1 << 20);
        Capacity = capacity;
        int ring = (int)BitOperations.RoundUpToPowerOf2((uint)capacity);
        _mask = ring - 1;
        _cells = new Cell[ring];
        for (int i = 0; i < ring; i++) _cells[i].Sequence = i;
        _memory = (byte*)NativeMemory.AlignedAlloc((nuint)capacity * PacketBuffer.BufferSize, 64);
        _all = new PacketBuffer[capacity];
        for (int i = 0; i < capacity; i++)
        {
            _all[i] = new PacketBuffer(this, _memory + (long)i * PacketBuffer.BufferSize, i);
            ReturnShared(_all[i]);
        }
    }

    /// <summary>Number of buffers the pool owns.</summary>
    public int Capacity { get; }

    /// <summary>Buffers in the shared ring (approximate while other threads rent and return); buffers held in
    /// per-thread caches are not included.</summary>
    public int Available => (int)Math.Clamp(Volatile.Read(ref _enqueuePos.Value) - Volatile.Read(ref _dequeuePos.Value), 0, Capacity);

    /// <summary>How many times a rent found the pool empty (the shared ring and, for a caching thread, its cache).</summary>
    public long ExhaustedCount => Volatile.Read(ref _exhausted.Value);

    /// <summary>True when threads that enabled caches cache this pool's buffers (capacity ≥ <see cref="MinCapacityForThreadCaches"/>).</summary>
    public bool UsesThreadCaches => Capacity >= MinCapacityForThreadCaches;

    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>
    /// Gives the calling thread a cache for every pool it rents from or returns to (those with
    /// <see cref="UsesThreadCaches"/>) until the result is disposed, on this thread, which returns every cached
    /// buffer to its pool. For threads that own a fast path (poll threads); one scope per thread at a time.
    /// </summary>
    /// <exception cref="InvalidOperationException">The thread already has caches enabled.</exception>
    public static PacketPoolThreadCaches EnableThreadCaches() => PacketPoolThreadCaches.Enable();

    /// <summary>Takes a buffer, reset for receive. False (and <see cref="ExhaustedCount"/> + 1) when the pool is empty,
    /// or, briefly, while the buffer next in line is still being returned by another thread (that return is never lost).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryRent([NotNullWhen(true)] out PacketBuffer? buffer)
    {
        var cache = PacketPoolThreadCaches.For(this);
        if (cache is not null) return cache.TryRent(out buffer);
        if (TryDequeue(out buffer))
        {
            buffer.ResetForReceive();
            return true;
        }
        CountExhausted();
        return false;
    }

    /// <summary>Fills <paramref name="batch"/> up to <paramref name="count"/> packets (or its free space); returns how many were added.</summary>
    public int RentBatch(ref PacketBatch batch, int count)
    {
        int added = 0;
        count = Math.Min(count, batch.FreeCount);
        while (added < count && TryRent(out var b))
        {
            batch.TryAdd(b);
            added++;
        }
        return added;
    }

    /// <summary>Gives a buffer back (into the calling thread's cache when it has one). Returning a buffer of another
    /// pool, or twice, is a caller bug.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Return(PacketBuffer buffer)
    {
        var cache = PacketPoolThreadCaches.For(this);
        if (cache is not null) cache.Return(buffer);
        else ReturnShared(buffer);
    }

    internal void CountExhausted() => Interlocked.Increment(ref _exhausted.Value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryDequeue([NotNullWhen(true)] out PacketBuffer? buffer)
    {
        var cells = _cells;
        long pos = Volatile.Read(ref _dequeuePos.Value);
        while (true)
        {
            ref Cell cell = ref cells[pos & _mask];
            long seq = Volatile.Read(ref cell.Sequence);
            long diff = seq - (pos + 1);
            if (diff == 0)
            {
                if (Interlocked.CompareExchange(ref _dequeuePos.Value, pos + 1, pos) == pos)
                {
                    buffer = cell.Item!;
                    cell.Item = null;
                    Volatile.Write(ref cell.Sequence, pos + _mask + 1);
                    return true;
                }
                pos = Volatile.Read(ref _dequeuePos.Value);
            }
            else if (diff < 0)
            {
                buffer = null;
                return false;
            }
            else
            {
                pos = Volatile.Read(ref _dequeuePos.Value);
            }
        }
    }

    /// <summary>
    /// Takes up to <c>items.Length</c> buffers from the ring with one claim per run of published cells (one
    /// compare-and-swap for the whole run in the common case); returns how many. Buffers are not reset.
    /// </summary>
    internal int DequeueBulk(Span<PacketBuffer?> items)
    {
        var cells = _cells;
        int taken = 0;
        while (taken < items.Length)
        {
            long pos = Volatile.Read(ref _dequeuePos.Value);
            // Count the consecutive cells from pos that hold a published item of this lap.
            int run = 0;
            while (taken + run < items.Length && Volatile.Read(ref cells[(pos + run) & _mask].Sequence) == pos + run + 1) run++;
            if (run == 0)
            {
                long seq = Volatile.Read(ref cells[pos & _mask].Sequence);
                if (seq - (pos + 1) < 0) return taken; // empty (or the next return is still being published)
                continue;                              // another renter moved past pos: look again
            }
            // The cells stay ours until someone claims their positions, which needs _dequeuePos == pos.
            if (Interlocked.CompareExchange(ref _dequeuePos.Value, pos + run, pos) != pos) continue;
            for (int i = 0; i < run; i++)
            {
                ref Cell cell = ref cells[(pos + i) & _mask];
                items[taken + i] = cell.Item;
                cell.Item = null;
                Volatile.Write(ref cell.Sequence, pos + i + _mask + 1);
            }
            taken += run;
        }
        return taken;
    }

    /// <summary>Gives every buffer of <paramref name="items"/> back to the ring, claiming runs of free cells at once.</summary>
    internal void EnqueueBulk(ReadOnlySpan<PacketBuffer?> items)
    {
        var cells = _cells;
        int done = 0;
        while (done < items.Length)
        {
            long pos = Volatile.Read(ref _enqueuePos.Value);
            int run = 0;
            while (done + run < items.Length && Volatile.Read(ref cells[(pos + run) & _mask].Sequence) == pos + run) run++;
            if (run == 0)
            {
                // The next cell is not free yet (a renter claimed it and has not published it) or the position moved:
                // the single-item path waits for it correctly.
                ReturnShared(items[done]!);
                done++;
                continue;
            }
            if (Interlocked.CompareExchange(ref _enqueuePos.Value, pos + run, pos) != pos) continue;
            for (int i = 0; i < run; i++)
            {
                ref Cell cell = ref cells[(pos + i) & _mask];
                cell.Item = items[done + i];
                Volatile.Write(ref cell.Sequence, pos + i + 1);
            }
            done += run;
        }
    }

    private void ReturnShared(PacketBuffer buffer)
    {
        var cells = _cells;
        var spin = new SpinWait();
        long pos = Volatile.Read(ref _enqueuePos.Value);
        while (true)
        {
            ref Cell cell = ref cells[pos & _mask];
            long seq = Volatile.Read(ref cell.Sequence);
            long diff = seq - pos;
            if (diff == 0)
            {
                if (Interlocked.CompareExchange(ref _enqueuePos.Value, pos + 1, pos) == pos)
                {
                    cell.Item = buffer;
                    Volatile.Write(ref cell.Sequence, pos + 1);
                    return;
                }
                pos = Volatile.Read(ref _enqueuePos.Value);
            }
            else if (diff < 0)
            {
                // The cell still holds the previous lap. Either a renter claimed it (advanced _dequeuePos) and was
                // preempted before publishing its sequence, which is transient: wait for it, or dropping the buffer
                // would leak it from the pool for good; or the ring really holds ring-size items, only possible
                // after a double return: drop the reference, never corrupt state.
                if (pos - Volatile.Read(ref _dequeuePos.Value) > _mask)
                    return;
                spin.SpinOnce(sleep1Threshold: -1); // never Thread.Sleep(1) on the packet path
                pos = Volatile.Read(ref _enqueuePos.Value);
            }
            else
            {
                pos = Volatile.Read(ref _enqueuePos.Value);
            }
        }
    }

    /// <summary>Frees the native memory. Buffers still in use must not be touched afterwards.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
            NativeMemory.AlignedFree(_memory);
    }
}
