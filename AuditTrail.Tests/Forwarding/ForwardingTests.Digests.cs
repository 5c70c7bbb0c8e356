using System.Net;
using System.Net.Http.Json;
using System.Text;
using AuditTrail.Core.Access;
using AuditTrail.Core.Integrity;
using AuditTrail.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Forwarding;

// In ForwardingTests, whose tests share the forward queue one after another: this one's app polls it.
public sealed partial class ForwardingTests
{
    [Fact]
    public async Task Each_sealed_digest_reaches_the_source_as_Audit_Digest_Sealed()
    {
        var clock = TestClock.AtTestTime();
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString, clock, settings: new Dictionary<string, string>
        {
            ["AuditTrail:Forwarding:AllowHttpEndpoints"] = "true",
            ["AuditTrail:Forwarding:PollQueue"] = "true",
            ["AuditTrail:Forwarding:MaxPollingInterval"] = "00:00:00.200",
            ["AuditTrail:Forwarding:SettingsCacheDuration"] = "00:00:00",
            ["AuditTrail:Integrity:SealDelay"] = "00:05:00",
        });
        using var http = app.CreateClient();
        var ws = TestEvents.NewWorkspaceId();
        var (_, token) = await app.Services.GetRequiredService<AccessTokenService>().CreateAsync(ws, Roles.Owner, null, "test", Ct);
        await using var receiver = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        var put = Request(HttpMethod.Put, $"/api/workspaces/{ws}/settings/audit-forwarding", token);
        put.Content = JsonContent.Create(new { enabled = true, writeKey = receiver.WriteKey, endpoint = receiver.Endpoint.ToString() });
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(put, Ct)).StatusCode);
        var post = Request(HttpMethod.Post, $"/api/workspaces/{ws}/audit-events", token);
        post.Content = new StringContent(TestEvents.Array(TestEvents.Event(ws, timestamp: clock.Now.AddMinutes(-1))), Encoding.UTF8, "application/json");
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(post, Ct)).StatusCode);

        clock.Now += TimeSpan.FromMinutes(6);
        var digest = Assert.Single((await app.Services.GetRequiredService<DigestSealer>().SealAsync(ws, Ct)).Digests);

        bool Arrived() => receiver.AcceptedCalls.Any(c => c.GetProperty("event").GetString() == DigestSealer.SealedEventType
                                                           && c.GetProperty("properties").GetProperty("workspaceId").GetString() == ws);
        for (var i = 0; i < 150 && !Arrived(); i++)
        {
            await Task.Delay(100, Ct);
        }
        var call = Assert.Single(receiver.AcceptedCalls, c => c.GetProperty("event").GetString() == DigestSealer.SealedEventType
                                                             && c.GetProperty("properties").GetProperty("workspaceId").GetString() == ws);
        var details = call.GetProperty("properties").GetProperty("details");
        Assert.Equal(digest.Jws, details.GetProperty("jws").GetString());
        Assert.Equal(digest.Payload.MerkleRoot, details.GetProperty("merkleRoot").GetString());
        Assert.Equal(digest.Hash, details.GetProperty("digestHash").GetString());
        Assert.Empty(receiver.Violations);
    }
}
