using System;
using System.Runtime.InteropServices;

// macOS declarations (libSystem).
internal static partial class Interop
{
    internal static unsafe partial class LibSystem
    {
        internal const int EPERM = 1;
        internal const int ENOENT = 2;
        internal const int EACCES = 13;
        internal const int EINVAL = 22;

        /// <summary>sysctlbyname(3): reads into oldp (when given) and writes newp (when given).</summary>
        [DllImport(Libraries.LibSystem, SetLastError = true)]
        internal static extern int sysctlbyname([MarshalAs(UnmanagedType.LPStr)] string name, void* oldp, IntPtr* oldlenp, void* newp, IntPtr newlen);

        [DllImport(Libraries.LibSystem, EntryPoint = "strerror")]
        private static extern IntPtr strerror_native(int errnum);

        internal static string StrError(int errno) =>
            Marshal.PtrToStringAnsi(strerror_native(errno)) ?? ("errno " + errno);
    }
}
