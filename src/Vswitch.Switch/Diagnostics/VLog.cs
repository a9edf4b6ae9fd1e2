using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Vswitch.Switch.Diagnostics;

/// <summary>Log levels, as Open vSwitch's vlog (most severe first).</summary>
public enum VLogLevel
{
    /// <summary>Nothing is logged.</summary>
    Off,
    /// <summary>The switch cannot continue.</summary>
    Emer,
    /// <summary>Errors.</summary>
    Err,
    /// <summary>Warnings.</summary>
    Warn,
    /// <summary>Informational messages (the default).</summary>
    Info,
    /// <summary>Debugging.</summary>
    Dbg,
}

/// <summary>
/// A token-bucket rate limit for log messages that a packet can trigger (OVS's VLOG_RATE_LIMIT_INIT):
/// at most <c>burst</c> messages at once and <c>perMinute</c> on average; suppressed messages are counted
/// and reported with the next message let through. Thread-safe.
/// </summary>
public sealed class VLogRateLimit(int perMinute, int burst)
{
    private readonly Lock _lock = new();
    private double _tokens = burst;
    private long _lastMs = Environment.TickCount64;
    private long _suppressed;

    /// <summary>True when a message may be logged now. <paramref name="suppressed"/> is how many were dropped since the last one allowed.</summary>
    public bool Allow(out long suppressed)
    {
        lock (_lock)
        {
            long now = Environment.TickCount64;
            _tokens = Math.Min(burst, _tokens + (now - _lastMs) * perMinute / 60000.0);
            _lastMs = now;
            if (_tokens >= 1)
            {
                _tokens -= 1;
                suppressed = _suppressed;
                _suppressed = 0;
                return true;
            }
            _suppressed++;
            suppressed = 0;
            return false;
        }
    }
}

/// <summary>A named log module (one per component: <c>bridge</c>, <c>daemon</c>, <c>control</c>, ...).</summary>
public sealed class VLogModule
{
    private int _level = (int)VLogLevel.Info;

    internal VLogModule(string name) => Name = name;

    /// <summary>Module name.</summary>
    public string Name { get; }

    /// <summary>The level at and above which messages are written.</summary>
    public VLogLevel Level
    {
        get => (VLogLevel)Volatile.Read(ref _level);
        set => Volatile.Write(ref _level, (int)value);
    }

    /// <summary>
    /// True when a message at <paramref name="level"/> would be written. Callers on paths a packet can trigger test it
    /// before building the message's fields (formatting, boxing): <c>if (log.IsEnabled(VLogLevel.Dbg)) log.Dbg(...)</c>.
    /// </summary>
    public bool IsEnabled(VLogLevel level) => level != VLogLevel.Off && level <= Level;

    /// <summary>
    /// True when a message at <paramref name="level"/> is enabled and <paramref name="limit"/> lets one through now,
    /// which takes the rate limit's token (and first writes the count of messages it suppressed). Then write the
    /// message with <see cref="Log"/>; when false, build nothing:
    /// <c>if (log.IsEnabled(VLogLevel.Warn, limit)) log.Log(VLogLevel.Warn, "...", ("flow", Format(flow)))</c>.
    /// </summary>
    public bool IsEnabled(VLogLevel level, VLogRateLimit limit)
    {
        ArgumentNullException.ThrowIfNull(limit);
        if (!IsEnabled(level) || !limit.Allow(out long suppressed)) return false;
        if (suppressed > 0) VLog.Write(this, level, $"Dropped {suppressed} log messages in last interval due to excessive rate", []);
        return true;
    }

    /// <summary>Writes a message with optional structured fields (<c>key=value</c>).</summary>
    public void Log(VLogLevel level, string message, params ReadOnlySpan<(string Key, object? Value)> fields)
    {
        if (!IsEnabled(level)) return;
        VLog.Write(this, level, message, fields);
    }

    /// <summary>
    /// Writes a message only if <paramref name="limit"/> allows it (for anything a packet can trigger). The fields are
    /// built by the caller before this call; where that costs (formatting, boxing) use
    /// <see cref="IsEnabled(VLogLevel, VLogRateLimit)"/> first.
    /// </summary>
    public void LogLimited(VLogRateLimit limit, VLogLevel level, string message, params ReadOnlySpan<(string Key, object? Value)> fields)
    {
        if (IsEnabled(level, limit)) VLog.Write(this, level, message, fields);
    }

    /// <summary>Error.</summary>
    public void Err(string message, params ReadOnlySpan<(string Key, object? Value)> fields) => Log(VLogLevel.Err, message, fields);
    /// <summary>Warning.</summary>
    public void Warn(string message, params ReadOnlySpan<(string Key, object? Value)> fields) => Log(VLogLevel.Warn, message, fields);
    /// <summary>Information.</summary>
    public void Info(string message, params ReadOnlySpan<(string Key, object? Value)> fields) => Log(VLogLevel.Info, message, fields);
    /// <summary>Debug.</summary>
    public void Dbg(string message, params ReadOnlySpan<(string Key, object? Value)> fields) => Log(VLogLevel.Dbg, message, fields);
}

/// <summary>
/// The process-wide logger: modules with levels (<c>vlog/set</c>, <c>vlog/list</c>), one line per message in
/// OVS's layout plus structured fields: <c>2026-01-01T00:00:00.000Z|00001|bridge|INFO|port added bridge=br0 port=p1</c>.
/// Written to standard error unless <see cref="Output"/> is replaced. Thread-safe.
/// </summary>
public static class VLog
{
    private static readonly ConcurrentDictionary<string, VLogModule> s_modules = new(StringComparer.Ordinal);
    private static readonly Lock s_writeLock = new();
    private static long s_seq;

    /// <summary>Where log lines go (standard error by default).</summary>
    public static TextWriter Output { get; set; } = Console.Error;

    /// <summary>The module named <paramref name="name"/>, created on first use.</summary>
    public static VLogModule Module(string name) => s_modules.GetOrAdd(name, static n => new VLogModule(n));

    /// <summary>All modules sorted by name.</summary>
    public static IReadOnlyList<VLogModule> Modules => s_modules.Values.OrderBy(m => m.Name, StringComparer.Ordinal).ToArray();

    /// <summary>Parses a level name (<c>off emer err warn info dbg</c>, also <c>debug</c>, <c>error</c>, <c>warning</c>).</summary>
    public static bool TryParseLevel(string text, out VLogLevel level)
    {
        switch (text.ToLowerInvariant())
        {
            case "off": level = VLogLevel.Off; return true;
            case "emer": level = VLogLevel.Emer; return true;
            case "err" or "error": level = VLogLevel.Err; return true;
            case "warn" or "warning": level = VLogLevel.Warn; return true;
            case "info": level = VLogLevel.Info; return true;
            case "dbg" or "debug": level = VLogLevel.Dbg; return true;
            default: level = default; return false;
        }
    }

    /// <summary>The level's name as printed.</summary>
    public static string LevelName(VLogLevel level) => level switch
    {
        VLogLevel.Off => "OFF", VLogLevel.Emer => "EMER", VLogLevel.Err => "ERR",
        VLogLevel.Warn => "WARN", VLogLevel.Info => "INFO", _ => "DBG",
    };

    /// <summary>
    /// Applies a <c>vlog/set</c> specification: <c>LEVEL</c>, <c>MODULE:LEVEL</c>, <c>ANY:LEVEL</c> or
    /// <c>MODULE:console:LEVEL</c> (the destination part must be <c>console</c> or <c>ANY</c>). False with an
    /// error naming the bad part; nothing changes then.
    /// </summary>
    public static bool TrySet(string spec, out string? error)
    {
        if (!TryParseSpec(spec, out var module, out var level, out error)) return false;
        if (module is null) foreach (var m in s_modules.Values) m.Level = level;
        else s_modules[module].Level = level;
        return true;
    }

    /// <summary>Checks a <c>vlog/set</c> specification exactly as <see cref="TrySet"/> would, without applying it.</summary>
    public static bool TryValidate(string spec, out string? error) => TryParseSpec(spec, out _, out _, out error);

    private static bool TryParseSpec(string spec, out string? module, out VLogLevel level, out string? error)
    {
        error = null;
        module = null;
        level = default;
        bool haveLevel = false;
        foreach (var part in spec.Split(':'))
        {
            if (part.Length == 0) { error = $"vlog/set: empty element in '{spec}'"; return false; }
            if (TryParseLevel(part, out var l))
            {
                if (haveLevel) { error = $"vlog/set: two levels in '{spec}'"; return false; }
                level = l;
                haveLevel = true;
            }
            else if (part is "console" or "ANY" or "any") { /* destination or "all modules" */ }
            else if (s_modules.ContainsKey(part))
            {
                if (module is not null) { error = $"vlog/set: two modules in '{spec}'"; return false; }
                module = part;
            }
            else
            {
                error = $"vlog/set: unknown module, destination or level '{part}' (modules: {string.Join(", ", Modules.Select(m => m.Name))}; levels: off emer err warn info dbg)";
                return false;
            }
        }
        if (!haveLevel) { error = $"vlog/set: no level in '{spec}'"; return false; }
        return true;
    }

    /// <summary>Writes the <c>vlog/list</c> table.</summary>
    public static void List(TextWriter output)
    {
        output.WriteLine("                 console");
        output.WriteLine("                 -------");
        foreach (var m in Modules) output.WriteLine($"{m.Name,-16} {LevelName(m.Level).ToLowerInvariant()}");
    }

    internal static void Write(VLogModule module, VLogLevel level, string message, ReadOnlySpan<(string Key, object? Value)> fields)
    {
        var sb = new StringBuilder(128);
        var inv = CultureInfo.InvariantCulture;
        sb.Append(DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", inv));
        sb.Append(inv, $"|{Interlocked.Increment(ref s_seq):D5}|{module.Name}|{LevelName(level)}|{message}");
        foreach (var (k, v) in fields)
        {
            var text = Convert.ToString(v, inv) ?? "";
            sb.Append(' ').Append(k).Append('=');
            if (text.Length == 0 || text.Contains(' ') || text.Contains('"')) sb.Append('"').Append(text.Replace("\"", "\\\"")).Append('"');
            else sb.Append(text);
        }
        lock (s_writeLock)
        {
            try { Output.WriteLine(sb.ToString()); } catch (ObjectDisposedException) { } catch (IOException) { }
        }
    }
}
