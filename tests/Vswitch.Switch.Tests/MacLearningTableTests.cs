using Vswitch.Switch.Normal;
using static Vswitch.Switch.Tests.Keys;

namespace Vswitch.Switch.Tests;

public class MacLearningTableTests
{
    [Fact]
    public void LearnsAndLooksUpPerVlan()
    {
        var t = new MacLearningTable(new ManualClock());
        Assert.Equal(MacLearnKind.Learned, t.Learn(10, Mac(1), 3).Kind);
        Assert.True(t.TryLookup(10, Mac(1), out var port));
        Assert.Equal(3u, port);
        Assert.False(t.TryLookup(20, Mac(1), out _));
        Assert.Equal(MacLearnKind.Refreshed, t.Learn(10, Mac(1), 3).Kind);
    }

    [Fact]
    public void DetectsMove()
    {
        var t = new MacLearningTable(new ManualClock());
        t.Learn(0, Mac(1), 1);
        var r = t.Learn(0, Mac(1), 2);
        Assert.Equal(MacLearnKind.Moved, r.Kind);
        Assert.Equal(1u, r.PreviousPort);
        Assert.True(r.ChangesForwarding);
        Assert.True(t.TryLookup(0, Mac(1), out var port));
        Assert.Equal(2u, port);
    }

    [Fact]
    public void AgesOutWithClock()
    {
        var clock = new ManualClock();
        var t = new MacLearningTable(clock, TimeSpan.FromSeconds(300));
        t.Learn(0, Mac(1), 1);
        clock.Advance(TimeSpan.FromSeconds(299));
        Assert.True(t.TryLookup(0, Mac(1), out _));
        Assert.Empty(t.Expire());
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.False(t.TryLookup(0, Mac(1), out _));
        var expired = t.Expire();
        Assert.Single(expired);
        Assert.Equal(Mac(1), expired[0].Mac);
        Assert.Equal(0, t.Count);
    }

    [Fact]
    public void RefreshKeepsEntryAlive()
    {
        var clock = new ManualClock();
        var t = new MacLearningTable(clock, TimeSpan.FromSeconds(10));
        t.Learn(0, Mac(1), 1);
        clock.Advance(TimeSpan.FromSeconds(8));
        t.Learn(0, Mac(1), 1);
        clock.Advance(TimeSpan.FromSeconds(8));
        Assert.True(t.TryLookup(0, Mac(1), out _));
    }

    [Fact]
    public void SizeLimitEvictsLeastRecentlySeen()
    {
        var clock = new ManualClock();
        var t = new MacLearningTable(clock, maxEntries: 3);
        for (int i = 1; i <= 3; i++) { t.Learn(0, Mac(i), (uint)i); clock.Advance(TimeSpan.FromSeconds(1)); }
        t.Learn(0, Mac(1), 1);                 // 1 is now the most recent; 2 is the oldest
        var r = t.Learn(0, Mac(4), 4);
        Assert.Equal(MacLearnKind.Learned, r.Kind);
        Assert.NotNull(r.Evicted);
        Assert.Equal(Mac(2), r.Evicted!.Value.Mac);
        Assert.Equal(3, t.Count);
        Assert.False(t.TryLookup(0, Mac(2), out _));
        Assert.True(t.TryLookup(0, Mac(1), out _));
    }

    [Fact]
    public void MulticastSourceIsNotLearned()
    {
        var t = new MacLearningTable(new ManualClock());
        Assert.Equal(MacLearnKind.Ignored, t.Learn(0, Packets.MacAddress.Broadcast, 1).Kind);
        Assert.Equal(0, t.Count);
    }

    [Fact]
    public void FlushPortRemovesOnlyThatPort()
    {
        var t = new MacLearningTable(new ManualClock());
        t.Learn(0, Mac(1), 1);
        t.Learn(0, Mac(2), 2);
        Assert.Single(t.FlushPort(1));
        Assert.False(t.TryLookup(0, Mac(1), out _));
        Assert.True(t.TryLookup(0, Mac(2), out _));
    }
}
