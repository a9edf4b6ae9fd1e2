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
public sealed unsafe class PacketPool : IDisposable
{
    private readonly byte* _memory;
    private readonly PacketBuffer[] _all;
    private readonly Cell[] _cells;
    private readonly int _mask;
    private PaddedLong _enqueuePos;
    private PaddedLong _dequeuePos;
    private long _exhausted;
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
            Return(_all[i]);
        }
    }

    /// <summary>Number of buffers the pool owns.</summary>
    public int Capacity { get; }

    /// <summary>Buffers currently in the pool (approximate while other threads rent and return).</summary>
    public int Available => (int)Math.Clamp(Volatile.Read(ref _enqueuePos.Value) - Volatile.Read(ref _dequeuePos.Value), 0, Capacity);

    /// <summary>How many times a rent found the pool empty.</summary>
    public long ExhaustedCount => Volatile.Read(ref _exhausted);

    /// <summary>Takes a buffer, reset for receive. False (and <see cref="ExhaustedCount"/> + 1) when the pool is empty,
    /// or, briefly, while the buffer next in line is still being returned by another thread (that return is never lost).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryRent([NotNullWhen(true)] out PacketBuffer? buffer)
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
                    buffer.ResetForReceive();
                    return true;
                }
                pos = Volatile.Read(ref _dequeuePos.Value);
            }
            else if (diff < 0)
            {
                Interlocked.Increment(ref _exhausted);
                buffer = null;
                return false;
            }
            else
            {
                pos = Volatile.Read(ref _dequeuePos.Value);
            }
        }
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

    /// <summary>Gives a buffer back. Returning a buffer of another pool, or twice, is a caller bug.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Return(PacketBuffer buffer)
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
