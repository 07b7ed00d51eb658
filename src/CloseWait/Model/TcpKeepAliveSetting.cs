using System;

namespace CloseWait
{
    /// <summary>
    /// The system's TCP keepalive: how long a connection idles before the first probe, how often
    /// unanswered probes repeat, and how many go unanswered before the connection is dropped.
    /// Applies to sockets whose application turns SO_KEEPALIVE on. Pipe it into
    /// Set-TcpKeepAliveSetting (here or on another machine) to apply it as a baseline.
    /// </summary>
    public sealed class TcpKeepAliveSetting : ILocated
    {
        /// <summary>Linux, Windows or macOS.</summary>
        public string Platform { get; internal set; } = string.Empty;

        /// <summary>The network namespace read (a PID or a path) when not the caller's own; null for the caller's.</summary>
        public string? NetworkNamespace { get; internal set; }

        /// <summary>Linux: the inode of the network namespace read; Set-TcpKeepAliveSetting refuses it when its NetworkNamespace names another one now.</summary>
        public ulong? NetworkNamespaceId { get; internal set; }

        /// <summary>The host name of the machine that read it.</summary>
        public string? ComputerName { get; internal set; }

        /// <summary>The machine and boot that read it (Linux boot_id); Set-* refuse a setting read on another machine or boot.</summary>
        public string? BootId { get; internal set; }

        void ILocated.SetLocation(NamespaceIdentity where)
        {
            NetworkNamespace = where.Spec;
            NetworkNamespaceId = where.Inode;
            ComputerName = where.ComputerName;
            BootId = where.BootId;
        }

        /// <summary>With -AllNetworkNamespaces: the containers whose processes use the namespace (name, else id); empty for the host's.</summary>
        public string[]? Containers { get; internal set; }

        /// <summary>With -AllNetworkNamespaces: the Kubernetes pod that owns the namespace, where the node's files name it.</summary>
        public string? PodNamespace { get; internal set; }

        public string? PodName { get; internal set; }

        /// <summary>Idle time before the first probe (Linux tcp_keepalive_time, Windows KeepAliveTime, macOS keepidle).</summary>
        public TimeSpan Time { get; internal set; }

        /// <summary>Time between unanswered probes (tcp_keepalive_intvl, KeepAliveInterval, keepintvl).</summary>
        public TimeSpan Interval { get; internal set; }

        /// <summary>Unanswered probes before the connection is dropped (tcp_keepalive_probes; fixed at 10 on Windows; keepcnt).</summary>
        public int Probes { get; internal set; }

        /// <summary>How long a dead peer goes unnoticed on an idle connection: Time + Interval × Probes.</summary>
        public TimeSpan DetectionTime => KeepAliveRules.DetectionTime(Time, Interval, Probes);

        public bool TimeIsDefault { get; internal set; }

        public bool IntervalIsDefault { get; internal set; }

        public bool ProbesIsDefault { get; internal set; }

        /// <summary>Time, interval and probes are all the kernel's defaults: nobody tuned this (namespace's) keepalive.</summary>
        public bool UsesKernelDefaults => TimeIsDefault && IntervalIsDefault && ProbesIsDefault;

        /// <summary>Where Time was read: a /proc/sys path, a registry value, a sysctl name.</summary>
        public string TimeSource { get; internal set; } = string.Empty;

        public string IntervalSource { get; internal set; } = string.Empty;

        public string ProbesSource { get; internal set; } = string.Empty;

        /// <summary>
        /// Linux: the Time that a reboot would bring (from /etc/sysctl.conf and sysctl.d files, in
        /// sysctl --system order, or the kernel default when no file sets it), when it differs from
        /// the running Time; null when they agree or it is not known (another namespace, other platforms).
        /// </summary>
        public TimeSpan? TimeAfterReboot { get; internal set; }

        public TimeSpan? IntervalAfterReboot { get; internal set; }

        public int? ProbesAfterReboot { get; internal set; }

        /// <summary>Where TimeAfterReboot comes from ("/etc/sysctl.d/10-net.conf:3", "kernel default"); null with it.</summary>
        public string? TimeAfterRebootSource { get; internal set; }

        public string? IntervalAfterRebootSource { get; internal set; }

        public string? ProbesAfterRebootSource { get; internal set; }

        /// <summary>True when a reboot would change any value: the running values are not persisted.</summary>
        public bool ChangesAfterReboot => TimeAfterReboot != null || IntervalAfterReboot != null || ProbesAfterReboot != null;

        /// <summary>Builds a setting from raw platform values (units for times, the count for probes), marking the defaults.</summary>
        internal static TcpKeepAliveSetting FromRaw(KeepAliveRules rules, long time, long interval, long probes, string timeSource, string intervalSource, string probesSource)
        {
            return new TcpKeepAliveSetting
            {
                Platform = rules.Platform,
                Time = rules.FromUnits(time),
                Interval = rules.FromUnits(interval),
                Probes = checked((int)probes),
                TimeIsDefault = time == rules.DefaultRaw(KeepAliveField.Time),
                IntervalIsDefault = interval == rules.DefaultRaw(KeepAliveField.Interval),
                ProbesIsDefault = probes == rules.DefaultRaw(KeepAliveField.Probes),
                TimeSource = timeSource,
                IntervalSource = intervalSource,
                ProbesSource = probesSource,
            };
        }

        internal long Raw(KeepAliveRules rules, KeepAliveField field) => rules.Raw(field, Time, Interval, Probes);

        public override string ToString() =>
            $"Time {Time}, Interval {Interval}, Probes {Probes} (detection {DetectionTime})";
    }
}
