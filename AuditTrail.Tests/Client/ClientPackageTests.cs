using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;
using AuditTrail.Tests.Infrastructure;

namespace AuditTrail.Tests.Client;

/// <summary><c>dotnet pack AuditTrail.Client</c> gives a package an integrator can take: the library, its docs and README, and only what it needs.</summary>
public sealed class ClientPackageTests
{
    private static readonly TimeSpan PackTimeout = TimeSpan.FromMinutes(5);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    [Fact]
    public async Task Pack_gives_a_package_with_the_library_its_readme_and_its_dependencies()
    {
        var output = Directory.CreateTempSubdirectory("audittrail-pack-");
        try
        {
            var project = Path.Combine(AzuriteFixture.RepoRoot(), "AuditTrail.Client", "AuditTrail.Client.csproj");
            // The test project references the client, so this run has built it already (the same
            // configuration as this assembly); packing that build does not race a second one.
            var start = new ProcessStartInfo("dotnet", ["pack", project, "--nologo", "--no-build", "--no-restore", "-c", Configuration, "-o", output.FullName])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync(Ct);
            var stderr = process.StandardError.ReadToEndAsync(Ct);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            timeout.CancelAfter(PackTimeout);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"dotnet pack did not finish within {PackTimeout}.");
            }
            Assert.True(process.ExitCode == 0, $"dotnet pack exited {process.ExitCode}: {await stdout}\n{await stderr}");

            var package = Assert.Single(output.GetFiles("AuditTrail.Client.*.nupkg"));
            using var zip = ZipFile.OpenRead(package.FullName);
            var entries = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
            Assert.Contains("lib/net10.0/AuditTrail.Client.dll", entries);
            Assert.Contains("lib/net10.0/AuditTrail.Client.xml", entries);
            Assert.Contains("README.md", entries);
            Assert.DoesNotContain(entries, e => e.EndsWith(".pdb", StringComparison.Ordinal) && e.StartsWith("lib/", StringComparison.Ordinal) && !e.Contains("AuditTrail.Client", StringComparison.Ordinal));

            XNamespace ns = "http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd";
            using var nuspecStream = zip.GetEntry("AuditTrail.Client.nuspec")!.Open();
            var metadata = XDocument.Load(nuspecStream).Root!.Element(ns + "metadata")!;
            Assert.Equal("README.md", metadata.Element(ns + "readme")?.Value);
            var dependencies = metadata.Descendants(ns + "dependency").Select(d => (string)d.Attribute("id")!).ToList();
            Assert.Contains("Azure.Messaging.EventHubs", dependencies);
            // The trail's rules are compiled in, not a dependency on the server's assemblies.
            Assert.DoesNotContain(dependencies, d => d.StartsWith("AuditTrail.", StringComparison.Ordinal));
            using var readme = new StreamReader(zip.GetEntry("README.md")!.Open());
            Assert.Contains("AuditTrailProducer", await readme.ReadToEndAsync(Ct), StringComparison.Ordinal);
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }
}
