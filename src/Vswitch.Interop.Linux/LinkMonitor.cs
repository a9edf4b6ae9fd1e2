using System.Runtime.InteropServices;

namespace Vswitch.Interop.Linux;

/// <summary>
/// The process's one rtnetlink link listener (RTMGRP_LINK): a background thread that reads link
/// notifications of the namespace the process started in and hands each parsed
/// <see cref="NetlinkLink"/> to every subscriber. Devices subscribe instead of opening their own
/// netlink sockets. When the kernel reports lost notifications (ENOBUFS) the monitor re-dumps all
/// links and delivers them, so subscribers resynchronise.
/// </summary>
/// <remarks>
/// Handlers run on the monitor thread, one message at a time, and must be quick and must not throw
/// (an exception is caught and the handler stays subscribed). The thread starts at the first
/// <see cref="Subscribe"/> and lives for the rest of the process (a background thread).
/// </remarks>
public sealed class LinkMonitor
{
    private static readonly Lazy<LinkMonitor> _shared = new(() => new LinkMonitor());
    private readonly Lock _lock = new();
    private Action<NetlinkLink>[] _handlers = [];
    private Thread? _thread;
    private SafeFd? _socket;
    private long _messages;
    private long _resyncs;

    private LinkMonitor() { }

    /// <summary>The process-wide monitor.</summary>
    public static LinkMonitor Shared => _shared.Value;

    /// <summary>Link messages delivered so far (for diagnostics and tests).</summary>
    public long MessageCount => Interlocked.Read(ref _messages);

    /// <summary>Times the monitor had to re-dump after lost notifications.</summary>
    public long ResyncCount => Interlocked.Read(ref _resyncs);

    /// <summary>
    /// Registers <paramref name="handler"/>; dispose the result to unregister. Starts the listener on first use.
    /// Returns an error (and registers nothing) when the netlink socket cannot be opened.
    /// </summary>
    public Errno Subscribe(Action<NetlinkLink> handler, out IDisposable? subscription)
    {
        ArgumentNullException.ThrowIfNull(handler);
        subscription = null;
        lock (_lock)
        {
            if (_thread is null)
            {
                var e = RtNetlink.OpenSocket(LibC.RTMGRP_LINK, false, out _socket);
                if (e.IsError) return e;
                _thread = new Thread(Run) { IsBackground = true, Name = "vswitch-link-monitor" };
                _thread.Start();
            }
            _handlers = [.. _handlers, handler];
        }
        subscription = new Subscription(this, handler);
        return Errno.Success;
    }

    private void Unsubscribe(Action<NetlinkLink> handler)
    {
        lock (_lock)
        {
            int i = Array.IndexOf(_handlers, handler);
            if (i < 0) return;
            var list = new List<Action<NetlinkLink>>(_handlers);
            list.RemoveAt(i);
            _handlers = [.. list];
        }
    }

    private void Deliver(NetlinkLink link)
    {
        Interlocked.Increment(ref _messages);
        foreach (var h in Volatile.Read(ref _handlers))
        {
            try { h(link); }
#pragma warning disable CA1031 // A subscriber's bug must not stop link monitoring for everyone.
            catch (Exception) { }
#pragma warning restore CA1031
        }
    }

    private unsafe void Run()
    {
        int fd = _socket!.Fd;
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var e = LibC.Read(fd, buffer, out int n);
            if (e == Errno.EINTR) continue;
            if (e == Errno.ENOBUFS)
            {
                Interlocked.Increment(ref _resyncs);
                if (RtNetlink.DumpLinks(out var all).IsSuccess) foreach (var l in all) Deliver(l);
                continue;
            }
            if (e.IsError)
            {
                Thread.Sleep(100);
                continue;
            }
            int offset = 0;
            while (offset + sizeof(LibC.nlmsghdr) <= n)
            {
                var span = buffer.AsSpan(offset, n - offset);
                var hdr = MemoryMarshal.Read<LibC.nlmsghdr>(span);
                if (hdr.nlmsg_len < sizeof(LibC.nlmsghdr) || hdr.nlmsg_len > span.Length) break;
                if (RtNetlink.TryParseLink(span[..(int)hdr.nlmsg_len], out var link)) Deliver(link);
                offset += LibC.NLMSG_ALIGN((int)hdr.nlmsg_len);
            }
        }
    }

    private sealed class Subscription(LinkMonitor owner, Action<NetlinkLink> handler) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) owner.Unsubscribe(handler);
        }
    }
}
