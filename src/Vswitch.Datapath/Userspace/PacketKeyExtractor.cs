using System.Runtime.CompilerServices;
using Vswitch.Packets;

namespace Vswitch.Datapath.Userspace;

/// <summary>
/// The userspace datapath's single entry point for flow extraction: <see cref="FlowExtractor"/> (Vswitch.Packets,
/// OVS's miniflow_extract rules), which also records the header offsets in <see cref="PacketBuffer.Layout"/> for set
/// actions. Never throws, never allocates.
/// </summary>
internal static class PacketKeyExtractor
{
    /// <summary>Extracts the key; false when the frame was truncated or malformed (the key is still usable, as in OVS).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Extract(PacketBuffer packet, out FlowKey key) =>
        FlowExtractor.Extract(packet, out key) == ExtractStatus.Ok;
}
