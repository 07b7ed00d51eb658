using System;
using System.Collections.Generic;
using System.Management.Automation;
using System.Runtime.InteropServices;
using System.Threading;

namespace CloseWait.Platform.MacOS
{
    /// <summary>
    /// The macOS socket table: sysctl net.inet.tcp.pcblist_n, the table netstat reads. It carries
    /// addresses, state, queues, the owning uid and the PID that last used each socket; it has no
    /// idle time. The kernel cannot filter, so families and states are filtered here.
    /// </summary>
    internal sealed class MacOSSocketTable : ISocketTable
    {
        internal const string PcbListName = "net.inet.tcp.pcblist_n";
        private const int MaxAttempts = 8;

        public IEnumerable<TcpConnection> Read(SocketQuery query, CancellationToken cancellationToken)
        {
            var (buffer, length) = Fetch();
            foreach (var c in MacOSPcbList.Decode(buffer, length))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (query.WantsFamily(c.AddressFamily) && query.WantsState(c.State))
                {
                    yield return c;
                }
            }
        }

        /// <summary>Size, then fill; the kernel's size already has 1/8 headroom, and ENOMEM (the table grew) retries, bounded.</summary>
        private static unsafe (byte[] Buffer, int Length) Fetch()
        {
            for (int attempt = 0; attempt < MaxAttempts; attempt++)
            {
                var size = UIntPtr.Zero;
                if (Interop.LibSystem.sysctlbyname(PcbListName, null, ref size, null, UIntPtr.Zero) != 0)
                {
                    throw Failed(Marshal.GetLastWin32Error());
                }

                ulong wanted = (ulong)size + ((ulong)size / 8) + 4096;
                var buffer = new byte[(int)Math.Min(int.MaxValue, wanted)];
                size = (UIntPtr)buffer.Length;
                int rc;
                fixed (byte* p = buffer)
                {
                    rc = Interop.LibSystem.sysctlbyname(PcbListName, p, ref size, null, UIntPtr.Zero);
                }

                if (rc == 0)
                {
                    return (buffer, (int)size);
                }

                int errno = Marshal.GetLastWin32Error();
                if (errno != Interop.LibSystem.ENOMEM)
                {
                    throw Failed(errno);
                }
            }

            throw new CloseWaitException(ErrorIds.SocketTableReadFailed, ErrorCategory.ResourceBusy,
                $"The TCP table kept growing faster than it could be read ({MaxAttempts} attempts). Try again.");
        }

        private static CloseWaitException Failed(int errno) =>
            new CloseWaitException(errno == Interop.LibSystem.EPERM ? ErrorIds.SocketTableAccessDenied : ErrorIds.SocketTableReadFailed,
                errno == Interop.LibSystem.EPERM ? ErrorCategory.PermissionDenied : ErrorCategory.ReadError,
                $"sysctl {PcbListName} failed with errno {errno}." + (errno == Interop.LibSystem.EPERM ? " Run with sudo, or outside the sandbox." : string.Empty))
            {
                NativeError = errno,
            };
    }
}
