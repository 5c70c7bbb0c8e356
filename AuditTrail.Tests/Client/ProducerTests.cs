extern alias client;
using System.Text;
using System.Text.Json;
using Azure.Messaging.EventHubs;
using Azure.Messaging.EventHubs.Producer;
using client::AuditTrail.Client;
using Moq;

namespace AuditTrail.Tests.Client;

/// <summary>The producer's batching, partition keys, retries and validation, against a fake door.</summary>
public sealed class ProducerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed class FakeTransport(int maxEvents = 1000, long maxBytes = 4 * 1024 * 1024) : IAuditEventTransport
    {
        public int MaxEventsPerSend => maxEvents;
        public long MaxBytesPerSend => maxBytes;
        public int BytesPerEvent => 1;

        /// <summary>Failures to throw, one per call, before calls succeed.</summary>
        public Queue<Exception> Failures { get; } = new();

        public List<(string WorkspaceId, IReadOnlyList<EncodedEvent> Events)> Calls { get; } = [];

        public Task<SendReport> SendAsync(string workspaceId, IReadOnlyList<EncodedEvent> events, CancellationToken cancellationToken)
        {
            Calls.Add((workspaceId, events.ToList()));
            if (Failures.TryDequeue(out var failure))
            {
                throw failure;
            }
            return Task.FromResult(new SendReport(events.Count, events.Count, 0, []));
        }
    }

    private static readonly AuditTrailProducerOptions NoWait = new() { RetryDelay = TimeSpan.Zero, MaxRetryDelay = TimeSpan.Zero };

    private static NewAuditEvent Event(string workspaceId, int n, int padding = 0) =>
        NewAuditEvent.Create(workspaceId, "source modified", ActorRef.User("usr_" + n), new ResourceRef("source", "src_" + n, padding > 0 ? new string('x', padding) : null), id: $"evt_{n:D4}");

    [Fact]
    public async Task Batches_stay_under_the_doors_count_and_byte_limits_and_keep_the_order()
    {
        var one = Event("ws_a", 0, padding: 400).ToUtf8Json().Length + 1;
        var fake = new FakeTransport(maxEvents: 4, maxBytes: (one * 3) + 10);
        var events = Enumerable.Range(0, 10).Select(i => Event("ws_a", i, padding: 400)).ToList();

        var result = await new AuditTrailProducer(fake, NoWait).SendAsync(events, Ct);

        Assert.Equal([3, 3, 3, 1], fake.Calls.Select(c => c.Events.Count));
        Assert.All(fake.Calls, c => Assert.True(c.Events.Sum(e => e.Json.Length + 1) <= (one * 3) + 10));
        Assert.Equal(events.Select(e => e.Id), fake.Calls.SelectMany(c => c.Events).Select(e => e.Id));
        Assert.Equal((10, 4, 0), (result.Sent, result.Batches, result.Retries));

        var byCount = new FakeTransport(maxEvents: 4);
        await new AuditTrailProducer(byCount, NoWait).SendAsync(events, Ct);
        Assert.Equal([4, 4, 2], byCount.Calls.Select(c => c.Events.Count));
    }

    [Fact]
    public async Task Each_batch_holds_one_workspace_whose_events_keep_their_order()
    {
        var fake = new FakeTransport();
        var events = new[] { Event("ws_a", 1), Event("ws_b", 2), Event("ws_a", 3), Event("ws_b", 4), Event("ws_c", 5) };

        await new AuditTrailProducer(fake, NoWait).SendAsync(events, Ct);

        Assert.Equal(["ws_a", "ws_b", "ws_c"], fake.Calls.Select(c => c.WorkspaceId));
        Assert.Equal(["evt_0001", "evt_0003"], fake.Calls[0].Events.Select(e => e.Id));
        Assert.All(fake.Calls, c => Assert.All(c.Events, e => Assert.Contains($"\"workspaceId\":\"{c.WorkspaceId}\"", Encoding.UTF8.GetString(e.Json.Span), StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_transient_failure_is_retried_with_the_same_bytes_and_event_ids()
    {
        var fake = new FakeTransport();
        fake.Failures.Enqueue(new AuditTrailTransientException("503 storage_unavailable"));
        fake.Failures.Enqueue(new AuditTrailTransientException("connection reset"));
        var events = Enumerable.Range(0, 3).Select(i => Event("ws_a", i)).ToList();

        var result = await new AuditTrailProducer(fake, NoWait).SendAsync(events, Ct);

        Assert.Equal((3, 1, 2), (fake.Calls.Count, result.Batches, result.Retries));
        var first = fake.Calls[0].Events;
        Assert.All(fake.Calls, c => Assert.Equal(first.Select(e => (e.Id, Convert.ToBase64String(e.Json.Span))), c.Events.Select(e => (e.Id, Convert.ToBase64String(e.Json.Span)))));
    }

    [Fact]
    public async Task A_batch_that_keeps_failing_gives_up_after_the_last_try_and_says_what_was_sent()
    {
        var fake = new FakeTransport(maxEvents: 2);
        var events = Enumerable.Range(0, 4).Select(i => Event("ws_a", i)).ToList();
        // The first batch goes through; the second fails on every try.
        var sends = 0;
        var failing = new FailingAfter(fake, () => ++sends > 1);

        var ex = await Assert.ThrowsAsync<AuditTrailSendException>(() => new AuditTrailProducer(failing, NoWait with { MaxAttempts = 3 }).SendAsync(events, Ct));

        Assert.Equal(2, ex.EventsSent);
        Assert.Equal(1 + 3, sends);
    }

    private sealed class FailingAfter(FakeTransport inner, Func<bool> fail) : IAuditEventTransport
    {
        public int MaxEventsPerSend => inner.MaxEventsPerSend;
        public long MaxBytesPerSend => inner.MaxBytesPerSend;
        public int BytesPerEvent => inner.BytesPerEvent;

        public Task<SendReport> SendAsync(string workspaceId, IReadOnlyList<EncodedEvent> events, CancellationToken cancellationToken) =>
            fail() ? throw new AuditTrailTransientException("still down") : inner.SendAsync(workspaceId, events, cancellationToken);
    }

    [Fact]
    public async Task A_refusal_that_is_not_transient_is_not_retried()
    {
        var fake = new FakeTransport();
        fake.Failures.Enqueue(new AuditTrailForbiddenException("insufficient_role", "Forbidden", "needs owner or ingest"));

        var ex = await Assert.ThrowsAsync<AuditTrailForbiddenException>(() => new AuditTrailProducer(fake, NoWait).SendAsync(Event("ws_a", 1), Ct));

        Assert.Equal("insufficient_role", ex.Code);
        Assert.Single(fake.Calls);
    }

    [Theory]
    [InlineData("actor type", "invalid_actor_type", "actor.type")]
    [InlineData("blank resource id", "empty_field", "resource.id")]
    [InlineData("future", "timestamp_in_future", "timestamp")]
    [InlineData("bad ip", "invalid_ip", "context.ip")]
    [InlineData("bad workspace", "invalid_workspace_id", "workspaceId")]
    public async Task An_event_the_trail_would_refuse_is_refused_before_anything_is_sent(string what, string code, string field)
    {
        var fake = new FakeTransport();
        var valid = Event("ws_a", 1);
        var bad = what switch
        {
            "actor type" => valid with { Actor = new ActorRef("robot", "r2d2") },
            "blank resource id" => valid with { Resource = new ResourceRef("source", "   ") },
            "future" => valid with { Timestamp = DateTimeOffset.UtcNow.AddHours(1) },
            "bad ip" => valid.WithContext(ip: "127.1"),
            _ => valid with { WorkspaceId = "ws/other" },
        };

        var ex = await Assert.ThrowsAsync<AuditEventRejectedException>(() => new AuditTrailProducer(fake, NoWait).SendAsync([valid, bad], Ct));

        Assert.Equal((1, code, field), (ex.Index, ex.Code, ex.Field));
        Assert.Empty(fake.Calls);
    }

    [Fact]
    public void The_builder_takes_the_catalogs_spelling_and_refuses_an_uncataloged_type_unless_asked()
    {
        var e = NewAuditEvent.Create("ws_a", "SOURCE MODIFIED", ActorRef.Token("tok_ci"), new ResourceRef("source", "src_1"));

        Assert.Equal("Source Modified", e.Type);
        Assert.StartsWith("evt_", e.Id, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => NewAuditEvent.Create("ws_a", "Made Up Thing", ActorRef.Token("tok_ci"), new ResourceRef("source", "src_1")));
        Assert.Equal("Made Up Thing", NewAuditEvent.Create("ws_a", "Made Up Thing", ActorRef.Token("tok_ci"), new ResourceRef("source", "src_1"), allowUncataloged: true).Type);
        var json = JsonDocument.Parse(e.WithChange("enabled", true, false).WithProperty("reason", "maintenance").ToUtf8Json()).RootElement;
        Assert.False(json.GetProperty("changes")[0].GetProperty("after").GetBoolean());
        Assert.Equal("maintenance", json.GetProperty("properties").GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Over_Event_Hubs_each_batch_has_the_workspace_as_partition_key_and_one_message_per_event()
    {
        var batches = new List<(CreateBatchOptions Options, List<EventData> Events)>();
        var hub = new Mock<EventHubProducerClient>();
        hub.Setup(h => h.CreateBatchAsync(It.IsAny<CreateBatchOptions>(), It.IsAny<CancellationToken>()))
            .Returns((CreateBatchOptions options, CancellationToken _) =>
            {
                var events = new List<EventData>();
                batches.Add((options, events));
                return ValueTask.FromResult(EventHubsModelFactory.EventDataBatch(1024 * 1024, events, options));
            });
        var sent = 0;
        hub.Setup(h => h.SendAsync(It.IsAny<EventDataBatch>(), It.IsAny<CancellationToken>()))
            .Returns(() => ++sent == 1 ? throw new EventHubsException(true, "audit-events", "server busy", EventHubsException.FailureReason.ServiceBusy) : Task.CompletedTask);
        var events = new[] { Event("ws_a", 1), Event("ws_b", 2), Event("ws_a", 3) };

        var result = await AuditTrailProducer.ForEventHubs(hub.Object, NoWait).SendAsync(events, Ct);

        // The first send failed transiently and was tried again in a new batch of the same events.
        Assert.Equal(["ws_a", "ws_a", "ws_b"], batches.Select(b => b.Options.PartitionKey));
        Assert.Equal(["evt_0001", "evt_0003"], batches[1].Events.Select(e => e.MessageId));
        Assert.Equal(batches[0].Events.Select(e => e.EventBody.ToString()), batches[1].Events.Select(e => e.EventBody.ToString()));
        Assert.Equal((3, 1), (result.Sent, result.Retries));
    }
}
