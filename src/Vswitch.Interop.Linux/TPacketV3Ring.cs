namespace Vswitch.Interop.Linux;

/// <summary>One frame in a <see cref="TPacketV3Ring"/> block: valid until <see cref="TPacketV3Ring.Advance"/>.</summary>
public readonly unsafe ref struct TPacketV3Frame
{
    internal TPacketV3Frame(byte* header)
    {
        var hdr = (LibC.tpacket3_hdr*)header;
        var sll = (LibC.sockaddr_ll*)(header + LibC.TPACKET_ALIGN(sizeof(LibC.tpacket3_hdr)));
        Data = new ReadOnlySpan<byte>(header + hdr->tp_mac, (int)Math.Min(hdr->tp_snaplen, int.MaxValue));
        PacketType = (LinkPacketType)sll->sll_pkttype;
        AuxData = new PacketAuxData(hdr->tp_status, hdr->tp_len, hdr->tp_snaplen, (ushort)hdr->tp_vlan_tci, hdr->tp_vlan_tpid);
    }

    /// <summary>The captured bytes (from the MAC header; <see cref="PacketAuxData.CapturedLength"/> long), in ring memory.</summary>
    public ReadOnlySpan<byte> Data { get; }

    /// <summary>Who the frame was for.</summary>
    public LinkPacketType PacketType { get; }

    /// <summary>Status bits, lengths and the stripped VLAN tag.</summary>
    public PacketAuxData AuxData { get; }
}

/// <summary>
/// A walker over a PACKET_MMAP TPACKET_V3 receive ring (made by <see cref="PacketSocket.MapRxRing"/>): the kernel
/// fills blocks of frames in shared memory and hands a block over (TP_STATUS_USER) when it is full or its retire
/// timeout expires; the walker visits the frames in order and gives each block back (TP_STATUS_KERNEL) once its
/// last frame was consumed. No system call per frame or per burst.
/// </summary>
/// <remarks>
/// One thread at a time (the rx queue's). <see cref="TryPeek"/> / <see cref="Advance"/> never block, allocate
/// or throw. The mapping is released by <see cref="Dispose"/>, which must run before the socket is closed and
/// while no frame is being read.
/// </remarks>
public sealed unsafe class TPacketV3Ring : IDisposable
{
    private readonly int _blockSize;
    private readonly int _blockCount;
    private byte* _ring;
    private int _block;
    private uint _frameIndex;
    private uint _frameCount;
    private byte* _frame;
    private bool _loaded;

    internal TPacketV3Ring(byte* ring, int blockSize, int blockCount)
    {
        _ring = ring;
        _blockSize = blockSize;
        _blockCount = blockCount;
    }

    /// <summary>Bytes of ring memory.</summary>
    public long Size => (long)_blockSize * _blockCount;

    private LibC.tpacket_block_desc* Block => (LibC.tpacket_block_desc*)(_ring + (long)_block * _blockSize);

    /// <summary>
    /// The next frame of a block the kernel handed over, without consuming it; false when no block is ready
    /// (the socket's descriptor becomes readable when one is).
    /// </summary>
    public bool TryPeek(out TPacketV3Frame frame)
    {
        while (_ring != null)
        {
            var block = Block;
            if (!_loaded)
            {
                if ((Volatile.Read(ref block->hdr.block_status) & LibC.TP_STATUS_USER) == 0) break;
                _frameCount = block->hdr.num_pkts;
                _frame = (byte*)block + block->hdr.offset_to_first_pkt;
                _frameIndex = 0;
                _loaded = true;
            }
            if (_frameIndex < _frameCount)
            {
                frame = new TPacketV3Frame(_frame);
                return true;
            }
            ReleaseBlock(block);
        }
        frame = default;
        return false;
    }

    /// <summary>Consumes the frame <see cref="TryPeek"/> returned; gives its block back to the kernel after the block's last frame.</summary>
    public void Advance()
    {
        if (!_loaded || _frameIndex >= _frameCount) return;
        _frame += ((LibC.tpacket3_hdr*)_frame)->tp_next_offset;
        if (++_frameIndex >= _frameCount) ReleaseBlock(Block);
    }

    /// <summary>Discards every frame of the blocks handed over so far; returns how many frames that was.</summary>
    public int DiscardReadyBlocks()
    {
        int discarded = 0;
        while (_ring != null)
        {
            var block = Block;
            if (!_loaded && (Volatile.Read(ref block->hdr.block_status) & LibC.TP_STATUS_USER) == 0) break;
            uint count = _loaded ? _frameCount : block->hdr.num_pkts;
            uint consumed = _loaded ? _frameIndex : 0;
            discarded += (int)(count - Math.Min(consumed, count));
            ReleaseBlock(block);
        }
        return discarded;
    }

    /// <summary>
    /// True when the block the kernel is still filling already holds frames: they become visible when the kernel
    /// retires it (within its retire timeout).
    /// </summary>
    public bool OpenBlockHasFrames
    {
        get
        {
            if (_ring == null || _loaded) return false;
            var block = Block;
            return (Volatile.Read(ref block->hdr.block_status) & LibC.TP_STATUS_USER) == 0 && Volatile.Read(ref block->hdr.num_pkts) != 0;
        }
    }

    private void ReleaseBlock(LibC.tpacket_block_desc* block)
    {
        Volatile.Write(ref block->hdr.block_status, LibC.TP_STATUS_KERNEL);
        _block = (_block + 1) % _blockCount;
        _loaded = false;
        _frameIndex = 0;
        _frameCount = 0;
    }

    /// <summary>Unmaps the ring (idempotent).</summary>
    public void Dispose()
    {
        if (_ring != null) LibC.MUnmap(_ring, (nuint)Size);
        _ring = null;
    }
}
