using System;
using System.Collections.Generic;
using System.Linq;
using CloseWait.Platform;
using CloseWait.Platform.MacOS;
using CloseWait.Platform.Windows;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>
    /// Every platform's keepalive units, defaults and limits, the all-or-nothing write, and the
    /// Windows and macOS stores' pure logic: none of it needs the platform, so it runs everywhere.
    /// </summary>
    public sealed class KeepAliveRulesTests
    {
        private static readonly TimeSpan S = TimeSpan.FromSeconds(1);

        [Fact]
        public void LinuxDefaultsAndLimitsAreTheKernels()
        {
            var r = KeepAliveRules.Linux;
            Assert.Equal(TimeSpan.FromHours(2), r.DefaultTime);
            Assert.Equal(TimeSpan.FromSeconds(75), r.DefaultInterval);
            Assert.Equal(9, r.DefaultProbes);
            Assert.Equal(S, r.Unit);
            Assert.Equal(TimeSpan.FromSeconds(32767), r.MaxTime);
            Assert.Equal(TimeSpan.FromSeconds(32767), r.MaxInterval);
            Assert.Equal(1, r.MinProbes);
            Assert.Equal(127, r.MaxProbes);
            Assert.Equal(300, r.ToUnits(TimeSpan.FromMinutes(5)));
            Assert.Equal(TimeSpan.FromSeconds(75), r.FromUnits(75));
        }

        [Fact]
        public void WindowsKeepsMillisecondsAndFixesProbesAtTen()
        {
            var r = KeepAliveRules.Windows;
            Assert.Equal(TimeSpan.FromMilliseconds(7_200_000), r.DefaultTime);
            Assert.Equal(TimeSpan.FromMilliseconds(1_000), r.DefaultInterval);
            Assert.Equal(10, r.DefaultProbes);
            Assert.True(r.ProbesFixed);
            Assert.Equal(TimeSpan.FromMilliseconds(uint.MaxValue), r.MaxTime);
            Assert.Equal(300_000, r.ToUnits(TimeSpan.FromMinutes(5)));
            Assert.Equal(TimeSpan.FromMilliseconds(1500), r.FromUnits(1500));
        }

        [Fact]
        public void MacOSKeepsMillisecondsInAnInt()
        {
            var r = KeepAliveRules.MacOS;
            Assert.Equal(TimeSpan.FromHours(2), r.DefaultTime);
            Assert.Equal(TimeSpan.FromSeconds(75), r.DefaultInterval);
            Assert.Equal(8, r.DefaultProbes);
            Assert.Equal(TimeSpan.FromMilliseconds(int.MaxValue), r.MaxTime);
            Assert.Equal(int.MaxValue, r.MaxProbes);
            Assert.Equal(75_000, r.ToUnits(TimeSpan.FromSeconds(75)));
        }

        [Theory]
        [InlineData("Linux", 300.0, 30.0, 5, null)]
        [InlineData("Linux", 1.0, 1.0, 1, null)]
        [InlineData("Linux", 32767.0, 32767.0, 127, null)]
        [InlineData("Linux", 0.0, null, null, ErrorIds.KeepAliveTimeOutOfRange)]
        [InlineData("Linux", 32768.0, null, null, ErrorIds.KeepAliveTimeOutOfRange)]
        [InlineData("Linux", -5.0, null, null, ErrorIds.KeepAliveTimeOutOfRange)]
        [InlineData("Linux", null, 0.0, null, ErrorIds.KeepAliveIntervalOutOfRange)]
        [InlineData("Linux", null, 40000.0, null, ErrorIds.KeepAliveIntervalOutOfRange)]
        [InlineData("Linux", null, null, 0, ErrorIds.KeepAliveProbesOutOfRange)]
        [InlineData("Linux", null, null, 128, ErrorIds.KeepAliveProbesOutOfRange)]
        [InlineData("Linux", 1.5, null, null, ErrorIds.KeepAliveTimeNotWhole)]
        [InlineData("Linux", null, 1.25, null, ErrorIds.KeepAliveIntervalNotWhole)]
        [InlineData("Windows", 1.5, 0.001, null, null)]
        [InlineData("Windows", 4294967.295, 4294967.295, null, null)]
        [InlineData("Windows", 4294967.296, null, null, ErrorIds.KeepAliveTimeOutOfRange)]
        [InlineData("Windows", 0.0005, null, null, ErrorIds.KeepAliveTimeOutOfRange)]
        [InlineData("Windows", 1.0005, null, null, ErrorIds.KeepAliveTimeNotWhole)]
        [InlineData("Windows", null, null, 10, null)]
        [InlineData("Windows", null, null, 5, ErrorIds.KeepAliveProbesNotSupported)]
        [InlineData("macOS", 2147483.647, 0.001, 2147483647, null)]
        [InlineData("macOS", 2147483.648, null, null, ErrorIds.KeepAliveTimeOutOfRange)]
        [InlineData("macOS", null, null, 0, ErrorIds.KeepAliveProbesOutOfRange)]
        public void ValidationNamesTheValueAndTheLimit(string platform, double? time, double? interval, int? probes, string? errorId)
        {
            var rules = Rules(platform);
            var change = new KeepAliveChange(Seconds(time), Seconds(interval), probes);
            var e = rules.Validate(change);
            if (errorId == null)
            {
                Assert.Null(e);
                return;
            }

            Assert.NotNull(e);
            Assert.Equal(errorId, e!.ErrorId);
            Assert.Equal(System.Management.Automation.ErrorCategory.InvalidArgument, e.Category);
            Assert.Contains(platform, e.Message);
            Assert.Contains("Nothing was changed.", e.Message);
        }

        [Fact]
        public void OutOfRangeMessagesSayTheLimitInUnitsAndAsATime()
        {
            Assert.Equal("Time 09:06:08 is outside what Linux accepts: 1 to 32767 seconds (00:00:01 to 09:06:07). Nothing was changed.",
                KeepAliveRules.Linux.Validate(new KeepAliveChange(TimeSpan.FromSeconds(32768)))!.Message);
            Assert.Equal("Probes 128 is outside what Linux accepts: 1 to 127. Nothing was changed.",
                KeepAliveRules.Linux.Validate(new KeepAliveChange(probes: 128))!.Message);
            Assert.Contains("1 to 4294967295 milliseconds (00:00:00.0010000 to 49.17:02:47.2950000)",
                KeepAliveRules.Windows.Validate(new KeepAliveChange(interval: TimeSpan.Zero))!.Message);
            Assert.Contains("fixes the number of keepalive probes at 10",
                KeepAliveRules.Windows.Validate(new KeepAliveChange(probes: 9))!.Message);
        }

        [Fact]
        public void DetectionTimeIsTimePlusIntervalTimesProbes()
        {
            Assert.Equal(TimeSpan.Parse("00:07:30"), KeepAliveRules.DetectionTime(TimeSpan.FromSeconds(300), TimeSpan.FromSeconds(30), 5));
            Assert.Equal(TimeSpan.Parse("02:11:15"), KeepAliveRules.DetectionTime(TimeSpan.FromHours(2), TimeSpan.FromSeconds(75), 9));
            var s = TcpKeepAliveSetting.FromRaw(KeepAliveRules.Windows, 7_200_000, 1_000, 10, "t", "i", "p");
            Assert.Equal(TimeSpan.Parse("02:00:10"), s.DetectionTime);
            Assert.True(s.TimeIsDefault && s.IntervalIsDefault && s.ProbesIsDefault);
        }

        [Fact]
        public void FromRawMarksOnlyTheDefaultValues()
        {
            var s = TcpKeepAliveSetting.FromRaw(KeepAliveRules.Linux, 300, 75, 5, "/t", "/i", "/p");
            Assert.Equal("Linux", s.Platform);
            Assert.False(s.TimeIsDefault);
            Assert.True(s.IntervalIsDefault);
            Assert.False(s.ProbesIsDefault);
            Assert.Equal("/i", s.IntervalSource);
            Assert.False(s.ChangesAfterReboot);
        }

        [Fact]
        public void PlanWritesOnlyTheValuesThatChange()
        {
            var current = TcpKeepAliveSetting.FromRaw(KeepAliveRules.Linux, 7200, 75, 9, "", "", "");
            var steps = KeepAliveTransaction.Plan(KeepAliveRules.Linux, current, new KeepAliveChange(TimeSpan.FromSeconds(300), TimeSpan.FromSeconds(75)));
            var step = Assert.Single(steps);
            Assert.Equal(KeepAliveField.Time, step.Field);
            Assert.Equal(7200, step.Old);
            Assert.Equal(300, step.New);
        }

        [Fact]
        public void AFailedWritePutsBackWhatWasWrittenLastFirst()
        {
            var kernel = new Dictionary<KeepAliveField, long> { [KeepAliveField.Time] = 7200, [KeepAliveField.Interval] = 75, [KeepAliveField.Probes] = 9 };
            var log = new List<string>();
            var steps = Steps((KeepAliveField.Time, 7200, 300), (KeepAliveField.Interval, 75, 30), (KeepAliveField.Probes, 9, 5));
            var e = Assert.Throws<CloseWaitException>(() => KeepAliveTransaction.Apply(KeepAliveRules.Linux, steps, (f, v) =>
            {
                log.Add($"{f}={v}");
                if (f == KeepAliveField.Probes)
                {
                    throw new CloseWaitException(ErrorIds.KeepAliveWriteFailed, System.Management.Automation.ErrorCategory.WriteError, "Cannot set Probes: Invalid argument (errno 22).", "Probes") { NativeError = 22 };
                }

                kernel[f] = v;
            }));

            Assert.Equal(new[] { "Time=300", "Interval=30", "Probes=5", "Interval=75", "Time=7200" }, log);
            Assert.Equal(7200, kernel[KeepAliveField.Time]);
            Assert.Equal(75, kernel[KeepAliveField.Interval]);
            Assert.Equal(ErrorIds.KeepAliveWriteFailed, e.ErrorId);
            Assert.Equal(22, e.NativeError);
            Assert.Equal("Probes", e.Target);
            Assert.Equal("Cannot set Probes: Invalid argument (errno 22). Put Interval back to 75 s (00:01:15) and Time back to 7200 s (02:00:00), so nothing was changed.", e.Message);
        }

        [Fact]
        public void AFailedPutBackIsReportedWithTheValueLeftBehind()
        {
            int timeWrites = 0;
            var steps = Steps((KeepAliveField.Time, 7200, 300), (KeepAliveField.Interval, 75, 30));
            var e = Assert.Throws<CloseWaitException>(() => KeepAliveTransaction.Apply(KeepAliveRules.Linux, steps, (f, v) =>
            {
                if (f == KeepAliveField.Interval || (f == KeepAliveField.Time && ++timeWrites == 2))
                {
                    throw new CloseWaitException(ErrorIds.KeepAliveWriteFailed, System.Management.Automation.ErrorCategory.WriteError, $"Cannot set {f}.", f.ToString());
                }
            }));

            Assert.Equal(ErrorIds.KeepAliveRollbackFailed, e.ErrorId);
            Assert.Equal("Cannot set Interval. Putting the earlier values back failed too: Time stays at 300 s (00:05:00) (Cannot set Time.).", e.Message);
        }

        [Fact]
        public void ACheckThatFailsWritesNothing()
        {
            var writes = new List<KeepAliveField>();
            var steps = Steps((KeepAliveField.Time, 7200, 300), (KeepAliveField.Interval, 75, 30));
            var e = Assert.Throws<CloseWaitException>(() => KeepAliveTransaction.Apply(KeepAliveRules.Linux, steps, (f, v) => writes.Add(f), (f, v) =>
            {
                if (f == KeepAliveField.Interval)
                {
                    throw new CloseWaitException(ErrorIds.KeepAlivePermissionDenied, System.Management.Automation.ErrorCategory.PermissionDenied, "Run elevated.");
                }
            }));

            Assert.Empty(writes);
            Assert.Equal(ErrorIds.KeepAlivePermissionDenied, e.ErrorId);
            Assert.Equal("Run elevated. Nothing was changed.", e.Message);
        }

        [Theory]
        [InlineData(@"HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters", true, @"SYSTEM\CurrentControlSet\Services\Tcpip\Parameters")]
        [InlineData(@"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters", true, @"SYSTEM\CurrentControlSet\Services\Tcpip\Parameters")]
        [InlineData(@"HKCU:\Software\CloseWaitTest\Tcpip\", false, @"Software\CloseWaitTest\Tcpip")]
        [InlineData(@"hkey_current_user\Software\X", false, @"Software\X")]
        public void WindowsKeyPathsNameTheirHive(string path, bool machine, string subKey)
        {
            var (hive, sub, display) = WindowsKeepAliveStore.ParseKeyPath(path);
            Assert.Equal(machine ? Interop.Advapi32.HKEY_LOCAL_MACHINE : Interop.Advapi32.HKEY_CURRENT_USER, hive);
            Assert.Equal(subKey, sub);
            Assert.Equal((machine ? @"HKLM\" : @"HKCU\") + subKey, display);
            Assert.Throws<ArgumentException>(() => WindowsKeepAliveStore.ParseKeyPath(@"HKCR\x"));
        }

        [Fact]
        public void WindowsHivesAreSignExtendedHandles()
        {
            Assert.Equal(unchecked((long)0xFFFFFFFF80000002), (long)Interop.Advapi32.HKEY_LOCAL_MACHINE);
            Assert.Equal(unchecked((long)0xFFFFFFFF80000001), (long)Interop.Advapi32.HKEY_CURRENT_USER);
        }

        [Fact]
        public void WindowsAbsentOrMistypedValuesMeanTheDefault()
        {
            const string key = @"HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters";
            Assert.Equal((7_200_000L, key + @"\KeepAliveTime (not set: Windows default)"), WindowsKeepAliveStore.Interpret(KeepAliveField.Time, null, key));
            Assert.Equal((1_000L, key + @"\KeepAliveInterval (not set: Windows default)"), WindowsKeepAliveStore.Interpret(KeepAliveField.Interval, null, key));
            Assert.Equal((300_000L, key + @"\KeepAliveTime"), WindowsKeepAliveStore.Interpret(KeepAliveField.Time, (Interop.Advapi32.REG_DWORD, 300_000u), key));
            Assert.Equal((4294967295L, key + @"\KeepAliveTime"), WindowsKeepAliveStore.Interpret(KeepAliveField.Time, (Interop.Advapi32.REG_DWORD, uint.MaxValue), key));
            Assert.Equal((1_000L, key + @"\KeepAliveInterval (not a REG_DWORD, ignored: Windows default)"),
                WindowsKeepAliveStore.Interpret(KeepAliveField.Interval, (1 /* REG_SZ */, 0u), key));

            var s = TcpKeepAliveSetting.FromRaw(KeepAliveRules.Windows, 300_000, 1_000, 10, "t", "i", "p");
            Assert.Equal(TimeSpan.FromMinutes(5), s.Time);
            Assert.False(s.TimeIsDefault);
            Assert.True(s.IntervalIsDefault);
        }

        [Fact]
        public void WindowsWritesDwordMilliseconds()
        {
            var r = KeepAliveRules.Windows;
            Assert.Equal(300_000u, WindowsKeepAliveStore.ToDword(r.ToUnits(TimeSpan.FromMinutes(5))));
            Assert.Equal(uint.MaxValue, WindowsKeepAliveStore.ToDword(r.ToUnits(r.MaxTime)));
            Assert.Equal("KeepAliveTime", WindowsKeepAliveStore.ValueName(KeepAliveField.Time));
            Assert.Equal("KeepAliveInterval", WindowsKeepAliveStore.ValueName(KeepAliveField.Interval));
            Assert.Throws<OverflowException>(() => WindowsKeepAliveStore.ToDword(4294967296));
        }

        [Fact]
        public void MacOSNamesAndConversions()
        {
            Assert.Equal("net.inet.tcp.keepidle", MacOSKeepAliveStore.SysctlName(KeepAliveField.Time));
            Assert.Equal("net.inet.tcp.keepintvl", MacOSKeepAliveStore.SysctlName(KeepAliveField.Interval));
            Assert.Equal("net.inet.tcp.keepcnt", MacOSKeepAliveStore.SysctlName(KeepAliveField.Probes));
            Assert.Equal(75_000, MacOSKeepAliveStore.ToSysctl(KeepAliveRules.MacOS.ToUnits(TimeSpan.FromSeconds(75))));
            Assert.Throws<OverflowException>(() => MacOSKeepAliveStore.ToSysctl((long)int.MaxValue + 1));
            var e = MacOSKeepAliveStore.PersistNotSupported(new KeepAliveChange(TimeSpan.FromSeconds(300), TimeSpan.FromSeconds(30), 5));
            Assert.Equal(ErrorIds.KeepAlivePersistNotSupported, e.ErrorId);
            Assert.Contains("net.inet.tcp.keepidle=300000 net.inet.tcp.keepintvl=30000 net.inet.tcp.keepcnt=5", e.Message);
            Assert.False(new MacOSKeepAliveStore().AppliesAtRestart);
            Assert.Null(new MacOSKeepAliveStore().PersistTarget);
        }

        [Fact]
        public void WindowsStoreOverAScratchKeyKeepsItsPath()
        {
            var store = new WindowsKeepAliveStore(@"HKEY_CURRENT_USER\Software\CloseWaitTest\Tcpip");
            Assert.Equal(@"HKCU\Software\CloseWaitTest\Tcpip", store.KeyPath);
            Assert.Equal(store.KeyPath, store.PersistTarget);
            Assert.True(store.AppliesAtRestart);
            Assert.Same(KeepAliveRules.Windows, store.Rules);
        }

        private static List<KeepAliveTransaction.Step> Steps(params (KeepAliveField Field, long Old, long New)[] steps) =>
            steps.Select(s => new KeepAliveTransaction.Step(s.Field, s.Old, s.New)).ToList();

        private static TimeSpan? Seconds(double? s) => s == null ? null : TimeSpan.FromTicks((long)Math.Round(s.Value * TimeSpan.TicksPerSecond));

        private static KeepAliveRules Rules(string platform) =>
            platform == "Linux" ? KeepAliveRules.Linux : platform == "Windows" ? KeepAliveRules.Windows : KeepAliveRules.MacOS;
    }
}
