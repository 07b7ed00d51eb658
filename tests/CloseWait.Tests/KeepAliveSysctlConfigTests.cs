using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using CloseWait.Platform.Linux;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>
    /// The persisted sysctl configuration read as `sysctl --system` applies it: file order, parsing,
    /// which assignment wins, and the Linux store's after-reboot values and drop-in over a scratch tree.
    /// </summary>
    public sealed class KeepAliveSysctlConfigTests
    {
        private const string TimeKey = "net.ipv4.tcp_keepalive_time";

        private static List<LinuxSysctlConfig.Assignment> Parse(string text, string file = "/etc/sysctl.d/x.conf") =>
            LinuxSysctlConfig.Parse(file, new StringReader(text)).ToList();

        private static KeyValuePair<string, IEnumerable<string>> Dir(string dir, params string[] names) =>
            new KeyValuePair<string, IEnumerable<string>>(dir, names);

        [Fact]
        public void FilesAreOrderedByNameAcrossDirectoriesAndTheFirstDirectoryWinsAName()
        {
            var order = LinuxSysctlConfig.OrderFiles(new[]
            {
                Dir("/etc/sysctl.d", "60-b.conf", "10-a.conf", "README", "99-sysctl.conf", "x.conf.bak"),
                Dir("/run/sysctl.d", "10-a.conf", "50-run.conf"),
                Dir("/usr/local/lib/sysctl.d", "Z-upper.conf"),
                Dir("/usr/lib/sysctl.d", "50-run.conf", "50-pid-max.conf", "10-a.conf"),
                Dir("/lib/sysctl.d", "50-pid-max.conf", "99-protect-links.conf"),
            }, "/etc/sysctl.conf");

            Assert.Equal(new[]
            {
                "/etc/sysctl.d/10-a.conf",
                "/usr/lib/sysctl.d/50-pid-max.conf",
                "/run/sysctl.d/50-run.conf",
                "/etc/sysctl.d/60-b.conf",
                "/lib/sysctl.d/99-protect-links.conf",
                "/etc/sysctl.d/99-sysctl.conf",
                "/usr/local/lib/sysctl.d/Z-upper.conf", // strcmp: 'Z' (0x5A) sorts after digits
                "/etc/sysctl.conf",
            }, order);
        }

        [Fact]
        public void UppercaseSortsBeforeLowercaseAsStrcmpDoes()
        {
            var order = LinuxSysctlConfig.OrderFiles(new[] { Dir("/etc/sysctl.d", "a.conf", "B.conf", "_.conf") }, null);
            Assert.Equal(new[] { "/etc/sysctl.d/B.conf", "/etc/sysctl.d/_.conf", "/etc/sysctl.d/a.conf" }, order);
        }

        [Fact]
        public void LinesParseAsProcpsReadsThem()
        {
            var a = Parse(
                "# comment\n" +
                "; also a comment\n" +
                "\n" +
                "   net.ipv4.tcp_keepalive_time   =   300   \n" +
                "-net.ipv4.tcp_keepalive_intvl=30\n" +
                "net/ipv4/tcp_keepalive_probes = 5\n" +
                "-net.ipv4.conf.*.rp_filter\n" +
                "not an assignment\n" +
                "kernel.domainname = example.com with spaces\n" +
                "x\n");
            Assert.Equal(5, a.Count);
            Assert.Equal(("net.ipv4.tcp_keepalive_time", "net/ipv4/tcp_keepalive_time", "300", 4), (a[0].Key, a[0].Path, a[0].Value, a[0].Line));
            Assert.Equal(("net.ipv4.tcp_keepalive_intvl", "30", false), (a[1].Key, a[1].Value, a[1].Exclude));
            Assert.Equal("net/ipv4/tcp_keepalive_probes", a[2].Path);
            Assert.True(a[3].Exclude);
            Assert.True(a[3].IsGlob);
            Assert.Null(a[3].Value);
            Assert.Equal("example.com with spaces", a[4].Value);
            Assert.Equal("/etc/sysctl.d/x.conf:4", a[0].Where);
        }

        [Theory]
        [InlineData("net.ipv4.tcp_keepalive_time", "net/ipv4/tcp_keepalive_time")]
        [InlineData("net/ipv4/tcp_keepalive_time", "net/ipv4/tcp_keepalive_time")]
        [InlineData("/net/ipv4/tcp_keepalive_time", "net/ipv4/tcp_keepalive_time")]
        [InlineData("net.ipv4.conf.eth0/100.rp_filter", "net/ipv4/conf/eth0.100/rp_filter")]
        [InlineData("net/ipv4/conf/eth0.100/rp_filter", "net/ipv4/conf/eth0.100/rp_filter")]
        [InlineData("kernel", "kernel")]
        public void KeysBecomePathsAsProcpsSwapsSeparators(string key, string path) =>
            Assert.Equal(path, LinuxSysctlConfig.ToPath(key));

        [Theory]
        [InlineData("net/ipv4/tcp_keepalive_*", "net/ipv4/tcp_keepalive_time", true)]
        [InlineData("net/ipv4/tcp_keepalive_?ime", "net/ipv4/tcp_keepalive_time", true)]
        [InlineData("net/*/tcp_keepalive_time", "net/ipv4/tcp_keepalive_time", true)]
        [InlineData("net/*", "net/ipv4/tcp_keepalive_time", false)]
        [InlineData("net/ipv[46]/tcp_keepalive_time", "net/ipv4/tcp_keepalive_time", true)]
        [InlineData("net/ipv[!4]/tcp_keepalive_time", "net/ipv4/tcp_keepalive_time", false)]
        [InlineData("net/ipv[0-9]/tcp_keepalive_time", "net/ipv4/tcp_keepalive_time", true)]
        [InlineData("net/ipv4/tcp_keepalive_intvl", "net/ipv4/tcp_keepalive_time", false)]
        public void GlobsMatchOnePathComponentAtATime(string pattern, string path, bool match) =>
            Assert.Equal(match, LinuxSysctlConfig.GlobMatch(pattern, path));

        [Fact]
        public void TheLastPlainAssignmentWinsOverEveryGlob()
        {
            var all = Parse("net.ipv4.tcp_keepalive_time = 100\n", "/etc/sysctl.d/10.conf")
                .Concat(Parse("net.ipv4.tcp_keepalive_time = 200\nnet.ipv4.tcp_keepalive_* = 900\n", "/etc/sysctl.d/20.conf"))
                .ToList();
            var winner = LinuxSysctlConfig.Resolve(all, TimeKey)!;
            Assert.Equal("200", winner.Value);
            Assert.Equal("/etc/sysctl.d/20.conf:1", winner.Where);
            Assert.Equal("900", LinuxSysctlConfig.Resolve(all, "net.ipv4.tcp_keepalive_intvl")!.Value);
        }

        [Fact]
        public void AnExclusionKeepsGlobsOffAKey()
        {
            var all = Parse("net.ipv4.tcp_keepalive_* = 900\n-net.ipv4.tcp_keepalive_time\n");
            Assert.Null(LinuxSysctlConfig.Resolve(all, TimeKey));
            Assert.Equal("900", LinuxSysctlConfig.Resolve(all, "net.ipv4.tcp_keepalive_probes")!.Value);
            Assert.Null(LinuxSysctlConfig.Resolve(Parse("kernel.pid_max = 1\n"), TimeKey));
        }

        [Theory]
        [InlineData("300", true, 300)]
        [InlineData(" 300 \n", true, 300)]
        [InlineData("-5", true, -5)]
        [InlineData("3e2", false, 0)]
        [InlineData("300 # comment", false, 0)]
        [InlineData("", false, 0)]
        [InlineData(null, false, 0)]
        public void ValuesParseAsIntegersOnly(string? text, bool ok, long value)
        {
            Assert.Equal(ok, LinuxSysctlConfig.TryParseValue(text, out long parsed));
            Assert.Equal(value, parsed);
        }

        [LinuxFact(Procps = true)]
        public void TheDropInHoldsTheThreeKeysAndSaysWhen()
        {
            string text = LinuxSysctlConfig.RenderDropIn(new[]
            {
                new KeyValuePair<string, long>("net.ipv4.tcp_keepalive_time", 300),
                new KeyValuePair<string, long>("net.ipv4.tcp_keepalive_intvl", 30),
                new KeyValuePair<string, long>("net.ipv4.tcp_keepalive_probes", 5),
            }, TimeSpan.Parse("00:07:30"), new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc));
            Assert.Equal(
                "# TCP keepalive, written by CloseWait (Set-TcpKeepAliveSetting -Persist) on 2026-01-02T03:04:05Z\n" +
                "# Applied at boot by systemd-sysctl and by `sysctl --system`; files sorting after this one,\n" +
                "# and /etc/sysctl.conf, override it. A dead peer on an idle connection is noticed after 00:07:30.\n" +
                "net.ipv4.tcp_keepalive_time = 300\n" +
                "net.ipv4.tcp_keepalive_intvl = 30\n" +
                "net.ipv4.tcp_keepalive_probes = 5\n", text);
            var parsed = Parse(text);
            Assert.Equal(new[] { "300", "30", "5" }, parsed.Select(p => p.Value));
        }

        [Fact]
        public void LoadReadsTheSystemLayoutUnderARoot()
        {
            using var tree = new ScratchSysctlTree();
            tree.WriteConfig("usr/lib/sysctl.d/10-a.conf", "net.ipv4.tcp_keepalive_time = 100\n");
            tree.WriteConfig("etc/sysctl.d/10-a.conf", "net.ipv4.tcp_keepalive_time = 200\n");
            tree.WriteConfig("run/sysctl.d/20-b.conf", "net.ipv4.tcp_keepalive_probes = 4\n");
            tree.WriteConfig("etc/sysctl.conf", "net.ipv4.tcp_keepalive_probes = 6\n");
            tree.WriteConfig("etc/sysctl.d/30-skip.conf.disabled", "net.ipv4.tcp_keepalive_probes = 99\n");
            var all = LinuxSysctlConfig.Load(tree.ConfigRoot);
            Assert.Equal(new[] { "200", "4", "6" }, all.Select(a => a.Value));
            Assert.Equal(Path.Combine(tree.ConfigRoot, "etc/sysctl.d") + "/10-a.conf:1", LinuxSysctlConfig.Resolve(all, TimeKey)!.Where);
            Assert.Equal(Path.Combine(tree.ConfigRoot, "etc/sysctl.conf") + ":1", LinuxSysctlConfig.Resolve(all, "net.ipv4.tcp_keepalive_probes")!.Where);
        }

        [Fact]
        public void TheStoreReportsWhatARebootWouldChangeAndFromWhere()
        {
            using var tree = new ScratchSysctlTree(time: 300, interval: 75, probes: 5);
            string file = tree.WriteConfig("etc/sysctl.d/60-net.conf", "\nnet.ipv4.tcp_keepalive_probes = 7\n");
            var s = tree.Store().Read(null);
            Assert.Equal(TimeSpan.FromSeconds(300), s.Time);
            Assert.Equal(Path.Combine(tree.Proc, "tcp_keepalive_time"), s.TimeSource);
            Assert.Equal(TimeSpan.FromHours(2), s.TimeAfterReboot);
            Assert.Equal("kernel default", s.TimeAfterRebootSource);
            Assert.Null(s.IntervalAfterReboot); // 75 now and after a reboot
            Assert.Null(s.IntervalAfterRebootSource);
            Assert.Equal(7, s.ProbesAfterReboot);
            Assert.Equal(file + ":2", s.ProbesAfterRebootSource);
            Assert.True(s.ChangesAfterReboot);
            Assert.Null(s.NetworkNamespace);
        }

        [Fact]
        public void AValueTheKernelRefusesLeavesTheDefault()
        {
            using var tree = new ScratchSysctlTree(time: 300);
            string file = tree.WriteConfig("etc/sysctl.conf", "net.ipv4.tcp_keepalive_time = five minutes\n");
            var s = tree.Store().Read(null);
            Assert.Equal(TimeSpan.FromHours(2), s.TimeAfterReboot);
            Assert.Equal($"kernel default ({file}:1 sets 'five minutes', which the kernel refuses)", s.TimeAfterRebootSource);
        }

        [Fact]
        [System.Runtime.Versioning.SupportedOSPlatform("linux")]
        public void PersistWritesTheDropInAtomicallyAndLeavesOtherFilesAlone()
        {
            using var tree = new ScratchSysctlTree();
            tree.WriteConfig("etc/sysctl.conf", "kernel.pid_max = 4194304\n");
            tree.WriteConfig("etc/sysctl.d/10-other.conf", "net.core.somaxconn = 4096\n");
            File.WriteAllText(tree.DropIn, "net.ipv4.tcp_keepalive_time = 1\n"); // an older drop-in: replaced whole
            var before = tree.Snapshot();

            var store = tree.Store();
            store.Persist(new KeepAliveChange(TimeSpan.FromSeconds(300), TimeSpan.FromSeconds(30), 5));

            var after = tree.Snapshot();
            Assert.Equal(before.Keys.OrderBy(k => k), after.Keys.OrderBy(k => k)); // no temporary file left behind
            foreach (var kv in before.Where(kv => kv.Key != tree.DropIn))
            {
                Assert.Equal(kv.Value, after[kv.Key]);
            }

            var lines = File.ReadAllLines(tree.DropIn);
            Assert.Equal(new[] { "net.ipv4.tcp_keepalive_time = 300", "net.ipv4.tcp_keepalive_intvl = 30", "net.ipv4.tcp_keepalive_probes = 5" },
                lines.Where(l => !l.StartsWith("#", StringComparison.Ordinal)));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(tree.DropIn));

            var all = LinuxSysctlConfig.Load(tree.ConfigRoot);
            Assert.Equal("300", LinuxSysctlConfig.Resolve(all, TimeKey)!.Value);
            Assert.Equal("30", LinuxSysctlConfig.Resolve(all, "net.ipv4.tcp_keepalive_intvl")!.Value);
            Assert.Equal("5", LinuxSysctlConfig.Resolve(all, "net.ipv4.tcp_keepalive_probes")!.Value);
            Assert.Equal(tree.DropIn, store.PersistTarget);
        }

        [Fact]
        public void PersistCreatesAMissingSysctlDirectory()
        {
            using var tree = new ScratchSysctlTree();
            Directory.Delete(tree.SysctlD);
            tree.Store().Persist(new KeepAliveChange(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(10), 3));
            Assert.True(File.Exists(tree.DropIn));
        }

        [LinuxFact(Procps = true)]
        public void PersistIntoAnUnwritablePlaceFailsCleanly()
        {
            using var tree = new ScratchSysctlTree();
            Directory.Delete(tree.SysctlD);
            File.WriteAllText(tree.SysctlD, "a file where the directory should be");
            var e = Assert.Throws<CloseWaitException>(() => tree.Store().Persist(new KeepAliveChange(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(10), 3)));
            Assert.Equal(ErrorIds.KeepAlivePersistFailed, e.ErrorId);
            Assert.Contains(tree.SysctlD, e.Message);
        }

        /// <summary>
        /// The same files, read by this parser and by the real `sysctl --system --dry-run` in a
        /// private mount namespace where scratch directories stand in for every
        /// directory it reads: same-name files across directories, slash keys, globs, an
        /// exclusion, and /etc/sysctl.conf last must resolve the same way.
        /// </summary>
        [LinuxFact(Namespaces = true, Procps = true)]
        public void ThisParserAgreesWithSysctlSystem()
        {
            using var tree = new ScratchSysctlTree();
            var mounts = new List<string> { "mount --make-rprivate /", KeepAliveHost.ReadOnlyProcSysButNet };
            string Scratch(string relative) => KeepAliveHost.Sh(Path.Combine(tree.ConfigRoot, relative));

            tree.WriteConfig("etc/sysctl.d/05-early.conf", "net/ipv4/tcp_keepalive_intvl = 5\n");
            tree.WriteConfig("etc/sysctl.d/10-vendor.conf", "net.ipv4.tcp_keepalive_time = 2000\n");
            mounts.Add($"mount --bind {Scratch("etc/sysctl.d")} /etc/sysctl.d");

            // A vendor file hidden whole by the same name in /etc/sysctl.d: none of its values apply.
            if (Directory.Exists("/usr/lib/sysctl.d"))
            {
                tree.WriteConfig("usr/lib/sysctl.d/10-vendor.conf", "net.ipv4.tcp_keepalive_time = 1000\nnet.ipv4.tcp_keepalive_probes = 3\n");
                tree.WriteConfig("usr/lib/sysctl.d/40-glob.conf", "net.ipv4.tcp_keepalive_* = 4\n");
                mounts.Add($"mount --bind {Scratch("usr/lib/sysctl.d")} /usr/lib/sysctl.d");
            }

            if (Directory.Exists("/lib/sysctl.d") && new DirectoryInfo("/lib").LinkTarget == null)
            {
                mounts.Add("mount -t tmpfs none /lib/sysctl.d");
            }

            tree.WriteConfig("run/sysctl.d/20-run.conf", "-net.ipv4.tcp_keepalive_intvl = 20\n");
            mounts.Add($"mount -t tmpfs none /run && mkdir /run/sysctl.d && mount --bind {Scratch("run/sysctl.d")} /run/sysctl.d");
            if (Directory.Exists("/usr/local/lib"))
            {
                tree.WriteConfig("usr/local/lib/sysctl.d/30-local.conf", "-net.ipv4.tcp_keepalive_probes\n");
                mounts.Add($"mount -t tmpfs none /usr/local/lib && mkdir /usr/local/lib/sysctl.d && mount --bind {Scratch("usr/local/lib/sysctl.d")} /usr/local/lib/sysctl.d");
            }

            if (File.Exists("/etc/sysctl.conf"))
            {
                tree.WriteConfig("etc/sysctl.conf", "# last of all\nnet.ipv4.tcp_keepalive_time = 3000\n");
                mounts.Add($"mount --bind {Scratch("etc/sysctl.conf")} /etc/sysctl.conf");
            }

            var (code, output) = KeepAliveHost.Run("unshare", "-m", "-n", "sh", "-c", string.Join(" && ", mounts) + " && { sysctl --system --dry-run 2>/dev/null; true; }");
            Assert.True(code == 0, output);
            var theirs = Regex.Matches(output, @"^(net\.ipv4\.tcp_keepalive_\w+) = (\S+)$", RegexOptions.Multiline)
                .GroupBy(m => m.Groups[1].Value).ToDictionary(g => g.Key, g => g.Last().Groups[2].Value);

            var ours = LinuxSysctlConfig.Load(tree.ConfigRoot);
            foreach (string key in new[] { "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes" })
            {
                theirs.TryGetValue(key, out string? expected);
                Assert.True(expected == LinuxSysctlConfig.Resolve(ours, key)?.Value, $"{key}: sysctl --system sets {expected ?? "nothing"}, this parser {LinuxSysctlConfig.Resolve(ours, key)?.Value ?? "nothing"}\n{output}");
            }

            Assert.Equal(File.Exists("/etc/sysctl.conf") ? "3000" : "2000", theirs["net.ipv4.tcp_keepalive_time"]);
            Assert.Equal("20", theirs["net.ipv4.tcp_keepalive_intvl"]);
        }

        [Fact]
        public void ADropInThatIsASymbolicLinkIsWrittenThroughTheLink()
        {
            if (!OperatingSystem.IsLinux())
            {
                return;
            }

            string dir = Path.Combine(Path.GetTempPath(), "cw-link-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(Path.Combine(dir, "repo"));
            Directory.CreateDirectory(Path.Combine(dir, "etc/sysctl.d"));
            try
            {
                string real = Path.Combine(dir, "repo/90-closewait.conf");
                string link = Path.Combine(dir, "etc/sysctl.d/90-closewait.conf");
                File.WriteAllText(real, "# kept\nvm.swappiness = 10\n");
                File.CreateSymbolicLink(link, "../../repo/90-closewait.conf");

                LinuxSysctlConfig.WriteDropIn(link, new[] { new KeyValuePair<string, string>("net.ipv4.tcp_keepalive_time", "300") }, new[] { "# test" }, "KeepAlive", "keepalive");

                // Issue 19: the link was replaced by a regular file and its target left stale.
                Assert.NotNull(new FileInfo(link).LinkTarget);
                string text = File.ReadAllText(real);
                Assert.Contains("net.ipv4.tcp_keepalive_time = 300", text);
                Assert.Contains("vm.swappiness = 10", text);
                Assert.Empty(Directory.GetFiles(Path.Combine(dir, "etc/sysctl.d"), "*.tmp"));
                Assert.Empty(Directory.GetFiles(Path.Combine(dir, "repo"), "*.tmp"));
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }
    }
}
