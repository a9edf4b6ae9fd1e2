using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Vswitch.Datapath.Odp;
using Vswitch.Datapath.Userspace;
using Vswitch.Packets;

namespace Vswitch.Benchmarks;

/// <summary>
/// The userspace datapath's output step to one port: <see cref="Packets"/> output actions queue packets on the port's
/// output slot, then one flush sends them with one <c>Send</c> on the port's tx queue (a sink that keeps the buffers).
/// The datapath has one poll thread, so there are two senders: poll thread 0 and the control context (sender 1), whose
/// context the benchmark drives. With a one-queue sink both senders map to queue 0 (shared: the flush takes the queue's
/// spin lock); with a two-queue sink the control context alone uses queue 1 (no lock since issue 8; the base code
/// locked every queue). Per flush.
/// Run: <c>dotnet run -c Release --project bench/Vswitch.Benchmarks -- --filter '*TxSendBenchmarks*' --job short</c>.
/// </summary>
[MemoryDiagnoser]
public class TxSendBenchmarks
{
    private PacketPool _pool = null!;
    private UserspaceDatapathProvider _provider = null!;
    private UserspaceDatapathHandle _dp = null!;
    private SinkNetdev _sink = null!;
    private PacketBuffer[] _packets = [];
    private readonly OdpAction[] _output = [new OutputAction(2)];
    private FlowKey _key;

    /// <summary>True: the sink has one tx queue, shared by the two senders; false: two queues, one per sender.</summary>
    [Params(false, true)]
    public bool SharedTxQueue { get; set; }

    /// <summary>Packets per flush (a whole burst, or a single packet where the per-flush cost shows most).</summary>
    [Params(1, 32)]
    public int Packets { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _pool = new PacketPool(1024);
        _provider = new UserspaceDatapathProvider(new UserspaceDatapathOptions { PollThreads = 1 });
        _provider.Open("vswbench" + Random.Shared.Next(1000, 9999), true, out var h);
        _dp = (UserspaceDatapathHandle)h!;
        _sink = new SinkNetdev("vswsink", txQueues: SharedTxQueue ? 1 : 2);
        _dp.PortAdd(_sink, 2, out _);
        var frame = new byte[64];
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x88B5);
        _packets = new PacketBuffer[Packets];
        for (int i = 0; i < Packets; i++)
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

    /// <summary>The output actions and one flush (one <c>Send</c> on the sink's tx queue).</summary>
    [Benchmark]
    public void OutputAndFlush()
    {
        var ctx = _dp.Backend.ManualContext;
        var packets = _packets;
        for (int i = 0; i < packets.Length; i++) ctx.RunActions(packets[i], _output, in _key, 0);
        ctx.FlushOutputs();
        _sink.Reclaim(packets);
    }
}
