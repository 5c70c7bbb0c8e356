using System.Buffers.Text;
using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace AuditTrail.Tests.Integrity;

/// <summary>Verifies a JWS with the openssl command line, the way docs/integrity.md tells a customer to.</summary>
internal static class OpenSsl
{
    // SubjectPublicKeyInfo of an id-ecPublicKey on prime256v1, up to the uncompressed point (RFC 5480).
    private const string SpkiPrefix = "3059301306072a8648ce3d020106082a8648ce3d030107034200";

    public static bool Available { get; } = Environment.GetEnvironmentVariable("PATH")?.Split(':').Any(p => File.Exists(Path.Combine(p, "openssl"))) == true;

    public static async Task<string> VerifyAsync(string jws, JsonElement jwk, CancellationToken cancellationToken)
    {
        var dir = Directory.CreateTempSubdirectory("jws-");
        try
        {
            var parts = jws.Split('.');
            var x = Convert.ToHexStringLower(Base64Url.DecodeFromChars(jwk.GetProperty("x").GetString()));
            var y = Convert.ToHexStringLower(Base64Url.DecodeFromChars(jwk.GetProperty("y").GetString()));
            await File.WriteAllBytesAsync(Path.Combine(dir.FullName, "pub.der"), Convert.FromHexString(SpkiPrefix + "04" + x + y), cancellationToken);
            var signature = Convert.ToHexString(Base64Url.DecodeFromChars(parts[2]));
            await File.WriteAllTextAsync(Path.Combine(dir.FullName, "sig.cnf"),
                $"asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x{signature[..64]}\ns=INTEGER:0x{signature[64..]}\n", cancellationToken);
            await File.WriteAllTextAsync(Path.Combine(dir.FullName, "input"), parts[0] + "." + parts[1], Encoding.ASCII, cancellationToken);
            await RunAsync(dir.FullName, cancellationToken, "pkey", "-pubin", "-inform", "DER", "-in", "pub.der", "-out", "pub.pem");
            await RunAsync(dir.FullName, cancellationToken, "asn1parse", "-genconf", "sig.cnf", "-out", "sig.der", "-noout");
            return (await RunAsync(dir.FullName, cancellationToken, "dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig.der", "input")).Trim();
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static async Task<string> RunAsync(string directory, CancellationToken cancellationToken, params string[] args)
    {
        var start = new ProcessStartInfo("openssl") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var process = Process.Start(start)!;
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(TimeSpan.FromSeconds(30));
        var output = process.StandardOutput.ReadToEndAsync(bound.Token);
        var error = process.StandardError.ReadToEndAsync(bound.Token);
        await process.WaitForExitAsync(bound.Token);
        return await output + await error;
    }
}
