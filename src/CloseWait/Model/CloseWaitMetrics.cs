using System;
using System.Collections.Generic;
using System.Linq;

namespace CloseWait
{
    /// <summary>What one collection found, ready to become metrics; filled by <see cref="MetricCollector"/> or by tests.</summary>
    internal sealed class MetricSnapshot
    {
        /// <summary>Sockets per state, every namespace read added up.</summary>
        public Dictionary<TcpState, int> States { get; } = new Dictionary<TcpState, int>();

        public List<TcpCloseWaitDiagnosis> Diagnoses { get; } = new List<TcpCloseWaitDiagnosis>();

        /// <summary>The listening sockets the diagnoses were made with (inbound or outbound tells a cause).</summary>
        public List<TcpConnection> Listeners { get; } = new List<TcpConnection>();

        /// <summary>Get-TcpPortUsage's rows, every namespace read.</summary>
        public List<TcpPortUsage> PortUsage { get; } = new List<TcpPortUsage>();
    }

    /// <summary>The settings of one export (Export-TcpCloseWaitMetric's parameters).</summary>
    internal sealed class MetricOptions
    {
        public CloseWaitThresholds Thresholds { get; set; } = new CloseWaitThresholds();

        /// <summary>Label sets kept per metric (services, destinations); the rest fold into one "other" series.</summary>
        public int MaxSeries { get; set; } = 25;

        /// <summary>Add container and pod labels (read with -AllNetworkNamespaces).</summary>
        public bool PlacementLabels { get; set; }
    }

    /// <summary>
    /// Turns a snapshot into CloseWait's metric families: names under closewait_, base units,
    /// bounded labels and never a PID. Pure, so that the names, the folding and the labels are
    /// tested without a kernel.
    /// </summary>
    internal static class CloseWaitMetrics
    {
        internal const string Prefix = "closewait_";
        internal const string LastSuccessName = Prefix + "last_success_timestamp_seconds";

        /// <summary>The states listed on every platform: always written, 0 when none, so that a series does not come and go.</summary>
        private static readonly TcpState[] CommonStates =
        {
            TcpState.Established, TcpState.SynSent, TcpState.SynReceived, TcpState.FinWait1, TcpState.FinWait2, TcpState.TimeWait,
            TcpState.Closed, TcpState.CloseWait, TcpState.LastAck, TcpState.Listen, TcpState.Closing,
        };

        private static readonly string[] ServiceLabels = { "service", "container", "pod", "pod_namespace" };

        /// <summary>
        /// The service label of a diagnosis: the one place that names a service. Today's diagnosis
        /// is per process, so processes of one program fold into one series by name; the PID is never a label.
        /// </summary>
        internal static string ServiceOf(TcpCloseWaitDiagnosis d)
        {
            if (d.ProcessId == null)
            {
                return "unowned";
            }

            // Test-TcpCloseWait's Service: "postgres :5432" for a server, "python3 (10288)" for a lone
            // process, whose PID must not become a label (one series per restart).
            string service = d.Service.Length > 0 ? d.Service : d.Program ?? "unknown";
            int pid = service.LastIndexOf(" (", StringComparison.Ordinal);
            return pid > 0 && service.EndsWith(")", StringComparison.Ordinal) ? service.Substring(0, pid) : service;
        }

        /// <summary>The sockets the diagnosis counts as stuck: past StuckAfter, plus those of unknown age when it is not Normal (as the analyzer counts them).</summary>
        internal static IEnumerable<TcpConnection> Stuck(TcpCloseWaitDiagnosis d, CloseWaitThresholds t) =>
            d.Connections.Where(c => c.IdleTime >= t.StuckAfter || (c.IdleTime == null && !d.Healthy));

        /// <summary>The metrics of a successful collection, but the collector's own (<see cref="Collector"/>).</summary>
        internal static List<MetricFamily> Build(MetricSnapshot s, MetricOptions o)
        {
            var families = new List<MetricFamily>();

            var states = new MetricFamily(Prefix + "sockets", "TCP sockets per state (Get-TcpConnectionSummary).", MetricAggregation.Sum, "state");
            foreach (var state in CommonStates.Concat(s.States.Keys.Where(k => Array.IndexOf(CommonStates, k) < 0)))
            {
                states.Add(s.States.TryGetValue(state, out int n) ? n : 0, state.ToString());
            }

            families.Add(states);

            var closeWait = ServiceFamily("close_wait_sockets", "CLOSE_WAIT sockets per service, brief ones included (Get-TcpCloseWait).", MetricAggregation.Sum);
            var stuck = new MetricFamily(Prefix + "stuck_sockets", "CLOSE_WAIT sockets stuck past the threshold per service and cause (Test-TcpCloseWait).", MetricAggregation.Sum, "service", "cause", "container", "pod", "pod_namespace");
            var oldest = ServiceFamily("stuck_oldest_seconds", "How long the oldest stuck CLOSE_WAIT socket of the service has waited since the peer's FIN.", MetricAggregation.Max);
            var peerIdle = ServiceFamily("peer_idle_timeout_seconds", "The peer's idle timeout inferred from the service's stuck sockets (a balancer or proxy closing idle connections).", MetricAggregation.Max);
            var open = ServiceFamily("process_open_fds", "Open file descriptors of the service's process nearest its limit.", MetricAggregation.Max);
            var limit = ServiceFamily("process_max_fds", "The soft descriptor limit of the service's process nearest its limit.", MetricAggregation.Max);
            var weights = new List<KeyValuePair<string, double>>();

            foreach (var d in s.Diagnoses)
            {
                var where = Placement(d, o);
                string service = ServiceOf(d);
                closeWait.Add(d.Count, service, where[0], where[1], where[2]);
                var stuckSockets = Stuck(d, o.Thresholds).ToList();
                // Rank by stuck sockets first; CLOSE_WAIT count breaks ties between healthy ones.
                weights.Add(new KeyValuePair<string, double>(service, stuckSockets.Count + (d.Count / 1e7)));
                foreach (var g in stuckSockets.GroupBy(c => CauseOf(c, s.Listeners)))
                {
                    stuck.Add(g.Count(), service, g.Key, where[0], where[1], where[2]);
                }

                var ages = stuckSockets.Where(c => c.IdleTime != null).Select(c => c.IdleTime!.Value.TotalSeconds).ToList();
                if (ages.Count > 0)
                {
                    oldest.Add(ages.Max(), service, where[0], where[1], where[2]);
                }

                if (d.PeerIdleTimeout is TimeSpan timeout)
                {
                    peerIdle.Add(timeout.TotalSeconds, service, where[0], where[1], where[2]);
                }
            }

            // Descriptors: per service the process nearest its limit, so open and limit come from one process.
            foreach (var g in s.Diagnoses.Where(d => d.OpenDescriptors != null).GroupBy(d => string.Join("\u0000", new[] { ServiceOf(d) }.Concat(Placement(d, o)))))
            {
                var worst = g.OrderByDescending(d => d.DescriptorLimit is long l && l > 0 ? (double)d.OpenDescriptors!.Value / l : 0).ThenByDescending(d => d.OpenDescriptors).First();
                var where = Placement(worst, o);
                open.Add(worst.OpenDescriptors!.Value, ServiceOf(worst), where[0], where[1], where[2]);
                if (worst.DescriptorLimit is long l)
                {
                    limit.Add(l, ServiceOf(worst), where[0], where[1], where[2]);
                }
            }

            var keptServices = PrometheusText.Largest(weights, o.MaxSeries);
            families.Add(closeWait.Fold("service", keptServices));
            families.Add(stuck.Fold("service", keptServices, "cause"));
            families.Add(oldest.Fold("service", keptServices));
            families.Add(peerIdle.Fold("service", keptServices));
            families.Add(open.Fold("service", keptServices));
            families.Add(limit.Fold("service", keptServices));

            var used = new MetricFamily(Prefix + "ephemeral_ports_in_use", "Local ephemeral ports taken towards one destination, TIME_WAIT included (Get-TcpPortUsage).", MetricAggregation.Max, "destination", "local_address");
            var usable = new MetricFamily(Prefix + "ephemeral_ports_usable", "Usable ephemeral ports towards one destination: the range minus reserved ports.", MetricAggregation.Max, "destination", "local_address");
            var portWeights = new List<KeyValuePair<string, double>>();
            foreach (var row in s.PortUsage.Where(r => r.Direction == "Outbound"))
            {
                string destination = TcpConnection.FormatEndpoint(row.RemoteAddress ?? string.Empty, row.RemotePort ?? 0);
                used.Add(row.InUse, destination, row.LocalAddress);
                usable.Add(row.RangeSize ?? 0, destination, row.LocalAddress);
                portWeights.Add(new KeyValuePair<string, double>(destination, row.InUse));
            }

            var keptDestinations = PrometheusText.Largest(portWeights, o.MaxSeries);
            families.Add(used.Fold("destination", keptDestinations));
            families.Add(usable.Fold("destination", keptDestinations));
            return families;
        }

        /// <summary>The collector's own health: written on success and on failure (then with the last success carried over).</summary>
        internal static List<MetricFamily> Collector(bool success, double durationSeconds, double? lastSuccessUnixSeconds)
        {
            var families = new List<MetricFamily>();
            var ok = new MetricFamily(Prefix + "collection_success", "1 when the last collection succeeded, 0 when it failed (the error is in the export's log).", MetricAggregation.Max);
            ok.Add(success ? 1 : 0);
            families.Add(ok);
            var duration = new MetricFamily(Prefix + "collection_duration_seconds", "How long the last collection took.", MetricAggregation.Max);
            duration.Add(durationSeconds);
            families.Add(duration);
            if (lastSuccessUnixSeconds is double last)
            {
                var when = new MetricFamily(LastSuccessName, "When a collection last succeeded, in seconds since the Unix epoch.", MetricAggregation.Max);
                when.Add(last);
                families.Add(when);
            }

            return families;
        }

        /// <summary>One socket's cause, as Test-TcpCloseWait names it; Unknown where the table cannot tell.</summary>
        internal static string CauseOf(TcpConnection c, IReadOnlyList<TcpConnection> listeners) =>
            CloseWaitAnalyzer.Classify(c, CloseWaitAnalyzer.ListenerOf(c, listeners) != null)?.ToString() ?? "Unknown";

        private static MetricFamily ServiceFamily(string name, string help, MetricAggregation aggregation) =>
            new MetricFamily(Prefix + name, help, aggregation, ServiceLabels);

        /// <summary>Container, pod and pod namespace of the service's sockets, where known and asked for; empty leaves a label out.</summary>
        private static string[] Placement(TcpCloseWaitDiagnosis d, MetricOptions o)
        {
            if (!o.PlacementLabels)
            {
                return new[] { string.Empty, string.Empty, string.Empty };
            }

            var c = d.Connections.FirstOrDefault(x => x.ContainerName != null || x.ContainerId != null || x.PodName != null);
            if (c == null)
            {
                return new[] { string.Empty, string.Empty, string.Empty };
            }

            string container = c.ContainerName ?? (c.ContainerId is string id && id.Length > 12 ? id.Substring(0, 12) : c.ContainerId) ?? string.Empty;
            return new[] { container, c.PodName ?? string.Empty, c.PodNamespace ?? string.Empty };
        }
    }
}
