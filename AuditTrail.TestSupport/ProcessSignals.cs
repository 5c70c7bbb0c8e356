using System.Diagnostics;
using System.Globalization;

namespace AuditTrail.TestSupport;

/// <summary>POSIX signals .NET's Process does not send (it only kills).</summary>
public static class ProcessSignals
{
    /// <summary>Sends SIGTERM, as <c>kill</c>, systemd or a container runtime does on stop; nothing if the process has exited already.</summary>
    /// <exception cref="InvalidOperationException">kill failed on a process that is still running (not ours to signal).</exception>
    public static void Terminate(Process process)
    {
        if (process.HasExited)
        {
            return;
        }
        // Its output is captured, not inherited: the caller may be a test process whose own
        // standard streams carry its runner's protocol.
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("Could not run kill.");
        var output = kill.StandardOutput.ReadToEndAsync();
        var error = kill.StandardError.ReadToEnd();
        output.GetAwaiter().GetResult();
        kill.WaitForExit();
        // A process that exited between the check above and the signal is not a failure.
        if (kill.ExitCode != 0 && !process.HasExited)
        {
            throw new InvalidOperationException($"kill -TERM {process.Id} failed ({kill.ExitCode}): {error.Trim()}");
        }
    }
}
