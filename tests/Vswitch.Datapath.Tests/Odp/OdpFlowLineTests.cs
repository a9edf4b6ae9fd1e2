using Vswitch.Datapath.Odp;
using Vswitch.Packets;

namespace Vswitch.Datapath.Tests.Odp;

public class OdpFlowLineTests
{
    [Theory]
    [InlineData("recirc_id(0),in_port(2),eth(src=02:00:00:00:01:03,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),arp(sip=10.244.1.3,tip=10.244.1.4,op=1/0xff,sha=02:00:00:00:01:03,tha=00:00:00:00:00:00), packets:0, bytes:0, used:never, actions:userspace(pid=4294967295)")]
    [InlineData("recirc_id(0),in_port(3),eth(src=0c:42:a1:ef:1b:06,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),arp(sip=192.168.211.162,tip=192.168.211.2,op=1/0xff), packets:2120, bytes:127200, used:0.141s, actions:1,2")]
    [InlineData("recirc_id(0),in_port(1),eth_type(0x0800),ipv4(proto=6,frag=no),tcp(dst=80), packets:5, bytes:640, used:6.268s, flags:SFP., actions:6")]
    [InlineData("in_port(1),eth(src=46:5d:b5:ee:45:bf,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),arp(sip=10.0.0.2,tip=10.0.0.1,op=1/0xff), packets:59, bytes:2478, used:0.528s, actions:push_vlan(vid=200,pcp=0),3")]
    [InlineData("in_port(1),eth_type(0x0800),ipv4(proto=6),tcp(dst=22), packets:1, bytes:60, used:0.000s, flags:SFPRU.ECN[200][400][800], actions:drop")]
    public void DumpLinesRoundTrip(string line)
    {
        Assert.True(OdpFlowLine.TryParseDump(line, out var flow, out var error), error.ToString());
        Assert.Equal(line, OdpFlowLine.FormatDump(flow!.Key, flow.Mask, flow.Stats, flow.Actions));
    }

    [Fact]
    public void DumpLineFieldsAreParsed()
    {
        var flow = OdpFlowLine.ParseDump("ufid:3c1b5d4e-0000-0000-0000-000000000001 recirc_id(0),in_port(5),eth_type(0x0800),ipv4(frag=no), packets:59, bytes:2478, used:0.528s, flags:S., actions:2,3");
        Assert.Equal(5u, flow.Key.InPort);
        Assert.Equal(59ul, flow.Stats.Packets);
        Assert.Equal(2478ul, flow.Stats.Bytes);
        Assert.Equal(TimeSpan.FromMilliseconds(528), flow.Stats.UsedAgo);
        Assert.Equal(0x012, flow.Stats.TcpFlags);
        Assert.Equal(2, flow.Actions.Count);

        var never = OdpFlowLine.ParseDump("in_port(5), packets:0, bytes:0, used:never, actions:drop");
        Assert.Null(never.Stats.UsedAgo);
        Assert.True(never.Actions.IsDrop);
    }

    [Fact]
    public void StatsFormatAsDpifFlowStatsFormat()
    {
        var key = new FlowKey { InPort = 1 };
        var mask = new FlowKey { InPort = uint.MaxValue, Vlan0Tci = 0xFFFF, Vlan0Tpid = 0xFFFF };
        var actions = OdpActionParser.Parse("2");
        Assert.Equal("in_port(1), packets:3, bytes:180, used:1.234s, actions:2",
            OdpFlowLine.FormatDump(key, mask, new OdpFlowStats(3, 180, TimeSpan.FromMilliseconds(1234), 0), actions));
        Assert.Equal("in_port(1), packets:0, bytes:0, used:never, flags:S, actions:2",
            OdpFlowLine.FormatDump(key, mask, new OdpFlowStats(0, 0, null, 0x002), actions));
    }

    [Theory]
    [InlineData("in_port(1) packets:1", "dump-flows line: missing ', packets:'")]
    [InlineData("in_port(1), packets:x, bytes:0, used:never, actions:1", "dump-flows line: packets: expected a number")]
    [InlineData("in_port(1), packets:1, bytes:0, used:soon, actions:1", "dump-flows line: used: expected seconds like 0.412s or never")]
    [InlineData("in_port(1), packets:1, bytes:0, used:never, flags:Z, actions:1", "dump-flows line: flags: unknown TCP flag letter 'Z'")]
    [InlineData("in_port(1), packets:1, bytes:0, used:never, actions:1,bad", "unknown action 'bad'")]
    [InlineData("in_port(1),ipv4(srcc=1), packets:1, bytes:0, used:never, actions:1", "ipv4: unknown field 'srcc'")]
    public void DumpLineErrors(string line, string message)
    {
        Assert.False(OdpFlowLine.TryParseDump(line, out _, out var error));
        Assert.Equal(message, error.Message);
        Assert.InRange(error.Offset, 0, line.Length);
    }

    [Fact]
    public void AddFlowTakesFlowAndActions()
    {
        Assert.True(OdpFlowLine.TryParseAddFlow("in_port(1),eth_type(0x0800),ipv4(dst=10.0.0.1,frag=no)", "set(eth(dst=00:00:00:00:00:01)),2",
            out var key, out var mask, out var actions, out var error), error.ToString());
        Assert.Equal(0x0A000001u, key.Ipv4Dst);
        Assert.Equal(uint.MaxValue, mask.Ipv4Dst);
        Assert.Equal("set(eth(dst=00:00:00:00:00:01)),2", actions.ToString());

        Assert.False(OdpFlowLine.TryParseAddFlow("in_port(1)", "2,foo", out _, out _, out _, out error));
        Assert.Equal("actions: unknown action 'foo'", error.Message);
        Assert.Equal(2, error.Offset);
        Assert.False(OdpFlowLine.TryParseAddFlow("in_port(1),eth(src=1)", "2", out _, out _, out _, out error));
        Assert.Equal("flow: eth(src=...): bad MAC address '1'", error.Message);
    }

    [Fact]
    public void AddFlowLineSplitsAtTopLevelSpace()
    {
        const string line = "in_port(1),eth_type(0x8100),vlan(vid=5),encap(eth_type(0x0800)) pop_vlan,2";
        Assert.True(OdpFlowLine.TryParseAddFlow(line, out var key, out var mask, out var actions, out var error), error.ToString());
        Assert.Equal("in_port(1),eth_type(0x8100),vlan(vid=5),encap(eth_type(0x0800))", OdpFlowFormatter.Format(key, mask));
        Assert.Equal("pop_vlan,2", actions.ToString());

        Assert.False(OdpFlowLine.TryParseAddFlow("in_port(1)", out _, out _, out _, out error));
        Assert.Equal("add-flow: expected FLOW ACTIONS (two arguments)", error.Message);
        Assert.False(OdpFlowLine.TryParseAddFlow("in_port(1) 2,nope", out _, out _, out _, out error));
        Assert.Equal(13, error.Offset);
    }
}
