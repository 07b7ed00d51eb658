using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;

namespace CloseWait.Platform.Windows
{
    /// <summary>
    /// Names the owners the Windows table already gives by PID. One Toolhelp process snapshot per
    /// call: it names every process, elevated or not, without opening any of them, so no process
    /// is ever "inaccessible" here; a PID missing from the snapshot has exited and keeps a null name.
    /// </summary>
    internal sealed class WindowsOwnerResolver : IOwnerResolver
    {
        private readonly Func<IReadOnlyDictionary<int, string>> _snapshot;

        internal WindowsOwnerResolver()
            : this(SnapshotProcessNames)
        {
        }

        internal WindowsOwnerResolver(Func<IReadOnlyDictionary<int, string>> snapshot) => _snapshot = snapshot;

        public int Resolve(IReadOnlyList<TcpConnection> connections, CancellationToken cancellationToken)
        {
            bool any = false;
            foreach (var c in connections)
            {
                if (c.ProcessId != null)
                {
                    any = true;
                    break;
                }
            }

            if (!any)
            {
                return 0;
            }

            IReadOnlyDictionary<int, string> names;
            try
            {
                names = _snapshot();
            }
            catch (ProcessSnapshotException)
            {
                // No names at all: every owner (asked once per PID) counts as not inspected, so the caller warns once.
                int unnamed = 0;
                OwnerNames.Apply(connections, pid => { unnamed++; return null; }, cancellationToken);
                return unnamed;
            }

            OwnerNames.Apply(connections, pid => names.TryGetValue(pid, out string? name) ? name : null, cancellationToken);
            return 0;
        }

        /// <summary>Get-Process names processes by their image name without ".exe"; so do we.</summary>
        internal static string ProcessNameFromImage(string exeFile)
        {
            string name = exeFile;
            int slash = name.LastIndexOfAny(new[] { '\\', '/' });
            if (slash >= 0)
            {
                name = name.Substring(slash + 1);
            }

            return name.EndsWith(".exe", StringComparison.OrdinalIgnoreCase) ? name.Substring(0, name.Length - 4) : name;
        }

        internal static IReadOnlyDictionary<int, string> SnapshotProcessNames()
        {
            IntPtr snapshot = Interop.Kernel32.CreateToolhelp32Snapshot(Interop.Kernel32.TH32CS_SNAPPROCESS, 0);
            if (snapshot == Interop.Kernel32.INVALID_HANDLE_VALUE)
            {
                throw new ProcessSnapshotException(Marshal.GetLastWin32Error());
            }

            try
            {
                var names = new Dictionary<int, string>();
                var entry = new Interop.Kernel32.PROCESSENTRY32W { dwSize = (uint)Marshal.SizeOf<Interop.Kernel32.PROCESSENTRY32W>() };
                if (!Interop.Kernel32.Process32FirstW(snapshot, ref entry))
                {
                    int error = Marshal.GetLastWin32Error();
                    if (error == Interop.Kernel32.ERROR_NO_MORE_FILES)
                    {
                        return names;
                    }

                    throw new ProcessSnapshotException(error);
                }

                // Bounded: a snapshot is finite, but never trust a native loop blindly.
                for (int i = 0; i < 1 << 20; i++)
                {
                    if (entry.th32ProcessID != 0)
                    {
                        names[(int)entry.th32ProcessID] = ProcessNameFromImage(entry.szExeFile ?? string.Empty);
                    }

                    if (!Interop.Kernel32.Process32NextW(snapshot, ref entry))
                    {
                        break;
                    }
                }

                return names;
            }
            finally
            {
                Interop.Kernel32.CloseHandle(snapshot);
            }
        }
    }

    /// <summary>CreateToolhelp32Snapshot or Process32First failed: no process names this call.</summary>
    internal sealed class ProcessSnapshotException : Exception
    {
        internal ProcessSnapshotException(int win32Error)
            : base($"The process snapshot failed (Win32 error {win32Error}).")
        {
            Win32Error = win32Error;
        }

        internal int Win32Error { get; }
    }
}
