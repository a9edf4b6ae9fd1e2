using Vswitch.Netdev;
using Vswitch.Packets;

namespace Vswitch.Benchmarks;

/// <summary>
/// A port whose tx keeps the packets for the benchmark to reuse (no copies, no rings). Every tx queue hands its
/// packets to the same store, so <see cref="Reclaim"/> gets them back in order whichever queue sent them.
/// </summary>
internal sealed class SinkNetdev : Netdev.Netdev
{
    private readonly SinkRx _rx;
    private readonly SinkTx[] _tx;
    private readonly PacketBuffer[] _held = new PacketBuffer[4096];
    private int _count;

    public SinkNetdev(string name, int txQueues = 1) : base(name, "sink")
    {
        _rx = new SinkRx(this);
        _tx = new SinkTx[txQueues];
        for (int i = 0; i < txQueues; i++) _tx[i] = new SinkTx(this, i);
    }

    public override int RxQueueCount => 1;
    public override int TxQueueCount => _tx.Length;
    public override NetdevRxQueue GetRxQueue(int index) => _rx;
    public override NetdevTxQueue GetTxQueue(int index) => _tx[index];
    public override NetdevCapabilities Capabilities { get; } = new();

    public void Reclaim(PacketBuffer[] into)
    {
        for (int i = 0; i < _count; i++) into[i] = _held[i];
        _count = 0;
    }

    protected override void Dispose(bool disposing) { }

    private sealed class SinkRx(Netdev.Netdev d) : NetdevRxQueue(d, 0)
    {
        public override int Receive(ref PacketBatch batch) => 0;
        public override int WaitFd => -1;
        public override int Drain() => 0;
    }

    private sealed class SinkTx(SinkNetdev d, int index) : NetdevTxQueue(d, index)
    {
        public override int Send(ref PacketBatch batch)
        {
            int n = batch.Count;
            for (int i = 0; i < n; i++) d._held[d._count++] = batch[i];
            batch.Clear();
            return n;
        }
    }
}
