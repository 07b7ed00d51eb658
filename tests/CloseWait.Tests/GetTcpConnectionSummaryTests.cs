using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>Get-TcpConnectionSummary, counted in a private namespace so that nothing else on the machine moves the numbers.</summary>
    [Collection("PowerShell")]
    public sealed class GetTcpConnectionSummaryTests
    {
        private readonly PowerShellFixture _ps;

        public GetTcpConnectionSummaryTests(PowerShellFixture ps) => _ps = ps;

        [Fact]
        public void CountsPerStateAndPerOwner()
        {
            using var ns = new PrivateNetworkNamespace();
            using var v4 = TestNative.InNamespaceOf(ns.Pid, () => LoopbackSockets.CloseWait(IPAddress.Loopback, count: 3));
            using var v6 = TestNative.InNamespaceOf(ns.Pid, () => LoopbackSockets.CloseWait(IPAddress.IPv6Loopback, count: 2));
            var vars = new Dictionary<string, object?> { ["ns"] = ns.Pid.ToString() };

            var s = Assert.Single(_ps.Run("Get-TcpConnectionSummary -NetworkNamespace $ns", vars).ThrowIfFailed().Objects<TcpConnectionSummary>());
            Assert.Equal(5, s.CloseWait);
            Assert.Equal(2, s.Listen);
            Assert.Equal(5, s.TimeWait + s.FinWait2 + s.Closed); // the closed clients' ends, on their way out
            Assert.Equal(s.CloseWait + s.Listen + s.TimeWait + s.FinWait2 + s.Closed + s.Established, s.Total);
            var me = Assert.Single(s.ByProcess);
            Assert.Equal(Environment.ProcessId, me.ProcessId);
            Assert.Equal(Environment.ProcessId, me.Id);
            Assert.Equal(TestNative.Comm(Environment.ProcessId), me.ProcessName);
            Assert.Equal(7, me.Total);
            Assert.Equal(5, me.CloseWait);
            Assert.Equal(2, me.Listen);
            Assert.Equal(ns.Pid.ToString(), s.NetworkNamespace);

            var v4Only = Assert.Single(_ps.Run("Get-TcpConnectionSummary -NetworkNamespace $ns -AddressFamily IPv4", vars).ThrowIfFailed().Objects<TcpConnectionSummary>());
            Assert.Equal(3, v4Only.CloseWait);
            Assert.Equal(1, v4Only.Listen);

            var cheap = Assert.Single(_ps.Run("Get-TcpConnectionSummary -NetworkNamespace $ns -NoOwner", vars).ThrowIfFailed().Objects<TcpConnectionSummary>());
            Assert.Equal(5, cheap.CloseWait);
            Assert.Empty(cheap.ByProcess);
            Assert.Null(cheap.Unowned);

            string text = _ps.Render("Get-TcpConnectionSummary -NetworkNamespace $ns", vars);
            Assert.Matches(@"CloseWait\s+: 5", text);
            Assert.Contains($"{Environment.ProcessId}/{me.ProcessName}: 7 (5 CloseWait)", text);
        }

        [Fact]
        public void AgreesWithGetTcpConnectionOnTheHost()
        {
            // Other processes may open and close sockets meanwhile: compare CLOSE_WAIT sockets on
            // this test's own ports, which nothing else touches.
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback, count: 4);
            var s = Assert.Single(_ps.Run("Get-TcpConnectionSummary").ThrowIfFailed().Objects<TcpConnectionSummary>());
            var mine = Assert.Single(s.ByProcess, p => p.ProcessId == Environment.ProcessId);
            int listed = _ps.Run("@(Get-TcpConnection -ProcessId $me -State CloseWait).Count", new Dictionary<string, object?> { ["me"] = Environment.ProcessId }).ThrowIfFailed().Output.Single().BaseObject is int n ? n : -1;
            Assert.True(mine.CloseWait >= 4);
            Assert.Equal(listed, mine.CloseWait);
        }
    }
}
