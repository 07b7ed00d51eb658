using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>Test-TcpCloseWait through the real engine on this process's own loopback sockets (the per-cause processes are in tests/TestTcpCloseWait.Tests.ps1).</summary>
    [Collection("PowerShell")]
    public sealed class TestTcpCloseWaitTests
    {
        private readonly PowerShellFixture _ps;

        public TestTcpCloseWaitTests(PowerShellFixture ps) => _ps = ps;

        [Fact]
        public void ReadToTheEndIsNotClosedUnreadIsNotReadAndTheRemotePortFilterKeepsTheListener()
        {
            if (!OperatingSystem.IsLinux())
            {
                return; // the queues and the FIN state are Linux's (CloseWaitAnalyzerTests covers the others)
            }

            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback, count: 2, bytes: 5);
            var buffer = new byte[64];
            var first = sockets.ServerSockets[0];
            while (first.Receive(buffer) > 0)
            {
            }

            var vars = new Dictionary<string, object?> { ["port"] = sockets.Port, ["unread"] = sockets.ClientPorts[1], ["read"] = sockets.ClientPorts[0] };
            var d = _ps.Run("Test-TcpCloseWait -LocalPort $port -StuckAfter 0", vars).ThrowIfFailed().Objects<TcpCloseWaitDiagnosis>().Single();
            Assert.Equal(Environment.ProcessId, d.ProcessId);
            Assert.Equal(Environment.ProcessId, d.Id);
            Assert.Equal(2, d.Count);
            Assert.Equal(new[] { "NotClosed", "NotRead" }, d.Cause);
            Assert.Equal(5, d.UnreadBytes);
            Assert.Equal(2, d.Connections.Length);
            Assert.NotNull(d.OpenDescriptors);
            Assert.Equal(TcpCloseWaitSeverity.Warning, d.Severity);

            // Filtered by remote port, the listener still says the socket is inbound: NotRead, not IdlePool.
            var unread = _ps.Run("Test-TcpCloseWait -LocalPort $port -RemotePort $unread -StuckAfter 0", vars).ThrowIfFailed().Objects<TcpCloseWaitDiagnosis>().Single();
            Assert.Equal(new[] { "NotRead" }, unread.Cause);
            var read = _ps.Run("Test-TcpCloseWait -RemotePort $read -StuckAfter 0", vars).ThrowIfFailed().Objects<TcpCloseWaitDiagnosis>().Single();
            Assert.Equal(new[] { "NotClosed" }, read.Cause);

            // Seconds old is brief under the default minute: nothing wrong.
            var brief = _ps.Run("Test-TcpCloseWait -LocalPort $port", vars).ThrowIfFailed().Objects<TcpCloseWaitDiagnosis>().Single();
            Assert.True(brief.Healthy);
            Assert.Empty(brief.Cause);
            Assert.Equal(0, brief.StuckCount);
        }

        [Fact]
        public void QuietIsTrueOnlyWhenNothingIsWrong()
        {
            if (!OperatingSystem.IsLinux())
            {
                return;
            }

            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback, count: 1, bytes: 3);
            var vars = new Dictionary<string, object?> { ["port"] = sockets.Port };
            Assert.Equal(false, _ps.Run("Test-TcpCloseWait -LocalPort $port -StuckAfter 0 -Quiet", vars).ThrowIfFailed().Output.Single().BaseObject);
            Assert.Equal(true, _ps.Run("Test-TcpCloseWait -LocalPort $port -Quiet", vars).ThrowIfFailed().Output.Single().BaseObject);

            // No CLOSE_WAIT at all: one $true, no diagnosis.
            sockets.Dispose();
            Assert.Equal(true, _ps.Run("Test-TcpCloseWait -LocalPort $port -StuckAfter 0 -Quiet", vars).ThrowIfFailed().Output.Single().BaseObject);
            Assert.Empty(_ps.Run("Test-TcpCloseWait -LocalPort $port -StuckAfter 0", vars).ThrowIfFailed().Output);
        }

        [Fact]
        public void NoOwnerIsRefusedWithItsId()
        {
            var r = _ps.Run("Test-TcpCloseWait -NoOwner");
            Assert.Equal(new[] { "DiagnosisNeedsOwners,CloseWait.Commands.TestTcpCloseWaitCommand" }, r.ErrorIds.ToArray());
        }
    }
}
