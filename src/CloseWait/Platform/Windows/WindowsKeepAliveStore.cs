using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Management.Automation;

namespace CloseWait.Platform.Windows
{
    /// <summary>
    /// KeepAliveTime and KeepAliveInterval under HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters
    /// (REG_DWORD milliseconds; absent means 7,200,000 and 1,000). The TCP/IP stack reads them at
    /// boot, so the registry is both what -Persist means and what applies after a restart; the
    /// probe count is fixed at 10 since Windows Vista. Usable on its own over any key, so a test
    /// harness can point it at a scratch key.
    /// </summary>
    internal sealed class WindowsKeepAliveStore : IKeepAliveStore
    {
        internal const string DefaultKeyPath = @"HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters";

        private static readonly string[] ValueNames = { "KeepAliveTime", "KeepAliveInterval" };

        private readonly IntPtr _hive;
        private readonly string _subKey;

        internal WindowsKeepAliveStore()
            : this(DefaultKeyPath)
        {
        }

        /// <summary>
        /// A store over <paramref name="keyPath"/>: HKLM\... or HKCU\... (HKEY_LOCAL_MACHINE\...,
        /// HKLM:\... too). The key must exist; its values may be absent.
        /// </summary>
        internal WindowsKeepAliveStore(string keyPath)
        {
            (_hive, _subKey, KeyPath) = ParseKeyPath(keyPath);
        }

        /// <summary>The key, as HKLM\... or HKCU\....</summary>
        internal string KeyPath { get; }

        public KeepAliveRules Rules => KeepAliveRules.Windows;

        public string? PersistTarget => KeyPath;

        public bool AppliesAtRestart => true;

        internal static string ValueName(KeepAliveField field) => ValueNames[(int)field];

        public TcpKeepAliveSetting Read(string? networkNamespace)
        {
            PlatformServices.RefuseNetworkNamespace(networkNamespace);
            IntPtr key = Open(Interop.Advapi32.KEY_QUERY_VALUE, null);
            try
            {
                var time = Interpret(KeepAliveField.Time, Query(key, KeepAliveField.Time), KeyPath);
                var interval = Interpret(KeepAliveField.Interval, Query(key, KeepAliveField.Interval), KeyPath);
                return TcpKeepAliveSetting.FromRaw(Rules, time.Raw, interval.Raw, Rules.DefaultProbes, time.Source, interval.Source,
                    "fixed at 10 by Windows (since Vista)");
            }
            finally
            {
                Interop.Advapi32.RegCloseKey(key);
            }
        }

        public TcpKeepAliveSetting? Write(KeepAliveChange change, string? networkNamespace, TcpKeepAliveSetting? planned = null, bool readBack = false)
        {
            WriteChecked(change, networkNamespace, planned);
            return readBack ? Read(networkNamespace) : null;
        }

        private void WriteChecked(KeepAliveChange change, string? networkNamespace, TcpKeepAliveSetting? planned)
        {
            PlatformServices.RefuseNetworkNamespace(networkNamespace);

            // The probe count has no registry value: a change to it is refused here too, for callers other than the cmdlet.
            var invalid = Rules.Validate(change);
            if (invalid != null)
            {
                throw invalid;
            }

            var steps = KeepAliveTransaction.PlanChecked(Rules, Read(null), change, planned);
            if (steps.Count == 0)
            {
                return;
            }

            // Opening the key for writing first makes "not elevated" fail before anything is written.
            IntPtr key = Open(Interop.Advapi32.KEY_QUERY_VALUE | Interop.Advapi32.KEY_SET_VALUE, steps[0].Field);
            try
            {
                var absent = new HashSet<KeepAliveField>();
                foreach (var step in steps)
                {
                    if (Query(key, step.Field) == null)
                    {
                        absent.Add(step.Field);
                    }
                }

                KeepAliveTransaction.Apply(Rules, steps, (field, value) =>
                {
                    // Putting back a value that was absent removes it again rather than writing the default.
                    if (absent.Contains(field) && value == steps.Find(s => s.Field == field).Old)
                    {
                        Check(Interop.Advapi32.RegDeleteValue(key, ValueName(field)), field, value);
                    }
                    else
                    {
                        SetDword(key, field, value);
                    }
                });
            }
            finally
            {
                Interop.Advapi32.RegCloseKey(key);
            }
        }

        /// <summary>The registry persists by nature: Write already made the values survive a restart.</summary>
        public void Persist(KeepAliveChange values)
        {
        }

        /// <summary>HKLM\..., HKEY_LOCAL_MACHINE\..., HKLM:\... (and HKCU) into the hive handle, the subkey and the display form.</summary>
        internal static (IntPtr Hive, string SubKey, string Display) ParseKeyPath(string keyPath)
        {
            string path = (keyPath ?? string.Empty).Trim();
            int slash = path.IndexOf('\\');
            string hive = (slash < 0 ? path : path.Substring(0, slash)).TrimEnd(':').ToUpperInvariant();
            string sub = slash < 0 ? string.Empty : path.Substring(slash + 1).Trim('\\');
            switch (hive)
            {
                case "HKLM":
                case "HKEY_LOCAL_MACHINE":
                    return (Interop.Advapi32.HKEY_LOCAL_MACHINE, sub, @"HKLM\" + sub);
                case "HKCU":
                case "HKEY_CURRENT_USER":
                    return (Interop.Advapi32.HKEY_CURRENT_USER, sub, @"HKCU\" + sub);
                default:
                    throw new ArgumentException($"'{keyPath}' is not a registry key under HKLM or HKCU.", nameof(keyPath));
            }
        }

        /// <summary>
        /// The value the TCP/IP stack uses for a registry value as read (null: absent), and where it
        /// came from. Absent, or not a REG_DWORD, means the Windows default.
        /// </summary>
        internal static (long Raw, string Source) Interpret(KeepAliveField field, (int Type, uint Data)? read, string keyPath)
        {
            string where = keyPath + @"\" + ValueName(field);
            long fallback = KeepAliveRules.Windows.DefaultRaw(field);
            if (read is not (int type, uint data))
            {
                return (fallback, where + " (not set: Windows default)");
            }

            return type == Interop.Advapi32.REG_DWORD
                ? (data, where)
                : (fallback, where + " (not a REG_DWORD, ignored: Windows default)");
        }

        /// <summary>A validated value in milliseconds (the probe count is never written).</summary>
        internal static uint ToDword(long raw) => checked((uint)raw);

        private IntPtr Open(int access, KeepAliveField? writing)
        {
            int rc = Interop.Advapi32.RegOpenKeyEx(_hive, _subKey, 0, access | Interop.Advapi32.KEY_WOW64_64KEY, out IntPtr key);
            if (rc == Interop.Advapi32.ERROR_SUCCESS)
            {
                return key;
            }

            string what = writing == null ? $"Cannot open {KeyPath}" : $"Cannot set {writing} ({KeyPath}\\{ValueName(writing.Value)})";
            throw rc switch
            {
                Interop.Advapi32.ERROR_ACCESS_DENIED => new CloseWaitException(ErrorIds.KeepAlivePermissionDenied, ErrorCategory.PermissionDenied,
                    $"{what}: {Describe(rc)}. Changing the TCP keepalive needs an elevated session: run PowerShell as Administrator. Nothing was changed.", KeyPath) { NativeError = rc },
                Interop.Advapi32.ERROR_FILE_NOT_FOUND => new CloseWaitException(ErrorIds.KeepAliveSettingNotFound, ErrorCategory.ObjectNotFound,
                    $"{what}: the key {KeyPath} does not exist.", KeyPath) { NativeError = rc },
                _ => new CloseWaitException(writing == null ? ErrorIds.KeepAliveReadFailed : ErrorIds.KeepAliveWriteFailed, writing == null ? ErrorCategory.ReadError : ErrorCategory.WriteError,
                    $"{what}: {Describe(rc)}.", KeyPath) { NativeError = rc },
            };
        }

        private unsafe (int Type, uint Data)? Query(IntPtr key, KeepAliveField field)
        {
            uint data = 0;
            int size = sizeof(uint);
            int rc = Interop.Advapi32.RegQueryValueEx(key, ValueName(field), IntPtr.Zero, out int type, (byte*)&data, ref size);
            switch (rc)
            {
                case Interop.Advapi32.ERROR_SUCCESS:
                    return (size == sizeof(uint) ? type : -1, data);
                case Interop.Advapi32.ERROR_MORE_DATA:
                    return (-1, 0); // larger than a DWORD: not a REG_DWORD
                case Interop.Advapi32.ERROR_FILE_NOT_FOUND:
                    return null;
                default:
                    throw new CloseWaitException(ErrorIds.KeepAliveReadFailed, ErrorCategory.ReadError,
                        $"Cannot read {KeyPath}\\{ValueName(field)}: {Describe(rc)}.", KeyPath) { NativeError = rc };
            }
        }

        private unsafe void SetDword(IntPtr key, KeepAliveField field, long value)
        {
            uint data = ToDword(value);
            Check(Interop.Advapi32.RegSetValueEx(key, ValueName(field), 0, Interop.Advapi32.REG_DWORD, (byte*)&data, sizeof(uint)), field, value);
        }

        private void Check(int rc, KeepAliveField field, long value)
        {
            if (rc == Interop.Advapi32.ERROR_SUCCESS)
            {
                return;
            }

            string what = $"Cannot set {field} ({KeyPath}\\{ValueName(field)}) to {Rules.Describe(field, value)}: {Describe(rc)}.";
            throw rc == Interop.Advapi32.ERROR_ACCESS_DENIED
                ? new CloseWaitException(ErrorIds.KeepAlivePermissionDenied, ErrorCategory.PermissionDenied,
                    what + " Run PowerShell as Administrator.", field.ToString()) { NativeError = rc }
                : new CloseWaitException(ErrorIds.KeepAliveWriteFailed, ErrorCategory.WriteError, what, field.ToString()) { NativeError = rc };
        }

        private static string Describe(int win32Error) => $"{new Win32Exception(win32Error).Message} (error {win32Error})";
    }
}
