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

        /// <summary>
        /// The inode of the network namespace: the process's own for null, else the named one (read
        /// from a thread that joined it); null when it cannot be read.
        /// </summary>
        internal static ulong? NamespaceInode(string? networkNamespace)
        {
            try
            {
                return networkNamespace == null
                    ? InodeOfLink("/proc/self/ns/net")
                    : LinuxNetworkNamespace.Run(networkNamespace, () => InodeOfLink("/proc/thread-self/ns/net"));
            }
            catch (CloseWaitException)
            {
                return null;
            }
        }

        private static ulong? InodeOfLink(string path) => LinuxNetworkNamespace.ParseNamespaceLink(LinuxNetworkNamespace.ReadLink(path));
    }
}
