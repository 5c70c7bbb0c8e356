using System.Security.Cryptography;
using System.Text;
using AuditTrail.Core.Events;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using Azure;
using Azure.Data.Tables;

namespace AuditTrail.Core.Access;

public static class Roles
{
    /// <summary>The Workspace Owner: read, export, configure and ingest.</summary>
    public const string Owner = "owner";

    /// <summary>A producer: may post events, nothing else.</summary>
    public const string Ingest = "ingest";

    public static IReadOnlyList<string> All { get; } = [Owner, Ingest];
}

/// <summary>A token as stored: never its secret, only the secret's hash.</summary>
public sealed record AccessTokenInfo(string Id, string WorkspaceId, string Role, string? Name, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, DateTimeOffset? RevokedAt);

public enum TokenCheck
{
    Valid,
    Missing,
    Malformed,
    Unknown,
    Expired,
    Revoked,
}

public sealed record TokenValidation(TokenCheck Result, AccessTokenInfo? Token);

/// <summary>
/// Bearer access tokens: <c>atk_{id}_{secret}</c>, with a 16-hex-digit id and 256 random bits of
/// secret. Table <c>AccessTokens</c> keeps one row per token (PartitionKey = id) with the SHA-256
/// of the secret; a slow hash buys nothing against a 256-bit random secret. The token id, never
/// the secret, is what appears as the actor when a token acts.
/// </summary>
public sealed class AccessTokenService(TableServiceClient tables, ActionRecorder recorder, TimeProvider time)
{
    public const string TableName = "AccessTokens";
    private const string Prefix = "atk_";
    private const string RowKey = "token";

    /// <summary>How long undoing a creation whose record failed may take.</summary>
    private static readonly TimeSpan UndoTimeout = TimeSpan.FromSeconds(10);

    private readonly TableClient _table = tables.GetTableClient(TableName);
    private readonly CreateOnce _creation = new();

    public async Task<(AccessTokenInfo Info, string Token)> CreateAsync(string workspaceId, string role, DateTimeOffset? expiresAt, string? name, CancellationToken cancellationToken = default)
    {
        if (!WorkspaceIds.IsValid(workspaceId))
        {
            throw new ArgumentException($"'{workspaceId}' is not a valid workspace id. {WorkspaceIds.Rule}", nameof(workspaceId));
        }
        if (!Roles.All.Contains(role))
        {
            throw new ArgumentException($"Role must be one of {string.Join(", ", Roles.All)}.", nameof(role));
        }
        var id = Convert.ToHexString(RandomNumberGenerator.GetBytes(8)).ToLowerInvariant();
        var secret = System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var now = time.GetUtcNow();
        var info = new AccessTokenInfo(id, workspaceId, role, name, now, expiresAt, null);
        // Checked before the token exists: a token whose creation the trail would refuse to record is not made.
        var record = recorder.Check(Event(info, "Access Token Created", now, TrailRecordIds.New("access-token-created", id)));
        await EnsureTableAsync(cancellationToken);
        var entity = TableRows.Create(id, RowKey,
            ("WorkspaceId", workspaceId), ("Role", role), ("Name", name), ("SecretHash", Hash(secret)), ("CreatedAt", now), ("ExpiresAt", expiresAt));
        await _table.AddEntityAsync(entity, cancellationToken);
        try
        {
            await recorder.StoreAsync(record, cancellationToken);
        }
        catch (Exception failure)
        {
            // Its secret was never shown to anyone, so removing the token undoes its creation
            // completely. Bounded on its own: the caller's token may be what ended the store.
            using var undo = new CancellationTokenSource(UndoTimeout);
            try
            {
                await _table.DeleteEntityAsync(id, RowKey, ETag.All, undo.Token);
            }
            catch (Exception undoFailure)
            {
                // Unusable all the same (nobody has its secret), but it would be listed: say so.
                throw new AggregateException($"Token {id} was created, its audit event was not stored, and removing it failed too; revoke it.", failure, undoFailure);
            }
            throw;
        }
        return (info, Prefix + id + "_" + secret);
    }

    public async Task<IReadOnlyList<AccessTokenInfo>> ListAsync(string workspaceId, CancellationToken cancellationToken = default)
    {
        await EnsureTableAsync(cancellationToken);
        // The token table is small (a handful per workspace), so a filtered scan is fine here.
        var rows = _table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"WorkspaceId eq {workspaceId}"), cancellationToken: cancellationToken);
        var list = new List<AccessTokenInfo>();
        await foreach (var row in rows)
        {
            list.Add(ToInfo(row));
        }
        return list.OrderBy(t => t.CreatedAt).ToList();
    }

    /// <summary>
    /// Revokes a token of the workspace. False if no such token belongs to it. Throws
    /// <see cref="UnrecordableActionException"/> when the revocation stands but its record could not
    /// be stored (running it again stores it), <see cref="TrailRecordConflictException"/> when its
    /// record's id was found taken.
    /// </summary>
    public async Task<bool> RevokeAsync(string workspaceId, string tokenId, CancellationToken cancellationToken = default)
    {
        await EnsureTableAsync(cancellationToken);
        var row = await _table.FindAsync(tokenId, RowKey, cancellationToken);
        if (row is null || row.GetString("WorkspaceId") != workspaceId)
        {
            return false;
        }
        // Revoked first, recorded after: a revocation must never wait on, or be undone by, its
        // record. The record's id is made once, at the revocation, and kept on the token's row
        // with its time, so revoking again after a failed record stores that same record then,
        // and revoking a revoked token finds its record there.
        var revokedBefore = row.GetDateTimeOffset("RevokedAt");
        var revokedAt = revokedBefore ?? time.GetUtcNow();
        var recordId = row.GetString(RevokedRecordProperty);
        if (recordId is null && revokedBefore is not null && await recorder.IsOwnRecordAsync(workspaceId, LegacyRevokedRecordId(tokenId), cancellationToken))
        {
            // Revoked, and recorded, by a version that took the id from the token's id; that record is
            // the trail's own (its claim says so), not one a producer posted under the id first.
            return true;
        }
        var newRecordId = recordId is null;
        recordId ??= TrailRecordIds.New("access-token-revoked", tokenId);
        row["RevokedAt"] = revokedAt;
        row[RevokedRecordProperty] = recordId;
        ActionRecord record;
        try
        {
            record = recorder.Check(Event(ToInfo(row) with { Name = Clamp(row.GetString("Name")) }, "Access Token Revoked", revokedAt, recordId));
        }
        catch (UnrecordableActionException ex) when (revokedBefore is not null && ex.Rejection.Code == RejectionCodes.OutsideRetention)
        {
            // Revoked so long ago that its record has been forgotten with the rest of that day.
            return true;
        }
        if (newRecordId)
        {
            try
            {
                // Conditional: of two revocations at once, one id is kept, and the other run records under it.
                await _table.UpdateEntityAsync(row, row.ETag, TableUpdateMode.Replace, cancellationToken);
            }
            catch (RequestFailedException ex) when (ex.Status is 404 or 412)
            {
                return await RevokeAsync(workspaceId, tokenId, cancellationToken);
            }
        }
        await recorder.StoreAsync(record, cancellationToken);
        return true;
    }

    /// <summary>On the token's row: the id of its revocation's record.</summary>
    private const string RevokedRecordProperty = "RevokedRecordId";

    /// <summary>The id earlier versions gave a revocation's record, which anyone could post first.</summary>
    private static string LegacyRevokedRecordId(string tokenId) => "access-token-revoked-" + tokenId;

    public async Task<TokenValidation> ValidateAsync(string? presented, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(presented))
        {
            return new(TokenCheck.Missing, null);
        }
        if (!TryParse(presented, out var id, out var secret))
        {
            return new(TokenCheck.Malformed, null);
        }
        await EnsureTableAsync(cancellationToken);
        var row = await _table.FindAsync(id, RowKey, cancellationToken);
        if (row?.GetString("SecretHash") is not { } storedHash
            || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(storedHash), Encoding.ASCII.GetBytes(Hash(secret))))
        {
            return new(TokenCheck.Unknown, null);
        }
        var info = ToInfo(row);
        if (info.RevokedAt is not null)
        {
            return new(TokenCheck.Revoked, info);
        }
        if (info.ExpiresAt is { } expires && expires <= time.GetUtcNow())
        {
            return new(TokenCheck.Expired, info);
        }
        return new(TokenCheck.Valid, info);
    }

    internal static bool TryParse(string token, out string id, out string secret)
    {
        id = secret = string.Empty;
        if (!token.StartsWith(Prefix, StringComparison.Ordinal) || token.Length != Prefix.Length + 16 + 1 + 43)
        {
            return false;
        }
        id = token.Substring(Prefix.Length, 16);
        secret = token[(Prefix.Length + 17)..];
        return token[Prefix.Length + 16] == '_'
               && id.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f')
               && secret.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
    }

    /// <summary>
    /// A name as long as the trail keeps. Creation refuses a longer one; a token made before that
    /// check may have one, and its revocation must still be possible and recorded.
    /// </summary>
    private static string? Clamp(string? name) =>
        name is { Length: > EventLimits.MaxTextLength }
            ? name[..(char.IsHighSurrogate(name[EventLimits.MaxTextLength - 2]) ? EventLimits.MaxTextLength - 2 : EventLimits.MaxTextLength - 1)] + "…"
            : name;

    /// <summary>Token lifecycle is part of the trail: who can act on a workspace is itself audited.</summary>
    private static System.Text.Json.Nodes.JsonObject Event(AccessTokenInfo token, string type, DateTimeOffset at, string recordId) => new()
    {
        ["id"] = recordId,
        ["workspaceId"] = token.WorkspaceId,
        ["type"] = type,
        ["timestamp"] = at.ToString("O"),
        ["actor"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "system", ["id"] = "token-admin" },
        ["resource"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "access-token", ["id"] = token.Id, ["name"] = token.Name },
        ["properties"] = new System.Text.Json.Nodes.JsonObject { ["role"] = token.Role, ["expiresAt"] = token.ExpiresAt?.ToString("O") },
    };

    private Task EnsureTableAsync(CancellationToken cancellationToken) =>
        _creation.EnsureAsync(ct => _table.CreateIfNotExistsAsync(ct), cancellationToken);

    private static AccessTokenInfo ToInfo(TableEntity row) => new(
        row.PartitionKey, row.GetString("WorkspaceId") ?? string.Empty, row.GetString("Role") ?? string.Empty, row.GetString("Name"),
        row.GetDateTimeOffset("CreatedAt") ?? default, row.GetDateTimeOffset("ExpiresAt"), row.GetDateTimeOffset("RevokedAt"));

    private static string Hash(string secret) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
}
