using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Vswitch.Datapath;
using Vswitch.Datapath.Odp;
using Vswitch.Datapath.Userspace;
using Vswitch.Netdev;
using Vswitch.Netdev.Memory;
using Vswitch.Packets;

namespace Vswitch.Benchmarks;

/// <summary>
/// The userspace datapath's fast path and flow setup, one batch of 32 packets per operation
/// (<c>OperationsPerInvoke = 32</c>, so the reported time is per packet; Mpps = 1000 / ns).
/// Run: <c>dotnet run -c Release --project bench/Vswitch.Benchmarks -- --filter '*DatapathBenchmarks*' --job short</c>.
/// </summary>
[MemoryDiagnoser]
public class DatapathBenchmarks
{
    private const int Batch = PacketBatch.Capacity;

    private PacketPool _pool = null!;
    private UserspaceDatapathProvider _provider = null!;
    private UserspaceDatapathHandle _dp = null!;
    private SinkNetdev _sink = null!;
    private MemoryNetdev _memIn = null!, _memOut = null!;
    private uint _memInPort;
    private PacketBatch _batch;
    private readonly PacketBuffer[] _packets = new PacketBuffer[Batch];
    private FlowKey[] _setupKeys = [];

    /// <summary>Classifier subtables (distinct masks) the packets are spread over.</summary>
    [Params(1, 8, 32)]
    public int Subtables { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _pool = new PacketPool(4096);
        _provider = new UserspaceDatapathProvider(new UserspaceDatapathOptions { PollThreads = 0 });
        _provider.Open("vswbench" + Random.Shared.Next(1000, 9999), true, out var h);
        _dp = (UserspaceDatapathHandle)h!;
        _sink = new SinkNetdev("vswsink");
        _dp.PortAdd(_sink, 2, out _);
        var mem = new MemoryNetdevProvider();
        _memIn = mem.OpenDevice("vswmemin", _pool, "capacity=1024");
        _memOut = mem.OpenDevice("vswmemout", _pool, "capacity=1024");
        _dp.PortAdd(_memIn, 3, out _memInPort);
        _dp.PortAdd(_memOut, 4, out _);

        // Packet i belongs to subtable i % Subtables: every flow matches in_port, eth_type, proto and its own ipv4 src
        // exactly, plus a mask shape (tp_src prefix, ipv4 dst on/off) unique to its subtable.
        for (int i = 0; i < Batch; i++)
        {
            int s = i % Subtables;
            _pool.TryRent(out var p);
            p!.TrySetFrame(UdpFrame(0x0A000000u | (uint)s, (ushort)(1000 + i)));  // distinct udp dst per packet (unmasked)
            _packets[i] = p;
        }
        for (int s = 0; s < Subtables; s++)
        {
            FlowKey mask = default;
            mask.InPort = uint.MaxValue;
            mask.EthType = 0xFFFF;
            mask.NwProto = 0xFF;
            mask.Ipv4Src = uint.MaxValue;
            mask.TpSrc = (ushort)(0xFFFF << (s % 16));
            mask.Ipv4Dst = s < 16 ? 0 : uint.MaxValue;
            FlowExtractor.Extract(UdpFrame(0x0A000000u | (uint)s, 1000), new PacketMetadata { InPort = 1 }, out var key, out _);
            var rc = _dp.FlowPut(FlowPutFlags.Create, key, mask, new OdpActionList([new OutputAction(2)]), out _, out var error);
            if (rc.IsError) throw new InvalidOperationException($"flow put: {rc} {error}");
            // The memory-to-memory path: same packets arriving on the memory port, out the other memory port.
            key.InPort = _memInPort;
            rc = _dp.FlowPut(FlowPutFlags.Create, key, mask, new OdpActionList([new OutputAction(4)]), out _, out error);
            if (rc.IsError) throw new InvalidOperationException($"flow put: {rc} {error}");
        }
        _setupKeys = new FlowKey[Batch];
        // Sanity: every benchmark packet must hit a flow on port 1 (a miss would measure the upcall path instead).
        RunThroughContext(emc: false);
        _dp.GetStats(out var stats);
        if (stats.Missed != 0 || stats.Hit != Batch) throw new InvalidOperationException($"benchmark packets miss: {stats}");
        _dp.SetListenMask(DatapathListenMask.Miss);
    }

    private static byte[] UdpFrame(uint src, ushort dport)
    {
        var f = new byte[64];
        BinaryPrimitives.WriteUInt64BigEndian(f, 0x101112131415_0001UL);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(8), 0x02030405);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        f[14] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 50);
        f[22] = 64;
        f[23] = 17;
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(26), src);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(30), 0x0A010101);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(24), Checksum.Ipv4Header(f.AsSpan(14, 20)));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(34), 0); // tp_src 0: inside every subtable's tp_src prefix
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(36), dport);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(38), 30);
        return f;
    }

    private void FillBatch()
    {
        for (int i = 0; i < Batch; i++) _batch.TryAdd(_packets[i]);
    }

    private void RunThroughContext(bool emc)
    {
        var ctx = _dp.Backend.ManualContext;
        ctx.EmcEnabled = emc;
        ctx.RefreshPorts();
        FillBatch();
        ctx.ProcessBatch(ref _batch, 1);
        _sink.Reclaim(_packets); // the sink hands the same buffers back, in order
    }

    /// <summary>Extract + exact-match cache hit + output batching to a sink port (no netdev cost).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public void EmcHit() => RunThroughContext(emc: true);

    /// <summary>Extract + tuple-space classifier hit (EMC off), packets spread evenly over <see cref="Subtables"/> subtables.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public void ClassifierHit() => RunThroughContext(emc: false);

    /// <summary>
    /// The whole fast path memory port -> memory port: 32 packets in the rx ring of one memory port, one poll
    /// (receive, extract, EMC, actions, tx into the other port's capture ring), then the packets are taken back.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public void MemoryToMemory()
    {
        _dp.Backend.ManualContext.EmcEnabled = true;
        for (int i = 0; i < Batch; i++) _memIn.Inject(_packets[i]);
        _dp.PollOnce();
        for (int i = 0; i < Batch; i++)
        {
            _memOut.TryTake(out var p);
            _packets[i] = p!;
        }
    }

    /// <summary>
    /// Flow setup: 32 packets of new flows miss (upcall queued), are received, a flow is put for each and the packet
    /// executed; then the flows are deleted again so every iteration sets up fresh flows. Per flow.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public void FlowSetup()
    {
        var ctx = _dp.Backend.ManualContext;
        ctx.EmcEnabled = true;
        ctx.RefreshPorts();
        FillBatch();
        ctx.ProcessBatch(ref _batch, 9); // in_port 9 has no flows: every packet misses
        var mask = default(FlowKey);
        mask.InPort = uint.MaxValue;
        mask.EthType = 0xFFFF;
        mask.NwProto = 0xFF;
        mask.TpDst = 0xFFFF;
        var actions = s_output2;
        int n = 0;
        while (_dp.RecvUpcall(out var up).IsSuccess)
        {
            _setupKeys[n++] = up!.Key;
            _dp.FlowPut(FlowPutFlags.Create, up.Key, mask, actions, out _, out _);
            _dp.Execute(up.Packet, actions);
        }
        for (int i = 0; i < n; i++) _dp.FlowDel(_setupKeys[i], mask, out _);
        _sink.Reclaim(_packets);
    }

    private static readonly OdpActionList s_output2 = new([new OutputAction(2)]);

    [GlobalCleanup]
    public void Cleanup()
    {
        _dp.Destroy();
        _pool.Dispose();
    }
}
