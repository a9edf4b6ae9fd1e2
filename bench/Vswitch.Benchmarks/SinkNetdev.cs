using Vswitch.Netdev;
using Vswitch.Packets;

namespace Vswitch.Benchmarks;

/// <summary>A port whose tx keeps the packets for the benchmark to reuse (no copies, no rings).</summary>
internal sealed class SinkNetdev : Netdev.Netdev
{
    private readonly SinkRx _rx;
    private readonly SinkTx _tx;

    public SinkNetdev(string name) : base(name, "sink")
    {
        _rx = new SinkRx(this);
        _tx = new SinkTx(this);
    }

    public override int RxQueueCount => 1;
    public override int TxQueueCount => 1;
    public override NetdevRxQueue GetRxQueue(int index) => _rx;
    public override NetdevTxQueue GetTxQueue(int index) => _tx;
    public override NetdevCapabilities Capabilities { get; } = new();

    public void Reclaim(PacketBuffer[] into)
    {
        for (int i = 0; i < _tx.Count; i++) into[i] = _tx.Held[i];
        _tx.Count = 0;
    }

    protected override void Dispose(bool disposing) { }

    private sealed class SinkRx(Netdev.Netdev d) : NetdevRxQueue(d, 0)
    {
        public override int Receive(ref PacketBatch batch) => 0;
        public override int WaitFd => -1;
        public override int Drain() => 0;
    }

    private sealed class SinkTx(Netdev.Netdev d) : NetdevTxQueue(d, 0)
    {
        public readonly PacketBuffer[] Held = new PacketBuffer[4096];
        public int Count;

        public override int Send(ref PacketBatch batch)
        {
            int n = batch.Count;
            for (int i = 0; i < n; i++) Held[Count++] = batch[i];
            batch.Clear();
            return n;
        }
    }
}
