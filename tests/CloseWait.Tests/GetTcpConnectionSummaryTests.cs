using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Runtime.InteropServices;
using System.Threading;
using CloseWait.Platform;
using CloseWait.Platform.Linux;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>Get-TcpConnectionSummary, counted in a private namespace so that nothing else on the machine moves the numbers.</summary>
    [Collection("PowerShell")]
    public sealed class GetTcpConnectionSummaryTests
    {
        private readonly PowerShellFixture _ps;

        public GetTcpConnectionSummaryTests(PowerShellFixture ps) => _ps = ps;

        [LinuxFact(Namespaces = true)]
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
            Assert.Equal(TestNative.Comm(Environment.ProcessId), me.Program);
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
            Assert.Contains($"{Environment.ProcessId}/{me.Program}: 7 (5 CloseWait)", text);
        }

        [DllImport("libc", SetLastError = true)]
        private static extern int dup(int oldfd);

        [DllImport("libc", SetLastError = true)]
        private static extern int close(int fd);

        [LinuxFact(Namespaces = true)]
        public void CountingPathAndListingPathGiveTheSameSummary()
        {
            using var ns = new PrivateNetworkNamespace();
            using var v4 = TestNative.InNamespaceOf(ns.Pid, () => LoopbackSockets.CloseWait(IPAddress.Loopback, count: 3));
            using var v6 = TestNative.InNamespaceOf(ns.Pid, () => LoopbackSockets.CloseWait(IPAddress.IPv6Loopback, count: 2));
            var vars = new Dictionary<string, object?> { ["ns"] = ns.Pid.ToString() };

            // One socket shared with a child after fork, another held twice here (dup): the child
            // counts it once, this process counts each socket once.
            var shared = v4.ServerSockets[0];
            Process child;
            TestNative.SetInheritable(shared.SafeHandle, true);
            try
            {
                child = Process.Start(new ProcessStartInfo("sleep", "3600") { UseShellExecute = false })!;
            }
            finally
            {
                TestNative.SetInheritable(shared.SafeHandle, false);
            }

            int second = dup((int)v6.ServerSockets[0].Handle);
            Assert.True(second >= 0);
            try
            {
                foreach (var args in new[] { string.Empty, "-NoOwner", "-AddressFamily IPv6", "-AddressFamily IPv4 -NoOwner" })
                {
                    string command = "Get-TcpConnectionSummary -NetworkNamespace $ns " + args;
                    var counted = Assert.Single(_ps.Run(command, vars).ThrowIfFailed().Objects<TcpConnectionSummary>());
                    TcpConnectionSummary listed;
                    using (PlatformServices.UseBackEnds(new ListingOnlyTable(new LinuxSocketTable()), new LinuxOwnerResolver()))
                    {
                        listed = Assert.Single(_ps.Run(command, vars).ThrowIfFailed().Objects<TcpConnectionSummary>());
                    }

                    Assert.Equal(Describe(listed), Describe(counted));
                }

                var all = Assert.Single(_ps.Run("Get-TcpConnectionSummary -NetworkNamespace $ns", vars).ThrowIfFailed().Objects<TcpConnectionSummary>());
                Assert.Equal(5, all.CloseWait);
                var me = Assert.Single(all.ByProcess, p => p.ProcessId == Environment.ProcessId);
                Assert.Equal((7, 5, 2), (me.Total, me.CloseWait, me.Listen));
                var sleeper = Assert.Single(all.ByProcess, p => p.ProcessId == child.Id);
                Assert.Equal((1, 1, "sleep"), (sleeper.Total, sleeper.CloseWait, sleeper.Program));
                Assert.Equal(all.Total - 7, all.Unowned); // the closed clients' ends
            }
            finally
            {
                close(second);
                child.Kill();
                child.WaitForExit(5000);
            }
        }

        [Fact]
        public void CountingWithoutNetlinkFallsBackToTheListing()
        {
            var counter = new LinuxSummaryCounter(new LinuxSocketTable { ForcedBackend = LinuxTableBackend.ProcNet }, new LinuxOwnerResolver());
            var builder = new SummaryBuilder();
            Assert.False(counter.TryCount(new SocketQuery { IncludeDetails = false }, builder, CancellationToken.None));
            var untouched = builder.Build(ownersResolved: true, networkNamespace: null);
            Assert.Equal((0, 0), (untouched.Total, untouched.Unowned!.Value));
        }

        private static string Describe(TcpConnectionSummary s) =>
            $"{s.Total} E{s.Established} L{s.Listen} CW{s.CloseWait} TW{s.TimeWait} SS{s.SynSent} SR{s.SynReceived} FW{s.FinWait1}/{s.FinWait2} LA{s.LastAck} C{s.Closing}/{s.Closed} U{s.Unowned?.ToString() ?? "null"} {s.NetworkNamespace} "
            + string.Join(", ", s.ByProcess.Select(p => $"{p.ProcessId}/{p.Program}:{p.Total},{p.Established},{p.Listen},{p.CloseWait},{p.Other}"));

        /// <summary>The Linux table behind another type, so that the cmdlet takes its listing path.</summary>
        private sealed class ListingOnlyTable : ISocketTable
        {
            private readonly ISocketTable _inner;

            public ListingOnlyTable(ISocketTable inner) => _inner = inner;

            public IEnumerable<TcpConnection> Read(SocketQuery query, CancellationToken cancellationToken) => _inner.Read(query, cancellationToken);
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
