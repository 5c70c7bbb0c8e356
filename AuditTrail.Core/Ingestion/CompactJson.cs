using System.Buffers;
using System.Text;
using System.Text.Json;
using AuditTrail.Core.Events;

namespace AuditTrail.Core.Ingestion;

/// <summary>
/// Re-writes a JSON value with no whitespace and one escaping rule (<see cref="JsonDefaults.Relaxed"/>),
/// token by token from a <see cref="Utf8JsonReader"/>: the stored form of an event's changes and
/// properties, and so part of its content hash. The output is byte for byte what
/// <c>JsonElement.WriteTo</c> with the same writer options gives (a property test holds the two
/// equal), so events stored before and after the reader stopped building a JsonDocument hash alike.
/// </summary>
public static class CompactJson
{
    /// <summary>The writer's own limit; the input was read (and its depth limited) before it comes here.</summary>
    public const int MaxDepth = 1000;

    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = MaxDepth };

    // The thread's writer: every event with changes or properties comes through here.
    private sealed class Writer : IThreadJsonWriterKind
    {
        public static JsonWriterOptions Options => JsonDefaults.Relaxed;

        public static int InitialCapacity => 1024;

        public static int KeepUpTo => 256 * 1024;
    }

    /// <param name="json">One complete, valid JSON value.</param>
    /// <exception cref="InvalidOperationException">A string or name holds a lone surrogate escape.</exception>
    /// <exception cref="ArgumentException">A string or name is not valid UTF-8.</exception>
    public static string Write(ReadOnlySpan<byte> json)
    {
        if (IsAlreadyCompact(json))
        {
            return Encoding.ASCII.GetString(json);
        }
        using var lease = ThreadJsonWriter.Rent<Writer>();
        var writer = lease.Writer;
        var reader = new Utf8JsonReader(json, ReaderOptions);
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                    writer.WriteStartObject();
                    break;
                case JsonTokenType.EndObject:
                    writer.WriteEndObject();
                    break;
                case JsonTokenType.StartArray:
                    writer.WriteStartArray();
                    break;
                case JsonTokenType.EndArray:
                    writer.WriteEndArray();
                    break;
                case JsonTokenType.PropertyName:
                    WriteText(ref reader, writer, name: true);
                    break;
                case JsonTokenType.String:
                    WriteText(ref reader, writer, name: false);
                    break;
                case JsonTokenType.Number:
                    // As the producer wrote it (1.0 stays 1.0), which is what JsonElement.WriteTo keeps too.
                    writer.WriteRawValue(reader.ValueSpan, skipInputValidation: true);
                    break;
                case JsonTokenType.True or JsonTokenType.False:
                    writer.WriteBooleanValue(reader.TokenType == JsonTokenType.True);
                    break;
                case JsonTokenType.Null:
                    writer.WriteNullValue();
                    break;
            }
        }
        writer.Flush();
        return Encoding.UTF8.GetString(lease.Buffer.WrittenSpan);
    }

    /// <summary>
    /// True when writing the value again would give back the same bytes, which is what most
    /// producers send: printable ASCII only (which the relaxed encoder never escapes, bar '"' and
    /// '\\'), no escape sequences, and no whitespace outside strings.
    /// </summary>
    private static bool IsAlreadyCompact(ReadOnlySpan<byte> json)
    {
        if (json.IndexOfAnyExceptInRange((byte)0x20, (byte)0x7E) >= 0 || json.Contains((byte)'\\'))
        {
            return false;
        }
        if (!json.Contains((byte)' '))
        {
            return true;
        }
        // Without escapes, every '"' opens or closes a string: a space between them is text.
        var inString = false;
        foreach (var b in json)
        {
            if (b == '"')
            {
                inString = !inString;
            }
            else if (b == ' ' && !inString)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>A string or name, unescaped to UTF-8 and written with the writer's own escaping.</summary>
    private static void WriteText(ref Utf8JsonReader reader, Utf8JsonWriter writer, bool name)
    {
        var raw = reader.ValueSpan;
        if (!reader.ValueIsEscaped)
        {
            Write(writer, raw, name);
            return;
        }
        // Unescaping never lengthens a string.
        byte[]? rented = null;
        var unescaped = raw.Length <= 512 ? stackalloc byte[raw.Length] : (rented = ArrayPool<byte>.Shared.Rent(raw.Length));
        try
        {
            var length = reader.CopyString(unescaped);
            Write(writer, unescaped[..length], name);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static void Write(Utf8JsonWriter writer, ReadOnlySpan<byte> utf8, bool name)
    {
        if (name)
        {
            writer.WritePropertyName(utf8);
        }
        else
        {
            writer.WriteStringValue(utf8);
        }
    }
}
