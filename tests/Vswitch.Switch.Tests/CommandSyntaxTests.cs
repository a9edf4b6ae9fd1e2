using Vswitch.Switch.Commands;

namespace Vswitch.Switch.Tests;

/// <summary>The one argument parser every command goes through.</summary>
public sealed class CommandSyntaxTests
{
    private static CommandArgs Parse(CommandSyntax syntax, params string[] args) => syntax.Parse("cmd", args);

    private static string Refused(CommandSyntax syntax, params string[] args) =>
        Assert.Throws<CommandException>(() => syntax.Parse("cmd", args)).Message;

    [Fact]
    public void FlagsAnywhereAliasesAndPositionalsInOrder()
    {
        var s = CommandSyntax.Positional(0, 2).Flag("--more", "-m").Flag("--may-exist");
        var a = Parse(s, "br0", "-m", "p1", "--may-exist");
        Assert.Equal(["br0", "p1"], a);
        Assert.True(a.Has("--more"));
        Assert.True(a.Has("--may-exist"));
        Assert.Equal(["br0", "-m", "p1", "--may-exist"], a.Raw);
        Assert.False(Parse(s, "br0").Has("--more"));
    }

    [Fact]
    public void OptionsTakeAValueEitherWayAndAreChecked()
    {
        var s = CommandSyntax.Positional(0, 1).Option("--format", "text", "json");
        Assert.Equal("json", Parse(s, "--format", "json", "br0").Value("--format"));
        Assert.Equal("text", Parse(s, "--format=text").Value("--format"));
        Assert.Null(Parse(s, "br0").Value("--format"));
        Assert.Equal("cmd: --format yaml: expected text or json", Refused(s, "--format", "yaml"));
        Assert.Equal("cmd: option --format needs a value", Refused(s, "--format"));
        Assert.Equal("cmd: option --format given twice", Refused(s, "--format=json", "--format=text"));
    }

    [Fact]
    public void KeyedArgumentsAreTakenOutOnceEach()
    {
        var s = CommandSyntax.Positional(0, 1).Flag("-m").Keyed("filter");
        var a = Parse(s, "filter=in_port(1),eth()", "dp0");
        Assert.Equal(["dp0"], a);
        Assert.Equal("in_port(1),eth()", a.Value("filter"));
        Assert.Equal("cmd: filter= given twice", Refused(s, "filter=a", "filter=b"));
        // Text that merely contains '=' stays positional.
        Assert.Equal(["eth(src=02:00:00:00:00:01)"], Parse(s, "eth(src=02:00:00:00:00:01)"));
    }

    [Fact]
    public void UnknownLongOptionsAreRefusedEverywhere()
    {
        Assert.Equal("cmd: unknown option --bogus", Refused(CommandSyntax.Positional(0, 2).Flag("--may-exist"), "--bogus", "br0"));
        Assert.Equal("cmd: unknown option --bogus", Refused(CommandSyntax.Positional(0, 2), "--bogus"));
    }

    [Fact]
    public void ShortArgumentsAreOptionsOnlyWhereShortFlagsAreDeclared()
    {
        Assert.Equal("cmd: unknown option -x", Refused(CommandSyntax.Positional(0, 2).Flag("--more", "-m"), "-x"));
        // A name starting with '-' still reaches a command that takes names.
        Assert.Equal(["-x"], Parse(CommandSyntax.Positional(1, 1).Flag("--may-exist"), "-x"));
    }

    [Fact]
    public void DoubleDashEndsTheOptions()
    {
        var a = Parse(CommandSyntax.Positional(0, 3).Flag("--more", "-m"), "-m", "--", "-m", "--more");
        Assert.True(a.Has("--more"));
        Assert.Equal(["-m", "--more"], a);
    }

    [Fact]
    public void PositionalCountsAreCheckedNamingWhatIsMissing()
    {
        var s = CommandSyntax.Positional(2, 2, "bridge name", "port name").Flag("--may-exist");
        Assert.Equal("cmd: missing bridge name", Refused(s, "--may-exist"));
        Assert.Equal("cmd: missing port name", Refused(s, "br0", "--may-exist"));
        Assert.Equal("cmd: too many arguments", Refused(s, "br0", "p1", "p2"));
        Assert.Equal("cmd: missing argument", Refused(CommandSyntax.Positional(1, 1)));
    }

    [Fact]
    public void RawArityCountsFlagsKeysAndOptionValues()
    {
        var s = CommandSyntax.Positional(1, 2).Flag("--a").Flag("--b", "-b").Keyed("k").Option("--o");
        Assert.Equal(1, s.MinArgs);
        Assert.Equal(2 + 2 + 1 + 2, s.MaxArgs);
        Assert.Equal(int.MaxValue, CommandSyntax.Positional(1, int.MaxValue).Flag("--a").MaxArgs);
    }

    [Fact]
    public void SettingsAreOrderedPairsWithClearErrors()
    {
        var pairs = CommandArgs.ParseSettings("add-port", ["type=tap", "iface=t0", "local_ip=", "x=a=b"]);
        Assert.Equal([new("type", "tap"), new("iface", "t0"), new("local_ip", ""), new("x", "a=b")], pairs);
        Assert.Equal("add-port: \"noequals\" is not OPTION=VALUE",
            Assert.Throws<CommandException>(() => CommandArgs.ParseSettings("add-port", ["noequals"])).Message);
        Assert.Equal("add-port: \"=v\" is not OPTION=VALUE",
            Assert.Throws<CommandException>(() => CommandArgs.ParseSettings("add-port", ["=v"])).Message);
        Assert.Equal("add-port: a given twice",
            Assert.Throws<CommandException>(() => CommandArgs.ParseSettings("add-port", ["a=1", "a=2"])).Message);
    }

    [Fact]
    public void InterfaceArgumentsSplitNameAndSettings()
    {
        var (name, settings) = CommandArgs.ParseInterface("dpctl/add-if", "p1,type=tap,iface=t9");
        Assert.Equal("p1", name);
        Assert.Equal([new("type", "tap"), new("iface", "t9")], settings);
        Assert.Empty(CommandArgs.ParseInterface("dpctl/add-if", "p2").Settings);
        Assert.Contains("is not OPTION=VALUE", Assert.Throws<CommandException>(() => CommandArgs.ParseInterface("dpctl/add-if", "p1,")).Message);
    }

    [Fact]
    public void TheRegistryParsesEveryCallAndKeepsItsArityMessage()
    {
        var registry = new CommandRegistry();
        CommandArgs? seen = null;
        registry.Register("add-br", "[--may-exist] BR", CommandSyntax.Positional(1, 1, "bridge name").Flag("--may-exist"), "add", inv => seen = inv.Args);
        Assert.True(registry.Execute("add-br", ["--may-exist", "br0"]).Ok);
        Assert.True(seen!.Has("--may-exist"));
        Assert.Equal(["br0"], seen);

        var r = registry.Execute("add-br", []);
        Assert.Equal("\"add-br\" command takes 1 to 2 arguments, got 0 (usage: add-br [--may-exist] BR)", r.Error);
        Assert.Equal(2, r.ExitCode);
        r = registry.Execute("add-br", ["--if-exists", "br0"]);
        Assert.Equal("add-br: unknown option --if-exists", r.Error);
        Assert.Equal(2, r.ExitCode);
        r = registry.Execute("add-br", ["--may-exist"]);
        Assert.Equal("add-br: missing bridge name", r.Error);
    }
}
