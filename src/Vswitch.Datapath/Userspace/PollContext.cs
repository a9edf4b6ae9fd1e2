using System.Runtime.CompilerServices;
using Vswitch.Datapath.Odp;
using Vswitch.Netdev;
using Vswitch.Packets;

namespace Vswitch.Datapath.Userspace;

/// <summary>
/// The per-thread fast path: extraction, exact-match cache, classifier, grouping by flow, action execution and
/// output batching. One instance per poll thread (plus one for control-path execute and one for manual polling,
/// which share a sender id because they are serialised); never shared between threads, so nothing in it is
/// locked. A tx queue that another sender also maps to is sent on under a per-queue spin lock, once per batch;
/// a queue with a single sender takes no lock. Allocation-free in steady state (allocations happen
/// only on port-table changes, on misses (the upcall object) and in <c>userspace</c> actions).
/// </summary>
internal sealed class PollContext
{
    private struct OutputSlot
    {
        public PacketBatch Batch;
        public NetdevTxQueue? Txq;
        public DpPort? Port;
        public int TxqIndex;
        public bool Shared;
        public bool Dirty;
    }

    private readonly UserspaceDatapath _dp;
    private readonly int _sender;
    private readonly ExactMatchCache _emc;
    private readonly FlowKey[] _keys = new FlowKey[PacketBatch.Capacity];
    private readonly DpFlow?[] _flows = new DpFlow?[PacketBatch.Capacity];
    private readonly OutputSlot[] _out;
    private readonly int[] _dirty;
    private int _dirtyCount;
    private PortTable? _ports;
    private ulong _rng;

    // Counters: written by the owning thread only, read by GetStats.
    internal long EmcHits, MaskHits, Missed, Malformed, FragmentsDropped, ActionDrops;

    public PollContext(UserspaceDatapath dp, int sender, int emcEntries)
    {
        _dp = dp;
        _sender = sender;
        _emc = new ExactMatchCache(emcEntries);
        _out = new OutputSlot[dp.MaxPorts];
        _dirty = new int[dp.MaxPorts];
        _rng = (0x9E3779B97F4A7C15UL ^ ((ulong)(sender + 1) * 0x2545F4914F6CDD1DUL)) | 1;
    }

    public ExactMatchCache Emc => _emc;

    /// <summary>False skips the exact-match cache (benchmarks measure the classifier alone).</summary>
    internal bool EmcEnabled { get; set; } = true;

    /// <summary>Picks up a new port table (flushing pending output to the old one first). Cheap when unchanged.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void RefreshPorts()
    {
        var table = _dp.Ports;
        if (!ReferenceEquals(table, _ports)) Rebind(table);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Rebind(PortTable table)
    {
        FlushOutputs();
        for (int i = 0; i < _out.Length; i++)
        {
            ref var slot = ref _out[i];
            var port = i < table.ByNumber.Length ? table.ByNumber[i] : null;
            if (port is null)
            {
                slot.Txq = null;
                slot.Port = null;
                continue;
            }
            slot.Port = port;
            slot.TxqIndex = _sender % port.Device.TxQueueCount;
            slot.Txq = port.Device.GetTxQueue(slot.TxqIndex);
            slot.Shared = port.TxShared[slot.TxqIndex];
        }
        _ports = table;
    }

    /// <summary>Runs one received batch through the fast path. Takes ownership of every packet; the batch is empty on return.</summary>
    public void ProcessBatch(ref PacketBatch batch, uint inPort)
    {
        int n = batch.Count;
        var dp = _dp;
        long flushGen = dp.FlushGeneration;
        if (flushGen != _seenFlushGeneration) ClearCacheForFlush(flushGen);
        var classifier = dp.Classifier;
        bool dropFrags = dp.DropFragsFlag;
        var keys = _keys;
        var flows = _flows;
        for (int i = 0; i < n; i++)
        {
            var p = batch[i];
            p.Metadata.InPort = inPort;
            ref FlowKey key = ref keys[i];
            if (!PacketKeyExtractor.Extract(p, out key)) Malformed++;
            if (dropFrags && (key.NwFrag & FlowKey.FragAny) != 0)
            {
                FragmentsDropped++;
                flows[i] = null;
                p.Release();
                continue;
            }
            bool emc = EmcEnabled;
            ulong hash = emc ? KeyHash.Exact(key) : 0;
            var flow = emc ? _emc.Lookup(key, hash) : null;
            if (flow is null)
            {
                flow = classifier.Lookup(key);
                if (flow is null)
                {
                    Missed++;
                    flows[i] = null;
                    dp.MissUpcall(in key, p);
                    continue;
                }
                if (emc) _emc.Insert(key, hash, flow);
                MaskHits++;
            }
            else
            {
                EmcHits++;
            }
            flows[i] = flow;
        }

        uint sflow = dp.SampleProbabilityIfListening;
        long now = Environment.TickCount64;
        for (int i = 0; i < n; i++)
        {
            var flow = flows[i];
            if (flow is null) continue;
            var actionList = flow.Actions;
            var actions = actionList.AsSpan();
            int count = 0, tcpFlags = 0;
            long bytes = 0;
            for (int j = i; j < n; j++)
            {
                if (!ReferenceEquals(flows[j], flow)) continue;
                flows[j] = null;
                var p = batch[j];
                count++;
                bytes += p.Length;
                tcpFlags |= keys[j].TcpFlags;
                if (sflow != 0 && Sampled(sflow)) SflowSample(p, in keys[j], actionList);
                RunActions(p, actions, in keys[j], 0);
            }
            flow.AddStats(count, bytes, now, tcpFlags);
        }
        batch.Clear();
        FlushOutputs();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void SflowSample(PacketBuffer p, in FlowKey key, OdpActionList actions)
    {
        if (TryCopy(p, out var copy)) _dp.SampleUpcall(in key, copy, actions);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Sampled(uint probability)
    {
        if (probability == uint.MaxValue) return true;
        // xorshift64*: cheap, allocation-free, per thread.
        ulong x = _rng;
        x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
        _rng = x;
        return (uint)((x * 0x2545F4914F6CDD1DUL) >> 32) < probability;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryCopy(PacketBuffer p, out PacketBuffer copy)
    {
        var pool = p.Pool;
        if (pool is not null && p.TryClone(pool, out var c))
        {
            copy = c;
            return true;
        }
        ActionDrops++;
        copy = null!;
        return false;
    }

    /// <summary>
    /// Executes <paramref name="actions"/> on <paramref name="p"/>, taking ownership of it. The last output hands the
    /// packet itself on; earlier outputs, clone, sample and userspace act on copies (OVS's steal semantics).
    /// </summary>
    public void RunActions(PacketBuffer p, ReadOnlySpan<OdpAction> actions, in FlowKey key, int depth)
    {
        int trunc = -1;
        for (int k = 0; k < actions.Length; k++)
        {
            var a = actions[k];
            switch (a.Kind)
            {
                case OdpActionKind.Output:
                    {
                        uint port = Unsafe.As<OutputAction>(a).Port;
                        if (k == actions.Length - 1)
                        {
                            if (trunc >= 0) p.Truncate(trunc);
                            Output(port, p);
                            return;
                        }
                        if (!TryCopy(p, out var copy)) break;
                        if (trunc >= 0) copy.Truncate(trunc);
                        trunc = -1;
                        Output(port, copy);
                        break;
                    }
                case OdpActionKind.PushVlan:
                    {
                        var pv = Unsafe.As<PushVlanAction>(a);
                        if (!HeaderRewriter.PushVlan(p, pv.Tpid, pv.Tci))
                        {
                            ActionDrops++;
                            p.Release();
                            return;
                        }
                        break;
                    }
                case OdpActionKind.PopVlan:
                    HeaderRewriter.PopVlan(p);
                    break;
                case OdpActionKind.Set:
                    HeaderRewriter.ApplySet(p, Unsafe.As<SetAction>(a));
                    break;
                case OdpActionKind.Sample:
                    {
                        var s = Unsafe.As<SampleAction>(a);
                        if (s.Probability != 0 && Sampled(s.Probability) && TryCopy(p, out var copy))
                            RunActions(copy, s.Actions.AsSpan(), in key, depth + 1);
                        break;
                    }
                case OdpActionKind.Clone:
                    {
                        if (TryCopy(p, out var copy))
                            RunActions(copy, Unsafe.As<CloneAction>(a).Actions.AsSpan(), in key, depth + 1);
                        break;
                    }
                case OdpActionKind.Userspace:
                    {
                        if (TryCopy(p, out var copy))
                        {
                            var u = Unsafe.As<UserspaceAction>(a);
                            _dp.ActionUpcall(in key, copy, u.Pid, u.Userdata);
                        }
                        break;
                    }
                case OdpActionKind.Trunc:
                    trunc = (int)Math.Min(Unsafe.As<TruncAction>(a).MaxLength, int.MaxValue);
                    break;
            }
        }
        p.Release();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Output(uint port, PacketBuffer p)
    {
        if (port >= (uint)_out.Length)
        {
            DropOutput(p);
            return;
        }
        ref var slot = ref _out[port];
        if (slot.Txq is null)
        {
            DropOutput(p);
            return;
        }
        if (slot.Batch.IsFull) FlushSlot(ref slot);
        slot.Batch.TryAdd(p);
        if (!slot.Dirty)
        {
            slot.Dirty = true;
            _dirty[_dirtyCount++] = (int)port;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void DropOutput(PacketBuffer p)
    {
        ActionDrops++;
        p.Release();
    }

    /// <summary>Sends every pending output batch (once per processed batch).</summary>
    public void FlushOutputs()
    {
        for (int i = 0; i < _dirtyCount; i++)
        {
            ref var slot = ref _out[_dirty[i]];
            FlushSlot(ref slot);
            slot.Dirty = false;
        }
        _dirtyCount = 0;
    }

    private static void FlushSlot(ref OutputSlot slot)
    {
        if (slot.Batch.Count == 0) return;
        if (!slot.Shared)
        {
            // This context is the queue's only sender: no lock, no shared cache line.
            slot.Txq!.Send(ref slot.Batch);
        }
        else
        {
            // Fewer tx queues than senders: a per-queue spin lock, taken once per batch.
            ref int lockWord = ref slot.Port!.TxLocks[slot.TxqIndex];
            if (Interlocked.CompareExchange(ref lockWord, 1, 0) != 0) SpinAcquire(ref lockWord);
            try
            {
                slot.Txq!.Send(ref slot.Batch);
            }
            finally
            {
                Volatile.Write(ref lockWord, 0);
            }
        }
        if (slot.Batch.Count != 0) slot.Batch.ReleaseAll(); // a provider that broke the contract: never leak
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SpinAcquire(ref int lockWord)
    {
        // Never sleep on the packet path: SpinOnce's default falls back to Thread.Sleep(1) after ~20 rounds,
        // a millisecond stall for every packet behind this lock. The holder is a poll thread inside one Send.
        var spinner = new SpinWait();
        while (Interlocked.CompareExchange(ref lockWord, 1, 0) != 0) spinner.SpinOnce(sleep1Threshold: -1);
    }

    private long _seenFlushGeneration;

    /// <summary>Drops every EMC entry after a flush, so dead flows can be collected (owning thread only).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ClearCacheForFlush(long generation)
    {
        _emc.Clear();
        _seenFlushGeneration = generation;
    }
}
