using Vswitch.Datapath;
using Vswitch.Datapath.Userspace;
using Vswitch.Netdev;
using Vswitch.Netdev.Memory;
using Vswitch.Packets;
using Vswitch.Switch.Normal;

namespace Vswitch.Switch.Tests;

/// <summary>A bridge over the real userspace datapath with memory ports: frames in, frames out.</summary>
public sealed class UserspaceBridgeTests : IDisposable
{
    private readonly NetdevRegistry _netdevs = new();
    private readonly MemoryNetdevProvider _memory;
    private readonly PacketPool _pool = new(4096);
    private readonly Bridge _bridge;
    private readonly string _name = "vsw" + Guid.NewGuid().ToString("N")[..6];

    public UserspaceBridgeTests()
    {
        _memory = _netdevs.AddMemoryProvider();
        var registry = new DatapathRegistry();
        registry.AddUserspaceProvider();
        var dp = registry.Open(UserspaceDatapathProvider.TypeName, _name, create: true);
        _bridge = new Bridge(_name, new DatapathBridgeAdapter(dp, _netdevs, _pool),
            BridgeSettings.Default with { RevalidatorInterval = TimeSpan.FromMilliseconds(100) });
        _bridge.Start();
    }

    public void Dispose()
    {
        _bridge.Dispose();
        _pool.Dispose();
    }

    private MemoryNetdev Port(string name, PortVlanConfig? vlan = null)
    {
        _bridge.AddPort(new BridgePortSpec(name, "memory", NetdevOptions.Empty, vlan ?? PortVlanConfig.TrunkAll));
        Assert.True(_memory.TryGetDevice(name, out var dev));
        return dev;
    }

    private static byte[] Frame(MacAddress src, MacAddress dst, int? vid = null, byte payload = 0)
    {
        var f = new byte[vid is null ? 60 : 64];
        dst.CopyTo(f);
        src.CopyTo(f.AsSpan(6));
        int o = 12;
        if (vid is { } v)
        {
            f[o++] = 0x81; f[o++] = 0x00;
            f[o++] = (byte)(v >> 8); f[o++] = (byte)v;
        }
        f[o++] = 0x88; f[o++] = 0xB5;       // local experimental ethertype
        f[o] = payload;
        return f;
    }

    /// <summary>
    /// Frames the switch sent out of <paramref name="dev"/>: waits until <paramref name="want"/> have come (or
    /// <paramref name="timeout"/>, generous by default), then takes whatever else is there.
    /// </summary>
    private static List<byte[]> Out(MemoryNetdev dev, int want = 1, TimeSpan? timeout = null)
    {
        var list = new List<byte[]>();
        Wait.Until(() => { TakeAll(dev, list); return list.Count >= want; }, timeout);
        TakeAll(dev, list);
        return list;
    }

    private static void TakeAll(MemoryNetdev dev, List<byte[]> into)
    {
        while (dev.TryTake(out var p)) { into.Add(p.Data.ToArray()); p.Release(); }
    }

    private int _controls;

    /// <summary>
    /// Injects a control frame at <paramref name="at"/>: a broadcast from a source MAC never seen before (tagged
    /// <paramref name="vid"/> on a trunk). A new source is a new flow key, so the control is a miss: the bridge's one
    /// handler thread handles its upcall after every earlier one, and its poll thread reads it after every earlier frame
    /// of that port. Whatever an earlier frame was going to send somewhere has been sent once the control arrives there.
    /// Returns the control's source MAC.
    /// </summary>
    private MacAddress InjectControl(MemoryNetdev at, int? vid = null)
    {
        var mac = MacAddress.FromUInt64(0x02C0_0000_0000UL | (uint)Interlocked.Increment(ref _controls));
        Assert.True(at.Inject(Frame(mac, MacAddress.Broadcast, vid)));
        return mac;
    }

    /// <summary>Takes frames from <paramref name="dev"/> until every control from <paramref name="controls"/> has arrived; returns the other frames, in order.</summary>
    private static List<byte[]> TakeUntilControls(MemoryNetdev dev, params MacAddress[] controls)
    {
        var pending = new HashSet<MacAddress>(controls);
        var others = new List<byte[]>();
        Wait.For(() =>
        {
            while (pending.Count > 0 && dev.TryTake(out var p))
            {
                var f = p.Data.ToArray();
                p.Release();
                if (!pending.Remove(new MacAddress(f.AsSpan(6, 6)))) others.Add(f);
            }
            return pending.Count == 0;
        }, () => $"{pending.Count} control frame(s) at {dev.Name}");
        return others;
    }

    /// <summary>
    /// A negative check ended by traffic: the frames <paramref name="watched"/> sent before a control injected at
    /// <paramref name="from"/> (in <paramref name="watched"/>'s VLAN) arrived there. Ports in <paramref name="alsoReached"/>
    /// get the control's flood too; it is taken from them as well, with anything before it.
    /// </summary>
    private List<byte[]> OutBeforeControl(MemoryNetdev watched, MemoryNetdev from, int? vid = null, params MemoryNetdev[] alsoReached)
    {
        var control = InjectControl(from, vid);
        var before = TakeUntilControls(watched, control);
        foreach (var d in alsoReached) TakeUntilControls(d, control);
        return before;
    }

    /// <summary>
    /// Discards everything the switch sent to <paramref name="devs"/> so far, late floods included: each port injects a
    /// control and each port takes frames until the controls of all the others have arrived.
    /// </summary>
    private void Drain(params MemoryNetdev[] devs)
    {
        var controls = devs.Select(d => InjectControl(d)).ToArray();
        for (int i = 0; i < devs.Length; i++)
            TakeUntilControls(devs[i], [.. controls.Where((_, j) => j != i)]);
    }

    private static MacAddress Mac(int n) => Keys.Mac(n);

    [Fact]
    public void FloodsThenForwardsToTheLearnedPortOnly()
    {
        var p1 = Port("p1");
        var p2 = Port("p2");
        var p3 = Port("p3");
        Assert.True(p1.Inject(Frame(Mac(1), MacAddress.Broadcast)));
        Assert.Single(Out(p2));
        Assert.Single(Out(p3));
        Assert.Empty(OutBeforeControl(p1, from: p2, alsoReached: p3));
        Assert.True(p2.Inject(Frame(Mac(2), Mac(1))));
        Assert.Single(Out(p1));
        Assert.Empty(OutBeforeControl(p3, from: p2, alsoReached: p1));
        Assert.True(_bridge.Macs.TryLookup(0, Mac(2), out var port));
        Assert.Equal(_bridge.FindPort("p2")!.PortNo, port);
        Assert.NotEmpty(_bridge.Datapath.DumpFlows());
    }

    [Fact]
    public void AccessVlansAreIsolatedAndTheTrunkSeesTags()
    {
        var a1 = Port("a1", PortVlanConfig.Access(10));
        var a2 = Port("a2", PortVlanConfig.Access(10));
        var b1 = Port("b1", PortVlanConfig.Access(20));
        var t = Port("t", PortVlanConfig.Trunk(10, 20));
        Assert.True(a1.Inject(Frame(Mac(1), MacAddress.Broadcast)));
        var atA2 = Out(a2);
        Assert.Single(atA2);
        Assert.Equal(0x88, atA2[0][12]);                         // untagged on the access port
        var atT = Out(t);
        Assert.Single(atT);
        Assert.Equal(0x81, atT[0][12]);                          // tagged on the trunk
        Assert.Equal(10, ((atT[0][14] & 0x0F) << 8) | atT[0][15]);
        Assert.Empty(OutBeforeControl(b1, from: t, vid: 20));      // other VLAN: nothing (the control is VLAN 20's)
        Assert.True(t.Inject(Frame(Mac(9), MacAddress.Broadcast, vid: 20)));
        var atB1 = Out(b1);
        Assert.Single(atB1);
        Assert.Equal(0x88, atB1[0][12]);
        Assert.Empty(OutBeforeControl(a1, from: a2, alsoReached: t));
    }

    /// <summary>Frames to <paramref name="dst"/> carrying <paramref name="payload"/> (late floods of earlier frames do not count).</summary>
    private static int Count(List<byte[]> frames, MacAddress dst, byte payload) =>
        frames.Count(f => new MacAddress(f.AsSpan(0, 6)) == dst && f[14] == payload);

    [Fact]
    public void MovedMacIsReachableAgainWithinASecond()
    {
        var p1 = Port("p1");
        var p2 = Port("p2");
        var p3 = Port("p3");
        p1.Inject(Frame(Mac(1), MacAddress.Broadcast));          // Mac(1) behind p1
        p3.Inject(Frame(Mac(3), MacAddress.Broadcast));
        Drain(p1, p2, p3);
        p3.Inject(Frame(Mac(3), Mac(1), payload: 1));
        Assert.Equal(1, Count(Out(p1), Mac(1), 1));              // flow in_port(p3),dst=Mac(1) -> p1
        Drain(p1, p2, p3);
        p2.Inject(Frame(Mac(1), MacAddress.Broadcast));          // Mac(1) moves to p2
        var start = Environment.TickCount64;
        bool arrived = false;
        while (!arrived && Environment.TickCount64 - start < 1000)
        {
            p3.Inject(Frame(Mac(3), Mac(1), payload: 2));
            arrived = Count(Out(p2, timeout: TimeSpan.FromMilliseconds(50)), Mac(1), 2) > 0;
        }
        Assert.True(arrived, "traffic to the moved MAC did not reach its new port within a second");
        Drain(p1, p2, p3);
        p3.Inject(Frame(Mac(3), Mac(1), payload: 3));
        Assert.Equal(1, Count(Out(p2), Mac(1), 3));
        Assert.Equal(0, Count(OutBeforeControl(p1, from: p3, alsoReached: p2), Mac(1), 3)); // no longer sent to the old port
    }
}
