using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using Vswitch.Packets;

namespace Vswitch.Datapath.Userspace;

/// <summary>
/// Fast flow-key hashes for the exact-match cache and the classifier subtables. <see cref="FlowKey.Hash"/> is a
/// 16-step serial multiply chain (~35 ns measured); these use the CPU's CRC32C instruction in four independent
/// chains (exact key) or only over the words a subtable's mask covers (masked key), then one multiply to spread the
/// bits. Justified by <c>DatapathBenchmarks.EmcHit</c> and <c>DatapathBenchmarks.ClassifierHit</c>
/// (see docs/datapath-performance-section.md). Collisions only cost a miss: every hit is confirmed by a key compare.
/// </summary>
internal static class KeyHash
{
    private const ulong Spread = 0x9E37_79B9_7F4A_7C15UL;

    /// <summary>Hash of the whole 128-byte key.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Exact(in FlowKey key)
    {
        if (!Sse42.X64.IsSupported) return FlowKey.Hash(key);
        ref ulong w = ref Unsafe.As<FlowKey, ulong>(ref Unsafe.AsRef(in key));
        ulong a = 1, b = 2, c = 3, d = 4;
        for (int i = 0; i < 16; i += 4)
        {
            a = Sse42.X64.Crc32(a, Unsafe.Add(ref w, i));
            b = Sse42.X64.Crc32(b, Unsafe.Add(ref w, i + 1));
            c = Sse42.X64.Crc32(c, Unsafe.Add(ref w, i + 2));
            d = Sse42.X64.Crc32(d, Unsafe.Add(ref w, i + 3));
        }
        ulong h = ((a << 32) | b) ^ (((c << 32) | d) * Spread);
        return (h ^ (h >> 29)) * Spread;
    }

    /// <summary>
    /// Hash of <paramref name="key"/> AND <paramref name="mask"/> over the 64-bit words listed in <paramref name="words"/>
    /// (the words where the mask is non-zero). Equal for a key and its masked copy.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Masked(in FlowKey key, in FlowKey mask, byte[] words)
    {
        ref ulong k = ref Unsafe.As<FlowKey, ulong>(ref Unsafe.AsRef(in key));
        ref ulong m = ref Unsafe.As<FlowKey, ulong>(ref Unsafe.AsRef(in mask));
        ulong h = (ulong)words.Length;
        if (Sse42.X64.IsSupported)
        {
            for (int i = 0; i < words.Length; i++)
            {
                int j = words[i];
                h = Sse42.X64.Crc32(h, Unsafe.Add(ref k, j) & Unsafe.Add(ref m, j));
            }
        }
        else
        {
            for (int i = 0; i < words.Length; i++)
            {
                int j = words[i];
                h = (h ^ (Unsafe.Add(ref k, j) & Unsafe.Add(ref m, j))) * 0xBF58_476D_1CE4_E5B9UL;
                h ^= h >> 31;
            }
        }
        h *= Spread;
        return h ^ (h >> 32);
    }

    /// <summary>Indices of the non-zero 64-bit words of <paramref name="mask"/>.</summary>
    public static byte[] NonZeroWords(in FlowKey mask)
    {
        var list = new List<byte>();
        var w = FlowKey.AsWords(ref Unsafe.AsRef(in mask));
        for (int i = 0; i < w.Length; i++) if (w[i] != 0) list.Add((byte)i);
        return list.ToArray();
    }
}
