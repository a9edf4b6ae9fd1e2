using Vswitch.Packets;

namespace Vswitch.Netdev;

/// <summary>
/// A receive queue. Exactly one thread (a poll thread) calls <see cref="Receive"/>,
/// <see cref="PrepareToWait"/>, <see cref="FinishWait(bool)"/> and <see cref="Drain"/> for a given queue at a time.
/// </summary>
/// <remarks>
/// Sleeping: <c>if (Receive(ref b) == 0 &amp;&amp; PrepareToWait()) { epoll wait on WaitFd; FinishWait(fired); }</c>
/// where <c>fired</c> says whether epoll reported <see cref="WaitFd"/> ready. After <see cref="PrepareToWait"/> returned
/// true the poll thread must call <see cref="FinishWait(bool)"/> once it stops waiting, whether or not it actually
/// slept. See docs/netdev-contract.md.
/// </remarks>
public abstract class NetdevRxQueue
{
    /// <summary>Per-queue counters; written by the polling thread only.</summary>
    public NetdevStats Stats;

    /// <summary>Creates a queue of <paramref name="device"/> with index <paramref name="index"/>.</summary>
    protected NetdevRxQueue(Netdev device, int index)
    {
        Device = device;
        Index = index;
    }

    /// <summary>The device this queue belongs to.</summary>
    public Netdev Device { get; }

    /// <summary>Queue index, 0-based.</summary>
    public int Index { get; }

    /// <summary>
    /// Receives up to <c>batch.FreeCount</c> packets and appends them to <paramref name="batch"/>.
    /// Returns how many were added (0 when none are pending). Never blocks, never throws.
    /// Ownership of added packets passes to the caller. Malformed or truncated frames, failed reads and
    /// pool exhaustion are counted in <see cref="Stats"/>, never returned. Packets come with
    /// <see cref="PacketBuffer.Metadata"/> zeroed; the datapath sets the input port.
    /// </summary>
    public abstract int Receive(ref PacketBatch batch);

    /// <summary>
    /// A file descriptor that becomes readable (EPOLLIN) when <see cref="Receive"/> may return packets,
    /// for a poll thread to sleep on with epoll; -1 when the queue cannot be waited on (the poll thread then
    /// polls it on a timer). The descriptor stays valid until the device is disposed.
    /// </summary>
    public abstract int WaitFd { get; }

    /// <summary>
    /// Called by the poll thread before it sleeps on <see cref="WaitFd"/>. Returns false when packets are
    /// already pending (do not sleep). Providers that signal <see cref="WaitFd"/> only to sleepers (the memory
    /// provider's eventfd) arm the signal here; kernel-backed fds need nothing. Never blocks.
    /// </summary>
    public virtual bool PrepareToWait() => true;

    /// <summary>
    /// Called by the poll thread after waking, to disarm and to consume a wake-up signal if the provider uses one.
    /// <paramref name="signalled"/> is true when epoll reported <see cref="WaitFd"/> ready during the wait: a provider
    /// that signals an eventfd reads it only then (no system call for queues that did not fire). Never blocks.
    /// </summary>
    public virtual void FinishWait(bool signalled) { }

    /// <summary>
    /// <see cref="FinishWait(bool)"/> for a caller that does not know which descriptors fired: consumes any pending
    /// signal (one system call for providers that signal an eventfd).
    /// </summary>
    public void FinishWait() => FinishWait(signalled: true);

    /// <summary>Discards every pending packet (OVS's rxq_drain); returns how many were discarded. Never blocks.</summary>
    public abstract int Drain();
}

/// <summary>
/// A transmit queue. One thread at a time calls <see cref="Send"/> for a given queue (the datapath
/// gives each poll thread its own queue or serialises access).
/// </summary>
public abstract class NetdevTxQueue
{
    /// <summary>Per-queue counters; written by the sending thread only.</summary>
    public NetdevStats Stats;

    /// <summary>Creates a queue of <paramref name="device"/> with index <paramref name="index"/>.</summary>
    protected NetdevTxQueue(Netdev device, int index)
    {
        Device = device;
        Index = index;
    }

    /// <summary>The device this queue belongs to.</summary>
    public Netdev Device { get; }

    /// <summary>Queue index, 0-based.</summary>
    public int Index { get; }

    /// <summary>
    /// Transmits every packet in <paramref name="batch"/> and takes ownership of all of them whatever the
    /// outcome: packets sent, dropped (over MTU, queue full, device down) or failed are released or handed on
    /// and counted in <see cref="Stats"/>. The batch is empty on return. Returns the number sent. Never
    /// blocks (a full kernel queue drops), never throws.
    /// </summary>
    public abstract int Send(ref PacketBatch batch);
}
