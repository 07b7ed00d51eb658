using System;
using System.Globalization;
using System.IO;
using System.Text;

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
                    ? ReadNamespaceLink("/proc/self/ns/net")
                    : LinuxNetworkNamespace.Run(networkNamespace, () => ReadNamespaceLink("/proc/thread-self/ns/net"));
            }
            catch (CloseWaitException)
            {
                return null;
            }
        }

        /// <summary>"net:[4026531840]" (what /proc/*/ns/net links to) into its inode.</summary>
        internal static ulong? ParseNamespaceLink(string link)
        {
            const string Prefix = "net:[";
            if (!link.StartsWith(Prefix, StringComparison.Ordinal) || !link.EndsWith("]", StringComparison.Ordinal))
            {
                return null;
            }

            string digits = link.Substring(Prefix.Length, link.Length - Prefix.Length - 1);
            return ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out ulong inode) ? inode : (ulong?)null;
        }

        private static unsafe ulong? ReadNamespaceLink(string path)
        {
            byte[] name = Encoding.ASCII.GetBytes(path + "\0");
            var link = new byte[64];
            fixed (byte* p = name)
            fixed (byte* l = link)
            {
                long n = (long)Interop.Libc.readlinkat(Interop.Libc.AT_FDCWD, p, l, (IntPtr)link.Length);
                return n > 0 ? ParseNamespaceLink(Encoding.ASCII.GetString(link, 0, (int)n)) : null;
            }
        }
    }
}
