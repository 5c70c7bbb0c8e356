using AuditTrail.Core.Export;
using AuditTrail.Core.Storage;
using AuditTrail.Functions.FunctionsHost;
using Azure.Storage.Queues;
using Microsoft.Extensions.Options;

namespace AuditTrail.Functions.Export;

/// <summary>
/// The queue function <c>ExportAuditEvents</c> as standalone mode runs it: <c>audit-export</c>'s
/// messages to the same <see cref="ExportWorker"/>, with the host's rules.
/// </summary>
public sealed class ExportFunction(ExportService exports, ExportWorker worker, IOptions<ExportOptions> options) : IQueueFunction
{
    public string Name => ExportApi.QueueFunction;

    public QueueClient Queue => exports.Queue;

    public QueueClient PoisonQueue => exports.PoisonQueue;

    public QueueTriggerOptions Polling => options.Value;

    public Task EnsureCreatedAsync(CancellationToken cancellationToken) => exports.EnsureCreatedAsync(cancellationToken);

    public async Task HandleAsync(string messageText, long dequeueCount, CancellationToken cancellationToken) =>
        await worker.RunAsync(messageText, dequeueCount, cancellationToken);
}
