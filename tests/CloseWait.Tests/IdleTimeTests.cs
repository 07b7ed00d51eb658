using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>
    /// IdleTime is the time since the peer last sent anything (its FIN for CLOSE_WAIT), DataIdleTime
    /// the time since its last data: a real timeline of data, idle, close, wait on loopback.
    /// </summary>
    [Collection("PowerShell")]
    public sealed class IdleTimeTests
    {
        // The scenario's own waits: the connection idles, then sits in CLOSE_WAIT. Long enough
        // that the two figures are seconds apart, short enough for a unit test.
        private static readonly TimeSpan IdleBeforeClose = TimeSpan.FromSeconds(4);
        private static readonly TimeSpan StuckFor = TimeSpan.FromSeconds(2);
        private const double ToleranceMs = 1000;

        private readonly PowerShellFixture _ps;

        public IdleTimeTests(PowerShellFixture ps) => _ps = ps;

        [Fact]
        public void IdleTimeCountsFromThePeersFinAndDataIdleTimeFromItsLastData()
        {
            if (!OperatingSystem.IsLinux())
            {
                return; // tcp_info timers are Linux's; elsewhere both are $null (PlatformTests)
            }

            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            client.Connect(listener.LocalEndPoint!);
            using var server = listener.Accept();

            // The last data: the server reads it, so the socket holds nothing unread.
            client.Send(new byte[] { 1, 2, 3 });
            var buffer = new byte[16];
            Assert.Equal(3, server.Receive(buffer));
            var sinceData = Stopwatch.StartNew();

            Thread.Sleep(IdleBeforeClose);
            client.Close();
            var sinceFin = Stopwatch.StartNew();
            var vars = new Dictionary<string, object?> { ["port"] = port };
            Assert.True(SpinWait.SpinUntil(
                () => _ps.Run("Get-TcpCloseWait -LocalPort $port -NoOwner", vars).ThrowIfFailed().Output.Count == 1,
                TimeSpan.FromSeconds(5)), "the accepted socket never showed CLOSE_WAIT");

            Thread.Sleep(StuckFor - sinceFin.Elapsed > TimeSpan.Zero ? StuckFor - sinceFin.Elapsed : TimeSpan.Zero);

            // The kernel reads its clock somewhere inside the call: bracket it, then allow the second.
            double stuckBefore = sinceFin.Elapsed.TotalMilliseconds;
            double dataBefore = sinceData.Elapsed.TotalMilliseconds;
            var c = _ps.Run("Get-TcpCloseWait -LocalPort $port -NoOwner", vars).ThrowIfFailed().Objects<TcpConnection>().Single();
            double stuckAfter = sinceFin.Elapsed.TotalMilliseconds;
            double dataAfter = sinceData.Elapsed.TotalMilliseconds;

            Assert.InRange(c.IdleTime!.Value.TotalMilliseconds, stuckBefore - ToleranceMs, stuckAfter + ToleranceMs);
            Assert.InRange(c.DataIdleTime!.Value.TotalMilliseconds, dataBefore - ToleranceMs, dataAfter + ToleranceMs);
            double stuck = stuckAfter;

            // -MinimumIdleTime uses the stuck time: seconds into CLOSE_WAIT, not the idle time before.
            vars["min"] = TimeSpan.FromMilliseconds(stuck + (IdleBeforeClose.TotalMilliseconds * 3 / 4));
            Assert.Empty(_ps.Run("Get-TcpCloseWait -LocalPort $port -NoOwner -MinimumIdleTime $min", vars).ThrowIfFailed().Output);
        }

        [Fact]
        public void AListenerHasNeitherIdleTime()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback);
            var vars = new Dictionary<string, object?> { ["port"] = sockets.Port };
            var l = _ps.Run("Get-TcpConnection -LocalPort $port -State Listen -NoOwner", vars).ThrowIfFailed().Objects<TcpConnection>().Single();
            Assert.Null(l.IdleTime);
            Assert.Null(l.DataIdleTime);
        }
    }
}
