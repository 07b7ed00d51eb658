using System;
using System.Runtime.InteropServices;

// macOS libSystem declarations (sysctl and libproc). Constants carry xnu's names.
internal static partial class Interop
{
    internal static unsafe partial class LibSystem
    {
        internal const int EPERM = 1;
        internal const int ENOENT = 2;
        internal const int ESRCH = 3;
        internal const int ENOMEM = 12;
        internal const int EACCES = 13;
        internal const int EINVAL = 22;

        /// <summary>MAXCOMLEN + 1 is what the kernel keeps; libproc's names can be up to 2*MAXCOMLEN.</summary>
        internal const int PROC_NAME_BUFFER = 64;

        /// <summary>sysctlbyname(3) for a buffer read (the socket table).</summary>
        [DllImport(Libraries.LibSystem, SetLastError = true)]
        internal static extern int sysctlbyname([MarshalAs(UnmanagedType.LPStr)] string name, byte* oldp, ref UIntPtr oldlenp, byte* newp, UIntPtr newlen);

        /// <summary>sysctlbyname(3) for scalar values: reads into oldp (when given) and writes newp (when given).</summary>
        [DllImport(Libraries.LibSystem, SetLastError = true)]
        internal static extern int sysctlbyname([MarshalAs(UnmanagedType.LPStr)] string name, void* oldp, IntPtr* oldlenp, void* newp, IntPtr newlen);

        [DllImport(Libraries.LibSystem, SetLastError = true)]
        internal static extern int proc_name(int pid, byte* buffer, uint buffersize);

        [DllImport(Libraries.LibSystem, EntryPoint = "strerror")]
        private static extern IntPtr strerror_native(int errnum);

        internal static string StrError(int errno) =>
            Marshal.PtrToStringAnsi(strerror_native(errno)) ?? ("errno " + errno);
    }
}
