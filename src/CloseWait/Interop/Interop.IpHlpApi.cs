using System.Runtime.InteropServices;

// iphlpapi.dll declarations (Windows). Names, values and layouts as in iphlpapi.h and tcpmib.h.
internal static partial class Interop
{
    internal static unsafe partial class IpHlpApi
    {
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
