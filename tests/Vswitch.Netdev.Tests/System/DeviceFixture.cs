using Vswitch.Interop.Linux;
using Vswitch.Netdev.AfPacket;
using Vswitch.Netdev.Tap;
using Vswitch.Packets;

namespace Vswitch.Netdev.Tests.SystemTests;

/// <summary>Opens devices through a registry with both Linux providers, and polls helpers.</summary>
internal static class Devices
{
    /// <summary>
    /// The queue's wait fd is not readable: a poll thread sleeping on it would not spin. Readiness is a level the
    /// kernel sets when it posts the event, so no waiting window is needed: callers check after the event that could
    /// have made it readable (the device's deletion, posted to its sockets before the deletion notice they observed)
    /// and after consuming what it left (a receive).
    /// </summary>
    public static void AssertWaitFdStaysQuiet(NetdevRxQueue queue)
    {
        Assert.Equal(Errno.Success, EpollSet.Create(out var epoll));
        using (epoll)
        {
            Assert.True(epoll!.Add(queue.WaitFd, 0).IsSuccess);
            var events = new EpollEvent[1];
            Assert.True(epoll.Wait(events, 0, out int n).IsSuccess);
            Assert.Equal(0, n);
        }
    }

    public static NetdevRegistry Registry()
    {
        var r = new NetdevRegistry();
        r.AddTapProvider();
        r.AddAfPacketProvider();
        return r;
    }

    public static Netdev Open(PacketPool pool, string type, string name, string options)
    {
        Assert.True(NetdevOptions.TryParse(options, out var opts, out var perr), perr);
        var e = Registry().Open(type, name, opts, pool, out var dev, out var error);
        Assert.True(e.IsSuccess, $"open {type} {name} {options}: {e} {error}");
        return dev!;
    }

    /// <summary>
    /// Waits until <paramref name="condition"/> holds (<see cref="Wait.Until"/>), up to <paramref name="timeoutMs"/>: by
    /// default the generous deadline; tests that assert a bound ("within one second") pass theirs.
    /// </summary>
    public static bool WaitFor(Func<bool> condition, int? timeoutMs = null) =>
        Wait.Until(condition, timeoutMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null);

    /// <summary>Receives from every rx queue of <paramref name="dev"/> (generous deadline), handing each frame to <paramref name="onFrame"/> (queue index, frame) until it returns true.</summary>
    public static bool ReceiveUntil(Netdev dev, Func<int, byte[], bool> onFrame)
    {
        var batch = new PacketBatch();
        return Wait.Until(() =>
        {
            for (int q = 0; q < dev.RxQueueCount; q++)
            {
                dev.GetRxQueue(q).Receive(ref batch);
                bool done = false;
                for (int i = 0; i < batch.Count; i++) done |= onFrame(q, batch[i].Data.ToArray());
                batch.ReleaseAll();
                if (done) return true;
            }
            return false;
        });
    }

    public static int SendFrame(Netdev dev, PacketPool pool, ReadOnlySpan<byte> frame, int queue = 0)
    {
        Assert.True(pool.TryRent(out var p));
        Assert.True(p.TrySetFrame(frame));
        var batch = new PacketBatch();
        batch.TryAdd(p);
        return dev.GetTxQueue(queue).Send(ref batch);
    }

    /// <summary>An Ethernet frame of <paramref name="length"/> bytes with an experimental ethertype (0x88b5).</summary>
    public static byte[] TestFrame(int length, MacAddress dst, MacAddress src, ushort? vlanTpid = null)
    {
        var f = new byte[length];
        dst.CopyTo(f);
        src.CopyTo(f.AsSpan(6));
        int o = 12;
        if (vlanTpid is { } tpid)
        {
            f[o] = (byte)(tpid >> 8); f[o + 1] = (byte)tpid; f[o + 2] = 0; f[o + 3] = 7;
            o += 4;
        }
        f[o] = 0x88; f[o + 1] = 0xb5;
        for (int i = o + 2; i < length; i++) f[i] = (byte)i;
        return f;
    }

    public static string LinkShow(string name, string? ns = null) =>
        ns is null ? Ip.Run($"-d link show dev {name}") : Ip.InNamespace(ns, $"ip -d link show dev {name}").Out;
}
