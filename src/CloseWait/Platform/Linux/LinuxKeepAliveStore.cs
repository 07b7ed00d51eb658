using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Text;

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

        private const int FileMode = 0x1A4; // 0644

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

        public void Write(KeepAliveChange change, string? networkNamespace)
        {
            if (networkNamespace == null)
            {
                WriteHere(change);
            }
            else
            {
                LinuxNetworkNamespace.Run(networkNamespace, () =>
                {
                    WriteHere(change);
                    return true;
                });
            }
        }

        /// <summary>Writes the drop-in atomically: a temporary file in the same directory, flushed to disk, renamed over the old one.</summary>
        public void Persist(KeepAliveChange values)
        {
            string target = PersistTarget!;
            string dir = Path.GetDirectoryName(target)!;
            TimeSpan time = values.Time!.Value, interval = values.Interval!.Value;
            int probes = values.Probes!.Value;
            var lines = KeepAliveChange.Fields.Select(f => new KeyValuePair<string, long>(SysctlKey(f), Rules.Raw(f, time, interval, probes)));
            byte[] text = Encoding.UTF8.GetBytes(LinuxSysctlConfig.RenderDropIn(lines, KeepAliveRules.DetectionTime(time, interval, probes), DateTime.UtcNow));

            try
            {
                Directory.CreateDirectory(dir);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw new CloseWaitException(e is UnauthorizedAccessException ? ErrorIds.KeepAlivePermissionDenied : ErrorIds.KeepAlivePersistFailed,
                    e is UnauthorizedAccessException ? ErrorCategory.PermissionDenied : ErrorCategory.WriteError,
                    e is UnauthorizedAccessException
                        ? $"Cannot create {dir}: permission denied. Writing the persistent keepalive needs root. " + LinuxErrno.PermissionAdvice("write access to /etc/sysctl.d")
                        : $"Cannot create {dir}: an I/O error ({e.GetType().Name}). Check that the path is a directory on a writable file system.", target, e);
            }

            string temp = Path.Combine(dir, "." + DropInName + "." + Guid.NewGuid().ToString("N") + ".tmp");
            int fd = Interop.Libc.open(temp, Interop.Libc.O_WRONLY | Interop.Libc.O_CREAT | Interop.Libc.O_EXCL | Interop.Libc.O_CLOEXEC, FileMode);
            if (fd < 0)
            {
                throw PersistFailure(target, LinuxErrno.Last());
            }

            int errno = 0;
            try
            {
                if (!WriteAll(fd, text) || Interop.Libc.fchmod(fd, FileMode) != 0 || Interop.Libc.fsync(fd) != 0)
                {
                    errno = LinuxErrno.Last();
                }
            }
            finally
            {
                if (Interop.Libc.close(fd) != 0 && errno == 0)
                {
                    errno = LinuxErrno.Last();
                }
            }

            if (errno == 0 && Interop.Libc.rename(temp, target) != 0)
            {
                errno = LinuxErrno.Last();
            }

            if (errno != 0)
            {
                Interop.Libc.unlink(temp);
                throw PersistFailure(target, errno);
            }

            SyncDirectory(dir);
        }

        private TcpKeepAliveSetting ReadHere()
        {
            return TcpKeepAliveSetting.FromRaw(Rules, ReadValue(KeepAliveField.Time), ReadValue(KeepAliveField.Interval), ReadValue(KeepAliveField.Probes),
                FilePath(KeepAliveField.Time), FilePath(KeepAliveField.Interval), FilePath(KeepAliveField.Probes));
        }

        private void WriteHere(KeepAliveChange change)
        {
            // Opening every file for writing first makes "not root" and "read-only /proc/sys" fail before anything is written.
            KeepAliveTransaction.Apply(Rules, KeepAliveTransaction.Plan(Rules, ReadHere(), change), WriteValue, CheckWritable);
        }

        private void CheckWritable(KeepAliveField field, long value)
        {
            int fd = Interop.Libc.open(FilePath(field), Interop.Libc.O_WRONLY | Interop.Libc.O_CLOEXEC);
            if (fd < 0)
            {
                throw WriteFailure(field, value, LinuxErrno.Last());
            }

            Interop.Libc.close(fd);
        }

        private string FilePath(KeepAliveField field) => _procDirectory + "/" + FileNames[(int)field];

        private unsafe long ReadValue(KeepAliveField field)
        {
            string path = FilePath(field);
            int fd = Interop.Libc.open(path, Interop.Libc.O_RDONLY | Interop.Libc.O_CLOEXEC);
            if (fd < 0)
            {
                int errno = LinuxErrno.Last();
                throw errno == Interop.Libc.ENOENT
                    ? new CloseWaitException(ErrorIds.KeepAliveSettingNotFound, ErrorCategory.ObjectNotFound,
                        $"{path} does not exist: this kernel (or this network namespace) has no IPv4 TCP keepalive settings.", path) { NativeError = errno }
                    : ReadFailure(path, errno);
            }

            byte* buffer = stackalloc byte[64];
            long n;
            int readErrno = 0;
            try
            {
                n = (long)Interop.Libc.read(fd, buffer, (IntPtr)64);
                if (n < 0)
                {
                    readErrno = LinuxErrno.Last(); // before close(), which resets the saved errno
                }
            }
            finally
            {
                Interop.Libc.close(fd);
            }

            if (n < 0)
            {
                throw ReadFailure(path, readErrno);
            }

            string text = Encoding.ASCII.GetString(buffer, (int)n);
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
            int injected = InjectWriteFailure?.Invoke(field) ?? 0;
            if (injected != 0)
            {
                throw WriteFailure(field, value, injected);
            }

            // O_TRUNC as a shell's `echo 300 >` does: /proc/sys ignores it, a plain file (a test's scratch tree) needs it.
            int fd = Interop.Libc.open(FilePath(field), Interop.Libc.O_WRONLY | Interop.Libc.O_TRUNC | Interop.Libc.O_CLOEXEC);
            if (fd < 0)
            {
                throw WriteFailure(field, value, LinuxErrno.Last());
            }

            int errno = 0;
            try
            {
                // The kernel parses the whole value from one write.
                if (!WriteAll(fd, Encoding.ASCII.GetBytes(value.ToString(CultureInfo.InvariantCulture) + "\n")))
                {
                    errno = LinuxErrno.Last();
                }
            }
            finally
            {
                if (Interop.Libc.close(fd) != 0 && errno == 0)
                {
                    errno = LinuxErrno.Last();
                }
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

        private static CloseWaitException PersistFailure(string target, int errno)
        {
            string what = $"Cannot write {target}: {LinuxErrno.Describe(errno)}.";
            switch (errno)
            {
                case Interop.Libc.EACCES:
                case Interop.Libc.EPERM:
                    return new CloseWaitException(ErrorIds.KeepAlivePermissionDenied, ErrorCategory.PermissionDenied,
                        what + " Writing the persistent keepalive needs root. " + LinuxErrno.PermissionAdvice("write access to /etc/sysctl.d"), target) { NativeError = errno };
                case Interop.Libc.EROFS:
                    return new CloseWaitException(ErrorIds.KeepAliveReadOnly, ErrorCategory.WriteError,
                        what + " The file system is read-only: persist the values where this system's configuration is built (an image, a configuration manager).", target) { NativeError = errno };
                default:
                    return new CloseWaitException(ErrorIds.KeepAlivePersistFailed, ErrorCategory.WriteError, what, target) { NativeError = errno };
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
                    if (LinuxSysctlConfig.TryParseValue(assignment.Value, out long value) && value >= 0 && value <= int.MaxValue)
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

        private static unsafe bool WriteAll(int fd, byte[] bytes)
        {
            fixed (byte* p = bytes)
            {
                int offset = 0;
                while (offset < bytes.Length)
                {
                    long n = (long)Interop.Libc.write(fd, p + offset, (IntPtr)(bytes.Length - offset));
                    if (n < 0)
                    {
                        if (LinuxErrno.Last() == Interop.Libc.EINTR)
                        {
                            continue;
                        }

                        return false;
                    }

                    offset += (int)n;
                }
            }

            return true;
        }

        /// <summary>Makes the rename itself durable; a failure here leaves a correct file, so it is not reported.</summary>
        private static void SyncDirectory(string dir)
        {
            int fd = Interop.Libc.open(dir, Interop.Libc.O_RDONLY | Interop.Libc.O_DIRECTORY | Interop.Libc.O_CLOEXEC);
            if (fd >= 0)
            {
                Interop.Libc.fsync(fd);
                Interop.Libc.close(fd);
            }
        }
    }
}
