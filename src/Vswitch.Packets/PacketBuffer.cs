using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Vswitch.Packets;

/// <summary>
/// One packet in pinned native memory owned by a <see cref="PacketPool"/>. The frame occupies
/// <see cref="Length"/> bytes starting <see cref="Headroom"/> bytes into the buffer; at least
/// <see cref="DefaultHeadroom"/> bytes are free in front of a freshly received frame, so a VLAN tag
/// or a tunnel header is pushed without copying the payload.
/// </summary>
/// <remarks>
/// A buffer has exactly one owner at a time: a pool, a batch, a queue or an in-flight call. Passing
/// it to a transmit call or <see cref="Release"/> gives up ownership. Not thread-safe; the
/// memory address never changes, so it may be handed to the kernel (readv, sendmmsg, rings).
/// </remarks>
public sealed unsafe class PacketBuffer
{
    /// <summary>Headroom reserved in front of every received frame (bytes).</summary>
    public const int DefaultHeadroom = 128;

    /// <summary>Largest frame a buffer holds: a 9000-byte MTU plus Ethernet, two VLAN tags and slack.</summary>
    public const int MaxFrameSize = 9216;

    /// <summary>Total size of one buffer: headroom plus the largest frame.</summary>
    public const int BufferSize = DefaultHeadroom + MaxFrameSize;

    private readonly byte* _base;
    private int _offset;
    private int _length;

    /// <summary>Per-packet datapath metadata (input port, mark, priority, recirculation id, hash).</summary>
    public PacketMetadata Metadata;

    /// <summary>Header offsets found by the flow extractor; valid after extraction until the frame is modified.</summary>
    public PacketLayout Layout;

    internal PacketBuffer(PacketPool? pool, byte* memory, int index)
    {
        Pool = pool;
        _base = memory;
        Index = index;
        _offset = DefaultHeadroom;
    }

    /// <summary>The pool this buffer returns to.</summary>
    public PacketPool? Pool { get; }

    /// <summary>Index of this buffer within its pool.</summary>
    public int Index { get; }

    /// <summary>Frame length in bytes.</summary>
    public int Length => _length;

    /// <summary>Free bytes in front of the frame.</summary>
    public int Headroom => _offset;

    /// <summary>Free bytes after the frame.</summary>
    public int Tailroom => BufferSize - _offset - _length;

    /// <summary>The frame.</summary>
    public Span<byte> Data
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new(_base + _offset, _length);
    }

    /// <summary>Address of the first frame byte (stable while the buffer lives).</summary>
    public byte* DataPointer => _base + _offset;

    /// <summary>Address of the whole buffer (headroom included).</summary>
    public byte* BufferPointer => _base;

    /// <summary>
    /// Resets to an empty frame with <see cref="DefaultHeadroom"/> and clears metadata and layout.
    /// Returns the span a receiver may fill (everything after the headroom); then call <see cref="SetLength"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<byte> ResetForReceive()
    {
        _offset = DefaultHeadroom;
        _length = 0;
        Metadata = default;
        Layout = PacketLayout.None;
        return new Span<byte>(_base + DefaultHeadroom, MaxFrameSize);
    }

    /// <summary>Sets the frame length (after a receive into <see cref="ResetForReceive"/>'s span). False if it does not fit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool SetLength(int length)
    {
        if ((uint)length > (uint)(BufferSize - _offset)) return false;
        _length = length;
        return true;
    }

    /// <summary>Replaces the frame with a copy of <paramref name="frame"/>. False (buffer unchanged) if too large.</summary>
    public bool TrySetFrame(ReadOnlySpan<byte> frame)
    {
        if (frame.Length > MaxFrameSize) return false;
        ResetForReceive();
        frame.CopyTo(new Span<byte>(_base + _offset, frame.Length));
        _length = frame.Length;
        return true;
    }

    /// <summary>Grows the frame at the front by <paramref name="bytes"/> (e.g. to insert a VLAN tag) and returns the new frame.
    /// False (unchanged) when the headroom is too small. Layout offsets are not adjusted.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryPush(int bytes)
    {
        if ((uint)bytes > (uint)_offset) return false;
        _offset -= bytes;
        _length += bytes;
        return true;
    }

    /// <summary>Removes <paramref name="bytes"/> from the front of the frame. False (unchanged) if the frame is shorter.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryPull(int bytes)
    {
        if ((uint)bytes > (uint)_length) return false;
        _offset += bytes;
        _length -= bytes;
        return true;
    }

    /// <summary>Grows the frame at the end by <paramref name="bytes"/>. False (unchanged) without tailroom.</summary>
    public bool TryAppend(int bytes)
    {
        if ((uint)bytes > (uint)Tailroom) return false;
        _length += bytes;
        return true;
    }

    /// <summary>Shortens the frame to <paramref name="length"/> bytes (no effect if already shorter).</summary>
    public void Truncate(int length)
    {
        if (length >= 0 && length < _length) _length = length;
    }

    /// <summary>Returns the buffer to its pool. The caller must not touch it afterwards.</summary>
    public void Release() => Pool?.Return(this);

    /// <summary>Copies frame, metadata and layout into a buffer rented from <paramref name="pool"/> (for clone/sample/flood).
    /// False when the pool is exhausted (counted by the pool).</summary>
    public bool TryClone(PacketPool pool, [NotNullWhen(true)] out PacketBuffer? copy)
    {
        if (!pool.TryRent(out copy)) return false;
        copy._offset = _offset;
        copy._length = _length;
        Buffer.MemoryCopy(_base + _offset, copy._base + _offset, _length, _length);
        copy.Metadata = Metadata;
        copy.Layout = Layout;
        return true;
    }
}

/// <summary>Datapath metadata that travels with a packet (OVS's skb metadata / md).</summary>
public struct PacketMetadata
{
    /// <summary>Datapath port the packet arrived on.</summary>
    public uint InPort;
    /// <summary>Recirculation id.</summary>
    public uint RecircId;
    /// <summary>Datapath hash.</summary>
    public uint DpHash;
    /// <summary>Priority.</summary>
    public uint SkbPriority;
    /// <summary>Mark.</summary>
    public uint SkbMark;
}

/// <summary>Offsets of the headers within the frame, from the start of <see cref="PacketBuffer.Data"/>; -1 when absent.</summary>
public struct PacketLayout
{
    /// <summary>Offset of the L3 header (after Ethernet, VLAN tags and any LLC/SNAP header), or -1. As set by
    /// <see cref="FlowExtractor"/>: for IPv4, IPv6 and ARP it is set only when that header's fixed part is complete and
    /// consistent (so a set action may rewrite it in place); for other ethertypes it is the first byte after the L2 headers.</summary>
    public short L3Offset;
    /// <summary>Offset of the L4 header (TCP/UDP/SCTP/ICMP/ICMPv6), or -1. As set by <see cref="FlowExtractor"/>:
    /// only when that header's fixed part (TCP 20, UDP 8, SCTP 12, ICMP/ICMPv6 8 bytes) lies inside the frame and
    /// the IP payload, and never for a non-first fragment.</summary>
    public short L4Offset;

    /// <summary>No headers known.</summary>
    public static PacketLayout None => new() { L3Offset = -1, L4Offset = -1 };
}
