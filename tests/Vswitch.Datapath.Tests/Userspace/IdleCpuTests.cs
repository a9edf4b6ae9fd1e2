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

    /// <summary>How often the thread of <paramref name="task"/> (a /proc/self/task directory) gave up the CPU to sleep.</summary>
    private static long VoluntarySwitches(string task)
    {
        foreach (var line in File.ReadLines(Path.Combine(task, "status")))
            if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal))
                return long.Parse(line["voluntary_ctxt_switches:".Length..].Trim());
        return 0;
    }

    [Fact]
    public void IdlePollThreadsSleepInsteadOfSpinning()
    {
        using var t = new ManualDatapath(new UserspaceDatapathOptions { PollThreads = 2 });
        var frame = TestFrames.Udp4();
        t.Put(TestFrames.KeyOf(frame, 1), Masks.InPortOnly(), Actions.Output(2));
        t.P1.Inject(frame);
        // Forward the packet, then go idle: the frame is out and both poll threads are asleep in epoll_wait.
        var forwarded = new List<byte[]>();
        Wait.Until(() => { forwarded.AddRange(t.Drain(t.P2)); return forwarded.Count > 0; });
        Assert.Single(forwarded);
        // Poll threads are named pmdN-<datapath> (the kernel keeps 15 characters); read their CPU ticks from /proc.
        string prefix = ("pmd0-" + t.Dp.Name)[5..Math.Min(15, 5 + t.Dp.Name.Length)];
        Wait.ForThreadsAsleep(comm => comm.StartsWith("pmd", StringComparison.Ordinal) && comm.Contains(prefix, StringComparison.Ordinal),
            2, Wait.InEpoll, "the poll threads to go idle");
        var before = PollThreadTicks(prefix);
        Assert.Equal(2, before.Count);
        // The window is six idle wake-ups of each thread (epoll_wait times out every 100 ms), about 600 ms; a
        // spinning thread never sleeps, so the window then ends at the deadline with its ticks counted.
        var switches = before.Keys.ToDictionary(task => task, VoluntarySwitches);
        var wall = Stopwatch.StartNew();
        Wait.Until(() => switches.All(kv => VoluntarySwitches(kv.Key) >= kv.Value + 6));
        var after = PollThreadTicks(prefix);
        long ticks = after.Sum(kv => kv.Value - before.GetValueOrDefault(kv.Key));
        // Two spinning poll threads would burn up to 2 x 60 ticks (10 ms each); sleeping ones wake every 100 ms for microseconds.
        Assert.True(ticks <= 5, $"idle poll threads used {ticks * 10} ms CPU in {wall.ElapsedMilliseconds} ms");
        // And it still wakes up for traffic.
        t.P1.Inject(frame);
        int got = 0;
        Wait.Until(() => (got = t.Drain(t.P2).Count) > 0);
        Assert.Equal(1, got);
    }
}
