using System.Buffers;
using System.Text.Json;

namespace AuditTrail.Core.Events;

/// <summary>How one hot path's per-thread JSON writer is made and how big a buffer it keeps.</summary>
internal interface IThreadJsonWriterKind
{
    static abstract JsonWriterOptions Options { get; }

    static abstract int InitialCapacity { get; }

    /// <summary>A buffer grown past this is dropped after use: a rare huge value's buffer is not kept alive on the thread.</summary>
    static abstract int KeepUpTo { get; }
}

/// <summary>
/// One buffer and writer per thread and per kind, for paths that serialize once per event or row:
/// renting them costs nothing after the first use on a thread. Each kind has its own pair, so two
/// kinds can be in use at once on one thread; one kind must not be rented again before it is returned.
/// </summary>
internal static class ThreadJsonWriter
{
    /// <summary>The thread's writer of this kind, reset onto its emptied buffer.</summary>
    public static Lease<TKind> Rent<TKind>()
        where TKind : IThreadJsonWriterKind
    {
        var buffer = Slot<TKind>.Buffer ??= new ArrayBufferWriter<byte>(TKind.InitialCapacity);
        var writer = Slot<TKind>.Writer ??= new Utf8JsonWriter(buffer, TKind.Options);
        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        return new Lease<TKind>(buffer, writer);
    }

    /// <summary>A rented writer and the buffer it writes to; disposing it gives them back.</summary>
    public readonly ref struct Lease<TKind>(ArrayBufferWriter<byte> buffer, Utf8JsonWriter writer)
        where TKind : IThreadJsonWriterKind
    {
        public Utf8JsonWriter Writer { get; } = writer;

        public ArrayBufferWriter<byte> Buffer { get; } = buffer;

        public void Dispose()
        {
            if (Buffer.Capacity > TKind.KeepUpTo)
            {
                Slot<TKind>.Buffer = null;
                Slot<TKind>.Writer = null;
            }
        }
    }

    private static class Slot<TKind>
    {
        [ThreadStatic]
        internal static ArrayBufferWriter<byte>? Buffer;

        [ThreadStatic]
        internal static Utf8JsonWriter? Writer;
    }
}
