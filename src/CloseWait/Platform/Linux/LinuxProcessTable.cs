using System;
using System.Globalization;
using System.IO;
using System.Text;

namespace CloseWait.Platform.Linux
{
    /// <summary>
    /// Process facts from procfs: the parent from /proc/&lt;pid&gt;/stat (the field after the
    /// parenthesised comm, which may itself hold spaces and parentheses: proc(5)), the name from
    /// comm, the executable from the exe link and the arguments from cmdline (NUL-separated).
    /// </summary>
    internal sealed class LinuxProcessTable : IProcessTable
    {
        /// <summary>Enough of a command line to recognise the software; the rest is not read.</summary>
        private const int CommandLineLimit = 4096;

        public bool GivesParents => true;

        public ProcessFacts? Get(int pid)
        {
            string dir = Path.Combine(LinuxOwnerResolver.ProcRoot, pid.ToString(CultureInfo.InvariantCulture));
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(dir, "stat"));
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                return null;
            }

            if (!TryParseStat(stat, out string? name, out int? parent))
            {
                return null;
            }

            return new ProcessFacts(pid, parent, LinuxOwnerResolver.ReadComm(pid) ?? name, ReadExe(dir), ReadCommandLine(dir));
        }

        /// <summary>Name and parent PID from the text of /proc/&lt;pid&gt;/stat: "pid (comm) state ppid ...".</summary>
        internal static bool TryParseStat(string stat, out string? name, out int? parent)
        {
            name = null;
            parent = null;
            int open = stat.IndexOf('(');
            int close = stat.LastIndexOf(')');
            if (open < 0 || close < open)
            {
                return false;
            }

            name = stat.Substring(open + 1, close - open - 1);
            string[] rest = stat.Substring(close + 1).Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
            if (rest.Length < 2 || !int.TryParse(rest[1], NumberStyles.None, CultureInfo.InvariantCulture, out int ppid))
            {
                return false;
            }

            parent = ppid;
            return true;
        }

        private static string? ReadExe(string dir) => LinuxNetworkNamespace.ReadLink(Path.Combine(dir, "exe"));

        private static string? ReadCommandLine(string dir)
        {
            try
            {
                using (var f = new FileStream(Path.Combine(dir, "cmdline"), FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.None))
                {
                    var buffer = new byte[CommandLineLimit];
                    int n = 0, read;
                    while (n < buffer.Length && (read = f.Read(buffer, n, buffer.Length - n)) > 0)
                    {
                        n += read;
                    }

                    return n == 0 ? null : Encoding.UTF8.GetString(buffer, 0, n).TrimEnd('\0').Replace('\0', ' ');
                }
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                return null;
            }
        }
    }
}
