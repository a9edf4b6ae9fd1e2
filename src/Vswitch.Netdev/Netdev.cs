using Vswitch.Interop.Linux;
using Vswitch.Packets;

namespace Vswitch.Netdev;

/// <summary>
/// An open network device: a port's packet I/O (rx/tx queues) and its control surface (MAC, MTU, flags,
/// link state, stats), as OVS's <c>struct netdev</c> plus DPDK's ethdev operations.
/// </summary>
/// <remarks>
/// <para>Control members return an <see cref="Errno"/>; optional ones default to <c>EOPNOTSUPP</c>
/// (advertised through <see cref="Capabilities"/>). They may block briefly on system calls and may be
/// called from any thread; implementations serialise them internally. They never run on, or stall, a
/// poll thread. <c>ENODEV</c> means the underlying interface is gone.</para>
/// <para>Every change visible through this API (flags, MAC, MTU, link state, the interface vanishing)
/// increments <see cref="ChangeSeq"/>, so the datapath's port poll and the switch notice it.</para>
/// </remarks>
public abstract class Netdev : IDisposable
{
    private long _changeSeq = 1;
    private int _disposed;

    /// <summary>Creates a device called <paramref name="name"/> of provider <paramref name="type"/>.</summary>
    protected Netdev(string name, string type)
    {
        Name = name;
        Type = type;
    }

    /// <summary>Port name given at open.</summary>
    public string Name { get; }

    /// <summary>Provider type name.</summary>
    public string Type { get; }

    /// <summary>Number of rx queues (fixed for the life of the device).</summary>
    public abstract int RxQueueCount { get; }

    /// <summary>Number of tx queues (fixed for the life of the device).</summary>
    public abstract int TxQueueCount { get; }

    /// <summary>Rx queue <paramref name="index"/> (0 ≤ index &lt; <see cref="RxQueueCount"/>).</summary>
    public abstract NetdevRxQueue GetRxQueue(int index);

    /// <summary>Tx queue <paramref name="index"/> (0 ≤ index &lt; <see cref="TxQueueCount"/>).</summary>
    public abstract NetdevTxQueue GetTxQueue(int index);

    /// <summary>What the device supports.</summary>
    public abstract NetdevCapabilities Capabilities { get; }

    /// <summary>Incremented on every externally visible change. Read from any thread.</summary>
    public long ChangeSeq => Volatile.Read(ref _changeSeq);

    /// <summary>Records a change (providers call this; thread-safe).</summary>
    protected void BumpChangeSeq() => Interlocked.Increment(ref _changeSeq);

    /// <summary>True once <see cref="Dispose()"/> has run.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Reads the Ethernet address. <c>EOPNOTSUPP</c> if the device has none.</summary>
    public virtual Errno GetMac(out MacAddress mac)
    {
        mac = default;
        return Errno.EOPNOTSUPP;
    }

    /// <summary>Sets the Ethernet address. <c>EINVAL</c> for a multicast or zero address; <c>EOPNOTSUPP</c> if fixed.</summary>
    public virtual Errno SetMac(MacAddress mac) => Errno.EOPNOTSUPP;

    /// <summary>Reads the MTU (L3 payload bytes, as <c>ip link</c> shows).</summary>
    public virtual Errno GetMtu(out int mtu)
    {
        mtu = 0;
        return Errno.EOPNOTSUPP;
    }

    /// <summary>Sets the MTU. <c>EINVAL</c> when outside 68..<see cref="NetdevCapabilities.MaxMtu"/>.</summary>
    public virtual Errno SetMtu(int mtu) => Errno.EOPNOTSUPP;

    /// <summary>
    /// Turns off the flags in <paramref name="off"/> and on those in <paramref name="on"/>, returning the flags
    /// before the change in <paramref name="old"/> (OVS's update_flags). On error nothing changed.
    /// </summary>
    public virtual Errno UpdateFlags(NetdevFlags off, NetdevFlags on, out NetdevFlags old)
    {
        old = NetdevFlags.None;
        return Errno.EOPNOTSUPP;
    }

    /// <summary>Reads the carrier state.</summary>
    public virtual Errno GetLinkState(out LinkState state)
    {
        state = LinkState.Unknown;
        return Errno.EOPNOTSUPP;
    }

    /// <summary>Descriptive information (driver, kernel name, speed, provider status).</summary>
    public virtual NetdevInfo GetInfo() => new() { Driver = Type };

    /// <summary>
    /// Applies new options to an open device (<c>dpctl set-if</c>). Unsupported or invalid changes return
    /// <c>EINVAL</c>/<c>EOPNOTSUPP</c> with <paramref name="error"/> naming the option; then nothing changed.
    /// </summary>
    public virtual Errno Reconfigure(NetdevOptions options, out string? error)
    {
        error = options.Count == 0 ? null : $"{Type}: options cannot be changed on an open device";
        return options.Count == 0 ? Errno.Success : Errno.EOPNOTSUPP;
    }

    /// <summary>The options the device runs with (as given at open or by <see cref="Reconfigure"/>).</summary>
    public virtual NetdevOptions Options => NetdevOptions.Empty;

    /// <summary>Totals over all queues plus device-level counters.</summary>
    public virtual NetdevStats GetStats()
    {
        NetdevStats total = default;
        for (int i = 0; i < RxQueueCount; i++) total.Add(GetRxQueue(i).Stats);
        for (int i = 0; i < TxQueueCount; i++) total.Add(GetTxQueue(i).Stats);
        return total;
    }

    /// <summary>Zeroes every counter (per queue and device-level). May race with the fast path by a few packets.</summary>
    public virtual Errno ResetStats()
    {
        for (int i = 0; i < RxQueueCount; i++) GetRxQueue(i).Stats = default;
        for (int i = 0; i < TxQueueCount; i++) GetTxQueue(i).Stats = default;
        return Errno.Success;
    }

    /// <summary>Closes the device and frees its kernel resources; idempotent. No queue may be in use.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases resources; called once.</summary>
    protected abstract void Dispose(bool disposing);

    /// <inheritdoc/>
    public override string ToString() => $"{Name} (type {Type})";
}
