using System.Runtime.InteropServices;
using Vswitch.Packets;
using Xunit.Abstractions;
using static Vswitch.Packets.Tests.Frames;

namespace Vswitch.Packets.Tests;

/// <summary>
/// Randomized robustness: valid frames mutated (truncated, bytes flipped, random lengths) and random frames
/// go through extraction. Each frame is also placed right before and right after an inaccessible page, so
/// an out-of-bounds read crashes the test run instead of passing silently.
/// </summary>
public sealed class FlowExtractorFuzzTests(ITestOutputHelper output)
{
    private const int Seed = 0x5EED_2026;
    private const int Iterations = 150_000;

    private static byte[][] ValidFrames()
    {
        const uint a = 0x0A000001, b = 0x0A000002;
        byte[] mac = [2, 0, 0, 0, 0, 1];
        var target = Convert.FromHexString("fe800000000000000000000000000001");
        var tcp = Tcp(80, 1234, 0x12, dataOffsetWords: 8);
        var udp = Udp(53, 5353, 20);
        return
        [
            Cat(Eth(0x0800), Ipv4(6, a, b, tcp.Length), tcp),
            Cat(Eth(0x0800), Ipv4(17, a, b, udp.Length, options: new byte[12]), udp),
            Cat(Eth(0x0800), Ipv4(132, a, b, 12), Sctp(1, 2)),
            Cat(Eth(0x0800), Ipv4(1, a, b, 8), Icmp(8, 0)),
            Cat(Eth(0x0800), Ipv4(17, a, b, udp.Length, fragField: 0x2000), udp),
            Cat(Eth(0x0800), Ipv4(17, a, b, udp.Length, fragField: 100), udp),
            Cat(Eth(0x8100), TagThen(10, 0x0800), Ipv4(6, a, b, tcp.Length), tcp),
            Cat(Eth(0x88a8), TagThen(10, 0x8100), TagThen(20, 0x86dd), Ipv6(6, tcp.Length), tcp),
            Cat(Eth(0x0800 - 0x700), new byte[] { 0xAA, 0xAA, 3, 0, 0, 0, 0x08, 0x00 }, Ipv4(17, a, b, udp.Length), udp),
            Cat(Eth(0x0030), new byte[] { 0x42, 0x42, 3, 0, 0, 0, 0, 0 }),
            Cat(Eth(0x86dd), Ipv6(6, tcp.Length), tcp),
            Cat(Eth(0x86dd), Ipv6(0, 8 + 16 + 24 + 8 + udp.Length), Ext(43), Ext(60, 1), Ah(44), Frag(17, 0, true), udp),
            Cat(Eth(0x86dd), Ipv6(44, 8 + udp.Length), Frag(17, 7, false), udp),
            Cat(Eth(0x86dd), Ipv6(58, 8 + 16 + 16), Nd(135, target, LinkAddrOption(1, mac), LinkAddrOption(2, mac))),
            Cat(Eth(0x86dd), Ipv6(58, 8), Icmp(128, 0)),
            Cat(Eth(0x0806), Arp(1, mac, a, mac, b)),
            Cat(Eth(0x88cc), new byte[30]),
        ];
    }

    private static readonly ushort[] InterestingTypes = [0x0800, 0x86dd, 0x0806, 0x8035, 0x8100, 0x88a8, 0x0010, 0x05ff, 0x0600];

    [Fact]
    public unsafe void RandomAndMutatedFrames_NeverThrowOrReadOutOfBounds()
    {
        output.WriteLine($"seed {Seed}, {Iterations} frames");
        var rng = new Random(Seed);
        var valid = ValidFrames();
        var statusCounts = new int[6];
        using var guard = new GuardedPage();
        var meta = Metadata;

        for (int i = 0; i < Iterations; i++)
        {
            byte[] frame = Mutate(rng, valid[rng.Next(valid.Length)]);

            var managed = FlowExtractor.Extract(frame, in meta, out var key, out var layout);
            statusCounts[(int)managed]++;
            CheckInvariants(frame, managed, key, layout, i);

            // Same frame flush against the guard page after it, then flush against the one before it.
            for (int placement = 0; placement < 2; placement++)
            {
                var span = placement == 0 ? guard.AtEnd(frame) : guard.AtStart(frame);
                var status = FlowExtractor.Extract(span, in meta, out var k2, out var l2);
                if (status != managed || k2 != key || l2.L3Offset != layout.L3Offset || l2.L4Offset != layout.L4Offset)
                    Assert.Fail($"seed {Seed} frame {i}: extraction differs with placement {placement}");
            }
        }

        output.WriteLine(string.Join(", ", Enum.GetValues<ExtractStatus>().Select(s => $"{s}={statusCounts[(int)s]}")));
        // The mutations must reach every layer, or this test proves little.
        foreach (var s in Enum.GetValues<ExtractStatus>())
            Assert.True(statusCounts[(int)s] > 100, $"status {s} seen only {statusCounts[(int)s]} times (seed {Seed})");
    }

    private static byte[] Mutate(Random rng, byte[] baseFrame)
    {
        byte[] f;
        switch (rng.Next(7))
        {
            case 6: // cut the transport header short, keeping the IP length fields consistent
                var meta = Metadata;
                FlowExtractor.Extract(baseFrame, in meta, out var key, out var layout);
                if (layout.L4Offset < 0)
                    return baseFrame;
                int cut = layout.L4Offset + rng.Next(Math.Min(24, baseFrame.Length - layout.L4Offset));
                f = baseFrame[..cut];
                int ipLength = cut - layout.L3Offset - (key.EthType == 0x86dd ? 40 : 0);
                f[layout.L3Offset + (key.EthType == 0x86dd ? 4 : 2)] = (byte)(ipLength >> 8);
                f[layout.L3Offset + (key.EthType == 0x86dd ? 5 : 3)] = (byte)ipLength;
                return f;
            case 0: // truncate
                return baseFrame[..rng.Next(baseFrame.Length + 1)];
            case 1: // flip bytes in the headers
                f = (byte[])baseFrame.Clone();
                for (int n = rng.Next(1, 5); n > 0; n--)
                    f[rng.Next(Math.Min(f.Length, 100))] = (byte)rng.Next(256);
                return f;
            case 2: // flip and truncate
                f = (byte[])baseFrame.Clone();
                for (int n = rng.Next(1, 4); n > 0; n--)
                    f[rng.Next(f.Length)] ^= (byte)(1 << rng.Next(8));
                return f[..rng.Next(f.Length + 1)];
            case 3: // extend with random bytes (padding / trailing garbage)
                var tail = new byte[rng.Next(1, 64)];
                rng.NextBytes(tail);
                return Cat(baseFrame, tail);
            case 4: // random bytes with an interesting ethertype
                f = new byte[rng.Next(0, 200)];
                rng.NextBytes(f);
                if (f.Length >= 14)
                {
                    ushort t = InterestingTypes[rng.Next(InterestingTypes.Length)];
                    f[12] = (byte)(t >> 8); f[13] = (byte)t;
                }
                return f;
            default: // fully random, random length
                f = new byte[rng.Next(0, 1500)];
                rng.NextBytes(f);
                return f;
        }
    }

    private static void CheckInvariants(byte[] frame, ExtractStatus status, in FlowKey key, PacketLayout layout, int i)
    {
        bool ok = status <= ExtractStatus.MalformedL4
            && key.InPort == Metadata.InPort && key.RecircId == Metadata.RecircId && key.DpHash == Metadata.DpHash
            && key.SkbMark == Metadata.SkbMark && key.SkbPriority == Metadata.SkbPriority
            && layout.L3Offset >= -1 && layout.L3Offset <= frame.Length
            && (status != ExtractStatus.TruncatedL2 || layout.L3Offset == -1);
        if (layout.L4Offset >= 0)
        {
            int min = key.NwProto switch { 6 => 20, 17 => 8, 132 => 12, 1 => 8, 58 => 8, _ => int.MaxValue };
            ok &= layout.L3Offset >= 14 && layout.L4Offset >= layout.L3Offset + 20
                  && (key.NwFrag & FlowKey.FragLater) == 0 && layout.L4Offset + (long)min <= frame.Length;
        }
        else
        {
            ok &= layout.L4Offset == -1;
        }
        // Reserved bytes stay zero.
        var copy = key;
        ok &= FlowKey.AsBytes(ref copy)[124..].IndexOfAnyExcept((byte)0) < 0;
        if (!ok)
            Assert.Fail($"seed {Seed} frame {i}: invariant broken, status {status}, L3 {layout.L3Offset}, L4 {layout.L4Offset}, " +
                        $"frame {Convert.ToHexString(frame)}");
    }

    /// <summary>One read-write page between two inaccessible pages.</summary>
    private sealed unsafe class GuardedPage : IDisposable
    {
        private const int ProtNone = 0, ProtRead = 1, ProtWrite = 2, MapPrivate = 2, MapAnonymous = 0x20;
        private readonly byte* _base;
        private readonly int _page = Environment.SystemPageSize;

        public GuardedPage()
        {
            _base = (byte*)Mmap(null, (nuint)(3 * _page), ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
            Assert.True(_base != (byte*)-1, "mmap failed");
            Assert.Equal(0, Mprotect(_base, (nuint)_page, ProtNone));
            Assert.Equal(0, Mprotect(_base + 2 * _page, (nuint)_page, ProtNone));
        }

        public ReadOnlySpan<byte> AtEnd(byte[] frame)
        {
            var dst = new Span<byte>(_base + 2 * _page - frame.Length, frame.Length);
            frame.CopyTo(dst);
            return dst;
        }

        public ReadOnlySpan<byte> AtStart(byte[] frame)
        {
            var dst = new Span<byte>(_base + _page, frame.Length);
            frame.CopyTo(dst);
            return dst;
        }

        public void Dispose() => Munmap(_base, (nuint)(3 * _page));

        [DllImport("libc", EntryPoint = "mmap")]
        private static extern void* Mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);

        [DllImport("libc", EntryPoint = "mprotect")]
        private static extern int Mprotect(void* addr, nuint length, int prot);

        [DllImport("libc", EntryPoint = "munmap")]
        private static extern int Munmap(void* addr, nuint length);
    }
}
