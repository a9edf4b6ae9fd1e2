using System.Text;
using CsCheck;
using Vswitch.Daemon;
using Xunit.Abstractions;

namespace Vswitch.Fuzz.Tests;

/// <summary>The control protocol decoder on arbitrary bytes: never throws; what it accepts re-encodes to the same request.</summary>
public class ControlProtocolFuzzTests(ITestOutputHelper output)
{
    private static readonly byte[][] Seeds =
    [
        ControlProtocol.EncodeRequest("add-port", ["br0", "p1", "type=tap", "tag=10"]),
        ControlProtocol.EncodeRequest("dpctl/add-flow", ["in_port(1),eth_type(0x0800),ipv4(frag=no)", "2,3"]),
        ControlProtocol.EncodeRequest("show", []),
        ControlProtocol.EncodeRequest("ofproto/trace", ["br0", "in_port(p1),eth(src=02:00:00:00:00:01,dst=ff:ff:ff:ff:ff:ff)"]),
        "{\"command\":\"x\",\"args\":[\"\\u00e9\\ud83d\\ude00\",\"\\\"\"]}\n"u8.ToArray(),
    ];

    internal static readonly Gen<byte[]> Requests = Gen.OneOf(
        Gen.Byte.Array[0, 512],
        Gen.Select(Gen.Int[0, Seeds.Length - 1], Gen.Int, (i, seed) => Mutate.Bytes(Seeds[i], seed)),
        Gen.String.Select(s => Encoding.UTF8.GetBytes($"{{\"command\":\"{s}\",\"args\":[\"{s}\"]}}")));

    [Fact]
    public void DecoderNeverThrowsAndRoundTripsWhatItAccepts()
    {
        FuzzBudget.Run(Requests, bytes =>
        {
            var line = bytes.AsSpan();
            int nl = line.IndexOf((byte)'\n');
            if (nl >= 0) line = line[..nl];
            if (!ControlProtocol.TryDecodeRequest(line, out var command, out var args, out var error))
            {
                Assert.StartsWith("malformed request", error);
                return;
            }
            var again = ControlProtocol.EncodeRequest(command, args);
            Assert.True(ControlProtocol.TryDecodeRequest(again.AsSpan(0, again.Length - 1), out var c2, out var a2, out var e2), e2);
            Assert.Equal(command, c2);
            Assert.Equal(args, a2);
        }, FuzzBudget.Strings, output, print: Convert.ToHexString);
    }

    [Fact]
    public void ResponseDecoderNeverThrows()
    {
        FuzzBudget.Run(Requests, bytes =>
        {
            if (ControlProtocol.TryDecodeResponse(bytes, out var result, out _)) Assert.NotNull(result.Output);
        }, FuzzBudget.Strings, output, print: Convert.ToHexString);
    }
}
