using System;
using System.Globalization;
using System.Management.Automation;
using System.Text;

namespace CloseWait
{
    /// <summary>
    /// The load-balancer check: a device in front (AWS NLB 350 s, Azure Load Balancer 4 min, a NAT
    /// gateway, a firewall) silently drops a flow that stays idle for its idle timeout. Keepalive
    /// keeps the flow open only if the first probe goes out before that, and a lost probe is
    /// retried before that too.
    /// </summary>
    internal static class KeepAliveAdvisor
    {
        /// <summary>The share of the idle timeout a recommended Time may take, and the share for Interval.</summary>
        private const double TimeShare = 0.8;
        private const double IntervalShare = 0.1;

        internal static TcpKeepAliveTestResult Check(TcpKeepAliveSetting current, TimeSpan idleTimeout, KeepAliveRules rules)
        {
            var result = new TcpKeepAliveTestResult
            {
                Platform = rules.Platform,
                NetworkNamespace = current.NetworkNamespace,
                NetworkNamespaceId = current.NetworkNamespaceId,
                Containers = current.Containers,
                PodNamespace = current.PodNamespace,
                PodName = current.PodName,
                UsesKernelDefaults = current.UsesKernelDefaults,
                IdleTimeout = idleTimeout,
                CurrentTime = current.Time,
                CurrentInterval = current.Interval,
                CurrentProbes = current.Probes,
                RecommendedTime = current.Time,
                RecommendedInterval = current.Interval,
                RecommendedProbes = current.Probes,
            };

            // A running value no socket option could set (tcp_keepalive_time 0, a negative interval, 0
            // probes) is no keepalive to pass: fail, and recommend from the defaults in its place.
            var invalid = rules.Validate(new KeepAliveChange(current.Time, current.Interval, rules.ProbesFixed ? null : current.Probes));
            if (invalid != null)
            {
                bool timeOk = current.Time >= rules.MinTime && current.Time <= rules.MaxTime && current.Time.Ticks % rules.Unit.Ticks == 0;
                bool intervalOk = current.Interval >= rules.MinInterval && current.Interval <= rules.MaxInterval && current.Interval.Ticks % rules.Unit.Ticks == 0;
                bool probesOk = rules.ProbesFixed || (current.Probes >= rules.MinProbes && current.Probes <= rules.MaxProbes);
                result.Verdict = TcpKeepAliveVerdict.Fail;
                result.Reason = "The running keepalive is not one the kernel's sockets can be given: " +
                    invalid.Message.Replace(" Nothing was changed.", string.Empty) + " Set it to a valid value.";
                var (t, i) = Recommend(timeOk ? current.Time : rules.DefaultTime, intervalOk ? current.Interval : rules.DefaultInterval, idleTimeout, rules);
                result.RecommendedTime = t;
                result.RecommendedInterval = i;
                result.RecommendedProbes = probesOk ? current.Probes : rules.DefaultProbes;
                result.RecommendedCommand = Command(current, t, i, result.RecommendedProbes, rules);
                return result;
            }

            TimeSpan retry = current.Time + current.Interval;
            if (current.Time >= idleTimeout)
            {
                result.Verdict = TcpKeepAliveVerdict.Fail;
                result.Reason = Invariant($"The first keepalive probe goes out after {current.Time} idle, but the device drops flows idle for {idleTimeout}: idle connections are dropped before keepalive can keep them open, and each side finds out only when it next sends.");
            }
            else if (retry >= idleTimeout)
            {
                result.Verdict = TcpKeepAliveVerdict.Marginal;
                result.Reason = Invariant($"The first keepalive probe goes out after {current.Time}, before the {idleTimeout} idle timeout, but if it is lost the next one follows only at {retry}, after the flow is dropped.");
            }
            else
            {
                result.Verdict = TcpKeepAliveVerdict.Pass;
                result.Reason = Invariant($"The first keepalive probe goes out after {current.Time} and a retry at {retry}, both before the {idleTimeout} idle timeout.");
                return result;
            }

            var (time, interval) = Recommend(current.Time, current.Interval, idleTimeout, rules);
            result.RecommendedTime = time;
            result.RecommendedInterval = interval;
            result.RecommendedCommand = Command(current, time, interval, current.Probes, rules);
            return result;
        }

        /// <summary>
        /// Time at most 80% and Interval at most 10% of the idle timeout, rounded down to whole
        /// platform units (and to 10 s and 5 s steps when that large); shorter current values are kept.
        /// </summary>
        internal static (TimeSpan Time, TimeSpan Interval) Recommend(TimeSpan currentTime, TimeSpan currentInterval, TimeSpan idleTimeout, KeepAliveRules rules)
        {
            TimeSpan interval = Floor(TimeSpan.FromTicks((long)(idleTimeout.Ticks * IntervalShare)), rules.Unit);
            if (interval >= TimeSpan.FromSeconds(10))
            {
                interval = Floor(interval, TimeSpan.FromSeconds(5));
            }

            interval = Max(Min(interval, currentInterval), rules.MinInterval);

            TimeSpan time = Floor(TimeSpan.FromTicks((long)(idleTimeout.Ticks * TimeShare)), rules.Unit);
            if (idleTimeout >= TimeSpan.FromSeconds(100))
            {
                time = Floor(time, TimeSpan.FromSeconds(10));
            }

            time = Min(time, currentTime);
            if (time + interval >= idleTimeout)
            {
                time = Floor(idleTimeout - interval - rules.Unit, rules.Unit);
            }

            if (time < rules.MinTime)
            {
                throw new CloseWaitException(ErrorIds.IdleTimeoutTooShort, ErrorCategory.InvalidArgument,
                    Invariant($"An idle timeout of {idleTimeout} leaves no room for a keepalive probe and a retry: {rules.Platform} keeps keepalive times in whole {rules.UnitName}. Check the idle timeout (AWS NLB: 350 seconds, Azure Load Balancer: 4 minutes by default)."),
                    idleTimeout);
            }

            return (time, interval);
        }

        private static string Command(TcpKeepAliveSetting current, TimeSpan time, TimeSpan interval, int probes, KeepAliveRules rules)
        {
            var sb = new StringBuilder("Set-TcpKeepAliveSetting");
            if (time != current.Time)
            {
                sb.Append(" -Time ").Append(Argument(time));
            }

            if (interval != current.Interval)
            {
                sb.Append(" -Interval ").Append(Argument(interval));
            }

            if (probes != current.Probes)
            {
                sb.Append(" -Probes ").Append(probes.ToString(CultureInfo.InvariantCulture));
            }

            if (current.NetworkNamespace != null)
            {
                sb.Append(" -NetworkNamespace ").Append(current.NetworkNamespace);
            }
            else if (rules == KeepAliveRules.Linux)
            {
                sb.Append(" -Persist");
            }

            return sb.ToString();
        }

        /// <summary>Whole seconds as a plain number (what -Time 300 means), anything finer as hh:mm:ss.fffffff.</summary>
        private static string Argument(TimeSpan value) =>
            value.Ticks % TimeSpan.TicksPerSecond == 0
                ? (value.Ticks / TimeSpan.TicksPerSecond).ToString(CultureInfo.InvariantCulture)
                : value.ToString("c", CultureInfo.InvariantCulture);

        private static TimeSpan Floor(TimeSpan value, TimeSpan step) => TimeSpan.FromTicks(value.Ticks - (value.Ticks % step.Ticks));

        private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

        private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

        private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
    }
}
