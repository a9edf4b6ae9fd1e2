using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Vswitch.Netdev;

/// <summary>
/// Device options as ordered <c>key=value</c> pairs, parsed from <c>key=value,key=value</c> text
/// (DPDK devargs, OVS <c>options:</c>). Keys are unique. Immutable.
/// </summary>
public sealed class NetdevOptions : IReadOnlyCollection<KeyValuePair<string, string>>
{
    private readonly List<KeyValuePair<string, string>> _pairs;

    /// <summary>No options.</summary>
    public static NetdevOptions Empty { get; } = new([]);

    private NetdevOptions(List<KeyValuePair<string, string>> pairs) => _pairs = pairs;

    /// <summary>Builds options from pairs; a duplicate key throws <see cref="ArgumentException"/>.</summary>
    public static NetdevOptions FromPairs(IEnumerable<KeyValuePair<string, string>> pairs)
    {
        var list = new List<KeyValuePair<string, string>>();
        foreach (var p in pairs)
        {
            if (list.Exists(x => x.Key == p.Key)) throw new ArgumentException($"duplicate option '{p.Key}'");
            list.Add(p);
        }
        return new NetdevOptions(list);
    }

    /// <summary>
    /// Parses <c>key=value[,key=value...]</c>. Empty text gives no options. False, with
    /// <paramref name="error"/> naming the problem, for an empty key, an empty item (<c>a=1,,b=2</c>), a missing
    /// <c>=</c> or a duplicate key. A value may be empty (<c>flag=</c>) and may contain <c>=</c>.
    /// </summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out NetdevOptions? options, [NotNullWhen(false)] out string? error)
    {
        options = null;
        error = null;
        var list = new List<KeyValuePair<string, string>>();
        if (!string.IsNullOrWhiteSpace(text))
        {
            foreach (var raw in text.Split(','))
            {
                var item = raw.Trim();
                if (item.Length == 0)
                {
                    error = $"options '{text}': empty option (a stray ',')";
                    return false;
                }
                int eq = item.IndexOf('=');
                if (eq <= 0)
                {
                    error = eq == 0 ? $"option '{item}': empty key" : $"option '{item}': expected key=value";
                    return false;
                }
                var key = item[..eq].Trim();
                var value = item[(eq + 1)..].Trim();
                if (list.Exists(x => x.Key == key))
                {
                    error = $"option '{key}' given twice";
                    return false;
                }
                list.Add(new(key, value));
            }
        }
        options = new NetdevOptions(list);
        return true;
    }

    /// <summary>Number of options.</summary>
    public int Count => _pairs.Count;

    /// <summary>The value of <paramref name="key"/>, or null.</summary>
    public string? Get(string key)
    {
        foreach (var p in _pairs) if (p.Key == key) return p.Value;
        return null;
    }

    /// <summary>True when <paramref name="key"/> is present.</summary>
    public bool Contains(string key) => Get(key) is not null;

    /// <summary>
    /// Reads an integer option in [<paramref name="min"/>, <paramref name="max"/>], or <paramref name="defaultValue"/>
    /// when absent. False with an error like <c>queues=abc: expected an integer in 1..16</c>.
    /// </summary>
    public bool TryGetInt(string key, int defaultValue, int min, int max, out int value, [NotNullWhen(false)] out string? error)
    {
        error = null;
        value = defaultValue;
        var text = Get(key);
        if (text is null) return true;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value) || value < min || value > max)
        {
            error = $"{key}={text}: expected an integer in {min}..{max}";
            return false;
        }
        return true;
    }

    /// <summary>Reads a boolean option (<c>true/false/yes/no/1/0/on/off</c>); a bare presence with empty value is true.</summary>
    public bool TryGetBool(string key, bool defaultValue, out bool value, [NotNullWhen(false)] out string? error)
    {
        error = null;
        value = defaultValue;
        var text = Get(key);
        if (text is null) return true;
        switch (text.ToLowerInvariant())
        {
            case "" or "true" or "yes" or "1" or "on": value = true; return true;
            case "false" or "no" or "0" or "off": value = false; return true;
            default:
                error = $"{key}={text}: expected true or false";
                return false;
        }
    }

    /// <summary>A new set with <paramref name="key"/> set to <paramref name="value"/> (added or replaced).</summary>
    public NetdevOptions With(string key, string value)
    {
        var list = new List<KeyValuePair<string, string>>(_pairs);
        int i = list.FindIndex(x => x.Key == key);
        if (i >= 0) list[i] = new(key, value); else list.Add(new(key, value));
        return new NetdevOptions(list);
    }

    /// <summary>The canonical text form <c>key=value,...</c>.</summary>
    public override string ToString() => string.Join(",", _pairs.Select(p => $"{p.Key}={p.Value}"));

    /// <inheritdoc/>
    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => _pairs.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
