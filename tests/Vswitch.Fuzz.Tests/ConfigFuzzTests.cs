using CsCheck;
using Vswitch.Daemon.Config;
using Xunit.Abstractions;

namespace Vswitch.Fuzz.Tests;

/// <summary>
/// The config reader on arbitrary text: it returns a configuration or throws <see cref="ConfigException"/> naming a position,
/// never anything else; what it accepts writes back to JSON that loads to the same configuration.
/// </summary>
public class ConfigFuzzTests(ITestOutputHelper output)
{
    private static readonly string[] Seeds =
    [
        """
        defaults:
          mac_aging: 120
          flow_idle_timeout: 5
        bridges:
          - name: br0
            flow_limit: 1000
            ports:
              - name: p1
                type: tap
                options: &o {iface: tap7, queues: 2}
                tag: 10
              - name: p2
                trunks: [10, 20]
                options: *o
              - name: p3
                vlan_mode: native-untagged
                tag: 5
                trunks: "7,8-9"
        """,
        """{"defaults":{"mac_aging":300,"mac_table_size":8192,"flow_idle_timeout":10,"flow_limit":200000},"bridges":[{"name":"br0","ports":[{"name":"p1","type":"afpacket","tag":3}]}]}""",
        "bridges:\n  - {name: b, ports: [{name: x, type: memory, options: {a: 1}}]}\n",
        "a: &a [1,2]\nb: &b [*a,*a]\nc: [*b,*b]\n",
        "---\n---\n",
        ConfigHostileSeeds.Deep,
    ];

    private const string Alphabet = "{}[]:,-&*!|>'\"#%@` \n\t\r?abcdefghijklmnopqrstuvwxyz0123456789_.";

    internal static readonly Gen<string> Documents = Gen.OneOf(
        Gen.Select(Gen.Int[0, Seeds.Length - 1], Gen.Int, (i, seed) => Mutate.Text(Seeds[i], seed)),
        Gen.String[Gen.Char[Alphabet], 0, 400],
        Gen.String);

    [Fact]
    public void ReaderReturnsAConfigurationOrAPositionedError()
    {
        FuzzBudget.Run(Documents, text =>
        {
            foreach (var file in (string[])["fuzz.yaml", "fuzz.json"])
            {
                SwitchConfig config;
                try
                {
                    config = ConfigLoader.Load(file, text);
                }
                catch (ConfigException ex)
                {
                    Assert.StartsWith(file, ex.Message);
                    continue;
                }
                var json = ConfigLoader.ToJson(config);
                Assert.Equal(json, ConfigLoader.ToJson(ConfigLoader.Load("again.json", json)));
            }
        }, FuzzBudget.Strings, output);
    }
}

internal static class ConfigHostileSeeds
{
    public static readonly string Deep = "bridges: " + new string('[', 40) + new string(']', 40) + "\n";
}
