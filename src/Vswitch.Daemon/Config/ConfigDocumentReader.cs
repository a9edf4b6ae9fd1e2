using System.Text;
using System.Text.Json;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Vswitch.Daemon.Config;

/// <summary>
/// Reads YAML or JSON text into a <see cref="ConfigNode"/> tree with line numbers. Syntax errors become <see cref="ConfigException"/>.
/// </summary>
/// <remarks>
/// Hostile documents are refused quickly and with bounded memory, each with a <c>FILE:LINE:COL</c> error: nesting deeper than
/// <see cref="MaxDepth"/> (e.g. 100,000 brackets, which used to overflow the stack), more than <see cref="MaxNodes"/> nodes
/// once YAML aliases are expanded (a few hundred bytes of nested aliases, "billion laughs", used to grow memory without
/// bound), and files over <see cref="MaxFileBytes"/>. Aliases within the bound are allowed (shared port options are a
/// legitimate use); the reader builds nodes from YAML parser events with an explicit stack, never by recursion.
/// </remarks>
public static class ConfigDocumentReader
{
    /// <summary>Deepest nesting of mappings and lists accepted (a configuration needs 5).</summary>
    public const int MaxDepth = 32;

    /// <summary>Most nodes (mappings, lists, scalars, keys included) a document may have after alias expansion.</summary>
    public const int MaxNodes = 100_000;

    /// <summary>Largest configuration or state file accepted, in bytes (4 MiB: about 20,000 ports).</summary>
    public const int MaxFileBytes = 4 << 20;

    /// <summary>Parses <paramref name="text"/>: JSON when <paramref name="file"/> ends in <c>.json</c> or the text starts with <c>{</c>, YAML otherwise.</summary>
    public static ConfigNode? Parse(string file, string text)
    {
        if (Encoding.UTF8.GetByteCount(text) > MaxFileBytes)
            throw new ConfigException(file, 0, 0, "", $"file too large: more than {MaxFileBytes} bytes");
        bool json = file.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || text.TrimStart().StartsWith('{');
        return json ? ParseJson(file, text) : ParseYaml(file, text);
    }

    private sealed class Frame(ConfigNode node, string? anchor, int firstNode)
    {
        public readonly ConfigNode Node = node;
        public readonly string? Anchor = anchor;
        public readonly int FirstNode = firstNode;
        public ConfigScalar? PendingKey;
    }

    /// <summary>Parses YAML (one document; an empty document gives null).</summary>
    public static ConfigNode? ParseYaml(string file, string text)
    {
        var parser = new Parser(new StringReader(text));
        var stack = new Stack<Frame>();
        var anchors = new Dictionary<string, (ConfigNode Node, int Size)>(StringComparer.Ordinal);
        ConfigNode? root = null;
        int documents = 0, nodes = 0;
        try
        {
            while (parser.MoveNext())
            {
                var ev = parser.Current!;
                int line = (int)ev.Start.Line, col = (int)ev.Start.Column;
                switch (ev)
                {
                    case DocumentStart:
                        if (++documents > 1) throw new ConfigException(file, line, col, "", "more than one YAML document");
                        break;
                    case MappingStart ms:
                        Push(new ConfigMapping { Line = line, Column = col }, AnchorOf(ms.Anchor), line, col);
                        break;
                    case SequenceStart ss:
                        Push(new ConfigSequence { Line = line, Column = col }, AnchorOf(ss.Anchor), line, col);
                        break;
                    case MappingEnd or SequenceEnd:
                    {
                        var frame = stack.Pop();
                        if (frame.PendingKey is not null) throw new ConfigException(file, line, col, "", "YAML syntax error: a key without a value");
                        if (frame.Anchor is not null) anchors[frame.Anchor] = (frame.Node, nodes - frame.FirstNode);
                        Add(frame.Node, line, col);
                        break;
                    }
                    case Scalar sc:
                    {
                        bool quoted = sc.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded;
                        string? value = sc.Value;
                        if (!quoted && (value is null || value is "" or "~" or "null" or "Null" or "NULL")) value = null;
                        Count(1, line, col, "");
                        var node = new ConfigScalar { Line = line, Column = col, Value = value, Quoted = quoted };
                        if (AnchorOf(sc.Anchor) is { } a) anchors[a] = (node, 1);
                        Add(node, line, col);
                        break;
                    }
                    case AnchorAlias alias:
                    {
                        var name = alias.Value.Value;
                        if (!anchors.TryGetValue(name, out var target))
                            throw new ConfigException(file, line, col, "", $"YAML alias *{name} refers to no anchor defined before it");
                        Count(target.Size, line, col, $"alias *{name}");
                        Add(target.Node, line, col);
                        break;
                    }
                }
            }
        }
        catch (YamlException ex)
        {
            var msg = ex.InnerException?.Message ?? ex.Message;
            int colon = msg.IndexOf("): ", StringComparison.Ordinal);
            if (msg.StartsWith("(Line", StringComparison.Ordinal) && colon > 0) msg = msg[(colon + 3)..];
            throw new ConfigException(file, (int)ex.Start.Line, (int)ex.Start.Column, "", $"YAML syntax error: {msg}");
        }
        catch (Exception ex) when (ex is not ConfigException and not OutOfMemoryException)
        {
            // YamlDotNet's parser throws other exceptions than YamlException for some malformed input (found by the fuzz
            // suite): InvalidOperationException for "a: [1,2@", ArgumentException ("Global tags must be valid URIs") for
            // "!!x]1". Still a syntax error, at the last position the parser reached.
            var at = parser.Current?.Start;
            throw new ConfigException(file, (int)(at?.Line ?? 0), (int)(at?.Column ?? 0), "", $"YAML syntax error: {ex.Message}");
        }
        return root;

        void Push(ConfigNode node, string? anchor, int line, int col)
        {
            if (stack.Count >= MaxDepth)
                throw new ConfigException(file, line, col, "", $"nested more than {MaxDepth} levels deep (a configuration needs 5)");
            Count(1, line, col, "");
            stack.Push(new Frame(node, anchor, nodes - 1));
        }

        void Count(int size, int line, int col, string what)
        {
            nodes += size;
            if (nodes > MaxNodes || nodes < 0)
                throw new ConfigException(file, line, col, "", what.Length > 0
                    ? $"{what} expands the document beyond {MaxNodes} nodes (YAML aliases are expanded; nested aliases multiply)"
                    : $"more than {MaxNodes} nodes");
        }

        void Add(ConfigNode node, int line, int col)
        {
            if (stack.Count == 0)
            {
                root = node;
                return;
            }
            var parent = stack.Peek();
            switch (parent.Node)
            {
                case ConfigSequence seq:
                    seq.Items.Add(node);
                    break;
                case ConfigMapping map when parent.PendingKey is null:
                    parent.PendingKey = node as ConfigScalar
                        ?? throw new ConfigException(file, line, col, "", $"a mapping key must be a scalar, found {node.KindName}");
                    break;
                case ConfigMapping map:
                    map.Entries.Add((parent.PendingKey!, node));
                    parent.PendingKey = null;
                    break;
            }
        }
    }

    private static string? AnchorOf(AnchorName anchor) => anchor.IsEmpty ? null : anchor.Value;

    /// <summary>Parses JSON (an empty text gives null).</summary>
    public static ConfigNode? ParseJson(string file, string text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var bytes = Encoding.UTF8.GetBytes(text);
        var lineStarts = new List<int> { 0 };
        for (int i = 0; i < bytes.Length; i++) if (bytes[i] == (byte)'\n') lineStarts.Add(i + 1);
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = false, MaxDepth = MaxDepth });
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
