using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using AuditTrail.Core.Access;
using AuditTrail.Core.Forwarding;
using AuditTrail.Tests.Infrastructure;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AuditTrail.Tests.Forwarding;

/// <summary>
/// Issue 26, items 2 and 6: the write key goes only to the endpoint it was given for, and
/// forwarding reaches only global unicast addresses on port 443 (any port in development).
/// Part of <see cref="ForwardingTests"/>: they share the queue.
/// </summary>
public sealed partial class ForwardingTests
{
    public enum Move
    {
        /// <summary>Another host: an owner token would otherwise send the customer's key to a server of its choosing.</summary>
        OtherOrigin,

        /// <summary>Same scheme, host and port, another path: on a shared host that is another tenant.</summary>
        SameOriginOtherPath,

        /// <summary>Back to the default endpoint (<c>""</c>): still not where the key was given.</summary>
        BackToDefault,
    }

    [Theory]
    [InlineData(Move.OtherOrigin)]
    [InlineData(Move.SameOriginOtherPath)]
    [InlineData(Move.BackToDefault)]
    public async Task Moving_the_endpoint_without_the_write_key_is_refused_and_the_key_stays_where_it_was_given(Move move)
    {
        var (ws, token) = await NewWorkspaceAsync();
        await using var source = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        await using var elsewhere = await TrackingReceiver.StartAsync(source.WriteKey, Ct);
        await PutSettingsAsync(ws, token, new { enabled = true, writeKey = source.WriteKey, endpoint = source.Endpoint.ToString() });
        var target = move switch
        {
            Move.OtherOrigin => elsewhere.Endpoint.ToString(),
            Move.SameOriginOtherPath => new Uri(source.Endpoint, "/tenant-b").ToString(),
            _ => "",
        };

        var response = await SendSettingsAsync(ws, token, new { endpoint = target });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.Equal("write_key_required", problem.GetProperty("code").GetString());
        Assert.Equal("writeKey", problem.GetProperty("parameter").GetString());
        Assert.DoesNotContain(source.WriteKey, problem.GetRawText(), StringComparison.Ordinal);
        var settings = await GetJsonAsync($"/api/workspaces/{ws}/settings/audit-forwarding", token);
        Assert.Equal(Canonical(source.Endpoint), Canonical(new Uri(settings.GetProperty("endpoint").GetString()!)));
        var e = TestEvents.Event(ws);
        await IngestAsync(ws, token, [e]);
        await DrainAsync();
        Assert.Equal(0, elsewhere.Requests);
        Assert.Contains((string)e["id"]!, source.DistinctByMessageId.Keys);
        var recorded = await GetJsonAsync($"/api/workspaces/{ws}/audit-events?type=Audit%20Forwarding%20Settings%20Changed", token);
        Assert.Single(recorded.GetProperty("value").EnumerateArray()); // the refused change left no record of a change
    }

    [Fact]
    public async Task Moving_the_endpoint_with_the_write_key_is_allowed_and_recorded_with_the_old_and_new_endpoint()
    {
        var (ws, token) = await NewWorkspaceAsync();
        await using var source = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        await using var next = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        await PutSettingsAsync(ws, token, new { enabled = true, writeKey = source.WriteKey, endpoint = source.Endpoint.ToString() });

        await PutSettingsAsync(ws, token, new { endpoint = next.Endpoint.ToString(), writeKey = next.WriteKey });
        // Naming the endpoint it already has (a trailing slash aside) is no move and needs no key.
        await PutSettingsAsync(ws, token, new { endpoint = Canonical(next.Endpoint) + "/", suppressTransientFailures = true });

        var page = await GetJsonAsync($"/api/workspaces/{ws}/audit-events?type=Audit%20Forwarding%20Settings%20Changed", token);
        var moved = page.GetProperty("value").EnumerateArray()
            .Select(r => r.GetProperty("changes").EnumerateArray().SingleOrDefault(c => c.GetProperty("field").GetString() == "endpoint"))
            .Single(c => c.ValueKind == JsonValueKind.Object && c.GetProperty("before").GetString()!.Contains(source.Endpoint.Authority, StringComparison.Ordinal));
        Assert.Equal(Canonical(source.Endpoint), Canonical(new Uri(moved.GetProperty("before").GetString()!)));
        Assert.Equal(Canonical(next.Endpoint), Canonical(new Uri(moved.GetProperty("after").GetString()!)));
        var e = TestEvents.Event(ws);
        await IngestAsync(ws, token, [e]);
        await DrainAsync();
        Assert.Contains((string)e["id"]!, next.DistinctByMessageId.Keys);
        Assert.DoesNotContain((string)e["id"]!, source.DistinctByMessageId.Keys);
        Assert.Equal(0, next.Unauthorized);
    }

    public enum StoredChange
    {
        /// <summary>Someone who can write the settings row but not read it (a write-only SAS) points it elsewhere.</summary>
        EndpointRewritten,

        /// <summary>A row without a binding, as written before the binding existed.</summary>
        BindingRemoved,
    }

    [Theory]
    [InlineData(StoredChange.EndpointRewritten)]
    [InlineData(StoredChange.BindingRemoved)]
    public async Task The_forwarder_sends_the_key_only_to_the_endpoint_it_was_given_for_whatever_the_stored_row_says(StoredChange change)
    {
        var (ws, token) = await NewWorkspaceAsync();
        await using var source = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        await using var elsewhere = await TrackingReceiver.StartAsync(source.WriteKey, Ct);
        await PutSettingsAsync(ws, token, new { enabled = true, writeKey = source.WriteKey, endpoint = source.Endpoint.ToString() });
        await DrainAsync();
        var before = source.Requests;
        var table = _app.Services.GetRequiredService<TableServiceClient>().GetTableClient(ForwardingSettingsStore.TableName);
        var row = (await table.GetEntityAsync<TableEntity>(ws, "settings", cancellationToken: Ct)).Value;
        if (change == StoredChange.EndpointRewritten)
        {
            // A merge that names only the endpoint: the writer never saw the key.
            await table.UpdateEntityAsync(new TableEntity(ws, "settings") { ["Endpoint"] = Canonical(elsewhere.Endpoint) }, row.ETag, TableUpdateMode.Merge, Ct);
        }
        else
        {
            row.Remove("WriteKeyBinding");
            await table.UpdateEntityAsync(row, row.ETag, TableUpdateMode.Replace, Ct);
        }
        var events = Enumerable.Range(0, 3).Select(_ => TestEvents.Event(ws)).ToList();
        await IngestAsync(ws, token, events);

        await DrainAsync();

        Assert.Equal(0, elsewhere.Requests);
        Assert.Equal(before, source.Requests);
        var failure = (await GetJsonAsync($"/api/workspaces/{ws}/settings/audit-forwarding", token)).GetProperty("lastFailure");
        Assert.Equal(0, failure.GetProperty("status").GetInt32());
        Assert.Contains("write key was not given for", failure.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains(ws, await ForwardDeadLettersOfTodayAsync(_app), StringComparison.Ordinal);
        Assert.DoesNotContain(_logs.Lines, l => l.Contains(source.WriteKey, StringComparison.Ordinal));

        // A resend before the key is given again would only be refused again.
        var early = await _http.SendAsync(Request(HttpMethod.Post, $"/api/workspaces/{ws}/settings/audit-forwarding/resend", token), Ct);
        Assert.Equal(HttpStatusCode.BadRequest, early.StatusCode);
        Assert.Equal("write_key_required", (await early.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("code").GetString());

        // The owner sends the key with the endpoint it is meant for, and the refused forward is resent there.
        await PutSettingsAsync(ws, token, new { endpoint = source.Endpoint.ToString(), writeKey = source.WriteKey });
        var resend = await _http.SendAsync(Request(HttpMethod.Post, $"/api/workspaces/{ws}/settings/audit-forwarding/resend", token), Ct);
        Assert.Equal(HttpStatusCode.Accepted, resend.StatusCode);
        await DrainAsync();
        Assert.Subset(source.DistinctByMessageId.Keys.ToHashSet(), events.Select(e => (string)e["id"]!).ToHashSet());
        Assert.Equal(0, elsewhere.Requests);
    }

    /// <summary>Every address of issue 26 item 6, and representative entries of IANA's special-purpose registries.</summary>
    [Theory]
    [InlineData("168.63.129.16", "Azure platform")]
    [InlineData("2002:a00:1::", "private")] // 6to4 of 10.0.0.1
    [InlineData("2002:808:808::1", "6to4")] // 6to4 of a public address: still a relay's choice
    [InlineData("64:ff9b:1::a00:1", "NAT64 (local-use)")]
    [InlineData("64:ff9b::808:808", "NAT64")]
    [InlineData("::ffff:0:0", "unspecified")] // IPv4-mapped 0.0.0.0: named by what it embeds
    [InlineData("::ffff:8.8.8.8", "IPv4-mapped")]
    [InlineData("::8.8.8.8", "IPv4-compatible")]
    [InlineData("100::", "discard-only")]
    [InlineData("100::ffff:ffff:ffff:ffff", "discard-only")]
    [InlineData("2001:db8::1", "documentation")]
    [InlineData("2001:db8:ffff::", "documentation")]
    [InlineData("192.0.2.1", "documentation")]
    [InlineData("198.51.100.7", "documentation")]
    [InlineData("203.0.113.7", "documentation")]
    [InlineData("2001:0:4136:e378:8000:63bf:f7f7:f7f7", "Teredo")] // server 65.54.227.120, client 8.8.8.8: public both, still a relay's choice
    [InlineData("2001:0:4136:e378:8000:63bf:f5ff:fffe", "private")] // Teredo, client 10.0.0.1 inverted
    [InlineData("2001:2::1", "reserved")] // benchmarking [RFC 5180]
    [InlineData("2001:1::1", "reserved")] // PCP anycast: global in the registry, never a source
    [InlineData("3fff::1", "documentation")]
    [InlineData("5f00::1", "reserved")]
    [InlineData("fec0::1", "site-local")]
    [InlineData("4000::1", "not global unicast")]
    [InlineData("1::1", "not global unicast")]
    [InlineData("192.0.0.9", "reserved")]
    [InlineData("192.0.0.170", "reserved")]
    [InlineData("192.88.99.1", "6to4 relay anycast")]
    [InlineData("198.18.0.1", "benchmarking")]
    [InlineData("198.19.255.255", "benchmarking")]
    [InlineData("240.0.0.1", "reserved")]
    [InlineData("239.255.255.250", "multicast")]
    [InlineData("0.1.2.3", "unspecified")]
    [InlineData("100.127.255.255", "shared (carrier-grade NAT)")]
    public void Addresses_outside_global_unicast_are_refused_by_kind(string address, string kind)
    {
        Assert.Equal(kind, ForwardingAddressGuard.NonPublicKind(IPAddress.Parse(address)));
    }

    [Theory]
    [InlineData("1.1.1.1")]
    [InlineData("8.8.8.8")]
    [InlineData("168.63.129.15")]
    [InlineData("168.63.129.17")]
    [InlineData("192.0.1.255")]
    [InlineData("192.0.3.0")]
    [InlineData("198.51.99.255")]
    [InlineData("203.0.114.0")]
    [InlineData("192.31.196.1")] // AS112-v4: globally reachable in the registry
    [InlineData("2606:4700:4700::1111")]
    [InlineData("2a00:1450:4001:82b::200e")]
    [InlineData("2001:db9::1")]
    [InlineData("2001:200::1")] // just past 2001::/23
    [InlineData("2003::1")]
    [InlineData("2620:4f:8000::1")] // AS112 direct delegation: globally reachable in the registry
    [InlineData("3fff:1000::1")] // just past 3fff::/20
    public void Global_unicast_addresses_are_public(string address)
    {
        Assert.Null(ForwardingAddressGuard.NonPublicKind(IPAddress.Parse(address)));
    }

    [Fact]
    public async Task Endpoints_on_the_issue_26_addresses_are_refused_when_saved() =>
        await AssertRefusedWhenSavedAsync(
        [
            "https://168.63.129.16", "https://[2002:a00:1::]", "https://[64:ff9b:1::a00:1]", "https://[::ffff:8.8.8.8]", "https://[100::1]",
            "https://[2001:db8::1]", "https://192.0.2.10", "https://198.51.100.10", "https://203.0.113.10", "https://[2001::1]", "https://[::8.8.8.8]",
        ]);

    [Fact]
    public async Task Under_the_Functions_host_an_endpoint_on_a_port_other_than_443_is_refused_when_saved_and_at_connect_time()
    {
        var dns = new PlayedDns();
        dns.Answers["source.example"] = [IPAddress.Parse("8.8.8.8")];
        await using var hosted = new AuditTrailAppFactory(azurite.ConnectionString, settings: AuditTrailAppFactory.UnderFunctionsHost(),
            services: s => s.Replace(ServiceDescriptor.Singleton<IForwardingHostResolver>(dns)));
        using var http = hosted.CreateClient();
        Assert.Equal("CustomHandler", (await http.GetFromJsonAsync<JsonElement>("/api/status", Ct)).GetProperty("mode").GetString());
        var ws = TestEvents.NewWorkspaceId();
        var (_, token) = await hosted.Services.GetRequiredService<AccessTokenService>().CreateAsync(ws, Roles.Owner, null, "test", Ct);
        async Task<HttpResponseMessage> PutAsync(string endpoint)
        {
            var request = Request(HttpMethod.Put, $"/api/workspaces/{ws}/settings/audit-forwarding", token);
            request.Content = JsonContent.Create(new { enabled = true, writeKey = "wk_1", endpoint });
            return await http.SendAsync(request, Ct);
        }

        foreach (var endpoint in new[] { "https://source.example:8443", "https://source.example:80", "https://source.example:22/" })
        {
            var refused = await PutAsync(endpoint);
            Assert.True(refused.StatusCode == HttpStatusCode.BadRequest, $"{endpoint} answered {refused.StatusCode}");
            var problem = await refused.Content.ReadFromJsonAsync<JsonElement>(Ct);
            Assert.Equal("endpoint_port_not_allowed", problem.GetProperty("code").GetString());
            Assert.Equal("endpoint", problem.GetProperty("parameter").GetString());
        }
        Assert.Equal(HttpStatusCode.OK, (await PutAsync("https://source.example:443")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await PutAsync("https://source.example")).StatusCode);

        // At connect time too (an endpoint that never passed the settings check: a default, an old row): refused before any lookup or connection.
        dns.Asked.Clear();
        var client = hosted.Services.GetRequiredService<IHttpClientFactory>().CreateClient(EventForwarder.HttpClientName);
        var failure = await Assert.ThrowsAsync<HttpRequestException>(() => client.PostAsync(new Uri("https://source.example:8443/v1/batch"), new StringContent("{}"), Ct));
        var refusedAtConnect = Assert.IsType<ForwardingEndpointRefusedException>(Inner(failure).OfType<ForwardingEndpointRefusedException>().FirstOrDefault());
        Assert.Equal("port", refusedAtConnect.Kind);
        Assert.Empty(dns.Asked);
    }

    [Fact]
    public async Task In_development_an_endpoint_may_name_any_port()
    {
        var dns = new PlayedDns();
        dns.Answers["source.example"] = [IPAddress.Parse("8.8.8.8")];
        await using var standalone = new AuditTrailAppFactory(azurite.ConnectionString, services: s => s.Replace(ServiceDescriptor.Singleton<IForwardingHostResolver>(dns)));
        using var http = standalone.CreateClient();
        var ws = TestEvents.NewWorkspaceId();
        var (_, token) = await standalone.Services.GetRequiredService<AccessTokenService>().CreateAsync(ws, Roles.Owner, null, "test", Ct);
        var request = Request(HttpMethod.Put, $"/api/workspaces/{ws}/settings/audit-forwarding", token);
        request.Content = JsonContent.Create(new { enabled = true, writeKey = "wk_1", endpoint = "https://source.example:8443" });

        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(request, Ct)).StatusCode);
    }

    /// <summary>An endpoint as the app compares them: without a trailing slash.</summary>
    private static string Canonical(Uri endpoint) => endpoint.GetLeftPart(UriPartial.Path).TrimEnd('/');

    private static IEnumerable<Exception> Inner(Exception e)
    {
        for (var x = e.InnerException; x is not null; x = x.InnerException)
        {
            yield return x;
        }
    }

    private async Task<HttpResponseMessage> SendSettingsAsync(string ws, string token, object settings)
    {
        var request = Request(HttpMethod.Put, $"/api/workspaces/{ws}/settings/audit-forwarding", token);
        request.Content = JsonContent.Create(settings);
        return await _http.SendAsync(request, Ct);
    }
}
