using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using CloseWait.Platform;
using CloseWait.Platform.MacOS;
using CloseWait.Platform.Windows;
using Xunit;
using TableClass = Interop.IpHlpApi.TcpTableClass;

namespace CloseWait.Tests
{
    /// <summary>Back end choice, and the Windows table through the real cmdlets (over a constructed buffer).</summary>
    [Collection("PowerShell")]
    public sealed class PlatformTests
    {
        private readonly PowerShellFixture _ps;

        public PlatformTests(PowerShellFixture ps) => _ps = ps;

        [Fact]
        public void AnUnsupportedPlatformIsOneClearTerminatingError()
        {
            PSResult r;
            using (PlatformServices.UseBackEndsOf("FreeBSD 14.1-RELEASE"))
            {
                r = _ps.Run("Get-TcpCloseWait");
            }

            // ThrowTerminatingError: in a script, it ends the statement and lands in the error stream.
            Assert.Equal(new[] { "PlatformNotSupported,CloseWait.Commands.GetTcpCloseWaitCommand" }, r.ErrorIds);
            var record = r.Terminating?.ErrorRecord ?? r.Errors.Single();
            Assert.Equal("CloseWait does not support FreeBSD 14.1-RELEASE. It runs on Linux, Windows and macOS.", record.Exception.Message);
            Assert.Equal(System.Management.Automation.ErrorCategory.NotImplemented, record.CategoryInfo.Category);
            Assert.Equal("FreeBSD 14.1-RELEASE", record.TargetObject);
            Assert.Empty(r.Output);
        }

        [Theory]
        [InlineData("Windows", typeof(WindowsSocketTable), typeof(WindowsOwnerResolver))]
        [InlineData("macOS", typeof(MacOSSocketTable), typeof(MacOSOwnerResolver))]
        public void EachPlatformGetsItsOwnBackEnds(string platform, Type table, Type owners)
        {
            using (PlatformServices.UseBackEndsOf(platform))
            {
                Assert.IsType(table, PlatformServices.SocketTable);
                Assert.IsType(owners, PlatformServices.OwnerResolver);
            }

            Assert.Equal("CloseWait.Platform.Linux.LinuxSocketTable", PlatformServices.SocketTable.GetType().FullName);
        }

        [Fact]
        public void TheWindowsTableGoesThroughGetTcpCloseWaitUnchanged()
        {
            long created = new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Utc).ToFileTimeUtc();
            byte[] v4 = new WindowsTableBuilder(v6: false, module: true)
                .Row(2, "0.0.0.0", 8080, "0.0.0.0", 0, pid: 1200)
                .Row(8, "10.0.0.5", 8080, "10.0.0.9", 40001, pid: 1200, created)
                .Row(8, "10.0.0.5", 8080, "10.0.0.9", 40002, pid: 1300)
                .Build();
            byte[] v6 = new WindowsTableBuilder(v6: true, module: true).Row(8, "::1", 8080, "::1", 40003, pid: 1200).Build();
            var table = new WindowsSocketTable((byte[]? buffer, ref uint size, System.Net.Sockets.AddressFamily family, TableClass tableClass) =>
            {
                byte[] src = family == System.Net.Sockets.AddressFamily.InterNetwork ? v4 : v6;
                if (buffer == null || size < src.Length)
                {
                    size = (uint)src.Length;
                    return Interop.IpHlpApi.ERROR_INSUFFICIENT_BUFFER;
                }

                Buffer.BlockCopy(src, 0, buffer, 0, src.Length);
                return Interop.IpHlpApi.NO_ERROR;
            });
            var owners = new WindowsOwnerResolver(() => new Dictionary<int, string> { [1200] = "w3wp" });

            PSResult found, idle;
            using (PlatformServices.UseBackEnds(table, owners))
            {
                found = _ps.Run("Get-TcpCloseWait -ProcessName w3wp").ThrowIfFailed();
                idle = _ps.Run("Get-TcpCloseWait -MinimumIdleTime 60").ThrowIfFailed();
            }

            var rows = found.Objects<TcpConnection>().OrderBy(r => r.RemotePort).ToList();
            Assert.Equal(new[] { 40001, 40003 }, rows.Select(r => r.RemotePort));
            Assert.All(rows, r => Assert.Equal((1200, "w3wp", TcpState.CloseWait), (r.ProcessId!.Value, r.Program!, r.State)));
            Assert.Equal(new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Utc).ToLocalTime(), rows[0].CreationTime);
            Assert.Null(rows[0].ReceiveQueue);

            Assert.Empty(idle.Output);
            Assert.Contains(idle.Warnings, w => w.StartsWith("3 socket(s) were left out because this platform's socket table gives no idle time", StringComparison.Ordinal));
        }

        [Fact]
        public void TestTcpCloseWaitOnTheWindowsTableSaysWhatItCannotTell()
        {
            var builder = new WindowsTableBuilder(v6: false, module: true).Row(2, "0.0.0.0", 8080, "0.0.0.0", 0, pid: 1200);
            for (int i = 0; i < 12; i++)
            {
                builder.Row(8, "10.0.0.5", 8080, "10.0.0.9", 40000 + i, pid: 1200);
            }

            builder.Row(8, "10.0.0.5", 8080, "10.0.0.9", 41000, pid: 1300).Row(8, "10.0.0.5", 8080, "10.0.0.9", 41001, pid: 1300);
            byte[] v4 = builder.Build();
            byte[] v6 = new WindowsTableBuilder(v6: true, module: true).Build();
            var table = new WindowsSocketTable((byte[]? buffer, ref uint size, System.Net.Sockets.AddressFamily family, TableClass tableClass) =>
            {
                byte[] src = family == System.Net.Sockets.AddressFamily.InterNetwork ? v4 : v6;
                if (buffer == null || size < src.Length)
                {
                    size = (uint)src.Length;
                    return Interop.IpHlpApi.ERROR_INSUFFICIENT_BUFFER;
                }

                Buffer.BlockCopy(src, 0, buffer, 0, src.Length);
                return Interop.IpHlpApi.NO_ERROR;
            });
            var owners = new WindowsOwnerResolver(() => new Dictionary<int, string> { [1200] = "w3wp", [1300] = "svc" });

            PSResult r, quiet;
            using (PlatformServices.UseBackEnds(table, owners))
            {
                r = _ps.Run("Test-TcpCloseWait").ThrowIfFailed();
                quiet = _ps.Run("Test-TcpCloseWait -ProcessId 1300 -Quiet").ThrowIfFailed();
            }

            var all = r.Objects<TcpCloseWaitDiagnosis>();
            Assert.Equal(new int?[] { 1200, 1300 }, all.Select(d => d.ProcessId).ToArray());
            var many = all[0];
            Assert.Equal(12, many.Count);
            Assert.Equal(TcpCloseWaitSeverity.Warning, many.Severity);
            Assert.Empty(many.Cause);
            Assert.Null(many.StuckCount);
            Assert.Null(many.UnreadBytes);
            Assert.Null(many.OpenDescriptors);
            Assert.Contains("NotRead, NotClosed, IdlePool, PeerIdleTimeout, Inherited cannot be told apart here", many.Finding);
            Assert.True(all[1].Healthy);
            Assert.Equal(true, quiet.Output.Single().BaseObject);
        }
    }
}
