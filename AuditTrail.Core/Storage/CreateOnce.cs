namespace AuditTrail.Core.Storage;

/// <summary>
/// Creates a store's tables, containers and queues the first time it needs them. First callers
/// who arrive together wait for one creation instead of each sending their own: every extra
/// CreateIfNotExists is a 409 that the SDK logs as a warning. A creation that fails is not
/// remembered, so the next call tries again, and a storage outage at start-up does not leave the
/// app broken afterwards. Each caller's token bounds its own wait; a creation that another
/// caller's token cancelled is started again for the callers still waiting.
/// </summary>
public sealed class CreateOnce
{
    private readonly Lock _lock = new();

    // The creation under way or done; a new one replaces it only when it failed or was cancelled.
    private volatile Task? _creation;

    /// <summary>Runs <paramref name="create"/> unless a call before this one has completed it, or joins the run under way.</summary>
    public Task EnsureAsync(Func<CancellationToken, Task> create, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(create);
        return _creation is { IsCompletedSuccessfully: true } ? Task.CompletedTask : JoinAsync(create, cancellationToken);
    }

    private async Task JoinAsync(Func<CancellationToken, Task> create, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task<Task>? starting = null;
            Task creation;
            lock (_lock)
            {
                if (_creation is null || _creation.IsFaulted || _creation.IsCanceled)
                {
                    // Started outside the lock: the storage calls are not made while holding it.
                    starting = new Task<Task>(() => create(cancellationToken));
                    _creation = starting.Unwrap();
                }
                creation = _creation;
            }
            starting?.Start(TaskScheduler.Default);
            try
            {
                await creation.WaitAsync(cancellationToken);
                return;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && creation.IsCanceled)
            {
                // The caller who started it gave up; this one has not, so it starts another.
            }
        }
    }
}
