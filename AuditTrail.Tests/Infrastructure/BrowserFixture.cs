using Microsoft.Playwright;

namespace AuditTrail.Tests.Infrastructure;

/// <summary>
/// One headless Chromium per test class, driven by Playwright. It is Debian's chromium
/// (<c>/usr/bin/chromium</c>, or <c>AUDITTRAIL_CHROMIUM</c>): Playwright's own browser download
/// cannot work on machines with no route to its CDN. <c>scripts/test</c> installs it when missing.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Where page tests leave their screenshots and downloads: <c>artifacts/page</c>.</summary>
    public static string ArtifactsDirectory { get; } = Directory.CreateDirectory(Path.Combine(AzuriteFixture.RepoRoot(), "artifacts", "page")).FullName;

    public async ValueTask InitializeAsync()
    {
        var executable = Environment.GetEnvironmentVariable("AUDITTRAIL_CHROMIUM") is { Length: > 0 } given ? given : "/usr/bin/chromium";
        if (!File.Exists(executable))
        {
            throw new InvalidOperationException(
                $"Page tests need Chromium at {executable}. Run scripts/test (it installs Debian's chromium), " +
                "or install it yourself ('sudo apt-get install chromium') or set AUDITTRAIL_CHROMIUM to a Chromium or Chrome binary.");
        }
        // Assertions have their own default (5 s), apart from the context's: the same hang guard
        // for both, or a page waiting on a slow but healthy answer under a loaded CI run fails.
        Assertions.SetDefaultExpectTimeout(HangGuardMilliseconds);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = executable,
            Headless = true,
            // No background traffic: this machine's network is closed, and Chromium's lookups of
            // Google's hosts would only add noise and delay.
            Args = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
    }

    /// <summary>How long an action or assertion waits: a hang guard on a loaded 2-core machine, not a speed check.</summary>
    private const float HangGuardMilliseconds = 20_000;

    /// <summary>A fresh browser context (its own session storage) with downloads allowed.</summary>
    public async Task<IPage> NewPageAsync(int width = 1280, int height = 860)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = width, Height = height },
            AcceptDownloads = true,
            Locale = "en-GB",
            TimezoneId = "UTC",
        });
        context.SetDefaultTimeout(HangGuardMilliseconds);
        return await context.NewPageAsync();
    }

    public static Task ScreenshotAsync(IPage page, string name, bool fullPage = true) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ArtifactsDirectory, name + ".png"), FullPage = fullPage });

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }
        _playwright?.Dispose();
    }
}
