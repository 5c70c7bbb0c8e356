using Microsoft.AspNetCore.Mvc;

namespace AuditTrail.Functions.Query;

/// <summary>
/// The filters of a view of the trail as the query string carries them (bound with
/// <c>[AsParameters]</c>, each as given, so <see cref="QueryParameters.Parse"/> says what is wrong
/// with a value rather than the binder; absent is null, given empty is one empty value).
/// </summary>
public sealed record TrailFilters(
    [FromQuery(Name = "start")] string[]? Start,
    [FromQuery(Name = "end")] string[]? End,
    [FromQuery(Name = "type")] string[]? Type,
    [FromQuery(Name = "productArea")] string[]? ProductArea,
    [FromQuery(Name = "actorId")] string[]? ActorId,
    [FromQuery(Name = "actorType")] string[]? ActorType,
    [FromQuery(Name = "resourceType")] string[]? ResourceType,
    [FromQuery(Name = "resourceId")] string[]? ResourceId);

/// <summary>A page's size and position (a listing's paging parameters), as given.</summary>
public sealed record PageParameters(
    [FromQuery(Name = "limit")] string[]? Limit,
    [FromQuery(Name = "continuation")] string[]? Continuation);
