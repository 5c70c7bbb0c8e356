using System.Collections.Concurrent;

namespace AuditTrail.Core.Integrity;

/// <summary>A digest verification reads: its sequence, its payload, its JWS as stored.</summary>
internal sealed record ChainedDigest(long Sequence, DigestPayload Payload, string Jws)
{
    public DateTimeOffset Start => DigestPayload.ParseTime(Payload.Start);

    public DateTimeOffset End => DigestPayload.ParseTime(Payload.End);
}

/// <summary>The workspace's digests in sequence order, and what is wrong with them as a chain.</summary>
internal sealed record DigestChain(List<ChainedDigest> Digests, List<DigestFinding> Problems)
{
    /// <summary>Where the last digest ends: events recorded from here on are pending (in no digest yet).</summary>
    public DateTimeOffset? LastEnd => Digests.Count == 0 ? null : Digests[^1].End;

    public DateTimeOffset? LastSealedAt => Digests.Count == 0 ? null : Digests.Max(d => DigestPayload.ParseTime(d.Payload.SealedAt));

    /// <summary>The digests that cover part of [start, end).</summary>
    public List<ChainedDigest> Covering(DateTimeOffset start, DateTimeOffset end) => Digests.Where(d => d.End > start && d.Start < end).ToList();
}

/// <summary>
/// The first check of verification: the digests themselves. The immutable blobs are the record,
/// the table is their index: each sequence's blob is checked against the key set, its place and
/// its table row, a table row whose blob is gone is <c>digest_missing</c>, and the digests must
/// form one chain from sequence 0 (each naming the previous one's hash and starting where it ended).
/// </summary>
internal sealed class ChainCheck(IntegrityStore integrity, IntegrityKeys keys)
{
    private const int Parallelism = 8;

    public async Task<DigestChain> RunAsync(string workspaceId, CancellationToken cancellationToken)
    {
        var problems = new List<DigestFinding>();
        var keySet = await keys.TrustedAsync(cancellationToken);
        var tableRows = await integrity.Digests.ListAsync(workspaceId, cancellationToken);
        var digests = await ReadDigestsAsync(workspaceId, keySet, tableRows, problems, cancellationToken);
        foreach (var sequence in tableRows.Keys.Where(q => !digests.Any(d => d.Sequence == q)).Order())
        {
            problems.Add(new DigestFinding(sequence, "digest_missing", $"Digest {sequence} is in the table but its blob {IntegrityStore.DigestBlobName(workspaceId, sequence)} is gone."));
        }
        CheckChain(digests, problems);
        return new DigestChain(digests, problems);
    }

    /// <summary>
    /// Every digest blob of the workspace, one per sequence: the lowest slot that is a trusted digest
    /// of that workspace and sequence, else the lowest slot with what is wrong with it (bad_signature,
    /// unknown_key, misplaced_digest: then left out of the chain). Every other blob claiming the
    /// sequence is a <c>digest_conflict</c>: one a storage writer planted, which the sealer did not adopt.
    /// </summary>
    private async Task<List<ChainedDigest>> ReadDigestsAsync(
        string workspaceId, Dictionary<string, JsonWebKey> keySet, Dictionary<long, DigestRecord> tableRows, List<DigestFinding> problems, CancellationToken cancellationToken)
    {
        var blobNames = await integrity.DigestBlobs.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, workspaceId + "/", cancellationToken).Select(b => b.Name).ToListAsync(cancellationToken);
        var texts = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(blobNames, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, async (name, ct) =>
            texts[name] = (await integrity.DigestBlobs.GetBlobClient(name).DownloadContentAsync(ct)).Value.Content.ToString());
        var slots = new SortedDictionary<long, List<(int Slot, string Name)>>();
        foreach (var name in blobNames)
        {
            if (!IntegrityStore.TryParseDigestBlobName(name, out var sequence, out var slot))
            {
                problems.Add(new DigestFinding(null, "unreadable_digest", $"Blob {name} is not a digest."));
                continue;
            }
            (slots.TryGetValue(sequence, out var list) ? list : slots[sequence] = []).Add((slot, name));
        }
        var digests = new List<ChainedDigest>();
        foreach (var (sequence, candidates) in slots)
        {
            var chosen = Choose(workspaceId, sequence, candidates, texts, keySet, digests, problems);
            if (CheckDigestBlob(workspaceId, sequence, chosen, texts[chosen], keySet, tableRows, problems) is { } payload)
            {
                digests.Add(new ChainedDigest(sequence, payload, texts[chosen]));
            }
        }
        return digests;
    }

    /// <summary>The blob that is the sequence's digest, as the sealer adopts: trusted, and the next link after the digest before it (when there is one). The others are conflicts.</summary>
    private static string Choose(string workspaceId, long sequence, List<(int Slot, string Name)> candidates, ConcurrentDictionary<string, string> texts,
        Dictionary<string, JsonWebKey> keySet, List<ChainedDigest> digests, List<DigestFinding> problems)
    {
        candidates.Sort((a, b) => a.Slot.CompareTo(b.Slot));
        var previous = digests.Count > 0 && digests[^1].Sequence == sequence - 1 ? digests[^1] : null;
        var trusted = candidates.Where(c => DigestTrust.Problem(texts[c.Name], keySet, workspaceId, sequence) is null).ToList();
        var chosen = trusted.FirstOrDefault(c => previous is null || Links(texts[c.Name], previous));
        chosen = chosen.Name is not null ? chosen : trusted.Count > 0 ? trusted[0] : candidates[0];
        foreach (var (_, other) in candidates.Where(c => c.Name != chosen.Name))
        {
            var why = DigestTrust.Problem(texts[other], keySet, workspaceId, sequence) ?? "it is not the next link of the chain";
            problems.Add(new DigestFinding(sequence, "digest_conflict", $"Blob {other} claims digest {sequence}, but {why}; digest {sequence} is blob {chosen.Name}."));
        }
        return chosen.Name;
    }

    /// <summary>Whether the digest names the previous one's hash and starts where it ended.</summary>
    private static bool Links(string jws, ChainedDigest previous) =>
        DigestJws.Read(jws) is { } read && read.Payload.PreviousDigest == DigestJws.Hash(previous.Jws) && read.Payload.Start == previous.Payload.End;

    /// <summary>One sequence's digest checked against the key set, its place and its table row; its payload, or null when it is not a digest of this place.</summary>
    private static DigestPayload? CheckDigestBlob(string workspaceId, long sequence, string name, string text, Dictionary<string, JsonWebKey> keySet, Dictionary<long, DigestRecord> tableRows, List<DigestFinding> problems)
    {
        if (DigestJws.Read(text) is not { } read)
        {
            problems.Add(new DigestFinding(sequence, "unreadable_digest", $"Blob {name} is not a digest."));
            return null;
        }
        var (header, payload) = read;
        if (!keySet.TryGetValue(header.Kid, out var key))
        {
            problems.Add(new DigestFinding(sequence, "unknown_key", $"Digest {sequence} names key '{header.Kid}', which is not in the key set."));
        }
        else if (header.Alg != "ES256" || !DigestJws.Verify(text, key))
        {
            problems.Add(new DigestFinding(sequence, "bad_signature", $"Digest {sequence}'s signature does not verify with key '{header.Kid}'."));
        }
        if (payload.WorkspaceId != workspaceId || payload.Sequence != sequence)
        {
            problems.Add(new DigestFinding(sequence, "misplaced_digest", $"Blob {name} holds digest {payload.Sequence} of workspace '{payload.WorkspaceId}'."));
            return null;
        }
        if (tableRows.TryGetValue(sequence, out var row) && row.Jws != text)
        {
            problems.Add(new DigestFinding(sequence, "digest_differs", $"Digest {sequence}'s blob and its table row differ."));
        }
        return payload;
    }

    private static void CheckChain(List<ChainedDigest> digests, List<DigestFinding> problems)
    {
        digests.Sort((a, b) => a.Sequence.CompareTo(b.Sequence));
        for (var i = 0; i < digests.Count; i++)
        {
            var (sequence, payload, _) = digests[i];
            var expected = i == 0 ? 0 : digests[i - 1].Sequence + 1;
            if (sequence != expected)
            {
                problems.Add(new DigestFinding(expected, "chain_break", $"Digest {expected} is missing{(sequence - expected > 1 ? $" (up to {sequence - 1})" : "")}."));
                continue;
            }
            if (i == 0)
            {
                if (payload.PreviousDigest is not null)
                {
                    problems.Add(new DigestFinding(sequence, "chain_break", "The first digest names a previous digest."));
                }
                continue;
            }
            var previous = digests[i - 1];
            if (payload.PreviousDigest != DigestJws.Hash(previous.Jws))
            {
                problems.Add(new DigestFinding(sequence, "chain_break", $"Digest {sequence} does not name digest {previous.Sequence}'s hash as its previous."));
            }
            if (payload.Start != previous.Payload.End)
            {
                problems.Add(new DigestFinding(sequence, "chain_gap", $"Digest {sequence} starts at {payload.Start}, not where digest {previous.Sequence} ended ({previous.Payload.End})."));
            }
        }
    }
}
