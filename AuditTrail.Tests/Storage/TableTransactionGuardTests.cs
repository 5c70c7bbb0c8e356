using System.Text.Json.Nodes;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using AuditTrail.Tests.Infrastructure;
using Azure.Data.Tables;

namespace AuditTrail.Tests.Storage;

/// <summary>
/// What Azure enforces on an entity-group transaction and neither Azurite nor the table client
/// checks, held by <see cref="TableTransactions"/> before anything is sent; and the size it
/// measures, against the bytes the client really sends.
/// </summary>
public sealed class TableTransactionGuardTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly RecordingHandler _wire = new(new SocketsHttpHandler());
    private readonly AuditTrail.TestSupport.RegisteredStorage _clients;
    private readonly TableClient _table;
    private readonly string _pk = "pk_" + Guid.NewGuid().ToString("N");

    public TableTransactionGuardTests(AzuriteFixture azurite)
    {
        _clients = azurite.CreateClients(_wire);
        _table = _clients.Tables.GetTableClient("GuardTests");
    }

    public void Dispose() => _clients.Dispose();

    private static TableTransactionAction Add(string pk, string rk, params (string Name, object? Value)[] properties) =>
        new(TableTransactionActionType.Add, TableRows.Create(pk, rk, properties));

    private int Transactions => _wire.Requests.Count(r => r.Uri.AbsolutePath.EndsWith("/$batch", StringComparison.Ordinal));

    [Fact]
    public async Task A_transaction_across_partitions_is_refused_before_it_is_sent()
    {
        await _table.CreateIfNotExistsAsync(Ct);
        // Azurite would commit both; Azure refuses the whole transaction.
        List<TableTransactionAction> actions = [Add(_pk, "1"), Add(_pk + "x", "2")];

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => _table.SubmitAsync(actions, Ct));

        Assert.Contains("one PartitionKey", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, Transactions);
        Assert.Empty(await _table.PartitionAsync(_pk, Ct));
    }

    [Fact]
    public async Task A_transaction_of_101_actions_or_with_a_row_twice_is_refused_before_it_is_sent()
    {
        await _table.CreateIfNotExistsAsync(Ct);
        var tooMany = Enumerable.Range(0, 101).Select(i => Add(_pk, $"r{i}")).ToList();
        List<TableTransactionAction> repeated = [Add(_pk, "same"), new(TableTransactionActionType.UpsertReplace, new TableEntity(_pk, "same"))];

        Assert.Contains("1 to 100 actions", (await Assert.ThrowsAsync<ArgumentException>(() => _table.SubmitAsync(tooMany, Ct))).Message, StringComparison.Ordinal);
        Assert.Contains("appears twice", (await Assert.ThrowsAsync<ArgumentException>(() => _table.SubmitAsync(repeated, Ct))).Message, StringComparison.Ordinal);
        Assert.Equal(0, Transactions);
        Assert.Empty(await _table.PartitionAsync(_pk, Ct));
    }

    [Fact]
    public async Task A_transaction_over_4_MiB_is_refused_before_it_is_sent_and_one_just_under_is_stored()
    {
        await _table.CreateIfNotExistsAsync(Ct);
        // 30,000 characters of text, 60 KB of UTF-16 in the table, about 30 KB of JSON each.
        var text = new string('x', 30_000);
        var over = Enumerable.Range(0, 100).Select(i => Add(_pk, $"big{i:D3}", ("A", text), ("B", text))).ToList();
        var under = over.Take(65).ToList();

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => _table.SubmitAsync(over, Ct));
        await _table.SubmitAsync(under, Ct);

        Assert.Contains("limit is 4194304", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, Transactions);
        Assert.Equal(65, (await _table.PartitionAsync(_pk, Ct, "RowKey")).Count);
    }

    public static TheoryData<string> Shapes() => ["ascii", "escaped", "typed", "event rows", "hostile keys"];

    [Theory]
    [MemberData(nameof(Shapes))]
    public async Task The_measured_size_is_never_below_what_the_client_sends_and_close_to_it(string shape)
    {
        await _table.CreateIfNotExistsAsync(Ct);
        var actions = Actions(shape);

        await _table.SubmitAsync(actions, Ct);

        var sent = _wire.Requests.Single(r => r.Uri.AbsolutePath.EndsWith("/$batch", StringComparison.Ordinal)).ContentLength!.Value;
        var measured = actions.Sum(a => TableTransactions.Measure(a, _table.Uri));
        Assert.True(measured >= sent, $"{shape}: measured {measured} bytes, the client sent {sent}.");
        // An upper bound that wastes no more than a kilobyte an action (the fixed part allows for a long endpoint).
        Assert.True(measured - sent <= 1024L * actions.Count, $"{shape}: measured {measured} bytes for {sent} sent.");
    }

    private List<TableTransactionAction> Actions(string shape)
    {
        switch (shape)
        {
            case "ascii":
                return Enumerable.Range(0, 20).Select(i => Add(_pk, $"a{i}", ("Text", new string('a', 5000)), ("N", i))).ToList();
            case "escaped":
                // Every character the client's JSON writer escapes: non-ASCII, HTML-sensitive, quotes, controls, surrogate pairs.
                var nasty = string.Concat(Enumerable.Repeat("é☃😀<>&'\"\\\u0001+`", 400));
                return Enumerable.Range(0, 10).Select(i => Add(_pk, $"e{i}", ("Text", nasty), ("Name", "Zoë"))).ToList();
            case "typed":
                return Enumerable.Range(0, 10).Select(i => Add(_pk, $"t{i}",
                    ("Long", long.MinValue), ("Int", int.MaxValue), ("Double", -1.2345678901234567e-300), ("Flag", true), ("Id", Guid.NewGuid()),
                    ("When", DateTimeOffset.UtcNow), ("Bytes", new byte[3000]), ("Null", null))).ToList();
            case "event rows":
                var now = DateTimeOffset.UtcNow;
                return Enumerable.Range(0, 6).SelectMany(i =>
                {
                    var json = TestEvents.Event("ws_guard", $"evt_{i}_ü/#?", timestamp: now.AddSeconds(-i), actorId: "usr_\"ö\"");
                    json["properties"] = new JsonObject { ["note"] = new string('€', 2000), ["html"] = "<b>&</b>" };
                    var e = AuditEventReader.Read(RawEvent.FromText(json.ToJsonString()), 0, null, now).Event!;
                    var rows = EventRows.Create(e, EventRows.ContentHash(e), now, IngestDoors.Http);
                    foreach (var row in rows)
                    {
                        row.PartitionKey = _pk; // this test's own partition
                    }
                    return rows.Select(row => new TableTransactionAction(TableTransactionActionType.UpsertReplace, row));
                }).ToList();
            default:
                return Enumerable.Range(0, 10).Select(i => Add(_pk, $"k'{i}'~ é 😀 (x) %2F {i}", ("V", i))).ToList();
        }
    }
}
