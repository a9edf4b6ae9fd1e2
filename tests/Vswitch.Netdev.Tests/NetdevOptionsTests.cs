namespace Vswitch.Netdev.Tests;

public sealed class NetdevOptionsTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void TryParse_Empty_GivesNoOptions(string? text)
    {
        Assert.True(NetdevOptions.TryParse(text, out var options, out var error));
        Assert.Null(error);
        Assert.Empty(options);
    }

    [Fact]
    public void TryParse_KeepsOrder_TrimsAndAllowsEqualsInValue()
    {
        Assert.True(NetdevOptions.TryParse(" queues = 4 , iface=eth0,remote=a=b,flag= ", out var options, out _));

        Assert.Equal(4, options.Count);
        Assert.Equal(["queues", "iface", "remote", "flag"], options.Select(p => p.Key).ToArray());
        Assert.Equal("4", options.Get("queues"));
        Assert.Equal("a=b", options.Get("remote"));
        Assert.Equal("", options.Get("flag"));
        Assert.True(options.Contains("flag"));
        Assert.False(options.Contains("speed"));
        Assert.Null(options.Get("speed"));
        Assert.Equal("queues=4,iface=eth0,remote=a=b,flag=", options.ToString());
    }

    [Theory]
    [InlineData("=x", "option '=x': empty key")]
    [InlineData("a", "option 'a': expected key=value")]
    [InlineData("a=1,b", "option 'b': expected key=value")]
    [InlineData("a=1,a=2", "option 'a' given twice")]
    [InlineData("a=1,,b=2", "empty option")]
    [InlineData("a=1,", "empty option")]
    [InlineData(" =1", "empty key")]
    public void TryParse_Malformed_FailsNamingTheProblem(string text, string expected)
    {
        Assert.False(NetdevOptions.TryParse(text, out var options, out var error));
        Assert.Null(options);
        Assert.Contains(expected, error);
    }

    [Fact]
    public void FromPairs_DuplicateKey_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => NetdevOptions.FromPairs([new("a", "1"), new("a", "2")]));
        Assert.Contains("'a'", ex.Message);
    }

    [Theory]
    [InlineData("queues=1", 1)]
    [InlineData("queues=16", 16)]
    [InlineData("queues=8", 8)]
    [InlineData("", 3)]
    public void TryGetInt_InRangeOrDefault(string text, int expected)
    {
        Assert.True(NetdevOptions.TryParse(text, out var options, out _));
        Assert.True(options.TryGetInt("queues", 3, 1, 16, out int value, out var error));
        Assert.Null(error);
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("queues=0")]
    [InlineData("queues=17")]
    [InlineData("queues=-1")]
    [InlineData("queues=abc")]
    [InlineData("queues=")]
    [InlineData("queues=1.5")]
    [InlineData("queues=99999999999")]
    public void TryGetInt_OutOfRangeOrNotANumber_ErrorNamesOptionAndRange(string text)
    {
        Assert.True(NetdevOptions.TryParse(text, out var options, out _));
        Assert.False(options.TryGetInt("queues", 1, 1, 16, out _, out var error));
        Assert.Equal($"{text}: expected an integer in 1..16", error);
    }

    [Theory]
    [InlineData("on=true", true)]
    [InlineData("on=yes", true)]
    [InlineData("on=1", true)]
    [InlineData("on=ON", true)]
    [InlineData("on=", true)]
    [InlineData("on=false", false)]
    [InlineData("on=no", false)]
    [InlineData("on=0", false)]
    [InlineData("on=off", false)]
    public void TryGetBool_AcceptsTheUsualSpellings(string text, bool expected)
    {
        Assert.True(NetdevOptions.TryParse(text, out var options, out _));
        Assert.True(options.TryGetBool("on", !expected, out bool value, out var error));
        Assert.Null(error);
        Assert.Equal(expected, value);
    }

    [Fact]
    public void TryGetBool_AbsentGivesDefault_BadValueNamesOption()
    {
        Assert.True(NetdevOptions.TryParse("on=maybe", out var options, out _));
        Assert.True(options.TryGetBool("other", true, out bool dflt, out _));
        Assert.True(dflt);
        Assert.False(options.TryGetBool("on", false, out _, out var error));
        Assert.Equal("on=maybe: expected true or false", error);
    }

    [Fact]
    public void With_AddsOrReplaces_WithoutChangingTheOriginal()
    {
        Assert.True(NetdevOptions.TryParse("a=1,b=2", out var options, out _));
        var replaced = options.With("a", "9");
        var added = options.With("c", "3");

        Assert.Equal("a=1,b=2", options.ToString());
        Assert.Equal("a=9,b=2", replaced.ToString());
        Assert.Equal("a=1,b=2,c=3", added.ToString());
        Assert.Empty(NetdevOptions.Empty);
    }
}
