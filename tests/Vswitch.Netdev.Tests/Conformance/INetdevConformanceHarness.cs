using Vswitch.Netdev;
using Vswitch.Packets;

namespace Vswitch.Netdev.Tests.Conformance;

/// <summary>
/// One device under test (DUT) plus the far end of its wire, as the conformance suite
/// (<see cref="NetdevConformanceTests"/>) sees it. A provider's test project implements this once.
/// </summary>
/// <remarks>
/// <para><b>What the far end is.</b> Whatever sits on the other side of the DUT's "wire", driven by the
/// test without going through the DUT:</para>
/// <list type="bullet">
/// <item><c>memory</c>: a second memory device wired to the DUT (<c>peer=</c>); the harness sends on its tx
/// queue and receives on its rx queue.</item>
/// <item><c>tap</c>: the kernel side of the tap interface. Open an <c>AF_PACKET</c>/<c>SOCK_RAW</c> socket bound
/// to the tap's kernel ifindex (protocol <c>ETH_P_ALL</c>): a frame <c>send</c>-ed on it is transmitted by the
/// kernel interface and so read by the DUT from the tap fd (rx); a frame the DUT writes to the tap fd (tx) is
/// received by the kernel interface and shows up on the socket (drop <c>PACKET_OUTGOING</c> frames so the
/// harness's own sends are not read back).</item>
/// <item><c>afpacket</c>: a veth pair created in the test (names from <c>Ip.UniqueName</c>, recorded for the sweep, deleted in
/// <see cref="IDisposable.Dispose"/>): the DUT is opened on one end, the harness's <c>AF_PACKET</c> socket is
/// bound to the other end. Both ends must be up.</item>
/// </list>
/// <para><b>Noise.</b> Kernel interfaces emit their own frames (IPv6 router/neighbour solicitations, ...).
/// The suite marks every frame it sends (EtherType 0x88B5 plus a per-test random marker) and ignores
/// everything else, so a harness need not filter; it may (e.g. disable IPv6 on its interfaces with
/// <c>sysctl net.ipv6.conf.IF.disable_ipv6=1</c>) to keep counters exact, see
/// <see cref="NetdevConformanceTests.CountersAreExact"/>.</para>
/// <para><b>State at hand-over.</b> <see cref="Device"/> is open, administratively up, with link up and the far
/// end ready to send and receive. The harness owns the device and disposes it (and everything it created in
/// the OS) in <see cref="IDisposable.Dispose"/>, even when a test failed; the suite may dispose the device itself
/// first (Netdev.Dispose is idempotent).</para>
/// <para><b>Threads.</b> The suite calls the harness from the test thread only.</para>
/// </remarks>
public interface INetdevConformanceHarness : IDisposable
{
    /// <summary>The device under test, opened through the registry the suite passed to the factory.</summary>
    Netdev Device { get; }

    /// <summary>
    /// Sends one frame from the far end towards the DUT, so that it arrives on one of the DUT's rx queues.
    /// Returns false if the far end could not send it (the suite then fails the test). Must not block for long.
    /// </summary>
    bool SendToDevice(ReadOnlySpan<byte> frame);

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for the next frame the DUT transmitted and copies it into
    /// <paramref name="buffer"/> (at least <see cref="PacketBuffer.MaxFrameSize"/> bytes). True with the frame
    /// length in <paramref name="length"/>; false on timeout. Frames the harness itself sent must not be returned.
    /// </summary>
    bool TryReceiveFromDevice(Span<byte> buffer, TimeSpan timeout, out int length);
}
