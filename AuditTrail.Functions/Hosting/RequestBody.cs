namespace AuditTrail.Functions.Hosting;

/// <summary>
/// Reads a request body up to a limit, in the app rather than relying on the server's limit
/// feature (the in-memory test server does not enforce it), so the limit holds everywhere.
/// </summary>
public static class RequestBody
{
    public static async Task<byte[]> ReadAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            throw TooLarge(maxBytes);
        }
        int read;
        if (request.ContentLength is { } length)
        {
            // The declared length read into one array of that size: a growing buffer and its final
            // copy would hold up to 2.3 times the body at once (the host's invocations reach 100 MB).
            var body = new byte[length];
            var filled = 0;
            while (filled < body.Length && (read = await request.Body.ReadAsync(body.AsMemory(filled), cancellationToken)) > 0)
            {
                filled += read;
            }
            if (filled < body.Length)
            {
                throw new BadHttpRequestException("The request body ended before its declared Content-Length.");
            }
            var probe = new byte[1];
            if (await request.Body.ReadAsync(probe, cancellationToken) > 0)
            {
                throw new BadHttpRequestException("The request body is longer than its declared Content-Length.");
            }
            return body;
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                throw TooLarge(maxBytes);
            }
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    /// <summary>
    /// Reads a JSON body: a 415 that says what to send unless it is declared as JSON, the size limit
    /// as <see cref="ReadAsync"/>, and a 400 unless it is valid UTF-8 (RFC 8259 JSON is UTF-8). The
    /// JSON parser checks encoding only when a string is read, so without the last check an invalid
    /// byte inside a string or a property name surfaced later as an unmapped error (a 500).
    /// </summary>
    public static async Task<byte[]> ReadJsonAsync(HttpRequest request, string whatToSend, long maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentType is null || !request.ContentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            throw new ProblemException(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type", "Unsupported media type",
                $"Send {whatToSend} with Content-Type: application/json.");
        }
        var bytes = await ReadAsync(request, maxBytes, cancellationToken);
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            throw new ProblemException(StatusCodes.Status400BadRequest, "invalid_json", "Invalid JSON",
                "The request body is not valid UTF-8; JSON must be sent as UTF-8.");
        }
        return bytes;
    }

    private static ProblemException TooLarge(long maxBytes) => new(
        StatusCodes.Status413PayloadTooLarge, "request_too_large", "Request body too large",
        $"The request body is larger than the {maxBytes / (1024 * 1024)} MiB this endpoint accepts. Split it into several requests.");
}
