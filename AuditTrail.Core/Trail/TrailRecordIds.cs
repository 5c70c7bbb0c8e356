using System.Security.Cryptography;

namespace AuditTrail.Core.Trail;

/// <summary>
/// Ids of the events the trail records about its own actions. They used to be derived from what
/// anyone could see (<c>access-token-revoked-{tokenId}</c>, <c>audit-digest-{n}</c>), so a producer
/// could post one first and make the genuine record a conflict. Now every such id starts with
/// <see cref="Prefix"/>, which both doors refuse from producers (<c>reserved_id</c>), and carries a
/// random part, so it cannot be guessed even from inside the trail's namespace.
/// </summary>
public static class TrailRecordIds
{
    /// <summary>
    /// The trail's own id namespace; matched case-insensitively, so no spelling of it is left to
    /// producers. <c>~</c>: unreserved in URLs (the event's link and route), and not a character a
    /// spreadsheet starts a formula with, so the CSV export shows the id as stored.
    /// </summary>
    public const string Prefix = "~trail-";

    /// <summary>Whether a producer's id would fall in the trail's namespace.</summary>
    public static bool IsReserved(string eventId) => eventId.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase);

    /// <summary>A new id: <c>~trail-{kind}-{subject}-{20 random hex digits}</c>.</summary>
    public static string New(string kind, string subject) => Of(kind, subject + "-" + Random());

    /// <summary>
    /// An id whose subject is unguessable already (a random export id, a signed digest's hash), so
    /// the same action recorded again after a failure gets the same id and is stored once.
    /// </summary>
    public static string Of(string kind, string subject) => $"{Prefix}{kind}-{subject}";

    /// <summary>80 random bits: no producer guesses it, and it stays short in keys and links.</summary>
    public static string Random() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(10));
}
