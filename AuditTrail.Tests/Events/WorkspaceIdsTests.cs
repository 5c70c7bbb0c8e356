using AuditTrail.Core.Events;

namespace AuditTrail.Tests.Events;

/// <summary>The one workspace-id rule every door checks.</summary>
public sealed class WorkspaceIdsTests
{
    [Theory]
    [InlineData("ws_a")]
    [InlineData("A-z_09")]
    [InlineData("wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww")] // 64
    public void Ids_of_the_allowed_characters_and_length_are_valid(string id) => Assert.True(WorkspaceIds.IsValid(id));

    [Theory]
    [InlineData("ws_a\n")] // $ would match before a final newline
    [InlineData("ws_a\r\n")]
    [InlineData("\nws_a")]
    [InlineData("")]
    [InlineData("ws.a")]
    [InlineData("ws a")]
    [InlineData("ws_\u00e4")]
    [InlineData("wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww")] // 65
    [InlineData(null)]
    public void Anything_else_is_invalid(string? id) => Assert.False(WorkspaceIds.IsValid(id));
}
