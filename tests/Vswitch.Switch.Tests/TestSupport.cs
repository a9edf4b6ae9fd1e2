using Vswitch.Packets;
using Vswitch.Switch.Normal;

namespace Vswitch.Switch.Tests;

/// <summary>A clock the test moves by hand.</summary>
public sealed class ManualClock : TimeProvider
{
    private long _ticks = 1_000_000_000;
    public override long TimestampFrequency => 1_000_000_000;
    public override long GetTimestamp() => Interlocked.Read(ref _ticks);
    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, (long)(by.TotalSeconds * 1e9));
}

public static class Keys
{
    public static MacAddress Mac(int n) => MacAddress.FromUInt64(0x0200_0000_0000UL | (uint)n);

    public static FlowKey Eth(uint inPort, MacAddress src, MacAddress dst, int? vid = null, int pcp = 0, ushort ethType = 0x0800)
    {
        FlowKey k = default;
        k.InPort = inPort;
        k.EthSrc = src;
        k.EthDst = dst;
        k.EthType = ethType;
        k.Ipv4Src = 0x0A000001;
        k.Ipv4Dst = 0x0A000002;
        k.NwProto = 6;
        k.TpSrc = 1234;
        k.TpDst = 80;
        if (vid is { } v)
        {
            k.Vlan0Tpid = 0x8100;
            k.Vlan0Tci = (ushort)((pcp << 13) | FlowKey.VlanCfi | v);
        }
        return k;
    }

    public static NormalPortSet Ports(params (uint No, PortVlanConfig Vlan)[] ports) =>
        new(ports.Select(p => new NormalPort(p.No, $"p{p.No}", p.Vlan)));
}
