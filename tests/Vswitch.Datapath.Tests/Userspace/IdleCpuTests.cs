using System.Diagnostics;
using Vswitch.Datapath.Userspace;

namespace Vswitch.Datapath.Tests.Userspace;

[CollectionDefinition(nameof(IdleCpuCollection), DisableParallelization = true)]
public class IdleCpuCollection;

/// <summary>Runs alone (no other test threads), so the process CPU time is the idle datapath's.</summary>
[Collection(nameof(IdleCpuCollection))]
public class IdleCpuTests
{
    private static Dictionary<string, long> PollThreadTicks(string datapathNamePrefix)
    {
        var result = new Dictionary<string, long>();
        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            string comm;
            string stat;
            try
            {
                comm = File.ReadAllText(Path.Combine(task, "comm")).Trim();
                stat = File.ReadAllText(Path.Combine(task, "stat"));
            }
            catch (IOException) { continue; }
            if (!comm.StartsWith("pmd", StringComparison.Ordinal) || !comm.Contains(datapathNamePrefix, StringComparison.Ordinal)) continue;
            // Fields after the ')' of the comm: state is field 3; utime and stime are fields 14 and 15.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            result[task] = long.Parse(fields[11]) + long.Parse(fields[12]);
        }
        return result;
    }

    [Fact]
    public void IdlePollThreadsSleepInsteadOfSpinning()
    {
        using var t = new ManualDatapath(new UserspaceDatapathOptions { PollThreads = 2 });
        var frame = TestFrames.Udp4();
        t.Put(TestFrames.KeyOf(frame, 1), Masks.InPortOnly(), Actions.Output(2));
        t.P1.Inject(frame);
        Thread.Sleep(300); // forward the packet, then go idle
        Assert.Single(t.Drain(t.P2));
        // Poll threads are named pmdN-<datapath> (the kernel keeps 15 characters); read their CPU ticks from /proc.
        string prefix = ("pmd0-" + t.Dp.Name)[5..Math.Min(15, 5 + t.Dp.Name.Length)];
        var before = PollThreadTicks(prefix);
        Assert.Equal(2, before.Count);
        var wall = Stopwatch.StartNew();
        Thread.Sleep(600);
        var after = PollThreadTicks(prefix);
        long ticks = after.Sum(kv => kv.Value - before.GetValueOrDefault(kv.Key));
        // Two spinning poll threads would burn up to 2 x 60 ticks (10 ms each); sleeping ones wake every 100 ms for microseconds.
        Assert.True(ticks <= 5, $"idle poll threads used {ticks * 10} ms CPU in {wall.ElapsedMilliseconds} ms");
        // And it still wakes up for traffic.
        t.P1.Inject(frame);
        long deadline = Environment.TickCount64 + 5000;
        int got = 0;
        while (got == 0 && Environment.TickCount64 < deadline) { got = t.Drain(t.P2).Count; Thread.Sleep(1); }
        Assert.Equal(1, got);
    }
}
