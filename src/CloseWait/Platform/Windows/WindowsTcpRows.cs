using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using TableClass = Interop.IpHlpApi.TcpTableClass;

namespace CloseWait.Platform.Windows
{
    /// <summary>
    /// Decodes the buffers GetExtendedTcpTable fills (MIB_TCPTABLE_OWNER_PID/_MODULE and their
    /// IPv6 forms) into connections. Pure: tested on constructed buffers on every OS. Ports sit in
    /// the low 16 bits of a DWORD in network byte order; addresses are in network byte order;
    /// creation times are FILETIMEs.
    /// </summary>
    internal static class WindowsTcpRows
    {
        internal const string Source = "GetExtendedTcpTable";

        internal static bool HasModuleInfo(TableClass tableClass) =>
            tableClass == TableClass.OwnerModuleAll || tableClass == TableClass.OwnerModuleConnections || tableClass == TableClass.OwnerModuleListener;

        internal static int RowSize(AddressFamily family, TableClass tableClass) =>
            family == AddressFamily.InterNetwork
                ? (HasModuleInfo(tableClass) ? Interop.IpHlpApi.MIB_TCPROW_OWNER_MODULE_SIZE : Interop.IpHlpApi.MIB_TCPROW_OWNER_PID_SIZE)
                : (HasModuleInfo(tableClass) ? Interop.IpHlpApi.MIB_TCP6ROW_OWNER_MODULE_SIZE : Interop.IpHlpApi.MIB_TCP6ROW_OWNER_PID_SIZE);

        /// <summary>Where the first row starts: after dwNumEntries, padded to the row's alignment (8 when it holds a LARGE_INTEGER).</summary>
        internal static int HeaderSize(TableClass tableClass) => HasModuleInfo(tableClass) ? 8 : 4;

        /// <summary>Decodes a whole table; <paramref name="length"/> is how many bytes of the buffer the call filled.</summary>
        internal static IEnumerable<TcpConnection> Decode(byte[] buffer, int length, AddressFamily family, TableClass tableClass)
        {
            if (length < 4 || length > buffer.Length)
            {
                throw new InvalidDataException($"GetExtendedTcpTable returned {length} byte(s), too few for a table header.");
            }

            uint count = ReadUInt32(buffer, 0);
            int rowSize = RowSize(family, tableClass);
            int header = HeaderSize(tableClass);
            long needed = header + ((long)count * rowSize);
            if (count > 0 && needed > length)
            {
                throw new InvalidDataException($"GetExtendedTcpTable says {count} row(s) of {rowSize} bytes but returned {length} byte(s).");
            }

            for (int i = 0; i < count; i++)
            {
                int offset = header + (i * rowSize);
                yield return family == AddressFamily.InterNetwork
                    ? DecodeV4(buffer, offset, tableClass, i)
                    : DecodeV6(buffer, offset, tableClass, i);
            }
        }

        /// <summary>MIB_TCPROW_OWNER_PID / _MODULE: dwState, dwLocalAddr, dwLocalPort, dwRemoteAddr, dwRemotePort, dwOwningPid[, liCreateTimestamp, OwningModuleInfo].</summary>
        internal static TcpConnection DecodeV4(byte[] b, int o, TableClass tableClass, int index)
        {
            uint nativeState = ReadUInt32(b, o);
            var local = new IPAddress(Slice(b, o + 4, 4));
            var remote = new IPAddress(Slice(b, o + 12, 4));
            return Build(AddressFamily.InterNetwork, nativeState, local, Port(b, o + 8), remote, Port(b, o + 16),
                ReadUInt32(b, o + 20), HasModuleInfo(tableClass) ? ReadInt64(b, o + 24) : 0, index);
        }

        /// <summary>
        /// MIB_TCP6ROW_OWNER_PID / _MODULE: ucLocalAddr[16], dwLocalScopeId, dwLocalPort, ucRemoteAddr[16],
        /// dwRemoteScopeId, dwRemotePort, dwState, dwOwningPid[, liCreateTimestamp, OwningModuleInfo].
        /// </summary>
        internal static TcpConnection DecodeV6(byte[] b, int o, TableClass tableClass, int index)
        {
            var local = V6(Slice(b, o, 16), ReadUInt32(b, o + 16));
            var remote = V6(Slice(b, o + 24, 16), ReadUInt32(b, o + 40));
            return Build(AddressFamily.InterNetworkV6, ReadUInt32(b, o + 48), local, Port(b, o + 20), remote, Port(b, o + 44),
                ReadUInt32(b, o + 52), HasModuleInfo(tableClass) ? ReadInt64(b, o + 56) : 0, index);
        }

        private static TcpConnection Build(AddressFamily family, uint nativeState, IPAddress local, int localPort, IPAddress remote, int remotePort, uint pid, long createTimestamp, int index)
        {
            var state = ToTcpState(nativeState) ?? throw new InvalidDataException($"GetExtendedTcpTable row {index} has unknown state {nativeState}.");
            if (state == TcpState.Listen)
            {
                // tcpmib.h: dwRemotePort "is not used if dwState is MIB_TCP_STATE_LISTEN"; it can hold leftovers.
                remotePort = 0;
            }

            return new TcpConnection(family, local, localPort, remote, remotePort, state, (int)nativeState, Source)
            {
                // PID 0 is not a process: Windows reports it for sockets no process owns (TIME_WAIT).
                ProcessId = pid == 0 ? (int?)null : (int)pid,
                TableOwner = pid == 0 ? null : ProcessReference.Listed((int)pid),
                CreationTime = FromFileTime(createTimestamp),
            };
        }

        /// <summary>MIB_TCP_STATE 1..12 are TcpState's own numbers.</summary>
        internal static TcpState? ToTcpState(uint state) =>
            state >= (uint)TcpState.Closed && state <= (uint)TcpState.DeleteTCB ? (TcpState)state : (TcpState?)null;

        /// <summary>The port is the first two bytes of the DWORD, most significant first.</summary>
        internal static int Port(byte[] b, int offset) => (b[offset] << 8) | b[offset + 1];

        /// <summary>FILETIME (100 ns ticks since 1601 UTC) to local time; 0 or out of range means not given.</summary>
        internal static DateTime? FromFileTime(long fileTime)
        {
            if (fileTime <= 0 || fileTime > DateTime.MaxValue.ToFileTimeUtc())
            {
                return null;
            }

            return DateTime.FromFileTimeUtc(fileTime).ToLocalTime();
        }

        /// <summary>Scope ids only mean something for link- and site-local addresses (the zone is the interface).</summary>
        internal static IPAddress V6(byte[] bytes, uint scopeId)
        {
            var plain = new IPAddress(bytes);
            return scopeId != 0 && (plain.IsIPv6LinkLocal || plain.IsIPv6SiteLocal) ? new IPAddress(bytes, scopeId) : plain;
        }

        private static byte[] Slice(byte[] b, int offset, int length)
        {
            var s = new byte[length];
            Buffer.BlockCopy(b, offset, s, 0, length);
            return s;
        }

        // The table is in the machine's byte order; every Windows this runs on is little-endian.
        internal static uint ReadUInt32(byte[] b, int o) =>
            (uint)(b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24));

        internal static long ReadInt64(byte[] b, int o) =>
            (long)(ReadUInt32(b, o) | ((ulong)ReadUInt32(b, o + 4) << 32));
    }
}
