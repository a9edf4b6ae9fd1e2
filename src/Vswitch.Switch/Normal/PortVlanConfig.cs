using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Vswitch.Switch.Normal;

/// <summary>How a port treats VLANs, as Open vSwitch's <c>vlan_mode</c> column.</summary>
public enum VlanMode
{
    /// <summary>Trunk: untagged frames are VLAN 0, tagged frames keep their VLAN (if allowed by the trunks list).</summary>
    Trunk,
    /// <summary>Access: untagged frames belong to <see cref="PortVlanConfig.Tag"/>; tagged frames (VID ≠ 0) are dropped; output strips the tag.</summary>
    Access,
    /// <summary>Native tagged: untagged frames belong to the native VLAN <see cref="PortVlanConfig.Tag"/>; its frames leave tagged.</summary>
    NativeTagged,
    /// <summary>Native untagged: untagged frames belong to the native VLAN <see cref="PortVlanConfig.Tag"/>; its frames leave untagged.</summary>
    NativeUntagged,
}

/// <summary>
/// The VLAN configuration of one port: mode, tag (access VLAN or native VLAN) and the allowed trunk VLANs.
/// Immutable. Internally a packet's VLAN is 0..4095 where 0 means "untagged" on a trunk.
/// </summary>
/// <remarks>
/// Defaults: with no explicit mode, a port with only a <c>tag</c> is an access port, a port with a <c>tag</c> and
/// <c>trunks</c> is a trunk whose native VLAN is the tag, sent untagged (native-untagged), and a port without a tag is a
/// trunk; an empty trunks list on a trunk means "all VLANs". (OVS would ignore the trunks of a tagged port without
/// vlan_mode; we take the combination as the native-VLAN trunk it evidently asks for.)
/// </remarks>
public sealed class PortVlanConfig
{
    private readonly bool[]? _trunks;   // null = all VLANs allowed

    /// <summary>A trunk carrying every VLAN (the default port).</summary>
    public static PortVlanConfig TrunkAll { get; } = new(VlanMode.Trunk, null, []);

    /// <summary>The mode.</summary>
    public VlanMode Mode { get; }

    /// <summary>The access VLAN (access mode) or native VLAN (native modes); null on a plain trunk.</summary>
    public int? Tag { get; }

    /// <summary>The allowed trunk VLANs as configured, sorted; empty = all (on trunk and native ports).</summary>
    public IReadOnlyList<int> Trunks { get; }

    private PortVlanConfig(VlanMode mode, int? tag, IReadOnlyList<int> trunks)
    {
        Mode = mode;
        Tag = tag;
        Trunks = trunks;
        if (trunks.Count > 0)
        {
            _trunks = new bool[4096];
            foreach (var v in trunks) _trunks[v] = true;
        }
    }

    /// <summary>
    /// Builds a configuration. <paramref name="mode"/> null picks access when only <paramref name="tag"/> is set,
    /// native-untagged when a tag and trunks are set, trunk otherwise. False with an error for a VLAN outside 0..4095
    /// (tag 1..4095), a tag with vlan_mode=trunk, an explicit access port with trunks, or a native mode without a tag.
    /// </summary>
    public static bool TryCreate(VlanMode? mode, int? tag, IEnumerable<int>? trunks,
        [NotNullWhen(true)] out PortVlanConfig? config, [NotNullWhen(false)] out string? error)
    {
        config = null;
        var list = trunks is null ? new List<int>() : trunks.Distinct().Order().ToList();
        foreach (var v in list)
        {
            if (v is < 0 or > 4095) { error = $"trunks: VLAN {v} is outside 0..4095"; return false; }
        }
        if (tag is { } t && t is < 1 or > 4095) { error = $"tag: VLAN {tag} is outside 1..4095"; return false; }
        var m = mode ?? (tag is null ? VlanMode.Trunk : list.Count > 0 ? VlanMode.NativeUntagged : VlanMode.Access);
        switch (m)
        {
            case VlanMode.Access when tag is null:
                error = "vlan_mode=access needs a tag";
                return false;
            case VlanMode.Access when list.Count > 0:
                error = "vlan_mode=access cannot have trunks (a tag with trunks and no vlan_mode is a native-untagged trunk)";
                return false;
            case VlanMode.Trunk when tag is not null:
                error = "vlan_mode=trunk cannot have a tag";
                return false;
            case VlanMode.NativeTagged or VlanMode.NativeUntagged when tag is null:
                error = $"vlan_mode={FormatMode(m)} needs a tag (the native VLAN)";
                return false;
        }
        config = new PortVlanConfig(m, tag, list);
        error = null;
        return true;
    }

    /// <summary>Like <see cref="TryCreate"/> but throws <see cref="ArgumentException"/>.</summary>
    public static PortVlanConfig Create(VlanMode? mode, int? tag, IEnumerable<int>? trunks) =>
        TryCreate(mode, tag, trunks, out var c, out var e) ? c : throw new ArgumentException(e);

    /// <summary>An access port in <paramref name="vlan"/>.</summary>
    public static PortVlanConfig Access(int vlan) => Create(VlanMode.Access, vlan, null);

    /// <summary>A trunk port allowing <paramref name="vlans"/> (none = all).</summary>
    public static PortVlanConfig Trunk(params int[] vlans) => Create(VlanMode.Trunk, null, vlans);

    /// <summary>Parses a mode name: <c>access</c>, <c>trunk</c>, <c>native-tagged</c>, <c>native-untagged</c>.</summary>
    public static bool TryParseMode(string text, out VlanMode mode)
    {
        switch (text)
        {
            case "access": mode = VlanMode.Access; return true;
            case "trunk": mode = VlanMode.Trunk; return true;
            case "native-tagged": mode = VlanMode.NativeTagged; return true;
            case "native-untagged": mode = VlanMode.NativeUntagged; return true;
            default: mode = default; return false;
        }
    }

    /// <summary>The mode's configuration name.</summary>
    public static string FormatMode(VlanMode mode) => mode switch
    {
        VlanMode.Access => "access",
        VlanMode.NativeTagged => "native-tagged",
        VlanMode.NativeUntagged => "native-untagged",
        _ => "trunk",
    };

    /// <summary>Parses a trunks list <c>V1,V2,...</c> (ranges <c>V1-V2</c> allowed).</summary>
    public static bool TryParseTrunks(string text, [NotNullWhen(true)] out List<int>? vlans, [NotNullWhen(false)] out string? error)
    {
        vlans = [];
        error = null;
        if (string.IsNullOrWhiteSpace(text)) return true;
        foreach (var raw in text.Split(','))
        {
            var item = raw.Trim();
            int dash = item.IndexOf('-');
            if (dash > 0)
            {
                if (!TryVlan(item[..dash], out var a) || !TryVlan(item[(dash + 1)..], out var b) || a > b)
                {
                    error = $"trunks: '{item}' is not a VLAN range (0..4095)";
                    vlans = null;
                    return false;
                }
                for (int v = a; v <= b; v++) vlans.Add(v);
            }
            else if (TryVlan(item, out var v)) vlans.Add(v);
            else
            {
                error = $"trunks: '{item}' is not a VLAN number (0..4095)";
                vlans = null;
                return false;
            }
        }
        return true;

        static bool TryVlan(string s, out int v) =>
            int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v) && v is >= 0 and <= 4095;
    }

    /// <summary>True when the port carries internal VLAN <paramref name="vlan"/>.</summary>
    public bool IncludesVlan(int vlan) => Mode switch
    {
        VlanMode.Access => vlan == Tag,
        VlanMode.Trunk => _trunks is null || _trunks[vlan],
        _ => vlan == Tag || _trunks is null || _trunks[vlan],
    };

    /// <summary>
    /// The internal VLAN of a frame received on this port with wire VLAN id <paramref name="wireVid"/>
    /// (null = untagged; a priority tag is VID 0), or -1 when the port does not admit it.
    /// </summary>
    public int InputVlan(int? wireVid)
    {
        bool untagged = wireVid is null or 0;
        switch (Mode)
        {
            case VlanMode.Access:
                return untagged ? Tag!.Value : -1;
            case VlanMode.Trunk:
            {
                int v = untagged ? 0 : wireVid!.Value;
                return IncludesVlan(v) ? v : -1;
            }
            default:
            {
                int v = untagged ? Tag!.Value : wireVid!.Value;
                return IncludesVlan(v) ? v : -1;
            }
        }
    }

    /// <summary>
    /// The wire VLAN id a frame of internal VLAN <paramref name="vlan"/> leaves this port with: null = untagged.
    /// Only meaningful when <see cref="IncludesVlan"/> is true.
    /// </summary>
    public int? OutputVid(int vlan) => Mode switch
    {
        VlanMode.Access => null,
        VlanMode.NativeUntagged when vlan == Tag => null,
        _ => vlan == 0 ? null : vlan,
    };

    /// <summary>Text form, e.g. <c>tag=10</c>, <c>trunks=10,20</c>, <c>vlan_mode=native-untagged tag=5 trunks=7</c>.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        bool defaultMode = (Mode == VlanMode.Access && Tag is not null) || (Mode == VlanMode.Trunk && Tag is null)
            || (Mode == VlanMode.NativeUntagged && Trunks.Count > 0);
        if (!defaultMode) sb.Append("vlan_mode=").Append(FormatMode(Mode));
        if (Tag is { } t) { if (sb.Length > 0) sb.Append(' '); sb.Append(CultureInfo.InvariantCulture, $"tag={t}"); }
        if (Trunks.Count > 0) { if (sb.Length > 0) sb.Append(' '); sb.Append("trunks=").AppendJoin(',', Trunks); }
        return sb.ToString();
    }
}
