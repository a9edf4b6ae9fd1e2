using System.Text;
using System.Text.Json;
using Vswitch.Switch.Commands;

namespace Vswitch.Daemon;

/// <summary>
/// The control protocol: one request per connection, one JSON line each way.
/// Request: <c>{"command":"fdb/show","args":["br0"]}</c>. Response: <c>{"ok":true,"output":"...","error":null,"exit":0}</c>.
/// </summary>
public static class ControlProtocol
{
    /// <summary>Largest accepted request line, in bytes.</summary>
    public const int MaxRequestBytes = 1 << 20;

    /// <summary>Encodes a request line (with the trailing newline).</summary>
    public static byte[] EncodeRequest(string command, IReadOnlyList<string> args)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("command", command);
            w.WriteStartArray("args");
            foreach (var a in args) w.WriteStringValue(a);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        ms.WriteByte((byte)'\n');
        return ms.ToArray();
    }

    /// <summary>
    /// Decodes a request line; false with an error for malformed JSON (including invalid UTF-8 and nesting deeper than 64),
    /// missing fields or wrong types. Never throws, whatever the bytes.
    /// </summary>
    public static bool TryDecodeRequest(ReadOnlySpan<byte> line, out string command, out List<string> args, out string? error)
    {
        command = "";
        args = [];
        error = null;
        try
        {
            var reader = new Utf8JsonReader(line);
            using var doc = JsonDocument.ParseValue(ref reader);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("command", out var c) || c.ValueKind != JsonValueKind.String)
            {
                error = "malformed request: expected {\"command\": \"...\", \"args\": [...]}";
                return false;
            }
            command = c.GetString()!;
            if (root.TryGetProperty("args", out var a))
            {
                if (a.ValueKind != JsonValueKind.Array) { error = "malformed request: args must be a list of strings"; return false; }
                foreach (var item in a.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String) { error = "malformed request: args must be a list of strings"; return false; }
                    args.Add(item.GetString()!);
                }
            }
            return true;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or ArgumentException or FormatException)
        {
            // InvalidOperationException: a string that is not valid UTF-8 cannot be transcoded (GetString).
            command = "";
            args = [];
            error = $"malformed request: {ex.Message}";
            return false;
        }
    }

    /// <summary>Encodes a response line (with the trailing newline).</summary>
    public static byte[] EncodeResponse(CommandResult result)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteBoolean("ok", result.Ok);
            w.WriteString("output", result.Output);
            if (result.Error is null) w.WriteNull("error"); else w.WriteString("error", result.Error);
            w.WriteNumber("exit", result.ExitCode);
            w.WriteEndObject();
        }
        ms.WriteByte((byte)'\n');
        return ms.ToArray();
    }

    /// <summary>Decodes a response line; false with an error when malformed.</summary>
    public static bool TryDecodeResponse(ReadOnlySpan<byte> line, out CommandResult result, out string? error)
    {
        result = CommandResult.Fail("no response");
        error = null;
        try
        {
            var reader = new Utf8JsonReader(line);
            using var doc = JsonDocument.ParseValue(ref reader);
            var r = doc.RootElement;
            bool ok = r.GetProperty("ok").GetBoolean();
            var output = r.TryGetProperty("output", out var o) && o.ValueKind == JsonValueKind.String ? o.GetString()! : "";
            var err = r.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;
            int exit = r.TryGetProperty("exit", out var x) && x.ValueKind == JsonValueKind.Number ? x.GetInt32() : (ok ? 0 : 1);
            result = new CommandResult(ok, output, err, exit);
            return true;
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            error = $"malformed response from the switch: {ex.Message}";
            return false;
        }
    }

    /// <summary>Reads one line (up to <paramref name="max"/> bytes) from <paramref name="stream"/>; null at end of stream before any byte.</summary>
    public static byte[]? ReadLine(Stream stream, int max)
    {
        var buf = new MemoryStream();
        var one = new byte[4096];
        while (true)
        {
            int n = stream.Read(one, 0, one.Length);
            if (n == 0) return buf.Length == 0 ? null : buf.ToArray();
            int nl = Array.IndexOf(one, (byte)'\n', 0, n);
            if (nl >= 0)
            {
                buf.Write(one, 0, nl);
                return buf.ToArray();
            }
            buf.Write(one, 0, n);
            if (buf.Length > max) throw new InvalidDataException($"line longer than {max} bytes");
        }
    }

    /// <summary>UTF-8 text of a line.</summary>
    public static string Text(byte[] line) => Encoding.UTF8.GetString(line);
}
