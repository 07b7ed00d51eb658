using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.ComponentModel;
using System.Management.Automation;
using System.Net.Sockets;
using System.Threading;
using TableClass = Interop.IpHlpApi.TcpTableClass;

namespace CloseWait.Platform.Windows
{
    /// <summary>
    /// The Windows socket table: GetExtendedTcpTable for IPv4 then IPv6, asking for
    /// TCP_TABLE_OWNER_MODULE_ALL (owner PID and creation time) and falling back to
    /// TCP_TABLE_OWNER_PID_ALL where the module class is refused. Windows cannot filter by state,
    /// so the state filter is applied here; queues and idle time do not exist in this table.
    /// </summary>
    internal sealed class WindowsSocketTable : ISocketTable
    {
        /// <summary>The table can grow between the sizing call and the filling call: retry this many times.</summary>
        internal const int MaxAttempts = 8;

        /// <summary>One GetExtendedTcpTable call: fills buffer (null to ask for the size) and returns a Win32 error code.</summary>
        internal delegate uint TableCall(byte[]? buffer, ref uint size, AddressFamily family, TableClass tableClass);

        private readonly TableCall _call;

        internal WindowsSocketTable()
            : this(NativeCall)
        {
        }

        internal WindowsSocketTable(TableCall call) => _call = call;

        /// <summary>
        /// Classes used by the last read per family (the smoke harness and tests report it). The
        /// table is one process-wide instance read by every runspace at once (ThreadJobs,
        /// ForEach-Object -Parallel), so this is written concurrently.
        /// </summary>
        internal ConcurrentDictionary<AddressFamily, TableClass> UsedClass { get; } = new ConcurrentDictionary<AddressFamily, TableClass>();

        public IEnumerable<TcpConnection> Read(SocketQuery query, CancellationToken cancellationToken)
        {
            foreach (var family in new[] { AddressFamily.InterNetwork, AddressFamily.InterNetworkV6 })
            {
                if (!query.WantsFamily(family))
                {
                    continue;
                }

                cancellationToken.ThrowIfCancellationRequested();
                var (buffer, length, tableClass) = Fetch(family);
                foreach (var c in WindowsTcpRows.Decode(buffer, length, family, tableClass))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (query.WantsState(c.State))
                    {
                        yield return c;
                    }
                }
            }
        }

        /// <summary>
        /// The two-call loop: ask for the size, allocate with some headroom, fill; on
        /// ERROR_INSUFFICIENT_BUFFER (the table grew) grow and try again, a bounded number of times.
        /// </summary>
        internal (byte[] Buffer, int Length, TableClass Class) Fetch(AddressFamily family)
        {
            var tableClass = TableClass.OwnerModuleAll;
            byte[]? buffer = null;
            uint size = 0;
            for (int attempt = 0; attempt < MaxAttempts; attempt++)
            {
                uint rc = _call(buffer, ref size, family, tableClass);
                switch (rc)
                {
                    case Interop.IpHlpApi.NO_ERROR when buffer != null:
                        UsedClass[family] = tableClass;
                        return (buffer, (int)Math.Min(size, (uint)buffer.Length), tableClass);
                    case Interop.IpHlpApi.NO_ERROR:
                    case Interop.IpHlpApi.ERROR_NO_DATA:
                        UsedClass[family] = tableClass;
                        return (new byte[WindowsTcpRows.HeaderSize(tableClass)], WindowsTcpRows.HeaderSize(tableClass), tableClass);
                    case Interop.IpHlpApi.ERROR_INSUFFICIENT_BUFFER:
                        // Headroom for sockets opened before the next call.
                        buffer = new byte[checked((int)Math.Min(int.MaxValue, size + (size / 8) + 4096))];
                        size = (uint)buffer.Length;
                        continue;
                    case Interop.IpHlpApi.ERROR_NOT_SUPPORTED when tableClass == TableClass.OwnerModuleAll:
                    case Interop.IpHlpApi.ERROR_INVALID_PARAMETER when tableClass == TableClass.OwnerModuleAll:
                        tableClass = TableClass.OwnerPidAll;
                        buffer = null;
                        size = 0;
                        attempt = -1;
                        continue;
                    case Interop.IpHlpApi.ERROR_NOT_SUPPORTED when family == AddressFamily.InterNetworkV6:
                        // No IPv6 stack: no IPv6 table, as Linux without tcp6.
                        UsedClass[family] = tableClass;
                        return (new byte[4], 4, tableClass);
                    default:
                        throw Failed(rc, family);
                }
            }

            throw new CloseWaitException(ErrorIds.SocketTableReadFailed, ErrorCategory.ResourceBusy,
                $"The {FamilyName(family)} TCP table kept growing faster than it could be read ({MaxAttempts} attempts). Try again, or narrow the query with -AddressFamily.");
        }

        private static CloseWaitException Failed(uint rc, AddressFamily family) =>
            new CloseWaitException(ErrorIds.SocketTableReadFailed, ErrorCategory.ReadError,
                $"GetExtendedTcpTable ({FamilyName(family)}) failed: {new Win32Exception((int)rc).Message} (error {rc}).")
            {
                NativeError = (int)rc,
            };

        private static string FamilyName(AddressFamily family) => family == AddressFamily.InterNetwork ? "IPv4" : "IPv6";

        private static unsafe uint NativeCall(byte[]? buffer, ref uint size, AddressFamily family, TableClass tableClass)
        {
            uint af = family == AddressFamily.InterNetwork ? (uint)Interop.IpHlpApi.AF_INET : Interop.IpHlpApi.AF_INET6;
            fixed (byte* p = buffer)
            {
                return Interop.IpHlpApi.GetExtendedTcpTable(p, ref size, 0, af, tableClass, 0);
            }
        }
    }
}
