using AuditTrail.Core;

namespace AuditTrail.Tests.Deployment;

/// <summary>
/// AuditTrail.Core's rooms depend on each other one way only (docs/architecture.md): a cycle
/// between two namespaces means neither can be read, changed or moved without the other.
/// </summary>
public sealed class ArchitectureTests
{
    private const string Core = "AuditTrail.Core";

    private static IReadOnlyDictionary<string, IReadOnlySet<string>> CoreGraph() =>
        NamespaceGraph.Read(typeof(AuditTrailCoreServiceCollectionExtensions).Assembly.Location, Core);

    [Fact]
    public void No_namespace_of_AuditTrail_Core_depends_on_itself_through_others()
    {
        var cycle = NamespaceGraph.FindCycle(CoreGraph());

        Assert.True(cycle is null, $"AuditTrail.Core has a namespace cycle: {string.Join(" → ", cycle ?? [])}. Move the shared type down to a namespace both can use, or invert the call through an interface the lower one defines.");
    }

    [Fact]
    public void The_root_namespace_only_composes_the_rooms()
    {
        var graph = CoreGraph();
        var usersOfRoot = graph.Where(e => e.Value.Contains(Core)).Select(e => e.Key).Order(StringComparer.Ordinal).ToList();

        Assert.True(usersOfRoot.Count == 0, $"These namespaces use a type of the root namespace {Core}, which holds only the composition (it uses every room): {string.Join(", ", usersOfRoot)}.");
        // The reader sees what a using does not show: the root's registrations, and a room's use of another.
        Assert.Contains($"{Core}.Ingestion", graph[Core]);
        Assert.Contains($"{Core}.Integrity", graph[Core]);
        Assert.Contains($"{Core}.Ingestion", graph[$"{Core}.Integrity"]);
    }

    [Fact]
    public void The_cycle_finder_names_a_cycle_it_is_given()
    {
        var graph = Graph(("A", "B"), ("B", "C"), ("C", "D"), ("D", "B"), ("A", "D"));

        Assert.Equal(["B", "C", "D", "B"], NamespaceGraph.FindCycle(graph));
    }

    [Fact]
    public void The_cycle_finder_passes_a_graph_that_only_shares_leaves()
    {
        // Two paths to one namespace are no cycle.
        var graph = Graph(("A", "B"), ("A", "C"), ("B", "D"), ("C", "D"));

        Assert.Null(NamespaceGraph.FindCycle(graph));
    }

    [Fact]
    public void The_cycle_finder_names_two_namespaces_that_use_each_other()
    {
        Assert.Equal(["A", "B", "A"], NamespaceGraph.FindCycle(Graph(("A", "B"), ("B", "A"))));
    }

    private static Dictionary<string, IReadOnlySet<string>> Graph(params (string From, string To)[] edges) =>
        edges.GroupBy(e => e.From).ToDictionary(g => g.Key, g => (IReadOnlySet<string>)g.Select(e => e.To).ToHashSet());
}
