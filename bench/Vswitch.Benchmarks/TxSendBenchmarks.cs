using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Vswitch.Datapath.Odp;
using Vswitch.Datapath.Userspace;
using Vswitch.Packets;

namespace Vswitch.Benchmarks;

/// <summary>
/// The userspace datapath's output step for one batch of 32 packets to one port: 32 output actions queue the packets on
/// the port's output slot, then one flush sends them on the port's tx queue (a sink that keeps the buffers). With
/// <see cref="SharedTxQueue"/> the datapath has a poll thread besides the control context, so the sink's single tx queue
/// has two senders and the flush takes the queue's spin lock; without, the context is the queue's only sender.
/// Per batch. Run: <c>dotnet run -c Release --project bench/Vswitch.Benchmarks -- --filter '*TxSendBenchmarks*' --job short</c>.
/// </summary>
[MemoryDiagnoser]
public class TxSendBenchmarks
{
    private const int Batch = PacketBatch.Capacity;
    private PacketPool _pool = null!;
    private UserspaceDatapathProvider _provider = null!;
    private UserspaceDatapathHandle _dp = null!;
    private SinkNetdev _sink = null!;
    private readonly PacketBuffer[] _packets = new PacketBuffer[Batch];
    private readonly OdpAction[] _output = [new OutputAction(2)];
    private FlowKey _key;

    /// <summary>True: two senders map to the sink's one tx queue (locked); false: one sender (no lock).</summary>
    [Params(false, true)]
    public bool SharedTxQueue { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _pool = new PacketPool(1024);
        _provider = new UserspaceDatapathProvider(new UserspaceDatapathOptions { PollThreads = SharedTxQueue ? 1 : 0 });
        _provider.Open("vswbench" + Random.Shared.Next(1000, 9999), true, out var h);
        _dp = (UserspaceDatapathHandle)h!;
        _sink = new SinkNetdev("vswsink");
        _dp.PortAdd(_sink, 2, out _);
        var frame = new byte[64];
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x88B5);
        for (int i = 0; i < Batch; i++)
        {
            _pool.TryRent(out var p);
            p!.TrySetFrame(frame);
            _packets[i] = p;
        }
        _key.InPort = 1;
        _dp.Backend.ManualContext.RefreshPorts();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _dp.Destroy();
        _pool.Dispose();
    }

    /// <summary>32 output actions to port 2 and one flush (one <c>Send</c> of 32 on the sink's tx queue).</summary>
    [Benchmark]
    public void OutputAndFlush32()
    {
        var ctx = _dp.Backend.ManualContext;
        for (int i = 0; i < Batch; i++) ctx.RunActions(_packets[i], _output, in _key, 0);
        ctx.FlushOutputs();
        _sink.Reclaim(_packets);
    }
}
