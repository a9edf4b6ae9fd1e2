using System.Runtime.InteropServices;

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
        Assert.True((lo.Flags & LibC.IFF_LOOPBACK) != 0);
        Assert.Equal(Errno.Success, NetDevice.GetMtu("lo", out int mtu));
        Assert.Equal(mtu, lo.Mtu);
        Assert.Equal(Errno.Success, NetDevice.GetIndex("lo", out int index));
        Assert.Equal(index, lo.IfIndex);
        Assert.Equal(Errno.Success, RtNetlink.GetLink(index, out var one));
        Assert.Equal("lo", one!.Name);
        Assert.Equal(Errno.Success, LibC.IfNameToIndex("lo", out int index2));
        Assert.Equal(index, index2);
    }

    [Fact]
    public void MissingInterfacesAreENODEV()
    {
        Assert.Equal(Errno.ENODEV, NetDevice.GetFlags("vswnosuchif0", out _));
        Assert.Equal(Errno.ENODEV, LibC.IfNameToIndex("vswnosuchif0", out _));
        Assert.Equal(Errno.ENODEV, RtNetlink.GetLink(int.MaxValue, out _));
        Assert.Equal(Errno.EINVAL, NetDevice.GetFlags("a-name-longer-than-15", out _));
    }

    [Fact]
    public void MalformedLinkMessagesAreRejectedWithoutReadingPastTheEnd()
    {
        Span<byte> msg = stackalloc byte[64];
        msg.Clear();
        MemoryMarshal.Write(msg, new LibC.nlmsghdr { nlmsg_len = 64, nlmsg_type = LibC.RTM_NEWLINK });
        MemoryMarshal.Write(msg[16..], new LibC.ifinfomsg { ifi_index = 7, ifi_flags = LibC.IFF_UP });
        // An attribute claiming 200 bytes: ignored, not an out-of-bounds read.
        MemoryMarshal.Write(msg[32..], new LibC.rtattr { rta_len = 200, rta_type = LibC.IFLA_IFNAME });
        Assert.True(RtNetlink.TryParseLink(msg, out var link));
        Assert.Equal(7, link.IfIndex);
        Assert.Equal("", link.Name);
        Assert.False(RtNetlink.TryParseLink(msg[..20], out _));
        MemoryMarshal.Write(msg, new LibC.nlmsghdr { nlmsg_len = 64, nlmsg_type = LibC.RTM_NEWADDR });
        Assert.False(RtNetlink.TryParseLink(msg, out _));
    }

    [RootFact]
    public void TapLifecycleWithTunIoctlsAndLinkMonitorEvents()
    {
        Assert.Equal(Errno.Success, Tun.OpenQueue("vswit%d", (short)(LibC.IFF_TAP | LibC.IFF_NO_PI), out var fd, out string name));
        using (fd)
        {
            Assert.StartsWith("vswit", name, StringComparison.Ordinal);
            Assert.Equal(Errno.Success, Tun.GetInterface(fd!.Fd, out string again, out short flags));
            Assert.Equal(name, again);
            Assert.True((flags & LibC.IFF_TAP) != 0);
            var seen = new List<NetlinkLink>();
            Assert.Equal(Errno.Success, LinkMonitor.Shared.Subscribe(l => { lock (seen) seen.Add(l); }, out var sub));
            using (sub)
            {
                Assert.Equal(Errno.Success, NetDevice.UpdateFlags(name, 0, LibC.IFF_UP, out int old));
                Assert.Equal(0, old & LibC.IFF_UP);
                Assert.Equal(Errno.Success, NetDevice.SetMtu(name, 1400));
                byte[] mac = [0x02, 0x01, 0x02, 0x03, 0x04, 0x05];
                Assert.Equal(Errno.Success, NetDevice.SetHardwareAddress(name, mac));
                Span<byte> read = stackalloc byte[6];
                Assert.Equal(Errno.Success, NetDevice.GetHardwareAddress(name, read));
                Assert.True(read.SequenceEqual(mac.AsSpan()));
                Assert.Equal(Errno.Success, NetDevice.GetIndex(name, out int index));
                Assert.Equal(Errno.Success, RtNetlink.AddIPv4Address(index, [10, 251, 7, 1], 24));
                Wait.Until(() => { lock (seen) return seen.Exists(l => l.IfIndex == index && l.Mtu == 1400 && (l.Flags & LibC.IFF_UP) != 0); });
                lock (seen) Assert.Contains(seen, l => l.IfIndex == index && l.Mtu == 1400 && l.Name == name
                                                        && l.Address.AsSpan().SequenceEqual(mac));
                Assert.Equal(Errno.EINVAL, RtNetlink.AddIPv4Address(index, [10, 251, 7, 1], 33));
            }
        }
    }
}
