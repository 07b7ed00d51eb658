using System;
using System.Diagnostics;
using System.IO;
using System.Management.Automation;
using System.Text;
using System.Threading;
using CloseWait.Platform;

namespace CloseWait.Commands
{
    /// <summary>
    /// Writes CloseWait's metrics in the Prometheus text format for the node_exporter and
    /// windows_exporter textfile collectors: one collection (one socket table read), then the file
    /// replaced atomically (a temporary file in the same folder renamed over it, so that a scrape
    /// never reads half a file). Without -Path the text goes to the pipeline.
    /// </summary>
    [Cmdlet(VerbsData.Export, "TcpCloseWaitMetric", SupportsShouldProcess = true)]
    [OutputType(typeof(string))]
    public sealed class ExportTcpCloseWaitMetricCommand : PSCmdlet
    {
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();

        /// <summary>The .prom file to replace, in the textfile collector's directory; without it the text is written to the pipeline.</summary>
        [Parameter(Position = 0)]
        [ValidateNotNullOrEmpty]
        public string? Path { get; set; }

        /// <summary>Label sets kept per metric (services, destinations), largest first; the rest fold into one "other" series.</summary>
        [Parameter]
        [ValidateRange(1, 10000)]
        public int MaxSeries { get; set; } = 25;

        /// <summary>A socket counts as stuck once in CLOSE_WAIT this long (as Test-TcpCloseWait); default 60 s.</summary>
        [Parameter]
        [SecondsToTimeSpan]
        [ValidateTimeSpanRange(0, 10L * 365 * 24 * 3600)]
        public TimeSpan StuckAfter { get; set; } = TimeSpan.FromMinutes(1);

        /// <summary>Where the table gives no idle time (Windows, macOS): this many sockets of one process are a problem; default 10.</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int MinimumCount { get; set; } = 10;

        /// <summary>Linux: every network namespace in use on the host, with container and pod labels where known.</summary>
        [Parameter]
        public SwitchParameter AllNetworkNamespaces { get; set; }

        protected override void StopProcessing() => _stop.Cancel();

        protected override void EndProcessing()
        {
            string? file = Path == null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
            if (file != null)
            {
                string? folder = System.IO.Path.GetDirectoryName(file);
                if (string.IsNullOrEmpty(folder) || !Directory.Exists(folder))
                {
                    ThrowTerminatingError(new CloseWaitException(ErrorIds.MetricFolderNotFound, ErrorCategory.ObjectNotFound,
                        $"The folder of {file} does not exist. Give a file in the textfile collector's directory (node_exporter --collector.textfile.directory, windows_exporter's textfile_inputs), or create the folder first.", file).ToErrorRecord());
                }

                if (!file.EndsWith(".prom", StringComparison.OrdinalIgnoreCase))
                {
                    WriteWarning(HostWarning.Text(this, $"{file} does not end in .prom: the node_exporter and windows_exporter textfile collectors read only *.prom files."));
                }
            }

            NamespaceScanReporter.Validate(this, AllNetworkNamespaces, null);
            // Asked before the collection: with -WhatIf there is nothing to collect for.
            if (file != null && !ShouldProcess(file, "Replace the metrics file"))
            {
                return;
            }

            var options = new MetricOptions
            {
                Thresholds = new CloseWaitThresholds { StuckAfter = StuckAfter, MinimumCount = MinimumCount },
                MaxSeries = MaxSeries,
                PlacementLabels = AllNetworkNamespaces,
            };

            var watch = Stopwatch.StartNew();
            var families = Collect(options, out ErrorRecord? failure);
            if (_stop.IsCancellationRequested)
            {
                return;
            }

            double now = (DateTime.UtcNow - new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc)).TotalSeconds;
            double seconds = watch.Elapsed.TotalSeconds;
            if (families != null)
            {
                families.AddRange(CloseWaitMetrics.Collector(true, seconds, now));
            }
            else
            {
                // A failed collection still replaces the file: the alert on closewait_collection_success
                // fires, and the last success carried over keeps the staleness alert honest.
                families = CloseWaitMetrics.Collector(false, seconds, file != null ? LastSuccess(file) : null);
            }

            WriteVerbose($"Collected {families.Count} metric families in {watch.ElapsedMilliseconds} ms.");
            string text = PrometheusText.ToText(families);
            if (file == null)
            {
                WriteObject(text);
            }
            else
            {
                WriteFile(file, text);
            }

            if (failure != null)
            {
                WriteError(failure);
            }
        }

        /// <summary>The one place the command collects: the socket table read, owners and analysis are MetricCollector's.</summary>
        private System.Collections.Generic.List<MetricFamily>? Collect(MetricOptions options, out ErrorRecord? failure)
        {
            failure = null;
            var scan = AllNetworkNamespaces ? new NamespaceScanReporter(this) : null;
            var query = new SocketQuery { AllNetworkNamespaces = AllNetworkNamespaces, Progress = scan?.Progress };
            try
            {
                var collector = new MetricCollector(PlatformServices.SocketTable, PlatformServices.OwnerResolver,
                    AllNetworkNamespaces ? PlatformServices.CreateContainerResolver() : null,
                    PlatformServices.ProcessDescriptors, PlatformServices.TimeWaitStore, PlatformServices.ProcessTable);
                var snapshot = collector.Collect(query, options.Thresholds, _stop.Token);
                scan?.Complete();
                if (collector.UnownedSockets > 0 && collector.InaccessibleProcesses > 0)
                {
                    WriteWarning(HostWarning.Text(this, ConnectionLister.OwnerWarning(collector.UnownedSockets, collector.InaccessibleProcesses)));
                }

                foreach (var w in collector.Warnings)
                {
                    WriteWarning(HostWarning.Text(this, w));
                }

                return CloseWaitMetrics.Build(snapshot, options);
            }
            catch (OperationCanceledException)
            {
                return null;
            }
            catch (Exception ex) when (TcpConnectionCommandBase.TranslateFailure(ex) is ErrorRecord record)
            {
                failure = record;
                return null;
            }
        }

        /// <summary>The last success an earlier file recorded; null when there is none.</summary>
        private static double? LastSuccess(string file)
        {
            try
            {
                return File.Exists(file) ? PrometheusText.ReadSample(File.ReadAllText(file), CloseWaitMetrics.LastSuccessName) : null;
            }
            catch (IOException)
            {
                return null;
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }
        }

        /// <summary>
        /// Renames the written file over the target. On Windows a scrape that has the target open
        /// (without FILE_SHARE_DELETE, as Go opens files) makes ReplaceFile fail for that moment:
        /// a few short retries, then the error.
        /// </summary>
        private static void MoveIntoPlace(string temp, string file)
        {
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    if (File.Exists(file))
                    {
                        File.Replace(temp, file, null);
                    }
                    else
                    {
                        File.Move(temp, file);
                    }

                    return;
                }
                catch (IOException) when (attempt < 5 && PlatformServices.IsWindows)
                {
                    Thread.Sleep(50 * attempt);
                }
            }
        }

        /// <summary>
        /// Writes a temporary file beside the target (same folder, so the same file system), flushes
        /// it to disk, then renames it over the target: rename(2) on Unix, ReplaceFile on Windows.
        /// The temporary name does not end in .prom, so the collector never reads it.
        /// </summary>
        private void WriteFile(string file, string text)
        {
            string temp = file + "." + Guid.NewGuid().ToString("N").Substring(0, 8) + ".tmp";
            try
            {
                using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                {
                    var bytes = new UTF8Encoding(false).GetBytes(text);
                    stream.Write(bytes, 0, bytes.Length);
                    stream.Flush(true);
                }

                MoveIntoPlace(temp, file);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                try
                {
                    File.Delete(temp);
                }
                catch (Exception cleanup) when (cleanup is IOException || cleanup is UnauthorizedAccessException)
                {
                }

                WriteError(new CloseWaitException(ErrorIds.MetricWriteFailed, ErrorCategory.WriteError,
                    $"Could not write {file}: {e.Message} Run the export as the user that may write the textfile collector's directory (root or SYSTEM).", file, e).ToErrorRecord());
            }
        }
    }
}
