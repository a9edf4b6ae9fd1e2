using System.Text;
using Vswitch.Datapath.Odp;
using Vswitch.Datapath.Userspace;
using Vswitch.Interop.Linux;
using Vswitch.Packets;

namespace Vswitch.Datapath.Tests.Odp;

/// <summary>Action list size and nesting limits (issue 15): enforced by the parser and by the datapath at put and execute.</summary>
public class OdpActionLimitTests
{
    private static string Outputs(int n)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < n; i++) sb.Append(i == 0 ? "" : ",").Append(1 + i % 200);
        return sb.ToString();
    }

    private static OdpActionList OutputList(int n) => new(Enumerable.Range(0, n).Select(i => (OdpAction)new OutputAction((uint)(1 + i % 200))));

    [Fact]
    public void FiftyThousandOutputsAreRefusedWhenParsed()
    {
        Assert.False(OdpActionParser.TryParse(Outputs(50_000), out var actions, out var error));
        Assert.True(actions.IsDrop);
        Assert.Equal("action list too large: 50000 actions take 400000 bytes as datapath attributes, more than the limit of 32768 (OVS's MAX_ACTIONS_BUFSIZE; an output takes 8 bytes)", error.Message);
        Assert.Equal(0, error.Offset);
    }

    [Fact]
    public void TheBoundIsOvsKernelDatapathActionBuffer()
    {
        Assert.True(OdpActionParser.TryParse(Outputs(4096), out var ok, out _));
        Assert.Equal(32768, OdpActionLimits.EncodedSize(ok));
        Assert.False(OdpActionParser.TryParse(Outputs(4097), out _, out var e));
        Assert.Contains("32776 bytes", e.Message);
    }

    [Theory]
    [InlineData("pop_vlan", 4)]
    [InlineData("push_vlan(vid=10,pcp=0)", 8)]
    [InlineData("trunc(100)", 8)]
    [InlineData("set(eth(src=00:01:02:03:04:05,dst=00:01:02:03:04:06))", 20)]
    [InlineData("set(eth(dst=00:01:02:03:04:06))", 32)]
    [InlineData("set(ipv6(src=::1,dst=::2,label=0,proto=6,tclass=0,hlimit=64,frag=no))", 48)]
    [InlineData("set(tcp(src=1,dst=2))", 12)]
    [InlineData("userspace(pid=1)", 12)]
    [InlineData("userspace(pid=1,userdata(0102030405))", 24)]
    [InlineData("clone(1,2)", 20)]
    [InlineData("sample(sample=50.0%,actions(1))", 24)]
    public void SizesFollowOvsNetlinkEncoding(string text, long bytes)
    {
        Assert.Equal(bytes, OdpActionLimits.EncodedSize(OdpActionParser.Parse(text)));
    }

    [Fact]
    public void NestingDeeperThanTheLimitIsRefusedWhenParsed()
    {
        string Nest(int depth) => depth == 0 ? "1" : $"clone({Nest(depth - 1)})";
        Assert.True(OdpActionParser.TryParse(Nest(OdpActionLimits.MaxNesting), out _, out _));
        Assert.False(OdpActionParser.TryParse(Nest(OdpActionLimits.MaxNesting + 1), out _, out var e));
        Assert.Contains($"nested more than {OdpActionLimits.MaxNesting} deep", e.Message);
    }

    [Fact]
    public void DeepNestingBuiltInCodeIsCheckedWithoutRecursingIntoIt()
    {
        var list = OdpActionList.Drop;
        for (int i = 0; i < 100_000; i++) list = new OdpActionList([new CloneAction(list)]);
        Assert.False(OdpActionLimits.TryCheck(list, out var error));
        Assert.Contains("nested more than", error);
    }

    [Fact]
    public void DatapathRefusesOversizedListsAtPutAndExecute()
    {
        var provider = new UserspaceDatapathProvider(new UserspaceDatapathOptions { PollThreads = 0 });
        Assert.True(provider.Open("vsw" + Guid.NewGuid().ToString("N")[..8], true, out var dp).IsSuccess);
        using var pool = new PacketPool(4);
        try
        {
            FlowKey key = default, mask = default;
            key.InPort = 1;
            mask.InPort = uint.MaxValue;
            var huge = OutputList(50_000);
            Assert.Equal(Errno.EINVAL, dp!.FlowPut(FlowPutFlags.Create, key, mask, huge, out _, out var error));
            Assert.Contains("action list too large: 50000 actions", error);
            Assert.True(dp.GetStats(out var stats).IsSuccess);
            Assert.Equal(0ul, stats.Flows);

            Assert.True(pool.TryRent(out var packet));
            Assert.True(packet!.TryAppend(60));
            Assert.Equal(Errno.EINVAL, dp.Execute(packet, huge));   // refused: the packet is released, not multiplied

            Assert.True(dp.FlowPut(FlowPutFlags.Create, key, mask, OutputList(100), out _, out error).IsSuccess, error);
        }
        finally
        {
            dp?.Destroy();
            dp?.Dispose();
        }
    }
}
