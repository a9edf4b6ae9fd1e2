using System.Globalization;
using Vswitch.Daemon.Config;
using Vswitch.Switch.Commands;
using Vswitch.Switch.Normal;

namespace Vswitch.Daemon;

/// <summary>
/// What a port's <c>OPTION=VALUE</c> settings mean (split by the shared parser, <see cref="CommandArgs.ParseSettings"/>):
/// <c>type</c>, the VLAN keys <c>tag</c>, <c>trunks</c> and <c>vlan_mode</c>, and every other key a provider option.
/// Used by <c>add-port</c>, <c>set-port</c> and the dpctl interface verbs alike.
/// </summary>
internal static class PortSettings
{
    /// <summary>
    /// <paramref name="basePort"/> with <paramref name="settings"/> applied in order. For a change (<paramref name="isSet"/>)
    /// an option with an empty value is removed and <c>tag=</c>, <c>vlan_mode=</c> (or <c>[]</c>) clear. Throws
    /// <see cref="CommandException"/> starting with <paramref name="command"/> and naming the setting.
    /// </summary>
    public static PortConfig Apply(string command, PortConfig basePort, IReadOnlyList<KeyValuePair<string, string>> settings, bool isSet)
    {
        var type = basePort.Type;
        var options = basePort.Options.ToList();
        int? tag = basePort.Tag;
        var trunks = basePort.Trunks.ToList();
        VlanMode? mode = basePort.VlanMode;
        foreach (var (key, value) in settings)
        {
            switch (key)
            {
                case "type":
                    if (value.Length == 0) throw new CommandException($"{command}: type= needs a netdev type");
                    type = value;
                    break;
                case "tag":
                    if (value.Length == 0 || value == "[]") { tag = null; break; }
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var t) || t is < 1 or > 4095)
                        throw new CommandException($"{command}: tag={value}: expected a VLAN in 1..4095");
                    tag = t;
                    break;
                case "trunks":
                    if (!PortVlanConfig.TryParseTrunks(value == "[]" ? "" : value, out var list, out var terr))
                        throw new CommandException($"{command}: {terr}");
                    trunks = list;
                    break;
                case "vlan_mode":
                    if (value.Length == 0 || value == "[]") { mode = null; break; }
                    if (!PortVlanConfig.TryParseMode(value, out var m))
                        throw new CommandException($"{command}: vlan_mode={value}: expected access, trunk, native-tagged or native-untagged");
                    mode = m;
                    break;
                default:
                    if (key.Contains(',') || value.Contains(','))
                        throw new CommandException($"{command}: \"{key}={value}\": option names and values cannot contain ','");
                    int i = options.FindIndex(o => o.Key == key);
                    if (value.Length == 0 && isSet)
                    {
                        if (i < 0) throw new CommandException($"{command}: port {basePort.Name} has no option {key} to remove");
                        options.RemoveAt(i);
                    }
                    else if (i >= 0) options[i] = new(key, value);
                    else options.Add(new(key, value));
                    break;
            }
        }
        if (!PortVlanConfig.TryCreate(mode, tag, trunks, out _, out var verr)) throw new CommandException($"{command}: port {basePort.Name}: {verr}");
        return new PortConfig(basePort.Name, type, options, tag, trunks, mode);
    }

    /// <summary>A new port named <paramref name="name"/> (default type, no options, no VLAN settings) with <paramref name="settings"/> applied.</summary>
    public static PortConfig NewPort(string command, string name, IReadOnlyList<KeyValuePair<string, string>> settings) =>
        Apply(command, new PortConfig(name, PortConfig.DefaultType, [], null, [], null), settings, isSet: false);
}
