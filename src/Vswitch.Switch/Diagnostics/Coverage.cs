using System.Collections.Concurrent;
using System.Globalization;

namespace Vswitch.Switch.Diagnostics;

/// <summary>One event counter (OVS's COVERAGE_DEFINE). Incrementing is lock-free and allocation-free.</summary>
public sealed class CoverageCounter
{
    private long _value;

    internal CoverageCounter(string name, string description)
    {
        Name = name;
        Description = description;
    }

    /// <summary>Counter name (unique process-wide).</summary>
    public string Name { get; }

    /// <summary>What it counts.</summary>
    public string Description { get; }

    /// <summary>Total so far.</summary>
    public long Value => Interlocked.Read(ref _value);

    /// <summary>Adds one.</summary>
    public void Increment() => Interlocked.Increment(ref _value);

    /// <summary>Adds <paramref name="n"/>.</summary>
    public void Add(long n) => Interlocked.Add(ref _value, n);
}

/// <summary>The process-wide set of event counters shown by <c>coverage/show</c>. Thread-safe.</summary>
public static class Coverage
{
    private static readonly ConcurrentDictionary<string, CoverageCounter> s_counters = new(StringComparer.Ordinal);

    /// <summary>Returns the counter named <paramref name="name"/>, creating it on first use.</summary>
    public static CoverageCounter Define(string name, string description) =>
        s_counters.GetOrAdd(name, static (n, d) => new CoverageCounter(n, d), description);

    /// <summary>All counters sorted by name.</summary>
    public static IReadOnlyList<CoverageCounter> All => s_counters.Values.OrderBy(c => c.Name, StringComparer.Ordinal).ToArray();

    /// <summary>Writes every counter as <c>name  total: N  (description)</c>; zero counters are summarised at the end, as OVS does.</summary>
    public static void Show(TextWriter output)
    {
        var all = All;
        output.WriteLine("Event coverage, totals since start:");
        int zero = 0;
        int width = all.Count == 0 ? 0 : all.Max(c => c.Name.Length);
        foreach (var c in all)
        {
            long v = c.Value;
            if (v == 0) { zero++; continue; }
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{c.Name.PadRight(width)}  total: {v}  ({c.Description})"));
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{zero} events never hit"));
    }
}
