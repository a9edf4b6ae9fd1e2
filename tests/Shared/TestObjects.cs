using System.Diagnostics;
using System.Globalization;

namespace Vswitch.Tests.Shared;

/// <summary>
/// Everything this test suite creates on the host — network namespaces, interfaces, files, long-lived processes — is
/// named <c>vsw_&lt;run&gt;&lt;kind&gt;&lt;random&gt;</c> and recorded, before it is created, in this run's record
/// (<c>/run/vswitch-tests/&lt;run&gt;/objects</c>, next to <c>owner</c>: the test process's PID and start time).
/// Interfaces in this namespace also carry the alias <c>vswitch-test:&lt;run&gt;</c>. The sweep
/// (<c>scripts/sweep-test-leftovers.sh</c>, run once per test process and by <c>scripts/test.sh</c>) removes only
/// recorded objects of runs whose test process is dead, and never an interface whose alias says it is someone
/// else's: a user's lab or a running switch named <c>vsw…</c> survives a test run. Linked into every test project;
/// the format is documented in docs/system-tests.md ("Hygiene").
/// </summary>
internal static class TestObjects
{
    /// <summary>Every recorded name starts with this (then the run id).</summary>
    public const string Prefix = "vsw_";

    /// <summary>The interface alias marking a link as this suite's: this, then the run id.</summary>
    public const string AliasPrefix = "vswitch-test:";

    private static readonly Lazy<RunRecord> s_run = new(RunRecord.Create, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly Lock s_write = new();

    /// <summary>This test process's run id (4 hex digits, unique among the runs recorded on this host).</summary>
    public static string RunId => s_run.Value.Id;

    /// <summary>The alias this run's interfaces carry.</summary>
    public static string Alias => AliasPrefix + RunId;

    /// <summary>Where runs are recorded: <c>$VSWITCH_TEST_RECORDS</c>, else <c>/run/vswitch-tests</c> as root, else a per-user directory in /tmp.</summary>
    public static string RecordsRoot { get; } = Environment.GetEnvironmentVariable("VSWITCH_TEST_RECORDS") is { Length: > 0 } dir
        ? dir
        : EffectiveUid() == 0 ? "/run/vswitch-tests" : $"/tmp/vswitch-tests-{EffectiveUid()}";

    /// <summary>This run's record directory.</summary>
    public static string RunDirectory => s_run.Value.Directory;

    /// <summary>A fresh name <c>vsw_&lt;run&gt;&lt;kind&gt;&lt;random&gt;</c> of 15 characters (an interface name's limit), not recorded.</summary>
    public static string NewName(char kind) => (Prefix + RunId + kind + Guid.NewGuid().ToString("N"))[..15];

    /// <summary>A fresh network namespace name, recorded (create it after this returns).</summary>
    public static string NewNamespace(char kind = 'n')
    {
        string name = NewName(kind);
        Record("netns", name);
        return name;
    }

    /// <summary>A fresh interface name, recorded (create it after this returns, then <see cref="MarkLink"/> it).</summary>
    public static string NewLink(char kind)
    {
        string name = NewName(kind);
        Record("link", name);
        return name;
    }

    /// <summary>A fresh path <c>/tmp/vsw_…<paramref name="suffix"/></c> (file or directory), recorded.</summary>
    public static string NewTempPath(char kind, string suffix = "")
    {
        string path = Path.Combine("/tmp", NewName(kind) + suffix);
        Record("path", path);
        return path;
    }

    /// <summary>
    /// Records a process this suite started that could outlive the test process (a <c>vswitch run</c> daemon, a server
    /// without its own time limit): the sweep kills it by PID once the test process is dead, if its start time still matches.
    /// </summary>
    public static void RecordProcess(Process process)
    {
        if (StartTime(process.Id) is { } start) Record("process", $"{process.Id} {start}");
    }

    /// <summary>Sets this run's alias on interface <paramref name="name"/> (in namespace <paramref name="ns"/>, or this one); failures are ignored.</summary>
    public static void MarkLink(string name, string? ns = null)
    {
        string args = (ns is null ? "" : $"-n {ns} ") + $"link set dev {name} alias {Alias}";
        try
        {
            using var p = Process.Start(new ProcessStartInfo("ip", args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;
            p.StandardOutput.ReadToEnd();
            p.StandardError.ReadToEnd();
            p.WaitForExit(10_000);
        }
        catch (System.ComponentModel.Win32Exception) { } // no iproute2: nothing was created either
    }

    /// <summary>
    /// Runs the sweep now (<c>scripts/sweep-test-leftovers.sh</c> on <see cref="RecordsRoot"/>); returns its exit code and
    /// output (one line per removed object). The records of live runs, this one included, are left alone.
    /// </summary>
    public static (int Code, string Output) Sweep()
    {
        var script = FindSweepScript();
        if (script is null) return (-1, "scripts/sweep-test-leftovers.sh not found above " + AppContext.BaseDirectory);
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(script);
        psi.Environment["VSWITCH_TEST_RECORDS"] = RecordsRoot;
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(entireProcessTree: true);
            return (-1, "the sweep did not finish in 60 s");
        }
        return (p.ExitCode, o.Result + e.Result);
    }

    /// <summary>Appends "<paramref name="kind"/> <paramref name="value"/>" to this run's record (flushed before returning).</summary>
    public static void Record(string kind, string value)
    {
        string file = Path.Combine(RunDirectory, "objects");
        lock (s_write) File.AppendAllText(file, $"{kind} {value}\n");
    }

    /// <summary>The start time of process <paramref name="pid"/> (field 22 of /proc/PID/stat, clock ticks since boot), or null if it is gone.</summary>
    public static string? StartTime(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields[19]; // fields[0] is field 3 (state)
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    private static string? FindSweepScript()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "scripts", "sweep-test-leftovers.sh");
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    private static int EffectiveUid()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("Uid:", StringComparison.Ordinal))
                    return int.Parse(line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2], CultureInfo.InvariantCulture);
        }
        catch (IOException) { }
        return -1;
    }

    /// <summary>This process's run: created on first use, after sweeping what dead runs left.</summary>
    private sealed record RunRecord(string Id, string Directory)
    {
        public static RunRecord Create()
        {
            // Leftovers of crashed runs go first, while nothing of ours exists yet.
            Sweep();
            System.IO.Directory.CreateDirectory(RecordsRoot);
            string owner = $"{Environment.ProcessId} {StartTime(Environment.ProcessId)}\n";
            for (int attempt = 0; ; attempt++)
            {
                string id = Convert.ToHexString(BitConverter.GetBytes(Random.Shared.Next()))[..4].ToLowerInvariant();
                string final = Path.Combine(RecordsRoot, id);
                if (System.IO.Directory.Exists(final)) continue;
                // Built under a dot-name and renamed into place, so a run directory always has its owner.
                string building = Path.Combine(RecordsRoot, $".{id}.{Environment.ProcessId}.new");
                System.IO.Directory.CreateDirectory(building);
                File.WriteAllText(Path.Combine(building, "owner"), owner);
                try
                {
                    System.IO.Directory.Move(building, final);
                    return new RunRecord(id, final);
                }
                catch (IOException) when (attempt < 100)
                {
                    System.IO.Directory.Delete(building, recursive: true); // another run took the id meanwhile
                }
            }
        }
    }
}
