using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace Vswitch.Interop.Linux.Tests;

/// <summary>
/// Compiles a C program against the real kernel/libc headers (gcc, libc6-dev) that prints sizeof,
/// offsetof and constant values, and compares them with our C# declarations (Tmds.LibC style).
/// </summary>
public sealed class StructLayoutTests
{
    private static readonly Type[] Structs =
    [
        typeof(LibC.ifreq), typeof(LibC.sockaddr_ll), typeof(LibC.packet_mreq), typeof(LibC.tpacket_auxdata),
        typeof(LibC.tpacket_stats), typeof(LibC.iovec), typeof(LibC.msghdr), typeof(LibC.mmsghdr), typeof(LibC.cmsghdr),
        typeof(LibC.sockaddr_nl), typeof(LibC.nlmsghdr), typeof(LibC.nlmsgerr), typeof(LibC.ifinfomsg),
        typeof(LibC.ifaddrmsg), typeof(LibC.rtattr), typeof(LibC.epoll_event),
        typeof(LibC.tpacket_req3), typeof(LibC.tpacket_hdr_v1), typeof(LibC.tpacket_block_desc), typeof(LibC.tpacket3_hdr),
    ];

    // Fields whose C name is a union member path.
    private static readonly Dictionary<string, string> CFieldNames = new()
    {
        ["ifreq.ifr_hwaddr_sa_family"] = "ifr_hwaddr.sa_family",
        ["ifreq.ifr_hwaddr_sa_data"] = "ifr_hwaddr.sa_data",
        ["tpacket_hdr_v1.ts_first_pkt_sec"] = "ts_first_pkt.ts_sec",
        ["tpacket_hdr_v1.ts_first_pkt_nsec"] = "ts_first_pkt.ts_nsec",
        ["tpacket_hdr_v1.ts_last_pkt_sec"] = "ts_last_pkt.ts_sec",
        ["tpacket_hdr_v1.ts_last_pkt_nsec"] = "ts_last_pkt.ts_nsec",
        ["tpacket_block_desc.hdr"] = "hdr.bh1",
        ["tpacket3_hdr.tp_rxhash"] = "hv1.tp_rxhash",
        ["tpacket3_hdr.tp_vlan_tci"] = "hv1.tp_vlan_tci",
        ["tpacket3_hdr.tp_vlan_tpid"] = "hv1.tp_vlan_tpid",
        ["tpacket3_hdr.tp_hv1_padding"] = "hv1.tp_padding",
    };

    private static Dictionary<string, long> RunCProgram(string source)
    {
        string dir = TestObjects.NewTempPath('g');
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllText(Path.Combine(dir, "layout.c"), source);
            Run("gcc", $"-Wall -o {dir}/layout {dir}/layout.c", out _);
            Run(Path.Combine(dir, "layout"), "", out string output);
            var values = new Dictionary<string, long>();
            foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = line.Split(' ');
                values[parts[0]] = long.Parse(parts[1], CultureInfo.InvariantCulture);
            }
            return values;
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static void Run(string file, string args, out string stdout)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var outTask = p.StandardOutput.ReadToEndAsync();
        var errTask = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), $"{file} timed out");
        stdout = outTask.Result;
        Assert.True(p.ExitCode == 0, $"{file} {args} failed ({p.ExitCode}): {errTask.Result}");
    }

    private const string Headers = """
        #define _GNU_SOURCE
        #include <stdio.h>
        #include <stddef.h>
        #include <fcntl.h>
        #include <sys/socket.h>
        #include <sys/uio.h>
        #include <sys/ioctl.h>
        #include <sys/epoll.h>
        #include <sys/eventfd.h>
        #include <sys/mman.h>
        #include <linux/if.h>
        #include <linux/if_tun.h>
        #include <linux/if_packet.h>
        #include <linux/if_ether.h>
        #include <linux/if_arp.h>
        #include <linux/sockios.h>
        #include <linux/netlink.h>
        #include <linux/rtnetlink.h>
        #include <linux/if_link.h>
        #include <linux/if_addr.h>

        """;

    [Fact]
    public void StructSizesAndOffsetsMatchTheCHeaders()
    {
        var c = new StringBuilder(Headers).AppendLine("int main(void) {");
        var expected = new Dictionary<string, long>();
        foreach (var t in Structs)
        {
            string cType = "struct " + t.Name;
            c.AppendLine(CultureInfo.InvariantCulture, $"printf(\"sizeof.{t.Name} %zu\\n\", sizeof({cType}));");
            expected[$"sizeof.{t.Name}"] = Marshal.SizeOf(t);
            foreach (var f in t.GetFields(BindingFlags.Public | BindingFlags.Instance))
            {
                string cField = CFieldNames.GetValueOrDefault($"{t.Name}.{f.Name}", f.Name);
                c.AppendLine(CultureInfo.InvariantCulture, $"printf(\"offsetof.{t.Name}.{f.Name} %zu\\n\", offsetof({cType}, {cField}));");
                expected[$"offsetof.{t.Name}.{f.Name}"] = Marshal.OffsetOf(t, f.Name).ToInt64();
            }
            foreach (var f in t.GetFields(BindingFlags.Public | BindingFlags.Instance))
            {
                var fixedAttr = f.GetCustomAttribute<System.Runtime.CompilerServices.FixedBufferAttribute>();
                if (fixedAttr is null) continue;
                string cField = CFieldNames.GetValueOrDefault($"{t.Name}.{f.Name}", f.Name);
                c.AppendLine(CultureInfo.InvariantCulture, $"printf(\"membersize.{t.Name}.{f.Name} %zu\\n\", sizeof((({cType}*)0)->{cField}));");
                expected[$"membersize.{t.Name}.{f.Name}"] = fixedAttr.Length * Marshal.SizeOf(fixedAttr.ElementType);
            }
        }
        c.AppendLine("return 0; }");
        var actual = RunCProgram(c.ToString());
        var mismatches = expected.Where(kv => !actual.TryGetValue(kv.Key, out long v) || v != kv.Value)
            .Select(kv => $"{kv.Key}: C# {kv.Value}, C {(actual.TryGetValue(kv.Key, out long v) ? v : "missing")}").ToList();
        Assert.True(expected.Count > 60, "expected many layout facts to be checked");
        Assert.Empty(mismatches);
    }

    [Fact]
    public void ConstantsMatchTheCHeaders()
    {
        var c = new StringBuilder(Headers).AppendLine("int main(void) {");
        var expected = new Dictionary<string, long>();
        foreach (var f in typeof(LibC).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            if (!f.IsLiteral) continue;
            long value = Convert.ToInt64(f.GetRawConstantValue(), CultureInfo.InvariantCulture);
            // Compare as unsigned 64-bit in C so that ioctl numbers and negative shorts compare alike.
            c.AppendLine(CultureInfo.InvariantCulture, $"printf(\"{f.Name} %lld\\n\", (long long)({f.Name}));");
            expected[f.Name] = value;
        }
        c.AppendLine("return 0; }");
        var actual = RunCProgram(c.ToString());
        var mismatches = expected.Where(kv => !actual.TryGetValue(kv.Key, out long v) || v != kv.Value)
            .Select(kv => $"{kv.Key}: C# {kv.Value}, C {(actual.TryGetValue(kv.Key, out long v) ? v : "missing")}").ToList();
        Assert.True(expected.Count > 80, $"expected many constants, found {expected.Count}");
        Assert.Empty(mismatches);
    }

    [Fact]
    public void CmsgMacrosMatchTheCHeaders()
    {
        var c = new StringBuilder(Headers).AppendLine("int main(void) {");
        var expected = new Dictionary<string, long>();
        foreach (int n in new[] { 0, 1, 4, 20, 33 })
        {
            c.AppendLine(CultureInfo.InvariantCulture, $"printf(\"CMSG_SPACE.{n} %zu\\n\", (size_t)CMSG_SPACE({n}));");
            c.AppendLine(CultureInfo.InvariantCulture, $"printf(\"CMSG_LEN.{n} %zu\\n\", (size_t)CMSG_LEN({n}));");
            c.AppendLine(CultureInfo.InvariantCulture, $"printf(\"NLMSG_ALIGN.{n} %zu\\n\", (size_t)NLMSG_ALIGN({n}));");
            c.AppendLine(CultureInfo.InvariantCulture, $"printf(\"RTA_ALIGN.{n} %zu\\n\", (size_t)RTA_ALIGN({n}));");
            expected[$"CMSG_SPACE.{n}"] = LibC.CMSG_SPACE(n);
            expected[$"CMSG_LEN.{n}"] = LibC.CMSG_LEN(n);
            expected[$"NLMSG_ALIGN.{n}"] = LibC.NLMSG_ALIGN(n);
            expected[$"RTA_ALIGN.{n}"] = LibC.RTA_ALIGN(n);
        }
        c.AppendLine("return 0; }");
        var actual = RunCProgram(c.ToString());
        foreach (var (k, v) in expected) Assert.True(actual[k] == v, $"{k}: C# {v}, C {actual[k]}");
    }
}
