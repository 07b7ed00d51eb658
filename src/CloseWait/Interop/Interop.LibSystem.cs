using System;
using System.Runtime.InteropServices;

// macOS libSystem declarations (sysctl and libproc). Constants carry xnu's names.
internal static partial class Interop
{
    internal static unsafe partial class LibSystem
    {
        internal const int ENOMEM = 12;
        internal const int EPERM = 1;
        internal const int ESRCH = 3;

        /// <summary>MAXCOMLEN + 1 is what the kernel keeps; libproc's names can be up to 2*MAXCOMLEN.</summary>
        internal const int PROC_NAME_BUFFER = 64;

        [DllImport(Libraries.LibSystem, SetLastError = true)]
        internal static extern int sysctlbyname([MarshalAs(UnmanagedType.LPStr)] string name, byte* oldp, ref UIntPtr oldlenp, byte* newp, UIntPtr newlen);

        [DllImport(Libraries.LibSystem, SetLastError = true)]
        internal static extern int proc_name(int pid, byte* buffer, uint buffersize);
    }
}
