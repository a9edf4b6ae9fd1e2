using Vswitch.Daemon.Config;
using Vswitch.Datapath.Odp;
using Vswitch.Netdev.Tests.SystemTests;
using Vswitch.Switch;

namespace Vswitch.Daemon.Tests;

/// <summary>
/// Changes are transactional (issue 15): a rejected set-port, add-port or del-port leaves the port, its device (the same
/// tap, same ifindex) and its counters exactly as they were. Before, a set-port with a bad type closed and re-created the tap.
/// </summary>
public sealed class TransactionTests : IDisposable
{
    private readonly string _bridge = TestObjects.NewLink('b');
    private readonly string _iface = TestObjects.NewLink('t');
    private readonly DatapathRuntime _runtime = new(1024);
    private readonly SwitchDaemon _daemon;

    public TransactionTests()
    {
        _daemon = new SwitchDaemon(new SwitchDaemonOptions { StateDirectory = null, StartThreads = false, DatapathFactory = _runtime.CreateBridgeDatapath });
    }

    public void Dispose()
    {
        _daemon.Dispose();
        _runtime.Dispose();
    }

    private string Bridge => _bridge;
    private string Iface => _iface;

    private void Ok(params string[] command)
    {
        var r = _daemon.Execute(command[0], command[1..]);
        Assert.True(r.Ok, $"{string.Join(' ', command)}: {r.Error}");
    }

    private string Refused(params string[] command)
    {
        var r = _daemon.Execute(command[0], command[1..]);
        Assert.False(r.Ok, $"{string.Join(' ', command)} was accepted");
        return r.Error!;
    }

    private sealed record Snapshot(string Ifindex, string KernelRx, string KernelTx, uint PortNo, object Device, ulong TxPackets, string Show, string Config);

    private Snapshot Take()
    {
        var bridge = _daemon.Bridges.Single();
        var port = bridge.FindPort("p1")!;
        var adapter = (DatapathBridgeAdapter)bridge.Datapath;
        Assert.True(adapter.Datapath.Handle.PortQueryByName("p1", out var dp).IsSuccess);
        var stats = bridge.Datapath.ListPorts().Single(p => p.Name == "p1");
        string Sys(string file) => File.ReadAllText($"/sys/class/net/{Iface}/{file}").Trim();
        return new Snapshot(Sys("ifindex"), Sys("statistics/rx_packets"), Sys("statistics/tx_packets"), port.PortNo, dp!.Device,
            stats.TxPackets, _daemon.Execute("show").Output, ConfigLoader.ToJson(_daemon.Config));
    }

    [RootFact]
    public void RejectedChangesLeaveTheTapItsIfindexAndCountersAsTheyWere()
    {
        Ok("add-br", Bridge);
        Ok("add-port", Bridge, "p1", "type=tap", $"iface={Iface}", "tag=10");
        TestObjects.MarkLink(Iface);
        // Counters that a re-created device would lose: frames sent into the tap (kernel rx), with IPv6 off so the kernel sends nothing.
        Sh.Ok("sysctl", "-qw", $"net.ipv6.conf.{Iface}.disable_ipv6=1");
        Sh.Ok("ip", "link", "set", Iface, "up");
        var bridge = _daemon.Bridges.Single();
        uint portNo = bridge.FindPort("p1")!.PortNo;
        for (int i = 0; i < 5; i++)
        {
            Assert.True(_runtime.Pool.TryRent(out var packet));
            Assert.True(packet!.TryAppend(60));
            packet.Data.Fill(0xff);
            Assert.True(bridge.Datapath.Execute(packet, 0, new OdpActionList([new OutputAction(portNo)])).IsSuccess);
        }
        var before = Take();
        Assert.Equal("5", before.KernelRx);
        Assert.Equal(5ul, before.TxPackets);

        Assert.Contains("unknown port type 'bogus'", Refused("set-port", Bridge, "p1", "type=bogus"));
        Assert.Equal(before, Take());
        Assert.Contains("queues=99", Refused("set-port", Bridge, "p1", "queues=99"));
        Assert.Equal(before, Take());
        Assert.Contains("unknown option 'bogus'", Refused("set-port", Bridge, "p1", "bogus=1"));
        Assert.Equal(before, Take());
        Assert.Contains("tag=5000", Refused("set-port", Bridge, "p1", "tag=5000"));
        Assert.Equal(before, Take());
        Refused("set-port", Bridge, "p1", "type=afpacket", $"iface={TestObjects.NewName('x')}");
        Assert.Equal(before, Take());
        // Another port on the same (single-queue) tap: the kernel refuses the second open; p1 is untouched.
        Refused("add-port", Bridge, "p2", "type=tap", $"iface={Iface}");
        Assert.Equal(before, Take());
        Refused("dpctl/del-if", Bridge, "p1", "nosuch");
        Assert.Equal(before, Take());
        Refused("del-port", Bridge, "nosuch");
        Assert.Equal(before, Take());

        // A valid change of options does replace the device, under the same port number.
        Ok("set-port", Bridge, "p1", "mtu=1400");
        var after = Take();
        Assert.Equal(before.PortNo, after.PortNo);
        Assert.NotSame(before.Device, after.Device);
        Assert.Equal("1400", File.ReadAllText($"/sys/class/net/{Iface}/mtu").Trim());
    }
}
