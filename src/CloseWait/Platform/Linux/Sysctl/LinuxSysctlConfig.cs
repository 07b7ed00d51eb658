using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace CloseWait.Platform.Linux
{
    /// <summary>
    /// The persisted sysctl configuration as procps' `sysctl --system` (and, for the sysctl.d
    /// directories, systemd-sysctl at boot) applies it: the value a reboot brings. Pure parsing and
    /// ordering, plus a loader that reads the files under a root directory so tests use a scratch tree.
    /// </summary>
    internal static class LinuxSysctlConfig
    {
        /// <summary>procps 4's order. A file name seen in an earlier directory hides the same name in later ones.</summary>
        internal static readonly string[] SystemDirectories =
        {
            "/etc/sysctl.d",
            "/run/sysctl.d",
            "/usr/local/lib/sysctl.d",
            "/usr/lib/sysctl.d",
            "/lib/sysctl.d",
        };

        /// <summary>Applied last, after every sysctl.d file.</summary>
        internal const string MainFile = "/etc/sysctl.conf";

        private static readonly char[] Separators = { '/', '.' };
        private static readonly char[] GlobCharacters = { '*', '?', '[' };

        /// <summary>One line of a sysctl configuration file.</summary>
        internal sealed class Assignment
        {
            public Assignment(string file, int line, string key, string? value, bool exclude)
            {
                File = file;
                Line = line;
                Key = key;
                Path = ToPath(key);
                Value = value;
                Exclude = exclude;
            }

            public string File { get; }

            public int Line { get; }

            /// <summary>The key as written, without a leading '-'.</summary>
            public string Key { get; }

            /// <summary>The key as a path below /proc/sys ("net/ipv4/tcp_keepalive_time").</summary>
            public string Path { get; }

            /// <summary>The value; null for an exclusion ("-key" alone: do not set keys a glob would set).</summary>
            public string? Value { get; }

            public bool Exclude { get; }

            public bool IsGlob => Key.IndexOfAny(GlobCharacters) >= 0;

            public string Where => File + ":" + Line.ToString(CultureInfo.InvariantCulture);
        }

        /// <summary>
        /// sysctl --system's file order: the *.conf names of every directory, the first directory
        /// holding a name winning, sorted by name byte-wise (strcmp, whatever their directory); then
        /// the main file when there is one.
        /// </summary>
        internal static List<string> OrderFiles(IEnumerable<KeyValuePair<string, IEnumerable<string>>> listings, string? mainFile)
        {
            var byName = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var listing in listings)
            {
                foreach (string name in listing.Value)
                {
                    if (name.EndsWith(".conf", StringComparison.Ordinal) && !byName.ContainsKey(name))
                    {
                        byName.Add(name, listing.Key.TrimEnd('/') + "/" + name);
                    }
                }
            }

            var ordered = byName.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Value).ToList();
            if (mainFile != null)
            {
                ordered.Add(mainFile);
            }

            return ordered;
        }

        /// <summary>
        /// Parses one file as procps does: blank lines and lines starting with # or ; are skipped;
        /// "key = value"; "-key = value" (ignore a failure to set it); "-key" alone (exclude the key
        /// from globs); keys in dotted or slash form; globs (*, ?, [...]) in keys.
        /// </summary>
        internal static IEnumerable<Assignment> Parse(string file, TextReader reader)
        {
            int number = 0;
            for (string? line = reader.ReadLine(); line != null; line = reader.ReadLine())
            {
                number++;
                string text = line.TrimStart();
                if (text.Length < 2 || text[0] == '#' || text[0] == ';')
                {
                    continue;
                }

                int eq = text.IndexOf('=');
                if (eq < 0)
                {
                    if (text[0] == '-')
                    {
                        yield return new Assignment(file, number, text.Substring(1).TrimEnd(), null, exclude: true);
                    }

                    continue; // procps warns "invalid syntax" and carries on
                }

                string key = text.Substring(0, eq);
                if (key.Length > 0 && key[0] == '-')
                {
                    key = key.Substring(1);
                }

                key = key.TrimEnd();
                if (key.Length > 0)
                {
                    yield return new Assignment(file, number, key, text.Substring(eq + 1).Trim(), exclude: false);
                }
            }
        }

        /// <summary>
        /// The assignment that sets <paramref name="key"/> last once every file is applied, null when
        /// none does: the last plain assignment of the key wins; without one, an exclusion of the key
        /// leaves it alone, else the last glob that matches it.
        /// </summary>
        internal static Assignment? Resolve(IReadOnlyList<Assignment> assignments, string key)
        {
            string path = ToPath(key);
            Assignment? literal = assignments.LastOrDefault(a => !a.Exclude && !a.IsGlob && a.Path == path);
            if (literal != null)
            {
                return literal;
            }

            if (assignments.Any(a => a.Exclude && (a.IsGlob ? GlobMatch(a.Path, path) : a.Path == path)))
            {
                return null;
            }

            return assignments.LastOrDefault(a => !a.Exclude && a.IsGlob && GlobMatch(a.Path, path));
        }

        /// <summary>
        /// Every assignment of the persisted configuration under <paramref name="root"/> ("/" for the
        /// system), in the order sysctl --system applies them. Files that cannot be read are skipped,
        /// as sysctl --system skips them.
        /// </summary>
        internal static List<Assignment> Load(string root)
        {
            var listings = new List<KeyValuePair<string, IEnumerable<string>>>();
            foreach (string dir in SystemDirectories)
            {
                string full = Under(root, dir);
                if (Directory.Exists(full))
                {
                    listings.Add(new KeyValuePair<string, IEnumerable<string>>(full,
                        Directory.EnumerateFileSystemEntries(full).Select(p => System.IO.Path.GetFileName(p)!).ToList()));
                }
            }

            string main = Under(root, MainFile);
            var result = new List<Assignment>();
            foreach (string file in OrderFiles(listings, File.Exists(main) ? main : null))
            {
                try
                {
                    using var reader = new StreamReader(file, Encoding.UTF8);
                    result.AddRange(Parse(file, reader).ToList());
                }
                catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
                {
                }
            }

            return result;
        }

        /// <summary>A path of the system layout below <paramref name="root"/>.</summary>
        internal static string Under(string root, string systemPath) =>
            root == "/" ? systemPath : System.IO.Path.Combine(root, systemPath.TrimStart('/'));

        /// <summary>A decimal integer as the kernel's proc_dointvec reads it; false for anything else.</summary>
        internal static bool TryParseValue(string? value, out long result)
        {
            result = 0;
            string v = (value ?? string.Empty).Trim();
            int start = v.StartsWith("-", StringComparison.Ordinal) ? 1 : 0;
            if (v.Length == start)
            {
                return false;
            }

            for (int i = start; i < v.Length; i++)
            {
                if (v[i] < '0' || v[i] > '9')
                {
                    return false;
                }
            }

            return long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out result);
        }

        /// <summary>
        /// A key's path below /proc/sys, as procps builds it: a leading '/' dropped; when the first
        /// separator is a dot, dots and slashes swap ("net.ipv4.conf.eth0/100.rp_filter" is
        /// "net/ipv4/conf/eth0.100/rp_filter"); when it is a slash the key already is a path.
        /// </summary>
        internal static string ToPath(string key)
        {
            string k = key.StartsWith("/", StringComparison.Ordinal) ? key.Substring(1) : key;
            int first = k.IndexOfAny(Separators);
            if (first < 0 || k[first] == '/')
            {
                return k;
            }

            var chars = k.ToCharArray();
            for (int i = 0; i < chars.Length; i++)
            {
                chars[i] = chars[i] == '.' ? '/' : chars[i] == '/' ? '.' : chars[i];
            }

            return new string(chars);
        }

        /// <summary>glob(3) matching of one path: * and ? never cross a '/', [...] is a class ([!...] or [^...] negated).</summary>
        internal static bool GlobMatch(string pattern, string path) => GlobMatch(pattern, 0, path, 0);

        private static bool GlobMatch(string p, int pi, string s, int si)
        {
            while (pi < p.Length)
            {
                char c = p[pi];
                if (c == '*')
                {
                    for (int k = si; ; k++)
                    {
                        if (GlobMatch(p, pi + 1, s, k))
                        {
                            return true;
                        }

                        if (k >= s.Length || s[k] == '/')
                        {
                            return false;
                        }
                    }
                }

                if (si >= s.Length)
                {
                    return false;
                }

                if (c == '?')
                {
                    if (s[si] == '/')
                    {
                        return false;
                    }
                }
                else if (c == '[' && TryClass(p, pi, s[si], out bool matched, out int next))
                {
                    if (!matched || s[si] == '/')
                    {
                        return false;
                    }

                    pi = next;
                    si++;
                    continue;
                }
                else if (c != s[si])
                {
                    return false;
                }

                pi++;
                si++;
            }

            return si == s.Length;
        }

        /// <summary>Reads the class starting at p[start] == '['; false when it is not closed (then '[' is literal).</summary>
        private static bool TryClass(string p, int start, char ch, out bool matched, out int next)
        {
            int i = start + 1;
            bool negate = i < p.Length && (p[i] == '!' || p[i] == '^');
            if (negate)
            {
                i++;
            }

            bool hit = false;
            bool first = true;
            while (i < p.Length && (p[i] != ']' || first))
            {
                first = false;
                if (i + 2 < p.Length && p[i + 1] == '-' && p[i + 2] != ']')
                {
                    hit |= ch >= p[i] && ch <= p[i + 2];
                    i += 3;
                }
                else
                {
                    hit |= ch == p[i];
                    i++;
                }
            }

            matched = hit != negate;
            next = i + 1;
            return i < p.Length;
        }

        /// <summary>
        /// The drop-in a -Persist writes: <paramref name="existing"/> (the file as it is, null when there
        /// is none) with every line that sets one of our keys rewritten in place to our value, our
        /// keys it lacks appended, and everything else (other keys, comments, blank lines) kept as it
        /// was. A new file starts with <paramref name="header"/> (comment lines, each without '#').
        /// </summary>
        internal static string MergeDropIn(string? existing, IReadOnlyList<KeyValuePair<string, string>> values, IEnumerable<string> header)
        {
            var sb = new StringBuilder();
            var written = new HashSet<string>(StringComparer.Ordinal);
            if (existing == null)
            {
                foreach (string line in header)
                {
                    sb.Append("# ").Append(line).Append('\n');
                }
            }
            else
            {
                string[] lines = existing.Split('\n');
                int count = existing.EndsWith("\n", StringComparison.Ordinal) ? lines.Length - 1 : lines.Length;
                for (int i = 0; i < count; i++)
                {
                    string line = lines[i];
                    var mine = OursOn(line, values);
                    if (mine == null)
                    {
                        sb.Append(line).Append('\n');
                        continue;
                    }

                    // Every line of ours gets our value: a later duplicate would otherwise win at boot.
                    sb.Append(mine.Value.Key).Append(" = ").Append(mine.Value.Value).Append('\n');
                    written.Add(mine.Value.Key);
                }
            }

            foreach (var kv in values)
            {
                if (!written.Contains(kv.Key))
                {
                    sb.Append(kv.Key).Append(" = ").Append(kv.Value).Append('\n');
                }
            }

            return sb.ToString();
        }

        /// <summary>The key of ours a line sets (plainly, not through a glob), with our value; null for any other line.</summary>
        private static KeyValuePair<string, string>? OursOn(string line, IReadOnlyList<KeyValuePair<string, string>> values)
        {
            var parsed = Parse(string.Empty, new StringReader(line)).FirstOrDefault();
            if (parsed == null || parsed.Exclude || parsed.IsGlob)
            {
                return null;
            }

            foreach (var kv in values)
            {
                if (ToPath(kv.Key) == parsed.Path)
                {
                    return kv;
                }
            }

            return null;
        }

        /// <summary>The file a path finally names, following symbolic links (at most 40, as the kernel does).</summary>
        internal static string ThroughLinks(string path, string idPrefix)
        {
            string current = path;
            for (int hop = 0; hop < 40; hop++)
            {
                string? link = LinuxNetworkNamespace.ReadLink(current);
                if (link == null)
                {
                    return current;
                }

                current = System.IO.Path.GetFullPath(System.IO.Path.IsPathRooted(link) ? link : System.IO.Path.Combine(System.IO.Path.GetDirectoryName(current)!, link));
            }

            throw new CloseWaitException(idPrefix + "PersistFailed", System.Management.Automation.ErrorCategory.InvalidData,
                $"{path} is a symbolic link that leads through more than 40 links (a loop?): fix or remove the link, then persist again. Nothing was written.", path);
        }

        /// <summary>
        /// Writes <paramref name="values"/> into the drop-in <paramref name="target"/> (see <see cref="MergeDropIn"/>)
        /// atomically: a temporary file in the same directory, flushed to disk, renamed over the old one.
        /// An existing file that cannot be read is refused rather than replaced. Errors carry ids
        /// <paramref name="idPrefix"/> + PermissionDenied, ReadOnly or PersistFailed; <paramref name="what"/>
        /// names the settings ("keepalive") in their messages.
        /// </summary>
        internal static void WriteDropIn(string target, IReadOnlyList<KeyValuePair<string, string>> values, IEnumerable<string> header, string idPrefix, string what)
        {
            // A drop-in that is a symbolic link (kept in a configuration repository, say) is written
            // through: renaming over the link itself would replace it with a regular file and leave
            // its target stale.
            target = ThroughLinks(target, idPrefix);
            string dir = System.IO.Path.GetDirectoryName(target)!;
            try
            {
                Directory.CreateDirectory(dir);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw new CloseWaitException(e is UnauthorizedAccessException ? idPrefix + "PermissionDenied" : idPrefix + "PersistFailed",
                    e is UnauthorizedAccessException ? System.Management.Automation.ErrorCategory.PermissionDenied : System.Management.Automation.ErrorCategory.WriteError,
                    $"Cannot create {dir}: {e.Message} Writing the persistent {what} needs root: run elevated (sudo). Nothing was written.", target, e);
            }

            string? existing = null;
            if (File.Exists(target))
            {
                try
                {
                    existing = File.ReadAllText(target, new UTF8Encoding(false, true));
                }
                catch (Exception e) when (e is IOException || e is UnauthorizedAccessException || e is DecoderFallbackException)
                {
                    throw new CloseWaitException(idPrefix + "PersistFailed", System.Management.Automation.ErrorCategory.ReadError,
                        $"Cannot read {target}, which already exists, so its other lines cannot be kept: {e.Message} Fix or move the file, then persist again. Nothing was written.", target, e);
                }
            }

            byte[] text = new UTF8Encoding(false).GetBytes(MergeDropIn(existing, values, header));
            string temp = System.IO.Path.Combine(dir, "." + System.IO.Path.GetFileName(target) + "." + Guid.NewGuid().ToString("N") + ".tmp");
            int fd = Interop.Libc.open(temp, Interop.Libc.O_WRONLY | Interop.Libc.O_CREAT | Interop.Libc.O_EXCL | Interop.Libc.O_CLOEXEC, DropInMode);
            if (fd < 0)
            {
                throw PersistFailure(target, LinuxErrno.Last(), idPrefix, what);
            }

            int errno = 0;
            try
            {
                if (!LinuxProcSys.WriteAll(fd, text) || Interop.Libc.fchmod(fd, DropInMode) != 0 || Interop.Libc.fsync(fd) != 0)
                {
                    errno = LinuxErrno.Last();
                }
            }
            finally
            {
                if (Interop.Libc.close(fd) != 0 && errno == 0)
                {
                    errno = LinuxErrno.Last();
                }
            }

            if (errno == 0 && Interop.Libc.rename(temp, target) != 0)
            {
                errno = LinuxErrno.Last();
            }

            if (errno != 0)
            {
                Interop.Libc.unlink(temp);
                throw PersistFailure(target, errno, idPrefix, what);
            }

            // Makes the rename itself durable; a failure here leaves a correct file, so it is not reported.
            int dirFd = Interop.Libc.open(dir, Interop.Libc.O_RDONLY | Interop.Libc.O_DIRECTORY | Interop.Libc.O_CLOEXEC);
            if (dirFd >= 0)
            {
                Interop.Libc.fsync(dirFd);
                Interop.Libc.close(dirFd);
            }
        }

        private const int DropInMode = 0x1A4; // 0644

        private static CloseWaitException PersistFailure(string target, int errno, string idPrefix, string what)
        {
            string message = $"Cannot write {target}: {LinuxErrno.Describe(errno)}.";
            switch (errno)
            {
                case Interop.Libc.EACCES:
                case Interop.Libc.EPERM:
                    return new CloseWaitException(idPrefix + "PermissionDenied", System.Management.Automation.ErrorCategory.PermissionDenied,
                        message + $" Writing the persistent {what} needs root: run elevated (sudo).", target) { NativeError = errno };
                case Interop.Libc.EROFS:
                    return new CloseWaitException(idPrefix + "ReadOnly", System.Management.Automation.ErrorCategory.WriteError,
                        message + " The file system is read-only: persist the values where this system's configuration is built (an image, a configuration manager).", target) { NativeError = errno };
                default:
                    return new CloseWaitException(idPrefix + "PersistFailed", System.Management.Automation.ErrorCategory.WriteError, message, target) { NativeError = errno };
            }
        }

        /// <summary>How a sysctl's handler reads an integer: which conversion, and its bounds.</summary>
        internal enum KernelIntKind
        {
            /// <summary>proc_dointvec: any int.</summary>
            Int,

            /// <summary>proc_dointvec_jiffies: seconds, either sign, at most INT_MAX/HZ in size.</summary>
            Jiffies,

            /// <summary>proc_dou8vec_minmax (and proc_dointvec_minmax with bounds): no sign, within the bounds.</summary>
            Bounded,
        }

        /// <summary>
        /// What the kernel stores when procps' sysctl writes <paramref name="configValue"/> (the text
        /// after '=' of a configuration line) to a one-integer sysctl; false when the kernel refuses it.
        /// procps writes the value with leading blanks stripped and a newline; the kernel
        /// (kernel/sysctl.c, proc_get_long) skips white space, takes an optional '-', needs a digit,
        /// reads the number as strtoul base 0 does (0x… hex, 0… octal), fails on overflow or 21
        /// characters, needs a blank, tab or newline after it, and ignores whatever follows (so an
        /// inline "# comment" after a blank is harmless, "300#x" is refused). Then the handler's
        /// conversion: proc_dointvec an int; proc_dointvec_jiffies at most INT_MAX/HZ either sign
        /// (<paramref name="hz"/> null: the bound for the smallest HZ, 100, the largest any kernel
        /// takes); bounded handlers no sign and within [min, max].
        /// </summary>
        internal static bool TryKernelInt(string? configValue, KernelIntKind kind, long min, long max, int? hz, out long value)
        {
            value = 0;
            string s = (configValue ?? string.Empty) + "\n";
            int i = 0;
            while (i < s.Length && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')))
            {
                i++;
            }

            int start = i;
            int remaining = s.Length - i;
            if (remaining == 0)
            {
                return false;
            }

            bool negative = false;
            if (s[i] == '-' && remaining > 1)
            {
                negative = true;
                i++;
            }

            if (i >= s.Length || s[i] < '0' || s[i] > '9')
            {
                return false;
            }

            int numberBase = 10;
            if (s[i] == '0')
            {
                if (i + 2 < s.Length && (s[i + 1] == 'x' || s[i + 1] == 'X') && Uri.IsHexDigit(s[i + 2]))
                {
                    numberBase = 16;
                    i += 2;
                }
                else
                {
                    numberBase = 8;
                }
            }

            ulong magnitude = 0;
            for (; i < s.Length; i++)
            {
                char c = char.ToLowerInvariant(s[i]);
                int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : 99;
                if (digit >= numberBase)
                {
                    break;
                }

                if (magnitude > (ulong.MaxValue - (ulong)digit) / (ulong)numberBase)
                {
                    return false; // strtoul_lenient: -ERANGE
                }

                magnitude = (magnitude * (ulong)numberBase) + (ulong)digit;
            }

            // TMPBUFLEN 22: a number as long as the 21-character window could run on past it.
            if (i - start >= 21 || (s[i] != ' ' && s[i] != '\t' && s[i] != '\n'))
            {
                return false;
            }

            switch (kind)
            {
                case KernelIntKind.Int:
                    if (negative ? magnitude > (ulong)int.MaxValue + 1 : magnitude > int.MaxValue)
                    {
                        return false;
                    }

                    break;
                case KernelIntKind.Jiffies:
                    if (magnitude > (ulong)(int.MaxValue / (hz ?? 100)))
                    {
                        return false;
                    }

                    break;
                default:
                    if (negative)
                    {
                        return false;
                    }

                    if (magnitude > (ulong)long.MaxValue || (long)magnitude < min || (long)magnitude > max)
                    {
                        return false;
                    }

                    break;
            }

            value = negative ? -(long)magnitude : (long)magnitude;
            return true;
        }

        /// <summary>The kernel's timer frequency (CONFIG_HZ) from /proc/config.gz or /boot/config-&lt;release&gt;; null when neither says.</summary>
        internal static int? KernelHz => Hz.Value;

        private static readonly Lazy<int?> Hz = new Lazy<int?>(ReadHz);

        private static int? ReadHz()
        {
            try
            {
                if (File.Exists("/proc/config.gz"))
                {
                    using var gz = new System.IO.Compression.GZipStream(File.OpenRead("/proc/config.gz"), System.IO.Compression.CompressionMode.Decompress);
                    return FindHz(new StreamReader(gz));
                }

                string release = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
                string boot = "/boot/config-" + release;
                if (File.Exists(boot))
                {
                    using var reader = new StreamReader(boot);
                    return FindHz(reader);
                }
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException || e is InvalidDataException)
            {
            }

            return null;
        }

        internal static int? FindHz(TextReader reader)
        {
            for (string? line = reader.ReadLine(); line != null; line = reader.ReadLine())
            {
                if (line.StartsWith("CONFIG_HZ=", StringComparison.Ordinal) &&
                    int.TryParse(line.Substring(10), NumberStyles.None, CultureInfo.InvariantCulture, out int hz) && hz > 0)
                {
                    return hz;
                }
            }

            return null;
        }

        /// <summary>The keepalive drop-in's header lines.</summary>
        internal static string[] KeepAliveHeader(TimeSpan detectionTime, DateTime writtenUtc) => new[]
        {
            "TCP keepalive, written by CloseWait (Set-TcpKeepAliveSetting -Persist) on " + writtenUtc.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            "Applied at boot by systemd-sysctl and by `sysctl --system`; files sorting after this one,",
            "and /etc/sysctl.conf, override it. A dead peer on an idle connection is noticed after " + detectionTime.ToString("c", CultureInfo.InvariantCulture) + ".",
        };

        /// <summary>The drop-in Set-TcpKeepAliveSetting -Persist writes when none exists yet.</summary>
        internal static string RenderDropIn(IEnumerable<KeyValuePair<string, long>> values, TimeSpan detectionTime, DateTime writtenUtc) =>
            MergeDropIn(null, values.Select(kv => new KeyValuePair<string, string>(kv.Key, kv.Value.ToString(CultureInfo.InvariantCulture))).ToList(),
                KeepAliveHeader(detectionTime, writtenUtc));
    }
}
