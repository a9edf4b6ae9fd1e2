using Vswitch.Packets;

namespace Vswitch.Switch.Normal;

/// <summary>One learned address: <see cref="Mac"/> in <see cref="Vlan"/> is behind datapath port <see cref="Port"/>.</summary>
/// <param name="Vlan">Internal VLAN (0 = untagged on a trunk).</param>
/// <param name="Mac">The learned Ethernet source address.</param>
/// <param name="Port">Datapath port number it was last seen on.</param>
/// <param name="LastSeenMs">Monotonic time (ms, <see cref="MonotonicClock"/>) it was last seen.</param>
public readonly record struct MacEntry(int Vlan, MacAddress Mac, uint Port, long LastSeenMs);

/// <summary>What <see cref="MacLearningTable.Learn"/> did.</summary>
public enum MacLearnKind
{
    /// <summary>Known on this port already: only its age was refreshed.</summary>
    Refreshed,
    /// <summary>A new entry.</summary>
    Learned,
    /// <summary>The address moved from <see cref="MacLearnResult.PreviousPort"/> to the new port.</summary>
    Moved,
    /// <summary>Not learnable (a multicast or zero source address): nothing changed.</summary>
    Ignored,
}

/// <summary>Outcome of learning one source address.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="PreviousPort">For <see cref="MacLearnKind.Moved"/>, the port it was on.</param>
/// <param name="Evicted">An entry removed to make room (the table was full), if any.</param>
public readonly record struct MacLearnResult(MacLearnKind Kind, uint PreviousPort, MacEntry? Evicted)
{
    /// <summary>True when the table's forwarding view changed (new, moved or an eviction) and flows may need revalidation.</summary>
    public bool ChangesForwarding => Kind is MacLearnKind.Learned or MacLearnKind.Moved || Evicted is not null;
}

/// <summary>Converts a <see cref="TimeProvider"/>'s monotonic timestamp to milliseconds.</summary>
public static class MonotonicClock
{
    /// <summary>Now, in milliseconds of <paramref name="time"/>'s monotonic clock.</summary>
    public static long NowMs(TimeProvider time)
    {
        long freq = time.TimestampFrequency;
        long ts = time.GetTimestamp();
        return freq >= 1000 ? ts / (freq / 1000) : ts * 1000 / freq;
    }
}

/// <summary>
/// A bridge's MAC learning table, per VLAN: (VLAN, MAC) → port, with aging and a size limit that evicts
/// the least recently seen entry. Thread-safe (one internal lock; it is used by upcall handlers and the
/// revalidator, never per packet in the fast path).
/// </summary>
public sealed class MacLearningTable
{
    /// <summary>Default aging time, as OVS: 300 seconds.</summary>
    public static readonly TimeSpan DefaultAging = TimeSpan.FromSeconds(300);

    /// <summary>Default maximum number of entries (OVS's default is 8192).</summary>
    public const int DefaultMaxEntries = 8192;

    private readonly Dictionary<(int Vlan, MacAddress Mac), LinkedListNode<MacEntry>> _byKey = [];
    private readonly LinkedList<MacEntry> _byAge = new();   // least recently seen first
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private long _agingMs;
    private int _maxEntries;
    private long _version;

    /// <summary>Creates an empty table.</summary>
    /// <param name="time">Clock (injectable for tests); <see cref="TimeProvider.System"/> when null.</param>
    /// <param name="aging">Entries not seen for this long are forgotten (default 300 s).</param>
    /// <param name="maxEntries">Size limit (default 8192); at the limit the least recently seen entry is evicted.</param>
    public MacLearningTable(TimeProvider? time = null, TimeSpan? aging = null, int maxEntries = DefaultMaxEntries)
    {
        _time = time ?? TimeProvider.System;
        SetLimits(aging ?? DefaultAging, maxEntries);
    }

    /// <summary>Aging time.</summary>
    public TimeSpan Aging => TimeSpan.FromMilliseconds(Volatile.Read(ref _agingMs));

    /// <summary>Size limit.</summary>
    public int MaxEntries => Volatile.Read(ref _maxEntries);

    /// <summary>Incremented on every change that affects forwarding (learn, move, expiry, eviction, flush).</summary>
    public long Version => Interlocked.Read(ref _version);

    /// <summary>The clock the table uses.</summary>
    public TimeProvider Time => _time;

    /// <summary>Number of entries (including any not yet expired by <see cref="Expire"/>).</summary>
    public int Count { get { lock (_lock) return _byKey.Count; } }

    /// <summary>Changes aging and size; a smaller size evicts the oldest entries at once (returned).</summary>
    public IReadOnlyList<MacEntry> SetLimits(TimeSpan aging, int maxEntries)
    {
        if (aging <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(aging), "MAC aging time must be positive");
        if (maxEntries < 1) throw new ArgumentOutOfRangeException(nameof(maxEntries), "MAC table size must be at least 1");
        var evicted = new List<MacEntry>();
        lock (_lock)
        {
            _agingMs = (long)aging.TotalMilliseconds;
            _maxEntries = maxEntries;
            while (_byKey.Count > _maxEntries) evicted.Add(RemoveOldest());
            if (evicted.Count > 0) _version++;
        }
        return evicted;
    }

    /// <summary>True when <paramref name="mac"/> may be learned (unicast and not zero), as OVS.</summary>
    public static bool IsLearnable(MacAddress mac) => !mac.IsMulticast && !mac.IsZero;

    /// <summary>
    /// Learns that <paramref name="mac"/> in <paramref name="vlan"/> is behind <paramref name="port"/>.
    /// </summary>
    public MacLearnResult Learn(int vlan, MacAddress mac, uint port)
    {
        if (!IsLearnable(mac)) return new(MacLearnKind.Ignored, 0, null);
        long now = MonotonicClock.NowMs(_time);
        lock (_lock)
        {
            if (_byKey.TryGetValue((vlan, mac), out var node))
            {
                var old = node.Value;
                bool expired = now - old.LastSeenMs >= _agingMs;
                _byAge.Remove(node);
                node.Value = old with { Port = port, LastSeenMs = now };
                _byAge.AddLast(node);
                if (old.Port == port && !expired) return new(MacLearnKind.Refreshed, 0, null);
                _version++;
                return old.Port == port || expired ? new(MacLearnKind.Learned, 0, null) : new(MacLearnKind.Moved, old.Port, null);
            }
            MacEntry? evicted = null;
            if (_byKey.Count >= _maxEntries) evicted = RemoveOldest();
            var n = _byAge.AddLast(new MacEntry(vlan, mac, port, now));
            _byKey[(vlan, mac)] = n;
            _version++;
            return new(MacLearnKind.Learned, 0, evicted);
        }
    }

    /// <summary>The port <paramref name="mac"/> in <paramref name="vlan"/> was learned on, if known and not aged out.</summary>
    public bool TryLookup(int vlan, MacAddress mac, out uint port)
    {
        long now = MonotonicClock.NowMs(_time);
        lock (_lock)
        {
            if (_byKey.TryGetValue((vlan, mac), out var node) && now - node.Value.LastSeenMs < _agingMs)
            {
                port = node.Value.Port;
                return true;
            }
        }
        port = 0;
        return false;
    }

    /// <summary>Removes entries older than the aging time; returns them.</summary>
    public IReadOnlyList<MacEntry> Expire()
    {
        long now = MonotonicClock.NowMs(_time);
        var removed = new List<MacEntry>();
        lock (_lock)
        {
            while (_byAge.First is { } first && now - first.Value.LastSeenMs >= _agingMs)
            {
                removed.Add(first.Value);
                _byAge.RemoveFirst();
                _byKey.Remove((first.Value.Vlan, first.Value.Mac));
            }
            if (removed.Count > 0) _version++;
        }
        return removed;
    }

    /// <summary>Removes every entry learned on <paramref name="port"/> (the port was deleted or reconfigured); returns them.</summary>
    public IReadOnlyList<MacEntry> FlushPort(uint port) => RemoveWhere(e => e.Port == port);

    /// <summary>Removes every entry; returns them.</summary>
    public IReadOnlyList<MacEntry> Flush() => RemoveWhere(static _ => true);

    /// <summary>Removes every entry matching <paramref name="predicate"/>; returns them.</summary>
    public IReadOnlyList<MacEntry> RemoveWhere(Func<MacEntry, bool> predicate)
    {
        var removed = new List<MacEntry>();
        lock (_lock)
        {
            for (var node = _byAge.First; node is not null;)
            {
                var next = node.Next;
                if (predicate(node.Value))
                {
                    removed.Add(node.Value);
                    _byAge.Remove(node);
                    _byKey.Remove((node.Value.Vlan, node.Value.Mac));
                }
                node = next;
            }
            if (removed.Count > 0) _version++;
        }
        return removed;
    }

    /// <summary>A snapshot of the live (not aged out) entries, least recently seen first.</summary>
    public IReadOnlyList<MacEntry> Snapshot()
    {
        long now = MonotonicClock.NowMs(_time);
        lock (_lock)
        {
            var list = new List<MacEntry>(_byKey.Count);
            foreach (var e in _byAge) if (now - e.LastSeenMs < _agingMs) list.Add(e);
            return list;
        }
    }

    /// <summary>Age of an entry in whole seconds, relative to the table's clock.</summary>
    public long AgeSeconds(in MacEntry entry) => (MonotonicClock.NowMs(_time) - entry.LastSeenMs) / 1000;

    private MacEntry RemoveOldest()
    {
        var first = _byAge.First!;
        _byAge.RemoveFirst();
        _byKey.Remove((first.Value.Vlan, first.Value.Mac));
        return first.Value;
    }
}
