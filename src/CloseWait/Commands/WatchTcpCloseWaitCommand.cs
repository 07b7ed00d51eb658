using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using CloseWait.Platform;

namespace CloseWait.Commands
{
    /// <summary>
    /// Samples the CLOSE_WAIT sockets every -Interval and writes what changed as it happens:
    /// Entered, Left (with the measured Duration), Growing (a service whose count keeps rising: a program with its workers, backends and children).
    /// Runs until -Duration or -Count is reached, or until Ctrl+C.
    /// </summary>
    [Cmdlet(VerbsCommon.Watch, "TcpCloseWait")]
    [OutputType(typeof(TcpCloseWaitEvent))]
    public sealed class WatchTcpCloseWaitCommand : TcpConnectionCommandBase
    {
        private static readonly TcpState[] CloseWaitOnly = { TcpState.CloseWait };

        /// <summary>Time between samples (seconds or hh:mm:ss); 1 second by default.</summary>
        [Parameter]
        [SecondsToTimeSpan]
        [ValidateTimeSpanRange(0.1, 24 * 3600)]
        public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(1);

        /// <summary>Stop after this long (seconds or hh:mm:ss); the last sample is taken at the end.</summary>
        [Parameter]
        [SecondsToTimeSpan]
        [ValidateTimeSpanRange(0, 10L * 365 * 24 * 3600)]
        public TimeSpan? Duration { get; set; }

        /// <summary>Stop after this many samples.</summary>
        [Parameter]
        [WholeNumber(1, int.MaxValue)]
        [ValidateRange(1, int.MaxValue)]
        public int? Count { get; set; }

        protected override TcpState[]? RequestedStates => CloseWaitOnly;

        /// <summary>Read only for a process reported as Growing, so it costs nothing per sample.</summary>
        private static (long? Open, long? Limit) DescriptorUsage(int pid) =>
            PlatformServices.ProcessDescriptors.TryGet(pid, out int open, out long? limit) ? (open, limit) : ((long?)null, (long?)null);

        /// <summary>
        /// The listening sockets on the watched ports with their owners, read once at the start (a
        /// service's listener outlives the watch's sockets); none with -AllNetworkNamespaces, where the
        /// platform gives no parents (each PID is its own service there), or when they cannot be read,
        /// and each PID then groups with its same-named parents only.
        /// </summary>
        private IReadOnlyList<TcpConnection> ReadListeners(ConnectionFilter watched)
        {
            if (AllNetworkNamespaces || NoOwner || !PlatformServices.ProcessTable.GivesParents)
            {
                return new TcpConnection[0];
            }

            var filter = new ConnectionFilter { States = new[] { TcpState.Listen }, LocalPorts = watched.LocalPorts, AddressFamily = watched.AddressFamily };
            var query = BuildQuery(filter);
            query.States = filter.States;
            query.RemotePorts = null;
            try
            {
                var lister = new ConnectionLister(PlatformServices.SocketTable, PlatformServices.OwnerResolver);
                return lister.List(filter, query, true, StopToken).ToList();
            }
            catch (Exception ex) when (ex is CloseWaitException || ex is OperationCanceledException || ex is System.IO.IOException)
            {
                WriteVerbose($"No listeners for the service names: {ex.Message}");
                return new TcpConnection[0];
            }
        }

        /// <summary>A read failed because the namespace pinned by -NetworkNamespace (its inode) cannot be entered any more.</summary>
        private bool PinnedNamespaceGone(SocketQuery query, CloseWaitException e) =>
            !AllNetworkNamespaces && query.Namespace is NamespaceIdentity pinned && !pinned.IsOwn && pinned.Inode != null
            && (e.ErrorId == ErrorIds.NetworkNamespaceGone || e.ErrorId == ErrorIds.NetworkNamespaceNotFound);

        protected override void EndProcessing()
        {
            NamespaceScanReporter.RefuseEmpty(this, NetworkNamespace);
            NetworkNamespace = NamespaceScanReporter.FromLocation(this, NetworkNamespace);
            if (SelectsNothing)
            {
                return;
            }

            NamespaceScanReporter.Validate(this, AllNetworkNamespaces, NetworkNamespace);
            var filter = BuildFilter();
            var query = BuildQuery(filter);
            CloseWaitSampler sampler;
            try
            {
                sampler = new CloseWaitSampler(PlatformServices.SocketTable,
                    NoOwner && !filter.FiltersByOwner ? null : PlatformServices.OwnerResolver, filter, query);
            }
            catch (CloseWaitException e)
            {
                ThrowTerminatingError(e.ToErrorRecord());
                return;
            }

            // Growing per service: a listener's owners and their children, a program and its children
            // of the same name; unowned sockets count with the listener of their port, else per port.
            var services = new ServiceMap(PlatformServices.ProcessTable) { Listeners = ReadListeners(filter) };
            var tracker = new CloseWaitTracker(DescriptorUsage, services);
            var clock = Stopwatch.StartNew();
            DateTime start = DateTime.Now;
            TimeSpan? end = Duration;
            bool warned = false;
            for (long n = 1; ; n++)
            {
                // Sample times come from one monotonic clock, so durations never jump with the wall clock.
                TimeSpan at = clock.Elapsed;
                var readWatch = Stopwatch.StartNew();
                List<TcpConnection> sample;
                // -AllNetworkNamespaces: every sample scans the namespaces anew (containers come and go).
                var scan = AllNetworkNamespaces ? new NamespaceScanReporter(this) : null;
                query.Progress = scan?.Progress;
                try
                {
                    sample = sampler.Read(StopToken);
                    scan?.Complete();
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (CloseWaitException gone) when (PinnedNamespaceGone(query, gone))
                {
                    // The namespace pinned at the start (its inode) is gone, or its name or PID now leads
                    // to another: its sockets left with it. Never follow the name to a new namespace.
                    foreach (var e in tracker.Observe(start + clock.Elapsed, new List<TcpConnection>()))
                    {
                        WriteObject(e);
                    }

                    var pinned = query.Namespace!;
                    WriteWarning(HostWarning.Text(this,
                        $"The network namespace '{pinned.Spec}' (net:[{pinned.Inode}]) this watch started in is gone, or '{pinned.Spec}' now names another namespace: its sockets are reported Left and the watch ends. Start a new watch to follow what '{pinned.Spec}' names now."));
                    return;
                }
                catch (Exception ex) when (TranslateFailure(ex) is ErrorRecord record)
                {
                    ThrowTerminatingError(record);
                    return;
                }

                foreach (var e in tracker.Observe(start + at, sample))
                {
                    WriteObject(e);
                }

                WriteVerbose($"Sample {n}: {sample.Count} socket(s) in CLOSE_WAIT, read in {readWatch.ElapsedMilliseconds} ms; owner walks so far: {sampler.OwnerWalks} of every process, {sampler.KnownOwnerWalks} of the known owners only.");
                if (!warned && sampler.UnownedSockets > 0 && sampler.InaccessibleProcesses > 0)
                {
                    warned = true;
                    WriteWarning(HostWarning.Text(this, ConnectionLister.OwnerWarning(sampler.UnownedSockets, sampler.InaccessibleProcesses)));
                }

                if ((Count is int count && n >= count) || (end is TimeSpan last && at >= last))
                {
                    return;
                }

                // Fixed rate: the next slot after now (a slow sample skips slots rather than bunching up),
                // and a last sample exactly at the end of -Duration.
                TimeSpan elapsed = clock.Elapsed;
                long slot = Math.Max(n, (long)(elapsed.Ticks / Interval.Ticks) + 1);
                TimeSpan next = TimeSpan.FromTicks(Math.Min(slot * Interval.Ticks, TimeSpan.MaxValue.Ticks / 2));
                if (end is TimeSpan stop && next > stop)
                {
                    next = stop;
                }

                // Ctrl+C (StopProcessing) sets the handle and ends the wait at once. WaitOne counts
                // whole milliseconds, so wait again for what rounding left.
                for (TimeSpan wait; (wait = next - clock.Elapsed) > TimeSpan.Zero;)
                {
                    if (StopToken.WaitHandle.WaitOne((int)Math.Ceiling(wait.TotalMilliseconds)))
                    {
                        return;
                    }
                }

                if (StopToken.IsCancellationRequested)
                {
                    return;
                }
            }
        }
    }
}
