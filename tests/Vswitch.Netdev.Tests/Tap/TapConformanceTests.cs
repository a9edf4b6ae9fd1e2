using Vswitch.Netdev.Tap;
using Vswitch.Netdev.Tests.Conformance;
using Vswitch.Netdev.Tests.SystemTests;
using Vswitch.Packets;

namespace Vswitch.Netdev.Tests.Tap;

/// <summary>
/// The conformance suite against <c>tap</c>: the far end is an AF_PACKET socket on the tap's kernel interface
/// (frames it sends are transmitted by the kernel into the tap fd; frames the device writes are received by the
/// kernel and seen by the socket). Needs root.
/// </summary>
[Trait("Requires", "root")]
public sealed class TapConformanceTests : NetdevConformanceTests
{
    protected override string ProviderType => TapNetdevProvider.TypeName;

    protected override void RegisterProvider(NetdevRegistry registry) => registry.AddTapProvider();

    protected override string NewDeviceName() => Ip.UniqueName("c");

    protected override IReadOnlyList<KeyValuePair<string, string>> InvalidOptionValues =>
    [
        new("queues", "0"), new("queues", "17"), new("queues", "abc"), new("mtu", "67"), new("mtu", "9195"),
        new("mac", "01:00:5e:00:00:01"), new("mac", "zz"), new("persist", "maybe"), new("speed", "0"),
        new("iface", "a/b"), new("local_ip", "300.1.1.1"), new("local_netmask", "33"),
    ];

    protected override INetdevConformanceHarness OpenHarness(NetdevRegistry registry, PacketPool pool, NetdevOptions options)
    {
        KernelHarness.RequireRoot();
        string name = NewDeviceName();
        var rc = registry.Open(ProviderType, name, options.With("iface", name), pool, out var device, out var error);
        if (rc.IsError) throw new InvalidOperationException(error);
        try
        {
            TestObjects.MarkLink(name);
            KernelHarness.Quiet(name);
            if (device!.UpdateFlags(NetdevFlags.None, NetdevFlags.Up, out _).IsError) throw new InvalidOperationException("cannot bring tap up");
            var far = KernelHarness.OpenFarEnd(pool, name);
            if (!Devices.WaitFor(() => device.GetLinkState(out var s).IsSuccess && s == LinkState.Up))
                throw new InvalidOperationException("tap link did not come up");
            return new KernelHarness(device, far, null);
        }
        catch
        {
            device!.Dispose();
            throw;
        }
    }
}
