extern alias client;
using client::AuditTrail.Client;

namespace AuditTrail.Tests.Client;

/// <summary>
/// The examples of docs/client.md, as code that runs: the text between each "example:" marker and
/// "end example" is what the doc shows (ClientAgainstAppTests checks the doc holds it word for word).
/// </summary>
public static class ClientExamples
{
    public static async Task<ProduceResult> ProducerAsync(HttpClient http, string workspaceId, string ingestToken, TextWriter output, CancellationToken cancellationToken)
    {
        // example: producer
        var producer = AuditTrailProducer.ForHttp(http, ingestToken);
        var sent = await producer.SendAsync(
        [
            NewAuditEvent.Create(workspaceId, "Warehouses Disabled", ActorRef.User("usr_42", "Ada Lovelace"), new ResourceRef("warehouse", "wh_7", "Analytics"))
                .WithChange("enabled", true, false),
            NewAuditEvent.Create(workspaceId, "Source Modified", ActorRef.Token("tok_ci"), new ResourceRef("source", "src_web", "Website"))
                .WithProperty("reason", "nightly sync"),
        ], cancellationToken);
        output.WriteLine($"{sent.Accepted} accepted, {sent.Duplicates} duplicates, {sent.Rejected.Count} rejected");
        // end example
        return sent;
    }

    public static async Task<Uri> ReaderAsync(HttpClient http, string workspaceId, string ownerToken, TextWriter output, CancellationToken cancellationToken)
    {
        // example: reader
        var reader = new AuditTrailReader(http, ownerToken);
        await foreach (var e in reader.ListAsync(workspaceId, new AuditEventFilter { ActorId = "usr_42" }, cancellationToken))
        {
            output.WriteLine($"{e.Timestamp:u} {e.Actor.Id} {e.Type} {e.Resource.Type}/{e.Resource.Id}");
        }
        try
        {
            await reader.ListAsync(workspaceId, new AuditEventFilter { ActorType = "robot" }, cancellationToken).ToListAsync(cancellationToken);
        }
        catch (AuditTrailProblemException problem) when (problem.Code == "invalid_parameter")
        {
            output.WriteLine($"refused: {problem.Parameter}");
        }
        var csv = await reader.ExportAsync(workspaceId, new AuditEventFilter { ProductArea = "Warehouses" }, cancellationToken);
        output.WriteLine($"export: {csv}");
        // end example
        return csv;
    }
}
