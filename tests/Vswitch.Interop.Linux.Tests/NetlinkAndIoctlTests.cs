using System.Buffers.Binary;

namespace Vswitch.Interop.Linux.Tests;

/// <summary>A fact that needs root; skipped elsewhere.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (Environment.UserName != "root") Skip = "needs root (CAP_NET_ADMIN)";
    }
}

public sealed class NetlinkAndIoctlTests
{
    [Fact]
    public void DumpFindsLoopbackWithItsFlagsAndMtu()
    {
        Assert.Equal(Errno.Success, RtNetlink.DumpLinks(out var links));
        var lo = Assert.Single(links, l => l.Name == "lo");
        Assert.True((lo.Flags & InterfaceFlags.Loopback) != 0);
        Assert.Equal(Errno.Success, NetDevice.GetMtu("lo", out int mtu));
        Assert.Equal(mtu, lo.Mtu);
        Assert.Equal(Errno.Success, NetDevice.GetIndex("lo", out int index));
        Assert.Equal(index, lo.IfIndex);
        Assert.Equal(Errno.Success, RtNetlink.GetLink(index, out var one));
        Assert.Equal("lo", one!.Name);
        Assert.Equal(Errno.Success, NetDevice.NameToIndex("lo", out int index2));
        Assert.Equal(index, index2);
    }

    [Fact]
    public void MissingInterfacesAreENODEV()
    {
        Assert.Equal(Errno.ENODEV, NetDevice.GetFlags("vswnosuchif0", out _));
        Assert.Equal(Errno.ENODEV, NetDevice.NameToIndex("vswnosuchif0", out _));
        Assert.Equal(Errno.ENODEV, RtNetlink.GetLink(int.MaxValue, out _));
        Assert.Equal(Errno.EINVAL, NetDevice.GetFlags("a-name-longer-than-15", out _));
    }

    [Fact]
    public void MalformedLinkMessagesAreRejectedWithoutReadingPastTheEnd()
    {
        // Written byte by byte as the kernel lays them out (host order): struct nlmsghdr (16 bytes),
        // struct ifinfomsg (16 bytes), struct rtattr (4 bytes); StructLayoutTests checks those layouts.
        const ushort RtmNewLink = 16, RtmNewAddr = 20, IflaIfName = 3;
        Span<byte> msg = stackalloc byte[64];
        msg.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(msg, 64);                  // nlmsg_len
        BinaryPrimitives.WriteUInt16LittleEndian(msg[4..], RtmNewLink);     // nlmsg_type
        BinaryPrimitives.WriteInt32LittleEndian(msg[20..], 7);              // ifi_index
        BinaryPrimitives.WriteUInt32LittleEndian(msg[24..], (uint)InterfaceFlags.Up); // ifi_flags
        // An attribute claiming 200 bytes: ignored, not an out-of-bounds read.
        BinaryPrimitives.WriteUInt16LittleEndian(msg[32..], 200);          // rta_len
        BinaryPrimitives.WriteUInt16LittleEndian(msg[34..], IflaIfName);    // rta_type
        Assert.True(RtNetlink.TryParseLink(msg, out var link));
        Assert.Equal(7, link.IfIndex);
        Assert.Equal("", link.Name);
        Assert.Equal(InterfaceFlags.Up, link.Flags);
        Assert.False(RtNetlink.TryParseLink(msg[..20], out _));
        BinaryPrimitives.WriteUInt16LittleEndian(msg[4..], RtmNewAddr);
        Assert.False(RtNetlink.TryParseLink(msg, out _));
    }

    [RootFact]
    public void TapLifecycleWithTunIoctlsAndLinkMonitorEvents()
    {
        Assert.Equal(Errno.Success, TapFd.Open("vswit%d", TunFlags.Tap | TunFlags.NoPacketInfo, out var fd, out string name));
        using (fd)
        {
            Assert.StartsWith("vswit", name, StringComparison.Ordinal);
            Assert.Equal(Errno.Success, fd!.GetInterface(out string again, out var flags));
            Assert.Equal(name, again);
            Assert.True((flags & TunFlags.Tap) != 0);
            var seen = new List<NetlinkLink>();
            Assert.Equal(Errno.Success, LinkMonitor.Shared.Subscribe(l => { lock (seen) seen.Add(l); }, out var sub));
            using (sub)
            {
                Assert.Equal(Errno.Success, NetDevice.UpdateFlags(name, InterfaceFlags.None, InterfaceFlags.Up, out var old));
                Assert.Equal(InterfaceFlags.None, old & InterfaceFlags.Up);
                Assert.Equal(Errno.Success, NetDevice.SetMtu(name, 1400));
                byte[] mac = [0x02, 0x01, 0x02, 0x03, 0x04, 0x05];
                Assert.Equal(Errno.Success, NetDevice.SetHardwareAddress(name, mac));
                Span<byte> read = stackalloc byte[6];
                Assert.Equal(Errno.Success, NetDevice.GetHardwareAddress(name, read));
                Assert.True(read.SequenceEqual(mac.AsSpan()));
                Assert.Equal(Errno.Success, NetDevice.GetIndex(name, out int index));
                Assert.Equal(Errno.Success, RtNetlink.AddIPv4Address(index, [10, 251, 7, 1], 24));
                Wait.Until(() => { lock (seen) return seen.Exists(l => l.IfIndex == index && l.Mtu == 1400 && (l.Flags & InterfaceFlags.Up) != 0); });
                lock (seen) Assert.Contains(seen, l => l.IfIndex == index && l.Mtu == 1400 && l.Name == name
                                                        && l.Address.AsSpan().SequenceEqual(mac));
                Assert.Equal(Errno.EINVAL, RtNetlink.AddIPv4Address(index, [10, 251, 7, 1], 33));
            }
        }
    }
}
