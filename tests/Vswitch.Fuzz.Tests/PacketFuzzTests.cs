using System.Buffers.Binary;
using System.Runtime.InteropServices;
using CsCheck;
using Vswitch.Datapath;
using Vswitch.Datapath.Odp;
using Vswitch.Datapath.Userspace;
using Vswitch.Netdev.Memory;
using Vswitch.Packets;
using Xunit.Abstractions;

namespace Vswitch.Fuzz.Tests;

/// <summary>
/// The packet extractor and the actions on random frames: valid frames mutated, random bytes, and 64 KB frames (the
/// size of a GSO super-frame). Extraction reads frames placed against inaccessible pages (an out-of-bounds read crashes the
/// run) and never throws; actions run through the userspace datapath never throw and never leak a buffer.
/// </summary>
/// <remarks>
/// Extension point for offloads: <see cref="VnetHeaderCases"/> is where frames with a virtio-net header (partial checksum,
/// GSO type and size) join the generator once <c>PacketBuffer</c> carries offload metadata and the tap/afpacket ports read
/// vnet headers (not on main when this suite was written: docs/fuzzing.md).
/// </remarks>
public class PacketFuzzTests(ITestOutputHelper output)
{
    public const int MaxGsoFrame = 65_535;

    private static byte[] Eth(ushort type, params ushort[] tags)
    {
        var f = new byte[14 + 4 * tags.Length];
        f[0] = 0x02; f[5] = 0x02; f[6] = 0x02; f[11] = 0x01;
        int o = 12;
        for (int i = 0; i < tags.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(o), i == 0 && tags.Length == 2 ? (ushort)0x88A8 : (ushort)0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(o + 2), tags[i]);
            o += 4;
        }
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(o), type);
        return f;
    }

    private static byte[] Ipv4(byte proto, int payload, ushort frag = 0)
    {
        var h = new byte[20];
        h[0] = 0x45; h[8] = 64; h[9] = proto;
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(2), (ushort)Math.Min(20 + payload, 65535));
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(6), frag);
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(12), 0x0A000001);
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(16), 0x0A000002);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(10), Checksum.Ipv4Header(h));
        return h;
    }

    private static byte[] Ipv6(byte next, int payload)
    {
        var h = new byte[40];
        h[0] = 0x60; h[6] = next; h[7] = 64; h[23] = 1; h[39] = 2;
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(4), (ushort)Math.Min(payload, 65535));
        return h;
    }

    private static byte[] L4(byte proto) => proto switch
    {
        6 => [0x04, 0xD2, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x12, 0x20, 0x00, 0, 0, 0, 0],
        17 => [0x13, 0x88, 0x00, 0x35, 0x00, 0x08, 0, 0],
        132 => [0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0],
        _ => [8, 0, 0, 0, 0, 1, 0, 1],
    };

    /// <summary>Well-formed frames of every kind the extractor knows, with a payload of <paramref name="payload"/> bytes.</summary>
    internal static byte[] Valid(int kind, int payload)
    {
        byte[] pad = new byte[payload];
        byte[] proto = [6, 17, 132, 1];
        byte p = proto[kind & 3];
        return (kind >> 2) switch
        {
            0 => [.. Eth(0x0800), .. Ipv4(p, L4(p).Length + payload), .. L4(p), .. pad],
            1 => [.. Eth(0x86DD), .. Ipv6(p == 1 ? (byte)58 : p, L4(p).Length + payload), .. L4(p), .. pad],
            2 => [.. Eth(0x0800, 10), .. Ipv4(p, L4(p).Length + payload, frag: 0x2000), .. L4(p), .. pad],
            3 => [.. Eth(0x86DD, 0, 20), .. Ipv6(44, 8 + L4(p).Length + payload), p, 0, 0, 1, 0, 0, 0, 1, .. L4(p), .. pad],
            4 => [.. Eth(0x0806), 0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2, .. pad],
            5 => [.. Eth(0x0800), .. Ipv4(p, L4(p).Length + payload, frag: 100), .. L4(p), .. pad],
            6 => [.. Eth((ushort)(3 + payload)), 0x42, 0x42, 3, .. pad],
            _ => [.. Eth(0x86DD), .. Ipv6(58, 24 + payload), 135, 0, 0, 0, 0, 0, 0, 0, 0xFE, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, .. pad],
        };
    }

    /// <summary>Frames with a virtio-net header: the extension point for offload cases (none until offloads land on main).</summary>
    internal static readonly Gen<byte[]>[] VnetHeaderCases = [];

    /// <summary>Frames: mostly mutated valid ones and random bytes, one in twenty of 64 KB.</summary>
    internal static readonly Gen<byte[]> Frames = Gen.Frequency(
        [
            (30, (IGen<byte[]>)Gen.Byte.Array[0, 1600]),
            (50, Gen.Select(Gen.Int[0, 31], Gen.Int[0, 1400], Gen.Int, (kind, payload, seed) => Mutate.Bytes(Valid(kind, payload), seed, MaxGsoFrame))),
            (15, Gen.Select(Gen.Int[0, 31], Gen.Int[0, 100], (kind, payload) => Valid(kind, payload))),
            // 64 KB frames: a GSO super-frame's size, with headers whose lengths are consistent, short or too long.
            (4, Gen.Select(Gen.Int[0, 31], Gen.Int[9000, MaxGsoFrame - 100], Gen.Int, (kind, payload, seed) =>
                seed % 3 == 0 ? Valid(kind, payload) : Mutate.Bytes(Valid(kind, payload), seed, MaxGsoFrame))),
            (1, Gen.Byte.Array[MaxGsoFrame - 10, MaxGsoFrame]),
            .. VnetHeaderCases.Select(g => (1, (IGen<byte[]>)g)),
        ]);

    /// <summary>A read-write region between two inaccessible pages, one per thread.</summary>
    private sealed unsafe class GuardedRegion
    {
        private const int ProtNone = 0, ProtRead = 1, ProtWrite = 2, MapPrivate = 2, MapAnonymous = 0x20;
        private readonly byte* _base;
        private readonly int _size;
        private static readonly int Page = Environment.SystemPageSize;

        [ThreadStatic] private static GuardedRegion? t_region;

        public static GuardedRegion ForThread => t_region ??= new GuardedRegion();

        private GuardedRegion()
        {
            _size = (MaxGsoFrame + Page - 1) / Page * Page;
            _base = (byte*)Mmap(null, (nuint)(_size + 2 * Page), ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
            if (_base == (byte*)-1) throw new InvalidOperationException("mmap failed");
            Mprotect(_base, (nuint)Page, ProtNone);
            Mprotect(_base + Page + _size, (nuint)Page, ProtNone);
        }

        public ReadOnlySpan<byte> AtEnd(byte[] frame)
        {
            var dst = new Span<byte>(_base + Page + _size - frame.Length, frame.Length);
            frame.CopyTo(dst);
            return dst;
        }

        public ReadOnlySpan<byte> AtStart(byte[] frame)
        {
            var dst = new Span<byte>(_base + Page, frame.Length);
            frame.CopyTo(dst);
            return dst;
        }

        [DllImport("libc", EntryPoint = "mmap")]
        private static extern void* Mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);

        [DllImport("libc", EntryPoint = "mprotect")]
        private static extern int Mprotect(void* addr, nuint length, int prot);
    }

    [Fact]
    public void ExtractorNeverReadsOutsideTheFrameNorThrows()
    {
        var meta = new PacketMetadata { InPort = 3 };
        FuzzBudget.Run(Frames, frame =>
        {
            var region = GuardedRegion.ForThread;
            var s1 = FlowExtractor.Extract(region.AtEnd(frame), meta, out var k1, out var l1);
            var s2 = FlowExtractor.Extract(region.AtStart(frame), meta, out var k2, out var l2);
            Assert.Equal(s1, s2);
            Assert.Equal(k1, k2);
            Assert.Equal(l1.L3Offset, l2.L3Offset);
            Assert.InRange(l1.L3Offset, -1, frame.Length);
            Assert.InRange(l1.L4Offset, -1, frame.Length);
            Assert.Equal(3u, k1.InPort);
            Assert.True(FlowKey.AsBytes(ref k1)[124..].IndexOfAnyExcept((byte)0) < 0, "reserved key bytes set");
        }, FuzzBudget.Frames, output, print: f => $"{f.Length} bytes: {Convert.ToHexString(f.AsSpan(0, Math.Min(f.Length, 128)))}");
    }

    [Fact]
    public void ActionsOnRandomFramesNeverThrowNorLeak()
    {
        using var pool = new PacketPool(512);
        var memory = new MemoryNetdevProvider();
        var provider = new UserspaceDatapathProvider(new UserspaceDatapathOptions { PollThreads = 0 });
        string name = "vsw" + Guid.NewGuid().ToString("N")[..8];
        Assert.True(provider.Open(name, true, out var dp).IsSuccess);
        var ports = new List<MemoryNetdev>();
        try
        {
            dp!.SetListenMask(DatapathListenMask.Action);
            for (int i = 0; i < 3; i++)
            {
                var dev = memory.OpenDevice($"{name}{i}", pool);
                Assert.True(dp.PortAdd(dev, IDatapath.NoPort, out _).IsSuccess);
                ports.Add(dev);
            }
            var local = ((UserspaceDatapathHandle)dp).LocalPort;
            var gen = Gen.Select(Frames.Where(f => f.Length <= PacketBuffer.MaxFrameSize), OdpFuzzTests.ActionLists, Gen.UInt[0, 3]);
            long executed = 0;
            FuzzBudget.Run(gen, t =>
            {
                var (frame, actions, inPort) = t;
                Assert.True(pool.TryRent(out var packet), "the pool ran dry: a buffer leaked");
                Assert.True(packet!.TrySetFrame(frame));
                packet.Metadata.InPort = inPort;
                var rc = dp.Execute(packet, actions);
                Assert.True(rc.IsSuccess || rc == Vswitch.Interop.Linux.Errno.EINVAL, rc.ToString());
                if (rc.IsSuccess) executed++;
                foreach (var d in ports) while (d.TryTake(out var sent)) sent.Release();
                while (dp.RecvUpcall(out var u).IsSuccess) u!.Packet.Release();
                while (local.TryTakeTransmitted(out var toHost)) toHost!.Release();   // output to the local port
                Assert.Equal(pool.Capacity, pool.Available);   // every copy and the packet itself went somewhere
            }, Math.Max(1000, FuzzBudget.Frames / 20), output, print: t => $"{t.Item2} on {t.Item1.Length} bytes {Convert.ToHexString(t.Item1.AsSpan(0, Math.Min(64, t.Item1.Length)))}", threads: 1);
            Assert.True(executed > 0);
            Assert.Equal(pool.Capacity, pool.Available);
        }
        finally
        {
            dp?.Destroy();
            dp?.Dispose();
        }
    }
}
