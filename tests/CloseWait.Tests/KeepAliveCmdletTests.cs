using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using CloseWait.Platform;
using CloseWait.Platform.Linux;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>
    /// Get-, Set- and Test-TcpKeepAliveSetting through the real engine. Real kernel values change
    /// only inside private network namespaces (a child `unshare -n sleep`); every test that writes
    /// checks that the host's own values did not move. Persistence goes to scratch trees or to a
    /// temporary directory bind-mounted over /etc/sysctl.d in a private mount namespace.
    /// </summary>
    [Collection("PowerShell")]
    public sealed class KeepAliveCmdletTests
    {
        private const string SetId = ",CloseWait.Commands.SetTcpKeepAliveSettingCommand";
        private static readonly (long, long, long) Defaults = KeepAliveHost.KernelDefaults;
        private readonly PowerShellFixture _ps;

        public KeepAliveCmdletTests(PowerShellFixture ps) => _ps = ps;

        private static Dictionary<string, object?> Vars(params (string Name, object? Value)[] vars) => vars.ToDictionary(v => v.Name, v => v.Value);

        [LinuxTheory(Namespaces = true)]
        [InlineData("300")]
        [InlineData("00:05:00")]
        public void DoneWhenSetInAPrivateNamespaceShowsTheNewValuesAndLeavesTheHostAlone(string time)
        {
            var host = KeepAliveHost.Values();
            using var ns = new KeepAliveNamespace();
            Assert.Equal(Defaults, ns.Values());

            var r = _ps.Run($"Set-TcpKeepAliveSetting -Time {time} -Interval 30 -Probes 5 -PassThru -NetworkNamespace $ns", Vars(("ns", ns.Spec))).ThrowIfFailed();

            var s = Assert.Single(r.Objects<TcpKeepAliveSetting>());
            Assert.Equal(TimeSpan.FromSeconds(300), s.Time);
            Assert.Equal(TimeSpan.FromSeconds(30), s.Interval);
            Assert.Equal(5, s.Probes);
            Assert.Equal(TimeSpan.Parse("00:07:30"), s.DetectionTime);
            Assert.False(s.TimeIsDefault || s.IntervalIsDefault || s.ProbesIsDefault);
            Assert.Equal(ns.Spec, s.NetworkNamespace);
            Assert.Equal("Linux", s.Platform);
            Assert.Equal("/proc/sys/net/ipv4/tcp_keepalive_time", s.TimeSource);
            Assert.Equal("/proc/sys/net/ipv4/tcp_keepalive_intvl", s.IntervalSource);
            Assert.Equal("/proc/sys/net/ipv4/tcp_keepalive_probes", s.ProbesSource);
            Assert.False(s.ChangesAfterReboot); // a namespace's values do not come from the host's sysctl files
            Assert.Empty(r.Warnings);

            Assert.Equal((300L, 30L, 5L), ns.Values());
            Assert.Equal(host, KeepAliveHost.Values());

            string text = _ps.Render("Get-TcpKeepAliveSetting -NetworkNamespace $ns", Vars(("ns", ns.Path)));
            Assert.Matches(@"(?m)^\s*00:05:00\s+00:00:30\s+5\s+00:07:30\s+none\s+unknown \(netns ", text);
        }

        [LinuxFact(Namespaces = true)]
        public void ANewNamespaceStartsFromTheKernelDefaults()
        {
            using var ns = new KeepAliveNamespace();
            foreach (string spec in new[] { ns.Spec, ns.Path })
            {
                var s = Assert.Single(_ps.Run("Get-TcpKeepAliveSetting -NetworkNamespace $ns", Vars(("ns", spec))).ThrowIfFailed().Objects<TcpKeepAliveSetting>());
                Assert.Equal(TimeSpan.FromHours(2), s.Time);
                Assert.Equal(TimeSpan.FromSeconds(75), s.Interval);
                Assert.Equal(9, s.Probes);
                Assert.Equal(TimeSpan.Parse("02:11:15"), s.DetectionTime);
                Assert.True(s.TimeIsDefault && s.IntervalIsDefault && s.ProbesIsDefault);
                Assert.Equal(spec, s.NetworkNamespace);
            }

            string text = _ps.Render("Get-TcpKeepAliveSetting -NetworkNamespace $ns", Vars(("ns", ns.Spec)));
            // Every value the default; what a reboot brings is not known for a namespace.
            Assert.Matches(@"(?m)^\s*02:00:00\s+00:01:15\s+9\s+02:11:15\s+all\s+unknown \(netns " + System.Text.RegularExpressions.Regex.Escape(ns.Spec) + @"\)$", text);
        }

        [Fact]
        public void GetOnTheHostReadsTheHostsValues()
        {
            var s = Assert.Single(_ps.Run("Get-TcpKeepAliveSetting").Objects<TcpKeepAliveSetting>());
            var (time, interval, probes) = KeepAliveHost.Values();
            Assert.Equal(TimeSpan.FromSeconds(time), s.Time);
            Assert.Equal(TimeSpan.FromSeconds(interval), s.Interval);
            Assert.Equal(probes, s.Probes);
            Assert.Null(s.NetworkNamespace);
            Assert.NotEqual(s.Time, s.TimeAfterReboot);
        }

        [LinuxFact(Namespaces = true)]
        public void WhatIfWritesNothingAndSaysWhatItWouldDo()
        {
            var host = KeepAliveHost.Values();
            using var ns = new KeepAliveNamespace();
            string said;
            lock (_ps.Output)
            {
                _ps.Output.GetStringBuilder().Clear();
                var r = _ps.Run("Set-TcpKeepAliveSetting -Time 300 -Interval 30 -Probes 5 -PassThru -WhatIf -NetworkNamespace $ns", Vars(("ns", ns.Spec))).ThrowIfFailed();
                Assert.Empty(r.Output);
                said = _ps.Output.ToString();
            }

            Assert.Contains($"What if: Performing the operation \"Set Time 7200 s (02:00:00) to 300 s (00:05:00), Interval 75 s (00:01:15) to 30 s (00:00:30), Probes 9 to 5\" on target \"TCP keepalive of network namespace {ns.Spec}\".", said);
            Assert.Equal(Defaults, ns.Values());
            Assert.Equal(host, KeepAliveHost.Values());

            using var tree = new ScratchSysctlTree();
            WithStore(tree.Store(), () => _ps.Run("Set-TcpKeepAliveSetting -Time 300 -Persist -WhatIf").ThrowIfFailed());
            Assert.False(File.Exists(tree.DropIn));
            Assert.Equal(Defaults, tree.ProcValues());
        }

        [LinuxFact(Namespaces = true)]
        public void ConfirmFalseSetsWithoutAPromptEvenWhenThePreferenceAsks()
        {
            using var ns = new KeepAliveNamespace();
            _ps.Run("$ConfirmPreference = 'Low'; try { Set-TcpKeepAliveSetting -Probes 4 -NetworkNamespace $ns -Confirm:$false } finally { $ConfirmPreference = 'High' }", Vars(("ns", ns.Spec))).ThrowIfFailed();
            Assert.Equal((7200L, 75L, 4L), ns.Values());
        }

        [LinuxTheory(Namespaces = true)]
        [InlineData("-Probes 128", ErrorIds.KeepAliveProbesOutOfRange, "1 to 127")]
        [InlineData("-Time 32768", ErrorIds.KeepAliveTimeOutOfRange, "1 to 32767 seconds")]
        [InlineData("-Interval 0", ErrorIds.KeepAliveIntervalOutOfRange, "1 to 32767 seconds")]
        [InlineData("-Time 1.5", ErrorIds.KeepAliveTimeNotWhole, "whole seconds")]
        [InlineData("-Time 300 -Interval 30 -Probes 0", ErrorIds.KeepAliveProbesOutOfRange, "Nothing was changed.")]
        [InlineData("", ErrorIds.KeepAliveNothingToSet, "give -Time, -Interval or -Probes")]
        [InlineData("-Time abc", "ParameterArgumentTransformationError", "Give seconds (300) or hh:mm:ss (00:05:00)")]
        [InlineData("-Persist", ErrorIds.PersistNotSupportedForNetworkNamespace, "docker run --sysctl")]
        public void InvalidValuesAreRefusedBeforeAnythingIsWritten(string arguments, string errorId, string message)
        {
            var host = KeepAliveHost.Values();
            using var ns = new KeepAliveNamespace();
            var r = _ps.Run($"Set-TcpKeepAliveSetting {arguments} -NetworkNamespace $ns", Vars(("ns", ns.Spec)));
            Assert.Equal(errorId + SetId, Assert.Single(r.ErrorIds));
            var record = r.Terminating?.ErrorRecord ?? r.Errors[0];
            Assert.Contains(message, record.Exception.Message);
            Assert.Equal(Defaults, ns.Values());
            Assert.Equal(host, KeepAliveHost.Values());
        }

        [Fact]
        public void AMissingNamespaceIsNotFound()
        {
            var r = _ps.Run("Get-TcpKeepAliveSetting -NetworkNamespace 2147483647");
            Assert.Equal("NetworkNamespaceNotFound,CloseWait.Commands.GetTcpKeepAliveSettingCommand", Assert.Single(r.ErrorIds));
        }

        [LinuxFact(Namespaces = true)]
        public void ABaselineRoundTripsThroughPSSerializerToAnotherNamespace()
        {
            var host = KeepAliveHost.Values();
            using var source = new KeepAliveNamespace();
            using var target = new KeepAliveNamespace();
            _ps.Run("Set-TcpKeepAliveSetting -Time 300 -Interval 30 -Probes 5 -NetworkNamespace $a", Vars(("a", source.Spec))).ThrowIfFailed();

            var r = _ps.Run(
                "$baseline = Get-TcpKeepAliveSetting -NetworkNamespace $a\n" +
                "$xml = [System.Management.Automation.PSSerializer]::Serialize($baseline)\n" +
                "$restored = [System.Management.Automation.PSSerializer]::Deserialize($xml)\n" +
                "$restored.PSObject.TypeNames[0]\n" +
                "$restored | Set-TcpKeepAliveSetting -NetworkNamespace $b -ErrorAction SilentlyContinue -ErrorVariable refused\n" +
                "$refused[0].FullyQualifiedErrorId\n" +
                "[pscustomobject]@{ Time = $restored.Time; Interval = $restored.Interval; Probes = $restored.Probes } | Set-TcpKeepAliveSetting -NetworkNamespace $b -PassThru",
                Vars(("a", source.Spec), ("b", target.Spec))).ThrowIfFailed();

            Assert.Equal("Deserialized.CloseWait.TcpKeepAliveSetting", r.Output[0].BaseObject);
            // Issue 19 item 6: a namespace's setting with -NetworkNamespace naming another is refused; without its namespace it is a baseline.
            Assert.Equal("SettingNamespaceConflict,CloseWait.Commands.SetTcpKeepAliveSettingCommand", r.Output[1].BaseObject);
            var applied = Assert.IsType<TcpKeepAliveSetting>(r.Output[2].BaseObject);
            Assert.Equal(target.Spec, applied.NetworkNamespace);
            Assert.Equal((300L, 30L, 5L), target.Values());
            Assert.Equal((300L, 30L, 5L), source.Values());
            Assert.Equal(host, KeepAliveHost.Values());

            string text = _ps.Render("[System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize((Get-TcpKeepAliveSetting -NetworkNamespace $a)))", Vars(("a", source.Spec)));
            Assert.Matches(@"(?m)^\s*00:05:00\s+00:00:30\s+5\s+00:07:30\s", text);
        }

        [LinuxTheory(Namespaces = true)]
        [InlineData("[pscustomobject]@{ Time = [pscustomobject]@{ Ticks = [long]3000000000; Days = 0; TotalSeconds = 300.0 }; Interval = [pscustomobject]@{ Ticks = [long]300000000; TotalSeconds = 30.0 }; Probes = [long]5 }")]
        [InlineData("[pscustomobject]@{ Time = [pscustomobject]@{ TotalSeconds = 300.0 }; Interval = @{ TotalSeconds = 30 }; Probes = 5 }")]
        [InlineData("[pscustomobject]@{ Time = '00:05:00'; Interval = '30'; Probes = '5' }")]
        [InlineData("[pscustomobject]@{ Time = [timespan]'00:05:00'; Interval = 30; Probes = 5; Platform = 'Linux'; NetworkNamespace = '' }")]
        public void JsonShapedBaselinesBindByPropertyName(string baseline)
        {
            using var ns = new KeepAliveNamespace();
            var r = _ps.Run(baseline + " | Set-TcpKeepAliveSetting -NetworkNamespace $ns -PassThru", Vars(("ns", ns.Spec))).ThrowIfFailed();
            Assert.Equal(TimeSpan.Parse("00:07:30"), Assert.Single(r.Objects<TcpKeepAliveSetting>()).DetectionTime);
            Assert.Equal((300L, 30L, 5L), ns.Values());
        }

        [LinuxFact(Namespaces = true)]
        public void EachPipedBaselineIsValidatedOnItsOwn()
        {
            using var a = new KeepAliveNamespace();
            var r = _ps.Run(
                "[pscustomobject]@{ Time = 300; Interval = 30; Probes = 500 }, [pscustomobject]@{ Time = 600 } | Set-TcpKeepAliveSetting -NetworkNamespace $ns",
                Vars(("ns", a.Spec)));
            Assert.Equal(ErrorIds.KeepAliveProbesOutOfRange + SetId, Assert.Single(r.ErrorIds));
            Assert.Equal((600L, 75L, 9L), a.Values()); // the first record wrote nothing; the second only its Time
        }

        [LinuxFact(Namespaces = true)]
        public void TheLoadBalancerCheckFailsOnDefaultsAndItsRecommendationPipesIntoSet()
        {
            using var ns = new KeepAliveNamespace();
            var r = _ps.Run("Test-TcpKeepAliveSetting -IdleTimeout 350 -NetworkNamespace $ns; Test-TcpKeepAliveSetting 00:04:00 -NetworkNamespace $ns; 350 | Test-TcpKeepAliveSetting -NetworkNamespace $ns",
                Vars(("ns", ns.Spec))).ThrowIfFailed();
            var results = r.Objects<TcpKeepAliveTestResult>();
            Assert.Equal(3, results.Count);
            Assert.All(results, x => Assert.Equal(TcpKeepAliveVerdict.Fail, x.Verdict));
            Assert.Equal(TimeSpan.FromSeconds(350), results[0].IdleTimeout);
            Assert.Equal(TimeSpan.FromSeconds(280), results[0].RecommendedTime);
            Assert.Equal(TimeSpan.FromSeconds(35), results[0].RecommendedInterval);
            Assert.Equal($"Set-TcpKeepAliveSetting -Time 280 -Interval 35 -NetworkNamespace {ns.Spec}", results[0].RecommendedCommand);
            Assert.Equal(TimeSpan.FromMinutes(4), results[1].IdleTimeout);
            Assert.Equal(TimeSpan.FromSeconds(190), results[1].RecommendedTime);
            Assert.Equal(TimeSpan.FromSeconds(350), results[2].IdleTimeout);

            string text = _ps.Render("Test-TcpKeepAliveSetting 350 -NetworkNamespace $ns", Vars(("ns", ns.Spec)));
            Assert.Matches(@"Verdict\s+: Fail", text);
            Assert.Matches(@"Recommended\s+: Time 00:04:40, Interval 00:00:35, Probes 9 \(detection 00:09:55\)", text);

            var applied = _ps.Run("Test-TcpKeepAliveSetting 350 -NetworkNamespace $ns | Set-TcpKeepAliveSetting -NetworkNamespace $ns -PassThru", Vars(("ns", ns.Spec))).ThrowIfFailed();
            Assert.Equal(TimeSpan.FromSeconds(280), Assert.Single(applied.Objects<TcpKeepAliveSetting>()).Time);
            Assert.Equal((280L, 35L, 9L), ns.Values());

            var again = Assert.Single(_ps.Run("Test-TcpKeepAliveSetting 350 -NetworkNamespace $ns", Vars(("ns", ns.Spec))).ThrowIfFailed().Objects<TcpKeepAliveTestResult>());
            Assert.Equal(TcpKeepAliveVerdict.Pass, again.Verdict);
            Assert.Null(again.RecommendedCommand);

            Assert.Equal("ParameterArgumentValidationError,CloseWait.Commands.TestTcpKeepAliveSettingCommand",
                Assert.Single(_ps.Run("Test-TcpKeepAliveSetting 0").ErrorIds));
        }

        [LinuxFact(Namespaces = true)]
        public void AKernelThatRefusesTheLastValueGetsTheEarlierOnesPutBack()
        {
            var host = KeepAliveHost.Values();
            using var ns = new KeepAliveNamespace();

            // Past validation, straight to the kernel: tcp_keepalive_probes is a u8 there, so 256 is EINVAL after two good writes.
            var e = Assert.Throws<CloseWaitException>(() =>
                new LinuxKeepAliveStore().Write(new KeepAliveChange(TimeSpan.FromSeconds(300), TimeSpan.FromSeconds(30), 256), ns.Spec));

            Assert.Equal(ErrorIds.KeepAliveWriteFailed, e.ErrorId);
            Assert.Equal(22, e.NativeError);
            Assert.Equal("Probes", e.Target);
            Assert.Equal("Cannot set Probes (net.ipv4.tcp_keepalive_probes) to 256: Invalid argument (errno 22). Put Interval back to 75 s (00:01:15) and Time back to 7200 s (02:00:00), so nothing was changed.", e.Message);
            Assert.Equal(Defaults, ns.Values());
            Assert.Equal(host, KeepAliveHost.Values());
        }

        [LinuxFact(Namespaces = true)]
        public void AFailedWriteThroughTheCmdletRollsBackAndNamesTheValue()
        {
            var host = KeepAliveHost.Values();
            using var ns = new KeepAliveNamespace();
            var store = new LinuxKeepAliveStore { InjectWriteFailure = f => f == KeepAliveField.Interval ? 5 /* EIO */ : 0 };

            var r = WithStore(store, () => _ps.Run("Set-TcpKeepAliveSetting -Time 300 -Interval 30 -Probes 5 -PassThru -NetworkNamespace $ns", Vars(("ns", ns.Spec))));

            Assert.Equal(ErrorIds.KeepAliveWriteFailed + SetId, Assert.Single(r.ErrorIds));
            Assert.Equal("Cannot set Interval (net.ipv4.tcp_keepalive_intvl) to 30 s (00:00:30): Input/output error (errno 5). Put Time back to 7200 s (02:00:00), so nothing was changed.",
                r.Errors[0].Exception.Message);
            Assert.Equal(System.Management.Automation.ErrorCategory.WriteError, r.Errors[0].CategoryInfo.Category);
            Assert.Empty(r.Output);
            Assert.Equal(Defaults, ns.Values());
            Assert.Equal(host, KeepAliveHost.Values());
        }

        [Fact]
        public void PersistWritesTheDropInAndTheRunningValuesTogether()
        {
            using var tree = new ScratchSysctlTree();
            tree.WriteConfig("etc/sysctl.d/10-other.conf", "net.core.somaxconn = 4096\n");
            string other = File.ReadAllText(Path.Combine(tree.SysctlD, "10-other.conf"));

            var r = WithStore(tree.Store(), () => _ps.Run("Set-TcpKeepAliveSetting -Time 300 -Interval 30 -Probes 5 -Persist -PassThru").ThrowIfFailed());
            var s = Assert.Single(r.Objects<TcpKeepAliveSetting>());
            Assert.Equal(TimeSpan.Parse("00:07:30"), s.DetectionTime);
            Assert.False(s.ChangesAfterReboot);
            Assert.Empty(r.Warnings);
            Assert.Equal((300L, 30L, 5L), tree.ProcValues());
            Assert.Equal(new[] { "net.ipv4.tcp_keepalive_time = 300", "net.ipv4.tcp_keepalive_intvl = 30", "net.ipv4.tcp_keepalive_probes = 5" },
                File.ReadAllLines(tree.DropIn).Where(l => !l.StartsWith("#", StringComparison.Ordinal)));
            Assert.Equal(other, File.ReadAllText(Path.Combine(tree.SysctlD, "10-other.conf")));

            // -Persist alone persists what runs now; a later file that overrides the drop-in is named.
            tree.SetProc(240, 30, 5);
            tree.WriteConfig("etc/sysctl.conf", "net.ipv4.tcp_keepalive_time = 600\n");
            r = WithStore(tree.Store(), () => _ps.Run("Set-TcpKeepAliveSetting -Persist -PassThru").ThrowIfFailed());
            Assert.Contains("net.ipv4.tcp_keepalive_time = 240", File.ReadAllLines(tree.DropIn));
            s = Assert.Single(r.Objects<TcpKeepAliveSetting>());
            Assert.Equal(TimeSpan.FromSeconds(600), s.TimeAfterReboot);
            Assert.Equal(Path.Combine(tree.ConfigRoot, "etc/sysctl.conf") + ":1", s.TimeAfterRebootSource);
            string warning = Assert.Single(r.Warnings);
            Assert.Contains($"Time 00:10:00 ({tree.ConfigRoot}/etc/sysctl.conf:1)", warning);
            Assert.Contains($"A file applied after {tree.DropIn} sets them", warning);
        }

        [LinuxFact(Procps = true)]
        public void WithoutPersistAWarningSaysTheValuesLastUntilReboot()
        {
            using var tree = new ScratchSysctlTree();
            var r = WithStore(tree.Store(), () => _ps.Run("Set-TcpKeepAliveSetting -Time 300").ThrowIfFailed());
            Assert.Equal("After a reboot the keepalive would be Time 02:00:00 (kernel default), not the running Time 00:05:00. Add -Persist to keep the new values.", Assert.Single(r.Warnings));
            Assert.False(File.Exists(tree.DropIn));

            r = WithStore(tree.Store(), () => _ps.Run("Get-TcpKeepAliveSetting").ThrowIfFailed());
            Assert.Equal("After a reboot the keepalive would be Time 02:00:00 (kernel default), not the running Time 00:05:00. To keep the running values, run Set-TcpKeepAliveSetting with them and -Persist; to apply the configured ones now, run sysctl --system.", Assert.Single(r.Warnings));
        }

        [LinuxFact(Procps = true)]
        public void AFailedPersistPutsTheRunningValuesBack()
        {
            using var tree = new ScratchSysctlTree();
            Directory.Delete(tree.SysctlD);
            File.WriteAllText(tree.SysctlD, "a file where the directory should be");
            var r = WithStore(tree.Store(), () => _ps.Run("Set-TcpKeepAliveSetting -Time 300 -Interval 30 -Persist"));
            Assert.Equal("KeepAlivePersistFailed" + SetId, Assert.Single(r.ErrorIds));
            Assert.EndsWith("Put Time back to 7200 s (02:00:00) and Interval back to 75 s (00:01:15), so nothing was changed.", r.Errors[0].Exception.Message);
            Assert.Equal(Defaults, tree.ProcValues());
        }

        /// <summary>Issue 15: a -Persist that writes no running value must not say it put running values back.</summary>
        [Fact]
        public void AFailedPersistOfTheRunningValuesSaysNoRunningValueChanged()
        {
            using var tree = new ScratchSysctlTree();
            Directory.Delete(tree.SysctlD);
            File.WriteAllText(tree.SysctlD, "a file where the directory should be");
            var r = WithStore(tree.Store(), () => _ps.Run("Set-TcpKeepAliveSetting -Persist"));
            Assert.Equal("KeepAlivePersistFailed" + SetId, Assert.Single(r.ErrorIds));
            Assert.EndsWith("No running value was changed either.", r.Errors[0].Exception.Message);
            Assert.DoesNotContain("put back", r.Errors[0].Exception.Message);
            Assert.Equal(Defaults, tree.ProcValues());
        }

        /// <summary>Issue 15: -Persist validates the values it carries over from the running ones.</summary>
        [Theory]
        [InlineData(7200, 0, 9, "-Time 300", "KeepAliveIntervalOutOfRange")]
        [InlineData(7200, -5, 9, "-Time 300", "KeepAliveIntervalOutOfRange")]
        [InlineData(7200, 75, 0, "-Time 300", "KeepAliveProbesOutOfRange")]
        [InlineData(0, 75, 9, "", "KeepAliveTimeOutOfRange")]
        public void PersistRefusesInvalidCarriedOverValuesAndWritesNothing(long time, long interval, long probes, string arguments, string errorId)
        {
            using var tree = new ScratchSysctlTree(time, interval, probes);
            var r = WithStore(tree.Store(), () => _ps.Run("Set-TcpKeepAliveSetting " + arguments + " -Persist"));
            Assert.Equal(errorId + SetId, Assert.Single(r.ErrorIds));
            Assert.Contains("which -Persist would write as it is", r.Errors[0].Exception.Message);
            Assert.False(File.Exists(tree.DropIn));
            Assert.Equal((time, interval, probes), tree.ProcValues());
        }

        /// <summary>
        /// The whole path with nothing faked: a child engine in a private network and mount
        /// namespace, where a temporary directory stands in for /etc/sysctl.d. There the real
        /// `sysctl --system --dry-run` picks the drop-in up; `sysctl -p` of the file then sets a
        /// fresh namespace to the same values.
        /// </summary>
        [LinuxFact(Namespaces = true, Procps = true)]
        public void PersistWritesADropInThatSysctlSystemApplies()
        {
            var host = KeepAliveHost.Values();
            var hostDropIns = Directory.GetFiles("/etc/sysctl.d");
            string etc = Directory.CreateTempSubdirectory("closewait-sysctl.d-").FullName;
            string emptyConf = Path.GetTempFileName(); // stands in for /etc/sysctl.conf, applied after every drop-in
            try
            {
                string script = "Set-TcpKeepAliveSetting -Time 300 -Interval 30 -Probes 5 -Persist -PassThru -Confirm:$false | ForEach-Object { 'DetectionTime=' + $_.DetectionTime }";
                string shell = "mount --make-rprivate / && " + KeepAliveHost.ReadOnlyProcSysButNet + " && mount --bind " + KeepAliveHost.Sh(etc) + " /etc/sysctl.d && " +
                    "{ [ ! -f /etc/sysctl.conf ] || mount --bind " + KeepAliveHost.Sh(emptyConf) + " /etc/sysctl.conf; } && " +
                    KeepAliveHost.Sh(KeepAliveHost.HostTool) + " " + KeepAliveHost.Sh(script) + " && { sysctl --system --dry-run 2>/dev/null; true; }";
                var (code, output) = KeepAliveHost.Run("unshare", "-m", "-n", "sh", "-c", shell);
                Assert.True(code == 0, output);

                Assert.Contains("DetectionTime=00:07:30", output);
                Assert.Contains("* Applying /etc/sysctl.d/99-closewait-tcp-keepalive.conf ...", output);
                var applied = Regex.Matches(output, @"^(net\.ipv4\.tcp_keepalive_\w+) = (\d+)$", RegexOptions.Multiline)
                    .GroupBy(m => m.Groups[1].Value).ToDictionary(g => g.Key, g => g.Last().Groups[2].Value);
                Assert.Equal("300", applied["net.ipv4.tcp_keepalive_time"]);
                Assert.Equal("30", applied["net.ipv4.tcp_keepalive_intvl"]);
                Assert.Equal("5", applied["net.ipv4.tcp_keepalive_probes"]);

                string dropIn = Path.Combine(etc, LinuxKeepAliveStore.DropInName);
                Assert.Equal(new[] { dropIn }, Directory.GetFiles(etc));
                var all = LinuxSysctlConfig.Parse(dropIn, new StringReader(File.ReadAllText(dropIn))).ToList();
                Assert.Equal("300", LinuxSysctlConfig.Resolve(all, "net.ipv4.tcp_keepalive_time")!.Value);

                using var fresh = new KeepAliveNamespace();
                var (applyCode, applyOutput) = KeepAliveHost.Run("nsenter", $"--net={fresh.Path}", "sysctl", "-p", dropIn);
                Assert.True(applyCode == 0, applyOutput);
                Assert.Equal((300L, 30L, 5L), fresh.Values());

                Assert.Equal(hostDropIns, Directory.GetFiles("/etc/sysctl.d"));
                Assert.Equal(host, KeepAliveHost.Values());
            }
            finally
            {
                Directory.Delete(etc, recursive: true);
                File.Delete(emptyConf);
            }
        }

        [LinuxFact(Namespaces = true)]
        public void WithoutRootTheErrorSaysRunElevatedAndNothingIsWritten()
        {
            using var ns = new KeepAliveNamespace();
            using var nobody = new UnprivilegedHost(_ps.ManifestPath);
            var (_, output) = KeepAliveHost.Run("nsenter", $"--net={ns.Path}", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "env", $"HOME={nobody.Home}", $"DOTNET_CLI_HOME={nobody.Home}", $"CLOSEWAIT_MODULE={nobody.Manifest}",
                nobody.HostTool, ReportErrors("Set-TcpKeepAliveSetting -Time 300 -Interval 30 -Probes 5"));
            Assert.Contains(ErrorIds.KeepAlivePermissionDenied + SetId, output);
            Assert.Contains("Category=PermissionDenied", output);
            Assert.Contains("Changing the kernel's TCP keepalive needs root. Run as root (sudo). Nothing was changed.", output);
            Assert.Equal(Defaults, ns.Values());
        }

        [LinuxFact(Namespaces = true)]
        public void AReadOnlyProcSysSaysSoAndNothingIsWritten()
        {
            using var ns = new KeepAliveNamespace();
            string shell = "mount --make-rprivate / && mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && exec " +
                KeepAliveHost.Sh(KeepAliveHost.HostTool) + " " + KeepAliveHost.Sh(ReportErrors("Set-TcpKeepAliveSetting -Time 300 -Interval 30"));
            var (_, output) = KeepAliveHost.Run("nsenter", $"--net={ns.Path}", "unshare", "-m", "sh", "-c", shell);
            Assert.Contains(ErrorIds.KeepAliveReadOnly + SetId, output);
            Assert.Contains("Read-only file system (errno 30). /proc/sys is mounted read-only, as inside a container", output);
            Assert.Contains("Nothing was changed.", output);
            Assert.Equal(Defaults, ns.Values());
        }

        [Theory]
        [InlineData("Get-TcpKeepAliveSetting")]
        [InlineData("Set-TcpKeepAliveSetting")]
        [InlineData("Test-TcpKeepAliveSetting")]
        [InlineData("Get-TcpPortUsage")]
        [InlineData("Get-TcpTimeWaitSetting")]
        [InlineData("Set-TcpTimeWaitSetting")]
        public void HelpDocumentsEveryParameterWithExamples(string name)
        {
            var r = _ps.Run(
                "$help = Get-Help $name -Full\n" +
                "$help.Synopsis\n" +
                "@($help.examples.example).Count\n" +
                "$common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters\n" +
                "(Get-Command $name).Parameters.Keys | Where-Object { $_ -notin $common } | Where-Object { $p = $_; -not (@($help.parameters.parameter) | Where-Object { $_.name -eq $p -and $_.description }) }",
                Vars(("name", name))).ThrowIfFailed();
            Assert.StartsWith(name.StartsWith("Get", StringComparison.Ordinal) ? "Gets" : name.StartsWith("Set", StringComparison.Ordinal) ? "Changes" : "Checks", (string)r.Output[0].BaseObject);
            Assert.True((int)r.Output[1].BaseObject >= 3);
            Assert.Equal(2, r.Output.Count); // no parameter without help
        }

        /// <summary>A script for the child engine that prints each error's id, category and message.</summary>
        private static string ReportErrors(string command) =>
            command + " -ErrorVariable failures -ErrorAction SilentlyContinue; $failures | ForEach-Object { $_.FullyQualifiedErrorId; 'Category=' + $_.CategoryInfo.Category; $_.Exception.Message }";

        private static T WithStore<T>(IKeepAliveStore store, Func<T> body)
        {
            PlatformServices.KeepAliveStoreOverride = store;
            try
            {
                return body();
            }
            finally
            {
                PlatformServices.KeepAliveStoreOverride = null;
            }
        }
    }
}
