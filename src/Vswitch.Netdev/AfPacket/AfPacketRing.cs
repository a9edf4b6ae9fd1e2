using System.Buffers.Binary;
using Vswitch.Interop.Linux;
using Vswitch.Packets;

namespace Vswitch.Netdev.AfPacket;

/// <summary>
/// A PACKET_MMAP TPACKET_V3 receive ring (option <c>rx_ring=true</c>): the kernel fills blocks of frames in
/// shared memory and hands a block over when it is full or after <see cref="RetireTimeoutMs"/>; the queue
/// copies each frame into a pool buffer and gives the block back. No system call per burst.
/// </summary>
internal sealed unsafe class AfPacketRingRxQueue : NetdevRxQueue
{
    public const int BlockSize = 1 << 18;   // 256 KiB: whole jumbo frames fit
    public const int BlockCount = 16;       // 4 MiB per queue
    public const int FrameSize = 2048;
    public const int RetireTimeoutMs = 1;

    private readonly AfPacketNetdev _dev;
    private readonly int _fd;
    private readonly PacketPool _pool;
    private byte* _ring;
    private int _block;
    private uint _packetIndex;
    private uint _packetCount;
    private byte* _packet;
    private byte* _scratch;

    private AfPacketRingRxQueue(AfPacketNetdev device, int index, int fd, PacketPool pool, bool fillChecksums, byte* ring) : base(device, index)
    {
        _dev = device;
        _fd = fd;
        _pool = pool;
        _ring = ring;
        FillChecksums = fillChecksums;
        _scratch = (byte*)System.Runtime.InteropServices.NativeMemory.Alloc(64);
    }

    public bool FillChecksums { get; }

    /// <summary>
    /// Sets TPACKET_V3 and PACKET_RX_RING on <paramref name="fd"/> and maps the ring. Call before bind(), so no
    /// frame is queued outside the ring. Returns the ring address for <see cref="Create"/>.
    /// </summary>
    public static Errno SetUp(int fd, out byte* ring)
    {
        ring = null;
        var e = LibC.SetSockOptInt(fd, LibC.SOL_PACKET, LibC.PACKET_VERSION, LibC.TPACKET_V3);
        if (e.IsError) return e;
        LibC.tpacket_req3 req = new()
        {
            tp_block_size = BlockSize, tp_block_nr = BlockCount, tp_frame_size = FrameSize,
            tp_frame_nr = BlockSize / FrameSize * BlockCount, tp_retire_blk_tov = RetireTimeoutMs,
        };
        e = LibC.SetSockOpt(fd, LibC.SOL_PACKET, LibC.PACKET_RX_RING, &req, sizeof(LibC.tpacket_req3));
        if (e.IsError) return e;
        e = LibC.MMap((nuint)BlockSize * BlockCount, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, out void* address);
        if (e.IsError) return e;
        ring = (byte*)address;
        return Errno.Success;
    }

    public static AfPacketRingRxQueue Create(AfPacketNetdev device, int index, int fd, PacketPool pool, bool fillChecksums, byte* ring) =>
        new(device, index, fd, pool, fillChecksums, ring);

    public override int WaitFd => _fd;

    private LibC.tpacket_block_desc* Block => (LibC.tpacket_block_desc*)(_ring + (long)_block * BlockSize);

    public override int Receive(ref PacketBatch batch)
    {
        if (_dev.Gone)
        {
            ConsumePendingError();
            return 0;
        }
        int added = 0;
        while (batch.FreeCount > 0)
        {
            var block = Block;
            if ((Volatile.Read(ref block->hdr.block_status) & LibC.TP_STATUS_USER) == 0) break;
            if (_packetIndex == 0)
            {
                _packetCount = block->hdr.num_pkts;
                _packet = (byte*)block + block->hdr.offset_to_first_pkt;
            }
            while (_packetIndex < _packetCount && batch.FreeCount > 0)
            {
                var hdr = (LibC.tpacket3_hdr*)_packet;
                if (Deliver(hdr, ref batch)) added++;
                _packet += hdr->tp_next_offset;
                _packetIndex++;
            }
            if (_packetIndex >= _packetCount) ReleaseBlock(block);
        }
        return added;
    }

    private void ReleaseBlock(LibC.tpacket_block_desc* block)
    {
        Volatile.Write(ref block->hdr.block_status, LibC.TP_STATUS_KERNEL);
        _block = (_block + 1) % BlockCount;
        _packetIndex = 0;
        _packetCount = 0;
    }

    private bool Deliver(LibC.tpacket3_hdr* hdr, ref PacketBatch batch)
    {
        var sll = (LibC.sockaddr_ll*)((byte*)hdr + LibC.TPACKET_ALIGN(sizeof(LibC.tpacket3_hdr)));
        if (sll->sll_pkttype == LibC.PACKET_OUTGOING) return false;
        int length = (int)hdr->tp_snaplen;
        if (hdr->tp_snaplen < hdr->tp_len || length > PacketBuffer.MaxFrameSize)
        {
            Stats.RxErrors++;
            Stats.RxTruncated++;
            return false;
        }
        if (length < LibC.ETH_HLEN)
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
        new ReadOnlySpan<byte>((byte*)hdr + hdr->tp_mac, length).CopyTo(p.ResetForReceive());
        p.SetLength(length);
        uint status = hdr->tp_status;
        if ((status & LibC.TP_STATUS_VLAN_VALID) != 0)
        {
            ushort tpid = (status & LibC.TP_STATUS_VLAN_TPID_VALID) != 0 && hdr->tp_vlan_tpid != 0 ? hdr->tp_vlan_tpid : LibC.ETH_P_8021Q;
            if (p.TryPush(4))
            {
                var data = p.Data;
                data.Slice(4, 12).CopyTo(data);
                BinaryPrimitives.WriteUInt16BigEndian(data[12..], tpid);
                BinaryPrimitives.WriteUInt16BigEndian(data[14..], (ushort)hdr->tp_vlan_tci);
            }
            else
            {
                Stats.RxErrors++;
            }
        }
        if (FillChecksums && (status & LibC.TP_STATUS_CSUMNOTREADY) != 0) PartialChecksum.TryComplete(p.Data);
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
            var block = Block;
            if ((Volatile.Read(ref block->hdr.block_status) & LibC.TP_STATUS_USER) == 0)
            {
                if (Volatile.Read(ref block->hdr.num_pkts) == 0 || System.Diagnostics.Stopwatch.GetTimestamp() > deadline) return drained;
                Thread.SpinWait(64);
                continue;
            }
            uint count = _packetIndex == 0 ? block->hdr.num_pkts : _packetCount;
            drained += (int)(count - _packetIndex);
            ReleaseBlock(block);
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private void ConsumePendingError()
    {
        LibC.iovec iov = new() { iov_base = _scratch, iov_len = 64 };
        LibC.msghdr msg = new() { msg_iov = &iov, msg_iovlen = 1 };
        var e = LibC.RecvMsg(_fd, &msg, LibC.MSG_DONTWAIT, out _);
        if (e.IsError && e != Errno.EAGAIN) Stats.RxErrors++;
        Drain();
    }

    internal void Free()
    {
        if (_ring != null) LibC.MUnmap(_ring, (nuint)BlockSize * BlockCount);
        _ring = null;
        System.Runtime.InteropServices.NativeMemory.Free(_scratch);
        _scratch = null;
    }
}
