using System.Diagnostics;
using Vswitch.Netdev.Tests.Conformance;
using Vswitch.Packets;

namespace Vswitch.Netdev.Tests.SystemTests;

/// <summary>
/// Conformance harness for kernel-backed devices: the far end is an AF_PACKET socket (an afpacket device,
/// <c>csum=none</c>, own transmissions ignored) bound to the kernel interface on the other side of the wire.
/// </summary>
internal sealed class KernelHarness : INetdevConformanceHarness
{
    private readonly Netdev _far;
    private readonly Action? _cleanup;
    private readonly Queue<byte[]> _received = new();
    private readonly PacketPool _pool = new(256);

    public KernelHarness(Netdev device, Netdev far, Action? cleanup)
    {
        Device = device;
        _far = far;
        _cleanup = cleanup;
    }

    public Netdev Device { get; }

    /// <summary>Throws with a clear message when system tests cannot run here (xunit 2 cannot skip dynamically).</summary>
    public static void RequireRoot()
    {
        if (SystemTestRequirements.SkipReason is { } reason)
            throw new InvalidOperationException($"conformance for kernel-backed providers: {reason} (filter with --filter Requires!=root)");
    }

    /// <summary>Opens the far end on <paramref name="iface"/>.</summary>
    public static Netdev OpenFarEnd(PacketPool pool, string iface)
    {
        var registry = new NetdevRegistry();
        registry.AddAfPacketProvider();
        var rc = registry.Open("afpacket", "far-" + iface, NetdevOptions.Empty.With("iface", iface).With("csum", "none"), pool, out var far, out var error);
        if (rc.IsError) throw new InvalidOperationException(error);
        return far!;
    }

    /// <summary>Stops the kernel's own traffic (IPv6 autoconfiguration) on <paramref name="iface"/> so counters are exact.</summary>
    public static void Quiet(string iface)
    {
        try { File.WriteAllText($"/proc/sys/net/ipv6/conf/{iface}/disable_ipv6", "1"); }
        catch (IOException) { } // IPv6 disabled kernel-wide: nothing to quiet
    }

    public bool SendToDevice(ReadOnlySpan<byte> frame) => FarEnd.Send(_far, _pool, frame);

    public bool TryReceiveFromDevice(Span<byte> buffer, TimeSpan timeout, out int length) =>
        FarEnd.TryReceive(_far, _received, buffer, timeout, out length);

    public void Dispose()
    {
        _far.Dispose();
        Device.Dispose();
        _cleanup?.Invoke();
        _pool.Dispose();
    }
}
