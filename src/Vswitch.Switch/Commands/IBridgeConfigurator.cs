namespace Vswitch.Switch.Commands;

/// <summary>One port to add: its name and its settings in the order given (<c>type</c>, the VLAN keys, provider options).</summary>
/// <param name="Name">The port name.</param>
/// <param name="Settings">Its <c>OPTION=VALUE</c> settings, split by <see cref="CommandArgs.ParseSettings"/>.</param>
public sealed record PortRequest(string Name, IReadOnlyList<KeyValuePair<string, string>> Settings);

/// <summary>
/// The configuration changes that commands make to bridges and ports (the daemon's change transaction implements it).
/// Every call is all or nothing: it is validated, applied to the running bridges, then saved, and undone if saving
/// fails. On failure it throws <see cref="CommandException"/> or <see cref="BridgeException"/> with a message that starts
/// with <c>command</c> or names the bridge or port, and nothing has changed.
/// </summary>
/// <remarks>Called with the command lock held (one command at a time).</remarks>
public interface IBridgeConfigurator
{
    /// <summary>
    /// Adds bridge <paramref name="bridge"/> with <paramref name="ports"/>. With <paramref name="mayExist"/> an existing
    /// bridge of that name is left as it is.
    /// </summary>
    void AddBridge(string command, string bridge, bool mayExist, IReadOnlyList<PortRequest> ports);

    /// <summary>Deletes bridge <paramref name="bridge"/> and its ports; with <paramref name="ifExists"/> a missing bridge is not an error.</summary>
    void DeleteBridge(string command, string bridge, bool ifExists);

    /// <summary>
    /// Adds <paramref name="ports"/> to bridge <paramref name="bridge"/>. With <paramref name="mayExist"/> a port that is
    /// already on that bridge is left as it is.
    /// </summary>
    void AddPorts(string command, string bridge, IReadOnlyList<PortRequest> ports, bool mayExist);

    /// <summary>
    /// Changes port <paramref name="port"/> of bridge <paramref name="bridge"/>: <paramref name="settings"/> replace the
    /// values of the same keys; a provider option with an empty value is removed.
    /// </summary>
    void SetPort(string command, string bridge, string port, IReadOnlyList<KeyValuePair<string, string>> settings);

    /// <summary>Deletes <paramref name="ports"/> from bridge <paramref name="bridge"/>; each must be a port of it.</summary>
    void DeletePorts(string command, string bridge, IReadOnlyList<string> ports);
}
