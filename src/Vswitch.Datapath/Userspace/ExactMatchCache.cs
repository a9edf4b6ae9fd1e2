using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Vswitch.Packets;

namespace Vswitch.Datapath.Userspace;

/// <summary>
/// A poll thread's exact-match cache (OVS's EMC): a direct-mapped table from a full packet key to the flow it
/// matched. Owned by one thread, so no locks. An entry is valid only while its flow is not
/// <see cref="DpFlow.Dead"/>, which is how deletes invalidate it; modifies keep the flow object, so cached entries
/// see new actions at once.
/// </summary>
internal sealed class ExactMatchCache
{
    private struct Entry
    {
        public FlowKey Key;
        public ulong Hash;
        public DpFlow? Flow;
    }

    private readonly Entry[] _entries;
    private readonly int _mask;

    public ExactMatchCache(int entries)
    {
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(entries, 16, 1 << 20));
        _entries = new Entry[size];
        _mask = size - 1;
    }

    public int Size => _entries.Length;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public DpFlow? Lookup(in FlowKey key, ulong hash)
    {
        ref Entry e = ref _entries[(int)hash & _mask];
        var flow = e.Flow;
        if (e.Hash == hash && flow is not null && !flow.Dead && KeysEqual(e.Key, key)) return flow;
        return null;
    }

    /// <summary>128-byte compare by reference (<see cref="FlowKey.Equals(FlowKey)"/> takes its argument by value).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool KeysEqual(in FlowKey a, in FlowKey b)
    {
        ref byte x = ref Unsafe.As<FlowKey, byte>(ref Unsafe.AsRef(in a));
        ref byte y = ref Unsafe.As<FlowKey, byte>(ref Unsafe.AsRef(in b));
        var d = (Vector256.LoadUnsafe(ref x, 0) ^ Vector256.LoadUnsafe(ref y, 0))
              | (Vector256.LoadUnsafe(ref x, 32) ^ Vector256.LoadUnsafe(ref y, 32))
              | (Vector256.LoadUnsafe(ref x, 64) ^ Vector256.LoadUnsafe(ref y, 64))
              | (Vector256.LoadUnsafe(ref x, 96) ^ Vector256.LoadUnsafe(ref y, 96));
        return d == Vector256<byte>.Zero;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Insert(in FlowKey key, ulong hash, DpFlow flow)
    {
        ref Entry e = ref _entries[(int)hash & _mask];
        e.Key = key;
        e.Hash = hash;
        e.Flow = flow;
    }

    /// <summary>Drops every entry (e.g. after a flush, so dead flows can be collected).</summary>
    public void Clear() => Array.Clear(_entries);
}
