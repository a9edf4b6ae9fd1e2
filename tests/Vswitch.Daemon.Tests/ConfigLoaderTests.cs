using Vswitch.Daemon.Config;
using Vswitch.Switch.Normal;

namespace Vswitch.Daemon.Tests;

public class ConfigLoaderTests
{
    private const string GoodYaml = """
        defaults:
          mac_aging: 120
          flow_idle_timeout: 5
        bridges:
          - name: br0
            flow_limit: 1000
            ports:
              - name: p1
                type: tap
                options:
                  iface: tap7
                  queues: 2
                tag: 10
              - name: p2
                trunks: [10, 20]
              - name: p3
                vlan_mode: native-untagged
                tag: 5
                trunks: "7,8-9"
        """;

    [Fact]
    public void LoadsYaml()
    {
        var c = ConfigLoader.Load("switch.yaml", GoodYaml);
        Assert.Equal(120, c.Defaults.MacAgingSeconds);
        Assert.Equal(5, c.Defaults.FlowIdleSeconds);
        var br = Assert.Single(c.Bridges);
        Assert.Equal(1000, br.FlowLimit);
        Assert.Equal(3, br.Ports.Count);
        Assert.Equal("tap", br.Ports[0].Type);
        Assert.Equal("iface=tap7,queues=2", br.Ports[0].ToSpec().Options.ToString());
        Assert.Equal(VlanMode.Access, br.Ports[0].Vlan.Mode);
        Assert.Equal("afpacket", br.Ports[1].Type);
        Assert.Equal([10, 20], br.Ports[1].Trunks);
        Assert.Equal(VlanMode.NativeUntagged, br.Ports[2].Vlan.Mode);
        Assert.Equal([7, 8, 9], br.Ports[2].Trunks);
        Assert.Equal(TimeSpan.FromSeconds(5), br.ToSettings(c.Defaults).Flows.IdleTimeout);
    }

    [Fact]
    public void JsonRoundTripsThroughTheWriter()
    {
        var c = ConfigLoader.Load("switch.yaml", GoodYaml);
        var json = ConfigLoader.ToJson(c);
        var back = ConfigLoader.Load("state.json", json);
        Assert.Equal(ConfigLoader.ToJson(back), json);
        Assert.Equal(c.Bridges[0].Ports[2].Vlan.ToString(), back.Bridges[0].Ports[2].Vlan.ToString());
    }

    [Theory]
    [InlineData("bridges:\n  - name: br0\n    ports:\n      - name: p1\n        tag: 5000\n", 5, "bridges[0].ports[0].tag", "1..4095")]
    [InlineData("bridges:\n  - name: br0\n    colour: red\n", 3, "bridges[0].colour", "unknown field")]
    [InlineData("bridges:\n  - name: br0\n  - name: br0\n", 3, "bridges[1].name", "defined twice")]
    [InlineData("bridges:\n  - name: br0\n    ports:\n      - type: tap\n", 4, "bridges[0].ports[0].name", "missing")]
    [InlineData("bridges:\n  - name: br0\n    ports:\n      - name: p1\n        trunks: [1, x]\n", 5, "bridges[0].ports[0].trunks", "VLAN")]
    [InlineData("defaults:\n  mac_aging: soon\n", 2, "defaults.mac_aging", "integer")]
    [InlineData("bridges:\n  - name: br0\n    ports:\n      - name: p1\n        tag: 3\n        vlan_mode: trunk\n", 5, "bridges[0].ports[0].tag", "trunk")]
    [InlineData("bridges:\n  - name: a-name-far-too-long\n", 2, "bridges[0].name", "invalid")]
    public void YamlErrorsNameFileLineAndField(string yaml, int line, string field, string problem)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Load("/etc/vswitch.yaml", yaml));
        Assert.Equal("/etc/vswitch.yaml", ex.File);
        Assert.Equal(line, ex.Line);
        Assert.Equal(field, ex.Field);
        Assert.Contains(problem, ex.Message);
        Assert.StartsWith($"/etc/vswitch.yaml:{line}:", ex.Message);
    }

    [Fact]
    public void PortOnTwoBridgesIsRefused()
    {
        var yaml = "bridges:\n  - name: a\n    ports: [{name: p1}]\n  - name: b\n    ports:\n      - name: p1\n";
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Load("c.yaml", yaml));
        Assert.Equal(6, ex.Line);
        Assert.Contains("already on bridge \"a\"", ex.Message);
    }

    [Fact]
    public void JsonSemanticErrorNamesLineAndField()
    {
        var json = "{\n  \"bridges\": [\n    {\n      \"name\": \"br0\",\n      \"ports\": [ { \"name\": \"p1\", \"tag\": \"ten\" } ]\n    }\n  ]\n}\n";
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Load("sw.json", json));
        Assert.Equal(5, ex.Line);
        Assert.Equal("bridges[0].ports[0].tag", ex.Field);
        Assert.StartsWith("sw.json:5:", ex.Message);
    }

    [Fact]
    public void JsonSyntaxErrorNamesLine()
    {
        var json = "{\n  \"bridges\": [\n    { \"name\": \"br0\", }\n  ]\n}\n";
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Load("sw.json", json));
        Assert.Equal(3, ex.Line);
        Assert.Contains("JSON syntax error", ex.Message);
    }

    [Fact]
    public void YamlSyntaxErrorNamesLine()
    {
        var yaml = "bridges:\n  - name: br0\n    ports: [a, b\n";
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Load("sw.yaml", yaml));
        Assert.True(ex.Line >= 3, ex.Message);
        Assert.Contains("YAML syntax error", ex.Message);
    }

    [Fact]
    public void EmptyFileIsAnEmptySwitch()
    {
        Assert.Empty(ConfigLoader.Load("empty.yaml", "").Bridges);
        Assert.Equal(300, ConfigLoader.Load("empty.yaml", "# nothing\n").Defaults.MacAgingSeconds);
    }
}
