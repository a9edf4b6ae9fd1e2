using System.Text.RegularExpressions;
using Vswitch.Netdev;
using Vswitch.Switch;
using Vswitch.Switch.Normal;

namespace Vswitch.Daemon.Config;

/// <summary>Defaults that apply to every bridge unless the bridge overrides them.</summary>
/// <param name="MacAgingSeconds">MAC aging time in seconds (default 300).</param>
/// <param name="MacTableSize">MAC table size limit (default 8192).</param>
/// <param name="FlowIdleSeconds">Idle time after which a datapath flow is removed (default 10).</param>
/// <param name="FlowLimit">Maximum number of datapath flows per bridge (default 200000).</param>
public sealed record SwitchDefaults(int MacAgingSeconds = 300, int MacTableSize = 8192, double FlowIdleSeconds = 10, int FlowLimit = 200_000)
{
    /// <summary>The embedded defaults.</summary>
    public static SwitchDefaults Embedded { get; } = new();
}

/// <summary>One port of a bridge as configured.</summary>
/// <param name="Name">Port name (1..15 characters).</param>
/// <param name="Type">Netdev type (default <c>afpacket</c>).</param>
/// <param name="Options">Provider options, in order.</param>
/// <param name="Tag">Access VLAN, or the native VLAN of a native-* port.</param>
/// <param name="Trunks">Allowed VLANs of a trunk (empty = all).</param>
/// <param name="VlanMode">Explicit VLAN mode, or null for the default (access with a tag, trunk without).</param>
public sealed record PortConfig(string Name, string Type, IReadOnlyList<KeyValuePair<string, string>> Options, int? Tag,
    IReadOnlyList<int> Trunks, VlanMode? VlanMode)
{
    /// <summary>The default netdev type.</summary>
    public const string DefaultType = "afpacket";

    /// <summary>The port's VLAN configuration (validated).</summary>
    public PortVlanConfig Vlan => PortVlanConfig.Create(VlanMode, Tag, Trunks);

    /// <summary>The bridge-level port specification.</summary>
    public BridgePortSpec ToSpec() => new(Name, Type, NetdevOptions.FromPairs(Options), Vlan);
}

/// <summary>One bridge as configured; null settings take the switch defaults.</summary>
/// <param name="Name">Bridge name.</param>
/// <param name="Ports">Its ports.</param>
/// <param name="MacAgingSeconds">MAC aging override.</param>
/// <param name="MacTableSize">MAC table size override.</param>
/// <param name="FlowIdleSeconds">Flow idle timeout override.</param>
/// <param name="FlowLimit">Flow limit override.</param>
public sealed record BridgeConfig(string Name, IReadOnlyList<PortConfig> Ports, int? MacAgingSeconds = null, int? MacTableSize = null,
    double? FlowIdleSeconds = null, int? FlowLimit = null)
{
    /// <summary>The effective bridge settings given <paramref name="defaults"/>.</summary>
    public BridgeSettings ToSettings(SwitchDefaults defaults) => BridgeSettings.Default with
    {
        MacAging = TimeSpan.FromSeconds(MacAgingSeconds ?? defaults.MacAgingSeconds),
        MacTableSize = MacTableSize ?? defaults.MacTableSize,
        Flows = new FlowLimits(TimeSpan.FromSeconds(FlowIdleSeconds ?? defaults.FlowIdleSeconds), FlowLimit ?? defaults.FlowLimit),
    };
}

/// <summary>The whole switch configuration: defaults and bridges. Immutable; changes build a new instance.</summary>
/// <param name="Defaults">Defaults for every bridge.</param>
/// <param name="Bridges">The bridges in order.</param>
public sealed record SwitchConfig(SwitchDefaults Defaults, IReadOnlyList<BridgeConfig> Bridges)
{
    /// <summary>No bridges, embedded defaults.</summary>
    public static SwitchConfig Empty { get; } = new(SwitchDefaults.Embedded, []);

    /// <summary>The bridge named <paramref name="name"/>, or null.</summary>
    public BridgeConfig? FindBridge(string name) => Bridges.FirstOrDefault(b => b.Name == name);

    /// <summary>The bridge holding port <paramref name="port"/>, or null.</summary>
    public BridgeConfig? FindBridgeOfPort(string port) => Bridges.FirstOrDefault(b => b.Ports.Any(p => p.Name == port));

    /// <summary>A copy with <paramref name="bridge"/> replacing the bridge of the same name (or appended).</summary>
    public SwitchConfig WithBridge(BridgeConfig bridge)
    {
        var list = Bridges.ToList();
        int i = list.FindIndex(b => b.Name == bridge.Name);
        if (i >= 0) list[i] = bridge; else list.Add(bridge);
        return this with { Bridges = list };
    }

    /// <summary>A copy without the bridge named <paramref name="name"/>.</summary>
    public SwitchConfig WithoutBridge(string name) => this with { Bridges = Bridges.Where(b => b.Name != name).ToList() };
}

/// <summary>Name rules shared by configuration files and commands.</summary>
public static partial class ConfigNames
{
    [GeneratedRegex("^[A-Za-z0-9_.@-]{1,15}$")]
    private static partial Regex NameRegex();

    /// <summary>Null when <paramref name="name"/> is a valid bridge or port name (1..15 of <c>A-Z a-z 0-9 _ . @ -</c>, a Linux interface name), else why not.</summary>
    public static string? Check(string? name, string what)
    {
        if (string.IsNullOrEmpty(name)) return $"{what} name is empty";
        if (!NameRegex().IsMatch(name)) return $"{what} name \"{name}\" is invalid (1 to 15 characters of A-Z a-z 0-9 _ . @ -)";
        return null;
    }
}
