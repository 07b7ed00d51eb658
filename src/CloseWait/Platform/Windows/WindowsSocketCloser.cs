using System;
using System.Collections.Generic;
using System.Globalization;
using System.Management.Automation;
using System.Net;
using System.Net.Sockets;
using System.Threading;

namespace CloseWait.Platform.Windows
{
    /// <summary>
    /// Closes IPv4 connections with SetTcpEntry(MIB_TCP_STATE_DELETE_TCB): the stack drops the
    /// connection and resets the peer. Windows has no such call for IPv6. Windows gives no socket
    /// cookie, so before closing, each connection must be in the live table with the same owner
    /// (and creation time, when both are known) and a state it can have reached since it was
    /// listed. The live table is read again when the last read is older than
    /// <see cref="MaxSnapshotAge"/>: a pipeline that waits on -Confirm prompts compares each
    /// connection with the table as it is then, not as it was minutes before.
    /// </summary>
    internal sealed class WindowsSocketCloser : ISocketCloser
    {
        private const uint ErrorAccessDenied = 5;
        private const uint ErrorNotSupported = 50;
        private const uint ErrorNonElevated = 317; // SetTcpEntry's documented "running non-elevated"
        private const uint ErrorNotFound = 1168;

        /// <summary>A bulk close reuses one read of the table for this long; any pause longer than that (a prompt) reads it again.</summary>
        internal static readonly TimeSpan MaxSnapshotAge = TimeSpan.FromMilliseconds(250);

        private readonly ISocketTable _table;
        private readonly Func<Interop.IpHlpApi.MIB_TCPROW, uint> _setTcpEntry;
        private readonly Func<TimeSpan> _clock;
        private Dictionary<string, TcpConnection>? _live;
        private TimeSpan _liveReadAt;

        internal WindowsSocketCloser(ISocketTable table)
            : this(table, row => Interop.IpHlpApi.SetTcpEntry(ref row))
        {
        }

        /// <summary>Tests pass a recorder for SetTcpEntry to check the row and the error mapping off Windows, and a clock.</summary>
        internal WindowsSocketCloser(ISocketTable table, Func<Interop.IpHlpApi.MIB_TCPROW, uint> setTcpEntry, Func<TimeSpan>? clock = null)
        {
            _table = table;
            _setTcpEntry = setTcpEntry;
            if (clock == null)
            {
                var watch = System.Diagnostics.Stopwatch.StartNew();
                clock = () => watch.Elapsed;
            }

            _clock = clock;
        }

        public CloseOutcome Close(TcpConnection connection, TcpCloseMethod method, CancellationToken cancellationToken)
        {
            string endpoints = connection.DescribeEndpoints();
            if (method != TcpCloseMethod.Abort)
            {
                throw new CloseWaitException(ErrorIds.CloseMethodNotSupported, ErrorCategory.NotImplemented,
                    $"-Method {method} is a Linux method; Windows closes {endpoints} only with -Method Abort (SetTcpEntry).", connection);
            }

            if (connection.AddressFamily != AddressFamily.InterNetwork)
            {
                throw new CloseWaitException(ErrorIds.SocketCloseNotSupported, ErrorCategory.NotImplemented,
                    $"Windows can close only IPv4 connections (SetTcpEntry has no IPv6 form), and {endpoints} is IPv6. Stop the owning process instead (Stop-Process -Id {connection.ProcessId?.ToString(CultureInfo.InvariantCulture) ?? "<pid>"}).", connection);
            }

            var live = Live(cancellationToken);
            string key = Key(connection.LocalIPAddress, connection.LocalPort, connection.RemoteIPAddress, connection.RemotePort);
            if (!live.TryGetValue(key, out var now))
            {
                return Gone();
            }

            if (!IsSameConnection(connection, now) || !TcpStateProgress.CanHaveBecome(connection.State, now.State))
            {
                return new CloseOutcome(TcpCloseStatus.Replaced,
                    $"A different connection (PID {now.ProcessId?.ToString(CultureInfo.InvariantCulture) ?? "?"}, {now.State}) now uses these addresses: it was left open.");
            }

            uint error = _setTcpEntry(BuildDeleteRow(connection.LocalIPAddress, connection.LocalPort, connection.RemoteIPAddress, connection.RemotePort));
            switch (error)
            {
                case 0:
                    live.Remove(key);
                    return new CloseOutcome(TcpCloseStatus.Closed,
                        "Deleted with SetTcpEntry (DELETE_TCB): the peer got a reset. The owner's handle stays open on the dead socket until the owner closes it; its next send fails.");
                case ErrorNotFound:
                    live.Remove(key);
                    return Gone();
                case ErrorAccessDenied:
                case ErrorNonElevated:
                    throw new CloseWaitException(ErrorIds.SocketCloseAccessDenied, ErrorCategory.PermissionDenied,
                        $"Windows refused to close {endpoints} (error {error}): SetTcpEntry needs an elevated session. Run PowerShell as Administrator.", connection)
                    { NativeError = (int)error };
                case ErrorNotSupported:
                    throw new CloseWaitException(ErrorIds.SocketCloseNotSupported, ErrorCategory.NotImplemented,
                        $"Windows refused to close {endpoints} (error {error}: IPv4 is not configured). Stop the owning process instead.", connection)
                    { NativeError = (int)error };
                default:
                    throw new CloseWaitException(ErrorIds.SocketCloseFailed, ErrorCategory.NotSpecified,
                        $"Closing {endpoints} failed: SetTcpEntry returned Win32 error {error}.", connection)
                    { NativeError = (int)error };
            }
        }

        /// <summary>
        /// The MIB_TCPROW that deletes one IPv4 connection: each address is its four bytes in network
        /// order read as a DWORD, each port is in network byte order in the low 16 bits of a DWORD.
        /// </summary>
        internal static Interop.IpHlpApi.MIB_TCPROW BuildDeleteRow(IPAddress local, int localPort, IPAddress remote, int remotePort) =>
            new Interop.IpHlpApi.MIB_TCPROW
            {
                dwState = Interop.IpHlpApi.MIB_TCP_STATE_DELETE_TCB,
                dwLocalAddr = AddressDword(local),
                dwLocalPort = PortDword(localPort),
                dwRemoteAddr = AddressDword(remote),
                dwRemotePort = PortDword(remotePort),
            };

        internal static uint AddressDword(IPAddress address)
        {
            var v4 = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
            byte[] b = v4.GetAddressBytes();
            if (b.Length != 4)
            {
                throw new ArgumentException($"{address} is not an IPv4 address.", nameof(address));
            }

            return BitConverter.ToUInt32(b, 0);
        }

        internal static uint PortDword(int port)
        {
            if (port < 0 || port > 65535)
            {
                throw new ArgumentOutOfRangeException(nameof(port), port, "A TCP port is 0 to 65535.");
            }

            return BitConverter.ToUInt32(new[] { (byte)(port >> 8), (byte)port, (byte)0, (byte)0 }, 0);
        }

        /// <summary>Same owner, and same creation time where both sides know it.</summary>
        internal static bool IsSameConnection(TcpConnection listed, TcpConnection now)
        {
            if (listed.ProcessId is int pid && now.ProcessId is int nowPid && pid != nowPid)
            {
                return false;
            }

            if (listed.CreationTime is DateTime created && now.CreationTime is DateTime nowCreated && created != nowCreated)
            {
                // A time back from Export-Csv kept only whole seconds: the same second is the same connection.
                bool wholeSeconds = created.Ticks % TimeSpan.TicksPerSecond == 0;
                if (!wholeSeconds || created.Ticks != nowCreated.Ticks - (nowCreated.Ticks % TimeSpan.TicksPerSecond))
                {
                    return false;
                }
            }

            return true;
        }

        private Dictionary<string, TcpConnection> Live(CancellationToken cancellationToken)
        {
            if (_live == null || _clock() - _liveReadAt > MaxSnapshotAge)
            {
                _liveReadAt = _clock();
                var live = new Dictionary<string, TcpConnection>(StringComparer.Ordinal);
                var query = new SocketQuery { AddressFamily = AddressFamily.InterNetwork, IncludeDetails = false };
                foreach (var c in _table.Read(query, cancellationToken))
                {
                    live[Key(c.LocalIPAddress, c.LocalPort, c.RemoteIPAddress, c.RemotePort)] = c;
                }

                _live = live;
            }

            return _live;
        }

        private static string Key(IPAddress local, int localPort, IPAddress remote, int remotePort) =>
            string.Format(CultureInfo.InvariantCulture, "{0}|{1}|{2}|{3}", local, localPort, remote, remotePort);

        private static CloseOutcome Gone() =>
            new CloseOutcome(TcpCloseStatus.AlreadyGone, "The connection no longer exists: its owner or the peer closed it after it was listed.");

        public void Dispose()
        {
        }
    }
}
