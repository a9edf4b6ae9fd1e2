using Vswitch.Interop.Linux;

namespace Vswitch.Datapath;

/// <summary>A datapath operation failed; the message names the datapath, the operation and the error.</summary>
public sealed class DatapathException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DatapathException(string datapathName, string operation, Errno error, string? detail = null)
        : base(FormatMessage(datapathName, operation, error, detail))
    {
        DatapathName = datapathName;
        Operation = operation;
        Error = error;
    }

    /// <summary>The datapath's name.</summary>
    public string DatapathName { get; }

    /// <summary>What was attempted, e.g. <c>flow put</c>.</summary>
    public string Operation { get; }

    /// <summary>The error number.</summary>
    public Errno Error { get; }

    private static string FormatMessage(string dp, string op, Errno error, string? detail) =>
        detail is null ? $"datapath '{dp}': {op} failed: {error}" : $"datapath '{dp}': {op} failed: {detail} ({error.Name})";
}
