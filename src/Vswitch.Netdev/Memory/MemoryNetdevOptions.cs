using System.Diagnostics.CodeAnalysis;
using Vswitch.Packets;

namespace Vswitch.Netdev.Memory;

/// <summary>
/// The validated options of one <c>memory</c> device (parsed from <c>queues=,peer=,mtu=,mac=,capacity=</c>).
/// Immutable. See docs/ports/memory.md.
/// </summary>
public sealed record MemoryNetdevOptions
{
    /// <summary>Largest number of rx/tx queue pairs.</summary>
    public const int MaxQueues = 16;

    /// <summary>Largest MTU a memory device accepts (a 9000-byte jumbo frame plus L2 header fits a <see cref="PacketBuffer"/>).</summary>
    public const int MaxMtu = 9000;

    /// <summary>Smallest MTU (IPv4's minimum).</summary>
    public const int MinMtu = 68;

    /// <summary>Default per-queue ring length.</summary>
    public const int DefaultCapacity = 1024;

    /// <summary>Largest per-queue ring length.</summary>
    public const int MaxCapacity = 65536;

    /// <summary>Bytes of L2 header allowed on top of the MTU on transmit (Ethernet 14 + one VLAN tag 4).</summary>
    public const int L2HeaderAllowance = 18;

    /// <summary>Option keys with their help text, in the order <see cref="INetdevProvider.Options"/> lists them.</summary>
    public static IReadOnlyList<NetdevOptionDescriptor> Descriptors { get; } =
    [
        new("queues", "rx/tx queue pairs, 1..16 (default 1)"),
        new("peer", "name of the memory device at the other end of the wire; tx here is rx there (default: none, tx is captured for TryTake)"),
        new("mtu", "MTU in bytes, 68..9000 (default 1500)"),
        new("mac", "Ethernet address xx:xx:xx:xx:xx:xx, unicast and non-zero (default: random locally administered)"),
        new("capacity", "per-queue ring length, a power of two in 2..65536 (default 1024)"),
    ];

    /// <summary>Rx/tx queue pairs (1..<see cref="MaxQueues"/>).</summary>
    public int Queues { get; init; } = 1;

    /// <summary>The device to connect to, or null for a standalone (capturing) device.</summary>
    public string? Peer { get; init; }

    /// <summary>MTU in bytes.</summary>
    public int Mtu { get; init; } = 1500;

    /// <summary>Ethernet address, or null for a random locally administered one.</summary>
    public MacAddress? Mac { get; init; }

    /// <summary>Per-queue ring length (power of two).</summary>
    public int Capacity { get; init; } = DefaultCapacity;

    /// <summary>
    /// Parses and validates <paramref name="options"/>. False with <paramref name="error"/> naming the option
    /// (e.g. <c>memory: queues=0: expected an integer in 1..16</c>). Unknown keys are refused too.
    /// </summary>
    public static bool TryParse(NetdevOptions options, [NotNullWhen(true)] out MemoryNetdevOptions? result, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(options);
        result = null;
        foreach (var (key, _) in options)
        {
            bool known = false;
            foreach (var d in Descriptors) if (d.Key == key) { known = true; break; }
            if (!known)
            {
                error = $"memory: unknown option '{key}' (known options: queues, peer, mtu, mac, capacity)";
                return false;
            }
        }
        if (!options.TryGetInt("queues", 1, 1, MaxQueues, out int queues, out error)
            || !options.TryGetInt("mtu", 1500, MinMtu, MaxMtu, out int mtu, out error)
            || !options.TryGetInt("capacity", DefaultCapacity, 2, MaxCapacity, out int capacity, out error))
        {
            error = "memory: " + error;
            return false;
        }
        if ((capacity & (capacity - 1)) != 0)
        {
            error = $"memory: capacity={capacity}: expected a power of two in 2..{MaxCapacity}";
            return false;
        }
        MacAddress? mac = null;
        var macText = options.Get("mac");
        if (macText is not null)
        {
            if (!MacAddress.TryParse(macText, out var parsed))
            {
                error = $"memory: mac={macText}: expected an address like 02:00:00:00:00:01";
                return false;
            }
            if (parsed.IsMulticast || parsed.IsZero)
            {
                error = $"memory: mac={macText}: must be a unicast, non-zero address";
                return false;
            }
            mac = parsed;
        }
        var peer = options.Get("peer");
        if (peer is not null && peer.Length == 0)
        {
            error = "memory: peer=: expected a device name";
            return false;
        }
        result = new MemoryNetdevOptions { Queues = queues, Peer = peer, Mtu = mtu, Mac = mac, Capacity = capacity };
        error = null;
        return true;
    }
}
