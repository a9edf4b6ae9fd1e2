using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Vswitch.Packets;

namespace Vswitch.Benchmarks;

/// <summary>
/// Flow-key extraction per packet: <c>dotnet run -c Release --project bench/Vswitch.Benchmarks -- --filter '*Extraction*' --job short</c>.
/// Each benchmark extracts one frame from pinned pool memory (as the datapath does) and must allocate nothing.
/// </summary>
[MemoryDiagnoser]
public class ExtractionBenchmarks
{
    private PacketPool _pool = null!;
    private PacketBuffer _ipv4Tcp = null!;
    private PacketBuffer _vlanIpv4Tcp = null!;
    private PacketBuffer _ipv6Tcp = null!;

    [GlobalSetup]
    public void Setup()
    {
        _pool = new PacketPool(4);
        _ipv4Tcp = Rent(BuildIpv4Tcp(vlan: false));
        _vlanIpv4Tcp = Rent(BuildIpv4Tcp(vlan: true));
        _ipv6Tcp = Rent(BuildIpv6Tcp());
        // Fail fast if a frame does not parse fully (the numbers would be meaningless).
        foreach (var p in new[] { _ipv4Tcp, _vlanIpv4Tcp, _ipv6Tcp })
            if (FlowExtractor.Extract(p, out _) != ExtractStatus.Ok || p.Layout.L4Offset < 0)
                throw new InvalidOperationException("benchmark frame does not extract cleanly");
    }

    [GlobalCleanup]
    public void Cleanup() => _pool.Dispose();

    [Benchmark(Description = "TCP/IPv4")]
    public ushort Ipv4Tcp()
    {
        FlowExtractor.Extract(_ipv4Tcp, out var key);
        return key.TpDst;
    }

    [Benchmark(Description = "VLAN TCP/IPv4")]
    public ushort VlanIpv4Tcp()
    {
        FlowExtractor.Extract(_vlanIpv4Tcp, out var key);
        return key.TpDst;
    }

    [Benchmark(Description = "TCP/IPv6")]
    public ushort Ipv6Tcp()
    {
        FlowExtractor.Extract(_ipv6Tcp, out var key);
        return key.TpDst;
    }

    private PacketBuffer Rent(byte[] frame)
    {
        if (!_pool.TryRent(out var p) || !p.TrySetFrame(frame))
            throw new InvalidOperationException("pool");
        p.Metadata.InPort = 1;
        return p;
    }

    private static byte[] BuildIpv4Tcp(bool vlan)
    {
        int l2 = vlan ? 18 : 14;
        var f = new byte[l2 + 20 + 20 + 64];
        WriteEthernet(f, vlan, 0x0800);
        var ip = f.AsSpan(l2);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], 20 + 20 + 64);
        ip[8] = 64;
        ip[9] = 6;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], 0x0A000001);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0x0A000002);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Ipv4Header(ip));
        WriteTcp(f.AsSpan(l2 + 20));
        return f;
    }

    private static byte[] BuildIpv6Tcp()
    {
        var f = new byte[14 + 40 + 20 + 64];
        WriteEthernet(f, false, 0x86dd);
        var ip = f.AsSpan(14);
        BinaryPrimitives.WriteUInt32BigEndian(ip, 0x6000_0000 | 0x12345);
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], 20 + 64);
        ip[6] = 6;
        ip[7] = 64;
        ip[8] = 0x20; ip[9] = 0x01; ip[23] = 1;
        ip[24] = 0x20; ip[25] = 0x01; ip[39] = 2;
        WriteTcp(f.AsSpan(54));
        return f;
    }

    private static void WriteEthernet(byte[] f, bool vlan, ushort type)
    {
        f[0] = 0x10; f[5] = 0x15; f[6] = 0x02; f[11] = 0x05;
        if (vlan)
        {
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), 100);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), type);
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), type);
        }
    }

    private static void WriteTcp(Span<byte> tcp)
    {
        BinaryPrimitives.WriteUInt16BigEndian(tcp, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], 80);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[12..], 0x5018);
    }
}
