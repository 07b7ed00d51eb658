using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;

namespace CloseWait.Platform.Linux
{
    /// <summary>
    /// /proc/sys/net/ipv4/tcp_keepalive_{time,intvl,probes}, per network namespace: the files are
    /// opened on the calling thread, and /proc/sys/net shows the namespace of the thread that opens
    /// it, so running on a thread that joined another namespace reads and writes that namespace's.
    /// Persistence is a drop-in under /etc/sysctl.d.
    /// </summary>
    internal sealed class LinuxKeepAliveStore : IKeepAliveStore
    {
        internal const string ProcDirectory = "/proc/sys/net/ipv4";

        /// <summary>
        /// Sorts late, so it overrides most drop-ins; 99-sysctl.conf (Debian's link to /etc/sysctl.conf)
        /// and /etc/sysctl.conf still come after it, and Set-TcpKeepAliveSetting warns when they override it.
        /// </summary>
        internal const string DropInName = "99-closewait-tcp-keepalive.conf";

        private static readonly string[] FileNames = { "tcp_keepalive_time", "tcp_keepalive_intvl", "tcp_keepalive_probes" };

        private readonly string _procDirectory;
        private readonly string _configRoot;

        internal LinuxKeepAliveStore()
            : this(ProcDirectory, "/")
        {
        }

        /// <summary>A store over other files: tests use a scratch configuration tree, never the host's /etc.</summary>
        internal LinuxKeepAliveStore(string procDirectory, string configRoot)
        {
            _procDirectory = procDirectory;
            _configRoot = configRoot;
        }

        /// <summary>Test seam: an errno to fail the write of a value with (0 writes it), as a failing kernel write would.</summary>
        internal Func<KeepAliveField, int>? InjectWriteFailure { get; set; }

        public KeepAliveRules Rules => KeepAliveRules.Linux;

        public string? PersistTarget => Path.Combine(LinuxSysctlConfig.Under(_configRoot, "/etc/sysctl.d"), DropInName);

        public bool AppliesAtRestart => false;

        internal static string SysctlKey(KeepAliveField field) => "net.ipv4." + FileNames[(int)field];

        public TcpKeepAliveSetting Read(string? networkNamespace)
        {
            if (networkNamespace != null)
            {
                // A namespace's values do not come from the host's sysctl files at boot: no after-reboot values.
                var inside = LinuxNetworkNamespace.Run(networkNamespace, ReadHere);
                inside.NetworkNamespace = networkNamespace;
                return inside;
            }

            var setting = ReadHere();
            AddAfterReboot(setting);
            return setting;
        }

        public TcpKeepAliveSetting? Write(KeepAliveChange change, string? networkNamespace, TcpKeepAliveSetting? planned = null, bool readBack = false)
        {
            if (networkNamespace == null)
            {
                WriteHere(change, planned);
                return readBack ? Read(null) : null;
            }

            // The values after the write are read in the same entry.
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

        /// <summary>
        /// Writes our three keys into the drop-in, atomically, keeping any other line a user put
        /// there (other keys, comments); the caller has validated every value.
        /// </summary>
        public void Persist(KeepAliveChange values)
        {
            TimeSpan time = values.Time!.Value, interval = values.Interval!.Value;
            int probes = values.Probes!.Value;
            var lines = KeepAliveChange.Fields
                .Select(f => new KeyValuePair<string, string>(SysctlKey(f), Rules.Raw(f, time, interval, probes).ToString(CultureInfo.InvariantCulture)))
                .ToList();
            LinuxSysctlConfig.WriteDropIn(PersistTarget!, lines, LinuxSysctlConfig.KeepAliveHeader(KeepAliveRules.DetectionTime(time, interval, probes), DateTime.UtcNow),
                "KeepAlive", "keepalive");
        }

        private TcpKeepAliveSetting ReadHere()
        {
            return TcpKeepAliveSetting.FromRaw(Rules, ReadValue(KeepAliveField.Time), ReadValue(KeepAliveField.Interval), ReadValue(KeepAliveField.Probes),
                FilePath(KeepAliveField.Time), FilePath(KeepAliveField.Interval), FilePath(KeepAliveField.Probes));
        }

        private void WriteHere(KeepAliveChange change, TcpKeepAliveSetting? planned)
        {
            // Opening every file for writing first makes "not root" and "read-only /proc/sys" fail before anything is written.
            KeepAliveTransaction.Apply(Rules, KeepAliveTransaction.PlanChecked(Rules, ReadHere(), change, planned), WriteValue, CheckWritable);
        }

        /// <summary>
        /// Whether this kernel takes the configured value at boot, and as what: time and intvl go
        /// through proc_dointvec_jiffies (either sign, at most INT_MAX/HZ), probes through
        /// proc_dou8vec_minmax (0 to 255).
        /// </summary>
        internal static bool KernelTakes(KeepAliveField field, string? configValue, out long value) =>
            field == KeepAliveField.Probes
                ? LinuxSysctlConfig.TryKernelInt(configValue, LinuxSysctlConfig.KernelIntKind.Bounded, 0, byte.MaxValue, null, out value)
                : LinuxSysctlConfig.TryKernelInt(configValue, LinuxSysctlConfig.KernelIntKind.Jiffies, 0, 0, LinuxSysctlConfig.KernelHz, out value);

        private void CheckWritable(KeepAliveField field, long value)
        {
            int errno = LinuxProcSys.CheckWritable(FilePath(field));
            if (errno != 0)
            {
                throw WriteFailure(field, value, errno);
            }
        }

        private string FilePath(KeepAliveField field) => _procDirectory + "/" + FileNames[(int)field];

        private long ReadValue(KeepAliveField field)
        {
            string path = FilePath(field);
            int errno = LinuxProcSys.TryRead(path, out string text);
            if (errno != 0)
            {
                throw errno == Interop.Libc.ENOENT
                    ? new CloseWaitException(ErrorIds.KeepAliveSettingNotFound, ErrorCategory.ObjectNotFound,
                        $"{path} does not exist: this kernel (or this network namespace) has no IPv4 TCP keepalive settings.", path) { NativeError = errno }
                    : ReadFailure(path, errno);
            }

            if (!LinuxSysctlConfig.TryParseValue(text, out long value))
            {
                throw new CloseWaitException(ErrorIds.KeepAliveReadFailed, ErrorCategory.InvalidData, $"{path} holds '{text.Trim()}', not a number.", path);
            }

            return value;
        }

        private static CloseWaitException ReadFailure(string path, int errno) =>
            new CloseWaitException(ErrorIds.KeepAliveReadFailed, ErrorCategory.ReadError, $"Cannot read {path}: {LinuxErrno.Describe(errno)}.", path) { NativeError = errno };

        private void WriteValue(KeepAliveField field, long value)
        {
            int errno = InjectWriteFailure?.Invoke(field) ?? 0;
            if (errno == 0)
            {
                errno = LinuxProcSys.TryWrite(FilePath(field), value.ToString(CultureInfo.InvariantCulture));
            }

            if (errno != 0)
            {
                throw WriteFailure(field, value, errno);
            }
        }

        private CloseWaitException WriteFailure(KeepAliveField field, long value, int errno)
        {
            string what = $"Cannot set {field} ({SysctlKey(field)}) to {Rules.Describe(field, value)}: {LinuxErrno.Describe(errno)}.";
            switch (errno)
            {
                case Interop.Libc.EACCES:
                case Interop.Libc.EPERM:
                    return new CloseWaitException(ErrorIds.KeepAlivePermissionDenied, ErrorCategory.PermissionDenied,
                        what + " Changing the kernel's TCP keepalive needs root. " + LinuxErrno.PermissionAdvice("CAP_NET_ADMIN over this network namespace"), field.ToString()) { NativeError = errno };
                case Interop.Libc.EROFS:
                    return new CloseWaitException(ErrorIds.KeepAliveReadOnly, ErrorCategory.WriteError,
                        what + " /proc/sys is mounted read-only, as inside a container: set the container's values from the host with -NetworkNamespace <container PID>, or through its runtime (docker run --sysctl net.ipv4.tcp_keepalive_time=300, Kubernetes securityContext.sysctls).",
                        field.ToString()) { NativeError = errno };
                default:
                    return new CloseWaitException(ErrorIds.KeepAliveWriteFailed, ErrorCategory.WriteError, what, field.ToString()) { NativeError = errno };
            }
        }

        /// <summary>Fills in the values a reboot would bring where they differ from the running ones.</summary>
        private void AddAfterReboot(TcpKeepAliveSetting setting)
        {
            var assignments = LinuxSysctlConfig.Load(_configRoot);
            foreach (var field in KeepAliveChange.Fields)
            {
                string key = SysctlKey(field);
                var assignment = LinuxSysctlConfig.Resolve(assignments, key);
                long boot = Rules.DefaultRaw(field);
                string source = "kernel default";
                if (assignment != null)
                {
                    if (KernelTakes(field, assignment.Value, out long value))
                    {
                        boot = value;
                        source = assignment.Where;
                    }
                    else
                    {
                        source = $"kernel default ({assignment.Where} sets '{assignment.Value}', which the kernel refuses)";
                    }
                }

                if (boot == setting.Raw(Rules, field))
                {
                    continue;
                }

                switch (field)
                {
                    case KeepAliveField.Time:
                        setting.TimeAfterReboot = Rules.FromUnits(boot);
                        setting.TimeAfterRebootSource = source;
                        break;
                    case KeepAliveField.Interval:
                        setting.IntervalAfterReboot = Rules.FromUnits(boot);
                        setting.IntervalAfterRebootSource = source;
                        break;
                    default:
                        setting.ProbesAfterReboot = (int)boot;
                        setting.ProbesAfterRebootSource = source;
                        break;
                }
            }
        }
    }
}
