using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using CloseWait.Platform;

namespace CloseWait.Commands
{
    /// <summary>
    /// What every cmdlet with -AllNetworkNamespaces shows while and after it scans: Write-Progress
    /// once the scan has taken long enough to be noticed, and one warning naming the namespaces
    /// that vanished before they could be read. Use from the pipeline thread: create it, put
    /// <see cref="Progress"/> into the SocketQuery, enumerate, then call <see cref="Complete"/>.
    /// </summary>
    internal sealed class NamespaceScanReporter
    {
        private const int ActivityId = 14;
        private static readonly long QuietMilliseconds = 300;
        private readonly PSCmdlet _cmdlet;
        private readonly Stopwatch _watch = Stopwatch.StartNew();
        private bool _shown;

        internal NamespaceScanReporter(PSCmdlet cmdlet)
        {
            _cmdlet = cmdlet;
            Progress = new NamespaceScanProgress(Report);
        }

        internal NamespaceScanProgress Progress { get; }

        /// <summary>
        /// The command boundary's one resolution of -NetworkNamespace (null: the caller's own); a spec
        /// that names nothing, or any spec off Linux, stops the command with its error.
        /// </summary>
        internal static NamespaceIdentity Resolve(PSCmdlet cmdlet, string? networkNamespace)
        {
            try
            {
                return PlatformServices.ResolveNamespace(networkNamespace);
            }
            catch (CloseWaitException e)
            {
                cmdlet.ThrowTerminatingError(e.ToErrorRecord());
                throw; // not reached
            }
        }

        /// <summary>
        /// A typed -NetworkNamespace that is empty or blank stops the command with InvalidNetworkNamespace,
        /// the same id on every cmdlet (a piped empty value on the settings cmdlets means the caller's own).
        /// </summary>
        internal static void RefuseEmpty(PSCmdlet cmdlet, string? networkNamespace)
        {
            if (cmdlet.MyInvocation.BoundParameters.ContainsKey("NetworkNamespace") && string.IsNullOrWhiteSpace(networkNamespace))
            {
                cmdlet.ThrowTerminatingError(new CloseWaitException(ErrorIds.InvalidNetworkNamespace, ErrorCategory.InvalidArgument,
                    "-NetworkNamespace is empty. Give a process ID (its namespace is used), a name listed by `ip netns`, or a path such as /proc/<pid>/ns/net; leave it out for this namespace.",
                    networkNamespace).ToErrorRecord());
            }
        }

        /// <summary>
        /// A -NetworkNamespace given as a path follows PowerShell's current location and `~`, as a
        /// built-in cmdlet's path does (after Set-Location /proc, ./self/ns/net is /proc/self/ns/net);
        /// a PID or an `ip netns` name (no '/') is kept as typed.
        /// </summary>
        internal static string? FromLocation(PSCmdlet cmdlet, string? networkNamespace)
        {
            if (string.IsNullOrWhiteSpace(networkNamespace))
            {
                return networkNamespace;
            }

            string spec = networkNamespace!.Trim();
            bool isPath = spec.IndexOf('/') >= 0 || spec == "~" || spec == "." || spec == "..";
            if (!isPath || spec.StartsWith("/", StringComparison.Ordinal))
            {
                return networkNamespace;
            }

            try
            {
                string resolved = cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(spec, out ProviderInfo provider, out _);
                return provider.Name == "FileSystem" ? resolved : networkNamespace;
            }
            catch (Exception e) when (!(e is PipelineStoppedException))
            {
                // Not a file-system location (a registry drive, a missing drive): the resolver says what is wrong with the spec.
                return networkNamespace;
            }
        }

        /// <summary>Throws the terminating error when -AllNetworkNamespaces cannot apply (off Linux, or with -NetworkNamespace).</summary>
        internal static void Validate(PSCmdlet cmdlet, bool all, string? networkNamespace)
        {
            if (!all)
            {
                return;
            }

            if (!PlatformServices.IsLinux)
            {
                cmdlet.ThrowTerminatingError(PlatformServices.AllNetworkNamespacesNotSupported().ToErrorRecord());
            }

            if (networkNamespace != null)
            {
                cmdlet.ThrowTerminatingError(new CloseWaitException(ErrorIds.NetworkNamespaceConflict, ErrorCategory.InvalidArgument,
                    "-AllNetworkNamespaces reads every namespace, -NetworkNamespace one: give one of them.", networkNamespace).ToErrorRecord());
            }
        }

        private void Report(NamespaceScanProgress p)
        {
            bool finished = p.Done >= p.Total;
            if (!_shown && (finished || _watch.ElapsedMilliseconds < QuietMilliseconds))
            {
                return;
            }

            _shown = true;
            var record = new ProgressRecord(ActivityId, "Reading every network namespace",
                string.Format(CultureInfo.InvariantCulture, "{0} of {1} namespaces", p.Done, p.Total))
            {
                PercentComplete = p.Total > 0 ? p.Done * 100 / p.Total : 0,
            };
            if (finished)
            {
                record.RecordType = ProgressRecordType.Completed;
            }

            _cmdlet.WriteProgress(record);
        }

        /// <summary>A scan a command walks itself (settings, port usage): how many namespaces it will read.</summary>
        internal void Begin(int total)
        {
            Progress.Total = total;
            Progress.Report();
        }

        /// <summary>One namespace of such a scan is done.</summary>
        internal void Next()
        {
            Progress.Done++;
            Progress.Report();
        }

        /// <summary>
        /// True (and recorded for the one warning) when <paramref name="e"/> says the namespace
        /// vanished between the scan and the read: its last process exited.
        /// </summary>
        internal bool Vanished(NetworkNamespaceEntry ns, CloseWaitException e)
        {
            if (ns.Spec == null || (e.ErrorId != ErrorIds.NetworkNamespaceNotFound && e.ErrorId != ErrorIds.NetworkNamespaceGone))
            {
                return false;
            }

            Progress.Vanished.Add(ns.Spec);
            return true;
        }

        /// <summary>Ends the progress bar and warns once about the namespaces that vanished.</summary>
        internal void Complete()
        {
            if (_shown)
            {
                _cmdlet.WriteProgress(new ProgressRecord(ActivityId, "Reading every network namespace", "Done") { RecordType = ProgressRecordType.Completed });
                _shown = false;
            }

            var vanished = Progress.Vanished;
            if (vanished.Count > 0)
            {
                _cmdlet.WriteWarning(HostWarning.Text(_cmdlet, string.Format(CultureInfo.InvariantCulture,
                    "{0} network namespace(s) vanished during the scan (their last process exited) and were skipped: {1}.",
                    vanished.Count, string.Join(", ", vanished.Take(10)))));
            }
        }
    }
}
