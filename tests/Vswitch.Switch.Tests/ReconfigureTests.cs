using Vswitch.Datapath;
using Vswitch.Datapath.Userspace;
using Vswitch.Netdev;
using Vswitch.Netdev.Memory;
using Vswitch.Packets;
using Vswitch.Switch.Normal;

namespace Vswitch.Switch.Tests;

/// <summary>
/// A port reconfiguration opens the new device before the running one is touched (issue 15): a refused change keeps the
/// very same device object and port number; an accepted one replaces the device under the same number.
/// </summary>
public sealed class ReconfigureTests : IDisposable
{
    private readonly NetdevRegistry _netdevs = new();
    private readonly MemoryNetdevProvider _memory;
    private readonly PacketPool _pool = new(256);
    private readonly Bridge _bridge;

    public ReconfigureTests()
    {
        _memory = _netdevs.AddMemoryProvider();
        var registry = new DatapathRegistry();
        registry.AddUserspaceProvider(new UserspaceDatapathOptions { PollThreads = 0 });
        var name = TestObjects.NewName('b');
        _bridge = new Bridge(name, new DatapathBridgeAdapter(registry.Open(UserspaceDatapathProvider.TypeName, name, create: true), _netdevs, _pool));
    }

    public void Dispose()
    {
        _bridge.Dispose();
        _pool.Dispose();
    }

    private static BridgePortSpec Spec(string type, string options)
    {
        Assert.True(NetdevOptions.TryParse(options, out var parsed, out var error), error);
        return new("p2", type, parsed, PortVlanConfig.TrunkAll);
    }

    [Theory]
    [InlineData("bogus", "", "unknown port type 'bogus'")]
    [InlineData("memory", "queues=99", "queues=99")]
    [InlineData("memory", "nosuch=1", "unknown option 'nosuch'")]
    [InlineData("memory", "capacity=3", "capacity")]
    public void ARefusedChangeKeepsTheSameDeviceAndNumber(string type, string options, string error)
    {
        _bridge.AddPort(new BridgePortSpec("p1", "memory", NetdevOptions.Empty, PortVlanConfig.TrunkAll));
        _bridge.AddPort(Spec("memory", "mtu=1500"));
        Assert.True(_memory.TryGetDevice("p2", out var before));
        uint number = _bridge.FindPort("p2")!.PortNo;
        var ex = Assert.Throws<BridgeException>(() => _bridge.ReconfigurePort(Spec(type, options)));
        Assert.Contains(error, ex.Message);
        Assert.Contains("the port is unchanged", ex.Message);
        Assert.True(_memory.TryGetDevice("p2", out var after));
        Assert.Same(before, after);
        Assert.False(after.IsDisposed);
        Assert.Equal(number, _bridge.FindPort("p2")!.PortNo);
        Assert.Equal("mtu=1500", _bridge.FindPort("p2")!.Spec.Options.ToString());
    }

    [Fact]
    public void AnAcceptedChangeReplacesTheDeviceUnderTheSameNumber()
    {
        _bridge.AddPort(new BridgePortSpec("p1", "memory", NetdevOptions.Empty, PortVlanConfig.TrunkAll));
        _bridge.AddPort(Spec("memory", "mtu=1500"));
        _bridge.DeletePort("p1");                               // a lower number is free now: the port must keep its own
        Assert.True(_memory.TryGetDevice("p2", out var before));
        uint number = _bridge.FindPort("p2")!.PortNo;
        _bridge.ReconfigurePort(Spec("memory", "mtu=9000"));
        Assert.True(_memory.TryGetDevice("p2", out var after));
        Assert.NotSame(before, after);
        Assert.True(before.IsDisposed);
        Assert.Equal(number, _bridge.FindPort("p2")!.PortNo);
        Assert.True(after.GetMtu(out int mtu).IsSuccess);
        Assert.Equal(9000, mtu);
    }
}
