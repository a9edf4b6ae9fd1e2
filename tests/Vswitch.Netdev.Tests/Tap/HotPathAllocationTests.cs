using Vswitch.Netdev.Tap;
using Vswitch.Netdev.Tests.SystemTests;
using Vswitch.Packets;

namespace Vswitch.Netdev.Tests.Tap;

/// <summary>
/// The per-packet paths of both providers allocate nothing: a tap and an afpacket socket bound to that
/// tap's kernel interface pass bursts both ways (afpacket tx → kernel → tap fd rx; tap tx → kernel →
/// afpacket rx) while the thread's allocation counter is watched.
/// </summary>
public sealed class HotPathAllocationTests : IDisposable
{
    private readonly PacketPool _pool = new(1024);

    public void Dispose() => _pool.Dispose();

    [RootTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void TapAndAfPacketRxTxDoNotAllocatePerBatch(bool ring)
    {
        using var tap = (TapNetdev)Devices.Open(_pool, "tap", "t", "");
        Assert.True(tap.UpdateFlags(NetdevFlags.None, NetdevFlags.Up, out _).IsSuccess);
        using var raw = Devices.Open(_pool, "afpacket", "r", $"iface={tap.GetKernelName()},rx_ring={ring}");
        var frame = Devices.TestFrame(128, MacAddress.Broadcast, MacAddress.Parse("02:00:00:00:00:05"));

        long received = 0;
        void Round()
        {
            Burst(raw, frame);
            received += Collect(tap);
            Burst(tap, frame);
            received += Collect(raw);
        }

        for (int i = 0; i < 20; i++) Round(); // warm up (JIT, tiering, first-use paths)
        long before = GC.GetAllocatedBytesForCurrentThread();
        long receivedBefore = received;
        for (int i = 0; i < 200; i++) Round();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(received - receivedBefore > 200 * 16, $"too little traffic to judge: {received - receivedBefore} frames");
        Assert.Equal(0, allocated);
    }

    private void Burst(Netdev dev, byte[] frame)
    {
        var batch = new PacketBatch();
        for (int i = 0; i < 16 && _pool.TryRent(out var p); i++)
        {
            p.TrySetFrame(frame);
            batch.TryAdd(p);
        }
        dev.GetTxQueue(0).Send(ref batch);
    }

    /// <summary>
    /// Receives until the burst of 16 is in (or one second: a lost frame costs a second, not a hang, and shows in the
    /// traffic count). Polls inline rather than through the shared <c>Wait</c> helper, whose delegate would be an
    /// allocation on the thread being measured.
    /// </summary>
    private static int Collect(Netdev dev)
    {
        var batch = new PacketBatch();
        int total = 0;
        long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + System.Diagnostics.Stopwatch.Frequency;
        while (total < 16 && System.Diagnostics.Stopwatch.GetTimestamp() < deadline)
        {
            int n = dev.GetRxQueue(0).Receive(ref batch);
            total += n;
            batch.ReleaseAll();
            if (n == 0) Thread.Yield();
        }
        return total;
    }
}
