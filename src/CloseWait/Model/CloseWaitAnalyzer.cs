using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using CloseWait.Platform;

namespace CloseWait
{
    /// <summary>The thresholds of a diagnosis; the defaults are documented in Test-TcpCloseWait's help and the README.</summary>
    internal sealed class CloseWaitThresholds
    {
        /// <summary>
        /// A socket is stuck once its IdleTime (time since the peer's FIN) reaches this. A program
        /// that closes what its peer closed does so within milliseconds, or at the end of the
        /// request it is serving: a minute leaves room for a slow response.
        /// </summary>
        public TimeSpan StuckAfter { get; set; } = TimeSpan.FromMinutes(1);

        /// <summary>Where the table gives no idle time (Windows, macOS), this many sockets of one process are a problem.</summary>
        public int MinimumCount { get; set; } = 10;

        /// <summary>Stuck sockets from which a process is Critical.</summary>
        public int CriticalCount { get; set; } = 1000;

        /// <summary>Open descriptors over the limit from which a process is Critical (EMFILE comes next).</summary>
        public double CriticalDescriptorRatio { get; set; } = 0.8;

        /// <summary>Idle time between the peer's last data and its FIN below which the close is not an idle timeout.</summary>
        public TimeSpan MinimumIdleGap { get; set; } = TimeSpan.FromSeconds(1);

        /// <summary>Sockets that must agree on the idle time before a peer's idle timeout is inferred.</summary>
        public int MinimumCluster { get; set; } = 3;

        /// <summary>How far apart idle times of one cluster may be: this fraction of the idle time, and at least one second.</summary>
        public double ClusterSpread { get; set; } = 0.1;

        /// <summary>
        /// FINs of one cluster that all arrived within this window came at one instant: the peer closed
        /// them together (it restarted, or dropped its pool), which is no idle timeout.
        /// </summary>
        public TimeSpan MassCloseWindow { get; set; } = TimeSpan.FromMilliseconds(200);

        /// <summary>Local ports below this are a server's (Linux's ip_local_port_range starts at 32768 by default).</summary>
        public int EphemeralPortStart { get; set; } = 32768;
    }

    /// <summary>Test-TcpCloseWait's grouping: one diagnosis per service (default) or per process.</summary>
    public enum TcpCloseWaitGrouping
    {
        Service,
        Process,
    }

    /// <summary>
    /// Turns CLOSE_WAIT sockets, the listening sockets beside them, the process table and the
    /// owners' descriptor counts into one diagnosis per service (or per process), and one for
    /// sockets no process owns. Pure: no I/O but through the readers it is given, so that
    /// Test-TcpCloseWait, Watch-TcpCloseWait and a fleet overview share it and tests feed it
    /// constructed sockets and processes.
    /// </summary>
    /// <remarks>
    /// Evidence per socket (Linux gives all of it; other tables less, and what is missing is said,
    /// never guessed): held by more than one process, or only by a child forked from a worker that
    /// holds the listening socket it never accepts on: Inherited; unread data: NotRead; end of stream
    /// read, nothing unread: NotClosed; only the FIN unread: NotRead on an inbound socket, IdlePool on
    /// an outbound one. No owner, no inode, on a listening port: AcceptBacklog (never accepted).
    /// Inbound: on a listening port, or on a local port below the ephemeral range, or one local port
    /// shared by several sockets; outbound: connected to a listener of this host, or none of those.
    /// Across sockets: DataIdleTime minus IdleTime is how long each sat idle before the peer's FIN.
    /// Where enough agree, and the FINs did not all come at one instant (a mass close): on sockets that
    /// ended an idle keep-alive (outbound IdlePool, inbound with nothing unread) the peer's idle
    /// timeout (PeerIdleTimeout); on inbound sockets left unread or unaccepted how long clients waited
    /// for an answer (ClientTimeout). In CLOSE_WAIT only ACKs arrive after the FIN, so the FIN came no
    /// later than the last data: the stuck time lies between IdleTime (which ACKs of keepalive probes
    /// or of sent data move on) and DataIdleTime.
    /// Advice comes from the cause and from <see cref="SoftwareKnowledge"/>: never a TCP keepalive
    /// change (probes carry no data and reset no application timer), never a SIGKILL of a process that
    /// is part of a service.
    /// </remarks>
    internal static class CloseWaitAnalyzer
    {
        internal static List<TcpCloseWaitDiagnosis> Analyze(
            IEnumerable<TcpConnection> closeWait,
            IReadOnlyList<TcpConnection> listeners,
            IProcessDescriptors? descriptors,
            CloseWaitThresholds thresholds,
            IProcessTable? processes = null,
            TcpCloseWaitGrouping groupBy = TcpCloseWaitGrouping.Service)
        {
            var sockets = closeWait.Where(c => c.State == TcpState.CloseWait).ToList();
            var map = new ServiceMap(processes) { Listeners = listeners };
            // Per namespace: under -AllNetworkNamespaces each namespace has its own 127.0.0.1:45000.
            var shared = sockets.GroupBy(c => (c.NetworkNamespaceId, c.LocalAddress, c.LocalPort)).ToDictionary(g => g.Key, g => g.Count());
            var result = new List<TcpCloseWaitDiagnosis>();
            var groups = groupBy == TcpCloseWaitGrouping.Process
                ? sockets.GroupBy(c => (Key: (long)(c.ProcessId ?? -1), UnownedIn: c.ProcessId == null ? c.NetworkNamespaceId : null))
                : sockets.GroupBy(c =>
                {
                    long key = map.KeyOf(c, unownedPerPort: false);
                    return (Key: key, UnownedIn: key < 0 ? c.NetworkNamespaceId : null); // unowned sockets: one row per namespace
                });
            foreach (var g in groups)
            {
                var group = new Group(g.ToList(), g.Key.Key, map, shared, groupBy);
                result.Add(Diagnose(group, descriptors, thresholds));
            }

            return result
                .OrderByDescending(d => d.Severity)
                .ThenByDescending(d => d.StuckCount ?? d.Count)
                .ThenByDescending(d => d.Count)
                .ThenBy(d => d.ProcessId ?? int.MaxValue)
                .ToList();
        }

        /// <summary>Whether the table lists every process holding a socket (Linux: /proc/&lt;pid&gt;/fd); Windows and macOS name one.</summary>
        internal static bool ListsEveryOwner(TcpConnection c) => c.Source == "Netlink" || c.Source == "ProcNet";

        /// <summary>The listener that would have accepted this socket: same namespace, same port, same or wildcard address.</summary>
        internal static TcpConnection? ListenerOf(TcpConnection c, IReadOnlyList<TcpConnection> listeners) =>
            new ServiceMap(null) { Listeners = listeners }.ListenerOf(c);

        /// <summary>
        /// Whether a socket was accepted (inbound) rather than connected (outbound), without resting on
        /// the listener still existing: a listener on its port, or a local port below the ephemeral
        /// range, or a local port several sockets share, make it inbound; a listener of this host at
        /// its remote end makes it outbound.
        /// </summary>
        internal static bool IsInbound(TcpConnection c, ServiceMap map, IReadOnlyDictionary<(ulong?, string, int), int> shared, CloseWaitThresholds t)
        {
            if (map.ListenerOf(c) != null)
            {
                return true;
            }

            if (map.ListenerAtRemoteEnd(c) != null)
            {
                return false;
            }

            if (c.LocalPort < t.EphemeralPortStart && c.RemotePort >= t.EphemeralPortStart)
            {
                return true;
            }

            return shared.TryGetValue((c.NetworkNamespaceId, c.LocalAddress, c.LocalPort), out int n) && n > 1;
        }

        /// <summary>One socket's cause from its own evidence; null when the table cannot tell.</summary>
        internal static TcpCloseWaitCause? Classify(TcpConnection c, bool inbound)
        {
            bool everyOwner = ListsEveryOwner(c);
            if (c.ProcessId == null)
            {
                // No struct socket yet (inode 0): never accepted. With an inode, the owner is only hidden.
                return everyOwner && c.Inode == null && inbound ? TcpCloseWaitCause.AcceptBacklog : (TcpCloseWaitCause?)null;
            }

            if (everyOwner && HeldByOthers(c))
            {
                return TcpCloseWaitCause.Inherited;
            }

            if (c.ReceiveQueue > 0)
            {
                return TcpCloseWaitCause.NotRead;
            }

            switch (c.EndOfStreamRead)
            {
                case true:
                    return TcpCloseWaitCause.NotClosed;
                case false:
                    return inbound ? TcpCloseWaitCause.NotRead : TcpCloseWaitCause.IdlePool;
                default:
                    return null;
            }
        }

        /// <summary>More than one process holds the socket (Owners lists each descriptor: a dup() in one process is not a second holder).</summary>
        private static bool HeldByOthers(TcpConnection c)
        {
            foreach (var o in c.Owners)
            {
                if (o.ProcessId != c.Owners[0].ProcessId)
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>
        /// True when the socket's stuck time is only known within bounds: the ACKs of keepalive probes
        /// sent after the FIN may have moved IdleTime on. A running keepalive timer fires at the last
        /// ACK plus the socket's keepalive time (before any probe) or interval (between probes), so
        /// IdleTime + TimerExpiresIn is that period; probes can have gone out since the FIN only where
        /// the period is shorter than DataIdleTime (PostgreSQL's backends run a 2 h keepalive: exact).
        /// Without the timer's expiry, a running keepalive timer alone bounds it.
        /// </summary>
        internal static bool StuckTimeIsBounded(TcpConnection c)
        {
            if (c.KeepAliveTimer != true || !(c.DataIdleTime is TimeSpan data) || !(c.IdleTime is TimeSpan idle) || data <= idle)
            {
                return false;
            }

            return !(c.TimerExpiresIn is TimeSpan expires) || idle + expires < data;
        }

        /// <summary>The longest the socket may have been in CLOSE_WAIT: DataIdleTime where bounded, else IdleTime.</summary>
        internal static TimeSpan? StuckAtMost(TcpConnection c) => StuckTimeIsBounded(c) ? c.DataIdleTime : c.IdleTime;

        /// <summary>
        /// The idle time the peer's closes cluster around: the largest set of sockets (at least
        /// <see cref="CloseWaitThresholds.MinimumCluster"/>, and at least half of those that sat idle
        /// before the FIN) whose idle gaps lie within the spread; its median. Null when none.
        /// </summary>
        internal static TimeSpan? InferPeerIdleTimeout(IEnumerable<TcpConnection> sockets, CloseWaitThresholds t, out int clustered) =>
            InferIdleGap(sockets, t, out clustered, out _);

        /// <summary>As <see cref="InferPeerIdleTimeout"/>; null also when the cluster's FINs all came at one instant (<paramref name="massClose"/>).</summary>
        internal static TimeSpan? InferIdleGap(IEnumerable<TcpConnection> sockets, CloseWaitThresholds t, out int clustered, out int massClose)
        {
            clustered = 0;
            massClose = 0;
            var gaps = sockets
                .Where(c => c.IdleTime != null && c.DataIdleTime != null && !StuckTimeIsBounded(c))
                .Select(c => (Gap: c.DataIdleTime!.Value - c.IdleTime!.Value, Fin: c.IdleTime!.Value))
                .Where(g => g.Gap >= t.MinimumIdleGap)
                .OrderBy(g => g.Gap)
                .ToList();
            if (gaps.Count < t.MinimumCluster)
            {
                return null;
            }

            int bestStart = 0, bestLength = 0;
            int end = 0;
            for (int start = 0; start < gaps.Count; start++)
            {
                var spread = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, (long)(gaps[start].Gap.Ticks * t.ClusterSpread)));
                if (end < start)
                {
                    end = start;
                }

                while (end + 1 < gaps.Count && gaps[end + 1].Gap - gaps[start].Gap <= spread)
                {
                    end++;
                }

                if (end - start + 1 > bestLength)
                {
                    bestStart = start;
                    bestLength = end - start + 1;
                }
            }

            if (bestLength < t.MinimumCluster || bestLength * 2 < gaps.Count)
            {
                return null;
            }

            var cluster = gaps.GetRange(bestStart, bestLength);
            if (cluster.Max(g => g.Fin) - cluster.Min(g => g.Fin) <= t.MassCloseWindow)
            {
                massClose = bestLength;
                return null;
            }

            clustered = bestLength;
            var median = cluster[bestLength / 2].Gap;
            const long Tenth = TimeSpan.TicksPerSecond / 10;
            return TimeSpan.FromTicks((median.Ticks + (Tenth / 2)) / Tenth * Tenth);
        }

        /// <summary>The sockets of one diagnosis and what is known of the service behind them.</summary>
        private sealed class Group
        {
            internal Group(List<TcpConnection> sockets, long key, ServiceMap map, IReadOnlyDictionary<(ulong?, string, int), int> shared, TcpCloseWaitGrouping groupBy)
            {
                Sockets = sockets;
                Map = map;
                Shared = shared;
                Holders = sockets.SelectMany(c => c.Owners.Length > 0 ? c.Owners.Select(o => o.ProcessId) : c.ProcessId is int p ? new[] { p } : new int[0])
                    .Distinct().OrderBy(p => p).ToList();
                MainProcessId = key >= 0 ? (int)key : (int?)null;
                MainName = MainProcessId is int main ? map.NameOf(main, sockets) : null;

                // -GroupBy Process still names the service each process belongs to.
                long serviceKey = groupBy == TcpCloseWaitGrouping.Service ? key
                    : sockets.Select(c => map.KeyOf(c, unownedPerPort: false)).FirstOrDefault();
                string? serviceMainName = serviceKey >= 0 ? map.NameOf((int)serviceKey, sockets) : null;
                Service = map.ServiceName(serviceKey, serviceMainName, sockets);

                // The software: the main process first, then the holders.
                var candidates = new List<ProcessFacts?>();
                if (serviceKey >= 0)
                {
                    candidates.Add(map.Facts((int)serviceKey));
                }

                candidates.AddRange(Holders.Select(map.Facts));
                Software = SoftwareKnowledge.Recognize(candidates)
                    ?? SoftwareKnowledge.RecognizeName(serviceMainName ?? MainName ?? sockets.Select(c => c.Program).FirstOrDefault(n => n != null));
                PartOfService = serviceKey >= 0 && (map.OwnsListener((int)serviceKey) || Holders.Any(h => h != serviceKey) || Software?.Stateful == true);
            }

            internal List<TcpConnection> Sockets { get; }

            internal ServiceMap Map { get; }

            internal IReadOnlyDictionary<(ulong?, string, int), int> Shared { get; }

            internal int? MainProcessId { get; }

            internal string? MainName { get; }

            internal string Service { get; }

            internal List<int> Holders { get; }

            internal SoftwareProfile? Software { get; }

            /// <summary>The processes are a server's, or many of one program: stop them gracefully, never one by SIGKILL.</summary>
            internal bool PartOfService { get; }
        }

        private static TcpCloseWaitDiagnosis Diagnose(Group g, IProcessDescriptors? descriptors, CloseWaitThresholds t)
        {
            var sockets = g.Sockets;
            int? pid = g.MainProcessId;
            var d = new TcpCloseWaitDiagnosis
            {
                Service = g.Service,
                ProcessId = pid,
                Program = g.MainName,
                ProcessIds = new TextList<int>(g.Holders),
                Software = g.Software?.Name,
                Count = sockets.Count,
                Connections = sockets.ToArray(),
            };
            d.LocateFrom(sockets);

            var inbound = sockets.ToDictionary(c => c, c => IsInbound(c, g.Map, g.Shared, t));
            var idles = sockets.Where(c => c.IdleTime != null).Select(c => c.IdleTime!.Value).ToList();
            d.LongestIdleTime = idles.Count > 0 ? idles.Max() : (TimeSpan?)null;
            d.LongestStuckTime = d.LongestIdleTime;
            d.LongestStuckTimeAtMost = idles.Count > 0 ? sockets.Where(c => c.IdleTime != null).Max(c => StuckAtMost(c)!.Value) : (TimeSpan?)null;
            d.StuckCount = idles.Count > 0 ? sockets.Count(c => StuckAtMost(c) >= t.StuckAfter) : (int?)null;
            d.UnreadBytes = sockets.Any(c => c.ReceiveQueue != null) ? sockets.Sum(c => c.ReceiveQueue ?? 0) : (long?)null;
            d.Peers = new TextList<TcpCloseWaitPeer>(sockets
                .GroupBy(c => (c.RemoteAddress, inbound[c] ? 0 : c.RemotePort))
                .Select(p => new TcpCloseWaitPeer
                {
                    RemoteAddress = p.Key.RemoteAddress,
                    RemotePort = p.Key.Item2,
                    Count = p.Count(),
                    LongestIdleTime = p.Max(c => c.IdleTime),
                })
                .OrderByDescending(p => p.Count)
                .ThenByDescending(p => p.LongestIdleTime ?? TimeSpan.Zero));
            d.SharedWith = new TextList<int>(sockets
                .SelectMany(c => c.Owners)
                .Select(o => o.ProcessId)
                .Where(p => p != pid)
                .Distinct()
                .OrderBy(p => p));

            // The descriptors of the holder nearest its limit: that one fails first.
            if (descriptors != null)
            {
                double worst = -1;
                foreach (int holder in g.Holders.Count > 0 ? g.Holders : (pid is int m ? new List<int> { m } : new List<int>()))
                {
                    if (descriptors.TryGet(holder, out int open, out long? limit))
                    {
                        double ratio = limit is long l && l > 0 ? (double)open / l : 0;
                        if (ratio > worst)
                        {
                            worst = ratio;
                            d.OpenDescriptors = open;
                            d.DescriptorLimit = limit;
                            d.DescriptorProcessId = holder;
                        }
                    }
                }
            }

            // Sockets of unknown age count as stuck, but only as many as MinimumCount say so.
            var stuck = sockets.Where(c => StuckAtMost(c) >= t.StuckAfter).ToList();
            var ageless = sockets.Where(c => c.IdleTime == null).ToList();
            var considered = new List<TcpConnection>(stuck);
            if (stuck.Count > 0 || ageless.Count >= t.MinimumCount)
            {
                considered.AddRange(ageless);
            }

            if (considered.Count == 0)
            {
                d.Severity = TcpCloseWaitSeverity.Normal;
                d.Finding = HealthyFinding(d, ageless.Count > 0, t);
                return d;
            }

            bool nearLimit = d.OpenDescriptors is int o && d.DescriptorLimit is long lim0 && lim0 > 0 && o >= lim0 * t.CriticalDescriptorRatio;
            d.Severity = nearLimit || considered.Count >= t.CriticalCount ? TcpCloseWaitSeverity.Critical : TcpCloseWaitSeverity.Warning;

            var byCause = new Dictionary<TcpCloseWaitCause, List<TcpConnection>>();
            var undetermined = new List<TcpConnection>();
            foreach (var c in considered)
            {
                var listener = g.Map.ListenerOf(c);
                var cause = c.ProcessId is int holder && ListsEveryOwner(c) && g.Map.IsForkedFromWorker(holder, listener)
                    ? TcpCloseWaitCause.Inherited
                    : Classify(c, inbound[c]);
                if (cause is TcpCloseWaitCause k)
                {
                    if (!byCause.TryGetValue(k, out var list))
                    {
                        byCause[k] = list = new List<TcpConnection>();
                    }

                    list.Add(c);
                }
                else
                {
                    undetermined.Add(c);
                }
            }

            // Idle keep-alive ended by the peer: outbound pooled sockets, inbound ones with nothing unread.
            var keptAlive = considered.Where(c =>
                (!inbound[c] && byCause.TryGetValue(TcpCloseWaitCause.IdlePool, out var pool) && pool.Contains(c))
                || (inbound[c] && c.ReceiveQueue == 0 && c.EndOfStreamRead == true && c.Owners.Select(x => x.ProcessId).Distinct().Count() <= 1));
            d.PeerIdleTimeout = InferIdleGap(keptAlive, t, out int clustered, out int massClosed);

            // Clients that waited for an answer and gave up: inbound sockets left unread or unaccepted.
            var waited = considered.Where(c => inbound[c]
                && ((byCause.TryGetValue(TcpCloseWaitCause.NotRead, out var nr) && nr.Contains(c))
                    || (byCause.TryGetValue(TcpCloseWaitCause.AcceptBacklog, out var ab) && ab.Contains(c))));
            d.ClientTimeout = InferIdleGap(waited, t, out int gaveUp, out int massLeft);

            var causes = byCause.Keys.ToList();
            if (d.PeerIdleTimeout != null)
            {
                causes.Add(TcpCloseWaitCause.PeerIdleTimeout);
            }

            d.Causes = causes.ToArray();
            var finding = new List<string> { Summary(d, stuck, ageless.Count, t) };
            var advice = new List<string>();
            var ctx = new Explanation(g, d, byCause, inbound, finding, advice);
            foreach (var cause in d.Causes)
            {
                Explain(cause, ctx, clustered);
            }

            if (d.ClientTimeout is TimeSpan waitedFor)
            {
                finding.Add($"ClientTimeout: {gaveUp} sat {FormatDuration(waitedFor)} between the client's last data and its FIN: clients gave up after about {FormatDuration(waitedFor)} waiting for an answer (a client or proxy timeout, not an idle one).");
            }

            if (massClosed + massLeft > 0)
            {
                finding.Add($"{massClosed + massLeft} were closed by their peers at one instant after different idle times: a mass close (the peer restarted or dropped its connections together), not an idle timeout.");
            }

            if (undetermined.Count > 0)
            {
                bool hidden = undetermined.All(c => c.ProcessId == null);
                finding.Add(Undetermined(undetermined, hidden));
                advice.Add(hidden
                    ? (PlatformServices.IsPrivileged
                        ? "Look for a program that passes sockets over Unix sockets and never receives them (ss -xp shows the Unix sockets with their queues); Close-TcpConnection -Method Abort frees these sockets, as it needs no owner."
                        : "Run Test-TcpCloseWait as root (sudo) to see every owner.")
                    : "Watch whether they keep coming (Watch-TcpCloseWait) before acting.");
            }

            if (d.OpenDescriptors is int open2)
            {
                string whose = d.DescriptorProcessId is int dp && dp != pid ? $" (PID {dp}, the holder nearest its limit)" : string.Empty;
                finding.Add(d.DescriptorLimit is long lim
                    ? $"It has {open2} descriptors open of its limit of {lim} ({Percent(open2, lim)}){whose}."
                    : $"It has {open2} descriptors open, with no limit{whose}.");
                if (nearLimit)
                {
                    advice.Add("It will soon fail to open files and sockets (EMFILE): free the sockets now (below).");
                }
            }

            if (!ctx.Benign)
            {
                advice.Add(FreeNow(g, d));
            }

            d.Finding = string.Join(" ", finding);
            d.Advice = string.Join("\n", advice.Distinct());
            return d;
        }

        private static string HealthyFinding(TcpCloseWaitDiagnosis d, bool ageless, CloseWaitThresholds t)
        {
            if (!ageless)
            {
                return $"{Sockets(d.Count)} in CLOSE_WAIT for at most {FormatDuration(d.LongestStuckTimeAtMost ?? TimeSpan.Zero)}, under the {FormatDuration(t.StuckAfter)} threshold: brief CLOSE_WAIT is normal while the program closes them.";
            }

            return $"{Sockets(d.Count)} in CLOSE_WAIT, fewer than {t.MinimumCount}: this table gives no idle time, so how long they have waited is unknown and a few are taken as normal.";
        }

        private static string Summary(TcpCloseWaitDiagnosis d, List<TcpConnection> stuck, int ageless, CloseWaitThresholds t)
        {
            // Sockets of a service that no visible process holds (its accept queue, descriptors in flight).
            string who = d.ProcessId is int owner && d.ProcessIds.Count == 0
                ? $"No visible process holds, on the port of {d.Service} ({d.Program ?? "?"} PID {owner}),"
                : d.ProcessId is int pid
                ? (d.ProcessIds.Count > 1 || d.Service != $"{d.Program ?? "?"} ({pid})"
                    ? $"{d.Service} ({d.Program ?? "?"} PID {pid}; {Processes(d.ProcessIds.Count)}) holds"
                    : $"{d.Program ?? "?"} (PID {pid}) holds")
                : d.ProcessIds.Count > 0 ? $"{d.Service} ({Processes(d.ProcessIds.Count)}) holds" : "No visible process holds";
            if (ageless == 0)
            {
                string text = $"{who} {Sockets(d.Count)} in CLOSE_WAIT, {stuck.Count} of them for {FormatDuration(t.StuckAfter)} or longer (longest {FormatDuration(d.LongestStuckTime ?? TimeSpan.Zero)}).";
                var bounded = stuck.Where(StuckTimeIsBounded).ToList();
                if (bounded.Count > 0)
                {
                    text += $" {bounded.Count} of them only within bounds: between {FormatDuration(bounded.Min(c => c.IdleTime!.Value))} and {FormatDuration(bounded.Max(c => c.DataIdleTime!.Value))} (the ACKs of keepalive probes sent after the peer's FIN move its idle time on).";
                }

                return text;
            }

            return $"{who} {Sockets(d.Count)} in CLOSE_WAIT; this table gives no idle time, so how long they have waited is unknown.";
        }

        /// <summary>What one diagnosis's explanation works from, and what it writes.</summary>
        private sealed class Explanation
        {
            internal Explanation(Group g, TcpCloseWaitDiagnosis d, Dictionary<TcpCloseWaitCause, List<TcpConnection>> byCause, Dictionary<TcpConnection, bool> inbound, List<string> finding, List<string> advice)
            {
                Group = g;
                Diagnosis = d;
                ByCause = byCause;
                Inbound = inbound;
                Finding = finding;
                Advice = advice;
            }

            internal Group Group { get; }

            internal TcpCloseWaitDiagnosis Diagnosis { get; }

            internal Dictionary<TcpCloseWaitCause, List<TcpConnection>> ByCause { get; }

            internal Dictionary<TcpConnection, bool> Inbound { get; }

            internal List<string> Finding { get; }

            internal List<string> Advice { get; }

            /// <summary>Nothing to free: a bounded idle pool only.</summary>
            internal bool Benign { get; set; }

            internal List<TcpConnection> Of(TcpCloseWaitCause cause) => ByCause.TryGetValue(cause, out var l) ? l : new List<TcpConnection>();

            internal string MainPid => Diagnosis.ProcessId?.ToString(CultureInfo.InvariantCulture) ?? "<pid>";

            internal string Fill(string text) => text.Replace("{pid}", MainPid);
        }

        private static void Explain(TcpCloseWaitCause cause, Explanation x, int clustered)
        {
            var d = x.Diagnosis;
            var sw = x.Group.Software;
            var those = x.Of(cause);
            int n = those.Count;
            switch (cause)
            {
                case TcpCloseWaitCause.NotClosed:
                    x.Finding.Add($"NotClosed: {n} read the peer's end of stream, have nothing unread, and are still open: the program does not close them.");
                    x.Advice.Add(sw?.NotClosed != null
                        ? $"{sw.Name}: {x.Fill(sw.NotClosed)}."
                        : "Close or dispose every connection on every path, errors included (using, try/finally, with; HTTP responses and clients too).");
                    break;
                case TcpCloseWaitCause.NotRead:
                case TcpCloseWaitCause.AcceptBacklog:
                    // Unread and unaccepted sockets of one service are one finding: it stopped serving.
                    bool both = x.ByCause.ContainsKey(TcpCloseWaitCause.NotRead) && x.ByCause.ContainsKey(TcpCloseWaitCause.AcceptBacklog);
                    if (both && cause == TcpCloseWaitCause.AcceptBacklog)
                    {
                        break;
                    }

                    ExplainStalled(x, both);
                    break;
                case TcpCloseWaitCause.IdlePool:
                    ExplainIdlePool(x, those);
                    break;
                case TcpCloseWaitCause.Inherited:
                    ExplainInherited(x, those);
                    break;
                case TcpCloseWaitCause.PeerIdleTimeout:
                    ExplainPeerIdleTimeout(x, clustered);
                    break;
            }
        }

        private static void ExplainStalled(Explanation x, bool both)
        {
            var d = x.Diagnosis;
            var sw = x.Group.Software;
            var unread = x.Of(TcpCloseWaitCause.NotRead);
            var unaccepted = x.Of(TcpCloseWaitCause.AcceptBacklog);
            long bytes = unread.Sum(c => c.ReceiveQueue ?? 0);
            string unreadText = bytes > 0 ? $"{Bytes(bytes)} unread before the FIN" : "only the FIN unread";
            int n = unread.Count;
            if (both)
            {
                var ports = unaccepted.GroupBy(c => c.LocalPort).Select(p => DescribeListener(p.Key, p.First(), x.Group.Map)).ToList();
                x.Finding.Add($"NotRead and AcceptBacklog: {d.Service} stopped serving: {n} accepted and not read since the client closed ({unreadText}), {unaccepted.Count} never accepted ({string.Join("; ", ports)}).");
            }
            else if (n > 0)
            {
                x.Finding.Add($"NotRead: {n} {(n == 1 ? "has" : "have")} not been read since the peer closed ({unreadText}): the program stopped reading {(n == 1 ? "it" : "them")}.");
            }
            else
            {
                var ports = unaccepted.GroupBy(c => c.LocalPort).Select(p => DescribeListener(p.Key, p.First(), x.Group.Map)).ToList();
                x.Finding.Add($"AcceptBacklog: {unaccepted.Count} {(unaccepted.Count == 1 ? "was" : "were")} never accepted: the peers gave up while waiting in the accept queue of {string.Join("; ", ports)}.");
            }

            if (sw?.Stalled != null)
            {
                x.Advice.Add($"{sw.Name}: {x.Fill(sw.Stalled)}.");
            }
            else
            {
                string pid = x.MainPid;
                string inspect = sw?.Inspect != null ? x.Fill(sw.Inspect) : $"py-spy dump --pid {pid}, jstack {pid}, dotnet-stack report -p {pid}, gdb -p {pid}";
                x.Advice.Add($"See what its threads wait on ({inspect}) and unblock what stalls them.");
            }

            if (unaccepted.Count > 0 && sw?.Model != SoftwareModel.Workers)
            {
                x.Advice.Add("A longer accept queue (listen backlog, net.core.somaxconn) only hides a server that does not accept.");
            }
        }

        private static void ExplainIdlePool(Explanation x, List<TcpConnection> those)
        {
            var sw = x.Group.Software;
            int n = those.Count;
            x.Finding.Add($"IdlePool: {n} {(n == 1 ? "is" : "are")} outbound and untouched since the server closed {(n == 1 ? "it" : "them")}: a client pool keeps idle connections the server already closed.");
            int perPeer = those.GroupBy(c => (c.RemoteAddress, c.RemotePort, c.ProcessId)).Max(p => p.Count());
            if (sw?.PoolPerHost is int bound && perPeer <= bound && x.Diagnosis.PeerIdleTimeout == null && x.ByCause.Count == 1)
            {
                x.Finding.Add($"At most {perPeer} per server and process, within {sw.Name}'s pool of {bound} per host: a bounded pool, benign; each is dropped when next taken from the pool.");
                x.Advice.Add($"Nothing to fix while the count stays bounded; if it keeps rising (Watch-TcpCloseWait -ProcessId {x.MainPid}: Growing), the program creates clients and never closes them.");
                x.Benign = true;
                return;
            }

            x.Advice.Add(sw?.ClientPool != null
                ? $"{sw.Name}: {x.Fill(sw.ClientPool)}."
                : "Make the client pool drop idle connections before the server does (a maximum idle time shorter than the server's keep-alive), or validate a pooled connection before use; a pool that keeps growing means the program creates clients and never closes them.");
        }

        private static void ExplainInherited(Explanation x, List<TcpConnection> those)
        {
            var d = x.Diagnosis;
            var map = x.Group.Map;
            int n = those.Count;
            var others = those.SelectMany(c => c.Owners).Where(o => o.ProcessId != d.ProcessId)
                .GroupBy(o => o.ProcessId).Select(g => $"{g.First().Program ?? "?"} (PID {g.Key})").Take(8).ToList();
            bool childOnly = those.All(c => c.Owners.Select(o => o.ProcessId).Distinct().Count() <= 1);

            // A child of the same program was forked without exec: close-on-exec cannot help it.
            bool forkOnly = childOnly || those.SelectMany(c => c.Owners).Any(o =>
                map.Facts(o.ProcessId) is ProcessFacts f && f.ParentId is int parent && map.Facts(parent)?.Name is string pn && pn == f.Name);
            if (childOnly)
            {
                var holders = those.Select(c => $"{c.Program ?? "?"} (PID {c.ProcessId})").Distinct().Take(8);
                x.Finding.Add($"Inherited: {n} {(n == 1 ? "is" : "are")} held only by {string.Join(", ", holders)}, forked from a worker: {(n == 1 ? "it holds" : "they hold")} the listening socket {(n == 1 ? "it" : "they")} never accept on too, so the worker's close left the connection open in the child.");
            }
            else
            {
                x.Finding.Add($"Inherited: {n} {(n == 1 ? "is" : "are")} held by more than one process, also by {string.Join(", ", others)}: inherited across fork{(forkOnly ? string.Empty : "/exec")}, so closing them in one process does not close the connection.");
            }

            var sw = x.Group.Software;
            if (forkOnly)
            {
                x.Advice.Add(sw?.Inherited != null
                    ? $"{sw.Name}: {x.Fill(sw.Inherited)}."
                    : "A child forked without exec inherits every socket: start workers by spawning a new program (Python: multiprocessing.set_start_method('spawn') or 'forkserver'), hand jobs to a task queue, or close the inherited sockets first thing in the child.");
            }
            else
            {
                x.Advice.Add("Create sockets close-on-exec (SOCK_CLOEXEC; Python's subprocess close_fds=True; no handle inheritance when spawning), so that programs started from the process do not inherit them.");
            }
        }

        private static void ExplainPeerIdleTimeout(Explanation x, int clustered)
        {
            var d = x.Diagnosis;
            var g = x.Group;
            var timeout = d.PeerIdleTimeout!.Value;
            string after = FormatDuration(timeout);
            var pooled = x.Of(TcpCloseWaitCause.IdlePool);
            bool outbound = pooled.Count > 0;
            if (outbound)
            {
                // The server may be on this host: name it and its own knob.
                var server = pooled.Select(c => g.Map.ListenerAtRemoteEnd(c)).FirstOrDefault(l => l != null);
                SoftwareProfile? serverSoftware = null;
                string serverName = "the server";
                if (server?.ProcessId is int spid)
                {
                    int root = g.Map.RootOf(spid);
                    var facts = new[] { g.Map.Facts(root), g.Map.Facts(spid) };
                    serverSoftware = SoftwareKnowledge.Recognize(facts) ?? SoftwareKnowledge.RecognizeName(server.Program);
                    serverName = g.Map.ServiceName(root, g.Map.NameOf(root, new TcpConnection[0]), new[] { server });
                }

                x.Finding.Add($"PeerIdleTimeout: {clustered} sat idle about {after} between the last response and the server's FIN: {serverName} closes keep-alive connections idle {after} (an application timer; TCP keepalive probes carry no data and reset none).");
                string serverKnob = serverSoftware?.ServerIdleTimeout != null ? $" ({serverSoftware.ServerIdleTimeout})" : " (nginx keepalive_timeout, gunicorn --keep-alive, HAProxy timeout http-keep-alive, Node server.keepAliveTimeout)";
                x.Advice.Add($"Raise {serverName}'s keep-alive above the client's idle gaps{serverKnob}, or have the client drop idle pooled connections before {after} and close clients it no longer uses.");
            }
            else
            {
                var sw = g.Software;
                x.Finding.Add($"PeerIdleTimeout: {clustered} sat idle about {after} after a response before the client's FIN: clients close keep-alive connections idle {after} (their pool's idle timeout), and this program keeps its end.");
                string knob = sw?.ServerIdleTimeout != null ? $" ({sw.ServerIdleTimeout})" : string.Empty;
                x.Advice.Add($"Keep the server's own keep-alive shorter than the clients' {after}{knob}, so that the server closes idle connections first, and close each connection when its client ends it.");
            }
        }

        /// <summary>How to free the sockets now, and how to stop the program without harm.</summary>
        private static string FreeNow(Group g, TcpCloseWaitDiagnosis d)
        {
            var inboundPorts = g.Sockets.Where(c => g.Map.ListenerOf(c) != null).Select(c => c.LocalPort).Distinct().OrderBy(p => p).ToList();
            string select = inboundPorts.Count > 0 && inboundPorts.Count <= 4 && g.Sockets.All(c => g.Map.ListenerOf(c) != null)
                ? $"Get-TcpCloseWait -LocalPort {string.Join(",", inboundPorts)}"
                : g.Holders.Count > 0
                    ? $"Get-TcpCloseWait -ProcessId {string.Join(",", g.Holders.Take(10))}{(g.Holders.Count > 10 ? ",..." : string.Empty)}"
                    : $"Get-TcpCloseWait -LocalPort {string.Join(",", g.Sockets.Select(c => c.LocalPort).Distinct().Take(4))}";
            string text = $"Close-TcpConnection frees the sockets ({select} | Close-TcpConnection), not the work behind them: a request or query keeps running.";
            string pid = d.ProcessId?.ToString(CultureInfo.InvariantCulture) ?? "<pid>";
            string stop = g.Software?.GracefulStop?.Replace("{pid}", pid)
                ?? $"SIGTERM (kill -TERM {pid}) or the service manager's restart, which let it finish and close cleanly";
            return text + (g.PartOfService || g.Software?.Stateful == true
                ? $" To restart {d.Service}, stop it gracefully: {stop}."
                : $" To restart the program, let it exit cleanly: {stop}.");
        }

        private static string DescribeListener(int port, TcpConnection sample, ServiceMap map)
        {
            var l = map.ListenerOf(sample);
            string text = $"port {port}";
            if (l == null)
            {
                return text;
            }

            if (l.ProcessId is int owner)
            {
                text += $", held by {l.Program ?? "?"} (PID {owner})";
            }

            if (l.ReceiveQueue is long queued && l.SendQueue is long backlog)
            {
                text += $", {queued} of {backlog} waiting";
            }

            return text;
        }

        /// <summary>What the table lacks to tell these sockets' cause, said plainly.</summary>
        private static string Undetermined(List<TcpConnection> sockets, bool unowned)
        {
            if (unowned)
            {
                // As root every ordinary descriptor is seen: what is left is a descriptor in flight over
                // a Unix socket (SCM_RIGHTS, sent and not yet received), which no process table shows,
                // or a process root cannot inspect (the listing warns about those).
                return PlatformServices.IsPrivileged
                    ? $"{sockets.Count} {(sockets.Count == 1 ? "is" : "are")} held by no descriptor in any process: the socket's only reference is in flight over a Unix socket (SCM_RIGHTS, sent and not yet received), or in a process hidden even from root (another user namespace, a security module, a sandbox)."
                    : $"{sockets.Count} may have an owner this session cannot see (another user's process: run as root to see it), or none at all (a descriptor in flight over a Unix socket).";
            }

            var missing = new List<string>();
            var cannot = new List<string>();
            if (sockets.Any(c => c.ReceiveQueue == null))
            {
                missing.Add("no receive queue");
                cannot.Add("NotRead");
            }

            if (sockets.Any(c => c.EndOfStreamRead == null))
            {
                missing.Add("no sign of whether the program read the peer's FIN");
                cannot.Add("NotClosed");
                cannot.Add("IdlePool");
            }

            if (sockets.Any(c => c.DataIdleTime == null))
            {
                missing.Add("no timers");
                cannot.Add("PeerIdleTimeout");
            }

            if (sockets.Any(c => !ListsEveryOwner(c)))
            {
                missing.Add("one process per socket, not every holder");
                cannot.Add("Inherited");
            }

            return $"{sockets.Count} cannot be told apart: this platform's table gives {string.Join(", ", missing)}, so {string.Join(", ", cannot.Distinct())} cannot be told apart here.";
        }

        /// <summary>A duration for a sentence: "3.2 s", "42 s", "12 min 3 s", "2 h 5 min", "3 d 4 h".</summary>
        internal static string FormatDuration(TimeSpan t)
        {
            var c = CultureInfo.InvariantCulture;
            if (t < TimeSpan.FromSeconds(10))
            {
                return t.TotalSeconds.ToString("0.#", c) + " s";
            }

            if (t < TimeSpan.FromMinutes(1))
            {
                return ((int)t.TotalSeconds).ToString(c) + " s";
            }

            if (t < TimeSpan.FromHours(1))
            {
                return t.Seconds == 0 ? $"{t.Minutes} min" : $"{t.Minutes} min {t.Seconds} s";
            }

            if (t < TimeSpan.FromDays(1))
            {
                return t.Minutes == 0 ? $"{t.Hours} h" : $"{t.Hours} h {t.Minutes} min";
            }

            return t.Hours == 0 ? $"{(int)t.TotalDays} d" : $"{(int)t.TotalDays} d {t.Hours} h";
        }

        private static string Sockets(int n) => n == 1 ? "1 socket" : $"{n} sockets";

        private static string Processes(int n) => n == 1 ? "1 process" : $"{n} processes";

        private static string Bytes(long n) => n == 1 ? "1 byte" : $"{n.ToString("N0", CultureInfo.InvariantCulture)} bytes";

        private static string Percent(int open, long limit) =>
            open * 100L < limit ? "under 1%" : ((double)open / limit).ToString("0%", CultureInfo.InvariantCulture);
    }
}
