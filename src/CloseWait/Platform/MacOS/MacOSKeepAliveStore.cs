using System;
using System.Management.Automation;

namespace CloseWait.Platform.MacOS
{
    /// <summary>
    /// sysctl net.inet.tcp.keepidle and keepintvl (int, milliseconds) and keepcnt (int). They apply
    /// at once and are lost at reboot; -Persist is not offered (macOS reads /etc/sysctl.conf at boot,
    /// which the error tells how to edit).
    /// </summary>
    internal sealed class MacOSKeepAliveStore : IKeepAliveStore
    {
        private static readonly string[] Names = { "net.inet.tcp.keepidle", "net.inet.tcp.keepintvl", "net.inet.tcp.keepcnt" };

        public KeepAliveRules Rules => KeepAliveRules.MacOS;

        public string? PersistTarget => null;

        public bool AppliesAtRestart => false;

        internal static string SysctlName(KeepAliveField field) => Names[(int)field];

        public TcpKeepAliveSetting Read(string? networkNamespace)
        {
            PlatformServices.RefuseNetworkNamespace(networkNamespace);
            return TcpKeepAliveSetting.FromRaw(Rules, Get(KeepAliveField.Time), Get(KeepAliveField.Interval), Get(KeepAliveField.Probes),
                "sysctl " + SysctlName(KeepAliveField.Time), "sysctl " + SysctlName(KeepAliveField.Interval), "sysctl " + SysctlName(KeepAliveField.Probes));
        }

        public TcpKeepAliveSetting? Write(KeepAliveChange change, string? networkNamespace, TcpKeepAliveSetting? planned = null, bool readBack = false)
        {
            WriteChecked(change, networkNamespace, planned);
            return readBack ? Read(networkNamespace) : null;
        }

        private void WriteChecked(KeepAliveChange change, string? networkNamespace, TcpKeepAliveSetting? planned)
        {
            PlatformServices.RefuseNetworkNamespace(networkNamespace);
            KeepAliveTransaction.Apply(Rules, KeepAliveTransaction.PlanChecked(Rules, Read(null), change, planned), Set);
        }

        public void Persist(KeepAliveChange values) => throw PersistNotSupported(values);

        /// <summary>The error -Persist gives on macOS, with the lines to add to /etc/sysctl.conf.</summary>
        internal static CloseWaitException PersistNotSupported(KeepAliveChange values)
        {
            var rules = KeepAliveRules.MacOS;
            return new CloseWaitException(ErrorIds.KeepAlivePersistNotSupported, ErrorCategory.NotImplemented,
                "-Persist is not supported on macOS. To keep these values after a reboot, add these lines to /etc/sysctl.conf: " +
                $"{SysctlName(KeepAliveField.Time)}={rules.ToUnits(values.Time!.Value)} {SysctlName(KeepAliveField.Interval)}={rules.ToUnits(values.Interval!.Value)} {SysctlName(KeepAliveField.Probes)}={values.Probes}. Nothing was changed.");
        }

        /// <summary>A validated raw value (milliseconds or the count) as the int the sysctl takes.</summary>
        internal static int ToSysctl(long raw) => checked((int)raw);

        private static unsafe long Get(KeepAliveField field)
        {
            int value = 0;
            IntPtr size = (IntPtr)sizeof(int);
            if (Interop.LibSystem.sysctlbyname(SysctlName(field), &value, &size, null, IntPtr.Zero) != 0)
            {
                int errno = System.Runtime.InteropServices.Marshal.GetLastWin32Error();
                throw new CloseWaitException(ErrorIds.KeepAliveReadFailed, ErrorCategory.ReadError,
                    $"Cannot read sysctl {SysctlName(field)}: {Describe(errno)}.", SysctlName(field)) { NativeError = errno };
            }

            return value;
        }

        private unsafe void Set(KeepAliveField field, long raw)
        {
            int value = ToSysctl(raw);
            if (Interop.LibSystem.sysctlbyname(SysctlName(field), null, null, &value, (IntPtr)sizeof(int)) == 0)
            {
                return;
            }

            int errno = System.Runtime.InteropServices.Marshal.GetLastWin32Error();
            string what = $"Cannot set {field} (sysctl {SysctlName(field)}) to {Rules.Describe(field, raw)}: {Describe(errno)}.";
            throw errno == Interop.LibSystem.EPERM || errno == Interop.LibSystem.EACCES
                ? new CloseWaitException(ErrorIds.KeepAlivePermissionDenied, ErrorCategory.PermissionDenied,
                    what + " Changing the kernel's TCP keepalive needs root: run elevated (sudo).", field.ToString()) { NativeError = errno }
                : new CloseWaitException(ErrorIds.KeepAliveWriteFailed, ErrorCategory.WriteError, what, field.ToString()) { NativeError = errno };
        }

        private static string Describe(int errno) => $"{Interop.LibSystem.StrError(errno)} (errno {errno})";
    }
}
