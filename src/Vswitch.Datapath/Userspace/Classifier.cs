using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Vswitch.Packets;

namespace Vswitch.Datapath.Userspace;

/// <summary>
/// All flows that share one mask: a hash table keyed by the masked key's hash over the mask's non-zero words
/// (<see cref="KeyHash.Masked"/>). Readers (poll threads) never
/// lock: buckets hold immutable chains of nodes, and the bucket array is replaced (never changed in place) on resize.
/// Insert and remove build new chain prefixes and publish them with a volatile write, so a reader sees either the old
/// or the new chain, both complete (RCU-style; the GC reclaims the old nodes once no reader holds them).
/// Writers must be serialised by the caller (the datapath's control lock).
/// </summary>
internal sealed class Subtable
{
    internal sealed class Node(DpFlow flow, ulong hash, Node? next)
    {
        public readonly DpFlow Flow = flow;
        public readonly ulong Hash = hash;
        public readonly Node? Next = next;
    }

    public readonly FlowKey Mask;
    private readonly byte[] _words; // the mask's non-zero 64-bit words: only these are hashed
    private Node?[] _buckets = new Node?[16];
    private int _count;

    /// <summary>Packets found in this subtable since the last re-ranking (approximate: racy increments). Padded onto its
    /// own cache line so poll threads counting hits do not evict the bucket pointer other threads read.</summary>
    public PaddedCounter Hits;

    public Subtable(in FlowKey mask)
    {
        Mask = mask;
        _words = KeyHash.NonZeroWords(mask);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong HashOf(in FlowKey key) => KeyHash.Masked(key, Mask, _words);

    public int Count => Volatile.Read(ref _count);

    /// <summary>The current bucket array (immutable chains); for dumps.</summary>
    public Node?[] Buckets => Volatile.Read(ref _buckets);

    /// <summary>The flow matching packet key <paramref name="key"/> under this mask, or null. Lock-free.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public DpFlow? Lookup(in FlowKey key)
    {
        ulong hash = HashOf(key);
        var buckets = Volatile.Read(ref _buckets);
        for (var n = Volatile.Read(ref buckets[(int)hash & (buckets.Length - 1)]); n is not null; n = n.Next)
        {
            if (n.Hash == hash && FlowKey.MatchesMasked(key, Mask, n.Flow.Key)) return n.Flow;
        }
        return null;
    }

    /// <summary>The flow whose masked key equals <paramref name="maskedKey"/>, or null.</summary>
    public DpFlow? Find(in FlowKey maskedKey)
    {
        ulong hash = HashOf(maskedKey);
        var buckets = Volatile.Read(ref _buckets);
        for (var n = Volatile.Read(ref buckets[(int)hash & (buckets.Length - 1)]); n is not null; n = n.Next)
            if (n.Hash == hash && n.Flow.Key.Equals(maskedKey)) return n.Flow;
        return null;
    }

    /// <summary>Adds a flow (writer only; the caller checked it is not present).</summary>
    public void Insert(DpFlow flow)
    {
        var buckets = _buckets;
        if (_count + 1 > buckets.Length * 2) buckets = Grow(buckets);
        ulong hash = HashOf(flow.Key);
        int i = (int)hash & (buckets.Length - 1);
        Volatile.Write(ref buckets[i], new Node(flow, hash, buckets[i]));
        Volatile.Write(ref _count, _count + 1);
    }

    private Node?[] Grow(Node?[] old)
    {
        var fresh = new Node?[old.Length * 4];
        foreach (var head in old)
            for (var n = head; n is not null; n = n.Next)
            {
                int i = (int)n.Hash & (fresh.Length - 1);
                fresh[i] = new Node(n.Flow, n.Hash, fresh[i]);
            }
        Volatile.Write(ref _buckets, fresh);
        return fresh;
    }

    /// <summary>Unlinks <paramref name="flow"/> (writer only). False when it is not in this subtable.</summary>
    public bool Remove(DpFlow flow)
    {
        var buckets = _buckets;
        int i = (int)HashOf(flow.Key) & (buckets.Length - 1);
        var head = buckets[i];
        // Find the node, then rebuild the prefix before it so the published chain is always complete.
        int depth = 0;
        var n = head;
        while (n is not null && !ReferenceEquals(n.Flow, flow)) { n = n.Next; depth++; }
        if (n is null) return false;
        Node? rebuilt = n.Next;
        if (depth > 0)
        {
            var prefix = new Node[depth];
            var p = head;
            for (int k = 0; k < depth; k++) { prefix[k] = p!; p = p!.Next; }
            for (int k = depth - 1; k >= 0; k--) rebuilt = new Node(prefix[k].Flow, prefix[k].Hash, rebuilt);
        }
        Volatile.Write(ref buckets[i], rebuilt);
        Volatile.Write(ref _count, _count - 1);
        return true;
    }

    public IEnumerable<DpFlow> Flows()
    {
        foreach (var head in Buckets)
            for (var n = head; n is not null; n = n.Next) yield return n.Flow;
    }
}

/// <summary>
/// The tuple-space classifier: one <see cref="Subtable"/> per distinct mask, searched in order of recent hits. The
/// subtable list is an immutable array replaced on change (copy-on-write, published with a volatile write), so poll
/// threads search without locks. Writers (put, del, re-rank) must hold the datapath's control lock.
/// </summary>
internal sealed class Classifier
{
    private Subtable[] _subtables = [];
    private int _flowCount;

    /// <summary>The published subtable array (do not modify).</summary>
    public Subtable[] Subtables
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Volatile.Read(ref _subtables);
    }

    public int FlowCount => Volatile.Read(ref _flowCount);

    /// <summary>The first flow matching <paramref name="key"/> in rank order, or null. Lock-free; counts a hit on the subtable.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public DpFlow? Lookup(in FlowKey key)
    {
        var subtables = Volatile.Read(ref _subtables);
        for (int i = 0; i < subtables.Length; i++)
        {
            var st = subtables[i];
            var f = st.Lookup(key);
            if (f is not null)
            {
                st.Hits.Value++;
                return f;
            }
        }
        return null;
    }

    /// <summary>Like <see cref="Lookup"/> without counting (control plane).</summary>
    public DpFlow? Peek(in FlowKey key)
    {
        foreach (var st in Subtables)
        {
            var f = st.Lookup(key);
            if (f is not null) return f;
        }
        return null;
    }

    /// <summary>The flow with exactly this masked key and mask, or null.</summary>
    public DpFlow? Find(in FlowKey maskedKey, in FlowKey mask)
    {
        foreach (var st in Subtables)
            if (st.Mask.Equals(mask)) return st.Find(maskedKey);
        return null;
    }

    /// <summary>Adds a flow (writer; caller checked it is absent).</summary>
    public void Insert(DpFlow flow)
    {
        var subtables = _subtables;
        Subtable? target = null;
        foreach (var st in subtables)
            if (st.Mask.Equals(flow.Mask)) { target = st; break; }
        if (target is null)
        {
            target = new Subtable(flow.Mask);
            target.Insert(flow);
            var grown = new Subtable[subtables.Length + 1];
            subtables.CopyTo(grown, 0);
            grown[^1] = target;
            Volatile.Write(ref _subtables, grown);
        }
        else
        {
            target.Insert(flow);
        }
        Volatile.Write(ref _flowCount, _flowCount + 1);
    }

    /// <summary>Removes a flow (writer). Marks it dead first so cached references stop matching. Empty subtables are dropped.</summary>
    public bool Remove(DpFlow flow)
    {
        var subtables = _subtables;
        for (int i = 0; i < subtables.Length; i++)
        {
            var st = subtables[i];
            if (!st.Mask.Equals(flow.Mask)) continue;
            flow.Dead = true;
            if (!st.Remove(flow)) return false;
            if (st.Count == 0)
            {
                var shrunk = new Subtable[subtables.Length - 1];
                for (int j = 0, k = 0; j < subtables.Length; j++) if (j != i) shrunk[k++] = subtables[j];
                Volatile.Write(ref _subtables, shrunk);
            }
            Volatile.Write(ref _flowCount, _flowCount - 1);
            return true;
        }
        return false;
    }

    /// <summary>Removes every flow (writer), marking each dead.</summary>
    public void Clear()
    {
        var subtables = _subtables;
        Volatile.Write(ref _subtables, []);
        Volatile.Write(ref _flowCount, 0);
        foreach (var st in subtables)
            foreach (var f in st.Flows()) f.Dead = true;
    }

    /// <summary>
    /// Re-ranks subtables by hits since the last call (most hit first) and halves the counts, publishing a new array
    /// only when the order changes (writer). OVS's dpcls re-sorts its subtable vector the same way, periodically.
    /// </summary>
    public void Rerank()
    {
        var subtables = _subtables;
        if (subtables.Length < 2) return;
        bool sorted = true;
        for (int i = 1; i < subtables.Length; i++)
            if (Volatile.Read(ref subtables[i].Hits.Value) > Volatile.Read(ref subtables[i - 1].Hits.Value)) { sorted = false; break; }
        if (!sorted)
        {
            var copy = (Subtable[])subtables.Clone();
            var hits = new long[copy.Length];
            for (int i = 0; i < copy.Length; i++) hits[i] = -Volatile.Read(ref copy[i].Hits.Value);
            Array.Sort(hits, copy);
            Volatile.Write(ref _subtables, copy);
        }
        foreach (var st in subtables) Volatile.Write(ref st.Hits.Value, Volatile.Read(ref st.Hits.Value) / 2);
    }
}

/// <summary>A counter alone on a 64-byte cache line (128 bytes with padding on both sides).</summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct PaddedCounter
{
    [FieldOffset(64)] public long Value;
}
