namespace Vswitch.Interop.Linux;

/// <summary>Who a frame seen on a packet socket was for (<c>sll_pkttype</c>, the PACKET_* values of linux/if_packet.h).</summary>
public enum LinkPacketType : byte
{
    /// <summary>To this host (<c>PACKET_HOST</c>).</summary>
    Host = LibC.PACKET_HOST,
    /// <summary>Link-layer broadcast (<c>PACKET_BROADCAST</c>).</summary>
    Broadcast = LibC.PACKET_BROADCAST,
    /// <summary>Link-layer multicast (<c>PACKET_MULTICAST</c>).</summary>
    Multicast = LibC.PACKET_MULTICAST,
    /// <summary>To another host, seen in promiscuous mode (<c>PACKET_OTHERHOST</c>).</summary>
    OtherHost = LibC.PACKET_OTHERHOST,
    /// <summary>Sent by this host and looped back to packet sockets (<c>PACKET_OUTGOING</c>).</summary>
    Outgoing = LibC.PACKET_OUTGOING,
}

/// <summary>Per-frame status bits the kernel reports on packet sockets (<c>TP_STATUS_*</c>).</summary>
[Flags]
public enum PacketStatus : uint
{
    /// <summary>Nothing special.</summary>
    None = 0,
    /// <summary>Frames were dropped because the ring was full (<c>TP_STATUS_LOSING</c>).</summary>
    Losing = LibC.TP_STATUS_LOSING,
    /// <summary>The L4 checksum is partial, to be completed by whoever transmits (<c>TP_STATUS_CSUMNOTREADY</c>).</summary>
    ChecksumNotReady = LibC.TP_STATUS_CSUMNOTREADY,
    /// <summary>A VLAN tag was stripped; <c>VlanTci</c> holds it (<c>TP_STATUS_VLAN_VALID</c>).</summary>
    VlanValid = LibC.TP_STATUS_VLAN_VALID,
    /// <summary>The stripped tag's TPID is known (<c>TP_STATUS_VLAN_TPID_VALID</c>).</summary>
    VlanTpidValid = LibC.TP_STATUS_VLAN_TPID_VALID,
    /// <summary>The checksum was verified by the device (<c>TP_STATUS_CSUM_VALID</c>).</summary>
    ChecksumValid = LibC.TP_STATUS_CSUM_VALID,
}

/// <summary>
/// What the kernel tells about one received frame besides its bytes (PACKET_AUXDATA on a packet socket,
/// or the TPACKET_V3 frame header of a ring): status bits and the VLAN tag it stripped.
/// </summary>
public readonly struct PacketAuxData
{
    /// <summary>Ethertype of an 802.1Q tag, the TPID assumed when the kernel does not report one.</summary>
    public const ushort DefaultVlanTpid = LibC.ETH_P_8021Q;

    internal PacketAuxData(uint status, uint length, uint capturedLength, ushort vlanTci, ushort vlanTpid)
    {
        Status = (PacketStatus)status;
        OriginalLength = (int)Math.Min(length, int.MaxValue);
        CapturedLength = (int)Math.Min(capturedLength, int.MaxValue);
        VlanTci = vlanTci;
        VlanTpid = (status & LibC.TP_STATUS_VLAN_TPID_VALID) != 0 && vlanTpid != 0 ? vlanTpid : DefaultVlanTpid;
    }

    /// <summary>Status bits.</summary>
    public PacketStatus Status { get; }

    /// <summary>Length of the frame on the wire.</summary>
    public int OriginalLength { get; }

    /// <summary>Bytes captured (smaller than <see cref="OriginalLength"/> when the frame was cut).</summary>
    public int CapturedLength { get; }

    /// <summary>True when the kernel stripped a VLAN tag that belongs in front of the ethertype again.</summary>
    public bool HasVlanTag => (Status & PacketStatus.VlanValid) != 0;

    /// <summary>The stripped tag's TCI (host order); meaningful when <see cref="HasVlanTag"/>.</summary>
    public ushort VlanTci { get; }

    /// <summary>The stripped tag's TPID (host order), <see cref="DefaultVlanTpid"/> when the kernel did not say.</summary>
    public ushort VlanTpid { get; }

    /// <summary>True when the L4 checksum is partial (<see cref="PacketStatus.ChecksumNotReady"/>).</summary>
    public bool ChecksumNotReady => (Status & PacketStatus.ChecksumNotReady) != 0;
}

/// <summary>A packet socket's counters since the previous read (<c>PACKET_STATISTICS</c>; the kernel resets them on every read).</summary>
/// <param name="Packets">Frames received.</param>
/// <param name="Drops">Frames dropped for lack of socket buffer or ring space.</param>
public readonly record struct PacketSocketStatistics(uint Packets, uint Drops);
