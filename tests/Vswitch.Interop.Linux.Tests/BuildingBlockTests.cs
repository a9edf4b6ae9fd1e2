using System.Net;
using System.Net.Sockets;

namespace Vswitch.Interop.Linux.Tests;

/// <summary>The typed building blocks against the real kernel: eventfd, epoll tokens, recvmmsg/sendmmsg batches.</summary>
public sealed unsafe class BuildingBlockTests
{
    [Fact]
    public void EventFdCountsSignalsAndConsumeResetsIt()
    {
        Assert.Equal(Errno.Success, EventFd.Create(out var ev));
        using (ev)
        {
            Assert.Equal(Errno.EAGAIN, ev!.Consume());
            Assert.Equal(Errno.Success, ev.Signal());
            Assert.Equal(Errno.Success, ev.Signal());
            Assert.Equal(Errno.Success, EventFd.Read(ev.Fd, out ulong counter));
            Assert.Equal(2UL, counter);
            Assert.Equal(Errno.EAGAIN, EventFd.Read(ev.Fd, out _));
            Assert.Equal(Errno.Success, ev.Signal());
            Assert.Equal(Errno.Success, ev.Consume());
            Assert.Equal(Errno.EAGAIN, ev.Consume());
        }
        Assert.Equal(-1, ev.Fd);
    }

    [Fact]
    public void EpollSetReportsExactlyTheTokensThatFired()
    {
        Assert.Equal(Errno.Success, EpollSet.Create(out var set));
        var fds = new EventFd[3];
        try
        {
            for (int i = 0; i < fds.Length; i++)
            {
                Assert.Equal(Errno.Success, EventFd.Create(out var ev));
                fds[i] = ev!;
                Assert.Equal(Errno.Success, set!.Add(ev!.Fd, 100UL + (ulong)i));
            }
            Assert.Equal(Errno.EEXIST, set!.Add(fds[0].Fd, 7));
            Span<EpollEvent> ready = stackalloc EpollEvent[8];
            Assert.Equal(Errno.Success, set.Wait(ready, 0, out int none));
            Assert.Equal(0, none);

            fds[2].Signal();
            fds[0].Signal();
            Assert.Equal(Errno.Success, set.Wait(ready, 1000, out int n));
            Assert.Equal(2, n);
            var tokens = new HashSet<ulong> { ready[0].Token, ready[1].Token };
            Assert.Equal(new HashSet<ulong> { 100, 102 }, tokens);
            Assert.All(ready[..n].ToArray(), e => Assert.True((e.Events & EpollEvents.Readable) != 0));

            // Level-triggered: still ready until consumed; Modify changes the token; Remove stops reporting.
            Assert.Equal(Errno.Success, set.Modify(fds[2].Fd, 42));
            Assert.Equal(Errno.Success, set.Remove(fds[0].Fd));
            Assert.Equal(Errno.ENOENT, set.Remove(fds[0].Fd));
            Assert.Equal(Errno.Success, set.Wait(ready, 0, out n));
            Assert.Equal(1, n);
            Assert.Equal(42UL, ready[0].Token);
            fds[2].Consume();
            Assert.Equal(Errno.Success, set.Wait(ready, 0, out n));
            Assert.Equal(0, n);
        }
        finally
        {
            foreach (var f in fds) f?.Dispose();
            set?.Dispose();
        }
    }

    private static (Socket Rx, Socket Tx) UdpPair()
    {
        var rx = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        rx.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var tx = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        tx.Connect(rx.LocalEndPoint!);
        return (rx, tx);
    }

    [Fact]
    public void MessageBatchSendsAndReceivesWithAHeaderSegmentInFrontOfEachPayload()
    {
        var (rx, tx) = UdpPair();
        using (rx)
        using (tx)
        using (var send = new MessageBatch(4, headerBytes: 10))
        using (var recv = new MessageBatch(4, headerBytes: 10))
        {
            int txFd = (int)tx.Handle, rxFd = (int)rx.Handle;
            var payloads = new byte[3][];
            var sendBuffers = new byte[3][];
            var recvBuffers = new byte[4][];
            for (int i = 0; i < 4; i++) recvBuffers[i] = new byte[256];
            fixed (byte* r0 = recvBuffers[0], r1 = recvBuffers[1], r2 = recvBuffers[2], r3 = recvBuffers[3])
            {
                recv.SetSegment(0, 0, r0, 256);
                recv.SetSegment(1, 0, r1, 256);
                recv.SetSegment(2, 0, r2, 256);
                recv.SetSegment(3, 0, r3, 256);
                Assert.Equal(Errno.EAGAIN, recv.Receive(rxFd, 4, out int nothing));
                Assert.Equal(0, nothing);
                for (int i = 0; i < 3; i++)
                {
                    payloads[i] = [.. Enumerable.Range(0, 20 + i).Select(b => (byte)(b + i))];
                    send.Header(i).Fill((byte)(0xA0 + i));
                }
                fixed (byte* p0 = payloads[0], p1 = payloads[1], p2 = payloads[2])
                {
                    send.SetSegment(0, 0, p0, payloads[0].Length);
                    send.SetSegment(1, 0, p1, payloads[1].Length);
                    send.SetSegment(2, 0, p2, payloads[2].Length);
                    Assert.Equal(Errno.Success, send.Send(txFd, 0, 3, out int sent));
                    Assert.Equal(3, sent);
                    for (int i = 0; i < 3; i++) Assert.Equal(10 + payloads[i].Length, send.Length(i));
                }
                int received = 0;
                var deadline = Environment.TickCount64 + 5000;
                while (received == 0 && Environment.TickCount64 < deadline)
                {
                    var e = recv.Receive(rxFd, 4, out received);
                    Assert.True(e.IsSuccess || e == Errno.EAGAIN, e.ToString());
                }
                Assert.Equal(3, received);
                for (int i = 0; i < 3; i++)
                {
                    Assert.Equal(10 + payloads[i].Length, recv.Length(i));
                    Assert.False(recv.IsTruncated(i));
                    Assert.True(recv.Header(i).ToArray().All(b => b == 0xA0 + i));
                    Assert.Equal(payloads[i], recvBuffers[i][..payloads[i].Length]);
                    Assert.Equal(LinkPacketType.Host, recv.PacketType(i)); // no link addresses asked for
                    Assert.False(recv.TryGetPacketAuxData(i, out _));
                }
            }
        }
    }

    [Fact]
    public void MessageBatchReportsADatagramLongerThanItsSegmentsAsTruncated()
    {
        var (rx, tx) = UdpPair();
        using (rx)
        using (tx)
        using (var recv = new MessageBatch(2, controlBytes: MessageBatch.PacketAuxDataSpace))
        {
            tx.Send(new byte[100]);
            var small = new byte[40];
            fixed (byte* s = small)
            {
                recv.SetSegment(0, 0, s, small.Length);
                int received = 0;
                var deadline = Environment.TickCount64 + 5000;
                while (received == 0 && Environment.TickCount64 < deadline) recv.Receive((int)rx.Handle, 1, out received);
                Assert.Equal(1, received);
                Assert.True(recv.IsTruncated(0));
                Assert.Equal(40, recv.Length(0));
                Assert.False(recv.TryGetPacketAuxData(0, out _)); // a UDP socket sends no PACKET_AUXDATA
            }
        }
    }

    [Fact]
    public void MessageBatchRefusesIndexesOutsideTheBatch()
    {
        using var batch = new MessageBatch(2, segmentsPerMessage: 2);
        Assert.Equal(2, batch.Capacity);
        Assert.Equal(2, batch.SegmentsPerMessage);
        Assert.True(batch.Header(1).IsEmpty);
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.SetSegment(2, 0, null, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.SetSegment(0, 2, null, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.Length(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new MessageBatch(0));
    }
}
