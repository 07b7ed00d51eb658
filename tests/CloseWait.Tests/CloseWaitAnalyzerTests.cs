using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using CloseWait.Platform;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>CloseWaitAnalyzer on constructed sockets: each rule, the thresholds, and what other platforms cannot tell.</summary>
    public sealed class CloseWaitAnalyzerTests
    {
        private const int ServerPort = 8080;
        private static readonly CloseWaitThresholds Defaults = new CloseWaitThresholds();
        private static int _nextPort = 40000;

        /// <summary>A TCP keepalive change in advice (an application's keep-alive knob, such as nginx keepalive_timeout, is no such change).</summary>
        private const string KeepaliveChange = "(?i)TCP keepalive|Set-TcpKeepAlive|Test-TcpKeepAlive|SO_KEEPALIVE|tcp_keepalive_";

        private static TcpConnection Listener(int port = ServerPort, string address = "0.0.0.0", int? pid = 100, string source = "Netlink") =>
            new TcpConnection(AddressFamily.InterNetwork, IPAddress.Parse(address), port, IPAddress.Any, 0, TcpState.Listen, 10, source)
            {
                ProcessId = pid,
                Program = pid == null ? null : "server",
                Owners = pid is int p ? new[] { new TcpSocketOwner(p, "server", 3) } : new TcpSocketOwner[0],
                ReceiveQueue = 5,
                SendQueue = 128,
                Inode = 1,
            };

        /// <summary>A Linux CLOSE_WAIT socket: inbound on <see cref="ServerPort"/> unless a local port is given.</summary>
        private static TcpConnection Socket(
            int? pid = 200,
            double stuckSeconds = 600,
            double? idleBeforeFin = 0.01,
            long unread = 0,
            bool? endOfStreamRead = true,
            int localPort = ServerPort,
            string local = "10.0.0.1",
            string remote = "10.0.0.9",
            int? remotePort = null,
            int[]? owners = null,
            bool inode = true,
            string source = "Netlink")
        {
            int[] holders = owners ?? (pid is int p ? new[] { p } : new int[0]);
            return new TcpConnection(AddressFamily.InterNetwork, IPAddress.Parse(local), localPort, IPAddress.Parse(remote), remotePort ?? _nextPort++, TcpState.CloseWait, 8, source)
            {
                ProcessId = holders.Length > 0 ? holders.Min() : (int?)null,
                Program = holders.Length > 0 ? "app" : null,
                Owners = holders.Select(h => new TcpSocketOwner(h, h == pid ? "app" : "child", 7)).ToArray(),
                ReceiveQueue = unread,
                EndOfStreamRead = endOfStreamRead,
                IdleTime = TimeSpan.FromSeconds(stuckSeconds),
                DataIdleTime = idleBeforeFin is double gap ? TimeSpan.FromSeconds(stuckSeconds + gap) : (TimeSpan?)null,
                Inode = inode ? (ulong?)12345 : null,
            };
        }

        private static List<TcpCloseWaitDiagnosis> Analyze(IEnumerable<TcpConnection> sockets, IEnumerable<TcpConnection>? listeners = null, IProcessDescriptors? descriptors = null, CloseWaitThresholds? t = null) =>
            CloseWaitAnalyzer.Analyze(sockets, (listeners ?? new[] { Listener() }).ToList(), descriptors, t ?? Defaults);

        private static TcpCloseWaitDiagnosis One(IEnumerable<TcpConnection> sockets, IEnumerable<TcpConnection>? listeners = null, IProcessDescriptors? descriptors = null, CloseWaitThresholds? t = null) =>
            Assert.Single(Analyze(sockets, listeners, descriptors, t));

        private static IEnumerable<TcpConnection> Many(int n, Func<int, TcpConnection> make) => Enumerable.Range(0, n).Select(make).ToList();

        [Fact]
        public void BriefCloseWaitIsNormalWithNoCause()
        {
            var d = One(Many(3, _ => Socket(stuckSeconds: 2, unread: 10)));
            Assert.Equal(TcpCloseWaitSeverity.Normal, d.Severity);
            Assert.True(d.Healthy);
            Assert.Empty(d.Cause);
            Assert.Equal(0, d.StuckCount);
            Assert.Equal(3, d.Count);
            Assert.Contains("normal", d.Finding);
            Assert.Equal(string.Empty, d.Advice);
        }

        [Fact]
        public void OnlyTheStuckSocketsGiveTheCause()
        {
            // Two brief sockets with unread data, one stuck that read to the end: NotClosed alone.
            var d = One(new[] { Socket(stuckSeconds: 1, unread: 5), Socket(stuckSeconds: 1, unread: 5), Socket(stuckSeconds: 120) });
            Assert.Equal(new[] { "NotClosed" }, d.Cause);
            Assert.Equal(1, d.StuckCount);
            Assert.Equal(TcpCloseWaitSeverity.Warning, d.Severity);
            Assert.Equal(TimeSpan.FromSeconds(120), d.LongestIdleTime);
        }

        [Fact]
        public void EndOfStreamReadAndNothingUnreadIsNotClosed()
        {
            var d = One(Many(4, _ => Socket()));
            Assert.Equal(new[] { "NotClosed" }, d.Cause);
            Assert.Contains("Get-TcpCloseWait -LocalPort 8080 | Close-TcpConnection", d.Advice);
            Assert.Contains("not the work behind them", d.Advice);
            Assert.Equal(0, d.UnreadBytes);
        }

        [Fact]
        public void UnreadDataIsNotReadInboundAndOutbound()
        {
            var d = One(new[] { Socket(unread: 100, endOfStreamRead: false), Socket(unread: 20, endOfStreamRead: false, localPort: 51000) });
            Assert.Equal(new[] { "NotRead" }, d.Cause);
            Assert.Equal(120, d.UnreadBytes);
            Assert.Contains("120 bytes unread", d.Finding);
        }

        [Fact]
        public void OnlyTheFinUnreadIsNotReadInboundAndIdlePoolOutbound()
        {
            Assert.Equal(new[] { "NotRead" }, One(new[] { Socket(endOfStreamRead: false) }).Cause);
            Assert.Equal(new[] { "IdlePool" }, One(new[] { Socket(endOfStreamRead: false, localPort: 51000, remotePort: 443) }).Cause);

            // An outbound socket whose owner read the end and kept it is a leak, not a pool.
            Assert.Equal(new[] { "NotClosed" }, One(new[] { Socket(localPort: 51000, remotePort: 443) }).Cause);
        }

        [Fact]
        public void AListenerOnAnotherAddressDoesNotMakeASocketInbound()
        {
            // An ephemeral local port, one socket on it: only a listener on its address makes it inbound.
            var listeners = new[] { Listener(port: 45000, address: "127.0.0.1") };
            Assert.Equal(new[] { "IdlePool" }, One(new[] { Socket(endOfStreamRead: false, localPort: 45000, remotePort: 443) }, listeners).Cause);
            Assert.Equal(new[] { "NotRead" }, One(new[] { Socket(endOfStreamRead: false, localPort: 45000, remotePort: 443, local: "127.0.0.1") }, listeners).Cause);
        }

        [Fact]
        public void InboundDoesNotRestOnTheListenerStillExisting()
        {
            // The listener has closed: a server port below the ephemeral range, or one local port many share.
            var none = new TcpConnection[0];
            Assert.Equal(new[] { "NotRead" }, One(new[] { Socket(endOfStreamRead: false) }, none).Cause);
            Assert.Equal(new[] { "NotRead" }, One(Many(2, _ => Socket(endOfStreamRead: false, localPort: 45000)), none).Cause);

            // A connection to a listener of this host is outbound, whatever its local port.
            var local = new[] { Listener(port: 6379, address: "127.0.0.1") };
            Assert.Equal(new[] { "IdlePool" }, One(new[] { Socket(endOfStreamRead: false, localPort: 45001, local: "127.0.0.1", remote: "127.0.0.1", remotePort: 6379) }, local).Cause);
        }

        [Fact]
        public void SharedSocketsAreInheritedOnly()
        {
            var d = One(Many(3, _ => Socket(owners: new[] { 200, 300 }, unread: 9)));
            Assert.Equal(new[] { "Inherited" }, d.Cause);
            Assert.Equal(200, d.ProcessId);
            Assert.Equal(new[] { 300 }, d.SharedWith);
            Assert.Contains("child (PID 300)", d.Finding);
        }

        [Fact]
        public void TwoDescriptorsInOneProcessAreNotInherited()
        {
            var c = Socket();
            c.Owners = new[] { new TcpSocketOwner(200, "app", 7), new TcpSocketOwner(200, "app", 9) };
            var d = One(new[] { c });
            Assert.Equal(new[] { "NotClosed" }, d.Cause);
            Assert.Empty(d.SharedWith);
        }

        [Fact]
        public void UnownedSocketsWithoutInodeOnAListeningPortAreAcceptBacklog()
        {
            var d = One(Many(5, _ => Socket(pid: null, inode: false, endOfStreamRead: false, unread: 7)));

            // They belong to the listener's service; no process holds them.
            Assert.Equal(100, d.ProcessId);
            Assert.Equal("server :8080", d.Service);
            Assert.Empty(d.ProcessIds);
            Assert.Equal(new[] { "AcceptBacklog" }, d.Cause);
            Assert.Contains("port 8080, held by server (PID 100), 5 of 128 waiting", d.Finding);
            Assert.Null(d.OpenDescriptors);
        }

        [Fact]
        public void UnownedSocketsWithAnInodeHaveAHiddenOwnerAndNoCause()
        {
            var d = One(Many(2, _ => Socket(pid: null, inode: true)));
            Assert.Empty(d.Cause);
            Assert.Equal(TcpCloseWaitSeverity.Warning, d.Severity);
            if (CloseWait.Platform.PlatformServices.IsPrivileged)
            {
                // As root nothing is hidden by permissions: do not blame them (issue 19).
                Assert.Contains("in flight over a Unix socket", d.Finding);
                Assert.DoesNotContain("sudo", d.Advice);
                Assert.Contains("-Method Abort", d.Advice);
            }
            else
            {
                Assert.Contains("cannot see", d.Finding);
                Assert.Contains("root", d.Advice);
            }

            Assert.StartsWith("No visible process holds", d.Finding);
        }

        [Fact]
        public void ClusteredIdleBeforeTheFinIsPeerIdleTimeoutWithItsTime()
        {
            var gaps = new[] { 350.2, 349.8, 350.0, 350.6, 12.0 };
            var d = One(gaps.Select((g, i) => Socket(stuckSeconds: 600 + (7 * i), idleBeforeFin: g, endOfStreamRead: false, localPort: 51000 + i, remotePort: 443)));
            Assert.Equal(new[] { "PeerIdleTimeout", "IdlePool" }, d.Cause);
            Assert.Equal(TimeSpan.FromSeconds(350.2), d.PeerIdleTimeout);
            Assert.Contains("4 sat idle about 5 min 50 s", d.Finding);
            Assert.Contains("keep-alive above the client's idle gaps", d.Advice);
            Assert.Contains("drop idle pooled connections before 5 min 50 s", d.Advice);
            Assert.DoesNotMatch(KeepaliveChange, d.Advice);

            // Inbound, nothing unread after the response: the clients' pools close; the server keeps its end.
            var inbound = One(gaps.Select((g, i) => Socket(stuckSeconds: 600 + (7 * i), idleBeforeFin: g)));
            Assert.Equal(new[] { "NotClosed", "PeerIdleTimeout" }, inbound.Cause);
            Assert.Contains("server's own keep-alive shorter than the clients' 5 min 50 s", inbound.Advice);
            Assert.Null(inbound.ClientTimeout);
        }

        [Fact]
        public void FinsAtOneInstantAreAMassCloseNotAnIdleTimeout()
        {
            var gaps = new[] { 350.2, 349.8, 350.0, 350.6 };
            var d = One(gaps.Select((g, i) => Socket(stuckSeconds: 600 + (0.01 * i), idleBeforeFin: g, endOfStreamRead: false, localPort: 51000 + i, remotePort: 443)));
            Assert.Equal(new[] { "IdlePool" }, d.Cause);
            Assert.Null(d.PeerIdleTimeout);
            Assert.Contains("mass close", d.Finding);
        }

        [Fact]
        public void UnreadInboundWithClusteredGapsIsAClientTimeout()
        {
            // Clients sent a request, waited 30 s for an answer, gave up; some were never accepted.
            var sockets = Enumerable.Range(0, 4).Select(i => Socket(pid: 100, stuckSeconds: 100 + i, idleBeforeFin: 30 + (0.1 * i), unread: 20))
                .Concat(Enumerable.Range(0, 3).Select(i => Socket(pid: null, inode: false, stuckSeconds: 90 + i, idleBeforeFin: 30.1, unread: 20, endOfStreamRead: false)))
                .ToList();
            var d = One(sockets);
            Assert.Equal(new[] { "NotRead", "AcceptBacklog" }, d.Cause);
            Assert.Null(d.PeerIdleTimeout);
            Assert.Equal(TimeSpan.FromSeconds(30.1), d.ClientTimeout);
            Assert.Contains("clients gave up after about 30 s waiting for an answer", d.Finding);
            Assert.Contains("stopped serving: 4 accepted and not read", d.Finding);
            Assert.DoesNotContain(". AcceptBacklog: ", d.Finding);
            Assert.DoesNotContain("more workers", d.Advice, StringComparison.OrdinalIgnoreCase);
        }

        [Fact]
        public void AStuckTimeMovedOnByKeepaliveAcksIsBoundedAndNotBrief()
        {
            var sockets = Many(3, i =>
            {
                var c = Socket(stuckSeconds: 1, idleBeforeFin: 600 + i);
                c.KeepAliveTimer = true;
                return c;
            });
            var d = One(sockets);
            Assert.False(d.Healthy);
            Assert.Equal(3, d.StuckCount);

            // A keepalive time longer than the socket's whole idle time (IdleTime + expiry): no probe went out, exact.
            var exact = One(Many(3, i =>
            {
                var c = Socket(stuckSeconds: 1, idleBeforeFin: 600 + i);
                c.KeepAliveTimer = true;
                c.TimerExpiresIn = TimeSpan.FromSeconds(7199);
                return c;
            }));
            Assert.True(exact.Healthy);
            Assert.Equal(exact.LongestStuckTime, exact.LongestStuckTimeAtMost);
            Assert.Equal(TimeSpan.FromSeconds(1), d.LongestStuckTime);
            Assert.Equal(TimeSpan.FromSeconds(603), d.LongestStuckTimeAtMost);
            Assert.Contains("between 1 s and 10 min 3 s", d.Finding);
            Assert.Null(d.PeerIdleTimeout);
        }

        [Theory]
        [InlineData(new[] { 60.0, 60.5 })]                 // too few to agree
        [InlineData(new[] { 5.0, 40.0, 90.0, 200.0 })]      // no agreement
        [InlineData(new[] { 0.01, 0.02, 0.5, 0.9 })]        // closed right after the last data: no idle timeout
        [InlineData(new[] { 60.0, 60.2, 60.4, 5.0, 9.0, 20.0, 30.0, 45.0, 100.0 })] // a cluster, but of a minority
        public void NoPeerIdleTimeoutWithoutAClusterOfIdleCloses(double[] gaps)
        {
            var d = One(gaps.Select(g => Socket(idleBeforeFin: g)));
            Assert.Null(d.PeerIdleTimeout);
            Assert.DoesNotContain("PeerIdleTimeout", d.Cause);
        }

        [Fact]
        public void PeerIdleTimeoutComesOnlyFromStuckSockets()
        {
            // Brief sockets never raise a cause, even when their idle gaps agree.
            var d = One(Many(4, _ => Socket(stuckSeconds: 3, idleBeforeFin: 30)));
            Assert.True(d.Healthy);
            Assert.Null(d.PeerIdleTimeout);
        }

        [Fact]
        public void NearTheDescriptorLimitIsCritical()
        {
            var fds = new FakeDescriptors { [200] = (900, 1024) };
            var d = One(Many(2, _ => Socket()), descriptors: fds);
            Assert.Equal(TcpCloseWaitSeverity.Critical, d.Severity);
            Assert.Equal(900, d.OpenDescriptors);
            Assert.Equal(1024, d.DescriptorLimit);
            Assert.Contains("900 descriptors open of its limit of 1024 (88%)", d.Finding);
            Assert.Contains("EMFILE", d.Advice);

            var fine = One(Many(2, _ => Socket()), descriptors: new FakeDescriptors { [200] = (50, null) });
            Assert.Equal(TcpCloseWaitSeverity.Warning, fine.Severity);
            Assert.Null(fine.DescriptorLimit);
        }

        [Fact]
        public void OneDiagnosisPerProcessWorstFirst()
        {
            var sockets = new List<TcpConnection>();
            sockets.AddRange(Many(2, _ => Socket(pid: 200, stuckSeconds: 1)));
            sockets.AddRange(Many(3, _ => Socket(pid: 300)));
            sockets.AddRange(Many(5, _ => Socket(pid: 400, unread: 1)));
            sockets.Add(Socket(pid: null, inode: false));
            var all = CloseWaitAnalyzer.Analyze(sockets, new[] { Listener() }, null, Defaults, null, TcpCloseWaitGrouping.Process);
            Assert.Equal(new int?[] { 400, 300, null, 200 }, all.Select(d => d.ProcessId).ToArray());
            Assert.Equal("server :8080", all[2].Service);
            Assert.Equal(new[] { 5, 3, 1, 2 }, all.Select(d => d.Count).ToArray());
            Assert.Equal(11, all.Sum(d => d.Connections.Length));
        }

        [Fact]
        public void PeersAreGroupedByRemoteAddressAndPortWithTheLongestStuckTime()
        {
            var d = One(new[]
            {
                Socket(remote: "10.0.0.5", remotePort: 443, stuckSeconds: 100, localPort: 51001),
                Socket(remote: "10.0.0.5", remotePort: 443, stuckSeconds: 300, localPort: 51002),
                Socket(remote: "10.0.0.6", remotePort: 443, stuckSeconds: 200, localPort: 51003),
            });
            Assert.Equal(2, d.Peers.Count);
            Assert.Equal("10.0.0.5", d.Peers[0].RemoteAddress);
            Assert.Equal(2, d.Peers[0].Count);
            Assert.Equal(TimeSpan.FromSeconds(300), d.Peers[0].LongestIdleTime);
            Assert.Equal("10.0.0.5:443 x2 (5 min), 10.0.0.6:443 x1 (3 min 20 s)", d.Peers.ToString());
        }

        [Fact]
        public void WindowsTablesSayWhatCannotBeToldApart()
        {
            // GetExtendedTcpTable: no queues, no timers, one PID per row.
            TcpConnection Row() => new TcpConnection(AddressFamily.InterNetwork, IPAddress.Parse("10.0.0.1"), ServerPort, IPAddress.Parse("10.0.0.9"), _nextPort++, TcpState.CloseWait, 8, "GetExtendedTcpTable")
            {
                ProcessId = 200,
                Program = "app",
                Owners = new[] { new TcpSocketOwner(200, "app", null) },
            };
            var listeners = new[] { Listener(source: "GetExtendedTcpTable") };

            var few = One(Many(3, _ => Row()), listeners);
            Assert.True(few.Healthy);
            Assert.Null(few.StuckCount);
            Assert.Null(few.LongestIdleTime);
            Assert.Contains("no idle time", few.Finding);

            var many = One(Many(12, _ => Row()), listeners);
            Assert.Equal(TcpCloseWaitSeverity.Warning, many.Severity);
            Assert.Empty(many.Cause);
            Assert.Null(many.UnreadBytes);
            Assert.Contains("NotRead, NotClosed, IdlePool, PeerIdleTimeout, Inherited cannot be told apart here", many.Finding);
            Assert.Contains("Get-TcpCloseWait -LocalPort 8080 | Close-TcpConnection", many.Advice);

            // -MinimumCount moves the line.
            Assert.False(One(Many(3, _ => Row()), listeners, t: new CloseWaitThresholds { MinimumCount = 3 }).Healthy);
        }

        [Fact]
        public void MacOSTablesTellNotReadFromTheQueue()
        {
            // pcblist_n: the receive queue (bytes only, no FIN), no timers, the last PID only.
            TcpConnection Row(long unread) => new TcpConnection(AddressFamily.InterNetwork, IPAddress.Parse("10.0.0.1"), ServerPort, IPAddress.Parse("10.0.0.9"), _nextPort++, TcpState.CloseWait, 8, "Sysctl")
            {
                ProcessId = 200,
                Program = "app",
                Owners = new[] { new TcpSocketOwner(200, "app", null) },
                ReceiveQueue = unread,
            };
            var d = One(Enumerable.Range(0, 12).Select(i => Row(i < 4 ? 50 : 0)), new[] { Listener(source: "Sysctl") });
            Assert.Equal(new[] { "NotRead" }, d.Cause);
            Assert.Equal(200, d.UnreadBytes);
            Assert.Contains("8 cannot be told apart", d.Finding);
            Assert.DoesNotContain("no receive queue", d.Finding);
            Assert.Contains("NotClosed, IdlePool, PeerIdleTimeout, Inherited cannot be told apart here", d.Finding);
        }

        [Fact]
        public void CauseIsAListOfNamesThatJoinsAsText()
        {
            var d = One(new[] { Socket(), Socket(unread: 3), Socket(owners: new[] { 200, 300 }) });
            Assert.Equal(new[] { "NotClosed", "NotRead", "Inherited" }, d.Cause);
            Assert.Equal("NotClosed, NotRead, Inherited", d.Cause.ToString());
            Assert.Equal("app (200): 3 CLOSE_WAIT, Warning (NotClosed, NotRead, Inherited)", d.ToString());
            Assert.Contains("NotRead", d.Cause);
        }

        [Theory]
        [InlineData(3.24, "3.2 s")]
        [InlineData(42, "42 s")]
        [InlineData(723, "12 min 3 s")]
        [InlineData(3600, "1 h")]
        [InlineData(7500, "2 h 5 min")]
        [InlineData(273600, "3 d 4 h")]
        public void DurationsReadAsWords(double seconds, string text)
        {
            Assert.Equal(text, CloseWaitAnalyzer.FormatDuration(TimeSpan.FromSeconds(seconds)));
        }

        /// <summary>A process tree: pid -> (parent, name, command line).</summary>
        private sealed class FakeProcesses : Dictionary<int, (int Parent, string Name, string CommandLine)>, IProcessTable
        {
            public bool GivesParents => true;

            public ProcessFacts? Get(int pid) =>
                TryGetValue(pid, out var p) ? new ProcessFacts(pid, p.Parent, p.Name, "/usr/bin/" + p.Name, p.CommandLine) : null;
        }

        [Fact]
        public void AnotherNamespacesSocketOnTheSameLocalPortDoesNotMakeAnOutboundSocketInbound()
        {
            // -AllNetworkNamespaces: two containers' pools each hold one outbound CLOSE_WAIT socket from
            // 127.0.0.1:45000 (each namespace has its own loopback), the server's FIN not read yet.
            // Each is the only socket on its port in its own namespace: an idle pool, not a server
            // that stopped reading.
            TcpConnection Pool(ulong ns, int pid)
            {
                var c = Socket(pid: pid, localPort: 45000, local: "127.0.0.1", remote: "127.0.0.1", remotePort: 6379, endOfStreamRead: false);
                c.NetworkNamespaceId = ns;
                return c;
            }

            var alone = Assert.Single(CloseWaitAnalyzer.Analyze(new[] { Pool(4026531840, 300) }, new TcpConnection[0], null, Defaults));
            Assert.Equal("IdlePool", alone.Cause.ToString());
            var both = CloseWaitAnalyzer.Analyze(new[] { Pool(4026531840, 300), Pool(4026532999, 400) }, new TcpConnection[0], null, Defaults);
            Assert.Equal(2, both.Count);
            Assert.All(both, d => Assert.Equal("IdlePool", d.Cause.ToString()));
        }

        private static TcpConnection Owned(TcpConnection c, string name)
        {
            c.Program = name;
            c.Owners = c.Owners.Select(o => new TcpSocketOwner(o.ProcessId, name, o.FileDescriptor)).ToArray();
            return c;
        }

        [Fact]
        public void BackendsOfOneServerAreOneServiceWithItsSoftwareAndNoKill()
        {
            // A postmaster (100) listens on 5432; its backends (201..218) hold one unread socket each.
            var ps = new FakeProcesses { [100] = (1, "postgres", "/usr/lib/postgresql/15/bin/postgres -D /data") };
            var sockets = new List<TcpConnection>();
            for (int i = 0; i < 18; i++)
            {
                ps[201 + i] = (100, "postgres", "postgres: app db 127.0.0.1(4000) SELECT");
                sockets.Add(Owned(Socket(pid: 201 + i, localPort: 5432, endOfStreamRead: false, stuckSeconds: 100 + i, idleBeforeFin: 20 + (0.05 * i)), "postgres"));
            }

            var listener = Listener(port: 5432);
            listener.Owners = new[] { new TcpSocketOwner(100, "postgres", 5) };
            var d = Assert.Single(CloseWaitAnalyzer.Analyze(sockets, new[] { listener }, null, Defaults, ps));
            Assert.Equal("postgres :5432", d.Service);
            Assert.Equal(100, d.ProcessId);
            Assert.Equal("postgres", d.Program);
            Assert.Equal(18, d.ProcessIds.Count);
            Assert.Equal("PostgreSQL", d.Software);
            Assert.Equal(new[] { "NotRead" }, d.Cause);
            Assert.InRange(d.ClientTimeout!.Value.TotalSeconds, 20.0, 20.9);
            Assert.Contains("client_connection_check_interval", d.Advice);
            Assert.Contains("pg_terminate_backend", d.Advice);
            Assert.DoesNotContain("Stop-Process", d.Advice);
            Assert.DoesNotMatch(KeepaliveChange, d.Advice);

            // -GroupBy Process: one per backend, each still naming its service.
            var each = CloseWaitAnalyzer.Analyze(sockets, new[] { listener }, null, Defaults, ps, TcpCloseWaitGrouping.Process);
            Assert.Equal(18, each.Count);
            Assert.All(each, e => Assert.Equal("postgres :5432", e.Service));
        }

        [Fact]
        public void AChildForkedFromAWorkerHoldingTheListenerIsInherited()
        {
            // gunicorn master 100 and worker 200 hold the listener; the worker's fork 300 holds the listener and the socket.
            var ps = new FakeProcesses
            {
                [100] = (1, "gunicorn", "/usr/bin/python3 /usr/bin/gunicorn app:app"),
                [200] = (100, "gunicorn", "/usr/bin/python3 /usr/bin/gunicorn app:app"),
                [300] = (200, "gunicorn", "/usr/bin/python3 /usr/bin/gunicorn app:app"),
            };
            var listener = Listener(port: 8000);
            listener.Owners = new[] { new TcpSocketOwner(100, "gunicorn", 5), new TcpSocketOwner(200, "gunicorn", 5), new TcpSocketOwner(300, "gunicorn", 5) };
            var sockets = Many(3, i => Owned(Socket(pid: 300, localPort: 8000, endOfStreamRead: false), "gunicorn"));
            var d = Assert.Single(CloseWaitAnalyzer.Analyze(sockets, new[] { listener }, null, Defaults, ps));
            Assert.Equal("gunicorn :8000", d.Service);
            Assert.Equal(100, d.ProcessId);
            Assert.Equal(new[] { 300 }, d.ProcessIds);
            Assert.Equal("gunicorn", d.Software);
            Assert.Equal(new[] { "Inherited" }, d.Cause);
            Assert.Contains("set_start_method('spawn')", d.Advice);
            Assert.DoesNotContain("close-on-exec", d.Advice);
            Assert.DoesNotContain("Stop-Process", d.Advice);
            Assert.Contains("kill -TERM", d.Advice);

            // The worker's own accepted sockets stay NotRead: the listener's owner is one level up.
            var worker = Many(3, i => Owned(Socket(pid: 200, localPort: 8000, endOfStreamRead: false), "gunicorn"));
            Assert.Equal(new[] { "NotRead" }, Assert.Single(CloseWaitAnalyzer.Analyze(worker, new[] { listener }, null, Defaults, ps)).Cause);
        }

        [Fact]
        public void AnOutboundPoolNamesTheLocalServersKnobAndABoundedPoolIsBenign()
        {
            var ps = new FakeProcesses { [100] = (1, "nginx", "nginx: master process"), [500] = (1, "python3", "python3 client.py") };
            var nginx = Listener(port: 8081, address: "127.0.0.1");
            nginx.Owners = new[] { new TcpSocketOwner(100, "nginx", 6) };
            var pool = Enumerable.Range(0, 6).Select(i => Owned(Socket(pid: 500, local: "127.0.0.1", remote: "127.0.0.1", remotePort: 8081, localPort: 45000 + i, endOfStreamRead: false, stuckSeconds: 90 + (0.3 * i), idleBeforeFin: 3.0 + (0.01 * i)), "python3")).ToList();
            var d = Assert.Single(CloseWaitAnalyzer.Analyze(pool, new[] { nginx }, null, Defaults, ps));
            Assert.Equal("python3 (500)", d.Service);
            Assert.Equal("Python", d.Software);
            Assert.Equal(new[] { "PeerIdleTimeout", "IdlePool" }, d.Cause);
            Assert.Equal(TimeSpan.FromSeconds(3), d.PeerIdleTimeout);
            Assert.Contains("nginx :8081 closes keep-alive connections idle 3 s", d.Finding);
            Assert.Contains("nginx keepalive_timeout", d.Advice);
            Assert.Contains("requests.Session", d.Advice);
            Assert.DoesNotContain("Set-TcpKeepAliveSetting", d.Advice);

            // Without an idle-timeout cluster, a pool within urllib3's 10 per host is benign: nothing to free.
            var few = Enumerable.Range(0, 3).Select(i => Owned(Socket(pid: 500, local: "127.0.0.1", remote: "127.0.0.1", remotePort: 8081, localPort: 46000 + i, endOfStreamRead: false), "python3")).ToList();
            var benign = Assert.Single(CloseWaitAnalyzer.Analyze(few, new[] { nginx }, null, Defaults, ps));
            Assert.Contains("benign", benign.Finding);
            Assert.Contains("Nothing to fix while the count stays bounded", benign.Advice);
            Assert.DoesNotContain("Close-TcpConnection", benign.Advice);
        }

        [Fact]
        public void EveryRowOfTheSoftwareTableHasASourceAndNoAdviceHarms()
        {
            foreach (var row in SoftwareKnowledge.Table)
            {
                Assert.StartsWith("http", row.Source);
                foreach (var text in new[] { row.GracefulStop, row.ServerIdleTimeout, row.ClientPool, row.Stalled, row.NotClosed, row.Inherited })
                {
                    Assert.DoesNotContain("Stop-Process", text ?? string.Empty);
                    Assert.DoesNotContain("Set-TcpKeepAlive", text ?? string.Empty);
                    Assert.DoesNotContain("kill -9", text ?? string.Empty);
                }
            }

            Assert.Equal("gunicorn", SoftwareKnowledge.Recognize(new[] { new ProcessFacts(1, null, "python3", "/usr/bin/python3.11", "/usr/bin/python3 -m gunicorn app:app") })!.Name);
            Assert.Equal("Python", SoftwareKnowledge.Recognize(new[] { new ProcessFacts(1, null, "python3", "/usr/bin/python3.11", "python3 client.py") })!.Name);
            Assert.Equal("Redis", SoftwareKnowledge.RecognizeName("redis-server")!.Name);
            Assert.Equal("php-fpm", SoftwareKnowledge.RecognizeName("php-fpm8.2")!.Name);
            Assert.Null(SoftwareKnowledge.RecognizeName("myapp"));
        }

        [Fact]
        public void NoAdviceEverChangesKeepaliveOrStopsAProcess()
        {
            var cases = new List<IEnumerable<TcpConnection>>
            {
                Many(4, _ => Socket()),
                Many(4, _ => Socket(unread: 10)),
                Many(4, _ => Socket(endOfStreamRead: false, localPort: 50000, remotePort: 443)),
                Many(4, _ => Socket(owners: new[] { 200, 300 })),
                Many(4, _ => Socket(pid: null, inode: false, endOfStreamRead: false)),
                Enumerable.Range(0, 4).Select(i => Socket(stuckSeconds: 100 + i, idleBeforeFin: 60, endOfStreamRead: false, localPort: 50100 + i, remotePort: 443)),
            };
            foreach (var sockets in cases)
            {
                foreach (var d in Analyze(sockets))
                {
                    Assert.DoesNotContain("Stop-Process", d.Advice);
                    Assert.DoesNotMatch(KeepaliveChange, d.Advice);
                }
            }
        }

        private sealed class FakeDescriptors : Dictionary<int, (int Open, long? Limit)>, IProcessDescriptors
        {
            public bool TryGet(int pid, out int open, out long? limit)
            {
                bool found = TryGetValue(pid, out var v);
                open = v.Open;
                limit = v.Limit;
                return found;
            }
        }
    }
}
