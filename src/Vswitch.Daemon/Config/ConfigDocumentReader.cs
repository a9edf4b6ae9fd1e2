using System.Text;
using System.Text.Json;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Vswitch.Daemon.Config;

/// <summary>Reads YAML or JSON text into a <see cref="ConfigNode"/> tree with line numbers. Syntax errors become <see cref="ConfigException"/>.</summary>
public static class ConfigDocumentReader
{
    /// <summary>Parses <paramref name="text"/>: JSON when <paramref name="file"/> ends in <c>.json</c> or the text starts with <c>{</c>, YAML otherwise.</summary>
    public static ConfigNode? Parse(string file, string text)
    {
        bool json = file.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || text.TrimStart().StartsWith('{');
        return json ? ParseJson(file, text) : ParseYaml(file, text);
    }

    /// <summary>Parses YAML (one document; an empty document gives null).</summary>
    public static ConfigNode? ParseYaml(string file, string text)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException ex)
        {
            var msg = ex.InnerException?.Message ?? ex.Message;
            int colon = msg.IndexOf("): ", StringComparison.Ordinal);
            if (msg.StartsWith("(Line", StringComparison.Ordinal) && colon > 0) msg = msg[(colon + 3)..];
            throw new ConfigException(file, (int)ex.Start.Line, (int)ex.Start.Column, "", $"YAML syntax error: {msg}");
        }
        if (stream.Documents.Count == 0) return null;
        if (stream.Documents.Count > 1)
        {
            var second = stream.Documents[1].RootNode;
            throw new ConfigException(file, (int)second.Start.Line, (int)second.Start.Column, "", "more than one YAML document");
        }
        return Convert(stream.Documents[0].RootNode);
    }

    private static ConfigNode Convert(YamlNode node)
    {
        int line = (int)node.Start.Line, col = (int)node.Start.Column;
        switch (node)
        {
            case YamlMappingNode m:
            {
                var result = new ConfigMapping { Line = line, Column = col };
                foreach (var (k, v) in m.Children)
                {
                    var key = Convert(k) as ConfigScalar ?? new ConfigScalar { Line = (int)k.Start.Line, Column = (int)k.Start.Column, Value = k.ToString() };
                    result.Entries.Add((key, Convert(v)));
                }
                return result;
            }
            case YamlSequenceNode s:
            {
                var result = new ConfigSequence { Line = line, Column = col };
                foreach (var item in s.Children) result.Items.Add(Convert(item));
                return result;
            }
            case YamlScalarNode sc:
            {
                bool quoted = sc.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded;
                string? value = sc.Value;
                if (!quoted && (value is null || value is "" or "~" or "null" or "Null" or "NULL")) value = null;
                return new ConfigScalar { Line = line, Column = col, Value = value, Quoted = quoted };
            }
            default:
                return new ConfigScalar { Line = line, Column = col, Value = null };
        }
    }

    /// <summary>Parses JSON (an empty text gives null).</summary>
    public static ConfigNode? ParseJson(string file, string text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var bytes = Encoding.UTF8.GetBytes(text);
        var lineStarts = new List<int> { 0 };
        for (int i = 0; i < bytes.Length; i++) if (bytes[i] == (byte)'\n') lineStarts.Add(i + 1);
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = false });
        try
        {
            if (!reader.Read()) return null;
            var root = ReadValue(ref reader, lineStarts);
            if (reader.Read())
            {
                var (l, c) = Position(lineStarts, (int)reader.TokenStartIndex);
                throw new ConfigException(file, l, c, "", "JSON syntax error: extra data after the document");
            }
            return root;
        }
        catch (JsonException ex)
        {
            throw new ConfigException(file, (int)(ex.LineNumber ?? -1) + 1, (int)(ex.BytePositionInLine ?? -1) + 1, "", $"JSON syntax error: {StripPosition(ex.Message)}");
        }
    }

    private static string StripPosition(string message)
    {
        int i = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (i > 0 ? message[..i] : message).TrimEnd(' ', '.', '|');
    }

    private static (int Line, int Column) Position(List<int> lineStarts, int offset)
    {
        int idx = lineStarts.BinarySearch(offset);
        if (idx < 0) idx = ~idx - 1;
        return (idx + 1, offset - lineStarts[idx] + 1);
    }

    private static ConfigNode ReadValue(ref Utf8JsonReader reader, List<int> lineStarts)
    {
        var (line, col) = Position(lineStarts, (int)reader.TokenStartIndex);
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
            {
                var m = new ConfigMapping { Line = line, Column = col };
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    var (kl, kc) = Position(lineStarts, (int)reader.TokenStartIndex);
                    var key = new ConfigScalar { Line = kl, Column = kc, Value = reader.GetString(), Quoted = true };
                    reader.Read();
                    m.Entries.Add((key, ReadValue(ref reader, lineStarts)));
                }
                return m;
            }
            case JsonTokenType.StartArray:
            {
                var s = new ConfigSequence { Line = line, Column = col };
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray) s.Items.Add(ReadValue(ref reader, lineStarts));
                return s;
            }
            case JsonTokenType.String:
                return new ConfigScalar { Line = line, Column = col, Value = reader.GetString(), Quoted = true };
            case JsonTokenType.Number:
                return new ConfigScalar { Line = line, Column = col, Value = Encoding.UTF8.GetString(reader.ValueSpan) };
            case JsonTokenType.True:
                return new ConfigScalar { Line = line, Column = col, Value = "true" };
            case JsonTokenType.False:
                return new ConfigScalar { Line = line, Column = col, Value = "false" };
            default:
                return new ConfigScalar { Line = line, Column = col, Value = null };
        }
    }
}
