using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Management.Automation;

namespace CloseWait.Platform.Windows
{
    /// <summary>
    /// TcpTimedWaitDelay under HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters (REG_DWORD
    /// seconds, 30 to 300, absent meaning 120): how long a socket stays in TIME_WAIT, read by the
    /// TCP/IP stack at boot. The dynamic port range lives in the TCP/IP stack's own store, which
    /// only netsh (and Set-NetTCPSetting) manage: it is not read here ($null) and changing it is
    /// refused with the netsh command to run.
    /// </summary>
    internal sealed class WindowsTimeWaitStore : ITimeWaitStore
    {
        internal const string ValueName = "TcpTimedWaitDelay";

        private readonly IntPtr _hive;
        private readonly string _subKey;
        private readonly string _keyPath;

        internal WindowsTimeWaitStore()
            : this(WindowsKeepAliveStore.DefaultKeyPath)
        {
        }

        /// <summary>A store over another key (a test's scratch key under HKCU).</summary>
        internal WindowsTimeWaitStore(string keyPath)
        {
            (_hive, _subKey, _keyPath) = WindowsKeepAliveStore.ParseKeyPath(keyPath);
        }

        public string Platform => PlatformServices.Windows;

        /// <summary>The settings Windows has.</summary>
        internal static readonly IReadOnlyCollection<TimeWaitField> SettableFields = new[] { TimeWaitField.TimeWaitDuration };

        public IReadOnlyCollection<TimeWaitField> Fields => SettableFields;

        public string? PersistTarget => _keyPath;

        public bool AppliesAtRestart => true;

        public TcpTimeWaitSetting Read(string? networkNamespace)
        {
            PlatformServices.RefuseNetworkNamespace(networkNamespace);
            IntPtr key = Open(Interop.Advapi32.KEY_QUERY_VALUE, writing: false);
            try
            {
                return FromRegistry(Query(key), _keyPath);
            }
            finally
            {
                Interop.Advapi32.RegCloseKey(key);
            }
        }

        /// <summary>The setting a registry read gives (null: the value is absent). Pure, so tested everywhere.</summary>
        internal static TcpTimeWaitSetting FromRegistry((int Type, uint Data)? read, string keyPath)
        {
            string where = keyPath + @"\" + ValueName;
            long seconds = (long)TimeWaitRules.WindowsTimedWaitDelayDefault.TotalSeconds;
            string source = where + " (not set: Windows default)";
            bool isDefault = true;
            if (read is (int type, uint data))
            {
                if (type == Interop.Advapi32.REG_DWORD)
                {
                    seconds = data;
                    source = data >= TimeWaitRules.WindowsTimedWaitDelayMin && data <= TimeWaitRules.WindowsTimedWaitDelayMax
                        ? where
                        : where + " (outside the documented 30-300 s)";
                    isDefault = false;
                }
                else
                {
                    source = where + " (not a REG_DWORD, ignored: Windows default)";
                }
            }

            var delay = TimeSpan.FromSeconds(seconds);
            return new TcpTimeWaitSetting
            {
                Platform = PlatformServices.Windows,
                TimeWaitDuration = delay,
                Details = new[]
                {
                    new TcpTimeWaitSettingItem
                    {
                        Setting = "TimeWaitDuration", Value = seconds + " s", Default = "120 s", IsDefault = isDefault, Source = source,
                        Meaning = "TcpTimedWaitDelay: how long a closed connection stays in TIME_WAIT and keeps its port (30 to 300 s); read at boot.",
                    },
                    new TcpTimeWaitSettingItem
                    {
                        Setting = "PortRange", Value = null, Default = "49152-65535", IsDefault = null, Source = "netsh int ipv4 show dynamicport tcp",
                        Meaning = "The dynamic (ephemeral) port range; not read by CloseWait: see it with `netsh int ipv4 show dynamicport tcp`, change it with `netsh int ipv4 set dynamicport tcp start=49152 num=16384`.",
                    },
                },
            };
        }

        public ICollection<int> ListeningPorts(string? networkNamespace) =>
            new HashSet<int>(System.Linq.Enumerable.Select(
                PlatformServices.SocketTable.Read(new SocketQuery { States = new[] { TcpState.Listen }, IncludeDetails = false }, default), c => c.LocalPort));

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
            if (change.TimeWaitDuration is not TimeSpan delay)
            {
                return;
            }

            var steps = new List<SettingStep<TimeWaitField, uint>>();
            uint now = (uint)current.TimeWaitDuration!.Value.TotalSeconds, wanted = (uint)delay.TotalSeconds;
            if (now != wanted)
            {
                steps.Add(new SettingStep<TimeWaitField, uint>(TimeWaitField.TimeWaitDuration, now, wanted));
            }

            if (steps.Count == 0)
            {
                return;
            }

            IntPtr key = Open(Interop.Advapi32.KEY_QUERY_VALUE | Interop.Advapi32.KEY_SET_VALUE, writing: true);
            try
            {
                SettingTransaction.Apply(steps, (f, v) => SetDword(key, v), null, (f, v) => v + " s", ErrorIds.TimeWaitRollbackFailed);
            }
            finally
            {
                Interop.Advapi32.RegCloseKey(key);
            }
        }

        /// <summary>The registry persists by nature: Write already made the value survive a restart.</summary>
        public void Persist(TimeWaitChange values)
        {
        }

        private IntPtr Open(int access, bool writing)
        {
            int rc = Interop.Advapi32.RegOpenKeyEx(_hive, _subKey, 0, access | Interop.Advapi32.KEY_WOW64_64KEY, out IntPtr key);
            if (rc == Interop.Advapi32.ERROR_SUCCESS)
            {
                return key;
            }

            throw rc == Interop.Advapi32.ERROR_ACCESS_DENIED
                ? new CloseWaitException(ErrorIds.TimeWaitPermissionDenied, ErrorCategory.PermissionDenied,
                    $"Cannot open {_keyPath}: {Describe(rc)}. Changing {ValueName} needs an elevated session: run PowerShell as Administrator. Nothing was changed.", _keyPath) { NativeError = rc }
                : new CloseWaitException(writing ? ErrorIds.TimeWaitWriteFailed : ErrorIds.TimeWaitReadFailed, writing ? ErrorCategory.WriteError : ErrorCategory.ReadError,
                    $"Cannot open {_keyPath}: {Describe(rc)}.", _keyPath) { NativeError = rc };
        }

        private unsafe (int Type, uint Data)? Query(IntPtr key)
        {
            uint data = 0;
            int size = sizeof(uint);
            int rc = Interop.Advapi32.RegQueryValueEx(key, ValueName, IntPtr.Zero, out int type, (byte*)&data, ref size);
            switch (rc)
            {
                case Interop.Advapi32.ERROR_SUCCESS:
                    return (size == sizeof(uint) ? type : -1, data);
                case Interop.Advapi32.ERROR_MORE_DATA:
                    return (-1, 0);
                case Interop.Advapi32.ERROR_FILE_NOT_FOUND:
                    return null;
                default:
                    throw new CloseWaitException(ErrorIds.TimeWaitReadFailed, ErrorCategory.ReadError, $"Cannot read {_keyPath}\\{ValueName}: {Describe(rc)}.", _keyPath) { NativeError = rc };
            }
        }

        private unsafe void SetDword(IntPtr key, uint seconds)
        {
            int rc = Interop.Advapi32.RegSetValueEx(key, ValueName, 0, Interop.Advapi32.REG_DWORD, (byte*)&seconds, sizeof(uint));
            if (rc != Interop.Advapi32.ERROR_SUCCESS)
            {
                string what = $"Cannot set TimeWaitDuration ({_keyPath}\\{ValueName}) to {seconds} s: {Describe(rc)}.";
                throw rc == Interop.Advapi32.ERROR_ACCESS_DENIED
                    ? new CloseWaitException(ErrorIds.TimeWaitPermissionDenied, ErrorCategory.PermissionDenied, what + " Run PowerShell as Administrator.", ValueName) { NativeError = rc }
                    : new CloseWaitException(ErrorIds.TimeWaitWriteFailed, ErrorCategory.WriteError, what, ValueName) { NativeError = rc };
            }
        }

        private static string Describe(int win32Error) => $"{new Win32Exception(win32Error).Message} (error {win32Error})";
    }
}
