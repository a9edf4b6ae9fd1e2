using BenchmarkDotNet.Attributes;
using Vswitch.Netdev;
using Vswitch.Netdev.Memory;
using Vswitch.Packets;

namespace Vswitch.Benchmarks;

/// <summary>
/// A batch of 32 packets through a wired pair of memory ports (tx on A, rx on B), the cost every datapath
/// test and benchmark pays per batch. Must allocate nothing.
/// Run: <c>dotnet run -c Release --project bench/Vswitch.Benchmarks -- --filter '*MemoryPort*' --job short</c>.
/// </summary>
[MemoryDiagnoser]
public class MemoryPortBenchmarks
{
    private PacketPool _pool = null!;
    private MemoryNetdev _a = null!;
    private MemoryNetdev _b = null!;
    private MemoryNetdev _standalone = null!;
    private NetdevTxQueue _tx = null!;
    private NetdevRxQueue _rx = null!;
    private NetdevRxQueue _standaloneRx = null!;
    private PacketBatch _batch;
    private readonly byte[] _frame = new byte[64];

    [GlobalSetup]
    public void Setup()
    {
        _pool = new PacketPool(256);
        var provider = new MemoryNetdevProvider();
        (_a, _b) = provider.OpenPair("vswbencha", "vswbenchb", _pool);
        _standalone = provider.OpenDevice("vswbenchc", _pool);
        _tx = _a.GetTxQueue(0);
        _rx = _b.GetRxQueue(0);
        _standaloneRx = _standalone.GetRxQueue(0);
        _frame.AsSpan().Fill(0xAB);
        _pool.RentBatch(ref _batch, PacketBatch.Capacity);
        for (int i = 0; i < _batch.Count; i++) _batch[i].TrySetFrame(_frame);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _batch.ReleaseAll();
        _a.Dispose();
        _b.Dispose();
        _standalone.Dispose();
        _pool.Dispose();
    }

    /// <summary>The same 32 buffers go A.tx → B.rx → back into the batch: ring transport only (zero copy).</summary>
    [Benchmark(Baseline = true)]
    public int SendReceiveBatch32()
    {
        int sent = _tx.Send(ref _batch);
        int received = _rx.Receive(ref _batch);
        return sent + received;
    }

    /// <summary>As a poll loop does it: rent 32 buffers, send, receive, release them to the pool.</summary>
    [Benchmark]
    public int RentSendReceiveReleaseBatch32()
    {
        var batch = new PacketBatch();
        _pool.RentBatch(ref batch, PacketBatch.Capacity);
        int sent = _tx.Send(ref batch);
        int received = _rx.Receive(ref batch);
        batch.ReleaseAll();
        return sent + received;
    }

    /// <summary>Tests' way in: 32 × Inject (rent + copy a 64-byte frame), then one Receive and release.</summary>
    [Benchmark]
    public int InjectReceiveRelease32()
    {
        for (int i = 0; i < PacketBatch.Capacity; i++) _standalone.Inject(_frame);
        var batch = new PacketBatch();
        int received = _standaloneRx.Receive(ref batch);
        batch.ReleaseAll();
        return received;
    }
}
