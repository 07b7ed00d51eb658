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

        /// <summary>The drop-in Set-TcpKeepAliveSetting -Persist writes.</summary>
        internal static string RenderDropIn(IEnumerable<KeyValuePair<string, long>> values, TimeSpan detectionTime, DateTime writtenUtc)
        {
            var sb = new StringBuilder();
            sb.Append("# TCP keepalive, written by CloseWait (Set-TcpKeepAliveSetting -Persist) on ")
              .Append(writtenUtc.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)).Append('\n');
            sb.Append("# Applied at boot by systemd-sysctl and by `sysctl --system`; files sorting after this one,\n");
            sb.Append("# and /etc/sysctl.conf, override it. A dead peer on an idle connection is noticed after ")
              .Append(detectionTime.ToString("c", CultureInfo.InvariantCulture)).Append(".\n");
            foreach (var kv in values)
            {
                sb.Append(kv.Key).Append(" = ").Append(kv.Value.ToString(CultureInfo.InvariantCulture)).Append('\n');
            }

            return sb.ToString();
        }
    }
}
