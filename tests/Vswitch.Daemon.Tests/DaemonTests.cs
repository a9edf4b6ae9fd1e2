using Vswitch.Daemon.Config;
using Vswitch.Switch;
using Vswitch.Switch.Tests;

namespace Vswitch.Daemon.Tests;

public class DaemonTests
{
    /// <summary>Bridges on in-memory datapaths: commands and persistence without packet I/O.</summary>
    internal static readonly DatapathFactory Offline = (_, name) => new OfflineDatapath(name);

    private static SwitchDaemon Start(TempDir dir, string? config = null) => new(new SwitchDaemonOptions
    {
        StateDirectory = dir.File("state"),
        ConfigFile = config,
        StartThreads = false,
        DatapathFactory = Offline,
    });

    private static string Ok(SwitchDaemon d, string cmd, params string[] args)
    {
        var r = d.Execute(cmd, args);
        Assert.True(r.Ok, $"{cmd} {string.Join(' ', args)}: {r.Error}");
        Assert.Equal(0, r.ExitCode);
        return r.Output;
    }

    [Fact]
    public void ChangesArePersistedAndRestored()
    {
        using var dir = new TempDir();
        using (var d = Start(dir))
        {
            Ok(d, "add-br", "br0");
            Ok(d, "add-port", "br0", "p1", "type=tap", "iface=tap7", "queues=2");
            Ok(d, "add-port", "br0", "p2", "tag=10");
            Ok(d, "add-port", "br0", "p3", "trunks=10,20");
            Ok(d, "set-port", "br0", "p1", "queues=4");
            Ok(d, "del-port", "br0", "p3");
        }
        Assert.True(File.Exists(dir.File("state/state.json")));
        Assert.Empty(Directory.GetFiles(dir.File("state"), "*.tmp"));
        using (var d = Start(dir))
        {
            var br = Assert.Single(d.Bridges);
            Assert.Equal(["p1", "p2"], br.Ports.Select(p => p.Name));
            Assert.Equal("iface=tap7,queues=4", br.FindPort("p1")!.Spec.Options.ToString());
            Assert.Equal(10, br.FindPort("p2")!.Spec.Vlan.Tag);
            Assert.Contains("tag: 10", Ok(d, "show"));
            Assert.Equal("tap7\n", Ok(d, "netdev-tap/get-tapname", "p1"));
        }
    }

    [Theory]
    [InlineData("add-br", new[] { "br0" }, "already exists")]
    [InlineData("add-br", new[] { "bad/name" }, "invalid")]
    [InlineData("del-br", new[] { "nope" }, "no bridge")]
    [InlineData("add-port", new[] { "nope", "p9" }, "no bridge")]
    [InlineData("add-port", new[] { "br0", "p1" }, "already exists")]
    [InlineData("add-port", new[] { "br0", "p9", "tag=0" }, "1..4095")]
    [InlineData("add-port", new[] { "br0", "p9", "tag=5", "vlan_mode=access", "trunks=6" }, "access")]
    [InlineData("add-port", new[] { "br0", "p9", "noequals" }, "OPTION=VALUE")]
    [InlineData("add-port", new[] { "br0", "p9", "a=1", "a=2" }, "twice")]
    [InlineData("add-port", new[] { "br0", "p9", "trunks=1,x" }, "'x'")]
    [InlineData("del-port", new[] { "br0", "p9" }, "no port")]
    [InlineData("set-port", new[] { "br0", "p1", "vlan_mode=sideways" }, "vlan_mode")]
    [InlineData("set-port", new[] { "br0", "p1", "missing=" }, "no option")]
    [InlineData("set-port", new[] { "br0", "p9", "tag=3" }, "no port")]
    [InlineData("fdb/show", new[] { "nope" }, "no such bridge")]
    [InlineData("netdev-tap/get-tapname", new[] { "p1" }, "not tap")]
    [InlineData("vlog/set", new[] { "bridge:dbg", "nosuch:info" }, "nosuch")]
    [InlineData("ofproto/trace", new[] { "br0", "in_port(1),bogus(2)" }, "bogus")]
    [InlineData("show", new[] { "extra" }, "argument")]
    [InlineData("no-such-command", new string[0], "not a valid command")]
    [InlineData("add-br", new[] { "--bogus", "br9" }, "unknown option --bogus")]
    [InlineData("add-port", new[] { "--may-exist", "br0" }, "missing port name")]
    [InlineData("dpctl/add-dp", new[] { "dp9", "p8", "p8,tag=3" }, "interface p8 given twice")]
    [InlineData("dpctl/add-dp", new[] { "dp9", "p8", "dp9" }, "is a bridge name")]
    [InlineData("dpctl/add-dp", new[] { "dp9", "p8", "p9,tag=0" }, "1..4095")]
    [InlineData("dpctl/add-if", new[] { "br0", "p8", "p8" }, "interface p8 given twice")]
    [InlineData("dpctl/del-if", new[] { "br0", "p1", "p1" }, "port p1 given twice")]
    [InlineData("dpctl/set-if", new[] { "br0", "p1" }, "nothing to set")]
    [InlineData("dpctl/dump-flows", new[] { "-x" }, "unknown option -x")]
    public void BadCommandsChangeNothingAndSayWhy(string cmd, string[] args, string expected)
    {
        using var dir = new TempDir();
        using var d = Start(dir);
        Ok(d, "add-br", "br0");
        Ok(d, "add-port", "br0", "p1", "tag=10");
        var before = File.ReadAllText(dir.File("state/state.json"));
        var show = Ok(d, "show");
        var levels = Ok(d, "vlog/list");
        var r = d.Execute(cmd, args);
        Assert.False(r.Ok);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(expected, r.Error);
        Assert.Equal(before, File.ReadAllText(dir.File("state/state.json")));
        Assert.Equal(show, Ok(d, "show"));
        Assert.Equal(levels, Ok(d, "vlog/list"));
        Assert.Equal(["p1"], d.Bridges.Single().Ports.Select(p => p.Name));
    }

    [Fact]
    public void ConfigFileSeedsTheStateAndStateWinsUntilTheFileChanges()
    {
        using var dir = new TempDir();
        var cfg = dir.File("switch.yaml");
        File.WriteAllText(cfg, "bridges:\n  - name: br0\n    ports:\n      - name: p1\n");
        using (var d = Start(dir, cfg))
        {
            Assert.Equal(["p1"], d.Bridges.Single().Ports.Select(p => p.Name));
            Ok(d, "add-port", "br0", "p2");
        }
        using (var d = Start(dir, cfg))   // same file: the saved state (with p2) is restored
            Assert.Equal(["p1", "p2"], d.Bridges.Single().Ports.Select(p => p.Name));
        File.WriteAllText(cfg, "bridges:\n  - name: br1\n");
        using (var d = Start(dir, cfg))   // the file changed: it is applied
            Assert.Equal("br1", d.Bridges.Single().Name);
    }

    [Fact]
    public void InvalidConfigFileRefusesToStartAndKeepsState()
    {
        using var dir = new TempDir();
        using (var d = Start(dir)) Ok(d, "add-br", "br0");
        var before = File.ReadAllText(dir.File("state/state.json"));
        var cfg = dir.File("bad.yaml");
        File.WriteAllText(cfg, "bridges:\n  - name: br0\n    ports:\n      - name: p1\n        tag: many\n");
        var ex = Assert.Throws<ConfigException>(() => Start(dir, cfg));
        Assert.Contains($"{cfg}:5:", ex.Message);
        Assert.Contains("tag", ex.Message);
        Assert.Equal(before, File.ReadAllText(dir.File("state/state.json")));
    }

    [Fact]
    public void FailedSaveUndoesTheChange()
    {
        using var dir = new TempDir();
        using var d = Start(dir);
        Ok(d, "add-br", "br0");
        Ok(d, "add-port", "br0", "p1");
        // Make the state directory unusable (a regular file where the directory was): saving must fail.
        Directory.Delete(dir.File("state"), recursive: true);
        File.WriteAllText(dir.File("state"), "not a directory");
        var r = d.Execute("add-port", "br0", "p2");
        Assert.False(r.Ok);
        Assert.Contains("cannot save state", r.Error);
        Assert.Contains("undone", r.Error);
        Assert.Equal(["p1"], d.Bridges.Single().Ports.Select(p => p.Name));
        Assert.Equal(["p1"], d.Config.Bridges.Single().Ports.Select(p => p.Name));
        r = d.Execute("add-br", "br1");
        Assert.False(r.Ok);
        Assert.Single(d.Bridges);
    }

    [Fact]
    public void WithoutStateDirNothingIsWritten()
    {
        using var d = new SwitchDaemon(new SwitchDaemonOptions { StateDirectory = null, StartThreads = false, DatapathFactory = Offline });
        Assert.True(d.Execute("add-br", "br0").Ok);
        Assert.Single(d.Bridges);
    }

    [Fact]
    public void WithoutADatapathFactoryTheDaemonRefusesToStart()
    {
        using var dir = new TempDir();
        var ex = Assert.Throws<ArgumentException>(() => new SwitchDaemon(new SwitchDaemonOptions
        {
            StateDirectory = dir.File("state"),
            StartThreads = false,
            DatapathFactory = null!,
        }));
        Assert.Contains("no datapath factory", ex.Message);
        Assert.False(Directory.Exists(dir.File("state")), "nothing is saved by a switch that did not start");
    }

    [Fact]
    public void EveryBridgeAsksTheFactoryForTheDefaultDatapathType()
    {
        var asked = new List<(string Type, string Name)>();
        using var d = new SwitchDaemon(new SwitchDaemonOptions
        {
            StateDirectory = null,
            StartThreads = false,
            DatapathFactory = (type, name) => { asked.Add((type, name)); return new OfflineDatapath(name); },
        });
        Ok(d, "add-br", "br0");
        Ok(d, "dpctl/add-dp", "dp0", "p1");
        Assert.Equal([("netdev", "br0"), ("netdev", "dp0")], asked);
    }

    [Fact]
    public void ADatapathThatCannotBeCreatedRefusesTheBridgeAndChangesNothing()
    {
        using var dir = new TempDir();
        bool refuse = false;
        using var d = new SwitchDaemon(new SwitchDaemonOptions
        {
            StateDirectory = dir.File("state"),
            StartThreads = false,
            DatapathFactory = (type, name) => refuse
                ? throw new Vswitch.Datapath.DatapathException(name, "create", Vswitch.Interop.Linux.Errno.EAFNOSUPPORT, $"unknown datapath type '{type}'")
                : new OfflineDatapath(name),
        });
        Ok(d, "add-br", "br0");
        var before = File.ReadAllText(dir.File("state/state.json"));
        refuse = true;
        var r = d.Execute("dpctl/add-dp", "dp1", "p1");
        Assert.False(r.Ok);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("bridge dp1: cannot create its datapath", r.Error);
        Assert.Contains("unknown datapath type 'netdev'", r.Error);
        Assert.Equal(["br0"], d.Bridges.Select(b => b.Name));
        Assert.Equal(before, File.ReadAllText(dir.File("state/state.json")));

        // At start-up the same failure stops the daemon with the bridge named (nothing left running).
        var ex = Assert.Throws<BridgeException>(() => new SwitchDaemon(new SwitchDaemonOptions
        {
            StateDirectory = dir.File("state"),
            StartThreads = false,
            DatapathFactory = (_, name) => throw new Vswitch.Datapath.DatapathException(name, "create", Vswitch.Interop.Linux.Errno.ENOMEM),
        }));
        Assert.Contains("bridge br0: cannot create its datapath", ex.Message);
    }

    [Fact]
    public void FdbAndDpctlCommandsSeeTheBridges()
    {
        using var dir = new TempDir();
        using var d = Start(dir);
        Ok(d, "add-br", "br0");
        Ok(d, "add-port", "br0", "p1");
        Ok(d, "add-port", "br0", "p2");
        var br = d.Bridges.Single();
        var key = default(Packets.FlowKey);
        key.InPort = br.FindPort("p1")!.PortNo;
        key.EthSrc = Packets.MacAddress.Parse("02:00:00:00:00:01");
        key.EthDst = Packets.MacAddress.Broadcast;
        key.EthType = 0x0806;
        br.HandleUpcall(key, null);
        var fdb = Ok(d, "fdb/show", "br0");
        Assert.Contains("02:00:00:00:00:01", fdb);
        Assert.Contains("p1", fdb);
        var flows = Ok(d, "dpctl/dump-flows");
        Assert.Contains("in_port(1),eth(src=02:00:00:00:00:01,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806), packets:0, bytes:0, used:never, actions:2", flows);
        Assert.Contains("flows: 1", Ok(d, "dpctl/show"));
        Assert.Contains("table successfully flushed", Ok(d, "fdb/flush", "br0"));
        Assert.DoesNotContain("02:00:00:00:00:01", Ok(d, "fdb/show", "br0"));
        Assert.Contains("upcall_miss", Ok(d, "coverage/show"));
        Ok(d, "del-br", "br0");
        Assert.Empty(d.Bridges);
    }

    [Fact]
    public void DpctlInterfaceVerbsUseOvsDpctlSyntax()
    {
        using var dir = new TempDir();
        using var d = Start(dir);
        Ok(d, "dpctl/add-dp", "dp0", "p1,type=tap,iface=tap9", "p2");
        var br = d.Bridges.Single();
        Assert.Equal("dp0", br.Name);
        Assert.Equal("tap", br.FindPort("p1")!.Spec.Type);
        Assert.Equal("iface=tap9", br.FindPort("p1")!.Spec.Options.ToString());
        Ok(d, "dpctl/add-if", "offline@dp0", "p3,tag=7");
        Ok(d, "dpctl/set-if", "dp0", "p3,tag=8");
        Assert.Equal(8, br.FindPort("p3")!.Spec.Vlan.Tag);
        Assert.Contains("offline@dp0", Ok(d, "dpctl/dump-dps"));
        Assert.Contains("port 3: p3 (afpacket)", Ok(d, "dpctl/show"));
        Ok(d, "dpctl/del-if", "dp0", "p2");
        Assert.Equal(["p1", "p3"], br.Ports.Select(p => p.Name));

        var before = File.ReadAllText(dir.File("state/state.json"));
        var r = d.Execute("dpctl/add-if", "dp0", "p4", "p1");   // p1 exists: p4 must not stay behind
        Assert.False(r.Ok);
        Assert.Null(br.FindPort("p4"));
        Assert.Equal(before, File.ReadAllText(dir.File("state/state.json")));
        r = d.Execute("dpctl/add-dp", "dp1", "p5", "p5");
        Assert.False(r.Ok);
        Assert.Single(d.Bridges);
        r = d.Execute("dpctl/del-if", "dp0", "p1", "nope");
        Assert.False(r.Ok);
        Assert.NotNull(br.FindPort("p1"));

        Ok(d, "dpctl/del-dp", "dp0");
        Assert.Empty(d.Bridges);
    }

    [Fact]
    public void DpctlFlowVerbsRoundTripInOvsSyntax()
    {
        using var dir = new TempDir();
        using var d = Start(dir);
        Ok(d, "dpctl/add-dp", "dp0", "p1", "p2");
        const string flow = "in_port(1),eth(src=02:00:00:00:00:01,dst=02:00:00:00:00:02),eth_type(0x0800),ipv4(frag=no)";
        Ok(d, "dpctl/add-flow", flow, "2");
        var dump = Ok(d, "dpctl/dump-flows", "dp0");
        Assert.Contains("in_port(1),eth(src=02:00:00:00:00:01,dst=02:00:00:00:00:02),eth_type(0x0800),ipv4(frag=no), packets:0, bytes:0, used:never, actions:2", dump);
        Assert.Contains("actions:2", Ok(d, "dpctl/get-flow", "dp0", flow));
        var r = d.Execute("dpctl/add-flow", flow, "2");
        Assert.False(r.Ok);
        Assert.Contains("File exists", r.Error);
        Ok(d, "dpctl/mod-flow", flow, "push_vlan(vid=5,pcp=0),2");
        Assert.Contains("actions:push_vlan(vid=5,pcp=0),2", Ok(d, "dpctl/dump-flows"));
        r = d.Execute("dpctl/add-flow", "in_port(1),eth(src=02:00:00:00:00:0z)", "2");
        Assert.False(r.Ok);
        Assert.Contains("offset", r.Error);
        r = d.Execute("dpctl/add-flow", flow.Replace("in_port(1)", "in_port(2)"), "bogus_action");
        Assert.False(r.Ok);
        Assert.Single(d.Bridges.Single().Datapath.DumpFlows());
        Ok(d, "dpctl/del-flow", flow);
        Assert.Equal("", Ok(d, "dpctl/dump-flows"));
        r = d.Execute("dpctl/del-flow", flow);
        Assert.False(r.Ok);
        Assert.Contains("No such file", r.Error);
        Ok(d, "dpctl/mod-flow", "--may-create", flow, "1");
        Ok(d, "dpctl/del-flows", "dp0");
        Assert.Empty(d.Bridges.Single().Datapath.DumpFlows());
    }

    [Fact]
    public void CorruptStateIsReportedWithItsFileAndLine()
    {
        using var dir = new TempDir();
        using (var d = Start(dir)) Ok(d, "add-br", "br0");
        var state = dir.File("state/state.json");
        File.WriteAllText(state, "{\n  \"bridges\": [\n    { \"name\": [\"x\"] }\n  ]\n}\n");
        var ex = Assert.Throws<ConfigException>(() => Start(dir));
        Assert.Equal(state, ex.File);
        Assert.Equal(3, ex.Line);
        Assert.Equal("bridges[0].name", ex.Field);
    }
}
