namespace Vswitch.Daemon.Config;

/// <summary>A node of a parsed configuration document (YAML or JSON) with its position, for errors that name the line.</summary>
public abstract class ConfigNode
{
    /// <summary>1-based line.</summary>
    public int Line { get; init; }

    /// <summary>1-based column.</summary>
    public int Column { get; init; }

    /// <summary>What kind of node this is, for error messages ("a mapping", "a list", "a scalar").</summary>
    public abstract string KindName { get; }
}

/// <summary>A mapping (YAML mapping, JSON object) with ordered entries.</summary>
public sealed class ConfigMapping : ConfigNode
{
    /// <summary>Entries in document order.</summary>
    public List<(ConfigScalar Key, ConfigNode Value)> Entries { get; } = [];

    /// <inheritdoc/>
    public override string KindName => "a mapping";
}

/// <summary>A sequence (YAML sequence, JSON array).</summary>
public sealed class ConfigSequence : ConfigNode
{
    /// <summary>Items in order.</summary>
    public List<ConfigNode> Items { get; } = [];

    /// <inheritdoc/>
    public override string KindName => "a list";
}

/// <summary>A scalar: its text and whether it was a quoted string (JSON strings, quoted YAML) or null.</summary>
public sealed class ConfigScalar : ConfigNode
{
    /// <summary>The text (null for JSON null / YAML <c>~</c>/<c>null</c>/empty).</summary>
    public string? Value { get; init; }

    /// <summary>True when written as a quoted string.</summary>
    public bool Quoted { get; init; }

    /// <inheritdoc/>
    public override string KindName => Value is null ? "null" : "a scalar";
}
