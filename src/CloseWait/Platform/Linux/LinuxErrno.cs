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

        /// <summary>
        /// What to do about EPERM/EACCES. As root, "run as root" is wrong advice: what refuses then is
        /// something root cannot pass (a user namespace that does not own the resource, a security
        /// module, a seccomp profile).
        /// </summary>
        internal static string PermissionAdvice(string need, string alternative = "") =>
            PlatformServices.IsPrivileged
                ? $"This already runs as root, so something root cannot pass refuses it: a user namespace without {need} over the target, a security module (SELinux, AppArmor) or a seccomp profile.{alternative}"
                : $"Run as root (sudo).{alternative}";

        internal static int Last() => Marshal.GetLastWin32Error();
    }
}
