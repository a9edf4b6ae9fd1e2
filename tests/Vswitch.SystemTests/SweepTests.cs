using System.Diagnostics;
using Vswitch.Netdev.Tests.SystemTests;

namespace Vswitch.SystemTests;

/// <summary>
/// The sweep (scripts/sweep-test-leftovers.sh, run by every test process and by scripts/test.sh) removes what a dead
/// run of this suite recorded, and nothing else: a user's <c>vsw…</c> namespace or interface survives it
/// (docs/system-tests.md, "Hygiene").
/// </summary>
public sealed class SweepTests
{
    [RootFact]
    public void ForeignVswObjectsSurviveTheSweepWhileADeadRunsRecordedObjectsGo()
    {
        string rnd = Guid.NewGuid().ToString("N")[..5];
        // Someone else's: named like ours would have been before the marker (vsw*), never recorded.
        string foreignNs = "vswforeign" + rnd, foreignLink = "vswforeign" + rnd, foreignPeer = "vswforeigp" + rnd;
        // A run of this suite whose test process died, built by hand: its record, its owner, what it left.
        string deadId = NewRunId();
        string deadDir = Path.Combine(TestObjects.RecordsRoot, deadId);
        string deadNs = DeadName(deadId, 'n'), deadLink = DeadName(deadId, 'y'), deadPeer = DeadName(deadId, 'i');
        string relabelled = DeadName(deadId, 'x'), relabelledPeer = DeadName(deadId, 'z'); // recorded, but someone else's alias now
        string deadFile = Path.Combine("/tmp", DeadName(deadId, 'c') + ".pcap");
        Process? deadOwner = null, deadDaemon = null;
        using var live = new NetNamespace(); // recorded by this (live) run
        try
        {
            Directory.CreateDirectory(deadDir);
            deadDaemon = Process.Start(new ProcessStartInfo("sleep", "300") { UseShellExecute = false })!;
            File.WriteAllLines(Path.Combine(deadDir, "objects"),
            [
                $"netns {deadNs}", $"link {deadLink}", $"link {deadPeer}", $"link {relabelled}", $"path {deadFile}",
                $"process {deadDaemon.Id} {TestObjects.StartTime(deadDaemon.Id)}",
            ]);
            Ip.Run($"netns add {foreignNs}");
            Ip.Run($"link add {foreignLink} type veth peer name {foreignPeer}");
            Ip.Run($"netns add {deadNs}");
            Ip.Run($"link add {deadLink} type veth peer name {deadPeer}");
            Ip.Run($"link set dev {deadLink} alias {TestObjects.AliasPrefix}{deadId}");
            Ip.Run($"link add {relabelled} type veth peer name {relabelledPeer}");
            Ip.Run($"link set dev {relabelled} alias lab:somebody-elses");
            Ip.Run($"link set dev {relabelledPeer} alias lab:somebody-elses");
            File.WriteAllText(deadFile, "left behind");
            // The owner: a process we started and ended. The record is complete once the owner is written.
            deadOwner = Process.Start(new ProcessStartInfo("sleep", "300") { UseShellExecute = false })!;
            string ownerStart = TestObjects.StartTime(deadOwner.Id)!;
            deadOwner.Kill();
            Assert.True(deadOwner.WaitForExit(10_000));
            File.WriteAllText(Path.Combine(deadDir, "owner"), $"{deadOwner.Id} {ownerStart}\n");

            var (code, output) = TestObjects.Sweep();

            Assert.True(code == 0, output);
            // Foreign, unrecorded: untouched.
            Assert.True(Exists($"/run/netns/{foreignNs}"), $"foreign namespace {foreignNs} was swept:\n{output}");
            Assert.True(Exists($"/sys/class/net/{foreignLink}") && Exists($"/sys/class/net/{foreignPeer}"), $"foreign veth {foreignLink} was swept:\n{output}");
            // Recorded by the dead run but carrying someone else's alias: untouched.
            Assert.True(Exists($"/sys/class/net/{relabelled}"), $"{relabelled} (alias lab:somebody-elses) was swept:\n{output}");
            // Recorded by this live run: untouched.
            Assert.True(Exists($"/run/netns/{live.Name}"), $"this live run's namespace {live.Name} was swept:\n{output}");
            Assert.True(Directory.Exists(TestObjects.RunDirectory), "this live run's record was swept");
            // The dead run's own objects and record: gone, each reported.
            Assert.True(deadDaemon.WaitForExit(10_000), $"the dead run's recorded process was not ended:\n{output}");
            Assert.False(Exists($"/run/netns/{deadNs}"), $"the dead run's namespace survived:\n{output}");
            Assert.False(Exists($"/sys/class/net/{deadLink}"), $"the dead run's veth survived:\n{output}");
            Assert.False(File.Exists(deadFile), $"the dead run's file survived:\n{output}");
            Assert.False(Directory.Exists(deadDir), $"the dead run's record survived:\n{output}");
            Assert.Contains($"deleted namespace {deadNs}", output, StringComparison.Ordinal);
            Assert.Contains($"deleted interface {deadLink}", output, StringComparison.Ordinal);
        }
        finally
        {
            Ip.TryRun($"netns del {foreignNs}");
            Ip.TryRun($"link del {foreignLink}");
            Ip.TryRun($"link del {relabelled}");
            Ip.TryRun($"netns del {deadNs}");
            Ip.TryRun($"link del {deadLink}");
            foreach (var p in new[] { deadDaemon, deadOwner })
            {
                if (p is null) continue;
                try { if (!p.HasExited) p.Kill(); p.WaitForExit(5000); } catch (InvalidOperationException) { }
                p.Dispose();
            }
            File.Delete(deadFile);
            if (Directory.Exists(deadDir)) Directory.Delete(deadDir, recursive: true);
        }
    }

    private static bool Exists(string path) => File.Exists(path) || Directory.Exists(path);

    /// <summary>A name of run <paramref name="runId"/>, as <see cref="TestObjects.NewName"/> makes them for the live run.</summary>
    private static string DeadName(string runId, char kind) => (TestObjects.Prefix + runId + kind + Guid.NewGuid().ToString("N"))[..15];

    /// <summary>A run id no recorded run uses.</summary>
    private static string NewRunId()
    {
        while (true)
        {
            string id = Convert.ToHexString(BitConverter.GetBytes(Random.Shared.Next()))[..4].ToLowerInvariant();
            if (!Directory.Exists(Path.Combine(TestObjects.RecordsRoot, id)) && id != TestObjects.RunId) return id;
        }
    }
}
