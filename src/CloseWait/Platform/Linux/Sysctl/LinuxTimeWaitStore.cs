using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;

namespace CloseWait.Platform.Linux
{
    /// <summary>
    /// /proc/sys/net/ipv4/{ip_local_port_range, ip_local_reserved_ports, tcp_tw_reuse,
    /// tcp_max_tw_buckets, tcp_fin_timeout}, per network namespace, with the TIME_WAIT count from
    /// sockstat and TCPTimeWaitOverflow from netstat, both read through /proc/thread-self/net so
    /// they are the namespace's. The same machinery as the keepalive: LinuxProcSys for the files,
    /// SettingTransaction for all or nothing, LinuxSysctlConfig for the drop-in,
    /// LinuxNetworkNamespace for another namespace.
    /// </summary>
    internal sealed class LinuxTimeWaitStore : ITimeWaitStore
    {
        internal const string DropInName = "99-closewait-tcp-timewait.conf";

        private readonly string _procDirectory;
        private readonly string _netDirectory;
        private readonly string _configRoot;

        internal LinuxTimeWaitStore()
            : this(LinuxKeepAliveStore.ProcDirectory, "/proc/thread-self/net", "/")
        {
        }

        /// <summary>A store over other files: tests use a scratch tree, never the host's /etc.</summary>
        internal LinuxTimeWaitStore(string procDirectory, string netDirectory, string configRoot)
        {
            _procDirectory = procDirectory;
            _netDirectory = netDirectory;
            _configRoot = configRoot;
        }

        public string Platform => PlatformServices.Linux;

        /// <summary>The settings Linux has.</summary>
        internal static readonly IReadOnlyCollection<TimeWaitField> SettableFields = new[]
        {
            TimeWaitField.PortRange, TimeWaitField.ReservedPorts, TimeWaitField.TimeWaitReuse, TimeWaitField.MaxTimeWaitBuckets, TimeWaitField.FinWait2Timeout,
        };

        public IReadOnlyCollection<TimeWaitField> Fields => SettableFields;

        public string? PersistTarget => Path.Combine(LinuxSysctlConfig.Under(_configRoot, "/etc/sysctl.d"), DropInName);

        public bool AppliesAtRestart => false;

        internal static string FileName(TimeWaitField field)
        {
            switch (field)
            {
                case TimeWaitField.PortRange:
                    return "ip_local_port_range";
                case TimeWaitField.ReservedPorts:
                    return "ip_local_reserved_ports";
                case TimeWaitField.TimeWaitReuse:
                    return "tcp_tw_reuse";
                case TimeWaitField.MaxTimeWaitBuckets:
                    return "tcp_max_tw_buckets";
                case TimeWaitField.FinWait2Timeout:
                    return "tcp_fin_timeout";
                default:
                    throw new ArgumentOutOfRangeException(nameof(field));
            }
        }

        internal static string SysctlKey(TimeWaitField field) => "net.ipv4." + FileName(field);

        public TcpTimeWaitSetting Read(string? networkNamespace)
        {
            if (networkNamespace == null)
            {
                return ReadHere();
            }

            var inside = LinuxNetworkNamespace.Run(networkNamespace, ReadHere);
            inside.NetworkNamespace = networkNamespace;
            return inside;
        }

        public ICollection<int> ListeningPorts(string? networkNamespace)
        {
            var query = new SocketQuery { States = new[] { TcpState.Listen }, IncludeDetails = false, Namespace = networkNamespace == null ? null : LinuxNetworkNamespace.Identify(networkNamespace, null, null) };
            var ports = new HashSet<int>(PlatformServices.SocketTable.Read(query, default).Select(c => c.LocalPort));

            // ip_local_port_range serves UDP too: a bound, unconnected UDP socket is a service's port.
            Func<List<int>> udp = () => UdpBoundPorts("/proc/thread-self/net/udp").Concat(UdpBoundPorts("/proc/thread-self/net/udp6")).ToList();
            ports.UnionWith(networkNamespace == null ? udp() : LinuxNetworkNamespace.Run(networkNamespace, udp));
            return ports;
        }

        /// <summary>Local ports of unconnected UDP sockets in /proc/net/udp{,6} ("sl local_address rem_address ...", ports in hex).</summary>
        internal static IEnumerable<int> UdpBoundPorts(string path)
        {
            string[] lines;
            try
            {
                lines = File.ReadAllLines(path);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                return Array.Empty<int>();
            }

            var ports = new List<int>();
            foreach (string line in lines.Skip(1))
            {
                string[] f = line.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
                if (f.Length > 2 && PortOf(f[1]) is int local && PortOf(f[2]) == 0 && local != 0)
                {
                    ports.Add(local);
                }
            }

            return ports;
        }

        private static int? PortOf(string endpoint)
        {
            int colon = endpoint.LastIndexOf(':');
            return colon >= 0 && int.TryParse(endpoint.Substring(colon + 1), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out int port) ? port : (int?)null;
        }

        public TimeWaitReading ReadForPlan(TimeWaitChange change, string? networkNamespace)
        {
            if (networkNamespace == null)
            {
                return TimeWaitReading.Take(this, PlatformServices.SocketTable, change, null, null);
            }

            // One entry: the reads inside (values, listeners, UDP ports, the range's connections) run on the joined thread.
            var identity = LinuxNetworkNamespace.Identify(networkNamespace, null, null);
            return LinuxNetworkNamespace.Run(identity, () => TimeWaitReading.Take(this, PlatformServices.SocketTable, change, networkNamespace, identity));
        }

        public TcpTimeWaitSetting? Write(TimeWaitChange change, string? networkNamespace, TcpTimeWaitSetting? planned = null, bool readBack = false)
        {
            if (networkNamespace == null)
            {
                WriteHere(change, planned);
                return readBack ? ReadHere() : null;
            }

            var after = LinuxNetworkNamespace.Run(networkNamespace, () =>
            {
                WriteHere(change, planned);
                return readBack ? ReadHere() : null;
            });
            if (after != null)
            {
                after.NetworkNamespace = networkNamespace;
            }

            return after;
        }

        public void Persist(TimeWaitChange values)
        {
            var lines = Order(values.Given())
                .Select(f => new KeyValuePair<string, string>(SysctlKey(f), Raw(values, f)))
                .ToList();
            LinuxSysctlConfig.WriteDropIn(PersistTarget!, lines, new[]
            {
                "TIME_WAIT and ephemeral ports, written by CloseWait (Set-TcpTimeWaitSetting -Persist) on " + DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                "Applied at boot by systemd-sysctl and by `sysctl --system`; files sorting after this one,",
                "and /etc/sysctl.conf, override it. Lines CloseWait did not write are kept as they are.",
            }, "TimeWait", "TIME_WAIT settings");
        }

        /// <summary>Reserved ports before the range, so a range that needs a reservation never applies without it.</summary>
        internal static IEnumerable<TimeWaitField> Order(IEnumerable<TimeWaitField> fields) =>
            fields.OrderBy(f => f == TimeWaitField.ReservedPorts ? 0 : 1 + (int)f);

        /// <summary>A value in the form the kernel file takes (and the drop-in holds).</summary>
        internal static string Raw(TimeWaitChange change, TimeWaitField field)
        {
            switch (field)
            {
                case TimeWaitField.PortRange:
                    return Invariant($"{change.PortRange!.Value.Start} {change.PortRange!.Value.End}");
                case TimeWaitField.ReservedPorts:
                    return string.Join(",", change.ReservedPorts!.Split(',').Select(p => p.Trim()).Where(p => p.Length > 0));
                case TimeWaitField.TimeWaitReuse:
                    return change.TimeWaitReuse!.Value.ToString(CultureInfo.InvariantCulture);
                case TimeWaitField.MaxTimeWaitBuckets:
                    return change.MaxTimeWaitBuckets!.Value.ToString(CultureInfo.InvariantCulture);
                case TimeWaitField.FinWait2Timeout:
                    return ((long)change.FinWait2Timeout!.Value.TotalSeconds).ToString(CultureInfo.InvariantCulture);
                default:
                    throw new ArgumentOutOfRangeException(nameof(field));
            }
        }

        /// <summary>The setting's current value in the same form as <see cref="Raw"/>.</summary>
        internal static string Raw(TcpTimeWaitSetting s, TimeWaitField field)
        {
            switch (field)
            {
                case TimeWaitField.PortRange:
                    return Invariant($"{s.PortRangeStart} {s.PortRangeEnd}");
                case TimeWaitField.ReservedPorts:
                    return s.ReservedPorts ?? string.Empty;
                case TimeWaitField.TimeWaitReuse:
                    return Invariant($"{s.TimeWaitReuse}");
                case TimeWaitField.MaxTimeWaitBuckets:
                    return Invariant($"{s.MaxTimeWaitBuckets}");
                case TimeWaitField.FinWait2Timeout:
                    return ((long)(s.FinWait2Timeout ?? TimeSpan.Zero).TotalSeconds).ToString(CultureInfo.InvariantCulture);
                default:
                    throw new ArgumentOutOfRangeException(nameof(field));
            }
        }

        private void WriteHere(TimeWaitChange change, TcpTimeWaitSetting? planned)
        {
            var current = ReadHere();
            TimeWaitTransaction.CheckUnmoved(Fields, planned, current);
            var steps = Order(change.Given())
                .Select(f => new SettingStep<TimeWaitField, string>(f, Raw(current, f), Raw(change, f)))
                .Where(s => s.Old != s.New)
                .ToList();

            // Opening every file for writing first makes "not root" and "read-only /proc/sys" fail before anything is written.
            SettingTransaction.Apply(steps, WriteValue, CheckWritable, Describe, ErrorIds.TimeWaitRollbackFailed);
        }

        internal static string Describe(TimeWaitField field, string raw) =>
            field == TimeWaitField.PortRange ? raw.Replace(' ', '-')
            : field == TimeWaitField.FinWait2Timeout ? raw + " s"
            : field == TimeWaitField.ReservedPorts && raw.Length == 0 ? "none"
            : raw;

        private string FilePath(TimeWaitField field) => _procDirectory + "/" + FileName(field);

        private void CheckWritable(TimeWaitField field, string value)
        {
            int errno = LinuxProcSys.CheckWritable(FilePath(field));
            if (errno != 0)
            {
                throw WriteFailure(field, value, errno);
            }
        }

        private void WriteValue(TimeWaitField field, string value)
        {
            // ip_local_reserved_ports takes "" poorly from some shells; the kernel clears the list on a lone newline.
            int errno = LinuxProcSys.TryWrite(FilePath(field), value);
            if (errno != 0)
            {
                throw WriteFailure(field, value, errno);
            }
        }

        private static CloseWaitException WriteFailure(TimeWaitField field, string value, int errno)
        {
            string what = $"Cannot set {field} ({SysctlKey(field)}) to {Describe(field, value)}: {LinuxErrno.Describe(errno)}.";
            switch (errno)
            {
                case Interop.Libc.EACCES:
                case Interop.Libc.EPERM:
                    return new CloseWaitException(ErrorIds.TimeWaitPermissionDenied, ErrorCategory.PermissionDenied,
                        what + " Changing the kernel's TCP settings needs root: run elevated (sudo).", field.ToString()) { NativeError = errno };
                case Interop.Libc.EROFS:
                    return new CloseWaitException(ErrorIds.TimeWaitReadOnly, ErrorCategory.WriteError,
                        what + $" /proc/sys is mounted read-only, as inside a container: set the container's values from the host with -NetworkNamespace <container PID>, or through its runtime (docker run --sysctl {SysctlKey(field)}=..., Kubernetes securityContext.sysctls).",
                        field.ToString()) { NativeError = errno };
                case Interop.Libc.EINVAL:
                    return new CloseWaitException(ErrorIds.TimeWaitWriteFailed, ErrorCategory.InvalidArgument,
                        what + (field == TimeWaitField.PortRange ? " The kernel refuses a range that starts below net.ipv4.ip_unprivileged_port_start." : " The kernel refused the value."),
                        field.ToString()) { NativeError = errno };
                default:
                    return new CloseWaitException(ErrorIds.TimeWaitWriteFailed, ErrorCategory.WriteError, what, field.ToString()) { NativeError = errno };
            }
        }

        private string ReadText(string path)
        {
            int errno = LinuxProcSys.TryRead(path, out string text);
            if (errno != 0)
            {
                throw errno == Interop.Libc.ENOENT
                    ? new CloseWaitException(ErrorIds.TimeWaitSettingNotFound, ErrorCategory.ObjectNotFound,
                        $"{path} does not exist: this kernel (or this network namespace) does not have this IPv4 TCP setting.", path) { NativeError = errno }
                    : new CloseWaitException(ErrorIds.TimeWaitReadFailed, ErrorCategory.ReadError, $"Cannot read {path}: {LinuxErrno.Describe(errno)}.", path) { NativeError = errno };
            }

            return text.Trim();
        }

        private int ReadInt(TimeWaitField field)
        {
            string path = FilePath(field);
            string text = ReadText(path);
            if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value))
            {
                throw new CloseWaitException(ErrorIds.TimeWaitReadFailed, ErrorCategory.InvalidData, $"{path} holds '{text}', not a number.", path);
            }

            return value;
        }

        /// <summary>Reads every value on the calling thread (so in its namespace).</summary>
        internal TcpTimeWaitSetting ReadHere()
        {
            string rangePath = FilePath(TimeWaitField.PortRange);
            string rangeText = ReadText(rangePath);
            var parts = rangeText.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int start) ||
                !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int end))
            {
                throw new CloseWaitException(ErrorIds.TimeWaitReadFailed, ErrorCategory.InvalidData, $"{rangePath} holds '{rangeText}', not two ports.", rangePath);
            }

            string reservedPath = FilePath(TimeWaitField.ReservedPorts);
            string reserved = ReadText(reservedPath);
            var reservedList = TimeWaitRules.ParsePortList(reserved, out _) ?? new List<(int, int)>();
            int reuse = ReadInt(TimeWaitField.TimeWaitReuse);
            int buckets = ReadInt(TimeWaitField.MaxTimeWaitBuckets);
            int fin = ReadInt(TimeWaitField.FinWait2Timeout);
            int? tw = LinuxProcSys.TryRead(_netDirectory + "/sockstat", out string sockstat) == 0 ? ParseSockstatTimeWait(sockstat) : null;
            long? overflow = LinuxProcSys.TryRead(_netDirectory + "/netstat", out string netstat) == 0 ? ParseNetstatCounter(netstat, "TcpExt", "TCPTimeWaitOverflow") : null;
            int usable = end - start + 1 - TimeWaitRules.CountInRange(reservedList, start, end);

            var setting = new TcpTimeWaitSetting
            {
                Platform = Platform,
                PortRangeStart = start,
                PortRangeEnd = end,
                ReservedPorts = reserved,
                RangeSize = usable,
                TimeWaitReuse = reuse,
                TimeWaitReuseMeaning = TimeWaitRules.ReuseMeaning(reuse),
                MaxTimeWaitBuckets = buckets,
                TimeWaitCount = tw,
                TimeWaitOverflow = overflow,
                FinWait2Timeout = TimeSpan.FromSeconds(fin),
                TimeWaitDuration = TimeWaitRules.LinuxTimeWaitLength,
            };
            setting.Details = new[]
            {
                Item("PortRange", Invariant($"{start}-{end}"), Invariant($"{TimeWaitRules.LinuxDefaultStart}-{TimeWaitRules.LinuxDefaultEnd}"),
                    start == TimeWaitRules.LinuxDefaultStart && end == TimeWaitRules.LinuxDefaultEnd,
                    Invariant($"The local ports connect() picks from when the application does not bind one. Towards one destination (address and port) at most this many connections can be open or in TIME_WAIT at once; {usable} usable here."), rangePath),
                Item("ReservedPorts", reserved, "(none)", reserved.Length == 0,
                    "Ports connect() never picks, so a service can always bind them; they take from the range.", reservedPath),
                Item("TimeWaitReuse", reuse.ToString(CultureInfo.InvariantCulture), "2", reuse == TimeWaitRules.LinuxDefaultReuse, TimeWaitRules.ReuseMeaning(reuse), FilePath(TimeWaitField.TimeWaitReuse)),
                Item("MaxTimeWaitBuckets", buckets.ToString(CultureInfo.InvariantCulture), "half the size of the established-connection hash table (depends on memory)", null,
                    Invariant($"TIME_WAIT sockets kept at most; past it new ones are destroyed at once and counted in TCPTimeWaitOverflow ({(overflow?.ToString(CultureInfo.InvariantCulture) ?? "unknown")} so far; {(tw?.ToString(CultureInfo.InvariantCulture) ?? "unknown")} in TIME_WAIT now). A guard against denial of service: never lower it."),
                    FilePath(TimeWaitField.MaxTimeWaitBuckets)),
                Item("FinWait2Timeout", Invariant($"{fin} s"), "60 s", fin == (int)TimeWaitRules.LinuxFinTimeoutDefault.TotalSeconds,
                    "How long an orphaned connection (closed by its application) waits in FIN_WAIT_2 for the peer's FIN. It bounds FIN_WAIT_2, not TIME_WAIT.", FilePath(TimeWaitField.FinWait2Timeout)),
                Item("TimeWaitDuration", "60 s", "60 s", true,
                    "How long a socket stays in TIME_WAIT: TCP_TIMEWAIT_LEN, fixed when the kernel is built; no sysctl changes it.", "kernel constant TCP_TIMEWAIT_LEN"),
            };
            return setting;
        }

        private static TcpTimeWaitSettingItem Item(string name, string value, string defaultValue, bool? isDefault, string meaning, string source) =>
            new TcpTimeWaitSettingItem { Setting = name, Value = value, Default = defaultValue, IsDefault = isDefault, Meaning = meaning, Source = source };

        /// <summary>The "tw" count of the "TCP:" line of /proc/net/sockstat; null when absent.</summary>
        internal static int? ParseSockstatTimeWait(string text)
        {
            foreach (string line in text.Split('\n'))
            {
                if (!line.StartsWith("TCP:", StringComparison.Ordinal))
                {
                    continue;
                }

                var f = line.Substring(4).Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
                for (int i = 0; i + 1 < f.Length; i += 2)
                {
                    if (f[i] == "tw" && int.TryParse(f[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out int tw))
                    {
                        return tw;
                    }
                }
            }

            return null;
        }

        /// <summary>A counter of /proc/net/netstat (or snmp): a header line "Prefix: names..." followed by "Prefix: values..."; null when absent.</summary>
        internal static long? ParseNetstatCounter(string text, string prefix, string name)
        {
            var lines = text.Split('\n');
            for (int i = 0; i + 1 < lines.Length; i++)
            {
                if (!lines[i].StartsWith(prefix + ":", StringComparison.Ordinal) || !lines[i + 1].StartsWith(prefix + ":", StringComparison.Ordinal))
                {
                    continue;
                }

                var names = lines[i].Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
                var values = lines[i + 1].Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
                int at = Array.IndexOf(names, name);
                if (at > 0 && at < values.Length && long.TryParse(values[at], NumberStyles.None, CultureInfo.InvariantCulture, out long v))
                {
                    return v;
                }

                return null;
            }

            return null;
        }

        private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
    }
}
