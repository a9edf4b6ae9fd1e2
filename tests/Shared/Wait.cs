using System.Diagnostics;

namespace Vswitch.Tests.Shared;

/// <summary>
/// The one way tests wait (linked into every test project, docs/system-tests.md): for an observable condition — a
/// counter, a state, a log line, a frame, a thread asleep in the kernel — polled with a short back-off until a
/// generous deadline. A passing test never waits for the deadline, so it costs nothing to make it long. Tests never
/// sleep and then assert; a negative check ("nothing arrives") sends a positive control after the negative traffic
/// and waits for that instead of for time.
/// </summary>
internal static class Wait
{
    /// <summary>The default deadline: long enough for a loaded 2-core CI machine, only reached when a test fails.</summary>
    public static readonly TimeSpan Generous = TimeSpan.FromSeconds(10);

    /// <summary>Polls <paramref name="condition"/> until it holds (true) or <paramref name="timeout"/> passes (false).</summary>
    public static bool Until(Func<bool> condition, TimeSpan? timeout = null)
    {
        long deadline = Stopwatch.GetTimestamp() + (long)((timeout ?? Generous).TotalSeconds * Stopwatch.Frequency);
        for (int round = 0; ; round++)
        {
            if (condition()) return true;
            if (Stopwatch.GetTimestamp() >= deadline) return condition();
            Pause(round);
        }
    }

    /// <summary>As <see cref="Until"/>, failing the test with "timed out waiting for <paramref name="what"/>".</summary>
    public static void For(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        For(condition, () => what, timeout);

    /// <summary>As <see cref="Until"/>, failing the test with the text <paramref name="describe"/> returns (computed only on failure).</summary>
    public static void For(Func<bool> condition, Func<string> describe, TimeSpan? timeout = null)
    {
        if (!Until(condition, timeout))
            Assert.Fail($"timed out after {(timeout ?? Generous).TotalSeconds:0.#} s waiting for {describe()}");
    }

    /// <summary>Back-off between polls: yield first (a fast condition is seen within microseconds), then 1 ms, then 5 ms.</summary>
    private static void Pause(int round)
    {
        if (round < 20) Thread.Yield();
        else Thread.Sleep(round < 200 ? 1 : 5);
    }

    // ---------------- threads asleep in the kernel ----------------

    /// <summary>Kernel wait functions (<c>/proc/…/wchan</c>) of a thread in <c>epoll_wait</c>.</summary>
    public static readonly string[] InEpoll = ["epoll", "ep_poll"];

    /// <summary>Kernel wait functions of a thread blocked on a futex (Monitor.Wait, SemaphoreSlim, a contended lock).</summary>
    public static readonly string[] InFutex = ["futex"];

    /// <summary>The kernel thread ids (<c>/proc/self/task</c>) of this process's threads whose name (comm) matches.</summary>
    public static List<int> Threads(Func<string, bool> nameMatches)
    {
        var result = new List<int>();
        foreach (var dir in Directory.GetDirectories("/proc/self/task"))
        {
            string comm;
            try { comm = File.ReadAllText(Path.Combine(dir, "comm")).Trim(); }
            catch (IOException) { continue; } // the thread exited meanwhile
            if (nameMatches(comm)) result.Add(int.Parse(Path.GetFileName(dir), System.Globalization.CultureInfo.InvariantCulture));
        }
        return result;
    }

    /// <summary>
    /// True when thread <paramref name="tid"/> of this process is asleep (state S) in one of the kernel wait functions
    /// <paramref name="wchans"/> (substrings of <c>/proc/self/task/TID/wchan</c>). Where the kernel hides wchan
    /// (it reads "0"), a sleeping thread counts.
    /// </summary>
    public static bool IsAsleepIn(int tid, IReadOnlyList<string> wchans)
    {
        string stat, wchan;
        try
        {
            stat = File.ReadAllText($"/proc/self/task/{tid}/stat");
            wchan = File.ReadAllText($"/proc/self/task/{tid}/wchan").Trim();
        }
        catch (IOException) { return false; }
        // "TID (comm) S ...": the state follows the ')' that closes the name.
        int close = stat.LastIndexOf(')');
        if (close < 0 || close + 2 >= stat.Length || stat[close + 2] != 'S') return false;
        if (wchan is "" or "0") return true;
        foreach (var w in wchans)
            if (wchan.Contains(w, StringComparison.Ordinal)) return true;
        return false;
    }

    /// <summary>
    /// Waits until <paramref name="count"/> threads whose name matches exist and all of them are asleep in one of
    /// <paramref name="wchans"/> (e.g. <see cref="InEpoll"/>): "the poll threads went to sleep", observed, not assumed.
    /// </summary>
    public static void ForThreadsAsleep(Func<string, bool> nameMatches, int count, IReadOnlyList<string> wchans, string what)
    {
        For(() =>
        {
            var tids = Threads(nameMatches);
            if (tids.Count != count) return false;
            foreach (int tid in tids)
                if (!IsAsleepIn(tid, wchans)) return false;
            return true;
        }, what);
    }

    /// <summary>
    /// Waits until the thread named <paramref name="name"/> (set with <see cref="Thread.Name"/>, at most 15 characters
    /// reach the kernel) is asleep in one of <paramref name="wchans"/>.
    /// </summary>
    public static void ForThreadAsleep(string name, IReadOnlyList<string> wchans, string what) =>
        ForThreadsAsleep(comm => comm == name, 1, wchans, what);

    /// <summary>A thread name unique in this process and short enough for the kernel's 15-character comm.</summary>
    public static string UniqueThreadName(string prefix) => (prefix + "-" + Guid.NewGuid().ToString("N"))[..15];
}
