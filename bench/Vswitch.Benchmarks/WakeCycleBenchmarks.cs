using BenchmarkDotNet.Attributes;
using Vswitch.Interop.Linux;
using Vswitch.Netdev;
using Vswitch.Netdev.Memory;
using Vswitch.Packets;

namespace Vswitch.Benchmarks;

/// <summary>
/// The bookkeeping around one poll-thread sleep, with <see cref="Queues"/> memory rx queues (eventfd wait descriptors)
/// plus the thread's own wake eventfd in one epoll set, when one queue fired: arm every queue, collect the ready
/// events, disarm every queue. <see cref="EveryQueue"/> is the poll thread's former way (read every queue's eventfd
/// and the wake eventfd after every wake-up); <see cref="FiredOnly"/> is the current one (read only what epoll
/// reported). The epoll_wait itself (timeout 0) is in both.
/// Run: <c>dotnet run -c Release --project bench/Vswitch.Benchmarks -- --filter '*WakeCycle*' --job short</c>.
/// </summary>
[MemoryDiagnoser]
public class WakeCycleBenchmarks
{
    private const ulong WakeToken = ulong.MaxValue;
    private PacketPool _pool = null!;
    private MemoryNetdev _device = null!;
    private EpollSet _epoll = null!;
    private EventFd _wake = null!;
    private NetdevRxQueue[] _queues = [];
    private bool[] _fired = [];
    private readonly EpollEvent[] _events = new EpollEvent[EpollSet.MaxEventsPerWait];
    private readonly byte[] _frame = new byte[64];

    /// <summary>Rx queues the thread sleeps on.</summary>
    [Params(1, 8)]
    public int Queues { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _pool = new PacketPool(1024);
        var provider = new MemoryNetdevProvider();
        _device = provider.OpenDevice("vswwake", _pool, $"queues={Queues}");
        EpollSet.Create(out var epoll);
        _epoll = epoll!;
        EventFd.Create(out var wake);
        _wake = wake!;
        _epoll.Add(_wake.Fd, WakeToken);
        _queues = new NetdevRxQueue[Queues];
        _fired = new bool[Queues];
        for (int i = 0; i < Queues; i++)
        {
            _queues[i] = _device.GetRxQueue(i);
            _epoll.Add(_queues[i].WaitFd, (ulong)i);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _epoll.Dispose();
        _wake.Dispose();
        _device.Dispose();
        _pool.Dispose();
    }

    private int SleepAndWakeOneQueue()
    {
        for (int i = 0; i < _queues.Length; i++) _queues[i].PrepareToWait();
        _device.Inject(_frame, 0);   // a producer wakes queue 0: its eventfd is signalled
        _epoll.Wait(_events, 0, out int ready);
        return ready;
    }

    private void DrainQueue0()
    {
        var batch = new PacketBatch();
        _queues[0].Receive(ref batch);
        batch.ReleaseAll();
    }

    /// <summary>After the wake-up every queue's eventfd and the wake eventfd are read.</summary>
    [Benchmark(Baseline = true)]
    public void EveryQueue()
    {
        SleepAndWakeOneQueue();
        for (int i = 0; i < _queues.Length; i++) _queues[i].FinishWait();
        _wake.Consume();
        DrainQueue0();
    }

    /// <summary>After the wake-up only the eventfds epoll reported are read.</summary>
    [Benchmark]
    public void FiredOnly()
    {
        int ready = SleepAndWakeOneQueue();
        bool woken = false;
        for (int i = 0; i < ready; i++)
        {
            ulong token = _events[i].Token;
            if (token == WakeToken) woken = true;
            else _fired[(int)token] = true;
        }
        for (int i = 0; i < _queues.Length; i++)
        {
            _queues[i].FinishWait(_fired[i]);
            _fired[i] = false;
        }
        if (woken) _wake.Consume();
        DrainQueue0();
    }
}
