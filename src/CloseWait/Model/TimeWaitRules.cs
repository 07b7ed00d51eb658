using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;

namespace CloseWait
{
    /// <summary>
    /// What each platform's TIME_WAIT settings mean, their defaults and limits, and the myths
    /// Set-TcpTimeWaitSetting refuses. Pure, so every platform's rules are tested on every platform.
    /// </summary>
    internal static class TimeWaitRules
    {
        internal const int LinuxDefaultStart = 32768;
        internal const int LinuxDefaultEnd = 60999;
        internal const int LinuxDefaultReuse = 2;
        internal static readonly TimeSpan LinuxFinTimeoutDefault = TimeSpan.FromSeconds(60);

        /// <summary>TCP_TIMEWAIT_LEN: Linux keeps TIME_WAIT for 60 s, fixed at compile time; no sysctl changes it.</summary>
        internal static readonly TimeSpan LinuxTimeWaitLength = TimeSpan.FromSeconds(60);

        /// <summary>Windows: TcpTimedWaitDelay 30 to 300 s, 120 s when absent; the dynamic range 49152-65535 since Vista.</summary>
        internal static readonly TimeSpan WindowsTimedWaitDelayDefault = TimeSpan.FromSeconds(120);
        internal const int WindowsTimedWaitDelayMin = 30;
        internal const int WindowsTimedWaitDelayMax = 300;
        internal const int WindowsDefaultStart = 49152;
        internal const int WindowsDefaultEnd = 65535;

        /// <summary>macOS: net.inet.tcp.msl 15000 ms (TIME_WAIT 30 s); net.inet.ip.portrange.first/last 49152-65535.</summary>
        internal static readonly TimeSpan MacOSMslDefault = TimeSpan.FromMilliseconds(15000);
        internal const int MacOSDefaultStart = 49152;
        internal const int MacOSDefaultEnd = 65535;

        /// <summary>The largest tcp_fin_timeout any kernel takes whatever its HZ (proc_dointvec_jiffies: INT_MAX/HZ, HZ up to 1000).</summary>
        internal const int LinuxFinTimeoutMax = int.MaxValue / 1000;

        internal static string ReuseMeaning(int value)
        {
            switch (value)
            {
                case 0:
                    return "0: off. A new outbound connection never takes a local port held by a TIME_WAIT socket towards the same destination.";
                case 1:
                    return "1: on. A new outbound connection may take a local port held by a TIME_WAIT socket towards the same destination once that socket is older than tcp_tw_reuse_delay (1 s by default), when TCP timestamps are on at both ends (they tell old segments from new). Servers gain nothing: it applies to connect() only.";
                case 2:
                    return "2: loopback only (the default since Linux 4.20): as 1, for connections over loopback.";
                default:
                    return value.ToString(CultureInfo.InvariantCulture) + ": not a value the kernel documents (0, 1 or 2).";
            }
        }

        /// <summary>"START-END", ports 1 to 65535 and START at most END; null (with the reason) otherwise.</summary>
        internal static (int Start, int End)? ParsePortRange(string? text, out string? why)
        {
            why = null;
            string t = (text ?? string.Empty).Trim();
            int dash = t.IndexOf('-');
            if (dash <= 0 || dash == t.Length - 1 || !IsDigits(t.Substring(0, dash)) || !IsDigits(t.Substring(dash + 1)))
            {
                why = $"'{text}' is not a port range: give it as START-END, for example 32768-60999.";
                return null;
            }

            if (!int.TryParse(t.Substring(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out int start) ||
                !int.TryParse(t.Substring(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int end) ||
                start < 1 || end > 65535 || start > end)
            {
                why = $"'{text}' is not a port range: both ends must be ports (1 to 65535) and START at most END, for example 32768-60999.";
                return null;
            }

            return (start, end);
        }

        /// <summary>
        /// The kernel's list syntax for ip_local_reserved_ports: ports and ranges (N or N-M) separated
        /// by commas, "" for none. Null (with the reason) when it is anything else.
        /// </summary>
        internal static List<(int Start, int End)>? ParsePortList(string? text, out string? why)
        {
            why = null;
            var result = new List<(int, int)>();
            string t = (text ?? string.Empty).Trim();
            if (t.Length == 0)
            {
                return result;
            }

            foreach (string part in t.Split(','))
            {
                string p = part.Trim();
                int dash = p.IndexOf('-');
                string a = dash < 0 ? p : p.Substring(0, dash);
                string b = dash < 0 ? p : p.Substring(dash + 1);
                if (!IsDigits(a) || !IsDigits(b) ||
                    !int.TryParse(a, NumberStyles.None, CultureInfo.InvariantCulture, out int s) ||
                    !int.TryParse(b, NumberStyles.None, CultureInfo.InvariantCulture, out int e) ||
                    s > 65535 || e > 65535 || s > e)
                {
                    why = $"'{text}' is not a list of ports: give ports and ranges separated by commas (ports 0 to 65535), for example 8080,9000-9010, or '' for none.";
                    return null;
                }

                result.Add((s, e));
            }

            return result;
        }

        /// <summary>How many ports of [start, end] the list covers (overlaps counted once).</summary>
        internal static int CountInRange(IEnumerable<(int Start, int End)> ports, int start, int end)
        {
            var covered = new HashSet<int>();
            foreach (var (s, e) in ports)
            {
                for (int p = Math.Max(s, start); p <= Math.Min(e, end); p++)
                {
                    covered.Add(p);
                }
            }

            return covered.Count;
        }

        internal static bool Covers(IEnumerable<(int Start, int End)> ports, int port) => ports.Any(r => port >= r.Start && port <= r.End);

        /// <summary>
        /// The first value of <paramref name="change"/> this platform cannot take or that repeats a
        /// myth, as the error the cmdlet writes; null when all is well. <paramref name="listening"/>
        /// holds the ports that have a listener where the range applies.
        /// </summary>
        internal static CloseWaitException? Validate(string platform, IReadOnlyCollection<TimeWaitField> fields, TimeWaitChange change, TcpTimeWaitSetting current, ICollection<int> listening)
        {
            foreach (var field in change.Given())
            {
                if (!fields.Contains(field))
                {
                    return new CloseWaitException(ErrorIds.TimeWaitSettingNotSupported, ErrorCategory.InvalidArgument,
                        $"{platform} has no {field} setting{NotSupportedHint(platform, field)}. Nothing was changed.", field.ToString());
                }
            }

            if (change.PortRange is (int start, int end))
            {
                string range = start + "-" + end;
                if (start < 1024)
                {
                    return new CloseWaitException(ErrorIds.PortRangeBelow1024, ErrorCategory.InvalidArgument,
                        $"The port range {range} starts below 1024. Ports below 1024 are privileged: they belong to services (ssh 22, http 80, https 443), and an outbound connection holding one can keep such a service from starting. Start the range at 1024 or above (the Linux default is 32768-60999). Nothing was changed.", range);
                }

            }

            // Every change that can put a listener inside the range unreserved: a new range, or fewer
            // reservations under the current one (-ReservedPorts '' after widening the range).
            if ((change.PortRange != null || change.ReservedPorts != null)
                && (change.PortRange ?? (current.PortRangeStart is int s0 && current.PortRangeEnd is int e0 ? (s0, e0) : ((int, int)?)null)) is (int from, int to))
            {
                string range = from + "-" + to;
                List<(int, int)> reserved = change.ReservedPorts != null
                    ? ParsePortList(change.ReservedPorts, out _) ?? new List<(int, int)>()
                    : ParsePortList(current.ReservedPorts, out _) ?? new List<(int, int)>();
                var clash = listening.Where(p => p >= from && p <= to && !Covers(reserved, p)).Distinct().OrderBy(p => p).ToList();
                if (clash.Count > 0 && ParsePortList(change.ReservedPorts ?? string.Empty, out _) != null)
                {
                    string ports = string.Join(", ", clash.Take(10)) + (clash.Count > 10 ? $" and {clash.Count - 10} more" : string.Empty);
                    string what = change.PortRange != null
                        ? $"The port range {range} holds port(s) {ports}, where a service listens (TCP or UDP)"
                        : $"These reservations leave port(s) {ports}, where a service listens (TCP or UDP), unreserved inside the port range {range}";
                    return new CloseWaitException(ErrorIds.PortRangeCollidesWithListener, ErrorCategory.InvalidArgument,
                        $"{what}. An outbound connection can take such a port while the service is down, and the service then cannot start again (address already in use). Choose a range that leaves them out, or keep them reserved with -ReservedPorts '{string.Join(",", clash)}'. Nothing was changed.", range);
                }
            }

            if (change.ReservedPorts != null && ParsePortList(change.ReservedPorts, out string? why) == null)
            {
                return new CloseWaitException(ErrorIds.ReservedPortsInvalid, ErrorCategory.InvalidArgument, why + " Nothing was changed.", change.ReservedPorts);
            }

            if (change.TimeWaitReuse is int reuse && (reuse < 0 || reuse > 2))
            {
                return new CloseWaitException(ErrorIds.TimeWaitReuseOutOfRange, ErrorCategory.InvalidArgument,
                    $"TimeWaitReuse {reuse} is not 0, 1 or 2. 0 is off, 1 lets outbound connections take a port from a TIME_WAIT socket (with TCP timestamps), 2 does so on loopback only (the default). Nothing was changed.", reuse);
            }

            if (change.MaxTimeWaitBuckets is int buckets)
            {
                if (buckets < 1)
                {
                    return new CloseWaitException(ErrorIds.MaxTimeWaitBucketsOutOfRange, ErrorCategory.InvalidArgument,
                        $"MaxTimeWaitBuckets {buckets} is not a positive number. Nothing was changed.", buckets);
                }

                if (current.MaxTimeWaitBuckets is int now && buckets < now)
                {
                    return new CloseWaitException(ErrorIds.MaxTimeWaitBucketsLowered, ErrorCategory.InvalidArgument,
                        $"Lowering tcp_max_tw_buckets from {now} to {buckets} frees no port and no connection: past the limit the kernel destroys new TIME_WAIT sockets at once (\"time wait bucket table overflow\", TCPTimeWaitOverflow), which throws away TIME_WAIT's protection against a late segment landing in a new connection. The kernel's documentation says not to lower it; the limit exists against denial of service. To open more outbound connections, widen -PortRange, set -TimeWaitReuse 1, or reuse connections (keep-alive, pooling). Raising it is allowed. Nothing was changed.", buckets);
                }
            }

            if (change.FinWait2Timeout is TimeSpan fin && (fin < TimeSpan.FromSeconds(1) || fin > TimeSpan.FromSeconds(LinuxFinTimeoutMax) || fin.Ticks % TimeSpan.TicksPerSecond != 0))
            {
                return new CloseWaitException(ErrorIds.FinWait2TimeoutOutOfRange, ErrorCategory.InvalidArgument,
                    $"FinWait2Timeout {fin} is not a whole number of seconds from 1 to {LinuxFinTimeoutMax}. Nothing was changed.", fin);
            }

            if (change.TimeWaitDuration is TimeSpan delay && (delay < TimeSpan.FromSeconds(WindowsTimedWaitDelayMin) || delay > TimeSpan.FromSeconds(WindowsTimedWaitDelayMax) || delay.Ticks % TimeSpan.TicksPerSecond != 0))
            {
                return new CloseWaitException(ErrorIds.TimeWaitDurationOutOfRange, ErrorCategory.InvalidArgument,
                    $"TimeWaitDuration {delay} is outside what Windows takes for TcpTimedWaitDelay: whole seconds from {WindowsTimedWaitDelayMin} to {WindowsTimedWaitDelayMax}. Nothing was changed.", delay);
            }

            if (change.MaximumSegmentLifetime is TimeSpan msl && (msl < TimeSpan.FromMilliseconds(1) || msl > TimeSpan.FromMilliseconds(int.MaxValue) || msl.Ticks % TimeSpan.TicksPerMillisecond != 0))
            {
                return new CloseWaitException(ErrorIds.MaximumSegmentLifetimeOutOfRange, ErrorCategory.InvalidArgument,
                    $"MaximumSegmentLifetime {msl} is not a whole number of milliseconds from 1 to {int.MaxValue}. Nothing was changed.", msl);
            }

            return null;
        }

        /// <summary>The error for tcp_tw_recycle, which people still copy from old tuning guides.</summary>
        internal static CloseWaitException RecycleRemoved() =>
            new CloseWaitException(ErrorIds.TimeWaitRecycleRemoved, ErrorCategory.InvalidArgument,
                "tcp_tw_recycle was removed in Linux 4.12: it dropped connections from clients behind NAT (their TCP timestamps do not increase together). " +
                "For many outbound connections to one destination use -TimeWaitReuse 1 (with TCP timestamps), widen -PortRange, or reuse connections (HTTP keep-alive, connection pooling). Nothing was changed.");

        private static string NotSupportedHint(string platform, TimeWaitField field)
        {
            if (field == TimeWaitField.TimeWaitDuration && platform == "Linux")
            {
                return ": Linux keeps TIME_WAIT for 60 s (TCP_TIMEWAIT_LEN, fixed when the kernel is built; tcp_fin_timeout does not change it). Use -TimeWaitReuse 1, a wider -PortRange, or reuse connections";
            }

            if (field == TimeWaitField.PortRange && platform == "Windows")
            {
                return " that CloseWait writes: set the dynamic port range with `netsh int ipv4 set dynamicport tcp start=49152 num=16384` (and ipv6)";
            }

            if (field == TimeWaitField.FinWait2Timeout && platform == "Windows")
            {
                return " here (Windows' TcpFinWait2Delay is not managed by CloseWait)";
            }

            return string.Empty;
        }

        private static bool IsDigits(string s) => s.Length > 0 && s.All(c => c >= '0' && c <= '9');
    }
}
