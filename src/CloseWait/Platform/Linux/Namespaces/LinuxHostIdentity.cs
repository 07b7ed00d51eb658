using System;
using System.IO;

namespace CloseWait.Platform.Linux
{
    /// <summary>
    /// Which kernel and boot listed a socket (the kernel numbers socket cookies per boot) and which
    /// network namespace it lives in, read from the kernel's own files.
    /// </summary>
    internal static class LinuxHostIdentity
    {
        /// <summary>A random UUID the kernel draws at every boot; the same in every namespace.</summary>
        internal const string BootIdPath = "/proc/sys/kernel/random/boot_id";

        internal static string? ReadBootId()
        {
            try
            {
                string id = File.ReadAllText(BootIdPath).Trim();
                return id.Length == 0 ? null : id;
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                return null;
            }
        }

    }
}
