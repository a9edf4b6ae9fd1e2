using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Vswitch.Packets;

/// <summary>
/// Up to <see cref="Capacity"/> packets moved together through the fast path. A value type passed
/// by <c>ref</c>: it lives on the poll thread's stack or in a field and never allocates.
/// The batch owns the packets it holds until they are handed on (transmit) or released.
/// </summary>
public struct PacketBatch
{
    /// <summary>Maximum packets per batch (a burst).</summary>
    public const int Capacity = 32;

    private Items _items;
    private int _count;

    [InlineArray(Capacity)]
    private struct Items
    {
        private PacketBuffer? _element;
    }

    /// <summary>Packets in the batch.</summary>
    public readonly int Count => _count;

    /// <summary>True when no more packets fit.</summary>
    public readonly bool IsFull => _count == Capacity;

    /// <summary>Free slots.</summary>
    public readonly int FreeCount => Capacity - _count;

    /// <summary>The packet at <paramref name="index"/> (0 ≤ index &lt; Count).</summary>
    public PacketBuffer this[int index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            if ((uint)index >= (uint)_count) ThrowIndex();
            return _items[index]!;
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        set
        {
            if ((uint)index >= (uint)_count) ThrowIndex();
            _items[index] = value;
        }
    }

    /// <summary>Appends a packet; false (packet not taken) when full.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryAdd(PacketBuffer packet)
    {
        if (_count == Capacity) return false;
        _items[_count++] = packet;
        return true;
    }

    /// <summary>Forgets all packets without releasing them (ownership has moved elsewhere).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Clear()
    {
        for (int i = 0; i < _count; i++) _items[i] = null;
        _count = 0;
    }

    /// <summary>Releases every packet to its pool and empties the batch.</summary>
    public void ReleaseAll()
    {
        for (int i = 0; i < _count; i++)
        {
            _items[i]!.Release();
            _items[i] = null;
        }
        _count = 0;
    }

    /// <summary>Removes the packet at <paramref name="index"/> by moving the last packet into its slot (order not kept).</summary>
    public PacketBuffer RemoveAtSwapBack(int index)
    {
        if ((uint)index >= (uint)_count) ThrowIndex();
        var p = _items[index]!;
        _items[index] = _items[_count - 1];
        _items[--_count] = null;
        return p;
    }

    /// <summary>The occupied slots as a span (valid until the batch changes).</summary>
    [UnscopedRef]
    public Span<PacketBuffer?> AsSpan() => ((Span<PacketBuffer?>)_items)[.._count];

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowIndex() => throw new ArgumentOutOfRangeException("index");
}
