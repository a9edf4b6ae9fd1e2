using Vswitch.Interop.Linux;
using Vswitch.Packets;

namespace Vswitch.Datapath.Userspace;

/// <summary>
/// One poll thread: owns a disjoint set of rx queues (from the published <see cref="PortTable"/>), receives bursts and
/// runs them through its <see cref="PollContext"/>. When its queues stay empty it arms them
/// (<c>PrepareToWait</c>) and sleeps in epoll on their wait descriptors plus its own wake eventfd, with a short
/// timeout; control operations signal the wake eventfd so table changes are picked up at once. After a wait it
/// consumes only the signals epoll reported (<c>FinishWait(fired)</c>, the wake eventfd only when its token fired),
/// so a wake-up costs one read per descriptor that fired, not one per queue.
/// </summary>
internal sealed class PollThread
{
    private const int IdleIterationsBeforeSleep = 16;
    private const int SleepTimeoutMs = 100;
    private const int PollTimeoutForFdlessQueuesMs = 1;
    private const ulong WakeToken = ulong.MaxValue;

    private readonly UserspaceDatapath _dp;
    private readonly int _index;
    private readonly Thread _thread;
    private readonly EventFd? _wake;
    private readonly EpollSet? _epoll;
    private volatile bool _stop;
    private long _quiescentSeq;
    private long _faults;

    /// <summary>Batches abandoned because something threw inside the fast path (should stay 0).</summary>
    public long Faults => Interlocked.Read(ref _faults);
    private readonly List<int> _registeredFds = [];
    private bool[] _fired = [];
    private PacketPoolThreadCaches? _caches;

    public PollThread(UserspaceDatapath dp, int index, int emcEntries)
    {
        _dp = dp;
        _index = index;
        Context = new PollContext(dp, index, emcEntries);
        // Without an epoll set (descriptors exhausted) the thread naps 1 ms when idle instead of sleeping in epoll.
        if (EventFd.Create(out _wake).IsError) _wake = null;
        if (EpollSet.Create(out _epoll).IsError) _epoll = null;
        if (_epoll is not null && _wake is not null) _epoll.Add(_wake.Fd, WakeToken);
        _thread = new Thread(Run) { IsBackground = true, Name = $"pmd{index}-{dp.Name}" };
    }

    public PollContext Context { get; }

    public bool IsRunning => _thread.IsAlive;

    /// <summary>Incremented (with a full fence) at the top of every loop iteration, before the thread reads the port table.</summary>
    public long QuiescentSeq => Interlocked.Read(ref _quiescentSeq);

    public void Start() => _thread.Start();

    public void Wake() => _wake?.Signal();

    public void StopAndJoin()
    {
        _stop = true;
        Wake();
        if (_thread.IsAlive && Thread.CurrentThread != _thread) _thread.Join();
        _epoll?.Dispose();
        _wake?.Dispose();
    }

    private void Run()
    {
        // Rents (rx) and releases (tx, drops) of this thread go through its own packet pool caches: in steady state
        // they touch no cache line another thread writes. Disposed (buffers back to their pools) when the thread ends.
        using var caches = PacketPool.EnableThreadCaches();
        _caches = caches;
        Loop();
    }

    private void Loop()
    {
        var batch = new PacketBatch();
        RxAssignment[] queues = [];
        PortTable? seen = null;
        int idle = 0;
        long nextRerank = Environment.TickCount64 + 100;
        Span<EpollEvent> events = stackalloc EpollEvent[EpollSet.MaxEventsPerWait];
        while (!_stop)
        {
            Interlocked.Increment(ref _quiescentSeq);
            var table = _dp.Ports;
            if (!ReferenceEquals(table, seen))
            {
                Context.RefreshPorts();
                queues = _index < table.PerThread.Length ? table.PerThread[_index] : [];
                Rearm(queues);
                seen = table;
            }
            int got = 0;
            for (int i = 0; i < queues.Length; i++)
            {
                var a = queues[i];
                int n;
                try
                {
                    n = a.Queue.Receive(ref batch);
                }
                catch (Exception)
                {
                    // A provider broke the never-throws contract; keep polling the others.
                    batch.ReleaseAll();
                    continue;
                }
                if (n <= 0) continue;
                got += n;
                try
                {
                    Context.ProcessBatch(ref batch, a.Port.PortNo);
                }
                catch (Exception)
                {
                    // A provider's tx broke the never-throws contract (or a bug): never let the poll thread die.
                    // Packets still in the batch are forgotten rather than risk releasing one twice.
                    batch.Clear();
                    Interlocked.Increment(ref _faults);
                }
            }
            if (got > 0)
            {
                idle = 0;
            }
            else if (++idle >= IdleIterationsBeforeSleep)
            {
                Sleep(queues, events);
            }
            if (_index == 0 && (got == 0 || (Environment.TickCount64 >= nextRerank)))
            {
                long now = Environment.TickCount64;
                if (now >= nextRerank)
                {
                    _dp.TryRerank();
                    nextRerank = now + 100;
                }
            }
        }
    }

    private void Rearm(RxAssignment[] queues)
    {
        if (_fired.Length < queues.Length) _fired = new bool[queues.Length];
        if (_epoll is null) return;
        foreach (var fd in _registeredFds) _epoll.Remove(fd);
        _registeredFds.Clear();
        for (int i = 0; i < queues.Length; i++)
        {
            int fd = queues[i].Queue.WaitFd;
            if (fd < 0) continue;
            if (_epoll.Add(fd, (ulong)i).IsSuccess) _registeredFds.Add(fd);
        }
    }

    private void Sleep(RxAssignment[] queues, Span<EpollEvent> events)
    {
        bool pending = false, fdless = false;
        for (int i = 0; i < queues.Length; i++)
        {
            var q = queues[i].Queue;
            if (!q.PrepareToWait()) pending = true;
            if (q.WaitFd < 0) fdless = true;
        }
        // An idle thread does not hoard buffers: its caches go back to the pools before it sleeps.
        if (!pending) _caches?.Flush();
        int ready = 0;
        if (!pending && !_stop && _epoll is not null)
            _epoll.Wait(events, fdless ? PollTimeoutForFdlessQueuesMs : SleepTimeoutMs, out ready);
        else if (!pending && _epoll is null)
            Thread.Sleep(1);
        // Only what fired is consumed: one read per signalled eventfd, none for quiet queues. A signal that lands
        // after the wait stays pending and ends the next wait at once.
        var fired = _fired;
        bool woken = false;
        for (int i = 0; i < ready; i++)
        {
            ulong token = events[i].Token;
            if (token == WakeToken) woken = true;
            else if (token < (ulong)queues.Length) fired[(int)token] = true;
        }
        for (int i = 0; i < queues.Length; i++)
        {
            queues[i].Queue.FinishWait(fired[i]);
            fired[i] = false;
        }
        if (woken) _wake!.Consume();
    }
}
