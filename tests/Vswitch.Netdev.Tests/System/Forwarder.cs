using Vswitch.Interop.Linux;
using Vswitch.Packets;

namespace Vswitch.Netdev.Tests.SystemTests;

/// <summary>
/// A tiny two-port forwarder for system tests: one thread sleeps on both devices' rx WaitFds with epoll
/// and moves every received batch to the other device's tx queue 0. Proves the ports before a datapath exists.
/// </summary>
internal sealed class Forwarder : IDisposable
{
    private readonly Netdev _a;
    private readonly Netdev _b;
    private readonly Thread _thread;
    private volatile bool _stop;
    private EpollSet? _epoll;

    public Forwarder(Netdev a, Netdev b)
    {
        _a = a;
        _b = b;
        _thread = new Thread(Run) { IsBackground = true, Name = "test-forwarder" };
        _thread.Start();
    }

    public long Forwarded;
    public Exception? Failure;

    private void Run()
    {
        try
        {
            Assert.True(EpollSet.Create(out _epoll).IsSuccess);
            var queues = new List<(NetdevRxQueue Rx, Netdev To)>();
            for (int i = 0; i < _a.RxQueueCount; i++) queues.Add((_a.GetRxQueue(i), _b));
            for (int i = 0; i < _b.RxQueueCount; i++) queues.Add((_b.GetRxQueue(i), _a));
            for (int i = 0; i < queues.Count; i++)
                Assert.True(_epoll!.Add(queues[i].Rx.WaitFd, (ulong)i).IsSuccess);
            var events = new EpollEvent[8];
            var batch = new PacketBatch();
            while (!_stop)
            {
                foreach (var (rx, to) in queues)
                {
                    while (rx.Receive(ref batch) > 0)
                    {
                        Interlocked.Add(ref Forwarded, batch.Count);
                        to.GetTxQueue(0).Send(ref batch);
                    }
                }
                _epoll!.Wait(events, 50, out _);
            }
        }
        catch (Exception ex)
        {
            Failure = ex;
        }
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join(2000);
        _epoll?.Dispose();
    }
}
