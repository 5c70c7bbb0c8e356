using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace AuditTrail.Tests.Deployment;

/// <summary>
/// A method a reader can take in at once: none in the app's two projects is longer than
/// <see cref="MaxLines"/> lines, counted from its signature to its closing brace (issue 27).
/// </summary>
public sealed class CodeShapeTests
{
    private const int MaxLines = 60;

    [Theory]
    [InlineData("AuditTrail.Core")]
    [InlineData("AuditTrail.Functions")]
    public void No_method_is_longer_than_sixty_lines(string project)
    {
        var directory = Path.Combine(AppLayout.Root, project);
        var tooLong = Directory.EnumerateFiles(directory, "*.cs", SearchOption.AllDirectories)
            .Where(f => !IsBuildOutput(directory, f))
            .SelectMany(f => LongMethods(File.ReadAllText(f), Path.GetRelativePath(AppLayout.Root, f)))
            .ToList();

        Assert.True(tooLong.Count == 0, $"Methods longer than {MaxLines} lines in {project} (split them into named steps):\n{string.Join("\n", tooLong)}");
    }

    [Fact]
    public void The_measure_flags_a_method_one_line_too_long_and_passes_one_at_the_limit()
    {
        static string Method(string name, int lines) =>
            $"void {name}()\n{{\n{string.Concat(Enumerable.Repeat("    Work();\n", lines - 3))}}}\n";
        var source = $"class C\n{{\n{Method("AtLimit", MaxLines)}{Method("OneOver", MaxLines + 1)}}}\n";

        var found = LongMethods(source, "C.cs");

        Assert.Equal(["C.cs:63 OneOver is 61 lines"], found);
    }

    /// <summary>Each method, constructor, accessor, operator and local function over the limit, as "file:line name is n lines".</summary>
    internal static IEnumerable<string> LongMethods(string source, string path)
    {
        var root = CSharpSyntaxTree.ParseText(source).GetRoot();
        foreach (var node in root.DescendantNodes().Where(n => n is BaseMethodDeclarationSyntax or AccessorDeclarationSyntax or LocalFunctionStatementSyntax))
        {
            var lines = node.GetLocation().GetLineSpan();
            var count = lines.EndLinePosition.Line - lines.StartLinePosition.Line + 1;
            if (count > MaxLines)
            {
                yield return $"{path}:{lines.StartLinePosition.Line + 1} {Name(node)} is {count} lines";
            }
        }
    }

    private static string Name(SyntaxNode node) => node switch
    {
        MethodDeclarationSyntax m => m.Identifier.Text,
        ConstructorDeclarationSyntax c => c.Identifier.Text,
        LocalFunctionStatementSyntax l => l.Identifier.Text,
        AccessorDeclarationSyntax a => $"{a.Keyword.Text} accessor",
        _ => node.Kind().ToString(),
    };

    private static bool IsBuildOutput(string projectDirectory, string file)
    {
        var first = Path.GetRelativePath(projectDirectory, file).Split(Path.DirectorySeparatorChar)[0];
        return first is "bin" or "obj";
    }
}
