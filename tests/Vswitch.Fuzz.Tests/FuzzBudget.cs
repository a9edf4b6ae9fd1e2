using System.Globalization;
using CsCheck;
using Xunit.Abstractions;

namespace Vswitch.Fuzz.Tests;

/// <summary>
/// How long the fuzz properties run. CI runs the defaults (a few hundred thousand frames and some ten thousand strings per
/// property, well under a minute in total); a longer campaign sets the environment variables (docs/fuzzing.md):
/// <c>VSWITCH_FUZZ_FRAMES</c> (iterations of each frame property), <c>VSWITCH_FUZZ_STRINGS</c> (iterations of each
/// string/byte property) and <c>VSWITCH_FUZZ_SEED</c> (a CsCheck seed printed by a failure, to replay it).
/// </summary>
internal static class FuzzBudget
{
    public static long Frames { get; } = Read("VSWITCH_FUZZ_FRAMES", 200_000);
    public static long Strings { get; } = Read("VSWITCH_FUZZ_STRINGS", 20_000);
    public static string? Seed { get; } = Environment.GetEnvironmentVariable("VSWITCH_FUZZ_SEED") is { Length: > 0 } s ? s : null;

    private static long Read(string name, long fallback) =>
        long.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : fallback;

    /// <summary>Runs <paramref name="assert"/> on <paramref name="iterations"/> samples of <paramref name="gen"/>, reporting the total.</summary>
    public static void Run<T>(Gen<T> gen, Action<T> assert, long iterations, ITestOutputHelper output, Func<T, string>? print = null, int threads = -1)
    {
        var start = DateTime.UtcNow;
        gen.Sample(assert, writeLine: output.WriteLine, seed: Seed, iter: iterations, threads: threads, print: print);
        output.WriteLine($"{iterations} iterations in {(DateTime.UtcNow - start).TotalSeconds:0.0} s");
    }
}

/// <summary>Deterministic mutations (a seed picks them), so a failing sample can be replayed from its seed.</summary>
internal static class Mutate
{
    public static byte[] Bytes(byte[] input, int seed, int maxLength = 1 << 16)
    {
        var rng = new Random(seed);
        var data = new List<byte>(input);
        int rounds = 1 + rng.Next(8);
        for (int r = 0; r < rounds; r++)
        {
            int pos = data.Count == 0 ? 0 : rng.Next(data.Count);
            switch (rng.Next(9))
            {
                case 0 when data.Count > 0: data[pos] ^= (byte)(1 << rng.Next(8)); break;
                case 1 when data.Count > 0: data[pos] = (byte)rng.Next(256); break;
                case 2: data.Insert(pos, (byte)rng.Next(256)); break;
                case 3 when data.Count > 0: data.RemoveAt(pos); break;
                case 4 when data.Count > 0: data.RemoveRange(pos, data.Count - pos); break;                 // truncate
                case 5 when data.Count > 0:                                                                 // duplicate a slice
                {
                    int len = Math.Min(1 + rng.Next(64), data.Count - pos);
                    data.InsertRange(pos, data.GetRange(pos, len));
                    break;
                }
                case 6: data.InsertRange(pos, Interesting[rng.Next(Interesting.Length)]); break;
                case 7 when data.Count > 1:                                                                 // swap two bytes
                {
                    int other = rng.Next(data.Count);
                    (data[pos], data[other]) = (data[other], data[pos]);
                    break;
                }
                default: if (data.Count > 0) data[pos] = data[pos] is 0 ? (byte)0xFF : (byte)0; break;
            }
        }
        if (data.Count > maxLength) data.RemoveRange(maxLength, data.Count - maxLength);
        return data.ToArray();
    }

    private static readonly byte[][] Interesting =
    [
        [0xFF, 0xFF], [0x00, 0x00], [0x7F, 0xFF, 0xFF, 0xFF], [0x80, 0x00, 0x00, 0x00], [0x81, 0x00], [0x88, 0xA8], [0x86, 0xDD],
        [0x08, 0x00], [0x08, 0x06], "\""u8.ToArray(), "\\u0000"u8.ToArray(), [0xC3, 0x28], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
        "*a"u8.ToArray(), "&a "u8.ToArray(), "[["u8.ToArray(), "{"u8.ToArray(), ": "u8.ToArray(), "\n- "u8.ToArray(), "\n  "u8.ToArray(),
        "("u8.ToArray(), ")"u8.ToArray(), ","u8.ToArray(), "/0x"u8.ToArray(), "=0xffffffffffffffff"u8.ToArray(), "encap("u8.ToArray(),
        "clone("u8.ToArray(), "99999999999999999999"u8.ToArray(), "-1"u8.ToArray(), "1e999"u8.ToArray(),
    ];

    public static string Text(string input, int seed) =>
        System.Text.Encoding.UTF8.GetString(Bytes(System.Text.Encoding.UTF8.GetBytes(input), seed));
}
