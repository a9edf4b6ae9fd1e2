using Vswitch.Datapath.Userspace;
using Vswitch.Interop.Linux;
using Vswitch.Netdev;
using Vswitch.Packets;

namespace Vswitch.Datapath.Tests.Userspace;

public class ContractTests
{
    private static string NewName() => "vsw" + Guid.NewGuid().ToString("N")[..8];
    private static UserspaceDatapathProvider Manual() => new(new UserspaceDatapathOptions { PollThreads = 0 });

    [Fact]
    public void OpenWithoutCreateOfMissingDatapathIsEnodev()
    {
        var p = Manual();
        Assert.Equal(Errno.ENODEV, p.Open(NewName(), false, out var dp));
        Assert.Null(dp);
    }

    [Theory]
    [InlineData("")]
    [InlineData("name-longer-than-15")]
    [InlineData("a/b")]
    [InlineData("a b")]
    public void BadNamesAreEinval(string name)
    {
        Assert.Equal(Errno.EINVAL, Manual().Open(name, true, out _));
    }

    [Fact]
    public void CreateThenOpenSharesTheDatapathAndEnumerateListsIt()
    {
        var p = Manual();
        string n1 = NewName(), n2 = NewName();
        Assert.True(p.Open(n1, true, out var a).IsSuccess);
        Assert.True(p.Open(n2, true, out var b).IsSuccess);
        Assert.True(p.Open(n1, false, out var a2).IsSuccess);
        var names = new List<string> { "keep" };
        Assert.True(p.Enumerate(names).IsSuccess);
        Assert.Equal(new[] { "keep", n1, n2 }.Order(), names.Order());
        // Both handles see the same ports.
        Assert.True(a!.PortQueryByNumber(0, out var local).IsSuccess);
        Assert.Equal(n1, local!.Name);
        Assert.Equal(InternalNetdev.TypeName, local.Type);
        Assert.True(a2!.PortQueryByName(n1, out var local2).IsSuccess);
        Assert.Same(local.Device, local2!.Device);
        // Create on an existing datapath opens it (the seed's contract).
        Assert.True(p.Open(n1, true, out var a3).IsSuccess);
        Assert.Equal(n1, a3!.Name);
        var all = new List<string>();
        Assert.True(a.GetAllNames(all).IsSuccess);
        Assert.Equal([n1], all);
        Assert.Equal("netdev", a.Type);
        a.Destroy();
        b!.Destroy();
    }

    [Fact]
    public void ClosedHandleAndDestroyedDatapathReturnEnodev()
    {
        var p = Manual();
        string n = NewName();
        p.Open(n, true, out var a);
        p.Open(n, false, out var b);
        a!.Dispose();
        Assert.Equal(Errno.ENODEV, a.GetStats(out _));
        Assert.True(b!.GetStats(out _).IsSuccess); // closing one handle leaves the datapath alive
        Assert.True(b.Destroy().IsSuccess);
        Assert.Equal(Errno.ENODEV, b.GetStats(out _));
        Assert.Equal(Errno.ENODEV, b.FlowFlush());
        Assert.Equal(Errno.ENODEV, b.Destroy());
        Assert.Equal(Errno.ENODEV, p.Open(n, false, out _));
        var names = new List<string>();
        p.Enumerate(names);
        Assert.DoesNotContain(n, names);
        // The name can be created again.
        Assert.True(p.Open(n, true, out var c).IsSuccess);
        c!.Destroy();
    }

    [Fact]
    public void DestroyWakesABlockedUpcallWaiter()
    {
        var p = Manual();
        p.Open(NewName(), true, out var dp);
        bool? result = null;
        bool calling = false;
        var waiter = new Thread(() => { Volatile.Write(ref calling, true); result = dp!.RecvWait(-1); }) { Name = Wait.UniqueThreadName("recvwait") };
        waiter.Start();
        Wait.For(() => Volatile.Read(ref calling), "the waiter to call RecvWait");
        Wait.ForThreadAsleep(waiter.Name!, Wait.InFutex, "the waiter to block in RecvWait");
        Assert.True(dp!.Destroy().IsSuccess);
        Assert.True(waiter.Join(5000), "RecvWait(-1) must return when the datapath is destroyed");
        Assert.False(result);
    }

    [Fact]
    public void SettingsRoundTrip()
    {
        using var t = new ManualDatapath();
        var dp = t.Dp;
        Assert.True(dp.GetDropFrags(out var df).IsSuccess);
        Assert.False(df);
        dp.SetDropFrags(true);
        dp.GetDropFrags(out df);
        Assert.True(df);
        dp.GetSflowProbability(out var prob);
        Assert.Equal(0u, prob);
        dp.SetSflowProbability(12345);
        dp.GetSflowProbability(out prob);
        Assert.Equal(12345u, prob);
        dp.GetListenMask(out var mask);
        Assert.Equal(DatapathListenMask.None, mask);
        dp.SetListenMask(DatapathListenMask.Miss | DatapathListenMask.Action);
        dp.GetListenMask(out mask);
        Assert.Equal(DatapathListenMask.Miss | DatapathListenMask.Action, mask);
        Assert.Equal(Errno.EINVAL, dp.SetListenMask((DatapathListenMask)64));
        Assert.True(dp.QueueToPriority(0, out var prio).IsSuccess);
        Assert.Equal(0x10001u, prio);
        Assert.True(dp.QueueToPriority(5, out prio).IsSuccess);
        Assert.Equal(0x10006u, prio);
        Assert.Equal(Errno.EINVAL, dp.QueueToPriority(0xF000, out _));
        Assert.Equal(256, dp.MaxPorts);
    }

    [Fact]
    public void RegistryOpensByTypeAndEdgeThrowsNamingTheDatapath()
    {
        var reg = new DatapathRegistry();
        reg.Register(Manual());
        Assert.Throws<InvalidOperationException>(() => reg.Register(Manual()));
        Assert.Equal(["netdev"], reg.Types);
        Assert.Equal(Errno.EAFNOSUPPORT, reg.TryOpen("system", "x", true, out _, out var err));
        Assert.Contains("netdev", err);
        string n = NewName();
        var ex = Assert.Throws<DatapathException>(() => reg.Open("netdev", n, false));
        Assert.Equal(Errno.ENODEV, ex.Error);
        Assert.Contains(n, ex.Message);
        using var dp = reg.Open("netdev", n, true);
        Assert.Contains("netdev@" + n, reg.EnumerateAll());
        var ex2 = Assert.Throws<DatapathException>(() => dp.DeletePort(77));
        Assert.Equal(Errno.ENOENT, ex2.Error);
        Assert.Contains(n, ex2.Message);
        Assert.Contains("port del", ex2.Message);
        Assert.Null(dp.FindPort(77));
        Assert.NotNull(dp.FindPort(n));
        Assert.False(dp.TryReceiveUpcall(out _));
        Assert.Null(dp.GetFlow(default, Masks.InPortOnly()));
        var ex3 = Assert.Throws<DatapathException>(() => dp.PutFlow(FlowPutFlags.Create, default, default, Vswitch.Datapath.Odp.OdpActionList.Drop));
        Assert.Equal(Errno.EINVAL, ex3.Error);
        Assert.Contains("in_port", ex3.Message);
        dp.Destroy();
    }

    [Fact]
    public void PortAddChoosesLowestFreeNumberAndRefusesDuplicates()
    {
        using var t = new ManualDatapath(new UserspaceDatapathOptions { PollThreads = 0, MaxPorts = 5 });
        var dp = t.Dp;
        var dupName = new InternalNetdev(t.P1.Name);
        Assert.Equal(Errno.EEXIST, dp.PortAdd(dupName, out _));
        Assert.Equal(Errno.EEXIST, dp.PortAdd(t.P1, out _));
        var x = new InternalNetdev("vswx" + Guid.NewGuid().ToString("N")[..6]);
        Assert.Equal(Errno.EEXIST, dp.PortAdd(x, 2, out _)); // number taken
        Assert.Equal(Errno.EFBIG, dp.PortAdd(x, 5, out _));  // beyond MaxPorts
        Assert.True(dp.PortAdd(x, 4, out var n4).IsSuccess);
        Assert.Equal(4u, n4);
        var y = new InternalNetdev("vswy" + Guid.NewGuid().ToString("N")[..6]);
        Assert.True(dp.PortAdd(y, out var n3).IsSuccess);
        Assert.Equal(3u, n3);
        var z = new InternalNetdev("vswz" + Guid.NewGuid().ToString("N")[..6]);
        Assert.Equal(Errno.EFBIG, dp.PortAdd(z, out _));
        Assert.True(dp.PortDump(out var ports).IsSuccess);
        Assert.Equal([0u, 1u, 2u, 3u, 4u], ports.Select(p => p.PortNo));
        Assert.Equal(Errno.EINVAL, dp.PortDel(0));
        Assert.Equal(Errno.ENOENT, dp.PortDel(77));
        Assert.True(dp.PortDel(3).IsSuccess);
        Assert.True(y.IsDisposed); // the datapath owned it
        Assert.Equal(Errno.ENOENT, dp.PortQueryByNumber(3, out _));
        Assert.Equal(Errno.ENOENT, dp.PortQueryByName(y.Name, out _));
        Assert.True(dp.PortAdd(z, out var again).IsSuccess);
        Assert.Equal(3u, again);
        z.Dispose();
        var disposed = new InternalNetdev("vswq" + Guid.NewGuid().ToString("N")[..6]);
        disposed.Dispose();
        Assert.Equal(Errno.EINVAL, dp.PortAdd(disposed, out _));
        // Port dump snapshot is unaffected by later changes.
        Assert.Equal(5, ports.Count);
    }

    [Fact]
    public void PortPollReportsAddDeleteAndDeviceChangesThenEagain()
    {
        using var t = new ManualDatapath();
        var dp = t.Dp;
        // The two adds of the fixture.
        Assert.True(dp.PortPoll(out var name).IsSuccess);
        Assert.Equal(t.P1.Name, name);
        Assert.True(dp.PortPoll(out name).IsSuccess);
        Assert.Equal(t.P2.Name, name);
        Assert.Equal(Errno.EAGAIN, dp.PortPoll(out _));
        Assert.False(dp.PortPollWait(20));
        // A device change (admin down -> link down) bumps its change sequence.
        t.P2.UpdateFlags(NetdevFlags.Up, NetdevFlags.None, out _);
        Assert.True(dp.PortPollWait(1000));
        Assert.True(dp.PortPoll(out name).IsSuccess);
        Assert.Equal(t.P2.Name, name);
        Assert.Equal(Errno.EAGAIN, dp.PortPoll(out _));
        // Deletion, noticed by a waiter on another thread.
        bool woke = false, calling = false;
        var waiter = new Thread(() => { Volatile.Write(ref calling, true); woke = dp.PortPollWait(5000); }) { Name = Wait.UniqueThreadName("portpoll") };
        waiter.Start();
        Wait.For(() => Volatile.Read(ref calling), "the waiter to call PortPollWait");
        Wait.ForThreadAsleep(waiter.Name!, Wait.InFutex, "the waiter to block in PortPollWait");
        Assert.True(dp.PortDel(1).IsSuccess);
        Assert.True(waiter.Join(5000));
        Assert.True(woke);
        Assert.True(dp.PortPoll(out name).IsSuccess);
        Assert.Equal(t.P1.Name, name);
    }

    [Fact]
    public void PortPollOverflowReportsEnobufsOnce()
    {
        using var t = new ManualDatapath();
        var dp = t.Dp;
        var dev = new InternalNetdev("vswo" + Guid.NewGuid().ToString("N")[..6]);
        dp.PortAdd(dev, out var no);
        for (int i = 0; i < 40; i++)
        {
            Assert.True(dp.PortDel(no).IsSuccess);
            dev = new InternalNetdev("vswo" + Guid.NewGuid().ToString("N")[..6]);
            Assert.True(dp.PortAdd(dev, out no).IsSuccess);
        }
        Assert.Equal(Errno.ENOBUFS, dp.PortPoll(out var name));
        Assert.Null(name);
        // After the resync report, new changes are reported again.
        Assert.Equal(Errno.EAGAIN, dp.PortPoll(out _));
        dev.SetLinkState(LinkState.Down);
        Assert.True(dp.PortPoll(out name).IsSuccess);
        Assert.Equal(dev.Name, name);
    }
}
