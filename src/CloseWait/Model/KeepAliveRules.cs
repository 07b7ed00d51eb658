using System;
using System.Globalization;
using System.Management.Automation;

namespace CloseWait
{
    /// <summary>
    /// One platform's keepalive units, defaults and limits: what the stores convert with and what
    /// Set-TcpKeepAliveSetting validates against before anything is written. Pure, so every
    /// platform's rules are tested on every platform.
    /// </summary>
    internal sealed class KeepAliveRules
    {
        /// <summary>
        /// /proc/sys/net/ipv4/tcp_keepalive_{time,intvl,probes}: seconds, seconds, a count. The sysctls
        /// themselves take more, but a socket's own TCP_KEEPIDLE/TCP_KEEPINTVL/TCP_KEEPCNT stop at
        /// MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL (32767) and MAX_TCP_KEEPCNT (127): the system values keep within them.
        /// </summary>
        internal static readonly KeepAliveRules Linux = new KeepAliveRules("Linux", TimeSpan.FromSeconds(1), "seconds",
            defaultTime: 7200, defaultInterval: 75, defaultProbes: 9, maxTime: 32767, maxInterval: 32767, maxProbes: 127, probesFixed: false);

        /// <summary>
        /// Tcpip\Parameters KeepAliveTime and KeepAliveInterval: REG_DWORD milliseconds, 1 to 0xFFFFFFFF,
        /// absent meaning 7,200,000 and 1,000. Since Windows Vista the probe count is fixed at 10.
        /// </summary>
        internal static readonly KeepAliveRules Windows = new KeepAliveRules("Windows", TimeSpan.FromMilliseconds(1), "milliseconds",
            defaultTime: 7_200_000, defaultInterval: 1_000, defaultProbes: 10, maxTime: uint.MaxValue, maxInterval: uint.MaxValue, maxProbes: 10, probesFixed: true);

        /// <summary>
        /// sysctl net.inet.tcp.keepidle and keepintvl (int milliseconds, at least 1) and keepcnt (int);
        /// XNU's defaults are TCPTV_KEEP_IDLE (2 h), TCPTV_KEEPINTVL (75 s) and TCPTV_KEEPCNT (8).
        /// </summary>
        internal static readonly KeepAliveRules MacOS = new KeepAliveRules("macOS", TimeSpan.FromMilliseconds(1), "milliseconds",
            defaultTime: 7_200_000, defaultInterval: 75_000, defaultProbes: 8, maxTime: int.MaxValue, maxInterval: int.MaxValue, maxProbes: int.MaxValue, probesFixed: false);

        private readonly long _defaultTime;
        private readonly long _defaultInterval;
        private readonly long _maxTime;
        private readonly long _maxInterval;

        private KeepAliveRules(string platform, TimeSpan unit, string unitName, long defaultTime, long defaultInterval, int defaultProbes,
            long maxTime, long maxInterval, int maxProbes, bool probesFixed)
        {
            Platform = platform;
            Unit = unit;
            UnitName = unitName;
            _defaultTime = defaultTime;
            _defaultInterval = defaultInterval;
            DefaultProbes = defaultProbes;
            _maxTime = maxTime;
            _maxInterval = maxInterval;
            MaxProbes = maxProbes;
            ProbesFixed = probesFixed;
        }

        public string Platform { get; }

        /// <summary>The step the platform keeps times in: a second on Linux, a millisecond elsewhere.</summary>
        public TimeSpan Unit { get; }

        public string UnitName { get; }

        public TimeSpan DefaultTime => FromUnits(_defaultTime);

        public TimeSpan DefaultInterval => FromUnits(_defaultInterval);

        public int DefaultProbes { get; }

        public TimeSpan MinTime => Unit;

        public TimeSpan MaxTime => FromUnits(_maxTime);

        public TimeSpan MinInterval => Unit;

        public TimeSpan MaxInterval => FromUnits(_maxInterval);

        public int MinProbes => ProbesFixed ? DefaultProbes : 1;

        public int MaxProbes { get; }

        /// <summary>The probe count cannot be set (Windows): only its fixed value is accepted.</summary>
        public bool ProbesFixed { get; }

        internal TimeSpan FromUnits(long units) => TimeSpan.FromTicks(checked(units * Unit.Ticks));

        /// <summary>A validated time in the platform's unit (whole by then).</summary>
        internal long ToUnits(TimeSpan value) => value.Ticks / Unit.Ticks;

        /// <summary>The value in the platform's raw form: units for times, the count for probes.</summary>
        internal long Raw(KeepAliveField field, TimeSpan time, TimeSpan interval, int probes) =>
            field == KeepAliveField.Time ? ToUnits(time) : field == KeepAliveField.Interval ? ToUnits(interval) : probes;

        internal long DefaultRaw(KeepAliveField field) =>
            field == KeepAliveField.Time ? _defaultTime : field == KeepAliveField.Interval ? _defaultInterval : DefaultProbes;

        /// <summary>"300 s (00:05:00)", "7200000 ms (02:00:00)", "9": a raw value as a user reads it.</summary>
        internal string Describe(KeepAliveField field, long raw)
        {
            if (field == KeepAliveField.Probes)
            {
                return raw.ToString(CultureInfo.InvariantCulture);
            }

            string unit = Unit == TimeSpan.FromSeconds(1) ? "s" : "ms";
            return string.Format(CultureInfo.InvariantCulture, "{0} {1} ({2})", raw, unit, FromUnits(raw));
        }

        /// <summary>How long a dead peer goes unnoticed: idle time before the first probe, then every unanswered probe.</summary>
        internal static TimeSpan DetectionTime(TimeSpan time, TimeSpan interval, int probes) =>
            time + TimeSpan.FromTicks(interval.Ticks * probes);

        /// <summary>The first value this platform cannot take, as the error the cmdlet writes; null when all fit.</summary>
        internal CloseWaitException? Validate(KeepAliveChange change)
        {
            return CheckTime(KeepAliveField.Time, change.Time, _maxTime)
                ?? CheckTime(KeepAliveField.Interval, change.Interval, _maxInterval)
                ?? CheckProbes(change.Probes);
        }

        private CloseWaitException? CheckTime(KeepAliveField field, TimeSpan? value, long maxUnits)
        {
            if (value is not TimeSpan v)
            {
                return null;
            }

            TimeSpan max = FromUnits(maxUnits);
            if (v < Unit || v > max)
            {
                return new CloseWaitException(field == KeepAliveField.Time ? ErrorIds.KeepAliveTimeOutOfRange : ErrorIds.KeepAliveIntervalOutOfRange, ErrorCategory.InvalidArgument,
                    string.Format(CultureInfo.InvariantCulture, "{0} {1} is outside what {2} accepts: 1 to {3} {4} ({5} to {6}). Nothing was changed.",
                        field, v, Platform, maxUnits, UnitName, Unit, max), v);
            }

            if (v.Ticks % Unit.Ticks != 0)
            {
                return new CloseWaitException(field == KeepAliveField.Time ? ErrorIds.KeepAliveTimeNotWhole : ErrorIds.KeepAliveIntervalNotWhole, ErrorCategory.InvalidArgument,
                    string.Format(CultureInfo.InvariantCulture, "{0} {1} is not a whole number of {2}: {3} keeps it in whole {2}. Nothing was changed.",
                        field, v, UnitName, Platform), v);
            }

            return null;
        }

        private CloseWaitException? CheckProbes(int? value)
        {
            if (value is not int p)
            {
                return null;
            }

            if (ProbesFixed)
            {
                return p == DefaultProbes
                    ? null
                    : new CloseWaitException(ErrorIds.KeepAliveProbesNotSupported, ErrorCategory.InvalidArgument,
                        string.Format(CultureInfo.InvariantCulture,
                            "{0} fixes the number of keepalive probes at {1} (since Windows Vista); it cannot be set to {2}. Leave -Probes out (a baseline from another system: pipe it through Select-Object Time, Interval). Nothing was changed.",
                            Platform, DefaultProbes, p), p);
            }

            if (p < MinProbes || p > MaxProbes)
            {
                return new CloseWaitException(ErrorIds.KeepAliveProbesOutOfRange, ErrorCategory.InvalidArgument,
                    string.Format(CultureInfo.InvariantCulture, "Probes {0} is outside what {1} accepts: {2} to {3}. Nothing was changed.",
                        p, Platform, MinProbes, MaxProbes), p);
            }

            return null;
        }
    }
}
