using Vswitch.Packets;

namespace Vswitch.Netdev.Tests.Conformance;

/// <summary>
/// The far end of a conformance harness is itself a netdev (a memory peer, or an AF_PACKET device on the other
/// side of the kernel wire); these are the two ways a harness moves frames through it.
/// </summary>
internal static class FarEnd
{
    /// <summary>Sends one copy of <paramref name="frame"/> on the far end's tx queue 0, so it arrives at the device under test.</summary>
    public static bool Send(Netdev far, PacketPool pool, ReadOnlySpan<byte> frame)
    {
        if (!pool.TryRent(out var p)) return false;
        p.TrySetFrame(frame);
        var batch = new PacketBatch();
        batch.TryAdd(p);
        return far.GetTxQueue(0).Send(ref batch) == 1;
    }

    /// <summary>
    /// Polls every rx queue of the far end until a frame the device under test sent is there (frames received in the
    /// same burst wait in <paramref name="received"/>), copies it into <paramref name="buffer"/>; false after <paramref name="timeout"/>.
    /// </summary>
    public static bool TryReceive(Netdev far, Queue<byte[]> received, Span<byte> buffer, TimeSpan timeout, out int length)
    {
        var batch = new PacketBatch();
        Wait.Until(() =>
        {
            for (int q = 0; q < far.RxQueueCount; q++)
            {
                far.GetRxQueue(q).Receive(ref batch);
                for (int i = 0; i < batch.Count; i++) received.Enqueue(batch[i].Data.ToArray());
                batch.ReleaseAll();
            }
            return received.Count > 0;
        }, timeout);
        if (received.Count == 0)
        {
            length = 0;
            return false;
        }
        var frame = received.Dequeue();
        frame.CopyTo(buffer);
        length = frame.Length;
        return true;
    }
}
