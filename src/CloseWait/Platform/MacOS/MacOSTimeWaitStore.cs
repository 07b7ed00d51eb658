using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;

namespace CloseWait.Platform.MacOS
{
    /// <summary>
    /// sysctl net.inet.tcp.msl (int milliseconds; TIME_WAIT lasts 2 × MSL) and
    /// net.inet.ip.portrange.first/last (the ephemeral range connect() picks from). They apply at
    /// once and are lost at reboot; -Persist is refused with the /etc/sysctl.conf lines to add.
    /// </summary>
    internal sealed class MacOSTimeWaitStore : ITimeWaitStore
    {
        internal const string Msl = "net.inet.tcp.msl";
        internal const string First = "net.inet.ip.portrange.first";
        internal const string Last = "net.inet.ip.portrange.last";

        public string Platform => PlatformServices.MacOS;

        /// <summary>The settings macOS has.</summary>
        internal static readonly IReadOnlyCollection<TimeWaitField> SettableFields = new[] { TimeWaitField.PortRange, TimeWaitField.MaximumSegmentLifetime };

        public IReadOnlyCollection<TimeWaitField> Fields => SettableFields;

        public string? PersistTarget => null;

        public bool AppliesAtRestart => false;

        public TcpTimeWaitSetting Read(string? networkNamespace)
        {
            PlatformServices.RefuseNetworkNamespace(networkNamespace);
            return FromSysctl(Get(Msl), Get(First), Get(Last));
        }

        /// <summary>The setting three sysctl reads give. Pure, so tested everywhere.</summary>
        internal static TcpTimeWaitSetting FromSysctl(int mslMs, int first, int last)
        {
            var msl = TimeSpan.FromMilliseconds(mslMs);
            return new TcpTimeWaitSetting
            {
                Platform = PlatformServices.MacOS,
                PortRangeStart = first,
                PortRangeEnd = last,
                RangeSize = Math.Max(0, last - first + 1),
                MaximumSegmentLifetime = msl,
                TimeWaitDuration = TimeSpan.FromTicks(msl.Ticks * 2),
                Details = new[]
                {
                    new TcpTimeWaitSettingItem
                    {
                        Setting = "MaximumSegmentLifetime", Value = mslMs + " ms", Default = "15000 ms", IsDefault = mslMs == (int)TimeWaitRules.MacOSMslDefault.TotalMilliseconds,
                        Source = "sysctl " + Msl, Meaning = "The maximum segment lifetime; a closed connection stays in TIME_WAIT for twice this.",
                    },
                    new TcpTimeWaitSettingItem
                    {
                        Setting = "PortRange", Value = first + "-" + last, Default = "49152-65535", IsDefault = first == TimeWaitRules.MacOSDefaultStart && last == TimeWaitRules.MacOSDefaultEnd,
                        Source = "sysctl " + First + ", " + Last, Meaning = "The local ports connect() picks from when the application does not bind one.",
                    },
                },
            };
        }

        public ICollection<int> ListeningPorts(string? networkNamespace) =>
            new HashSet<int>(PlatformServices.SocketTable.Read(new SocketQuery { States = new[] { TcpState.Listen }, IncludeDetails = false }, default).Select(c => c.LocalPort));

        public TimeWaitReading ReadForPlan(TimeWaitChange change, string? networkNamespace)
        {
            PlatformServices.RefuseNetworkNamespace(networkNamespace);
            return TimeWaitReading.Take(this, PlatformServices.SocketTable, change, null, null);
        }

        public TcpTimeWaitSetting? Write(TimeWaitChange change, string? networkNamespace, TcpTimeWaitSetting? planned = null, bool readBack = false)
        {
            WriteChecked(change, networkNamespace, planned);
            return readBack ? Read(null) : null;
        }

        private void WriteChecked(TimeWaitChange change, string? networkNamespace, TcpTimeWaitSetting? planned)
        {
            PlatformServices.RefuseNetworkNamespace(networkNamespace);
            var current = Read(null);
            TimeWaitTransaction.CheckUnmoved(Fields, planned, current);
            var steps = new List<SettingStep<string, int>>();
            if (change.MaximumSegmentLifetime is TimeSpan msl)
            {
                steps.Add(new SettingStep<string, int>(Msl, (int)current.MaximumSegmentLifetime!.Value.TotalMilliseconds, (int)msl.TotalMilliseconds));
            }

            if (change.PortRange is (int start, int end))
            {
                steps.Add(new SettingStep<string, int>(First, current.PortRangeStart!.Value, start));
                steps.Add(new SettingStep<string, int>(Last, current.PortRangeEnd!.Value, end));
            }

            SettingTransaction.Apply(steps.Where(s => s.Old != s.New).ToList(), Set, null, (name, v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture), ErrorIds.TimeWaitRollbackFailed);
        }

        public void Persist(TimeWaitChange values) => throw PersistNotSupported(values);

        internal static CloseWaitException PersistNotSupported(TimeWaitChange values)
        {
            var lines = new List<string>();
            if (values.MaximumSegmentLifetime is TimeSpan msl)
            {
                lines.Add($"{Msl}={(int)msl.TotalMilliseconds}");
            }

            if (values.PortRange is (int start, int end))
            {
                lines.Add($"{First}={start}");
                lines.Add($"{Last}={end}");
            }

            return new CloseWaitException(ErrorIds.TimeWaitPersistNotSupported, ErrorCategory.NotImplemented,
                "-Persist is not supported on macOS. To keep these values after a reboot, add these lines to /etc/sysctl.conf: " + string.Join(" ", lines) + ". Nothing was changed.");
        }

        private static unsafe int Get(string name)
        {
            int value = 0;
            IntPtr size = (IntPtr)sizeof(int);
            if (Interop.LibSystem.sysctlbyname(name, &value, &size, null, IntPtr.Zero) != 0)
            {
                int errno = System.Runtime.InteropServices.Marshal.GetLastWin32Error();
                throw new CloseWaitException(ErrorIds.TimeWaitReadFailed, ErrorCategory.ReadError,
                    $"Cannot read sysctl {name}: {Interop.LibSystem.StrError(errno)} (errno {errno}).", name) { NativeError = errno };
            }

            return value;
        }

        private static unsafe void Set(string name, int value)
        {
            if (Interop.LibSystem.sysctlbyname(name, null, null, &value, (IntPtr)sizeof(int)) == 0)
            {
                return;
            }

            int errno = System.Runtime.InteropServices.Marshal.GetLastWin32Error();
            string what = $"Cannot set sysctl {name} to {value}: {Interop.LibSystem.StrError(errno)} (errno {errno}).";
            throw errno == Interop.LibSystem.EPERM || errno == Interop.LibSystem.EACCES
                ? new CloseWaitException(ErrorIds.TimeWaitPermissionDenied, ErrorCategory.PermissionDenied, what + " Changing the kernel's TCP settings needs root: run elevated (sudo).", name) { NativeError = errno }
                : new CloseWaitException(ErrorIds.TimeWaitWriteFailed, ErrorCategory.WriteError, what, name) { NativeError = errno };
        }
    }
}
