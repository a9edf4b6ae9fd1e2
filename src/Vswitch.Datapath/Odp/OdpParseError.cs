namespace Vswitch.Datapath.Odp;

/// <summary>
/// Why a datapath flow or action string could not be parsed: <see cref="Message"/> names the attribute or
/// action and what was wrong with it (for example <c>ipv4: unknown field 'srcc'</c>), <see cref="Offset"/> is the
/// zero-based character offset in the parsed string where the problem starts.
/// </summary>
/// <param name="Offset">Zero-based character offset of the offending text.</param>
/// <param name="Message">What was wrong, naming the attribute/field or action.</param>
public readonly record struct OdpParseError(int Offset, string Message)
{
    /// <summary>The message followed by the offset, e.g. <c>ipv4: unknown field 'srcc' (at offset 42)</c>.</summary>
    public override string ToString() => $"{Message} (at offset {Offset})";
}
