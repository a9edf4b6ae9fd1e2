using System.Text;
using Vswitch.Packets;

namespace Vswitch.Datapath.Tests.Odp;

/// <summary>FlowKey equality with a readable difference (byte offsets and values).</summary>
internal static class KeyAssert
{
    public static void Equal(FlowKey expected, FlowKey actual, string context = "")
    {
        if (expected == actual) return;
        var e = FlowKey.AsBytes(ref expected);
        var a = FlowKey.AsBytes(ref actual);
        var sb = new StringBuilder("FlowKeys differ at byte offsets:");
        for (int i = 0; i < FlowKey.Size; i++)
            if (e[i] != a[i]) sb.Append($" [{i}] expected 0x{e[i]:x2} actual 0x{a[i]:x2};");
        sb.Append(' ').Append(context);
        Assert.Fail(sb.ToString());
    }
}
