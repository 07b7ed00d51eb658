using System;
using System.Collections.Generic;
using System.Linq;
using System.Net.Sockets;
using System.Threading;
using CloseWait.Platform;
using CloseWait.Platform.MacOS;
using CloseWait.Platform.Windows;
using Xunit;
using TableClass = Interop.IpHlpApi.TcpTableClass;

namespace CloseWait.Tests
{
    /// <summary>
    /// Watch-TcpCloseWait in the engine over the Windows and macOS tables, decoded from constructed
    /// buffers that change from one sample to the next: each platform's identity, end to end.
    /// </summary>
    [Collection("PowerShell")]
    public sealed class WatchTcpCloseWaitTests
    {
        // PIDs above Linux's pid_max: no process here has them, so no descriptor count is read.
        private const uint ServicePid = 4_500_001;
        private const uint OtherPid = 4_500_002;
        private static readonly long Created = new DateTime(2026, 11, 27, 11, 0, 0, DateTimeKind.Utc).ToFileTimeUtc();
        private readonly PowerShellFixture _ps;

        public WatchTcpCloseWaitTests(PowerShellFixture ps) => _ps = ps;

        /// <summary>Plays one table per read, then keeps the last.</summary>
        private sealed class SequenceTable : ISocketTable
        {
            private readonly Func<IEnumerable<TcpConnection>>[] _reads;
            private int _next;

            internal SequenceTable(params Func<IEnumerable<TcpConnection>>[] reads) => _reads = reads;

            internal int Reads => _next;

            public IEnumerable<TcpConnection> Read(SocketQuery query, CancellationToken cancellationToken) =>
                _reads[Math.Min(_next++, _reads.Length - 1)]().Where(c => query.WantsState(c.State) && query.WantsFamily(c.AddressFamily)).ToList();
        }

        /// <summary>Names the PIDs the table gives, as the Windows and macOS resolvers do.</summary>
        private sealed class NamesByPid : IOwnerResolver
        {
            public int Resolve(IReadOnlyList<TcpConnection> connections, CancellationToken cancellationToken)
            {
                foreach (var c in connections.Where(c => c.ProcessId != null))
                {
                    c.Program = c.ProcessId == ServicePid ? "w3wp" : "other";
                    c.Owners = new[] { new TcpSocketOwner(c.ProcessId!.Value, c.Program, null) };
                }

                return 0;
            }
        }

        private static Func<IEnumerable<TcpConnection>> Windows(params (int RemotePort, long Created, uint Pid)[] rows) => () =>
        {
            var b = new WindowsTableBuilder(v6: false, module: true);
            b.Row(2, "0.0.0.0", 443, "0.0.0.0", 0, ServicePid, Created); // the listener: not CLOSE_WAIT
            foreach (var r in rows)
            {
                b.Row(8, "10.0.0.1", 443, "10.0.0.2", r.RemotePort, r.Pid, r.Created);
            }

            byte[] table = b.Build();
            return WindowsTcpRows.Decode(table, table.Length, AddressFamily.InterNetwork, TableClass.OwnerModuleAll);
        };

        private List<TcpCloseWaitEvent> Watch(ISocketTable table, string args)
        {
            using (PlatformServices.UseBackEnds(table, new NamesByPid()))
            {
                return _ps.Run("Watch-TcpCloseWait " + args).ThrowIfFailed().Objects<TcpCloseWaitEvent>();
            }
        }

        [Fact]
        public void OnWindowsASocketIsItsAddressesAndCreationTime()
        {
            var table = new SequenceTable(
                Windows((50001, Created, ServicePid)),
                Windows((50001, Created, ServicePid), (50002, Created, OtherPid)),
                Windows((50002, Created, OtherPid), (50001, Created + 20_000_000, ServicePid)), // same addresses, created 2 s later
                Windows((50002, Created, OtherPid)));

            var events = Watch(table, "-Interval 0.1 -Count 4");

            Assert.Equal(4, table.Reads);
            Assert.Equal(
                new[] { ("Entered", 50001), ("Entered", 50002), ("Left", 50001), ("Entered", 50001), ("Left", 50001) },
                events.Select(e => (e.Event, e.RemotePort!.Value)));
            var first = events[0];
            Assert.Equal((int)ServicePid, first.ProcessId);
            Assert.Equal("w3wp", first.Program);
            Assert.Equal(443, first.LocalPort);
            Assert.Null(first.Duration); // the Windows table has no idle time
            Assert.Equal(DateTime.FromFileTimeUtc(Created).ToLocalTime(), first.Connection!.CreationTime);

            // The old socket: first seen at the first sample, last seen at the second.
            var left = events[2];
            Assert.Equal(first.Connection.CreationTime, left.Connection!.CreationTime);
            Assert.True(left.Duration > TimeSpan.Zero && left.Duration < left.Time - first.Time, $"{left.Duration} vs {left.Time - first.Time}");
            Assert.Equal(DateTime.FromFileTimeUtc(Created + 20_000_000).ToLocalTime(), events[3].Connection!.CreationTime);
            Assert.Equal((int)OtherPid, events[1].ProcessId);
            Assert.All(events, e => Assert.Null(e.NetworkNamespace));
        }

        [Fact]
        public void OnMacOSASocketIsItsAddressesAndPorts()
        {
            Func<IEnumerable<TcpConnection>> Mac(params int[] remotePorts) => () =>
            {
                var b = new MacOSPcbListBuilder();
                foreach (int port in remotePorts)
                {
                    b.Socket(5, "::1", 5432, "::1", port, rcvCc: 3, lastPid: (int)ServicePid);
                }

                byte[] buf = b.Build();
                return MacOSPcbList.Decode(buf, buf.Length);
            };

            var table = new SequenceTable(Mac(60000, 60001), Mac(60001, 60000), Mac(60001));

            var events = Watch(table, "-Interval 0.1 -Count 3 -AddressFamily IPv6");

            Assert.Equal(new[] { ("Entered", 60000), ("Entered", 60001), ("Left", 60000) }, events.Select(e => (e.Event, e.RemotePort!.Value)));
            Assert.Equal("::1", events[2].RemoteAddress);
            Assert.Equal((int)ServicePid, events[2].ProcessId);
            Assert.True(events[2].Duration > TimeSpan.Zero);
        }

        [Fact]
        public void ASocketTableFailureEndsTheWatchWithItsError()
        {
            var table = new SequenceTable(() => throw new CloseWaitException("SocketTableReadFailed", System.Management.Automation.ErrorCategory.ReadError, "sysctl net.inet.tcp.pcblist_n failed with errno 5."));
            PSResult r;
            using (PlatformServices.UseBackEnds(table, new NamesByPid()))
            {
                r = _ps.Run("Watch-TcpCloseWait -Interval 0.1 -Count 3");
            }

            Assert.Equal(new[] { "SocketTableReadFailed,CloseWait.Commands.WatchTcpCloseWaitCommand" }, r.ErrorIds);
            Assert.Equal(1, table.Reads);
        }
    }
}
