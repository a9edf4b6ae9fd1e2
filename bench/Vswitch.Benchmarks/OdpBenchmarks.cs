using System.Text;
using BenchmarkDotNet.Attributes;
using Vswitch.Datapath.Odp;
using Vswitch.Packets;

namespace Vswitch.Benchmarks;

/// <summary>Datapath flow text: parse and print of a typical megaflow with actions (dpctl add-flow / dump-flows paths).</summary>
[MemoryDiagnoser]
public class OdpBenchmarks
{
    private const string FlowText =
        "recirc_id(0),in_port(1),eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15/ff:ff:ff:00:00:00),eth_type(0x0800)," +
        "ipv4(src=35.8.2.41/255.255.255.0,dst=172.16.0.20,proto=6,tos=0,ttl=128,frag=no),tcp(src=80/0xff00,dst=8080)";

    private const string ActionsText = "set(eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02)),set(ipv4(ttl=127)),push_vlan(vid=99,pcp=7),2,3";

    private const string DumpLine = FlowText + ", packets:2120, bytes:127200, used:0.141s, flags:SFP., actions:" + ActionsText;

    private FlowKey _key;
    private FlowKey _mask;
    private OdpActionList _actions = OdpActionList.Drop;
    private OdpDumpedFlow _dumped = null!;
    private readonly StringBuilder _sb = new(512);

    [GlobalSetup]
    public void Setup()
    {
        OdpFlowParser.Parse(FlowText, out _key, out _mask);
        _actions = OdpActionParser.Parse(ActionsText);
        _dumped = OdpFlowLine.ParseDump(DumpLine);
    }

    [Benchmark]
    public FlowKey ParseFlow()
    {
        OdpFlowParser.TryParse(FlowText, out var key, out _, out _);
        return key;
    }

    [Benchmark]
    public OdpActionList ParseActions()
    {
        OdpActionParser.TryParse(ActionsText, out var actions, out _);
        return actions;
    }

    [Benchmark]
    public OdpDumpedFlow? ParseDumpLine()
    {
        OdpFlowLine.TryParseDump(DumpLine, out var flow, out _);
        return flow;
    }

    [Benchmark]
    public string FormatFlow() => OdpFlowFormatter.Format(_key, _mask);

    /// <summary>Printing into a reused builder: the formatter's own cost without the result string.</summary>
    [Benchmark]
    public int AppendFlowAndActions()
    {
        _sb.Clear();
        OdpFlowFormatter.Append(_sb, _key, _mask);
        _sb.Append(", actions:");
        OdpActionFormatter.Append(_sb, _actions);
        return _sb.Length;
    }

    [Benchmark]
    public string FormatDumpLine() => OdpFlowLine.FormatDump(_dumped.Key, _dumped.Mask, _dumped.Stats, _dumped.Actions);
}
