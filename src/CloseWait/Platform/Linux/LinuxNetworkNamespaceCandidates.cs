using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;

namespace CloseWait.Platform.Linux
{
    /// <summary>
    /// What -NetworkNamespace can name, for tab completion: `ip netns` names under /run/netns, and
    /// one process per network namespace other than the caller's (a container's), the lowest PID.
    /// Best effort: whatever cannot be read is left out.
    /// </summary>
    internal static class LinuxNetworkNamespaceCandidates
    {
        internal const string NamedDirectory = "/run/netns";

        internal static IEnumerable<string> Names()
        {
            string[] files;
            try
            {
                files = Directory.GetFiles(NamedDirectory);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                yield break;
            }

            Array.Sort(files, StringComparer.Ordinal);
            foreach (string f in files)
            {
                yield return Path.GetFileName(f);
            }
        }

        /// <summary>(PID, namespace link such as "net:[4026532290]") for each namespace but the caller's, lowest PID first.</summary>
        internal static IList<KeyValuePair<int, string>> OtherNamespaceProcesses()
        {
            var found = new List<KeyValuePair<int, string>>();
            string? own = ReadLink("/proc/self/ns/net");
            if (own == null)
            {
                return found;
            }

            var pids = new List<int>();
            foreach (string dir in Directory.GetDirectories("/proc"))
            {
                if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
                {
                    pids.Add(pid);
                }
            }

            pids.Sort();
            var seen = new HashSet<string>(StringComparer.Ordinal) { own };
            foreach (int pid in pids)
            {
                string? ns = ReadLink("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/ns/net");
                if (ns != null && seen.Add(ns))
                {
                    found.Add(new KeyValuePair<int, string>(pid, ns));
                }
            }

            return found;
        }

        private static unsafe string? ReadLink(string path)
        {
            byte[] name = Encoding.ASCII.GetBytes(path + "\0");
            var link = new byte[64];
            fixed (byte* p = name)
            fixed (byte* l = link)
            {
                long n = (long)Interop.Libc.readlinkat(Interop.Libc.AT_FDCWD, p, l, (IntPtr)link.Length);
                return n > 0 ? Encoding.ASCII.GetString(link, 0, (int)n) : null;
            }
        }
    }
}
