using BenchmarkDotNet.Attributes;
using Vswitch.Packets;

namespace Vswitch.Benchmarks;

/// <summary>
/// Rent and return through <see cref="PacketPool"/>, per buffer (<c>OperationsPerInvoke = 32</c>): on one thread, and
/// rented on the benchmark thread but returned on another (as a poll thread's rx buffers are released by the peer's
/// poll thread), each with and without per-thread caches (<see cref="PacketPool.EnableThreadCaches"/>).
/// Run: <c>dotnet run -c Release --project bench/Vswitch.Benchmarks -- --filter '*PacketPoolBenchmarks*' --job short</c>.
/// </summary>
[MemoryDiagnoser]
public class PacketPoolBenchmarks
{
    private const int Burst = 32;
    private PacketPool _pool = null!;
    private readonly PacketBuffer[] _held = new PacketBuffer[Burst];
    private PacketPoolThreadCaches? _caches; // cache-api
    private Handoff _handoff = null!;
    private Thread? _consumer;
    private volatile bool _stop;

    /// <summary>Whether the threads use per-thread caches.</summary>
    [Params(false, true)]
    public bool ThreadCaches { get; set; }

    [GlobalSetup(Target = nameof(RentReturn))]
    public void SetupSingle()
    {
        _pool = new PacketPool(4096);
        if (ThreadCaches) _caches = PacketPool.EnableThreadCaches(); // cache-api
    }

    [GlobalSetup(Target = nameof(RentHereReturnThere))]
    public void SetupCrossThread()
    {
        SetupSingle();
        _handoff = new Handoff(1024);
        bool caches = ThreadCaches;
        _consumer = new Thread(() =>
        {
            using var c = caches ? PacketPool.EnableThreadCaches() : null; // cache-api
            var spin = new SpinWait();
            while (!_stop)
            {
                if (_handoff.TryTake(out var b)) { b.Release(); spin = default; }
                else spin.SpinOnce(sleep1Threshold: -1);
            }
            while (_handoff.TryTake(out var b)) b.Release();
        }) { IsBackground = true, Name = "bench-consumer" };
        _consumer.Start();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop = true;
        _consumer?.Join();
        _caches?.Dispose(); // cache-api
        _pool.Dispose();
    }

    /// <summary>Rent 32, return 32, on the benchmark thread.</summary>
    [Benchmark(OperationsPerInvoke = Burst)]
    public void RentReturn()
    {
        var held = _held;
        for (int i = 0; i < Burst; i++) _pool.TryRent(out held[i]!);
        for (int i = 0; i < Burst; i++) held[i].Release();
    }

    /// <summary>Rent 32 on the benchmark thread and hand them to a consumer thread that returns them.</summary>
    [Benchmark(OperationsPerInvoke = Burst)]
    public void RentHereReturnThere()
    {
        for (int i = 0; i < Burst; i++)
        {
            PacketBuffer? b;
            var spin = new SpinWait();
            while (!_pool.TryRent(out b)) spin.SpinOnce(sleep1Threshold: -1);
            spin = default;
            while (!_handoff.TryAdd(b)) spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>A single-producer single-consumer ring (the benchmark's own plumbing, not under test).</summary>
    private sealed class Handoff(int capacity)
    {
        private readonly PacketBuffer?[] _items = new PacketBuffer?[capacity];
        private long _head;
        private long _tail;

        public bool TryAdd(PacketBuffer b)
        {
            long tail = _tail;
            if (tail - Volatile.Read(ref _head) == _items.Length) return false;
            _items[tail % _items.Length] = b;
            Volatile.Write(ref _tail, tail + 1);
            return true;
        }

        public bool TryTake(out PacketBuffer b)
        {
            long head = _head;
            if (head == Volatile.Read(ref _tail)) { b = null!; return false; }
            b = _items[head % _items.Length]!;
            Volatile.Write(ref _head, head + 1);
            return true;
        }
    }
}
