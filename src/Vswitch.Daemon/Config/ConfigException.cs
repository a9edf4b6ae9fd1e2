namespace Vswitch.Daemon.Config;

/// <summary>A configuration file is invalid. The message names the file, line, column and field: <c>FILE:LINE:COL: FIELD: problem</c>.</summary>
public sealed class ConfigException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ConfigException(string file, int line, int column, string field, string problem)
        : base(Format(file, line, column, field, problem))
    {
        File = file;
        Line = line;
        Column = column;
        Field = field;
        Problem = problem;
    }

    /// <summary>The file.</summary>
    public string File { get; }

    /// <summary>1-based line (0 when unknown).</summary>
    public int Line { get; }

    /// <summary>1-based column (0 when unknown).</summary>
    public int Column { get; }

    /// <summary>The field path, e.g. <c>bridges[0].ports[2].tag</c>.</summary>
    public string Field { get; }

    /// <summary>What is wrong.</summary>
    public string Problem { get; }

    private static string Format(string file, int line, int column, string field, string problem)
    {
        var where = line > 0 ? $"{file}:{line}:{column}" : file;
        return field.Length > 0 ? $"{where}: {field}: {problem}" : $"{where}: {problem}";
    }
}
