using System.Diagnostics;
using Vswitch.Netdev.Memory;
using Vswitch.Netdev.Tests.Conformance;
using Vswitch.Packets;

namespace Vswitch.Netdev.Tests.Memory;

/// <summary>Runs the conformance suite against the <c>memory</c> provider: the far end is a second memory device on the wire.</summary>
public sealed class MemoryConformanceTests : NetdevConformanceTests
{
    private MemoryNetdevProvider? _provider;

    protected override string ProviderType => "memory";

    protected override void RegisterProvider(NetdevRegistry registry) => _provider = registry.AddMemoryProvider();

    protected override string NewDeviceName() => "vsw" + Guid.NewGuid().ToString("N")[..8];

    protected override IReadOnlyList<KeyValuePair<string, string>> InvalidOptionValues =>
    [
        new("queues", "0"),
        new("queues", "17"),
        new("queues", "abc"),
        new("mtu", "67"),
        new("mtu", "9001"),
        new("mac", "zz:00:00:00:00:01"),
        new("mac", "01:00:5e:00:00:01"),
        new("capacity", "1000"),
        new("capacity", "0"),
        new("peer", ""),
    ];

    protected override INetdevConformanceHarness OpenHarness(NetdevRegistry registry, PacketPool pool, NetdevOptions options)
    {
        string dut = NewDeviceName(), far = NewDeviceName();
        var rc = registry.Open("memory", dut, options.With("peer", far), pool, out var device, out var error);
        if (rc.IsError) throw new InvalidOperationException(error);
        try
        {
            return new MemoryHarness(device!, _provider!.OpenDevice(far, pool));
        }
        catch
        {
            device!.Dispose();
            throw;
        }
    }

    /// <summary>The far end is a standalone memory device that the DUT is wired to.</summary>
    private sealed class MemoryHarness(Netdev device, MemoryNetdev far) : INetdevConformanceHarness
    {
        private readonly Queue<byte[]> _received = new();

        public Netdev Device { get; } = device;

        public bool SendToDevice(ReadOnlySpan<byte> frame) => FarEnd.Send(far, far.Pool, frame);

        public bool TryReceiveFromDevice(Span<byte> buffer, TimeSpan timeout, out int length) =>
            FarEnd.TryReceive(far, _received, buffer, timeout, out length);

        public void Dispose()
        {
            far.Dispose();
            Device.Dispose();
        }
    }
}
