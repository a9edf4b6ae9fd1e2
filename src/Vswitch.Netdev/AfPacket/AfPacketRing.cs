using System.Buffers.Binary;
using Vswitch.Interop.Linux;
using Vswitch.Packets;

namespace Vswitch.Netdev.AfPacket;

/// <summary>
/// A PACKET_MMAP TPACKET_V3 receive ring (option <c>rx_ring=true</c>): the kernel fills blocks of frames in
/// shared memory and hands a block over when it is full or after <see cref="RetireTimeoutMs"/>; the queue
/// copies each frame into a pool buffer and the <see cref="TPacketV3Ring"/> walker gives the block back. No
/// system call per burst; an empty poll reads one block status word and rents nothing.
/// </summary>
internal sealed class AfPacketRingRxQueue : NetdevRxQueue
{
    public const int BlockSize = 1 << 18;   // 256 KiB: whole jumbo frames fit
    public const int BlockCount = 16;       // 4 MiB per queue
    public const int FrameSize = 2048;
    public const int RetireTimeoutMs = 1;

    private readonly AfPacketNetdev _dev;
    private readonly PacketSocket _socket;
    private readonly TPacketV3Ring _ring;
    private readonly int _fd;
    private readonly PacketPool _pool;

    public AfPacketRingRxQueue(AfPacketNetdev device, int index, PacketSocket socket, TPacketV3Ring ring, PacketPool pool, bool fillChecksums)
        : base(device, index)
    {
        _dev = device;
        _socket = socket;
        _ring = ring;
        _fd = socket.Fd;
        _pool = pool;
        FillChecksums = fillChecksums;
    }

    public bool FillChecksums { get; }

    public override int WaitFd => _fd;

    public override int Receive(ref PacketBatch batch)
    {
        if (_dev.Gone)
        {
            ConsumePendingError();
            return 0;
        }
        int added = 0;
        while (batch.FreeCount > 0 && _ring.TryPeek(out var frame))
        {
            if (Deliver(in frame, ref batch)) added++;
            _ring.Advance();
        }
        return added;
    }

    private bool Deliver(in TPacketV3Frame frame, ref PacketBatch batch)
    {
        if (frame.PacketType == LinkPacketType.Outgoing) return false;
        var aux = frame.AuxData;
        int length = frame.Data.Length;
        if (aux.CapturedLength < aux.OriginalLength || length > PacketBuffer.MaxFrameSize)
        {
            Stats.RxErrors++;
            Stats.RxTruncated++;
            return false;
        }
        if (length < EthernetHeader.Length)
        {
            Stats.RxErrors++;
            return false;
        }
        if (!_pool.TryRent(out var p))
        {
            Stats.RxDropped++;
            Stats.RxNoBuffer++;
            return false;
        }
        frame.Data.CopyTo(p.ResetForReceive());
        p.SetLength(length);
        if (aux.HasVlanTag)
        {
            if (p.TryPush(VlanHeader.Length))
            {
                var data = p.Data;
                data.Slice(VlanHeader.Length, 12).CopyTo(data);
                BinaryPrimitives.WriteUInt16BigEndian(data[12..], aux.VlanTpid);
                BinaryPrimitives.WriteUInt16BigEndian(data[14..], aux.VlanTci);
            }
            else
            {
                Stats.RxErrors++;
            }
        }
        if (FillChecksums && aux.ChecksumNotReady) PartialChecksum.TryComplete(p.Data);
        batch.TryAdd(p);
        Stats.RxPackets++;
        Stats.RxBytes += (ulong)p.Length;
        return true;
    }

    /// <summary>
    /// Discards every frame in blocks handed to us. Frames in the block the kernel is still filling become
    /// visible only when it retires that block (within <see cref="RetireTimeoutMs"/>), so Drain waits for that,
    /// at most a few milliseconds, when the open block already holds frames.
    /// </summary>
    public override int Drain()
    {
        int drained = 0;
        long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + System.Diagnostics.Stopwatch.Frequency * 5 / 1000;
        while (true)
        {
            drained += _ring.DiscardReadyBlocks();
            if (!_ring.OpenBlockHasFrames || System.Diagnostics.Stopwatch.GetTimestamp() > deadline) return drained;
            Thread.SpinWait(64);
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private void ConsumePendingError()
    {
        var e = _socket.DiscardOne();
        if (e.IsError && e != Errno.EAGAIN) Stats.RxErrors++;
        Drain();
    }

    internal void Free() => _ring.Dispose();
}
