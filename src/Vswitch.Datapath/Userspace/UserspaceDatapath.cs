using System.Runtime.CompilerServices;
using Vswitch.Datapath.Odp;
using Vswitch.Interop.Linux;
using Vswitch.Packets;

namespace Vswitch.Datapath.Userspace;

/// <summary>
/// The shared state of one userspace datapath (all handles point here): ports, classifier, poll threads, upcall queue,
/// port change log and settings. Control operations are serialised by <see cref="_control"/>; the fast path reads
/// published snapshots only (see docs/datapath.md).
/// </summary>
internal sealed class UserspaceDatapath
{
    private const int ChangeLogCapacity = 64;

    private readonly UserspaceDatapathProvider _provider;
    private readonly UserspaceDatapathOptions _options;
    private readonly Lock _control = new();
    private readonly Lock _execLock = new();
    private readonly PollThread[] _threads;
    private readonly int _senders;
    private readonly PollContext _manual;
    private readonly PollContext _executor;
    private readonly UpcallQueue _upcalls;
    private readonly IFlowKeyValidator _validator;
    private PortTable _ports;
    private volatile bool _destroyed;
    private volatile bool _dropFrags;
    private volatile int _listenMask;
    private volatile uint _sflowProbability;
    private long _flushGeneration;

    // Port change log (OVS's port_poll): names, or "overflowed" meaning resync.
    private readonly object _changeLock = new();
    private readonly Queue<string> _changes = new();
    private bool _changesOverflowed;

    public UserspaceDatapath(UserspaceDatapathProvider provider, string name, UserspaceDatapathOptions options, IFlowKeyValidator validator)
    {
        _provider = provider;
        _options = options;
        _validator = validator;
        Name = name;
        MaxPorts = options.MaxPorts;
        Classifier = new Classifier();
        _upcalls = new UpcallQueue(options.UpcallQueueCapacity, options.UpcallQueuePerPortCapacity, options.MaxPorts);
        // Senders (tx queue users): poll thread i is sender i; the control context (Execute, and PollOnce in manual
        // mode, both serialised by _execLock) is sender PollThreads. A port's tx queue q serves the senders s with
        // s mod TxQueueCount == q; a queue with exactly one sender is used without a lock.
        _senders = options.PollThreads + 1;
        var byNumber = new DpPort?[MaxPorts];
        LocalDevice = new InternalNetdev(name, options.LocalPortQueues, options.LocalPortQueues);
        byNumber[0] = new DpPort(0, LocalDevice, _senders);
        _ports = new PortTable(byNumber, options.PollThreads);
        _threads = new PollThread[options.PollThreads];
        for (int i = 0; i < _threads.Length; i++) _threads[i] = new PollThread(this, i, options.EmcEntries);
        _manual = new PollContext(this, options.PollThreads, options.EmcEntries);
        _executor = new PollContext(this, options.PollThreads, 16);
        foreach (var t in _threads) t.Start();
    }

    public string Name { get; }
    public int MaxPorts { get; }
    public Classifier Classifier { get; }
    public InternalNetdev LocalDevice { get; }
    public bool Destroyed => _destroyed;
    public bool DropFragsFlag => _dropFrags;
    public long FlushGeneration => Volatile.Read(ref _flushGeneration);

    public PortTable Ports
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Volatile.Read(ref _ports);
    }

    /// <summary>The sFlow probability when sample upcalls are listened for, else 0 (one read per batch).</summary>
    public uint SampleProbabilityIfListening =>
        (_listenMask & (int)DatapathListenMask.Sample) != 0 ? _sflowProbability : 0;

    // ---- upcalls (called from poll threads and the executor) ----

    [MethodImpl(MethodImplOptions.NoInlining)]
    public void MissUpcall(in FlowKey key, PacketBuffer packet)
    {
        if ((_listenMask & (int)DatapathListenMask.Miss) == 0)
        {
            packet.Release();
            _upcalls.CountLost(key.InPort);
            return;
        }
        _upcalls.TryEnqueue(new DatapathUpcall(DatapathUpcallType.Miss, key, packet));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public void ActionUpcall(in FlowKey key, PacketBuffer packet, uint pid, byte[]? userdata)
    {
        if ((_listenMask & (int)DatapathListenMask.Action) == 0)
        {
            packet.Release();
            _upcalls.CountLost(key.InPort);
            return;
        }
        _upcalls.TryEnqueue(new DatapathUpcall(DatapathUpcallType.Action, key, packet, pid, userdata));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public void SampleUpcall(in FlowKey key, PacketBuffer packet, OdpActionList actions) =>
        _upcalls.TryEnqueue(new DatapathUpcall(DatapathUpcallType.Sample, key, packet, actions: actions));

    /// <summary>Re-ranks classifier subtables if the control lock is free (called by poll thread 0 periodically).</summary>
    public void TryRerank()
    {
        if (!_control.TryEnter()) return;
        try { Classifier.Rerank(); }
        finally { _control.Exit(); }
    }

    // ---- manual polling ----

    public int PollOnce()
    {
        if (_destroyed || _threads.Length != 0) return 0; // with poll threads, each rx queue has its one poller
        var batch = new PacketBatch();
        int total = 0;
        lock (_execLock)
        {
            _manual.RefreshPorts();
            foreach (var a in Ports.PerThread[0])
            {
                int n = a.Queue.Receive(ref batch);
                if (n <= 0) continue;
                total += n;
                _manual.ProcessBatch(ref batch, a.Port.PortNo);
            }
        }
        return total;
    }

    /// <summary>The manual-mode context (benchmarks drive it directly).</summary>
    internal PollContext ManualContext => _manual;

    // ---- control operations ----

    public Errno Destroy()
    {
        DpPort[] ports;
        lock (_control)
        {
            if (_destroyed) return Errno.ENODEV;
            _destroyed = true;
            foreach (var t in _threads) t.StopAndJoin();
            ports = Ports.Ports;
            Volatile.Write(ref _ports, new PortTable(new DpPort?[MaxPorts], _options.PollThreads));
            Classifier.Clear();
            Interlocked.Increment(ref _flushGeneration);
        }
        lock (_execLock) { _executor.RefreshPorts(); _manual.RefreshPorts(); }
        _upcalls.Close();
        _upcalls.Purge();
        foreach (var p in ports) p.Device.Dispose();
        _provider.Forget(this);
        return Errno.Success;
    }

    public DatapathStats GetStats()
    {
        long emc = 0, mask = 0, missed = 0, malformed = 0, frags = 0, drops = 0;
        void Add(PollContext c)
        {
            emc += Volatile.Read(ref c.EmcHits);
            mask += Volatile.Read(ref c.MaskHits);
            missed += Volatile.Read(ref c.Missed);
            malformed += Volatile.Read(ref c.Malformed);
            frags += Volatile.Read(ref c.FragmentsDropped);
            drops += Volatile.Read(ref c.ActionDrops);
        }
        foreach (var t in _threads) Add(t.Context);
        Add(_manual);
        Add(_executor);
        return new DatapathStats
        {
            Hit = (ulong)(emc + mask), EmcHit = (ulong)emc, MaskHit = (ulong)mask, Missed = (ulong)missed,
            Lost = (ulong)_upcalls.Lost, Flows = (ulong)Classifier.FlowCount, Masks = (ulong)Classifier.Subtables.Length,
            Malformed = (ulong)malformed, FragmentsDropped = (ulong)frags, ActionDrops = (ulong)drops,
        };
    }

    public bool DropFrags
    {
        get => _dropFrags;
        set => _dropFrags = value;
    }

    public DatapathListenMask ListenMask
    {
        get => (DatapathListenMask)_listenMask;
        set => _listenMask = (int)value;
    }

    public uint SflowProbability
    {
        get => _sflowProbability;
        set => _sflowProbability = value;
    }

    public Errno PortAdd(Netdev.Netdev device, uint requested, out uint portNo)
    {
        portNo = IDatapath.NoPort;
        if (device is null || device.IsDisposed || device.RxQueueCount < 1 || device.TxQueueCount < 1) return Errno.EINVAL;
        lock (_control)
        {
            if (_destroyed) return Errno.ENODEV;
            var table = Ports;
            foreach (var p in table.Ports)
                if (p.Device.Name == device.Name || ReferenceEquals(p.Device, device)) return Errno.EEXIST;
            uint chosen;
            if (requested != IDatapath.NoPort)
            {
                if (requested >= (uint)MaxPorts) return Errno.EFBIG;
                if (table.ByNumber[requested] is not null) return Errno.EEXIST;
                chosen = requested;
            }
            else
            {
                chosen = IDatapath.NoPort;
                for (uint i = 1; i < (uint)MaxPorts; i++)
                    if (table.ByNumber[i] is null) { chosen = i; break; }
                if (chosen == IDatapath.NoPort) return Errno.EFBIG;
            }
            var byNumber = (DpPort?[])table.ByNumber.Clone();
            byNumber[chosen] = new DpPort(chosen, device, _senders);
            Publish(new PortTable(byNumber, _options.PollThreads));
            portNo = chosen;
            LogChange(device.Name);
        }
        return Errno.Success;
    }

    public Errno PortDel(uint portNo)
    {
        DpPort victim;
        lock (_control)
        {
            if (_destroyed) return Errno.ENODEV;
            if (portNo == 0) return Errno.EINVAL;
            var table = Ports;
            if (portNo >= (uint)MaxPorts || table.ByNumber[portNo] is not { } p) return Errno.ENOENT;
            victim = p;
            var byNumber = (DpPort?[])table.ByNumber.Clone();
            byNumber[portNo] = null;
            Publish(new PortTable(byNumber, _options.PollThreads));
            WaitForPollThreads();
            LogChange(victim.Device.Name);
        }
        // No poll thread, executor or manual poller uses the device any more.
        lock (_execLock) { _executor.RefreshPorts(); _manual.RefreshPorts(); }
        victim.Device.Dispose();
        return Errno.Success;
    }

    private void Publish(PortTable table)
    {
        Interlocked.Exchange(ref _ports, table); // full fence before the quiescence snapshot
    }

    /// <summary>
    /// Waits until every running poll thread has completed a full loop iteration that started after the last publish
    /// (so none still holds a reference from an older port table). Threads are woken so this takes microseconds.
    /// </summary>
    private void WaitForPollThreads()
    {
        foreach (var t in _threads)
        {
            long start = t.QuiescentSeq;
            long deadline = Environment.TickCount64 + 5000;
            while (t.IsRunning && t.QuiescentSeq < start + 2 && Environment.TickCount64 < deadline)
            {
                t.Wake();
                Thread.Sleep(0);
                if (t.QuiescentSeq < start + 2) Thread.Yield();
            }
        }
    }

    public Errno PortQuery(uint portNo, out DatapathPort? port)
    {
        port = null;
        if (_destroyed) return Errno.ENODEV;
        var t = Ports;
        if (portNo >= (uint)t.ByNumber.Length || t.ByNumber[portNo] is not { } p) return Errno.ENOENT;
        port = p.Public;
        return Errno.Success;
    }

    public Errno PortQuery(string name, out DatapathPort? port)
    {
        port = null;
        if (_destroyed) return Errno.ENODEV;
        foreach (var p in Ports.Ports)
            if (p.Device.Name == name) { port = p.Public; return Errno.Success; }
        return Errno.ENOENT;
    }

    public IReadOnlyList<DatapathPort> PortSnapshot() => Ports.Ports.Select(p => p.Public).ToArray();

    // ---- port change log ----

    private void LogChange(string name)
    {
        lock (_changeLock)
        {
            if (_changes.Count >= ChangeLogCapacity) _changesOverflowed = true;
            else _changes.Enqueue(name);
            Monitor.PulseAll(_changeLock);
        }
    }

    private void ScanChangeSeqs()
    {
        foreach (var p in Ports.Ports)
        {
            long seq = p.Device.ChangeSeq;
            long last = Volatile.Read(ref p.LastChangeSeq);
            if (seq != last && Interlocked.CompareExchange(ref p.LastChangeSeq, seq, last) == last)
                LogChange(p.Device.Name);
        }
    }

    private bool AnyChangeSeqMoved()
    {
        foreach (var p in Ports.Ports)
            if (p.Device.ChangeSeq != Volatile.Read(ref p.LastChangeSeq)) return true;
        return false;
    }

    public Errno PortPoll(out string? name)
    {
        name = null;
        if (_destroyed) return Errno.ENODEV;
        ScanChangeSeqs();
        lock (_changeLock)
        {
            if (_changesOverflowed)
            {
                _changesOverflowed = false;
                _changes.Clear();
                return Errno.ENOBUFS;
            }
            if (_changes.TryDequeue(out name)) return Errno.Success;
        }
        return Errno.EAGAIN;
    }

    public bool PortPollWait(int timeoutMs)
    {
        long deadline = timeoutMs < 0 ? long.MaxValue : Environment.TickCount64 + timeoutMs;
        while (true)
        {
            if (_destroyed) return true;
            lock (_changeLock)
                if (_changes.Count > 0 || _changesOverflowed) return true;
            if (AnyChangeSeqMoved()) return true;
            long left = deadline - Environment.TickCount64;
            if (left <= 0) return false;
            lock (_changeLock)
            {
                if (_changes.Count > 0 || _changesOverflowed) return true;
                Monitor.Wait(_changeLock, (int)Math.Min(left, 10)); // device change seqs are sampled every 10 ms
            }
        }
    }

    // ---- flows ----

    public Errno FlowGet(in FlowKey key, in FlowKey mask, out DatapathFlow? flow)
    {
        flow = null;
        if (_destroyed) return Errno.ENODEV;
        Normalize(key, mask, out var masked, out var m);
        var f = Classifier.Find(masked, m);
        if (f is null) return Errno.ENOENT;
        flow = f.Snapshot();
        return Errno.Success;
    }

    /// <summary>
    /// The (key, mask) identity a put of this pair would install: the validator's normalisation, or plain key AND mask
    /// when the pair is invalid (then nothing can match it anyway).
    /// </summary>
    private void Normalize(in FlowKey key, in FlowKey mask, out FlowKey maskedKey, out FlowKey normMask)
    {
        if (!_validator.Validate(key, mask, out maskedKey, out normMask, out _))
        {
            normMask = mask;
            maskedKey = FlowKey.ApplyMask(key, mask);
        }
    }

    public Errno FlowLookup(in FlowKey packetKey, out DatapathFlow? flow)
    {
        flow = null;
        if (_destroyed) return Errno.ENODEV;
        var f = Classifier.Peek(packetKey);
        if (f is null) return Errno.ENOENT;
        flow = f.Snapshot();
        return Errno.Success;
    }

    public Errno FlowPut(FlowPutFlags flags, in FlowKey key, in FlowKey mask, OdpActionList actions, out DatapathFlowStats oldStats, out string? error)
    {
        oldStats = default;
        error = null;
        if (actions is null) { error = "actions must not be null (use OdpActionList.Drop)"; return Errno.EINVAL; }
        if (!_validator.Validate(key, mask, out var masked, out var normMask, out error)) return Errno.EINVAL;
        if (!ActionValidation.Validate(actions, MaxPorts, out error)) return Errno.EINVAL;
        lock (_control)
        {
            if (_destroyed) return Errno.ENODEV;
            var existing = Classifier.Find(masked, normMask);
            if (existing is null)
            {
                if ((flags & FlowPutFlags.Create) == 0) { error = "no such flow (put without create)"; return Errno.ENOENT; }
                if (Classifier.FlowCount >= _options.MaxFlows) { error = $"flow table full ({_options.MaxFlows} flows)"; return Errno.EFBIG; }
                Classifier.Insert(new DpFlow(masked, normMask, actions));
                return Errno.Success;
            }
            if ((flags & FlowPutFlags.Modify) == 0) { error = "flow already exists (put without modify)"; return Errno.EEXIST; }
            oldStats = existing.ReadStats();
            existing.Actions = actions;
            if ((flags & FlowPutFlags.ZeroStats) != 0) existing.ZeroStats();
            return Errno.Success;
        }
    }

    public Errno FlowDel(in FlowKey key, in FlowKey mask, out DatapathFlowStats stats)
    {
        stats = default;
        Normalize(key, mask, out var masked, out var m);
        lock (_control)
        {
            if (_destroyed) return Errno.ENODEV;
            var f = Classifier.Find(masked, m);
            if (f is null || !Classifier.Remove(f)) return Errno.ENOENT;
            stats = f.ReadStats();
            return Errno.Success;
        }
    }

    public Errno FlowFlush()
    {
        lock (_control)
        {
            if (_destroyed) return Errno.ENODEV;
            Classifier.Clear();
            Interlocked.Increment(ref _flushGeneration);
        }
        _upcalls.Purge();
        return Errno.Success;
    }

    public IDatapathFlowDump StartDump() => new FlowDump(Classifier.Subtables);

    private sealed class FlowDump(Subtable[] subtables) : IDatapathFlowDump
    {
        private int _subtable = -1;
        private Subtable.Node?[]? _buckets;
        private int _bucket;
        private Subtable.Node? _node;
        private bool _done;

        public Errno Next(out DatapathFlow? flow)
        {
            flow = null;
            while (!_done)
            {
                if (_node is not null)
                {
                    var f = _node.Flow;
                    _node = _node.Next;
                    if (f.Dead) continue;
                    flow = f.Snapshot();
                    return Errno.Success;
                }
                if (_buckets is not null && _bucket < _buckets.Length)
                {
                    _node = Volatile.Read(ref _buckets[_bucket++]);
                    continue;
                }
                if (++_subtable >= subtables.Length) { _done = true; break; }
                // Each subtable's bucket array is captured once: chains in it are immutable, so no flow appears twice.
                _buckets = subtables[_subtable].Buckets;
                _bucket = 0;
            }
            return Errno.ENOENT;
        }

        public void Dispose() => _done = true;
    }

    public Errno Execute(PacketBuffer packet, OdpActionList actions)
    {
        if (packet is null) return Errno.EINVAL;
        if (_destroyed || actions is null || !ActionValidation.Validate(actions, MaxPorts, out _))
        {
            packet.Release();
            return _destroyed ? Errno.ENODEV : Errno.EINVAL;
        }
        lock (_execLock)
        {
            _executor.RefreshPorts();
            PacketKeyExtractor.Extract(packet, out var key);
            _executor.RunActions(packet, actions.AsSpan(), in key, 0);
            _executor.FlushOutputs();
        }
        return Errno.Success;
    }

    public Errno RecvUpcall(out DatapathUpcall? upcall)
    {
        upcall = null;
        if (_destroyed) return Errno.ENODEV;
        upcall = _upcalls.TryDequeue();
        return upcall is null ? Errno.EAGAIN : Errno.Success;
    }

    public bool RecvWait(int timeoutMs) => !_destroyed && _upcalls.Wait(timeoutMs);

    public Errno RecvPurge()
    {
        if (_destroyed) return Errno.ENODEV;
        _upcalls.Purge();
        return Errno.Success;
    }

    internal int QueuedUpcalls => _upcalls.Count;

    public Errno GetPortUpcallStats(uint portNo, out DatapathPortUpcallStats stats)
    {
        stats = default;
        if (_destroyed) return Errno.ENODEV;
        if (portNo >= (uint)MaxPorts) return Errno.ENOENT;
        var (queued, lost, pending) = _upcalls.PortStats(portNo);
        stats = new DatapathPortUpcallStats { Upcalls = (ulong)queued, Lost = (ulong)lost, Pending = (ulong)pending };
        return Errno.Success;
    }
}
