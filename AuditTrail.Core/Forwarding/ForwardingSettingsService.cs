using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using AuditTrail.Core.Events;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AuditTrail.Core.Forwarding;

/// <summary>
/// Reads and changes a workspace's forwarding settings on an owner's behalf. Every change is an
/// audit event in the workspace's own trail, with the key shown only as its hint.
/// </summary>
public sealed class ForwardingSettingsService(
    ForwardingSettingsStore store, ForwardingAddressGuard addresses, ActionRecorder recorder, TimeProvider time, ILogger<ForwardingSettingsService> logger)
{
    public const int MaxWriteKeyLength = 256;

    /// <summary>How long restoring the settings after an unrecorded change may take.</summary>
    private static readonly TimeSpan UndoTimeout = TimeSpan.FromSeconds(10);

    public Task<ForwardingSettings> GetAsync(string workspaceId, CancellationToken cancellationToken = default) => store.GetAsync(workspaceId, cancellationToken);

    public ForwardingSettingsView View(ForwardingSettings s) => new(
        s.Enabled, s.WriteKey is not null, s.WriteKeyHint, store.EndpointOf(s), s.SuppressTransientFailures, s.UpdatedAt, s.UpdatedBy, s.LastFailure);

    /// <summary>
    /// Applies <paramref name="update"/> and records it in the workspace's trail, or refuses it (a
    /// value, not an exception: a refused setting is an answer the caller expects). A change whose
    /// record cannot be stored is undone and its failure thrown.
    /// </summary>
    public async Task<SettingsChange> UpdateAsync(string workspaceId, ForwardingSettingsUpdate update, SettingsActor actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        ArgumentNullException.ThrowIfNull(actor);
        var before = await store.GetAsync(workspaceId, cancellationToken);
        var (after, refusal) = await ApplyAsync(before, update, actor, cancellationToken);
        if (refusal is not null)
        {
            return SettingsChange.Refused(refusal);
        }
        var writeKeyChanged = update.WriteKey is not null && update.WriteKey != before.WriteKey;
        // Checked before the change is saved, stored after it; a change whose record is not stored is undone.
        var record = recorder.Check(Event(before, after!, writeKeyChanged, actor));
        await store.SaveAsync(after!, cancellationToken);
        try
        {
            await recorder.StoreAsync(record, cancellationToken);
        }
        catch (Exception failure)
        {
            logger.LogError(failure, "The forwarding settings change of {WorkspaceId} was not recorded in its trail; restoring the settings before it", workspaceId);
            using var undo = new CancellationTokenSource(UndoTimeout);
            try
            {
                await store.SaveAsync(before, undo.Token);
            }
            catch (Exception undoFailure)
            {
                logger.LogCritical(undoFailure, "The forwarding settings of {WorkspaceId} could not be restored: the change stands without its audit event", workspaceId);
            }
            throw;
        }
        logger.LogInformation("Forwarding settings of {WorkspaceId} changed by {ActorType} {ActorId}: enabled {Enabled}, endpoint {Endpoint}, suppress transient failures {Suppress}, write key changed {WriteKeyChanged}",
            workspaceId, actor.Type, actor.Id, after!.Enabled, store.EndpointOf(after), after.SuppressTransientFailures, writeKeyChanged);
        return SettingsChange.Saved(after);
    }

    /// <summary>The settings <paramref name="update"/> makes of <paramref name="before"/>, or why it is refused.</summary>
    private async Task<(ForwardingSettings? After, SettingsRefusal? Refusal)> ApplyAsync(
        ForwardingSettings before, ForwardingSettingsUpdate update, SettingsActor actor, CancellationToken cancellationToken)
    {
        var writeKey = before.WriteKey;
        if (update.WriteKey is not null)
        {
            writeKey = update.WriteKey.Trim();
            if (writeKey.Length == 0 || writeKey.Length > MaxWriteKeyLength || writeKey.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
            {
                return (null, new("invalid_write_key", "writeKey", $"The write key must be 1 to {MaxWriteKeyLength} characters with no spaces or control characters."));
            }
        }
        var (endpoint, endpointRefusal) = update.Endpoint is null ? (before.Endpoint, null)
            : update.Endpoint.Length == 0 ? (null, null)
            : await ParseEndpointAsync(update.Endpoint, cancellationToken);
        if (endpointRefusal is not null)
        {
            return (null, endpointRefusal);
        }
        var enabled = update.Enabled ?? before.Enabled;
        if (enabled && writeKey is null)
        {
            return (null, new("write_key_required", "writeKey", "Forwarding needs the source's write key: send 'writeKey' with 'enabled': true."));
        }
        var after = new ForwardingSettings(before.WorkspaceId, enabled, writeKey, endpoint, update.SuppressTransientFailures ?? before.SuppressTransientFailures,
            time.GetUtcNow(), $"{actor.Type}:{actor.Id}", before.LastFailure);
        var (from, to) = (store.EndpointOf(before), store.EndpointOf(after));
        var moved = ForwardingSettingsStore.Canonical(from) != ForwardingSettingsStore.Canonical(to);
        if (moved && before.WriteKey is not null && update.WriteKey is null)
        {
            // The key was given for the old endpoint. Any move needs it again, a path on the same
            // origin included: a shared host (a gateway, a request-bin service) gives each tenant a
            // path, so the origin alone does not say who receives the key.
            logger.LogWarning("Forwarding endpoint change of {WorkspaceId} by {ActorType} {ActorId} from {From} to {To} refused: no write key with it",
                before.WorkspaceId, actor.Type, actor.Id, from, to);
            return (null, new("write_key_required", "writeKey",
                $"The endpoint changes from {ForwardingSettingsStore.Canonical(from)} to {ForwardingSettingsStore.Canonical(to)}: send the source's write key again ('writeKey') in the same request. A stored key goes only to the endpoint it was given for."));
        }
        // A key sent now is bound to the endpoint it is sent with; otherwise the binding stays as it
        // was (the endpoint cannot have moved), so a row whose endpoint was changed behind the app's
        // back stays unbound until its owner sends the key again.
        return (after with { WriteKeyBinding = update.WriteKey is not null ? ForwardingSettingsStore.Bind(writeKey!, to) : before.WriteKeyBinding }, null);
    }

    private async Task<(Uri? Endpoint, SettingsRefusal? Refusal)> ParseEndpointAsync(string text, CancellationToken cancellationToken)
    {
        if (text.Length > 2048 || !Uri.TryCreate(text, UriKind.Absolute, out var uri))
        {
            return (null, new("invalid_endpoint", "endpoint", "The endpoint must be an absolute URL such as https://api.segment.io."));
        }
        var https = uri.Scheme == Uri.UriSchemeHttps;
        if (!https && !(uri.Scheme == Uri.UriSchemeHttp && store.Options.AllowHttpEndpoints))
        {
            return (null, new("invalid_endpoint", "endpoint", "The endpoint must use https, so the write key never travels in clear text."));
        }
        if (!string.IsNullOrEmpty(uri.UserInfo) || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
        {
            return (null, new("invalid_endpoint", "endpoint", "The endpoint is a base URL: no user name, password, query or fragment. Events are posted to its /v1/batch."));
        }
        if (!addresses.PortAllowed(uri.Port))
        {
            return (null, new("endpoint_port_not_allowed", "endpoint",
                $"The endpoint names port {uri.Port}; audit data is forwarded only to port {ForwardingAddressGuard.HttpsPort}. Leave the port out."));
        }
        if (addresses.Enabled && await CheckAddressesAsync(uri, cancellationToken) is { } refusal)
        {
            return (null, refusal);
        }
        return (new Uri(uri.GetLeftPart(UriPartial.Path).TrimEnd('/')), null);
    }

    /// <summary>Refuses an endpoint on an internal address now; the forwarder checks again at every connection, as DNS can change.</summary>
    private async Task<SettingsRefusal?> CheckAddressesAsync(Uri uri, CancellationToken cancellationToken)
    {
        try
        {
            await addresses.ResolvePublicAsync(uri.IdnHost, cancellationToken);
            return null;
        }
        catch (ForwardingEndpointRefusedException ex)
        {
            return new("endpoint_not_public", "endpoint", ex.Message);
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return new("endpoint_not_resolvable", "endpoint",
                $"The endpoint's host {uri.IdnHost} could not be resolved; check the name, or try again if its DNS is changing.");
        }
    }

    private JsonObject Event(ForwardingSettings before, ForwardingSettings after, bool writeKeyChanged, SettingsActor actor)
    {
        var changes = new JsonArray();
        void Change(string field, JsonNode? was, JsonNode? now)
        {
            if (!JsonNode.DeepEquals(was, now))
            {
                changes.Add(new JsonObject { ["field"] = field, ["before"] = was, ["after"] = now });
            }
        }
        Change("enabled", before.Enabled, after.Enabled);
        Change("endpoint", store.EndpointOf(before).ToString(), store.EndpointOf(after).ToString());
        Change("suppressTransientFailures", before.SuppressTransientFailures, after.SuppressTransientFailures);
        if (writeKeyChanged)
        {
            // The key itself is never written to the trail; only that it changed, and its hint.
            Change("writeKey", before.WriteKeyHint, after.WriteKeyHint);
        }
        var at = after.UpdatedAt!.Value;
        return new JsonObject
        {
            ["id"] = TrailRecordIds.New("audit-forwarding-settings", at.UtcTicks.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ["workspaceId"] = after.WorkspaceId,
            ["type"] = "Audit Forwarding Settings Changed",
            ["timestamp"] = at.ToString("O"),
            ["actor"] = new JsonObject { ["type"] = actor.Type, ["id"] = actor.Id },
            ["resource"] = new JsonObject { ["type"] = "audit-forwarding", ["id"] = after.WorkspaceId, ["name"] = "Audit forwarding" },
            ["changes"] = changes,
        };
    }
}
