namespace AuditTrail.Benchmarks;

/// <summary>Two measured runs whose order alternates by round, so neither always meets the warmer or the fuller store.</summary>
internal static class Turns
{
    /// <summary>Even rounds run <paramref name="first"/> first, odd rounds <paramref name="second"/> first.</summary>
    public static async Task BothAsync(int round, Func<Task> first, Func<Task> second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        var (a, b) = round % 2 == 0 ? (first, second) : (second, first);
        await a();
        await b();
    }
}
