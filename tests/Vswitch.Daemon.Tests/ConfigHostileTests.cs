using System.Diagnostics;
using Vswitch.Daemon.Config;

namespace Vswitch.Daemon.Tests;

/// <summary>
/// Hostile configuration files (issue 15): deep nesting, alias expansion ("billion laughs") and huge files fail fast, with
/// bounded memory and a FILE:LINE:COL error.
/// </summary>
public class ConfigHostileTests
{
    /// <summary>The classic nested-alias document: 9 levels of 9 aliases each, 9^9 "lol"s once expanded.</summary>
    internal static string BillionLaughs()
    {
        var text = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
        var previous = 'a';
        foreach (var c in "bcdefghi")
        {
            text += $"{c}: &{c} [{string.Join(',', Enumerable.Repeat($"*{previous}", 9))}]\n";
            previous = c;
        }
        return text;
    }

    private static ConfigException FailsFastWithBoundedMemory(string file, string text)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Load(file, text));
        sw.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"took {sw.Elapsed.TotalMilliseconds:0} ms");
        Assert.True(allocated < 64L << 20, $"allocated {allocated >> 20} MiB");
        Assert.StartsWith(file + ":", ex.Message);
        return ex;
    }

    [Fact]
    public void HundredThousandNestedYamlBracketsFailWithALineNumber()
    {
        var ex = FailsFastWithBoundedMemory("deep.yaml", new string('[', 100_000) + new string(']', 100_000) + "\n");
        Assert.Equal(1, ex.Line);
        Assert.Equal(ConfigDocumentReader.MaxDepth + 1, ex.Column);
        Assert.Contains($"nested more than {ConfigDocumentReader.MaxDepth} levels deep", ex.Message);
    }

    [Fact]
    public void HundredThousandNestedYamlMappingsFail()
    {
        var ex = FailsFastWithBoundedMemory("deep.yaml", "bridges: " + new string('{', 100_000) + "\n");
        Assert.Contains("nested more than", ex.Message);
    }

    [Fact]
    public void HundredThousandNestedJsonBracketsFailWithALineNumber()
    {
        var ex = FailsFastWithBoundedMemory("deep.json", "{\"bridges\":\n" + new string('[', 100_000) + "\n");
        Assert.Equal(2, ex.Line);
        Assert.Contains("JSON syntax error", ex.Message);
        Assert.Contains("depth", ex.Message);
    }

    [Fact]
    public void BillionLaughsFailsFastWithBoundedMemory()
    {
        var text = BillionLaughs();
        Assert.InRange(text.Length, 300, 400);
        var ex = FailsFastWithBoundedMemory("laughs.yaml", text);
        Assert.Contains("alias *", ex.Message);
        Assert.Contains($"beyond {ConfigDocumentReader.MaxNodes} nodes", ex.Message);
        Assert.InRange(ex.Line, 2, 9);
    }

    [Fact]
    public void AliasesWithinTheBoundShareSettings()
    {
        var c = ConfigLoader.Load("switch.yaml", """
            bridges:
              - name: br0
                ports:
                  - name: p1
                    type: tap
                    options: &opts {queues: 2, mtu: 9000}
                    trunks: &vlans [10, 20]
                  - name: p2
                    type: tap
                    options: *opts
                    trunks: *vlans
            """);
        var ports = c.Bridges.Single().Ports;
        Assert.Equal("queues=2,mtu=9000", ports[1].ToSpec().Options.ToString());
        Assert.Equal([10, 20], ports[1].Trunks);
    }

    [Fact]
    public void AnAliasWithoutAnchorIsAnError()
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Load("c.yaml", "bridges: *nothing\n"));
        Assert.Equal("c.yaml:1:10: YAML alias *nothing refers to no anchor defined before it", ex.Message);
    }

    [Fact]
    public void AHugeFileIsRefusedBeforeItIsRead()
    {
        using var dir = new TempDir();
        var path = dir.File("huge.yaml");
        using (var f = File.Create(path)) f.SetLength(ConfigDocumentReader.MaxFileBytes + 1L);
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.LoadFile(path));
        Assert.Equal($"{path}: file too large: {ConfigDocumentReader.MaxFileBytes + 1L} bytes (at most {ConfigDocumentReader.MaxFileBytes})", ex.Message);
        var text = "# " + new string('x', ConfigDocumentReader.MaxFileBytes) + "\n";
        Assert.Contains("file too large", Assert.Throws<ConfigException>(() => ConfigLoader.Load("big.yaml", text)).Message);
    }

    [Fact]
    public void TooManyNodesWithoutAliasesIsRefused()
    {
        var text = "bridges: [" + string.Join(',', Enumerable.Repeat("1", ConfigDocumentReader.MaxNodes + 10)) + "]\n";
        var ex = FailsFastWithBoundedMemory("many.yaml", text);
        Assert.Contains($"more than {ConfigDocumentReader.MaxNodes} nodes", ex.Message);
    }
}

/// <summary>Findings of the fuzz suite (tests/Vswitch.Fuzz.Tests), kept as regular regression tests.</summary>
public class ConfigFuzzFindings
{
    [Theory]
    [InlineData("a: &a [1,2@\nb: &b [*a,*a]\nc: [*b,*b]\n")]   // YamlDotNet threw InvalidOperationException, not YamlException
    [InlineData("a: [1,2@")]
    [InlineData("!!x]1\ni:u628a\n&}a!10e|yylkyg'ex[7\n")]   // ArgumentException: "Global tags must be valid URIs"
    public void ParserErrorsThatAreNotYamlExceptionsAreConfigErrors(string text)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Load("f.yaml", text));
        Assert.StartsWith("f.yaml:", ex.Message);
        Assert.Contains("YAML syntax error", ex.Message);
    }
}
