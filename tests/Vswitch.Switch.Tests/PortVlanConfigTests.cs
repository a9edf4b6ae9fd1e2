using Vswitch.Switch.Normal;

namespace Vswitch.Switch.Tests;

public class PortVlanConfigTests
{
    [Fact]
    public void AccessPortAdmitsUntaggedOnly()
    {
        var p = PortVlanConfig.Access(10);
        Assert.Equal(10, p.InputVlan(null));
        Assert.Equal(10, p.InputVlan(0));      // priority tag
        Assert.Equal(-1, p.InputVlan(10));
        Assert.True(p.IncludesVlan(10));
        Assert.False(p.IncludesVlan(20));
        Assert.Null(p.OutputVid(10));
    }

    [Fact]
    public void TrunkWithListFilters()
    {
        var p = PortVlanConfig.Trunk(10, 20);
        Assert.Equal(10, p.InputVlan(10));
        Assert.Equal(-1, p.InputVlan(30));
        Assert.Equal(-1, p.InputVlan(null));   // VLAN 0 not in the list
        Assert.Equal(20, p.OutputVid(20));
    }

    [Fact]
    public void EmptyTrunkCarriesAll()
    {
        var p = PortVlanConfig.TrunkAll;
        Assert.Equal(0, p.InputVlan(null));
        Assert.Equal(4000, p.InputVlan(4000));
        Assert.Null(p.OutputVid(0));
    }

    [Fact]
    public void NativeUntaggedAndTagged()
    {
        var u = PortVlanConfig.Create(VlanMode.NativeUntagged, 5, [7]);
        Assert.Equal(5, u.InputVlan(null));
        Assert.Equal(7, u.InputVlan(7));
        Assert.Equal(-1, u.InputVlan(8));
        Assert.Null(u.OutputVid(5));
        Assert.Equal(7, u.OutputVid(7));
        var t = PortVlanConfig.Create(VlanMode.NativeTagged, 5, [7]);
        Assert.Equal(5, t.OutputVid(5));
    }

    [Theory]
    [InlineData(null, 0, "tag")]
    [InlineData(null, 4096, "tag")]
    [InlineData(VlanMode.Trunk, 5, "trunk")]
    [InlineData(VlanMode.NativeTagged, null, "native")]
    public void InvalidConfigsAreRefused(VlanMode? mode, int? tag, string expected)
    {
        Assert.False(PortVlanConfig.TryCreate(mode, tag, null, out _, out var error));
        Assert.Contains(expected, error);
    }

    [Fact]
    public void TagWithTrunksIsANativeUntaggedTrunk()
    {
        var p = PortVlanConfig.Create(null, 5, [7]);
        Assert.Equal(VlanMode.NativeUntagged, p.Mode);
        Assert.Equal(5, p.InputVlan(null));
        Assert.Equal(7, p.InputVlan(7));
        Assert.Equal("tag=5 trunks=7", p.ToString());
        Assert.False(PortVlanConfig.TryCreate(VlanMode.Access, 5, [7], out _, out var error));
        Assert.Contains("access", error);
    }

    [Fact]
    public void ParsesTrunkLists()
    {
        Assert.True(PortVlanConfig.TryParseTrunks("10,20-22", out var v, out _));
        Assert.Equal([10, 20, 21, 22], v);
        Assert.False(PortVlanConfig.TryParseTrunks("10,x", out _, out var e));
        Assert.Contains("'x'", e);
        Assert.False(PortVlanConfig.TryParseTrunks("5000", out _, out _));
    }
}
