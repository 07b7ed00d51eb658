using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace CloseWait
{
    /// <summary>
    /// Turns one socket table read into Get-TcpPortUsage's rows: outbound sockets (local port in
    /// the ephemeral range, not a listening port) grouped by local address and destination, and
    /// TIME_WAIT sockets on listening ports grouped by local address and port. Pure: fed
    /// connections and the settings, tested without a kernel.
    /// </summary>
    internal sealed class PortUsageBuilder
    {
        private const int DefaultLinuxRange = TimeWaitRules.LinuxDefaultEnd - TimeWaitRules.LinuxDefaultStart + 1;

        private readonly TcpTimeWaitSetting _setting;
        private readonly HashSet<int> _listening = new HashSet<int>();
        private readonly List<TcpConnection> _other = new List<TcpConnection>();
        private readonly List<(int Start, int End)> _reserved;

        internal PortUsageBuilder(TcpTimeWaitSetting setting)
        {
            _setting = setting;
            _reserved = TimeWaitRules.ParsePortList(setting.ReservedPorts, out _) ?? new List<(int, int)>();
        }

        internal void Add(TcpConnection c)
        {
            if (c.State == TcpState.Listen)
            {
                _listening.Add(c.LocalPort);
            }
            else if (c.RemotePort != 0)
            {
                _other.Add(c);
            }
        }

        /// <summary>The rows, worst first: outbound by share of the range used, then inbound by TIME_WAIT count.</summary>
        internal List<TcpPortUsage> Build()
        {
            int start = _setting.PortRangeStart ?? 0, end = _setting.PortRangeEnd ?? -1;
            int size = _setting.RangeSize ?? 0;
            var rows = new List<TcpPortUsage>();

            // A socket on a listening port was accepted, whatever its number; one in the range otherwise took an ephemeral port.
            foreach (var g in _other
                .Where(c => c.LocalPort >= start && c.LocalPort <= end && !_listening.Contains(c.LocalPort))
                .GroupBy(c => (c.LocalAddress, c.RemoteAddress, c.RemotePort)))
            {
                var row = Count(g, new TcpPortUsage
                {
                    Direction = "Outbound",
                    LocalAddress = g.Key.LocalAddress,
                    RemoteAddress = g.Key.RemoteAddress,
                    RemotePort = g.Key.RemotePort,
                    RangeSize = size,
                    NetworkNamespace = _setting.NetworkNamespace,
                });
                row.PercentUsed = size > 0 ? Math.Round(100.0 * row.InUse / size, 1) : (double?)null;
                row.Verdict = Judge(row.InUse, size);
                row.Advice = OutboundAdvice(row, size);
                rows.Add(row);
            }

            foreach (var g in _other
                .Where(c => _listening.Contains(c.LocalPort) && c.State == TcpState.TimeWait)
                .GroupBy(c => (c.LocalAddress, c.LocalPort)))
            {
                var row = Count(g, new TcpPortUsage
                {
                    Direction = "Inbound",
                    LocalAddress = g.Key.LocalAddress,
                    LocalPort = g.Key.LocalPort,
                    NetworkNamespace = _setting.NetworkNamespace,
                    Verdict = TcpPortUsageVerdict.Ok,
                });
                row.Advice = Invariant($"This server closes first: {row.TimeWait} connections accepted on port {row.LocalPort} end in TIME_WAIT here. It costs the server memory, not ports, and is capped by tcp_max_tw_buckets; when the client closes first (HTTP keep-alive with client-side close, or the protocol's own close), TIME_WAIT lands on the clients, which spread it.");
                rows.Add(row);
            }

            return rows
                .OrderBy(r => r.Direction == "Outbound" ? 0 : 1)
                .ThenByDescending(r => r.PercentUsed ?? 0)
                .ThenByDescending(r => r.TimeWait)
                .ThenBy(r => r.LocalAddress, StringComparer.Ordinal)
                .ThenBy(r => r.RemoteAddress, StringComparer.Ordinal)
                .ThenBy(r => r.RemotePort ?? r.LocalPort)
                .ToList();
        }

        internal static TcpPortUsageVerdict Judge(int inUse, int size) =>
            size <= 0 || inUse >= size ? TcpPortUsageVerdict.Exhausted
            : inUse * 100L >= size * 80L ? TcpPortUsageVerdict.NearExhaustion
            : inUse * 100L >= size * 50L ? TcpPortUsageVerdict.Elevated
            : TcpPortUsageVerdict.Ok;

        private static TcpPortUsage Count(IEnumerable<TcpConnection> sockets, TcpPortUsage row)
        {
            TimeSpan? first = null, last = null;
            foreach (var c in sockets)
            {
                row.InUse++;
                if (c.State == TcpState.Established)
                {
                    row.Established++;
                }
                else if (c.State == TcpState.TimeWait)
                {
                    row.TimeWait++;
                    if (c.TimerExpiresIn is TimeSpan t)
                    {
                        first = first == null || t < first ? t : first;
                        last = last == null || t > last ? t : last;
                    }
                }
            }

            row.NextPortFreeIn = first;
            row.TimeWaitExpiresIn = last;
            return row;
        }

        private string? OutboundAdvice(TcpPortUsage row, int size)
        {
            if (row.Verdict == TcpPortUsageVerdict.Ok)
            {
                return null;
            }

            var advice = new List<string>();
            string dest = TcpConnection.FormatEndpoint(row.RemoteAddress ?? string.Empty, row.RemotePort ?? 0);
            if (row.TimeWait * 2 >= row.InUse)
            {
                advice.Add(Invariant($"{row.TimeWait} of the {row.InUse} ports towards {dest} are held by TIME_WAIT: this host opens a connection per request and closes it first (the right side to hold TIME_WAIT), and each closed connection keeps its port for {(_setting.TimeWaitDuration ?? TimeWaitRules.LinuxTimeWaitLength).TotalSeconds:0} s. Reuse connections instead (HTTP keep-alive, a connection pool)."));
                bool loopback = System.Net.IPAddress.TryParse(row.RemoteAddress, out var ip) && System.Net.IPAddress.IsLoopback(ip);
                if (_setting.Platform == "Linux" && _setting.TimeWaitReuse != 1 && !(_setting.TimeWaitReuse == 2 && loopback))
                {
                    advice.Add("Set-TcpTimeWaitSetting -TimeWaitReuse 1 lets new outbound connections take ports from TIME_WAIT sockets older than a second (TCP timestamps, on by default, keep this safe).");
                }
            }
            else
            {
                advice.Add(Invariant($"{row.InUse - row.TimeWait} of the {row.InUse} ports towards {dest} are held by open connections, not TIME_WAIT: a wider range or more destination addresses or ports is the fix."));
            }

            if (size < DefaultLinuxRange && _setting.Platform == "Linux")
            {
                advice.Add(Invariant($"The usable range ({size} ports) is narrower than Linux's default 32768-60999 (28232): Set-TcpTimeWaitSetting -PortRange 32768-60999 widens it."));
            }
            else if (row.Verdict >= TcpPortUsageVerdict.NearExhaustion)
            {
                advice.Add("Widening the range further (Set-TcpTimeWaitSetting -PortRange 10000-65000, leaving out listening ports) buys room.");
            }

            return string.Join(" ", advice);
        }

        private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
    }
}
