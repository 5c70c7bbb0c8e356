using System.Text.Encodings.Web;
using System.Text.Json;

namespace AuditTrail.Core.Events;

public static class JsonDefaults
{
    /// <summary>
    /// How the app writes JSON it stores or serves: non-ASCII as UTF-8 rather than \uXXXX (smaller,
    /// and sizes predictable). Output is never embedded in HTML, so HTML-safe escaping buys nothing.
    /// </summary>
    public static readonly JsonWriterOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
