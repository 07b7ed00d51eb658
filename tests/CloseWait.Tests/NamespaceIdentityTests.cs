using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using CloseWait.Platform;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>
    /// Issue 20: where a record was listed (host, boot, namespace) is one value, and every layer
    /// uses it: the diagnosis matches listeners of the socket's own namespace, keeps unowned
    /// sockets apart per namespace, and Watch's connections say which host and boot listed them.
    /// </summary>
    public sealed class NamespaceIdentityTests
    {
        private const int Port = 8080;

        private static TcpConnection Listener(ulong ns, int port = Port) =>
            new TcpConnection(AddressFamily.InterNetwork, IPAddress.Any, port, IPAddress.Any, 0, TcpState.Listen, 10, "Netlink")
            {
                ProcessId = 100,
                Program = "server",
                Owners = new[] { new TcpSocketOwner(100, "server", 3) },
                Inode = 1,
                NetworkNamespaceId = ns,
            };

        private static TcpConnection CloseWait(ulong ns, int? pid, int remotePort, bool? endOfStreamRead = false, int localPort = Port) =>
            new TcpConnection(AddressFamily.InterNetwork, IPAddress.Parse("10.0.0.1"), localPort, IPAddress.Parse("10.0.0.9"), remotePort, TcpState.CloseWait, 8, "Netlink")
            {
                ProcessId = pid,
                Program = pid == null ? null : "app",
                Owners = pid is int p ? new[] { new TcpSocketOwner(p, "app", 7) } : new TcpSocketOwner[0],
                EndOfStreamRead = endOfStreamRead,
                IdleTime = TimeSpan.FromMinutes(10),
                Inode = 12345,
                NetworkNamespaceId = ns,
                NetworkNamespace = ns.ToString(System.Globalization.CultureInfo.InvariantCulture),
            };

        [Fact]
        public void AListenerOfAnotherNamespaceDoesNotMakeASocketInbound()
        {
            // An outbound pool in namespace 1 (ephemeral local ports to a server's 443) whose first
            // local port a server in namespace 2 listens on.
            var sockets = Enumerable.Range(0, 12).Select(i => CloseWait(1, 200, 443, localPort: 40000 + i)).ToList();
            var d = CloseWaitAnalyzer.Analyze(sockets, new List<TcpConnection> { Listener(2, 40000) }, null, new CloseWaitThresholds()).Single();
            Assert.Contains(TcpCloseWaitCause.IdlePool, d.Causes);
            Assert.DoesNotContain(TcpCloseWaitCause.NotRead, d.Causes);

            var same = CloseWaitAnalyzer.Analyze(sockets, new List<TcpConnection> { Listener(1, 40000) }, null, new CloseWaitThresholds()).Single();
            Assert.Contains(TcpCloseWaitCause.NotRead, same.Causes);
        }

        [Fact]
        public void UnownedSocketsAreDiagnosedPerNamespaceAndSayWhere()
        {
            var sockets = Enumerable.Range(0, 12).Select(i => CloseWait(1, null, 50000 + i))
                .Concat(Enumerable.Range(0, 12).Select(i => CloseWait(2, null, 51000 + i))).ToList();
            var rows = CloseWaitAnalyzer.Analyze(sockets, new List<TcpConnection>(), null, new CloseWaitThresholds());
            Assert.Equal(2, rows.Count);
            Assert.Equal(new ulong?[] { 1, 2 }, rows.Select(r => r.NetworkNamespaceId).OrderBy(i => i).ToArray());
            Assert.All(rows, r => Assert.Equal(12, r.Count));
        }

        private sealed class OneTable : ISocketTable
        {
            private readonly Func<TcpConnection[]> _rows;

            internal OneTable(Func<TcpConnection[]> rows) => _rows = rows;

            public IEnumerable<TcpConnection> Read(SocketQuery query, CancellationToken cancellationToken) => _rows();
        }

        private sealed class NoOwners : IOwnerResolver
        {
            public int Resolve(IReadOnlyList<TcpConnection> connections, CancellationToken cancellationToken) => 0;
        }

        [Theory]
        [InlineData(true)]
        [InlineData(false)]
        public void WatchConnectionsSayWhichHostAndBootListedThem(bool owners)
        {
            var table = new OneTable(() => new[] { new TcpConnection(AddressFamily.InterNetwork, IPAddress.Loopback, 1234, IPAddress.Loopback, 5678, TcpState.CloseWait, 8, "Netlink") { Inode = 7 } });
            var sampler = new CloseWaitSampler(table, owners ? new NoOwners() : null, new ConnectionFilter(), new SocketQuery { States = new[] { TcpState.CloseWait } }, () => TimeSpan.Zero);
            var c = sampler.Read(default).Single();
            Assert.Equal(Environment.MachineName, c.ComputerName);
            Assert.Equal(PlatformServices.BootId, c.BootId);
            Assert.NotNull(c.BootId);
        }
    }
}
