using Vswitch.Interop.Linux;
using Vswitch.Netdev.Memory;
using Vswitch.Packets;

namespace Vswitch.Netdev.Tests;

public sealed class NetdevRegistryTests : IDisposable
{
    private readonly PacketPool _pool = new(8);

    public void Dispose() => _pool.Dispose();

    /// <summary>A provider whose Open outcome the test chooses (the registry's own behaviour is under test).</summary>
    private sealed class ScriptedProvider(string type, string[] aliases, params string[] optionKeys) : INetdevProvider
    {
        public string Type => type;
        public IReadOnlyList<string> Aliases => aliases;
        public IReadOnlyList<NetdevOptionDescriptor> Options { get; } = [.. optionKeys.Select(k => new NetdevOptionDescriptor(k, k))];
        public Errno Result { get; set; } = Errno.Success;
        public string? Error { get; set; }
        public bool ReturnDevice { get; set; } = true;
        public int OpenCalls { get; private set; }
        public NetdevOpenRequest? LastRequest { get; private set; }

        public Errno Open(NetdevOpenRequest request, out Netdev? device, out string? error)
        {
            OpenCalls++;
            LastRequest = request;
            device = ReturnDevice ? new MemoryNetdevProvider().OpenDevice(request.Name, request.Pool) : null;
            error = Error;
            return Result;
        }
    }

    [Fact]
    public void Register_FindsByTypeAndAlias()
    {
        var registry = new NetdevRegistry();
        var p = new ScriptedProvider("afpacket", ["system"]);
        registry.Register(p);

        Assert.True(registry.TryGetProvider("afpacket", out var byType));
        Assert.True(registry.TryGetProvider("system", out var byAlias));
        Assert.Same(p, byType);
        Assert.Same(p, byAlias);
        Assert.False(registry.TryGetProvider("AFPACKET", out _));
        Assert.Equal([p], registry.Providers);
    }

    [Fact]
    public void Register_DuplicateType_RefusedNamingIt_NothingAdded()
    {
        var registry = new NetdevRegistry();
        registry.Register(new ScriptedProvider("tap", ["tun"]));
        var clash = new ScriptedProvider("tap", ["vmnet"]);

        var ex = Assert.Throws<InvalidOperationException>(() => registry.Register(clash));

        Assert.Contains("'tap'", ex.Message);
        Assert.False(registry.TryGetProvider("vmnet", out _));
        Assert.Single(registry.Providers);
    }

    [Fact]
    public void Register_AliasTakenByAnotherProvider_RefusedNamingBoth_NothingAdded()
    {
        var registry = new NetdevRegistry();
        registry.Register(new ScriptedProvider("afpacket", ["system"]));
        var clash = new ScriptedProvider("netlinkdev", ["nl", "system"]);

        var ex = Assert.Throws<InvalidOperationException>(() => registry.Register(clash));

        Assert.Contains("'system'", ex.Message);
        Assert.Contains("afpacket", ex.Message);
        Assert.False(registry.TryGetProvider("netlinkdev", out _));
        Assert.False(registry.TryGetProvider("nl", out _));
    }

    [Fact]
    public void Register_TypeAsItsOwnAliasOrEmptyAlias_Refused()
    {
        var registry = new NetdevRegistry();
        Assert.Throws<ArgumentException>(() => registry.Register(new ScriptedProvider("tap", ["tap"])));
        Assert.Throws<ArgumentException>(() => registry.Register(new ScriptedProvider("tap", [""])));
        Assert.Throws<ArgumentNullException>(() => registry.Register(null!));
        Assert.Empty(registry.Providers);
        Assert.False(registry.TryGetProvider("tap", out _));
    }

    [Fact]
    public void Open_UnknownType_EafnosupportNamingTypeAndKnownOnes()
    {
        var registry = new NetdevRegistry();
        registry.AddMemoryProvider();

        var rc = registry.Open("nosuch", "vswx", NetdevOptions.Empty, _pool, out var device, out var error);

        Assert.Equal(Errno.EAFNOSUPPORT, rc);
        Assert.Null(device);
        Assert.Contains("'nosuch'", error);
        Assert.Contains("mem, memory", error);
    }

    [Fact]
    public void Open_UnknownOption_EinvalNamingKeyAndKnownOnes_ProviderNotCalled()
    {
        var registry = new NetdevRegistry();
        var p = new ScriptedProvider("tap", [], "iface", "queues");
        registry.Register(p);

        var rc = registry.Open("tap", "vswx", NetdevOptions.Empty.With("iface", "a").With("speed", "10"), _pool, out var device, out var error);

        Assert.Equal(Errno.EINVAL, rc);
        Assert.Null(device);
        Assert.Equal("tap: unknown option 'speed' (known options: iface, queues)", error);
        Assert.Equal(0, p.OpenCalls);
    }

    [Fact]
    public void Open_ProviderWithoutOptions_SaysSo()
    {
        var registry = new NetdevRegistry();
        registry.Register(new ScriptedProvider("dummy", []));
        var rc = registry.Open("dummy", "vswx", NetdevOptions.Empty.With("a", "1"), _pool, out _, out var error);
        Assert.Equal(Errno.EINVAL, rc);
        Assert.Contains("known options: none", error);
    }

    [Fact]
    public void Open_ByAlias_PassesRequestThrough()
    {
        var registry = new NetdevRegistry();
        var p = new ScriptedProvider("afpacket", ["system"], "queues");
        registry.Register(p);
        var options = NetdevOptions.Empty.With("queues", "2");

        var rc = registry.Open("system", "vswx", options, _pool, out var device, out var error);
        using var _ = device;

        Assert.Equal(Errno.Success, rc);
        Assert.Null(error);
        Assert.NotNull(device);
        Assert.Equal("vswx", p.LastRequest!.Name);
        Assert.Same(options, p.LastRequest.Options);
        Assert.Same(_pool, p.LastRequest.Pool);
    }

    [Fact]
    public void Open_ProviderFailsWithoutMessage_RegistryNamesTypeDeviceAndErrno_AndDisposesStrayDevice()
    {
        var registry = new NetdevRegistry();
        var p = new ScriptedProvider("tap", []) { Result = Errno.EPERM, ReturnDevice = true };
        registry.Register(p);

        var rc = registry.Open("tap", "vswx", NetdevOptions.Empty, _pool, out var device, out var error);

        Assert.Equal(Errno.EPERM, rc);
        Assert.Null(device);
        Assert.Equal("tap: cannot open 'vswx': EPERM (Operation not permitted)", error);
    }

    [Fact]
    public void Open_ProviderFailureMessage_IsKept()
    {
        var registry = new NetdevRegistry();
        registry.Register(new ScriptedProvider("tap", []) { Result = Errno.ENODEV, Error = "tap: iface=eth9: no such interface", ReturnDevice = false });

        var rc = registry.Open("tap", "vswx", NetdevOptions.Empty, _pool, out _, out var error);

        Assert.Equal(Errno.ENODEV, rc);
        Assert.Equal("tap: iface=eth9: no such interface", error);
    }

    [Fact]
    public void Open_ProviderSuccessWithoutDevice_IsEio()
    {
        var registry = new NetdevRegistry();
        registry.Register(new ScriptedProvider("tap", []) { ReturnDevice = false });

        var rc = registry.Open("tap", "vswx", NetdevOptions.Empty, _pool, out var device, out var error);

        Assert.Equal(Errno.EIO, rc);
        Assert.Null(device);
        Assert.Contains("without a device", error);
    }

    [Fact]
    public void ValidateOptionKeys_AcceptsKnownKeys()
    {
        var p = new ScriptedProvider("tap", [], "iface", "queues");
        Assert.True(NetdevRegistry.ValidateOptionKeys(p, NetdevOptions.Empty.With("queues", "1").With("iface", "x"), out var error));
        Assert.Null(error);
    }
}
