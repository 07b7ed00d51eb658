using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using CloseWait.Platform;
using CloseWait.Platform.Linux;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>
    /// The TIME_WAIT pieces that need no kernel: the kernel's integer parsing for after-reboot
    /// values, the drop-in merge, the rules and myths, the port-usage rows, the sockstat and
    /// netstat parsers, and the Linux store over a scratch tree.
    /// </summary>
    public sealed class TimeWaitTests
    {
        private static readonly int? Hz250 = 250;

        [Theory]
        [InlineData("300", true, 300)]
        [InlineData("300 # comment", true, 300)]
        [InlineData("300\t# comment", true, 300)]
        [InlineData("300#comment", false, 0)]
        [InlineData("  42", true, 42)]
        [InlineData("12 13", true, 12)]
        [InlineData("0x1e", true, 30)]
        [InlineData("0X1E", true, 30)]
        [InlineData("010", true, 8)]
        [InlineData("08", false, 0)]
        [InlineData("0x", false, 0)]
        [InlineData("+5", false, 0)]
        [InlineData("abc", false, 0)]
        [InlineData("12abc", false, 0)]
        [InlineData("", false, 0)]
        [InlineData("-", false, 0)]
        [InlineData("-5", true, -5)]
        [InlineData("2147483647", true, 2147483647)]
        [InlineData("2147483648", false, 0)]
        [InlineData("-2147483648", true, -2147483648)]
        [InlineData("-2147483649", false, 0)]
        [InlineData("99999999999999999999999", false, 0)]
        [InlineData("000000000000000000001", false, 0)]
        public void IntegersParseAsProcDointvecReadsThem(string text, bool ok, long value)
        {
            Assert.Equal(ok, LinuxSysctlConfig.TryKernelInt(text, LinuxSysctlConfig.KernelIntKind.Int, 0, 0, null, out long v));
            Assert.Equal(value, v);
        }

        [Theory]
        [InlineData("8589934", true, 8589934)]
        [InlineData("8589935", false, 0)]
        [InlineData("-8589934", true, -8589934)]
        [InlineData("-5", true, -5)]
        [InlineData("0", true, 0)]
        public void JiffiesStopAtIntMaxOverHz(string text, bool ok, long value)
        {
            Assert.Equal(ok, LinuxSysctlConfig.TryKernelInt(text, LinuxSysctlConfig.KernelIntKind.Jiffies, 0, 0, Hz250, out long v));
            Assert.Equal(value, v);
        }

        [Fact]
        public void UnknownHzTakesTheLargestBoundAnyKernelHas()
        {
            Assert.True(LinuxSysctlConfig.TryKernelInt("21474836", LinuxSysctlConfig.KernelIntKind.Jiffies, 0, 0, null, out _));
            Assert.False(LinuxSysctlConfig.TryKernelInt("21474837", LinuxSysctlConfig.KernelIntKind.Jiffies, 0, 0, null, out _));
        }

        [Theory]
        [InlineData("0", true, 0)]
        [InlineData("255", true, 255)]
        [InlineData("256", false, 0)]
        [InlineData("-1", false, 0)]
        [InlineData("30 # c", true, 30)]
        public void ProbesAreAnUnsignedByte(string text, bool ok, long value)
        {
            Assert.Equal(ok, LinuxKeepAliveStore.KernelTakes(KeepAliveField.Probes, text, out long v));
            Assert.Equal(value, v);
        }

        [Fact]
        public void HzIsReadFromTheKernelConfig()
        {
            Assert.Equal(250, LinuxSysctlConfig.FindHz(new StringReader("# CONFIG_HZ_100 is not set\nCONFIG_HZ_250=y\nCONFIG_HZ=250\n")));
            Assert.Null(LinuxSysctlConfig.FindHz(new StringReader("CONFIG_NO_HZ=y\n")));
        }

        [Fact]
        public void ANewDropInGetsTheHeaderAndOurKeys()
        {
            string text = LinuxSysctlConfig.MergeDropIn(null, Values(("net.ipv4.tcp_tw_reuse", "1")), new[] { "written by us" });
            Assert.Equal("# written by us\nnet.ipv4.tcp_tw_reuse = 1\n", text);
        }

        [Fact]
        public void AnExistingDropInKeepsEverythingButOurKeysWhichAreRewrittenInPlace()
        {
            string existing = "# the admin's note\n\nnet.core.somaxconn = 1024\n; old style\nnet/ipv4/tcp_tw_reuse=0\n-net.ipv4.tcp_fin_timeout = 10\nnet.ipv4.tcp_*_buckets = 5\nnet.ipv4.tcp_tw_reuse = 2\n";
            string text = LinuxSysctlConfig.MergeDropIn(existing, Values(("net.ipv4.tcp_tw_reuse", "1"), ("net.ipv4.tcp_fin_timeout", "30"), ("net.ipv4.ip_local_port_range", "40000 40999")), new[] { "unused" });
            Assert.Equal(
                "# the admin's note\n\nnet.core.somaxconn = 1024\n; old style\nnet.ipv4.tcp_tw_reuse = 1\nnet.ipv4.tcp_fin_timeout = 30\nnet.ipv4.tcp_*_buckets = 5\nnet.ipv4.tcp_tw_reuse = 1\nnet.ipv4.ip_local_port_range = 40000 40999\n",
                text);
        }

        [Fact]
        public void AFileWithoutAFinalNewlineKeepsItsLastLine()
        {
            Assert.Equal("a.b = 1\nnet.ipv4.tcp_tw_reuse = 1\n",
                LinuxSysctlConfig.MergeDropIn("a.b = 1", Values(("net.ipv4.tcp_tw_reuse", "1")), Array.Empty<string>()));
        }

        [Theory]
        [InlineData("32768-60999", 32768, 60999)]
        [InlineData(" 1024-65535 ", 1024, 65535)]
        [InlineData("40000-40000", 40000, 40000)]
        [InlineData("40000", 0, 0)]
        [InlineData("40000 50000", 0, 0)]
        [InlineData("50000-40000", 0, 0)]
        [InlineData("0-100", 0, 0)]
        [InlineData("1-65536", 0, 0)]
        [InlineData("-1-5", 0, 0)]
        [InlineData("0x10-0x20", 0, 0)]
        [InlineData("４００００-５００００", 0, 0)]
        public void PortRangesAreStartDashEnd(string text, int start, int end)
        {
            var r = TimeWaitRules.ParsePortRange(text, out string? why);
            Assert.Equal(start == 0 ? null : ((int, int)?)(start, end), r);
            Assert.Equal(start == 0, why != null);
        }

        [Fact]
        public void ReservedPortListsAreCountedInsideTheRangeOnce()
        {
            var list = TimeWaitRules.ParsePortList("40010-40019, 40050,40015,39990-40001", out _)!;
            Assert.Equal(10 + 1 + 2, TimeWaitRules.CountInRange(list, 40000, 40099));
            Assert.Empty(TimeWaitRules.ParsePortList("", out _)!);
            Assert.Null(TimeWaitRules.ParsePortList("80,x", out string? why));
            Assert.Contains("list of ports", why);
            Assert.Null(TimeWaitRules.ParsePortList("90-80", out _));
            Assert.Null(TimeWaitRules.ParsePortList("70000", out _));
        }

        [Theory]
        [InlineData("80-2000", null, null, "PortRangeBelow1024")]
        [InlineData("40000-50000", null, null, "PortRangeCollidesWithListener")]
        [InlineData("40000-50000", "45000", null, null)]
        [InlineData("40000-44999", null, null, null)]
        [InlineData(null, null, 1000, "MaxTimeWaitBucketsLowered")]
        [InlineData(null, null, 5000, null)]
        [InlineData(null, null, 0, "MaxTimeWaitBucketsOutOfRange")]
        public void MythsAreRefusedWithTheReason(string? range, string? reserved, int? buckets, string? errorId)
        {
            var current = new TcpTimeWaitSetting { Platform = "Linux", PortRangeStart = 32768, PortRangeEnd = 60999, ReservedPorts = "", MaxTimeWaitBuckets = 4096 };
            var change = new TimeWaitChange
            {
                PortRange = range == null ? null : TimeWaitRules.ParsePortRange(range, out _),
                ReservedPorts = reserved,
                MaxTimeWaitBuckets = buckets,
            };
            var e = TimeWaitRules.Validate("Linux", CloseWait.Platform.Linux.LinuxTimeWaitStore.SettableFields, change, current, new HashSet<int> { 45000, 22 });
            Assert.Equal(errorId, e?.ErrorId);
            if (e != null)
            {
                Assert.EndsWith("Nothing was changed.", e.Message);
            }
        }

        [Fact]
        public void TheOtherPlatformsTakeOnlyTheirOwnSettings()
        {
            var current = new TcpTimeWaitSetting();
            Assert.Null(TimeWaitRules.Validate("Windows", CloseWait.Platform.Windows.WindowsTimeWaitStore.SettableFields, new TimeWaitChange { TimeWaitDuration = TimeSpan.FromSeconds(30) }, current, Array.Empty<int>()));
            Assert.Equal("TimeWaitDurationOutOfRange", TimeWaitRules.Validate("Windows", CloseWait.Platform.Windows.WindowsTimeWaitStore.SettableFields, new TimeWaitChange { TimeWaitDuration = TimeSpan.FromSeconds(29) }, current, Array.Empty<int>())!.ErrorId);
            Assert.Equal("TimeWaitSettingNotSupported", TimeWaitRules.Validate("Windows", CloseWait.Platform.Windows.WindowsTimeWaitStore.SettableFields, new TimeWaitChange { TimeWaitReuse = 1 }, current, Array.Empty<int>())!.ErrorId);
            Assert.Contains("netsh", TimeWaitRules.Validate("Windows", CloseWait.Platform.Windows.WindowsTimeWaitStore.SettableFields, new TimeWaitChange { PortRange = (49152, 65535) }, current, Array.Empty<int>())!.Message);
            Assert.Null(TimeWaitRules.Validate("macOS", CloseWait.Platform.MacOS.MacOSTimeWaitStore.SettableFields, new TimeWaitChange { MaximumSegmentLifetime = TimeSpan.FromSeconds(5), PortRange = (49152, 65535) }, current, Array.Empty<int>()));
            Assert.Contains("TCP_TIMEWAIT_LEN", TimeWaitRules.Validate("Linux", CloseWait.Platform.Linux.LinuxTimeWaitStore.SettableFields, new TimeWaitChange { TimeWaitDuration = TimeSpan.FromSeconds(30) }, current, Array.Empty<int>())!.Message);
            Assert.Contains("4.12", TimeWaitRules.RecycleRemoved().Message);
        }

        [Fact]
        public void PortUsageCountsOutboundSocketsPerDestinationWorstFirst()
        {
            var setting = new TcpTimeWaitSetting { Platform = "Linux", PortRangeStart = 40000, PortRangeEnd = 40099, RangeSize = 100, ReservedPorts = "", TimeWaitReuse = 2, TimeWaitDuration = TimeSpan.FromSeconds(60) };
            var b = new PortUsageBuilder(setting);
            b.Add(Conn("0.0.0.0", 5000, "0.0.0.0", 0, TcpState.Listen));
            b.Add(Conn("0.0.0.0", 40020, "0.0.0.0", 0, TcpState.Listen)); // a listener inside the range: its accepted sockets are not ephemeral
            for (int i = 0; i < 60; i++)
            {
                b.Add(Conn("10.0.0.1", 40000 + i, "10.0.0.2", 443, TcpState.TimeWait, TimeSpan.FromSeconds(10 + i)));
            }

            b.Add(Conn("10.0.0.1", 40070, "10.0.0.3", 80, TcpState.Established));
            b.Add(Conn("10.0.0.1", 40020, "10.0.0.9", 51000, TcpState.Established)); // accepted on the listener at 40020
            b.Add(Conn("10.0.0.1", 33000, "10.0.0.2", 443, TcpState.Established)); // outside the range (bound by hand)
            for (int i = 0; i < 3; i++)
            {
                b.Add(Conn("10.0.0.1", 5000, "10.0.0.7", 50000 + i, TcpState.TimeWait, TimeSpan.FromSeconds(5)));
            }

            var rows = b.Build();
            // The TIME_WAIT socket on 40020 sits on a listening port: it counts as inbound, not as an ephemeral port.
            Assert.Equal(4, rows.Count);
            var top = rows[0];
            Assert.Equal(("Outbound", "10.0.0.1", "10.0.0.2", 443), (top.Direction, top.LocalAddress, top.RemoteAddress, top.RemotePort));
            Assert.Equal((59, 59, 0, 100, 59.0), (top.InUse, top.TimeWait, top.Established, top.RangeSize!.Value, top.PercentUsed!.Value));
            Assert.Equal(TcpPortUsageVerdict.Elevated, top.Verdict);
            Assert.Equal(TimeSpan.FromSeconds(10), top.NextPortFreeIn);
            Assert.Equal(TimeSpan.FromSeconds(69), top.TimeWaitExpiresIn);
            Assert.Contains("keep-alive", top.Advice);
            Assert.Contains("-TimeWaitReuse 1", top.Advice);
            Assert.Contains("-PortRange 32768-60999", top.Advice);
            Assert.Equal(("10.0.0.3", 1, TcpPortUsageVerdict.Ok), (rows[1].RemoteAddress, rows[1].InUse, rows[1].Verdict));
            Assert.Null(rows[1].Advice);
            Assert.Null(rows[1].NextPortFreeIn);
            Assert.Equal(("Inbound", 5000, 3), (rows[2].Direction, rows[2].LocalPort!.Value, rows[2].TimeWait));
            Assert.Null(rows[2].RangeSize);
            Assert.Contains("server closes first", rows[2].Advice);
            Assert.Equal(("Inbound", 40020, 1), (rows[3].Direction, rows[3].LocalPort!.Value, rows[3].TimeWait));
        }

        [Fact]
        public void LoopbackWithReuseTwoIsNotToldToSetReuse()
        {
            var setting = new TcpTimeWaitSetting { Platform = "Linux", PortRangeStart = 40000, PortRangeEnd = 40009, RangeSize = 10, ReservedPorts = "", TimeWaitReuse = 2 };
            var b = new PortUsageBuilder(setting);
            for (int i = 0; i < 10; i++)
            {
                b.Add(Conn("127.0.0.1", 40000 + i, "127.0.0.1", 5000, TcpState.TimeWait));
            }

            var row = Assert.Single(b.Build());
            Assert.Equal(TcpPortUsageVerdict.Exhausted, row.Verdict);
            Assert.DoesNotContain("-TimeWaitReuse 1", row.Advice);
        }

        [Theory]
        [InlineData(0, 100, TcpPortUsageVerdict.Ok)]
        [InlineData(49, 100, TcpPortUsageVerdict.Ok)]
        [InlineData(50, 100, TcpPortUsageVerdict.Elevated)]
        [InlineData(80, 100, TcpPortUsageVerdict.NearExhaustion)]
        [InlineData(100, 100, TcpPortUsageVerdict.Exhausted)]
        [InlineData(1, 0, TcpPortUsageVerdict.Exhausted)]
        public void VerdictsFollowTheShareOfTheRange(int inUse, int size, TcpPortUsageVerdict verdict) =>
            Assert.Equal(verdict, PortUsageBuilder.Judge(inUse, size));

        [Fact]
        public void SockstatAndNetstatGiveTheCountAndTheOverflows()
        {
            Assert.Equal(60, LinuxTimeWaitStore.ParseSockstatTimeWait("sockets: used 5\nTCP: inuse 2 orphan 0 tw 60 alloc 3 mem 1\nUDP: inuse 0 mem 0\n"));
            Assert.Null(LinuxTimeWaitStore.ParseSockstatTimeWait("UDP: inuse 0\n"));
            string netstat = "TcpExt: SyncookiesSent TW TCPTimeWaitOverflow TCPOther\nTcpExt: 0 7 12 3\nIpExt: InNoRoutes\nIpExt: 0\n";
            Assert.Equal(12, LinuxTimeWaitStore.ParseNetstatCounter(netstat, "TcpExt", "TCPTimeWaitOverflow"));
            Assert.Null(LinuxTimeWaitStore.ParseNetstatCounter(netstat, "TcpExt", "Missing"));
        }

        [Fact]
        public void TheStoreReadsWritesAndPersistsOverAScratchTree()
        {
            string root = Path.Combine(Path.GetTempPath(), "cw-tw-" + Guid.NewGuid().ToString("N"));
            string proc = Path.Combine(root, "proc"), net = Path.Combine(root, "net"), config = Path.Combine(root, "config");
            Directory.CreateDirectory(proc);
            Directory.CreateDirectory(net);
            try
            {
                File.WriteAllText(Path.Combine(proc, "ip_local_port_range"), "32768\t60999\n");
                File.WriteAllText(Path.Combine(proc, "ip_local_reserved_ports"), "\n");
                File.WriteAllText(Path.Combine(proc, "tcp_tw_reuse"), "2\n");
                File.WriteAllText(Path.Combine(proc, "tcp_max_tw_buckets"), "4096\n");
                File.WriteAllText(Path.Combine(proc, "tcp_fin_timeout"), "60\n");
                File.WriteAllText(Path.Combine(net, "sockstat"), "TCP: inuse 1 orphan 0 tw 3 alloc 1 mem 0\n");
                var store = new LinuxTimeWaitStore(proc, net, config);

                var s = store.Read(null);
                Assert.Equal((32768, 60999, 28232, 2, 4096, 3), (s.PortRangeStart!.Value, s.PortRangeEnd!.Value, s.RangeSize!.Value, s.TimeWaitReuse!.Value, s.MaxTimeWaitBuckets!.Value, s.TimeWaitCount!.Value));
                Assert.Null(s.TimeWaitOverflow); // no netstat file: not known, not 0
                Assert.Equal("32768-60999", s.PortRange);
                Assert.Equal(6, s.Details.Length);
                Assert.True(s.Details.Single(d => d.Setting == "PortRange").IsDefault);
                Assert.Null(s.Details.Single(d => d.Setting == "MaxTimeWaitBuckets").IsDefault);

                var change = new TimeWaitChange { PortRange = (40000, 40099), ReservedPorts = "40010-40019", TimeWaitReuse = 1 };
                store.Write(change, null);
                Assert.Equal("40000 40099\n", File.ReadAllText(Path.Combine(proc, "ip_local_port_range")));
                Assert.Equal("40010-40019\n", File.ReadAllText(Path.Combine(proc, "ip_local_reserved_ports")));
                Assert.Equal(90, store.Read(null).RangeSize);

                Directory.CreateDirectory(Path.Combine(config, "etc", "sysctl.d"));
                File.WriteAllText(store.PersistTarget!, "# mine\nnet.core.somaxconn = 1024\n");
                store.Persist(change);
                Assert.Equal("# mine\nnet.core.somaxconn = 1024\nnet.ipv4.ip_local_reserved_ports = 40010-40019\nnet.ipv4.ip_local_port_range = 40000 40099\nnet.ipv4.tcp_tw_reuse = 1\n",
                    File.ReadAllText(store.PersistTarget!));
            }
            finally
            {
                Directory.Delete(root, recursive: true);
            }
        }

        [Fact]
        public void TheSharedTransactionPutsBackStringValuesToo()
        {
            var kernel = new Dictionary<TimeWaitField, string> { [TimeWaitField.ReservedPorts] = "", [TimeWaitField.PortRange] = "32768 60999" };
            var steps = new List<SettingStep<TimeWaitField, string>>
            {
                new SettingStep<TimeWaitField, string>(TimeWaitField.ReservedPorts, "", "8080"),
                new SettingStep<TimeWaitField, string>(TimeWaitField.PortRange, "32768 60999", "1024 65535"),
            };
            var e = Assert.Throws<CloseWaitException>(() => SettingTransaction.Apply(steps, (f, v) =>
            {
                if (f == TimeWaitField.PortRange)
                {
                    throw new CloseWaitException("TimeWaitWriteFailed", System.Management.Automation.ErrorCategory.WriteError, "Cannot set PortRange.");
                }

                kernel[f] = v;
            }, null, LinuxTimeWaitStore.Describe, "TimeWaitRollbackFailed"));
            Assert.Equal("", kernel[TimeWaitField.ReservedPorts]);
            Assert.Equal("Cannot set PortRange. Put ReservedPorts back to none, so nothing was changed.", e.Message);
        }

        [Fact]
        public void WindowsReadsTcpTimedWaitDelayAndLeavesTheDynamicRangeUnknown()
        {
            const string key = @"HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters";
            var absent = CloseWait.Platform.Windows.WindowsTimeWaitStore.FromRegistry(null, key);
            Assert.Equal(TimeSpan.FromSeconds(120), absent.TimeWaitDuration);
            Assert.Null(absent.PortRangeStart);
            Assert.Null(absent.RangeSize);
            Assert.Equal(key + @"\TcpTimedWaitDelay (not set: Windows default)", absent.Details[0].Source);
            Assert.True(absent.Details[0].IsDefault);
            Assert.Contains("netsh int ipv4 show dynamicport tcp", absent.Details[1].Meaning);

            var set = CloseWait.Platform.Windows.WindowsTimeWaitStore.FromRegistry((Interop.Advapi32.REG_DWORD, 30u), key);
            Assert.Equal(TimeSpan.FromSeconds(30), set.TimeWaitDuration);
            Assert.False(set.Details[0].IsDefault);
            Assert.Contains("outside the documented", CloseWait.Platform.Windows.WindowsTimeWaitStore.FromRegistry((Interop.Advapi32.REG_DWORD, 5u), key).Details[0].Source);
            Assert.Equal(TimeSpan.FromSeconds(120), CloseWait.Platform.Windows.WindowsTimeWaitStore.FromRegistry((1, 5u), key).TimeWaitDuration);
        }

        [Fact]
        public void MacOSTimeWaitIsTwiceTheMsl()
        {
            var s = CloseWait.Platform.MacOS.MacOSTimeWaitStore.FromSysctl(15000, 49152, 65535);
            Assert.Equal(TimeSpan.FromSeconds(30), s.TimeWaitDuration);
            Assert.Equal(16384, s.RangeSize);
            Assert.True(s.Details.All(d => d.IsDefault == true));
            var e = CloseWait.Platform.MacOS.MacOSTimeWaitStore.PersistNotSupported(new TimeWaitChange { PortRange = (10000, 65535), MaximumSegmentLifetime = TimeSpan.FromSeconds(5) });
            Assert.Equal("TimeWaitPersistNotSupported", e.ErrorId);
            Assert.Contains("net.inet.tcp.msl=5000 net.inet.ip.portrange.first=10000 net.inet.ip.portrange.last=65535", e.Message);
        }

        private static IReadOnlyList<KeyValuePair<string, string>> Values(params (string Key, string Value)[] values) =>
            values.Select(v => new KeyValuePair<string, string>(v.Key, v.Value)).ToList();

        private static TcpConnection Conn(string local, int localPort, string remote, int remotePort, TcpState state, TimeSpan? timer = null) =>
            new TcpConnection(AddressFamily.InterNetwork, IPAddress.Parse(local), localPort, IPAddress.Parse(remote), remotePort, state, 0, "test") { TimerExpiresIn = timer };
    }
}
