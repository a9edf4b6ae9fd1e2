using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Vswitch.Interop.Linux;
using Vswitch.Packets;

namespace Vswitch.Netdev.Linux;

/// <summary>Where the kernel interface behind a device is, as far as this process can tell.</summary>
public enum KernelInterfaceState
{
    /// <summary>In this process's network namespace; ioctls by name work.</summary>
    Present = 0,
    /// <summary>Moved to another network namespace: the fd still works, control by name returns ENODEV.</summary>
    OtherNamespace = 1,
    /// <summary>Deleted: the port is down for good; packet I/O is dropped and counted.</summary>
    Gone = 2,
}

/// <summary>
/// The control half shared by devices backed by a Linux network interface (tap, afpacket): MAC, MTU and
/// flags by ioctl on the interface name, link state and change notifications from the process's shared
/// <see cref="LinkMonitor"/>, and the namespace-move / deletion policy.
/// </summary>
/// <remarks>
/// Control members take an internal lock (they may block briefly on ioctls) and may be called from any
/// thread. Link notifications arrive on the monitor thread and only update cached state and bump
/// <see cref="Netdev.ChangeSeq"/>. After the interface left this namespace, getters answer from the last
/// known values and setters return <c>ENODEV</c>.
/// </remarks>
public abstract class KernelInterfaceNetdev : Netdev
{
    private const ushort VlanTpid = 0x8100;
    private const ushort QinQTpid = 0x88a8;
    /// <summary>Serialises control operations.</summary>
    protected readonly Lock ControlLock = new();
    private IDisposable? _linkSubscription;
    private int _state;
    private int _mtu;
    private MacAddress _mac;
    private InterfaceFlags _kernelFlags;
    private int _linkUp;

    /// <summary>Creates the device; call <see cref="InitializeKernelState"/> once the interface exists.</summary>
    protected KernelInterfaceNetdev(string name, string type, string kernelName, int ifIndex) : base(name, type)
    {
        KernelName = kernelName;
        IfIndex = ifIndex;
    }

    /// <summary>Kernel interface name (as it was in this namespace).</summary>
    public string KernelName { get; }

    /// <summary>Kernel interface index.</summary>
    public int IfIndex { get; }

    /// <summary>Where the kernel interface is.</summary>
    public KernelInterfaceState InterfaceState => (KernelInterfaceState)Volatile.Read(ref _state);

    /// <summary>The MTU the transmit path enforces (cached; refreshed on every change). Read on the fast path.</summary>
    protected int CachedMtu => Volatile.Read(ref _mtu);

    /// <summary>True when the interface is gone: queues drop instead of calling the kernel.</summary>
    protected bool IsGone => Volatile.Read(ref _state) == (int)KernelInterfaceState.Gone;

    /// <summary>Reads MTU, MAC and flags by name and subscribes to link notifications. Returns the first error.</summary>
    protected Errno InitializeKernelState()
    {
        var e = NetDevice.GetMtu(KernelName, out int mtu);
        if (e.IsError) return e;
        Span<byte> mac = stackalloc byte[6];
        e = NetDevice.GetHardwareAddress(KernelName, mac);
        if (e.IsError) return e;
        e = NetDevice.GetFlags(KernelName, out var flags);
        if (e.IsError) return e;
        _mtu = mtu;
        _mac = new MacAddress(mac);
        _kernelFlags = flags;
        _linkUp = LinkUpFromFlags(flags) ? 1 : 0;
        e = LinkMonitor.Shared.Subscribe(OnLinkMessage, out _linkSubscription);
        if (e.IsError) return e;
        // A change between our reads and the subscription would be lost: read the flags once more.
        RefreshFromKernel();
        return Errno.Success;
    }

    private static bool LinkUpFromFlags(InterfaceFlags flags) =>
        (flags & InterfaceFlags.Up) != 0 && (flags & (InterfaceFlags.Running | InterfaceFlags.LowerUp)) != 0;

    private void RefreshFromKernel()
    {
        if (RtNetlink.GetLink(IfIndex, out var link).IsSuccess && link is not null && link.Name == KernelName)
            OnLinkMessage(link);
    }

    /// <summary>
    /// Called on the monitor thread when the interface left this namespace (RTM_DELLINK). Returns what
    /// happened: <see cref="KernelInterfaceState.OtherNamespace"/> when the device's fd still works there
    /// (tap), otherwise <see cref="KernelInterfaceState.Gone"/>.
    /// </summary>
    protected abstract KernelInterfaceState ClassifyRemoval();

    /// <summary>Called once (on the monitor thread) when the interface becomes <see cref="KernelInterfaceState.Gone"/>.</summary>
    protected virtual void OnGone() { }

    /// <summary>
    /// Records that the interface is gone when the fast path finds out first (e.g. a tap fd returning EBADFD
    /// after the namespace it was moved to was deleted, which this namespace's link monitor never sees).
    /// Idempotent; runs once per device on whatever thread calls it (a rare slow path).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    protected void MarkGone()
    {
        lock (ControlLock)
        {
            if (_state == (int)KernelInterfaceState.Gone || IsDisposed) return;
            Volatile.Write(ref _state, (int)KernelInterfaceState.Gone);
            Volatile.Write(ref _linkUp, 0);
            OnGone();
            BumpChangeSeq();
        }
    }

    private void OnLinkMessage(NetlinkLink link)
    {
        if (link.IfIndex != IfIndex || IsDisposed) return;
        lock (ControlLock)
        {
            if (_state != (int)KernelInterfaceState.Present) return;
            bool changed = false;
            if (link.Deleted)
            {
                var next = ClassifyRemoval();
                Volatile.Write(ref _state, (int)next);
                if (next == KernelInterfaceState.Gone)
                {
                    Volatile.Write(ref _linkUp, 0);
                    OnGone();
                }
                BumpChangeSeq();
                return;
            }
            if (link.Name.Length > 0 && link.Name != KernelName) return; // ifindex reused by another interface
            if (link.Flags != _kernelFlags) { _kernelFlags = link.Flags; changed = true; }
            int up = link.IsLinkUp ? 1 : 0;
            if (up != _linkUp) { Volatile.Write(ref _linkUp, up); changed = true; }
            if (link.Mtu > 0 && link.Mtu != _mtu) { Volatile.Write(ref _mtu, link.Mtu); changed = true; }
            if (link.Address.Length == 6)
            {
                var mac = new MacAddress(link.Address);
                if (mac != _mac) { _mac = mac; changed = true; }
            }
            if (changed) BumpChangeSeq();
        }
    }

    /// <inheritdoc/>
    public override Errno GetMac(out MacAddress mac)
    {
        lock (ControlLock)
        {
            mac = _mac;
            if (_state != (int)KernelInterfaceState.Present) return Errno.Success;
            Span<byte> b = stackalloc byte[6];
            var e = NetDevice.GetHardwareAddress(KernelName, b);
            if (e.IsSuccess) mac = _mac = new MacAddress(b);
            return e == Errno.ENODEV ? Errno.Success : e;
        }
    }

    /// <inheritdoc/>
    public override Errno SetMac(MacAddress mac)
    {
        if (mac.IsMulticast || mac.IsZero) return Errno.EINVAL;
        lock (ControlLock)
        {
            if (_state != (int)KernelInterfaceState.Present) return Errno.ENODEV;
            Span<byte> b = stackalloc byte[6];
            mac.CopyTo(b);
            var e = NetDevice.SetHardwareAddress(KernelName, b);
            if (e.IsError) return e;
            if (_mac != mac) { _mac = mac; BumpChangeSeq(); }
            return Errno.Success;
        }
    }

    /// <inheritdoc/>
    public override Errno GetMtu(out int mtu)
    {
        lock (ControlLock)
        {
            mtu = _mtu;
            if (_state != (int)KernelInterfaceState.Present) return Errno.Success;
            var e = NetDevice.GetMtu(KernelName, out int current);
            if (e.IsSuccess) { mtu = current; Volatile.Write(ref _mtu, current); }
            return e == Errno.ENODEV ? Errno.Success : e;
        }
    }

    /// <inheritdoc/>
    public override Errno SetMtu(int mtu)
    {
        if (mtu < 68 || mtu > Capabilities.MaxMtu) return Errno.EINVAL;
        lock (ControlLock)
        {
            if (_state != (int)KernelInterfaceState.Present) return Errno.ENODEV;
            var e = NetDevice.SetMtu(KernelName, mtu);
            if (e.IsError) return e;
            if (_mtu != mtu) { Volatile.Write(ref _mtu, mtu); BumpChangeSeq(); }
            return Errno.Success;
        }
    }

    /// <summary>Maps interface flags to <see cref="NetdevFlags"/>.</summary>
    protected static NetdevFlags FromKernelFlags(InterfaceFlags flags) =>
        ((flags & InterfaceFlags.Up) != 0 ? NetdevFlags.Up : 0)
        | ((flags & InterfaceFlags.Promiscuous) != 0 ? NetdevFlags.Promiscuous : 0)
        | ((flags & InterfaceFlags.AllMulticast) != 0 ? NetdevFlags.AllMulticast : 0);

    /// <summary>Maps <see cref="NetdevFlags"/> to interface flags.</summary>
    protected static InterfaceFlags ToKernelFlags(NetdevFlags flags) =>
        ((flags & NetdevFlags.Up) != 0 ? InterfaceFlags.Up : 0)
        | ((flags & NetdevFlags.Promiscuous) != 0 ? InterfaceFlags.Promiscuous : 0)
        | ((flags & NetdevFlags.AllMulticast) != 0 ? InterfaceFlags.AllMulticast : 0);

    /// <summary>
    /// SIOCGIFFLAGS then SIOCSIFFLAGS, synchronously: the old flags come back and an error means nothing
    /// changed. EINVAL for unknown flag bits; ENODEV once the interface is not in this namespace (the old
    /// flags are then the last known ones).
    /// </summary>
    public override Errno UpdateFlags(NetdevFlags off, NetdevFlags on, out NetdevFlags old)
    {
        const NetdevFlags known = NetdevFlags.Up | NetdevFlags.Promiscuous | NetdevFlags.AllMulticast;
        lock (ControlLock)
        {
            old = FromKernelFlags(_kernelFlags);
            if (((off | on) & ~known) != 0) return Errno.EINVAL;
            if (_state != (int)KernelInterfaceState.Present) return Errno.ENODEV;
            var e = NetDevice.UpdateFlags(KernelName, ToKernelFlags(off), ToKernelFlags(on), out var oldKernel);
            if (e.IsError) return e;
            old = FromKernelFlags(oldKernel);
            var now = (old & ~off) | on;
            if (now != old)
            {
                _kernelFlags = (oldKernel & ~ToKernelFlags(off)) | ToKernelFlags(on);
                BumpChangeSeq();
            }
            return Errno.Success;
        }
    }

    /// <summary>
    /// Carrier state: Up when the interface is administratively up with carrier (IFF_UP and IFF_RUNNING, read
    /// now with SIOCGIFFLAGS); Down once gone; the last known state while in another namespace.
    /// </summary>
    public override Errno GetLinkState(out LinkState state)
    {
        lock (ControlLock)
        {
            if (_state == (int)KernelInterfaceState.Present && NetDevice.GetFlags(KernelName, out var flags).IsSuccess)
            {
                bool up = LinkUpFromFlags(flags);
                if ((up ? 1 : 0) != _linkUp)
                {
                    // The notification is on its way; record it now so readers agree with the kernel.
                    Volatile.Write(ref _linkUp, up ? 1 : 0);
                    BumpChangeSeq();
                }
            }
            state = Volatile.Read(ref _linkUp) != 0 ? LinkState.Up : LinkState.Down;
            return Errno.Success;
        }
    }

    /// <summary>Status entries shared by kernel-backed devices.</summary>
    protected Dictionary<string, string> BaseStatus() => new()
    {
        ["kernel_name"] = KernelName,
        ["ifindex"] = IfIndex.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["interface"] = InterfaceState switch
        {
            KernelInterfaceState.Present => "present",
            KernelInterfaceState.OtherNamespace => "other-namespace",
            _ => "gone",
        },
    };

    /// <summary>Unsubscribes from link notifications. Subclasses close their fds, then call this.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _linkSubscription?.Dispose();
    }

    /// <summary>
    /// True when a frame of <paramref name="frame"/> length exceeds <paramref name="mtu"/> plus its L2 header:
    /// 14 bytes of Ethernet plus 4 per VLAN tag (0x8100 / 0x88a8, up to two).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool ExceedsMtu(ReadOnlySpan<byte> frame, int mtu)
    {
        int allowed = mtu + EthernetHeader.Length;
        if (frame.Length <= allowed) return false;
        int offset = 12;
        for (int tags = 0; tags < 2 && frame.Length >= offset + 6; tags++)
        {
            ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]);
            if (type != VlanTpid && type != QinQTpid) break;
            allowed += VlanHeader.Length;
            offset += VlanHeader.Length;
        }
        return frame.Length > allowed;
    }
}
