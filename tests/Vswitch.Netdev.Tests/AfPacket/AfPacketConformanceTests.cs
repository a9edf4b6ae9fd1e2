using Vswitch.Netdev.AfPacket;
using Vswitch.Netdev.Tests.Conformance;
using Vswitch.Netdev.Tests.SystemTests;
using Vswitch.Packets;

namespace Vswitch.Netdev.Tests.AfPacket;

/// <summary>
/// The conformance suite against <c>afpacket</c>: the device is opened on one end of a veth pair made for the
/// test, the far end is an AF_PACKET socket on the other end. Needs root.
/// </summary>
[Trait("Requires", "root")]
public class AfPacketConformanceTests : NetdevConformanceTests
{
    protected override string ProviderType => AfPacketNetdevProvider.TypeName;

    protected override void RegisterProvider(NetdevRegistry registry) => registry.AddAfPacketProvider();

    protected override string NewDeviceName() => Ip.UniqueName("c");

    protected override IReadOnlyList<KeyValuePair<string, string>> InvalidOptionValues =>
    [
        new("queues", "0"), new("queues", "17"), new("promisc", "maybe"), new("csum", "sometimes"), new("iface", "a/b"), new("iface", "waytoolonginterfacename"),
    ];

    /// <summary>Options this variant adds to every device the suite opens.</summary>
    protected virtual NetdevOptions WithProviderOptions(NetdevOptions options) => options;

    protected override INetdevConformanceHarness OpenHarness(NetdevRegistry registry, PacketPool pool, NetdevOptions options)
    {
        KernelHarness.RequireRoot();
        string dutEnd = NewDeviceName(), farEnd = Ip.UniqueName("f");
        Ip.AddVeth(dutEnd, farEnd);
        try
        {
            KernelHarness.Quiet(dutEnd);
            KernelHarness.Quiet(farEnd);
            Ip.Run($"link set {dutEnd} up");
            Ip.Run($"link set {farEnd} up");
            var rc = registry.Open(ProviderType, dutEnd, WithProviderOptions(options), pool, out var device, out var error);
            if (rc.IsError) throw new InvalidOperationException(error);
            try
            {
                var far = KernelHarness.OpenFarEnd(pool, farEnd);
                if (!Devices.WaitFor(() => device!.GetLinkState(out var s).IsSuccess && s == LinkState.Up))
                    throw new InvalidOperationException("veth link did not come up");
                return new KernelHarness(device!, far, () => Ip.TryRun($"link del {dutEnd}"));
            }
            catch
            {
                device!.Dispose();
                throw;
            }
        }
        catch
        {
            Ip.TryRun($"link del {dutEnd}");
            throw;
        }
    }
}

/// <summary>The conformance suite against <c>afpacket</c> receiving through a TPACKET_V3 ring (<c>rx_ring=true</c>).</summary>
[Trait("Requires", "root")]
public sealed class AfPacketRingConformanceTests : AfPacketConformanceTests
{
    protected override NetdevOptions WithProviderOptions(NetdevOptions options) => options.With("rx_ring", "true");
}
