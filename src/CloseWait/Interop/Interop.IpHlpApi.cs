using System;
using System.Runtime.InteropServices;

// iphlpapi.dll declarations (Windows). Names, values and layouts as in iphlpapi.h, tcpmib.h
// and iprtrmib.h; GetExtendedTcpTable's rows are decoded by hand in WindowsTcpRows.
internal static partial class Interop
{
    internal static unsafe partial class IpHlpApi
    {
        internal const int AF_INET = 2;
        internal const int AF_INET6 = 23;

        internal const uint NO_ERROR = 0;
        internal const uint ERROR_NOT_SUPPORTED = 50;
        internal const uint ERROR_INVALID_PARAMETER = 87;
        internal const uint ERROR_INSUFFICIENT_BUFFER = 122;
        internal const uint ERROR_NO_DATA = 232;

        /// <summary>TCP_TABLE_CLASS.</summary>
        internal enum TcpTableClass
        {
            BasicListener = 0,
            BasicConnections = 1,
            BasicAll = 2,
            OwnerPidListener = 3,
            OwnerPidConnections = 4,
            OwnerPidAll = 5,
            OwnerModuleListener = 6,
            OwnerModuleConnections = 7,
            OwnerModuleAll = 8,
        }

        /// <summary>TCPIP_OWNING_MODULE_SIZE: ULONGLONGs of opaque module data in each _OWNER_MODULE row.</summary>
        internal const int TCPIP_OWNING_MODULE_SIZE = 16;

        // Row sizes (bytes) of MIB_TCPROW_OWNER_PID, MIB_TCPROW_OWNER_MODULE, MIB_TCP6ROW_OWNER_PID,
        // MIB_TCP6ROW_OWNER_MODULE; the _MODULE rows hold a LARGE_INTEGER, so their tables start
        // the rows at offset 8 (after dwNumEntries and padding), the _PID tables at offset 4.
        internal const int MIB_TCPROW_OWNER_PID_SIZE = 24;
        internal const int MIB_TCPROW_OWNER_MODULE_SIZE = 24 + 8 + (8 * TCPIP_OWNING_MODULE_SIZE);
        internal const int MIB_TCP6ROW_OWNER_PID_SIZE = 56;
        internal const int MIB_TCP6ROW_OWNER_MODULE_SIZE = 56 + 8 + (8 * TCPIP_OWNING_MODULE_SIZE);

        [DllImport(Libraries.IpHlpApi, ExactSpelling = true)]
        internal static extern uint GetExtendedTcpTable(byte* pTcpTable, ref uint pdwSize, int bOrder, uint ulAf, TcpTableClass tableClass, uint reserved);

        // Close-TcpConnection: SetTcpEntry with the only state it accepts.
        internal const uint MIB_TCP_STATE_DELETE_TCB = 12;

        /// <summary>
        /// MIB_TCPROW (tcpmib.h): addresses as the four bytes in network order read as a DWORD;
        /// ports in network byte order in the low 16 bits of a DWORD.
        /// </summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct MIB_TCPROW
        {
            internal uint dwState;
            internal uint dwLocalAddr;
            internal uint dwLocalPort;
            internal uint dwRemoteAddr;
            internal uint dwRemotePort;
        }

        /// <summary>Returns a Win32 error code (0 on success); it does not set the last error.</summary>
        [DllImport(Libraries.IpHlpApi, ExactSpelling = true)]
        internal static extern uint SetTcpEntry(ref MIB_TCPROW pTcpRow);
    }
}
