using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;

namespace CloseWait.Platform.MacOS
{
    /// <summary>
    /// Names the owners the macOS table gives by PID (so_last_pid), with libproc's proc_name, once
    /// per PID per call. Other holders of a socket shared after fork are not listed: Owners holds
    /// that one process.
    /// </summary>
    internal sealed class MacOSOwnerResolver : IOwnerResolver
    {
        public int Resolve(IReadOnlyList<TcpConnection> connections, CancellationToken cancellationToken)
        {
            int denied = 0;
            OwnerNames.Apply(connections, pid =>
            {
                string? name = ProcName(pid, out int errno);
                if (name == null && errno == Interop.LibSystem.EPERM)
                {
                    denied++;
                }

                return name;
            }, cancellationToken);
            return denied;
        }

        private static unsafe string? ProcName(int pid, out int errno)
        {
            byte* buf = stackalloc byte[Interop.LibSystem.PROC_NAME_BUFFER];
            int n = Interop.LibSystem.proc_name(pid, buf, Interop.LibSystem.PROC_NAME_BUFFER);
            errno = n > 0 ? 0 : Marshal.GetLastWin32Error();
            return n > 0 ? DecodeName(buf, n) : null;
        }

        internal static unsafe string DecodeName(byte* buf, int length)
        {
            int end = 0;
            while (end < length && buf[end] != 0)
            {
                end++;
            }

            return Encoding.UTF8.GetString(buf, end);
        }
    }
}
