using BenchmarkDotNet.Attributes;
using Vswitch.Netdev;
using Vswitch.Netdev.AfPacket;
using Vswitch.Netdev.Memory;
using Vswitch.Netdev.Tap;
using Vswitch.Packets;
using NetdevDevice = Vswitch.Netdev.Netdev;

namespace Vswitch.Benchmarks;

/// <summary>
/// One <c>Receive</c> on an rx queue with nothing pending: what an idle port costs its poll thread per poll. The
/// kernel-backed queues make their system call (recvmmsg, read) or read a ring status word; they must not rent and
/// return pool buffers. The tap stays administratively down so that no stray frame (IPv6 autoconfiguration) arrives.
/// Needs root. Run: <c>dotnet run -c Release --project bench/Vswitch.Benchmarks -- --filter '*EmptyPoll*' --job short</c>.
/// </summary>
[MemoryDiagnoser]
public class EmptyPollBenchmarks
{
    private PacketPool _pool = null!;
    private NetdevDevice _tap = null!;
    private NetdevDevice? _device;
    private NetdevRxQueue _rx = null!;
    private PacketBatch _batch;

    /// <summary>The queue polled: afpacket with recvmmsg, afpacket with a TPACKET_V3 ring, tap, memory.</summary>
    [Params("afpacket", "afpacket-ring", "tap", "memory")]
    public string Port { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        _pool = new PacketPool(1024);
        var registry = new NetdevRegistry();
        registry.AddTapProvider();
        registry.AddAfPacketProvider();
        registry.AddMemoryProvider();
        string name = "vswbe" + Random.Shared.Next(10000, 99999);
        Check(registry.Open("tap", name, NetdevOptions.Empty, _pool, out var tap, out var error), error);
        _tap = tap!;
        string kernelName = ((TapNetdev)_tap).GetKernelName();
        switch (Port)
        {
            case "afpacket":
            case "afpacket-ring":
                Check(registry.Open("afpacket", name + "r", NetdevOptions.Empty.With("iface", kernelName).With("rx_ring", Port == "afpacket-ring" ? "true" : "false"),
                    _pool, out _device, out error), error);
                break;
            case "memory":
                Check(registry.Open("memory", name + "m", NetdevOptions.Empty, _pool, out _device, out error), error);
                break;
        }
        _rx = (_device ?? _tap).GetRxQueue(0);
        if (_rx.Receive(ref _batch) != 0) throw new InvalidOperationException("the queue is not idle");
    }

    private static void Check(Vswitch.Interop.Linux.Errno e, string? what)
    {
        if (e.IsError) throw new InvalidOperationException($"{what}: {e}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _batch.ReleaseAll();
        _device?.Dispose();
        _tap.Dispose();
        _pool.Dispose();
    }

    /// <summary>One receive that finds nothing.</summary>
    [Benchmark]
    public int EmptyReceive() => _rx.Receive(ref _batch);
}
