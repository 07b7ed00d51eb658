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
    }

    /// <summary>
    /// Turns CLOSE_WAIT sockets, the listening sockets beside them and the owners' descriptor
    /// counts into one diagnosis per owning process, and one for sockets no process owns. Pure:
    /// no I/O but through the descriptor reader it is given, so that Test-TcpCloseWait,
    /// Watch-TcpCloseWait and a fleet overview share it and tests feed it constructed sockets.
    /// </summary>
    /// <remarks>
    /// Evidence per socket (Linux gives all of it; other tables less, and what is missing is said,
    /// never guessed): held by more than one process: Inherited (the FIN state then says nothing
    /// about which holder should close); unread data: NotRead; end of stream read, nothing unread:
    /// NotClosed; only the FIN unread: NotRead on an inbound socket, IdlePool on an outbound one
    /// (its local port is no listening port: a pooled client connection nobody looked at since the
    /// server closed it). No owner, no inode, on a listening port: AcceptBacklog (never accepted).
    /// Across sockets: DataIdleTime minus IdleTime is how long each sat idle before the peer's FIN;
    /// where enough agree, PeerIdleTimeout with that time. (Anything the peer sends after its FIN,
    /// such as the ACK of a keepalive probe, moves IdleTime on and widens that gap: such sockets
    /// fall out of the cluster rather than shift it.)
    /// </remarks>
    internal static class CloseWaitAnalyzer
    {
        internal static List<TcpCloseWaitDiagnosis> Analyze(
            IEnumerable<TcpConnection> closeWait,
            IReadOnlyList<TcpConnection> listeners,
            IProcessDescriptors? descriptors,
            CloseWaitThresholds thresholds)
        {
            var result = new List<TcpCloseWaitDiagnosis>();
            var groups = closeWait
                .Where(c => c.State == TcpState.CloseWait)
                .GroupBy(c => c.ProcessId ?? -1);
            foreach (var g in groups)
            {
                result.Add(Diagnose(g.ToList(), g.Key >= 0 ? g.Key : (int?)null, listeners, descriptors, thresholds));
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

        /// <summary>The listener that would have accepted this socket: same port, same or wildcard address.</summary>
        internal static TcpConnection? ListenerOf(TcpConnection c, IReadOnlyList<TcpConnection> listeners)
        {
            foreach (var l in listeners)
            {
                if (l.LocalPort != c.LocalPort)
                {
                    continue;
                }

                if (l.LocalIPAddress.Equals(IPAddress.Any) || l.LocalIPAddress.Equals(IPAddress.IPv6Any)
                    || l.LocalAddress == c.LocalAddress)
                {
                    return l;
                }
            }

            return null;
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
        /// The idle time the peer's closes cluster around: the largest set of sockets (at least
        /// <see cref="CloseWaitThresholds.MinimumCluster"/>, and at least half of those that sat idle
        /// before the FIN) whose idle gaps lie within the spread; its median. Null when none.
        /// </summary>
        internal static TimeSpan? InferPeerIdleTimeout(IEnumerable<TcpConnection> sockets, CloseWaitThresholds t, out int clustered)
        {
            clustered = 0;
            var gaps = sockets
                .Where(c => c.IdleTime != null && c.DataIdleTime != null)
                .Select(c => c.DataIdleTime!.Value - c.IdleTime!.Value)
                .Where(g => g >= t.MinimumIdleGap)
                .OrderBy(g => g)
                .ToList();
            if (gaps.Count < t.MinimumCluster)
            {
                return null;
            }

            int bestStart = 0, bestLength = 0;
            int end = 0;
            for (int start = 0; start < gaps.Count; start++)
            {
                var spread = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, (long)(gaps[start].Ticks * t.ClusterSpread)));
                if (end < start)
                {
                    end = start;
                }

                while (end + 1 < gaps.Count && gaps[end + 1] - gaps[start] <= spread)
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

            clustered = bestLength;
            var median = gaps[bestStart + (bestLength / 2)];
            const long Tenth = TimeSpan.TicksPerSecond / 10;
            return TimeSpan.FromTicks((median.Ticks + (Tenth / 2)) / Tenth * Tenth);
        }

        private static TcpCloseWaitDiagnosis Diagnose(List<TcpConnection> sockets, int? pid, IReadOnlyList<TcpConnection> listeners, IProcessDescriptors? descriptors, CloseWaitThresholds t)
        {
            var d = new TcpCloseWaitDiagnosis
            {
                ProcessId = pid,
                Program = sockets.Select(c => c.Program).FirstOrDefault(n => n != null),
                Count = sockets.Count,
                Connections = sockets.ToArray(),
            };

            var idles = sockets.Where(c => c.IdleTime != null).Select(c => c.IdleTime!.Value).ToList();
            d.LongestIdleTime = idles.Count > 0 ? idles.Max() : (TimeSpan?)null;
            d.StuckCount = idles.Count > 0 ? idles.Count(i => i >= t.StuckAfter) : (int?)null;
            d.UnreadBytes = sockets.Any(c => c.ReceiveQueue != null) ? sockets.Sum(c => c.ReceiveQueue ?? 0) : (long?)null;
            d.Peers = new TextList<TcpCloseWaitPeer>(sockets
                .GroupBy(c => (c.RemoteAddress, c.RemotePort))
                .Select(p => new TcpCloseWaitPeer
                {
                    RemoteAddress = p.Key.RemoteAddress,
                    RemotePort = p.Key.RemotePort,
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

            if (pid is int id && descriptors != null && descriptors.TryGet(id, out int open, out long? limit))
            {
                d.OpenDescriptors = open;
                d.DescriptorLimit = limit;
            }

            // Sockets of unknown age count as stuck, but only as many as MinimumCount say so.
            var stuck = sockets.Where(c => c.IdleTime >= t.StuckAfter).ToList();
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

            bool nearLimit = d.OpenDescriptors is int o && d.DescriptorLimit is long l && l > 0 && o >= l * t.CriticalDescriptorRatio;
            d.Severity = nearLimit || considered.Count >= t.CriticalCount ? TcpCloseWaitSeverity.Critical : TcpCloseWaitSeverity.Warning;

            var byCause = new Dictionary<TcpCloseWaitCause, List<TcpConnection>>();
            var undetermined = new List<TcpConnection>();
            foreach (var c in considered)
            {
                var cause = Classify(c, ListenerOf(c, listeners) != null);
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

            d.PeerIdleTimeout = InferPeerIdleTimeout(considered, t, out int clustered);
            var causes = byCause.Keys.ToList();
            if (d.PeerIdleTimeout != null)
            {
                causes.Add(TcpCloseWaitCause.PeerIdleTimeout);
            }

            d.Causes = causes.ToArray();
            var finding = new List<string> { Summary(d, stuck.Count, ageless.Count, t) };
            var advice = new List<string>();
            foreach (var cause in d.Causes)
            {
                byCause.TryGetValue(cause, out var those);
                Explain(cause, those ?? considered, d, clustered, listeners, finding, advice);
            }

            if (undetermined.Count > 0)
            {
                finding.Add(Undetermined(undetermined, pid == null));
                advice.Add(pid == null
                    ? (PlatformServices.IsPrivileged
                        ? "Look for a program that passes sockets over Unix sockets and never receives them (ss -xp shows the Unix sockets with their queues); Close-TcpConnection -Method Abort frees these sockets, as it needs no owner."
                        : "Run Test-TcpCloseWait as root (sudo) to see every owner.")
                    : $"Free them now: Get-TcpCloseWait -ProcessId {pid} | Close-TcpConnection, or restart the program; then watch whether they come back (Watch-TcpCloseWait).");
            }

            if (d.OpenDescriptors is int open2)
            {
                finding.Add(d.DescriptorLimit is long lim
                    ? $"It has {open2} descriptors open of its limit of {lim} ({Percent(open2, lim)})."
                    : $"It has {open2} descriptors open, with no limit.");
                if (nearLimit)
                {
                    advice.Add($"It will soon fail to open files and sockets (EMFILE): free the sockets now (Get-TcpCloseWait -ProcessId {pid} | Close-TcpConnection) or restart it.");
                }
            }

            d.Finding = string.Join(" ", finding);
            d.Advice = string.Join("\n", advice);
            return d;
        }

        private static string HealthyFinding(TcpCloseWaitDiagnosis d, bool ageless, CloseWaitThresholds t)
        {
            if (!ageless)
            {
                return $"{Sockets(d.Count)} in CLOSE_WAIT for at most {FormatDuration(d.LongestIdleTime ?? TimeSpan.Zero)}, under the {FormatDuration(t.StuckAfter)} threshold: brief CLOSE_WAIT is normal while the program closes them.";
            }

            return $"{Sockets(d.Count)} in CLOSE_WAIT, fewer than {t.MinimumCount}: this table gives no idle time, so how long they have waited is unknown and a few are taken as normal.";
        }

        private static string Summary(TcpCloseWaitDiagnosis d, int stuck, int ageless, CloseWaitThresholds t)
        {
            string who = d.ProcessId is int pid ? $"{d.Program ?? "?"} (PID {pid}) holds" : "No visible process holds";
            if (ageless == 0)
            {
                return $"{who} {Sockets(d.Count)} in CLOSE_WAIT, {stuck} of them for {FormatDuration(t.StuckAfter)} or longer (longest {FormatDuration(d.LongestIdleTime ?? TimeSpan.Zero)}).";
            }

            return $"{who} {Sockets(d.Count)} in CLOSE_WAIT; this table gives no idle time, so how long they have waited is unknown.";
        }

        private static void Explain(TcpCloseWaitCause cause, List<TcpConnection> those, TcpCloseWaitDiagnosis d, int clustered, IReadOnlyList<TcpConnection> listeners, List<string> finding, List<string> advice)
        {
            int n = those.Count;
            string pid = d.ProcessId?.ToString(CultureInfo.InvariantCulture) ?? "<pid>";
            switch (cause)
            {
                case TcpCloseWaitCause.NotClosed:
                    finding.Add($"NotClosed: {n} read the peer's end of stream, have nothing unread, and are still open: the program does not close them.");
                    advice.Add($"Close or dispose every connection on every path, errors included (using, try/finally, with; HTTP responses and clients too). Free them now: Get-TcpCloseWait -ProcessId {pid} | Close-TcpConnection");
                    break;
                case TcpCloseWaitCause.NotRead:
                    long bytes = those.Sum(c => c.ReceiveQueue ?? 0);
                    string unread = bytes > 0 ? $"{Bytes(bytes)} unread before the FIN" : "only the FIN unread";
                    finding.Add($"NotRead: {n} {(n == 1 ? "has" : "have")} not been read since the peer closed ({unread}): the program stopped reading {(n == 1 ? "it" : "them")}.");
                    advice.Add($"See what its threads wait on (py-spy dump --pid {pid}, jstack {pid}, dotnet-stack report -p {pid}, gdb -p {pid}) and unblock the stuck worker. Free them now: Get-TcpCloseWait -ProcessId {pid} | Close-TcpConnection, or Stop-Process -Id {pid}");
                    break;
                case TcpCloseWaitCause.IdlePool:
                    finding.Add($"IdlePool: {n} {(n == 1 ? "is" : "are")} outbound (the local port is no listening port) and untouched since the server closed {(n == 1 ? "it" : "them")}: a client pool keeps idle connections the server already closed.");
                    advice.Add("Make the client pool drop idle connections before the server does (an idle timeout or maximum idle time shorter than the server's keep-alive), or validate a pooled connection before use.");
                    break;
                case TcpCloseWaitCause.Inherited:
                    var others = those.SelectMany(c => c.Owners).Where(o => o.ProcessId != d.ProcessId)
                        .GroupBy(o => o.ProcessId).Select(g => $"{g.First().Program ?? "?"} (PID {g.Key})").ToList();
                    finding.Add($"Inherited: {n} {(n == 1 ? "is" : "are")} held by more than one process, also by {string.Join(", ", others)}: inherited across fork/exec, so closing them in one process does not close the connection.");
                    advice.Add("Create sockets close-on-exec (SOCK_CLOEXEC; Python's subprocess close_fds=True; no handle inheritance when spawning), or close them in the child after fork.");
                    break;
                case TcpCloseWaitCause.PeerIdleTimeout:
                    var timeout = d.PeerIdleTimeout!.Value;
                    long seconds = Math.Max(1, (long)Math.Round(timeout.TotalSeconds));
                    bool outbound = those.Any(c => ListenerOf(c, listeners) == null);
                    finding.Add($"PeerIdleTimeout: {clustered} sat idle about {FormatDuration(timeout)} between the peer's last data and its FIN: the peer, likely a load balancer or proxy, closes connections idle {FormatDuration(timeout)}.");
                    advice.Add($"Keep TCP keepalive below {seconds} s so that idle connections survive it: Test-TcpKeepAliveSetting -IdleTimeout {seconds} | Set-TcpKeepAliveSetting (and SO_KEEPALIVE on in the program).");
                    advice.Add(outbound
                        ? $"Evict idle pooled connections before {seconds} s in the program's client."
                        : $"Keep the program's own keep-alive longer than the balancer's {seconds} s (gunicorn keepalive, nginx keepalive_timeout), so that the balancer, not the program, closes idle connections.");
                    break;
                case TcpCloseWaitCause.AcceptBacklog:
                    var ports = those.GroupBy(c => c.LocalPort).Select(g => DescribeListener(g.Key, g.First(), listeners)).ToList();
                    finding.Add($"AcceptBacklog: {n} {(n == 1 ? "was" : "were")} never accepted: the peers gave up while waiting in the accept queue of {string.Join("; ", ports)}.");
                    advice.Add("Accept faster: more workers or a non-blocking accept loop in the listening program; a longer backlog (net.core.somaxconn, listen()) only hides it.");
                    break;
            }
        }

        private static string DescribeListener(int port, TcpConnection sample, IReadOnlyList<TcpConnection> listeners)
        {
            var l = ListenerOf(sample, listeners);
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

        private static string Bytes(long n) => n == 1 ? "1 byte" : $"{n.ToString("N0", CultureInfo.InvariantCulture)} bytes";

        private static string Percent(int open, long limit) =>
            open * 100L < limit ? "under 1%" : ((double)open / limit).ToString("0%", CultureInfo.InvariantCulture);
    }
}
