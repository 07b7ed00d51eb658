using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using Xunit;

namespace CloseWait.Tests
{
    [Collection("PowerShell")]
    public sealed class GetTcpCloseWaitTests
    {
        private readonly PowerShellFixture _ps;

        public GetTcpCloseWaitTests(PowerShellFixture ps) => _ps = ps;

        [Theory]
        [InlineData("127.0.0.1")]
        [InlineData("::1")]
        public void FindsCloseWaitSocketWithPortsOwnerAndQueue(string loopback)
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Parse(loopback), bytes: 5);
            var r = _ps.Run("Get-TcpCloseWait -LocalPort $port", new Dictionary<string, object?> { ["port"] = sockets.Port }).ThrowIfFailed();
            var c = Assert.Single(r.Objects<TcpConnection>());
            Assert.Equal(TcpState.CloseWait, c.State);
            Assert.Equal(loopback, c.LocalAddress);
            Assert.Equal(sockets.Port, c.LocalPort);
            Assert.Equal(sockets.ClientPorts[0], c.RemotePort);
            Assert.Equal(Environment.ProcessId, c.ProcessId);
            Assert.Equal(Environment.ProcessId, c.Id);
            Assert.Equal(5, c.ReceiveQueue);
            Assert.Equal(0, c.SendQueue);
            Assert.NotNull(c.Inode);
            Assert.NotNull(c.Cookie);
            Assert.NotNull(c.IdleTime);
        }
    }
}
