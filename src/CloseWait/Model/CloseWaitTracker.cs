using System;
using System.Collections.Generic;
using System.Linq;

namespace CloseWait
{
    /// <summary>
    /// Turns successive samples of the CLOSE_WAIT sockets into events, with no clock or I/O of its
    /// own: the caller passes each sample and the time it was taken.
    /// <list type="bullet">
    /// <item>Entered: a socket identity not in the previous sample.</item>
    /// <item>Left: an identity of the previous sample missing from this one (closed, or no longer in
    /// CLOSE_WAIT). Duration = last seen − entered, where entered = first seen − the kernel's stuck
    /// time (IdleTime) when the table gives one, and never earlier than the sample before the first
    /// sighting (the socket was not there then). Without IdleTime it is first seen to last seen.</item>
    /// <item>Growing: a service (given a <see cref="ServiceMap"/>: a program with its workers, backends
    /// and children; sockets no process owns per local port), else a process (or, without owners,
    /// everything watched) whose count "keeps rising":
    /// over the last <see cref="GrowthWindow"/> intervals it rose in at least
    /// <see cref="GrowthMinimumRises"/>, ends above where the window started and at the window's
    /// highest. Reported when that first holds, then again every <see cref="GrowthWindow"/>
    /// samples while it keeps holding; the rate is measured from the start of the rise.</item>
    /// </list>
    /// </summary>
    internal sealed class CloseWaitTracker
    {
        /// <summary>Intervals looked at to call a count rising (6 samples).</summary>
        internal const int GrowthWindow = 5;

        /// <summary>Of those intervals, how many must show a rise: a leak may pause or lose a socket now and then.</summary>
        internal const int GrowthMinimumRises = 3;

        private const long NoProcess = -1;

        private readonly Func<int, (long? Open, long? Limit)>? _descriptors;
        private readonly ServiceMap? _services;
        /// <summary>The service owning sockets on a local port, per namespace (one port is many services under -AllNetworkNamespaces).</summary>
        private readonly Dictionary<(ulong? Namespace, int Port), long> _portServices = new Dictionary<(ulong? Namespace, int Port), long>();
        private Dictionary<SocketIdentity, Tracked> _sockets = new Dictionary<SocketIdentity, Tracked>();
        private readonly Dictionary<long, Growth> _groups = new Dictionary<long, Growth>();
        private DateTime? _previous;
        private long _sampleNumber;

        /// <param name="descriptors">A process's open descriptors and limit, where known; null where the platform cannot tell.</param>
        /// <param name="services">Groups Growing by service; null: by process.</param>
        internal CloseWaitTracker(Func<int, (long? Open, long? Limit)>? descriptors = null, ServiceMap? services = null)
        {
            _descriptors = descriptors;
            _services = services;
        }

        /// <summary>Sockets in CLOSE_WAIT as of the last sample.</summary>
        internal int Tracking => _sockets.Count;

        /// <summary>
        /// Takes one sample: every watched socket in CLOSE_WAIT now, with owners filled where known.
        /// <paramref name="time"/> must not go backwards. Returns the events in the order Left, Entered, Growing.
        /// </summary>
        internal List<TcpCloseWaitEvent> Observe(DateTime time, IEnumerable<TcpConnection> sample)
        {
            if (_previous is DateTime last && time < last)
            {
                throw new ArgumentOutOfRangeException(nameof(time), "Samples must come in time order.");
            }

            var events = new List<TcpCloseWaitEvent>();
            var entered = new List<TcpCloseWaitEvent>();
            var current = new Dictionary<SocketIdentity, Tracked>(_sockets.Count + 16);
            foreach (var c in sample)
            {
                if (c.State != TcpState.CloseWait)
                {
                    continue;
                }

                var id = SocketIdentity.Of(c);
                if (current.ContainsKey(id))
                {
                    continue;
                }

                if (_sockets.TryGetValue(id, out var t))
                {
                    t.Last = c;
                    t.LastSeen = time;
                }
                else
                {
                    t = new Tracked(c, time, EnteredAt(time, c.IdleTime));
                    entered.Add(SocketEvent(TcpCloseWaitEvent.Entered, time, c, c.IdleTime));
                }

                current[id] = t;
            }

            foreach (var kv in _sockets)
            {
                if (!current.ContainsKey(kv.Key))
                {
                    var t = kv.Value;
                    events.Add(SocketEvent(TcpCloseWaitEvent.Left, time, t.Last, t.LastSeen - t.Entered));
                }
            }

            events.AddRange(entered);
            _sockets = current;
            ObserveGrowth(time, events);
            _previous = time;
            _sampleNumber++;
            return events;
        }

        /// <summary>When a socket first seen at <paramref name="time"/> entered CLOSE_WAIT, as best the table tells.</summary>
        private DateTime EnteredAt(DateTime time, TimeSpan? idle)
        {
            DateTime entered = idle is TimeSpan stuck && stuck > TimeSpan.Zero && stuck < time - DateTime.MinValue ? time - stuck : time;
            return _previous is DateTime before && entered < before ? before : entered;
        }

        private static TcpCloseWaitEvent SocketEvent(string kind, DateTime time, TcpConnection c, TimeSpan? duration) =>
            new TcpCloseWaitEvent(kind, time)
            {
                ProcessId = c.ProcessId,
                Program = c.Program,
                LocalPort = c.LocalPort,
                RemoteAddress = c.RemoteAddress,
                RemotePort = c.RemotePort,
                Connection = c,
                Duration = duration,
                NetworkNamespace = c.NetworkNamespace,
                NetworkNamespaceId = c.NetworkNamespaceId,
            };

        private void ObserveGrowth(DateTime time, List<TcpCloseWaitEvent> events)
        {
            var now = new Dictionary<long, Tally>();
            // A socket whose owner the sampler has not found yet counts with the service that owns
            // other sockets on its local port in its own namespace (an accepted socket shares its
            // listener's port; another namespace's port is another service).
            if (_services != null)
            {
                foreach (var t in _sockets.Values)
                {
                    if (t.Last.ProcessId != null)
                    {
                        _portServices[(t.Last.NetworkNamespaceId, t.Last.LocalPort)] = _services.KeyOf(t.Last, unownedPerPort: true);
                    }
                }
            }

            foreach (var t in _sockets.Values)
            {
                long key = _services == null ? t.Last.ProcessId ?? NoProcess
                    : t.Last.ProcessId == null && _portServices.TryGetValue((t.Last.NetworkNamespaceId, t.Last.LocalPort), out long known) ? known
                    : _services.KeyOf(t.Last, unownedPerPort: true);
                if (!now.TryGetValue(key, out var tally))
                {
                    now[key] = tally = new Tally(t.Last, key, _services);
                }

                tally.Add(t.Last);
            }

            foreach (var kv in now)
            {
                if (!_groups.ContainsKey(kv.Key))
                {
                    var g = new Growth();
                    if (_previous is DateTime before)
                    {
                        g.Points.Add((before, 0)); // it had none at the sample before
                    }

                    _groups[kv.Key] = g;
                }
            }

            var gone = new List<long>();
            foreach (var kv in _groups)
            {
                var g = kv.Value;
                now.TryGetValue(kv.Key, out var tally);
                int count = tally?.Count ?? 0;
                g.Points.Add((time, count));
                if (g.Points.Count > GrowthWindow + 1)
                {
                    g.Points.RemoveAt(0);
                }

                if (!IsRising(g.Points))
                {
                    g.Since = null;
                    if (count == 0)
                    {
                        gone.Add(kv.Key);
                    }

                    continue;
                }

                bool report = g.Since == null || _sampleNumber - g.LastReport >= GrowthWindow;
                g.Since ??= g.Points[0];
                if (report)
                {
                    g.LastReport = _sampleNumber;
                    events.Add(GrowingEvent(time, count, g.Since.Value, tally!));
                }
            }

            foreach (long key in gone)
            {
                _groups.Remove(key);
            }
        }

        /// <summary>The "keeps rising" rule over one full window of points.</summary>
        internal static bool IsRising(IReadOnlyList<(DateTime Time, int Count)> points)
        {
            if (points.Count < GrowthWindow + 1)
            {
                return false;
            }

            int start = points.Count - (GrowthWindow + 1);
            int first = points[start].Count;
            int last = points[points.Count - 1].Count;
            int rises = 0;
            int highest = first;
            for (int i = start + 1; i < points.Count; i++)
            {
                if (points[i].Count > points[i - 1].Count)
                {
                    rises++;
                }

                highest = Math.Max(highest, points[i].Count);
            }

            return rises >= GrowthMinimumRises && last > first && last == highest;
        }

        private TcpCloseWaitEvent GrowingEvent(DateTime time, int count, (DateTime Time, int Count) since, Tally tally)
        {
            double minutes = (time - since.Time).TotalMinutes;
            double? rate = minutes > 0 ? (count - since.Count) / minutes : (double?)null;
            var e = new TcpCloseWaitEvent(TcpCloseWaitEvent.Growing, time)
            {
                ProcessId = tally.ProcessId,
                Program = tally.Program,
                Service = tally.Service,
                ProcessIds = tally.ProcessIds,
                LocalPort = tally.SharedLocalPort,
                Count = count,
                RatePerMinute = rate is double r ? Math.Round(r, 1) : (double?)null,
                // A service of many processes is stopped gracefully, never by SIGKILL from a pipeline.
                Reference = tally.ProcessIds.Count > 1 ? ProcessReference.NotListed(tally.ProcessId, tally.Reference.ComputerName) : tally.Reference,
                NetworkNamespace = tally.NetworkNamespace,
                NetworkNamespaceId = tally.NetworkNamespaceId,
            };

            if (tally.BusiestHolder is int pid && _descriptors != null)
            {
                var (open, limit) = _descriptors(pid);
                e.OpenDescriptors = open;
                e.DescriptorLimit = limit;
                e.DescriptorsExhaustedIn = ExhaustedIn(open, limit, rate);
            }

            return e;
        }

        /// <summary>At <paramref name="ratePerMinute"/> more descriptors a minute, when <paramref name="open"/> reaches <paramref name="limit"/>.</summary>
        internal static TimeSpan? ExhaustedIn(long? open, long? limit, double? ratePerMinute)
        {
            if (!(open is long o && limit is long l && ratePerMinute is double r && r > 0))
            {
                return null;
            }

            if (o >= l)
            {
                return TimeSpan.Zero;
            }

            double minutes = (l - o) / r;
            return minutes >= TimeSpan.MaxValue.TotalMinutes / 2 ? (TimeSpan?)null : TimeSpan.FromSeconds(Math.Round(minutes * 60));
        }

        private sealed class Tracked
        {
            internal Tracked(TcpConnection c, DateTime seen, DateTime entered)
            {
                Last = c;
                LastSeen = seen;
                Entered = entered;
            }

            internal TcpConnection Last { get; set; }

            internal DateTime LastSeen { get; set; }

            internal DateTime Entered { get; }
        }

        private sealed class Growth
        {
            internal List<(DateTime Time, int Count)> Points { get; } = new List<(DateTime, int)>(GrowthWindow + 2);

            /// <summary>Where the current rise started; null while not rising.</summary>
            internal (DateTime Time, int Count)? Since { get; set; }

            internal long LastReport { get; set; }
        }

        /// <summary>One service's (or process's) sockets in this sample.</summary>
        private sealed class Tally
        {
            private readonly ServiceMap? _services;
            private readonly Dictionary<int, int> _holders = new Dictionary<int, int>();
            private bool _manyPorts;

            internal Tally(TcpConnection first, long key, ServiceMap? services)
            {
                _services = services;
                ProcessId = services == null ? first.ProcessId : key >= 0 ? (int)key : (int?)null;
                Program = services == null || ProcessId == first.ProcessId ? first.Program
                    : ProcessId is int root ? services.NameOf(root, new[] { first }) : null;
                Key = key;
                // Stop-Process stops the holder the first socket names, never a main process listed only by its children.
                Reference = ProcessId == first.ProcessId ? first.Id : ProcessReference.NotListed(ProcessId, first.ComputerName);
                NetworkNamespace = first.NetworkNamespace;
                NetworkNamespaceId = first.NetworkNamespaceId;
                SharedLocalPort = first.LocalPort;
            }

            internal long Key { get; }

            internal int? ProcessId { get; }

            internal ProcessReference Reference { get; }

            internal string? Program { get; private set; }

            internal string? NetworkNamespace { get; }

            internal ulong? NetworkNamespaceId { get; }

            internal int? SharedLocalPort { get; private set; }

            internal int Count { get; private set; }

            /// <summary>The service's name, where grouped by service.</summary>
            internal string? Service => _services?.ServiceName(Key, Program, new TcpConnection[0]);

            internal TextList<int> ProcessIds => new TextList<int>(_holders.Keys.OrderBy(p => p));

            /// <summary>The holder with the most of these sockets: its descriptors run out first.</summary>
            internal int? BusiestHolder => _holders.Count > 0 ? _holders.OrderByDescending(h => h.Value).ThenBy(h => h.Key).First().Key : ProcessId;

            internal void Add(TcpConnection c)
            {
                Count++;
                if (ProcessId == c.ProcessId)
                {
                    Program ??= c.Program;
                }

                // Every holder of a socket shared after fork, as Test-TcpCloseWait counts them: a
                // service whose sockets the main process shares with its children is many processes,
                // and its Growing event must not convert to the main process's PID.
                var holders = c.Owners.Length > 0 ? c.Owners.Select(o => o.ProcessId).Distinct()
                    : c.ProcessId is int pid ? new[] { pid } : Enumerable.Empty<int>();
                foreach (int h in holders)
                {
                    _holders[h] = _holders.TryGetValue(h, out int n) ? n + 1 : 1;
                }

                if (!_manyPorts && SharedLocalPort != c.LocalPort)
                {
                    _manyPorts = true;
                    SharedLocalPort = null;
                }
            }
        }
    }
}
