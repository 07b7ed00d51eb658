using System;
using System.Runtime.InteropServices;

namespace CloseWait.Platform.Linux
{
    internal static class LinuxErrno
    {
        /// <summary>"Permission denied (errno 13)"; safe to call off Linux (tests decode captured bytes anywhere).</summary>
        internal static string Describe(int errno)
        {
            string text;
            try
            {
                text = RuntimeInformation.IsOSPlatform(OSPlatform.Linux) ? Interop.Libc.StrError(errno) : "error";
            }
            catch (Exception e) when (e is DllNotFoundException || e is EntryPointNotFoundException)
            {
                text = "error";
            }

            return $"{text} (errno {errno})";
        }

        internal static int Last() => Marshal.GetLastWin32Error();
    }
}
