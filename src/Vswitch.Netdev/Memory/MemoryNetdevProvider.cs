using System.Diagnostics.CodeAnalysis;
using Vswitch.Interop.Linux;
using Vswitch.Packets;

namespace Vswitch.Netdev.Memory;

/// <summary>
/// The <c>memory</c> netdev provider (alias <c>mem</c>): in-process ports whose packets move through
/// lock-free rings, for tests, benchmarks and wiring datapaths together without the kernel.
/// </summary>
/// <remarks>
/// <para>Devices live in a namespace owned by this provider instance: two providers (e.g. two tests)
/// never see each other's devices. A device opened with <c>peer=NAME</c> is one end of a wire whose
/// other end is the memory device <c>NAME</c> of the same provider; the two connect as soon as both
/// exist (in either order). A device without <c>peer</c> is standalone: tests feed its rx with
/// <see cref="MemoryNetdev.Inject(ReadOnlySpan{byte}, int)"/> and read what it transmits with
/// <see cref="MemoryNetdev.TryTake"/>.</para>
/// <para>Threads: every member is thread-safe. Register with
/// <see cref="MemoryNetdevRegistryExtensions.AddMemoryProvider"/>.</para>
/// </remarks>
public sealed class MemoryNetdevProvider : INetdevProvider
{
    /// <summary>The type name, <c>memory</c>.</summary>
    public const string TypeName = "memory";

    private readonly Dictionary<string, MemoryNetdev> _devices = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <inheritdoc/>
    public string Type => TypeName;

    /// <inheritdoc/>
    public IReadOnlyList<string> Aliases { get; } = ["mem"];

    /// <inheritdoc/>
    public IReadOnlyList<NetdevOptionDescriptor> Options => MemoryNetdevOptions.Descriptors;

    /// <summary>
    /// Opens a memory device. Errors: <c>EINVAL</c> for a bad option (the message names it, e.g.
    /// <c>memory: queues=0: expected an integer in 1..16</c>) or an empty name or a device naming itself as peer,
    /// <c>EEXIST</c> when this provider already has a device of that name, <c>EBUSY</c> when the named peer
    /// is already wired to another device, <c>EMFILE</c>/<c>ENOMEM</c> when an eventfd cannot be created.
    /// Never blocks. Thread-safe. On failure nothing is left behind.
    /// </summary>
    public Errno Open(NetdevOpenRequest request, out Netdev? device, out string? error)
    {
        ArgumentNullException.ThrowIfNull(request);
        device = null;
        if (!MemoryNetdevOptions.TryParse(request.Options, out var options, out error)) return Errno.EINVAL;
        var rc = Open(request.Name, request.Options, options, request.Pool, out var memory, out error);
        device = memory;
        return rc;
    }

    /// <summary>
    /// As <see cref="Open(NetdevOpenRequest, out Netdev?, out string?)"/> with already validated options.
    /// </summary>
    public Errno Open(string name, MemoryNetdevOptions options, PacketPool pool, out MemoryNetdev? device, out string? error)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Open(name, ToNetdevOptions(options), options, pool, out device, out error);
    }

    /// <summary>
    /// Opens a device or throws <see cref="InvalidOperationException"/> with the provider's message: a
    /// convenience for tests and benchmarks (<paramref name="options"/> as <c>key=value,...</c> text).
    /// </summary>
    public MemoryNetdev OpenDevice(string name, PacketPool pool, string? options = null)
    {
        if (!NetdevOptions.TryParse(options, out var parsed, out var error))
            throw new ArgumentException($"memory device '{name}': {error}", nameof(options));
        var rc = Open(new NetdevOpenRequest(name, parsed, pool), out var device, out error);
        if (rc.IsError) throw new InvalidOperationException(error ?? $"memory device '{name}': {rc}");
        return (MemoryNetdev)device!;
    }

    /// <summary>Opens two devices wired to each other (<paramref name="a"/> with <c>peer=</c><paramref name="b"/>), or throws.</summary>
    public (MemoryNetdev A, MemoryNetdev B) OpenPair(string a, string b, PacketPool pool, string? commonOptions = null)
    {
        string extra = string.IsNullOrEmpty(commonOptions) ? "" : "," + commonOptions;
        var first = OpenDevice(a, pool, "peer=" + b + extra);
        try
        {
            return (first, OpenDevice(b, pool, "peer=" + a + extra));
        }
        catch
        {
            first.Dispose();
            throw;
        }
    }

    /// <summary>Finds an open device of this provider by name. Thread-safe.</summary>
    public bool TryGetDevice(string name, [NotNullWhen(true)] out MemoryNetdev? device)
    {
        lock (_lock) return _devices.TryGetValue(name, out device);
    }

    /// <summary>Names of the open devices (a snapshot).</summary>
    public IReadOnlyList<string> DeviceNames
    {
        get { lock (_lock) return [.. _devices.Keys]; }
    }

    private Errno Open(string name, NetdevOptions raw, MemoryNetdevOptions options, PacketPool pool, out MemoryNetdev? device, out string? error)
    {
        ArgumentNullException.ThrowIfNull(pool);
        device = null;
        if (string.IsNullOrEmpty(name))
        {
            error = "memory: a device needs a non-empty name";
            return Errno.EINVAL;
        }
        if (options.Peer == name)
        {
            error = $"memory: peer={name}: a device cannot be its own peer";
            return Errno.EINVAL;
        }
        var rc = MemoryNetdev.Create(this, name, raw, options, pool, out var created, out error);
        if (rc.IsError) return rc;
        lock (_lock)
        {
            if (_devices.ContainsKey(name))
            {
                created!.DisposeUnregistered();
                error = $"memory: device '{name}' already exists";
                return Errno.EEXIST;
            }
            MemoryNetdev? peer = null;
            if (options.Peer is not null && _devices.TryGetValue(options.Peer, out var named))
            {
                if (named.Peer is not null || (named.PeerName is not null && named.PeerName != name))
                {
                    created!.DisposeUnregistered();
                    error = $"memory: peer={options.Peer}: device '{options.Peer}' is already wired to '{named.PeerName}'";
                    return Errno.EBUSY;
                }
                peer = named;
            }
            else if (options.Peer is null)
            {
                // A device opened earlier may be waiting for this name.
                foreach (var waiting in _devices.Values)
                {
                    if (waiting.Peer is null && waiting.PeerName == name)
                    {
                        peer = waiting;
                        break;
                    }
                }
            }
            _devices.Add(name, created!);
            created!.MarkRegistered();
            if (peer is not null) MemoryNetdev.Connect(created!, peer);
        }
        device = created;
        error = null;
        return Errno.Success;
    }

    /// <summary>Called by a disposing device: forgets it and unplugs its peer.</summary>
    internal void Remove(MemoryNetdev device)
    {
        lock (_lock)
        {
            if (_devices.TryGetValue(device.Name, out var current) && ReferenceEquals(current, device))
                _devices.Remove(device.Name);
            MemoryNetdev.Disconnect(device);
        }
    }

    private static NetdevOptions ToNetdevOptions(MemoryNetdevOptions o)
    {
        var list = new List<KeyValuePair<string, string>>();
        if (o.Queues != 1) list.Add(new("queues", o.Queues.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        if (o.Peer is not null) list.Add(new("peer", o.Peer));
        if (o.Mtu != 1500) list.Add(new("mtu", o.Mtu.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        if (o.Mac is { } mac) list.Add(new("mac", mac.ToString()));
        if (o.Capacity != MemoryNetdevOptions.DefaultCapacity) list.Add(new("capacity", o.Capacity.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return NetdevOptions.FromPairs(list);
    }
}
