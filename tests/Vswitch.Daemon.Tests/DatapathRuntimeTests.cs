using Vswitch.Datapath;

namespace Vswitch.Daemon.Tests;

/// <summary>The one runtime in src: its providers, and bridges on its datapaths (memory ports, no root needed).</summary>
public sealed class DatapathRuntimeTests
{
    private static string NewName() => "vsw" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public void RegistersEveryProviderOnceWithItsOneCall()
    {
        using var runtime = new DatapathRuntime(256);
        Assert.Equal(["afpacket", "memory", "tap"], runtime.Netdevs.Providers.Select(p => p.Type).Order(StringComparer.Ordinal));
        Assert.Equal(["netdev"], runtime.Datapaths.Types);
        Assert.Same(runtime.Memory, runtime.Netdevs.Providers.Single(p => p.Type == "memory"));
    }

    [Fact]
    public void OpensABridgeDatapathByTypeAndNamesAnUnknownType()
    {
        using var runtime = new DatapathRuntime(256);
        var name = NewName();
        var ex = Assert.Throws<DatapathException>(() => runtime.CreateBridgeDatapath("system", name));
        Assert.Contains($"datapath '{name}'", ex.Message);
        Assert.Contains("unknown datapath type 'system' (known types: netdev)", ex.Message);
        using var dp = runtime.CreateBridgeDatapath(DatapathRegistry.DefaultType, name);
        Assert.Equal("netdev", dp.Type);
        Assert.Equal(name, dp.Name);
    }

    [Fact]
    public void TheDaemonOnTheRuntimeRunsUserspaceDatapaths()
    {
        using var runtime = new DatapathRuntime(1024);
        using var d = new SwitchDaemon(new SwitchDaemonOptions { StateDirectory = null, StartThreads = false, DatapathFactory = runtime.CreateBridgeDatapath });
        var br = NewName();
        Assert.True(d.Execute("add-br", br).Ok);
        var r = d.Execute("add-port", br, "p1", "type=memory");
        Assert.True(r.Ok, r.Error);
        Assert.Equal($"netdev@{br}\n", d.Execute("dpctl/dump-dps").Output);
        Assert.Contains("port 1: p1 (memory)", d.Execute("dpctl/show", br).Output);
        r = d.Execute("add-port", br, "p2", "type=memory", "bogus=1");
        Assert.False(r.Ok);
        Assert.Contains("memory: unknown option 'bogus'", r.Error);
        Assert.Equal(["p1"], d.Bridges.Single().Ports.Select(p => p.Name));
        Assert.True(d.Execute("del-br", br).Ok);
        Assert.Empty(runtime.Datapaths.EnumerateAll());
    }
}
