using BenchmarkDotNet.Attributes;
using Vswitch.Netdev;
using Vswitch.Netdev.Tap;
using Vswitch.Packets;
using NetdevDevice = Vswitch.Netdev.Netdev;

namespace Vswitch.Benchmarks;

/// <summary>
/// Bursts of 32 frames through the kernel between a <c>tap</c> port and an <c>afpacket</c> port bound to the
/// tap's own interface (afpacket tx → kernel → tap fd rx, and tap fd tx → kernel → afpacket rx). Shows the
/// per-burst cost of the two providers' fast paths and that they allocate nothing. Needs root:
/// <c>dotnet run -c Release --project bench/Vswitch.Benchmarks -- --filter '*KernelPort*'</c>.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class KernelPortBenchmarks
{
    private PacketPool _pool = null!;
    private NetdevDevice _tap = null!;
    private NetdevDevice _raw = null!;
    private byte[] _frame = null!;

    /// <summary>Frame size in bytes.</summary>
    [Params(64, 1500)]
    public int FrameSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _pool = new PacketPool(1024);
        var registry = new NetdevRegistry();
        registry.AddTapProvider();
        registry.AddAfPacketProvider();
        Check(registry.Open("tap", "bench-tap", NetdevOptions.Empty, _pool, out var tap, out var error), error);
        _tap = tap!;
        Check(_tap.UpdateFlags(NetdevFlags.None, NetdevFlags.Up, out _), "tap up");
        string kernelName = ((TapNetdev)_tap).GetKernelName();
        File.WriteAllText($"/proc/sys/net/ipv6/conf/{kernelName}/disable_ipv6", "1");
        Check(registry.Open("afpacket", "bench-raw", NetdevOptions.Empty.With("iface", kernelName), _pool, out var raw, out error), error);
        _raw = raw!;
        _frame = new byte[FrameSize];
        _frame.AsSpan(0, 6).Fill(0xFF);
        _frame[6] = 0x02;
        _frame[12] = 0x88;
        _frame[13] = 0xB5;
    }

    private static void Check(Vswitch.Interop.Linux.Errno e, string? what)
    {
        if (e.IsError) throw new InvalidOperationException($"{what}: {e}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _raw.Dispose();
        _tap.Dispose();
        _pool.Dispose();
    }

    /// <summary>32 frames: afpacket sendmmsg, then tap readv until all arrived.</summary>
    [Benchmark]
    public int AfPacketTxToTapRx() => Move(_raw, _tap);

    /// <summary>32 frames: tap write, then afpacket recvmmsg until all arrived.</summary>
    [Benchmark]
    public int TapTxToAfPacketRx() => Move(_tap, _raw);

    private int Move(NetdevDevice from, NetdevDevice to)
    {
        var batch = new PacketBatch();
        for (int i = 0; i < PacketBatch.Capacity && _pool.TryRent(out var p); i++)
        {
            p.TrySetFrame(_frame);
            batch.TryAdd(p);
        }
        int sent = from.GetTxQueue(0).Send(ref batch);
        int received = 0;
        for (int spin = 0; received < sent && spin < 100_000; spin++)
        {
            received += to.GetRxQueue(0).Receive(ref batch);
            batch.ReleaseAll();
        }
        return received;
    }
}
