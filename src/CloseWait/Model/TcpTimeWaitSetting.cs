using System;

namespace CloseWait
{
    /// <summary>
    /// The settings that decide how many outbound connections a host can open towards one
    /// destination, and what TIME_WAIT costs: the ephemeral port range, reserved ports, TIME_WAIT
    /// reuse, the TIME_WAIT bucket limit with the current count and overflows, the FIN_WAIT_2
    /// timeout (Linux); TcpTimedWaitDelay and the dynamic port range (Windows); MSL and the port
    /// range (macOS). A value a platform does not have or cannot give is null. Details carries each
    /// with its meaning, default and source.
    /// </summary>
    public sealed class TcpTimeWaitSetting : ILocated
    {
        /// <summary>Linux, Windows or macOS.</summary>
        public string Platform { get; internal set; } = string.Empty;

        /// <summary>The network namespace read (a PID or a path) when not the caller's own; null for the caller's.</summary>
        public string? NetworkNamespace { get; internal set; }

        /// <summary>Linux: the inode of the network namespace read; Set-TcpTimeWaitSetting refuses it when its NetworkNamespace names another one now.</summary>
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

        /// <summary>The ephemeral port range as START-END, the form Set-TcpTimeWaitSetting -PortRange takes.</summary>
        public string? PortRange => PortRangeStart == null || PortRangeEnd == null ? null : PortRangeStart + "-" + PortRangeEnd;

        /// <summary>First local port connect() picks from (Linux ip_local_port_range, Windows dynamic port range, macOS portrange.first).</summary>
        public int? PortRangeStart { get; internal set; }

        /// <summary>Last local port of the range.</summary>
        public int? PortRangeEnd { get; internal set; }

        /// <summary>Linux ip_local_reserved_ports as the kernel lists it ("" for none): ports connect() never picks.</summary>
        public string? ReservedPorts { get; internal set; }

        /// <summary>Usable ephemeral ports: the range minus the reserved ports inside it. Per destination, this is how many connections can be open or in TIME_WAIT at once.</summary>
        public int? RangeSize { get; internal set; }

        /// <summary>Linux tcp_tw_reuse: 0 off, 1 on for outbound connections (with TCP timestamps), 2 loopback only (the default).</summary>
        public int? TimeWaitReuse { get; internal set; }

        /// <summary>What the TimeWaitReuse value means.</summary>
        public string? TimeWaitReuseMeaning { get; internal set; }

        /// <summary>Linux tcp_max_tw_buckets: TIME_WAIT sockets the namespace keeps before it destroys new ones at once (counted in TimeWaitOverflow).</summary>
        public int? MaxTimeWaitBuckets { get; internal set; }

        /// <summary>TIME_WAIT sockets now (Linux: sockstat's tw for the namespace).</summary>
        public int? TimeWaitCount { get; internal set; }

        /// <summary>Linux TcpExt TCPTimeWaitOverflow: TIME_WAIT sockets destroyed at once because MaxTimeWaitBuckets was reached, since boot (or since the namespace was made).</summary>
        public long? TimeWaitOverflow { get; internal set; }

        /// <summary>Linux tcp_fin_timeout: how long an orphaned connection waits in FIN_WAIT_2 for the peer's FIN. It does not shorten TIME_WAIT.</summary>
        public TimeSpan? FinWait2Timeout { get; internal set; }

        /// <summary>How long a socket stays in TIME_WAIT: 60 s fixed on Linux (TCP_TIMEWAIT_LEN), TcpTimedWaitDelay on Windows, 2 × MSL on macOS.</summary>
        public TimeSpan? TimeWaitDuration { get; internal set; }

        /// <summary>macOS net.inet.tcp.msl: the maximum segment lifetime; TIME_WAIT lasts twice this.</summary>
        public TimeSpan? MaximumSegmentLifetime { get; internal set; }

        /// <summary>Each setting with its value, default, meaning and where it was read.</summary>
        public TcpTimeWaitSettingItem[] Details { get; internal set; } = Array.Empty<TcpTimeWaitSettingItem>();

        public override string ToString() =>
            $"PortRange {PortRange}, RangeSize {RangeSize}, TimeWaitReuse {TimeWaitReuse}, TimeWaitDuration {TimeWaitDuration}";
    }

    /// <summary>One TIME_WAIT-related setting: its value, default, meaning and source.</summary>
    public sealed class TcpTimeWaitSettingItem
    {
        /// <summary>
        /// The property and parameter name (PortRange, TimeWaitReuse, ...). Not called Name: Stop-Process
        /// binds -Name from a property of that name, so `(Get-TcpTimeWaitSetting).Details | Stop-Process`
        /// would SIGKILL every process called PortRange (see ProcessReference).
        /// </summary>
        public string Setting { get; internal set; } = string.Empty;

        /// <summary>The value as the platform holds it ("32768-60999", "2", "60 s").</summary>
        public string? Value { get; internal set; }

        /// <summary>The platform's default, as text.</summary>
        public string Default { get; internal set; } = string.Empty;

        /// <summary>True when the value is the default; null when the default depends on the machine (tcp_max_tw_buckets).</summary>
        public bool? IsDefault { get; internal set; }

        public string Meaning { get; internal set; } = string.Empty;

        /// <summary>Where the value was read: a /proc/sys path, a registry value, a sysctl name.</summary>
        public string Source { get; internal set; } = string.Empty;

        public override string ToString() => $"{Setting} = {Value}";
    }
}
