using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Vswitch.Switch.Normal;

namespace Vswitch.Daemon.Config;

/// <summary>
/// Loads and validates a configuration (YAML or JSON, same schema) into a <see cref="SwitchConfig"/>, and writes one as
/// JSON. Every error is a <see cref="ConfigException"/> naming the file, line, column and field.
/// </summary>
/// <remarks>
/// Schema: <c>defaults: {mac_aging, mac_table_size, flow_idle_timeout, flow_limit}</c> and
/// <c>bridges: [{name, mac_aging?, mac_table_size?, flow_idle_timeout?, flow_limit?, ports: [{name, type?, options?: {k: v},
/// tag?, trunks?: [v...] | "v1,v2", vlan_mode?}]}]</c>. Unknown keys are errors.
/// </remarks>
public static class ConfigLoader
{
    /// <summary>Reads and validates <paramref name="path"/>. A missing or unreadable file is a <see cref="ConfigException"/> too.</summary>
    public static SwitchConfig LoadFile(string path)
    {
        string text;
        try
        {
            var size = new FileInfo(path).Length;
            if (size > ConfigDocumentReader.MaxFileBytes)
                throw new ConfigException(path, 0, 0, "", $"file too large: {size} bytes (at most {ConfigDocumentReader.MaxFileBytes})");
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException(path, 0, 0, "", $"cannot read: {ex.Message}");
        }
        return Load(path, text);
    }

    /// <summary>Validates <paramref name="text"/>; <paramref name="file"/> names it in errors and selects JSON by its extension.</summary>
    public static SwitchConfig Load(string file, string text)
    {
        var root = ConfigDocumentReader.Parse(file, text);
        if (root is null) return SwitchConfig.Empty;
        var ctx = new Ctx(file);
        var map = ctx.Mapping(root, "");
        ctx.CheckKeys(map, "", "defaults", "bridges", "config_digest");
        var defaults = SwitchDefaults.Embedded;
        if (ctx.Get(map, "defaults") is { } dn)
        {
            var dm = ctx.Mapping(dn, "defaults");
            ctx.CheckKeys(dm, "defaults", "mac_aging", "mac_table_size", "flow_idle_timeout", "flow_limit");
            defaults = new SwitchDefaults(
                ctx.Int(dm, "mac_aging", "defaults", 1, 86400 * 365) ?? defaults.MacAgingSeconds,
                ctx.Int(dm, "mac_table_size", "defaults", 1, 1 << 24) ?? defaults.MacTableSize,
                ctx.Double(dm, "flow_idle_timeout", "defaults", 0.01, 86400) ?? defaults.FlowIdleSeconds,
                ctx.Int(dm, "flow_limit", "defaults", 1, 1 << 26) ?? defaults.FlowLimit);
        }
        var bridges = new List<BridgeConfig>();
        var portOwners = new Dictionary<string, string>(StringComparer.Ordinal);
        if (ctx.Get(map, "bridges") is { } bn)
        {
            var seq = ctx.Sequence(bn, "bridges");
            for (int i = 0; i < seq.Items.Count; i++)
            {
                var path = $"bridges[{i}]";
                var bm = ctx.Mapping(seq.Items[i], path);
                ctx.CheckKeys(bm, path, "name", "ports", "mac_aging", "mac_table_size", "flow_idle_timeout", "flow_limit");
                var name = ctx.Name(bm, path, "bridge");
                if (bridges.Any(b => b.Name == name)) throw ctx.Error(ctx.Get(bm, "name")!, $"{path}.name", $"bridge \"{name}\" is defined twice");
                var ports = new List<PortConfig>();
                if (ctx.Get(bm, "ports") is { } pn)
                {
                    var pseq = ctx.Sequence(pn, $"{path}.ports");
                    for (int j = 0; j < pseq.Items.Count; j++)
                    {
                        var port = ctx.Port(pseq.Items[j], $"{path}.ports[{j}]");
                        if (portOwners.TryGetValue(port.Name, out var owner))
                            throw ctx.Error(ctx.Get((ConfigMapping)pseq.Items[j], "name")!, $"{path}.ports[{j}].name",
                                $"port \"{port.Name}\" is already on bridge \"{owner}\"");
                        portOwners[port.Name] = name;
                        ports.Add(port);
                    }
                }
                bridges.Add(new BridgeConfig(name, ports,
                    ctx.Int(bm, "mac_aging", path, 1, 86400 * 365), ctx.Int(bm, "mac_table_size", path, 1, 1 << 24),
                    ctx.Double(bm, "flow_idle_timeout", path, 0.01, 86400), ctx.Int(bm, "flow_limit", path, 1, 1 << 26)));
            }
        }
        return new SwitchConfig(defaults, bridges);
    }

    /// <summary>The recorded digest of the config file a state was derived from (<c>config_digest</c>), or null.</summary>
    public static string? ReadDigest(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.TryGetProperty("config_digest", out var d) ? d.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>SHA-256 of a config file's text, hex.</summary>
    public static string Digest(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    /// <summary>Writes <paramref name="config"/> as indented JSON in the loader's schema (defaults always written).</summary>
    public static string ToJson(SwitchConfig config, string? configDigest = null)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            if (configDigest is not null) w.WriteString("config_digest", configDigest);
            w.WriteStartObject("defaults");
            w.WriteNumber("mac_aging", config.Defaults.MacAgingSeconds);
            w.WriteNumber("mac_table_size", config.Defaults.MacTableSize);
            w.WriteNumber("flow_idle_timeout", config.Defaults.FlowIdleSeconds);
            w.WriteNumber("flow_limit", config.Defaults.FlowLimit);
            w.WriteEndObject();
            w.WriteStartArray("bridges");
            foreach (var b in config.Bridges)
            {
                w.WriteStartObject();
                w.WriteString("name", b.Name);
                if (b.MacAgingSeconds is { } a) w.WriteNumber("mac_aging", a);
                if (b.MacTableSize is { } s) w.WriteNumber("mac_table_size", s);
                if (b.FlowIdleSeconds is { } f) w.WriteNumber("flow_idle_timeout", f);
                if (b.FlowLimit is { } l) w.WriteNumber("flow_limit", l);
                w.WriteStartArray("ports");
                foreach (var p in b.Ports)
                {
                    w.WriteStartObject();
                    w.WriteString("name", p.Name);
                    w.WriteString("type", p.Type);
                    if (p.Options.Count > 0)
                    {
                        w.WriteStartObject("options");
                        foreach (var (k, v) in p.Options) w.WriteString(k, v);
                        w.WriteEndObject();
                    }
                    if (p.Tag is { } t) w.WriteNumber("tag", t);
                    if (p.Trunks.Count > 0)
                    {
                        w.WriteStartArray("trunks");
                        foreach (var v in p.Trunks) w.WriteNumberValue(v);
                        w.WriteEndArray();
                    }
                    if (p.VlanMode is { } m) w.WriteString("vlan_mode", PortVlanConfig.FormatMode(m));
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }

    private sealed class Ctx(string file)
    {
        public ConfigException Error(ConfigNode node, string field, string problem) => new(file, node.Line, node.Column, field, problem);

        public ConfigMapping Mapping(ConfigNode node, string field) =>
            node as ConfigMapping ?? throw Error(node, field, $"expected a mapping, found {node.KindName}");

        public ConfigSequence Sequence(ConfigNode node, string field) =>
            node as ConfigSequence ?? throw Error(node, field, $"expected a list, found {node.KindName}");

        public ConfigNode? Get(ConfigMapping map, string key)
        {
            foreach (var (k, v) in map.Entries) if (k.Value == key) return v;
            return null;
        }

        public void CheckKeys(ConfigMapping map, string path, params string[] allowed)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (k, _) in map.Entries)
            {
                var name = k.Value ?? "";
                var field = path.Length == 0 ? name : $"{path}.{name}";
                if (!allowed.Contains(name)) throw Error(k, field, $"unknown field (expected one of: {string.Join(", ", allowed.Where(a => a != "config_digest"))})");
                if (!seen.Add(name)) throw Error(k, field, "given twice");
            }
        }

        private string Scalar(ConfigNode node, string field)
        {
            if (node is ConfigScalar { Value: { } v }) return v;
            throw Error(node, field, $"expected a value, found {node.KindName}");
        }

        public string? String(ConfigMapping map, string key, string path)
        {
            var n = Get(map, key);
            return n is null ? null : Scalar(n, $"{path}.{key}");
        }

        public string Name(ConfigMapping map, string path, string what)
        {
            var n = Get(map, "name") ?? throw Error(map, $"{path}.name", $"missing (every {what} needs a name)");
            var name = Scalar(n, $"{path}.name");
            if (ConfigNames.Check(name, what) is { } problem) throw Error(n, $"{path}.name", problem);
            return name;
        }

        public int? Int(ConfigMapping map, string key, string path, int min, int max)
        {
            var n = Get(map, key);
            if (n is null) return null;
            var field = path.Length == 0 ? key : $"{path}.{key}";
            if (n is ConfigScalar { Value: { } v, Quoted: false } && int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) && i >= min && i <= max)
                return i;
            throw Error(n, field, $"expected an integer in {min}..{max}, found {Describe(n)}");
        }

        public double? Double(ConfigMapping map, string key, string path, double min, double max)
        {
            var n = Get(map, key);
            if (n is null) return null;
            var field = path.Length == 0 ? key : $"{path}.{key}";
            if (n is ConfigScalar { Value: { } v, Quoted: false } && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d >= min && d <= max)
                return d;
            throw Error(n, field, $"expected a number of seconds in {min}..{max}, found {Describe(n)}");
        }

        private static string Describe(ConfigNode n) => n is ConfigScalar { Value: { } v } ? $"\"{v}\"" : n.KindName;

        public PortConfig Port(ConfigNode node, string path)
        {
            var m = Mapping(node, path);
            CheckKeys(m, path, "name", "type", "options", "tag", "trunks", "vlan_mode");
            var name = Name(m, path, "port");
            var type = String(m, "type", path) ?? PortConfig.DefaultType;
            if (type.Length == 0) throw Error(Get(m, "type")!, $"{path}.type", "empty type");
            var options = new List<KeyValuePair<string, string>>();
            if (Get(m, "options") is { } on)
            {
                var om = Mapping(on, $"{path}.options");
                foreach (var (k, v) in om.Entries)
                {
                    var key = k.Value ?? "";
                    if (key.Length == 0 || key.Contains('=') || key.Contains(','))
                        throw Error(k, $"{path}.options", $"invalid option name \"{key}\"");
                    if (options.Any(o => o.Key == key)) throw Error(k, $"{path}.options.{key}", "given twice");
                    if (key is "type" or "tag" or "trunks" or "vlan_mode")
                        throw Error(k, $"{path}.options.{key}", $"\"{key}\" is a port field, not a provider option");
                    var value = Scalar(v, $"{path}.options.{key}");
                    if (value.Contains(',')) throw Error(v, $"{path}.options.{key}", "option values cannot contain ','");
                    options.Add(new(key, value));
                }
            }
            var tag = Int(m, "tag", path, 1, 4095);
            var trunks = new List<int>();
            if (Get(m, "trunks") is { } tn)
            {
                if (tn is ConfigSequence ts)
                {
                    foreach (var item in ts.Items)
                    {
                        if (item is ConfigScalar { Value: { } v, Quoted: false } && int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var vid) && vid is >= 0 and <= 4095)
                            trunks.Add(vid);
                        else throw Error(item, $"{path}.trunks", $"expected a VLAN number in 0..4095, found {Describe(item)}");
                    }
                }
                else if (!PortVlanConfig.TryParseTrunks(Scalar(tn, $"{path}.trunks"), out var parsed, out var terr))
                    throw Error(tn, $"{path}.trunks", terr);
                else trunks = parsed;
            }
            VlanMode? mode = null;
            if (Get(m, "vlan_mode") is { } mn)
            {
                var text = Scalar(mn, $"{path}.vlan_mode");
                if (!PortVlanConfig.TryParseMode(text, out var vm))
                    throw Error(mn, $"{path}.vlan_mode", $"\"{text}\" is not one of access, trunk, native-tagged, native-untagged");
                mode = vm;
            }
            if (!PortVlanConfig.TryCreate(mode, tag, trunks, out _, out var verr))
                throw Error(Get(m, "tag") ?? Get(m, "vlan_mode") ?? Get(m, "trunks") ?? m, $"{path}.{(Get(m, "tag") is not null ? "tag" : "vlan_mode")}", verr);
            return new PortConfig(name, type, options, tag, trunks, mode);
        }
    }
}
