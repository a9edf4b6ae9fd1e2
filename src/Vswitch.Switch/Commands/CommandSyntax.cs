using System.Globalization;

namespace Vswitch.Switch.Commands;

/// <summary>
/// What a command accepts, declared once when it is registered and enforced by the one argument parser every command
/// goes through (ctl, appctl and dpctl alike): flags (<c>--may-exist</c>; <c>-m</c> = <c>--more</c>), options with a
/// value (<c>--format json</c> or <c>--format=json</c>), keyed arguments (<c>filter=FLOW</c>) and positional arguments.
/// Immutable once registered; the builder methods return the same instance for chaining.
/// </summary>
/// <remarks>
/// <para>Parsing (<see cref="Parse"/>): flags, options and keyed arguments may appear anywhere among the positional
/// ones; <c>--</c> ends them (everything after it is positional). An argument starting with <c>--</c> is always an
/// option: one the command does not declare is refused (<c>unknown option --x</c>). A short one (<c>-x</c>) is an option
/// only in a command that declares short flags (<c>-m</c>, <c>-s</c>); elsewhere it is positional, so a bridge or port
/// named <c>-x</c> still reaches the commands that take names. Positional arguments stay raw: <c>OPTION=VALUE</c> lists
/// are split by <see cref="CommandArgs.ParseSettings"/>, the same code for every command.</para>
/// <para>Errors are <see cref="CommandException"/>s (exit status 2) naming the command and the argument.</para>
/// </remarks>
public sealed class CommandSyntax
{
    private readonly List<(string Name, string[] Aliases)> _flags = [];
    private readonly List<(string Name, string[] Values)> _options = [];
    private readonly List<string> _keys = [];
    private readonly string[] _positionalNames;

    private CommandSyntax(int min, int max, string[] names)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(min);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, min);
        MinPositional = min;
        MaxPositional = max;
        _positionalNames = names;
    }

    /// <summary>
    /// A syntax of <paramref name="min"/> to <paramref name="max"/> positional arguments (<see cref="int.MaxValue"/> =
    /// unlimited). <paramref name="missingNames"/>[i] names what is missing when only i were given (e.g.
    /// <c>"bridge name"</c>); the last one is reused beyond the list, and <c>argument</c> is used without a list.
    /// </summary>
    public static CommandSyntax Positional(int min, int max, params string[] missingNames) => new(min, max, missingNames);

    /// <summary>Fewest positional arguments.</summary>
    public int MinPositional { get; }

    /// <summary>Most positional arguments (<see cref="int.MaxValue"/> = unlimited).</summary>
    public int MaxPositional { get; }

    /// <summary>True when the command declares a short flag such as <c>-m</c> (then unknown <c>-x</c> arguments are refused).</summary>
    public bool HasShortFlags => _flags.Exists(f => IsShort(f.Name) || Array.Exists(f.Aliases, IsShort));

    private static bool IsShort(string arg) => arg.Length > 1 && arg[0] == '-' && arg[1] != '-';

    private bool IsOption(string arg) => arg.StartsWith("--", StringComparison.Ordinal) ? arg.Length > 2 : IsShort(arg) && HasShortFlags;

    /// <summary>Fewest raw arguments a call can have (the registry's first, cheap arity check).</summary>
    public int MinArgs => MinPositional;

    /// <summary>Most raw arguments a call can have without repeating a flag (<see cref="int.MaxValue"/> = unlimited).</summary>
    public int MaxArgs => MaxPositional == int.MaxValue ? int.MaxValue
        : (int)Math.Min(int.MaxValue, (long)MaxPositional + _flags.Count + _keys.Count + 2L * _options.Count);

    /// <summary>Declares a flag <paramref name="name"/> (e.g. <c>--may-exist</c>) with optional aliases (e.g. <c>-m</c> for <c>--more</c>).</summary>
    public CommandSyntax Flag(string name, params string[] aliases)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name[0] != '-' || aliases.Any(a => a.Length < 2 || a[0] != '-')) throw new ArgumentException($"flag {name}: names start with '-'");
        _flags.Add((name, aliases));
        return this;
    }

    /// <summary>
    /// Declares an option <paramref name="name"/> (e.g. <c>--format</c>) that takes a value, given as
    /// <c>--format json</c> or <c>--format=json</c>; when <paramref name="values"/> are listed, any other value is refused.
    /// </summary>
    public CommandSyntax Option(string name, params string[] values)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!name.StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"option {name}: names start with '--'");
        _options.Add((name, values));
        return this;
    }

    /// <summary>Declares a keyed argument <c><paramref name="key"/>=VALUE</c> (e.g. <c>filter=FLOW</c>), at most once per call.</summary>
    public CommandSyntax Keyed(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        _keys.Add(key);
        return this;
    }

    /// <summary>Parses the arguments of one call of <paramref name="command"/>; throws <see cref="CommandException"/> naming what is wrong.</summary>
    public CommandArgs Parse(string command, IReadOnlyList<string> args)
    {
        var positional = new List<string>(args.Count);
        var flags = new HashSet<string>(StringComparer.Ordinal);
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        bool optionsEnded = false;
        for (int i = 0; i < args.Count; i++)
        {
            var a = args[i];
            if (optionsEnded) { positional.Add(a); continue; }
            if (a == "--") { optionsEnded = true; continue; }
            if (IsOption(a))
            {
                if (FindFlag(a) is { } flag) { flags.Add(flag); continue; }
                int eq = a.IndexOf('=');
                var name = eq > 0 ? a[..eq] : a;
                if (FindOption(name) is not { } option) throw new CommandException($"{command}: unknown option {a}");
                string value;
                if (eq > 0) value = a[(eq + 1)..];
                else if (i + 1 < args.Count) value = args[++i];
                else throw new CommandException($"{command}: option {name} needs a value");
                if (option.Values.Length > 0 && !option.Values.Contains(value, StringComparer.Ordinal))
                    throw new CommandException($"{command}: {name} {value}: expected {string.Join(" or ", option.Values)}");
                if (!values.TryAdd(name, value)) throw new CommandException($"{command}: option {name} given twice");
                continue;
            }
            int k = a.IndexOf('=');
            if (k > 0 && _keys.Contains(a[..k]))
            {
                if (!values.TryAdd(a[..k], a[(k + 1)..])) throw new CommandException($"{command}: {a[..k]}= given twice");
                continue;
            }
            positional.Add(a);
        }
        if (positional.Count < MinPositional)
        {
            var what = _positionalNames.Length == 0 ? "argument" : _positionalNames[Math.Min(positional.Count, _positionalNames.Length - 1)];
            throw new CommandException($"{command}: missing {what}");
        }
        if (positional.Count > MaxPositional) throw new CommandException($"{command}: too many arguments");
        return new CommandArgs(command, args, positional, flags, values);
    }

    private string? FindFlag(string arg)
    {
        foreach (var (name, aliases) in _flags)
            if (arg == name || Array.IndexOf(aliases, arg) >= 0) return name;
        return null;
    }

    private (string Name, string[] Values)? FindOption(string name)
    {
        foreach (var o in _options) if (o.Name == name) return o;
        return null;
    }

    /// <summary>The arity as the registry's error message states it: <c>1</c>, <c>1 to 2</c> or <c>at least 1</c>.</summary>
    internal string DescribeArity() => MinArgs == MaxArgs ? MinArgs.ToString(CultureInfo.InvariantCulture)
        : MaxArgs == int.MaxValue ? $"at least {MinArgs}" : $"{MinArgs} to {MaxArgs}";
}

/// <summary>
/// The parsed arguments of one command call: the positional arguments (this list), the flags and option values that
/// were given, and the raw arguments. Produced by <see cref="CommandSyntax.Parse"/>.
/// </summary>
public sealed class CommandArgs : IReadOnlyList<string>
{
    private readonly List<string> _positional;
    private readonly HashSet<string> _flags;
    private readonly Dictionary<string, string> _values;

    internal CommandArgs(string command, IReadOnlyList<string> raw, List<string> positional, HashSet<string> flags, Dictionary<string, string> values)
    {
        Command = command;
        Raw = raw;
        _positional = positional;
        _flags = flags;
        _values = values;
    }

    /// <summary>The command these arguments were given to (error messages start with it).</summary>
    public string Command { get; }

    /// <summary>The arguments as received.</summary>
    public IReadOnlyList<string> Raw { get; }

    /// <summary>The positional argument at <paramref name="index"/>.</summary>
    public string this[int index] => _positional[index];

    /// <summary>Number of positional arguments.</summary>
    public int Count => _positional.Count;

    /// <summary>True when flag <paramref name="name"/> (its declared name, not an alias) was given.</summary>
    public bool Has(string name) => _flags.Contains(name);

    /// <summary>The value of option <c>--NAME</c> or keyed argument <c>KEY=</c> <paramref name="name"/>, or null when not given.</summary>
    public string? Value(string name) => _values.GetValueOrDefault(name);

    /// <summary>The positional arguments from <paramref name="start"/> on, as <c>OPTION=VALUE</c> settings (<see cref="ParseSettings"/>).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> SettingsFrom(int start) => ParseSettings(Command, _positional.Skip(start));

    /// <inheritdoc/>
    public IEnumerator<string> GetEnumerator() => _positional.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>
    /// Splits <c>OPTION=VALUE</c> arguments into ordered pairs: the one parser for port settings and provider options in
    /// every command. Throws <see cref="CommandException"/> for an argument without <c>=</c> or an empty name
    /// (<c>"x" is not OPTION=VALUE</c>) and for a name given twice. Values may be empty and may contain <c>=</c>.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>> ParseSettings(string command, IEnumerable<string> args)
    {
        var list = new List<KeyValuePair<string, string>>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var arg in args)
        {
            int eq = arg.IndexOf('=');
            if (eq <= 0) throw new CommandException($"{command}: \"{arg}\" is not OPTION=VALUE");
            var key = arg[..eq];
            if (!seen.Add(key)) throw new CommandException($"{command}: {key} given twice");
            list.Add(new(key, arg[(eq + 1)..]));
        }
        return list;
    }

    /// <summary>
    /// ovs-dpctl's interface argument <c>NETDEV[,OPTION=VALUE...]</c>: the device name and its settings
    /// (<see cref="ParseSettings"/>). Throws <see cref="CommandException"/> for a bad setting.
    /// </summary>
    public static (string Name, IReadOnlyList<KeyValuePair<string, string>> Settings) ParseInterface(string command, string arg)
    {
        var parts = arg.Split(',');
        return (parts[0], ParseSettings(command, parts.Skip(1)));
    }
}
