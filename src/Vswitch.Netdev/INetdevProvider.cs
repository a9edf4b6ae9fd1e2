using Vswitch.Interop.Linux;
using Vswitch.Packets;

namespace Vswitch.Netdev;

/// <summary>
/// A network-device provider: one kind of port (memory, tap, afpacket, ...), as OVS's
/// <c>netdev_class</c>, DPDK's PMD or bhyve's <c>net_backend</c>. A provider is a sealed,
/// stateless-or-thread-safe factory registered once in a <see cref="NetdevRegistry"/>.
/// </summary>
public interface INetdevProvider
{
    /// <summary>The type name users give (e.g. <c>tap</c>). Lower case, unique in a registry.</summary>
    string Type { get; }

    /// <summary>Other names accepted for this type (e.g. <c>system</c> for <c>afpacket</c>); may be empty.</summary>
    IReadOnlyList<string> Aliases { get; }

    /// <summary>
    /// Every option this provider understands. The registry refuses any other key before
    /// <see cref="Open"/> is called, naming the key and listing these.
    /// </summary>
    IReadOnlyList<NetdevOptionDescriptor> Options { get; }

    /// <summary>
    /// Opens (creating if needed) the device <paramref name="request"/> names.
    /// </summary>
    /// <remarks>
    /// Blocking: may block briefly on system calls (ioctl, netlink). Threads: any; the registry does not
    /// serialise calls. Ownership: on success the caller owns <paramref name="device"/> and must dispose it.
    /// Errors: <c>EINVAL</c> for a bad option value (with <paramref name="error"/> naming it), <c>ENODEV</c>
    /// when an interface to attach to does not exist, <c>EEXIST</c> when the name is taken, <c>EPERM</c>
    /// without privilege; any other errno from the kernel. On failure nothing is left behind.
    /// </remarks>
    /// <param name="request">Device name, validated options and the packet pool receive buffers come from.</param>
    /// <param name="device">The opened device, or null on failure.</param>
    /// <param name="error">On failure, a message naming what was wrong (e.g. "tap: queues=0: must be 1..16").</param>
    Errno Open(NetdevOpenRequest request, out Netdev? device, out string? error);
}

/// <summary>What <see cref="INetdevProvider.Open"/> receives.</summary>
/// <param name="Name">The device (port) name, unique within a datapath.</param>
/// <param name="Options">Options already checked against <see cref="INetdevProvider.Options"/> keys.</param>
/// <param name="Pool">The pool rx queues rent receive buffers from.</param>
public sealed record NetdevOpenRequest(string Name, NetdevOptions Options, PacketPool Pool);

/// <summary>Describes one option of a provider (for validation, help text and docs).</summary>
/// <param name="Key">Option key, e.g. <c>queues</c>.</param>
/// <param name="Description">One line for users, including the accepted values and default.</param>
public sealed record NetdevOptionDescriptor(string Key, string Description);
