using AuditTrail.Core.Storage;
using AuditTrail.Tests.Infrastructure;

namespace AuditTrail.Tests.Storage;

/// <summary>The Table REST client against Azurite: signing, types, paging, transactions, errors.</summary>
public sealed class TableClientTests(AzuriteFixture azurite) : IDisposable
{
    private readonly StorageClients _clients = azurite.CreateClients();
    private readonly string _pk = "pk_" + Guid.NewGuid().ToString("N");

    private async Task<TableClient> TableAsync()
    {
        var table = _clients.GetTable("ClientTests");
        await table.CreateIfNotExistsAsync(TestContext.Current.CancellationToken);
        return table;
    }

    public void Dispose() => _clients.Dispose();

    [Fact]
    public async Task Rows_sharing_properties_are_stored_alike_and_a_change_to_one_never_reaches_the_other()
    {
        var table = await TableAsync();
        var ct = TestContext.Current.CancellationToken;
        var at = new DateTimeOffset(2026, 11, 23, 9, 30, 0, TimeSpan.Zero);
        var primary = new TableEntity(_pk, "e_1") { ["Name"] = "Ada", ["At"] = at, ["Count"] = 3 };
        var index = primary.WithKeys(_pk, "a_1");

        index["Name"] = "Bob";          // copy on write: the primary keeps Ada
        var second = primary.WithKeys(_pk, "t_1");
        primary["Count"] = 4;           // and the primary's change reaches neither copy
        await table.SubmitTransactionAsync([new TableTransactionAction(TableTransactionActionType.UpsertReplace, primary), new TableTransactionAction(TableTransactionActionType.UpsertReplace, index), new TableTransactionAction(TableTransactionActionType.UpsertReplace, second)], ct);

        var stored = new Dictionary<string, TableEntity>();
        foreach (var rk in new[] { "e_1", "a_1", "t_1" })
        {
            stored[rk] = (await table.GetEntityAsync(_pk, rk, ct))!;
        }
        Assert.Equal(("Ada", 4), (stored["e_1"].GetString("Name"), stored["e_1"].GetInt32("Count")));
        Assert.Equal(("Bob", 3), (stored["a_1"].GetString("Name"), stored["a_1"].GetInt32("Count")));
        Assert.Equal(("Ada", 3), (stored["t_1"].GetString("Name"), stored["t_1"].GetInt32("Count")));
        Assert.All(stored.Values, e => Assert.Equal(at, e.GetDateTimeOffset("At")));
    }

    [Fact]
    public async Task Merge_inserts_then_changes_only_the_properties_it_carries()
    {
        var table = await TableAsync();
        var ct = TestContext.Current.CancellationToken;
        await table.MergeEntityAsync(new TableEntity(_pk, "merged") { ["Key"] = "k1", ["Enabled"] = true }, ct);

        await table.UpsertEntityAsync(new TableEntity(_pk, "merged") { ["Key"] = "k2", ["Enabled"] = true }, ct); // an owner's change
        await table.MergeEntityAsync(new TableEntity(_pk, "merged") { ["Failure"] = 400 }, ct);               // a concurrent note

        var read = await table.GetEntityAsync(_pk, "merged", ct);
        Assert.Equal(("k2", true, 400), (read!.GetString("Key"), read.GetBoolean("Enabled"), read.GetInt32("Failure")));
    }

    [Fact]
    public async Task Typed_properties_round_trip()
    {
        var table = await TableAsync();
        var when = new DateTimeOffset(2026, 11, 23, 9, 30, 15, TimeSpan.Zero).AddTicks(1234567);
        var id = Guid.NewGuid();
        var entity = new TableEntity(_pk, "typed")
        {
            ["Text"] = "héllo \"quoted\" 'single' ☃",
            ["Big"] = long.MaxValue,
            ["Small"] = 42,
            ["Flag"] = true,
            ["Ratio"] = 0.25,
            ["When"] = when,
            ["Id"] = id,
            ["Bytes"] = new byte[] { 0, 1, 2, 255 },
        };
        await table.AddEntityAsync(entity, TestContext.Current.CancellationToken);

        var read = await table.GetEntityAsync(_pk, "typed", TestContext.Current.CancellationToken);

        Assert.NotNull(read);
        Assert.Equal("héllo \"quoted\" 'single' ☃", read.GetString("Text"));
        Assert.Equal(long.MaxValue, read.GetInt64("Big"));
        Assert.Equal(42, read.GetInt32("Small"));
        Assert.True(read.GetBoolean("Flag"));
        Assert.Equal(0.25, read["Ratio"]);
        Assert.Equal(when, read.GetDateTimeOffset("When"));
        Assert.Equal(id, read["Id"]);
        Assert.Equal(new byte[] { 0, 1, 2, 255 }, (byte[])read["Bytes"]!);
        Assert.NotNull(read.ETag);
        Assert.NotNull(read.Timestamp);
    }

    [Fact]
    public async Task Inserting_an_existing_entity_throws_409_EntityAlreadyExists()
    {
        var table = await TableAsync();
        await table.AddEntityAsync(new TableEntity(_pk, "dup"), TestContext.Current.CancellationToken);

        var ex = await Assert.ThrowsAsync<StorageRequestException>(() => table.AddEntityAsync(new TableEntity(_pk, "dup"), TestContext.Current.CancellationToken));

        Assert.Equal(409, ex.Status);
        Assert.Equal("EntityAlreadyExists", ex.ErrorCode);
        Assert.False(ex.IsTransient);
    }

    [Fact]
    public async Task Missing_entity_reads_as_null_and_deletes_as_false()
    {
        var table = await TableAsync();

        Assert.Null(await table.GetEntityAsync(_pk, "nothing", TestContext.Current.CancellationToken));
        Assert.False(await table.DeleteEntityAsync(_pk, "nothing", TestContext.Current.CancellationToken));
    }

    [Theory]
    [InlineData("it's")]
    [InlineData("a''b")]
    [InlineData("ünïcødé ☃ 𝄞")]
    [InlineData("spaces and (parens) and , commas")]
    [InlineData("percent %2F and plus + and & amp = eq")]
    public async Task Keys_with_quotes_and_unicode_work_in_entity_urls(string rowKey)
    {
        var table = await TableAsync();
        await table.UpsertEntityAsync(new TableEntity(_pk, rowKey) { ["V"] = 1 }, TestContext.Current.CancellationToken);

        var read = await table.GetEntityAsync(_pk, rowKey, TestContext.Current.CancellationToken);
        Assert.Equal(rowKey, read?.RowKey);
        Assert.True(await table.DeleteEntityAsync(_pk, rowKey, TestContext.Current.CancellationToken));
        Assert.Null(await table.GetEntityAsync(_pk, rowKey, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Query_follows_continuations_across_pages()
    {
        var table = await TableAsync();
        var actions = Enumerable.Range(0, 25).Select(i => new TableTransactionAction(TableTransactionActionType.Add, new TableEntity(_pk, $"row{i:D3}") { ["N"] = i })).ToList();
        await table.SubmitTransactionAsync(actions, TestContext.Current.CancellationToken);

        var pages = new List<TablePage>();
        await foreach (var page in table.QueryPagesAsync(new TableQuery(TableFilter.PartitionEquals(_pk), PageSize: 10), null, TestContext.Current.CancellationToken))
        {
            pages.Add(page);
        }

        Assert.Equal([10, 10, 5], pages.Select(p => p.Values.Count));
        Assert.Equal(Enumerable.Range(0, 25), pages.SelectMany(p => p.Values).Select(e => e.GetInt32("N")!.Value));
        Assert.Null(pages[^1].Continuation);
    }

    [Fact]
    public async Task Select_projects_only_the_named_properties()
    {
        var table = await TableAsync();
        await table.AddEntityAsync(new TableEntity(_pk, "p") { ["A"] = "a", ["B"] = "b" }, TestContext.Current.CancellationToken);

        var rows = await table.QueryAsync(new TableQuery(TableFilter.PartitionEquals(_pk), ["A"]), TestContext.Current.CancellationToken).ToListAsync(TestContext.Current.CancellationToken);

        var row = Assert.Single(rows);
        Assert.Equal("a", row.GetString("A"));
        Assert.Null(row["B"]);
    }

    [Fact]
    public async Task Filter_values_with_quotes_and_OData_syntax_match_only_literally()
    {
        var table = await TableAsync();
        var hostile = "x' or PartitionKey ne '";
        await table.AddEntityAsync(new TableEntity(_pk, "a") { ["Name"] = hostile }, TestContext.Current.CancellationToken);
        await table.AddEntityAsync(new TableEntity(_pk, "b") { ["Name"] = "x" }, TestContext.Current.CancellationToken);

        var filter = TableFilter.And(TableFilter.PartitionEquals(_pk), TableFilter.Equal("Name", hostile));
        var rows = await table.QueryAsync(new TableQuery(filter), TestContext.Current.CancellationToken).ToListAsync(TestContext.Current.CancellationToken);

        Assert.Equal("a", Assert.Single(rows).RowKey);
    }

    [Fact]
    public async Task Row_key_prefix_scan_returns_exactly_the_prefixed_rows()
    {
        var table = await TableAsync();
        foreach (var rk in new[] { "a_x_1", "a_x_2", "a_xy_1", "a_w_1", "b_x_1" })
        {
            await table.AddEntityAsync(new TableEntity(_pk, rk), TestContext.Current.CancellationToken);
        }

        var rows = await table.QueryAsync(new TableQuery(TableFilter.RowKeyPrefix(_pk, "a_x_")), TestContext.Current.CancellationToken).ToListAsync(TestContext.Current.CancellationToken);

        Assert.Equal(["a_x_1", "a_x_2"], rows.Select(r => r.RowKey));
    }

    [Fact]
    public async Task Failed_transaction_reports_the_failing_index_and_applies_nothing()
    {
        var table = await TableAsync();
        await table.AddEntityAsync(new TableEntity(_pk, "taken"), TestContext.Current.CancellationToken);
        var actions = new[] { "free1", "free2", "taken", "free3" }
            .Select(rk => new TableTransactionAction(TableTransactionActionType.Add, new TableEntity(_pk, rk))).ToList();

        var ex = await Assert.ThrowsAsync<TableTransactionFailedException>(() => table.SubmitTransactionAsync(actions, TestContext.Current.CancellationToken));

        Assert.Equal(409, ex.Status);
        Assert.Equal("EntityAlreadyExists", ex.ErrorCode);
        Assert.Equal(2, ex.FailedActionIndex);
        Assert.Null(await table.GetEntityAsync(_pk, "free1", TestContext.Current.CancellationToken));
        Assert.Null(await table.GetEntityAsync(_pk, "free3", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Transaction_upserts_and_deletes_apply_together()
    {
        var table = await TableAsync();
        await table.AddEntityAsync(new TableEntity(_pk, "old") { ["V"] = 1 }, TestContext.Current.CancellationToken);
        await table.SubmitTransactionAsync(
        [
            new(TableTransactionActionType.UpsertReplace, new TableEntity(_pk, "old") { ["V"] = 2 }),
            new(TableTransactionActionType.UpsertReplace, new TableEntity(_pk, "new") { ["V"] = 3 }),
        ], TestContext.Current.CancellationToken);
        await table.SubmitTransactionAsync([new(TableTransactionActionType.Delete, new TableEntity(_pk, "old"))], TestContext.Current.CancellationToken);

        Assert.Null(await table.GetEntityAsync(_pk, "old", TestContext.Current.CancellationToken));
        Assert.Equal(3, (await table.GetEntityAsync(_pk, "new", TestContext.Current.CancellationToken))?.GetInt32("V"));
    }

    [Fact]
    public async Task Transaction_across_partitions_is_refused_before_sending()
    {
        var table = await TableAsync();
        var actions = new List<TableTransactionAction>
        {
            new(TableTransactionActionType.Add, new TableEntity(_pk, "1")),
            new(TableTransactionActionType.Add, new TableEntity(_pk + "x", "2")),
        };

        await Assert.ThrowsAsync<ArgumentException>(() => table.SubmitTransactionAsync(actions, TestContext.Current.CancellationToken));
        Assert.Null(await table.GetEntityAsync(_pk, "1", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Transaction_over_100_actions_or_with_a_repeated_row_is_refused()
    {
        var table = await TableAsync();
        var tooMany = Enumerable.Range(0, 101).Select(i => new TableTransactionAction(TableTransactionActionType.Add, new TableEntity(_pk, $"r{i}"))).ToList();
        var repeated = new List<TableTransactionAction>
        {
            new(TableTransactionActionType.Add, new TableEntity(_pk, "same")),
            new(TableTransactionActionType.UpsertReplace, new TableEntity(_pk, "same")),
        };

        await Assert.ThrowsAsync<ArgumentException>(() => table.SubmitTransactionAsync(tooMany, TestContext.Current.CancellationToken));
        await Assert.ThrowsAsync<ArgumentException>(() => table.SubmitTransactionAsync(repeated, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Wrong_account_key_is_a_403_with_the_service_error_code()
    {
        var wrongKey = Convert.ToBase64String(new byte[64]);
        var conn = azurite.ConnectionString.Replace(azurite.ConnectionString.Split(';').First(p => p.StartsWith("AccountKey=", StringComparison.Ordinal)), "AccountKey=" + wrongKey, StringComparison.Ordinal);
        using var clients = new StorageClients(StorageAccount.Parse(conn), new StorageRetryOptions { MaxRetries = 0 });

        var ex = await Assert.ThrowsAsync<StorageRequestException>(() => clients.GetTable("ClientTests").GetEntityAsync(_pk, "x", TestContext.Current.CancellationToken));

        Assert.Equal(403, ex.Status);
        Assert.DoesNotContain(wrongKey, ex.Message, StringComparison.Ordinal);
    }
}
