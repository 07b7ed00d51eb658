using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using CloseWait.Platform;
using CloseWait.Platform.Windows;
using Xunit;
using TableClass = Interop.IpHlpApi.TcpTableClass;

namespace CloseWait.Tests
{
    /// <summary>
    /// The Windows back end shared by concurrent runspaces (one process-wide table instance), and
    /// the close identity check against the table as it is at each close, not at the first.
    /// </summary>
    public sealed class WindowsConcurrencyTests
    {
        /// <summary>A GetExtendedTcpTable stand-in that answers "empty" (ERROR_NO_DATA) at once.</summary>
        private static uint Empty(byte[]? buffer, ref uint size, AddressFamily family, TableClass tableClass) => Interop.IpHlpApi.ERROR_NO_DATA;

        [Fact]
        public void ConcurrentReadsOfOneTableLoseNoUsedClassEntry()
        {
            // Two runspaces read the IPv4 and the IPv6 table of a fresh instance at the same moment,
            // many times over: a plain Dictionary loses an entry (or throws) when both first writes race.
            const int Rounds = 20000;
            var tables = Enumerable.Range(0, Rounds).Select(_ => new WindowsSocketTable(Empty)).ToArray();
            int arrived = 0;
            Exception? failure = null;
            void Run(AddressFamily family)
            {
                try
                {
                    for (int round = 0; round < Rounds; round++)
                    {
                        // A spinning start line: both threads leave it within nanoseconds of each other.
                        Interlocked.Increment(ref arrived);
                        var spin = new SpinWait();
                        while (Volatile.Read(ref arrived) < 2 * (round + 1) && failure == null)
                        {
                            spin.SpinOnce(-1);
                        }

                        tables[round].Fetch(family);
                    }
                }
                catch (Exception e)
                {
                    failure = e;
                }
            }

            var v4 = new Thread(() => Run(AddressFamily.InterNetwork));
            var v6 = new Thread(() => Run(AddressFamily.InterNetworkV6));
            v4.Start();
            v6.Start();
            Assert.True(v4.Join(TimeSpan.FromSeconds(120)) && v6.Join(TimeSpan.FromSeconds(120)), "the readers did not finish");
            Assert.Null(failure);
            Assert.All(tables, t => Assert.Equal(2, t.UsedClass.Count));
        }

        private sealed class ChangingTable : ISocketTable
        {
            public List<TcpConnection> Rows { get; set; } = new List<TcpConnection>();

            public int Reads { get; private set; }

            public IEnumerable<TcpConnection> Read(SocketQuery query, CancellationToken cancellationToken)
            {
                Reads++;
                return Rows.ToList();
            }
        }

        private static TcpConnection V4(int remotePort, int pid, TcpState state = TcpState.CloseWait)
        {
            var l = IPAddress.Parse("10.0.0.5");
            var r = IPAddress.Parse("10.0.0.9");
            return new TcpConnection
            {
                AddressFamily = AddressFamily.InterNetwork,
                LocalIPAddress = l,
                RemoteIPAddress = r,
                LocalAddress = l.ToString(),
                RemoteAddress = r.ToString(),
                LocalPort = 8080,
                RemotePort = remotePort,
                State = state,
                ProcessId = pid,
            };
        }

        [Fact]
        public void AfterAPauseLongerThanTheSnapshotAgeTheTableIsReadAgain()
        {
            var table = new ChangingTable { Rows = { V4(50000, 4242), V4(50001, 4242) } };
            var now = TimeSpan.Zero;
            int deletes = 0;
            using var closer = new WindowsSocketCloser(table, _ =>
            {
                deletes++;
                return 0;
            }, () => now);

            Assert.Equal(TcpCloseStatus.Closed, closer.Close(V4(50000, 4242), TcpCloseMethod.Abort, CancellationToken.None).Status);

            // The user answers a -Confirm prompt for five minutes; meanwhile the second connection
            // ended and another process took its addresses.
            table.Rows = new List<TcpConnection> { V4(50001, 777, TcpState.Established) };
            now += TimeSpan.FromMinutes(5);
            var second = closer.Close(V4(50001, 4242), TcpCloseMethod.Abort, CancellationToken.None);

            Assert.Equal(TcpCloseStatus.Replaced, second.Status);
            Assert.Equal(2, table.Reads);
            Assert.Equal(1, deletes);
        }

        [Fact]
        public void ABulkCloseWithoutPausesReadsTheTableOnce()
        {
            var table = new ChangingTable { Rows = { V4(50000, 4242), V4(50001, 4242), V4(50002, 4242) } };
            var now = TimeSpan.Zero;
            using var closer = new WindowsSocketCloser(table, _ => 0, () => now);
            foreach (int port in new[] { 50000, 50001, 50002 })
            {
                Assert.Equal(TcpCloseStatus.Closed, closer.Close(V4(port, 4242), TcpCloseMethod.Abort, CancellationToken.None).Status);
                now += TimeSpan.FromMilliseconds(10);
            }

            Assert.Equal(1, table.Reads);
        }

        [Fact]
        public void TheSameOwnerInAStateTheListedConnectionCannotHaveReachedIsNotClosed()
        {
            // Same addresses, same PID, no creation time: a CLOSE_WAIT record against an
            // ESTABLISHED connection is a new connection of the same process.
            var table = new ChangingTable { Rows = { V4(50000, 4242, TcpState.Established) } };
            using var closer = new WindowsSocketCloser(table, _ => throw new InvalidOperationException("must not be called"), () => TimeSpan.Zero);
            Assert.Equal(TcpCloseStatus.Replaced, closer.Close(V4(50000, 4242), TcpCloseMethod.Abort, CancellationToken.None).Status);
        }
    }
}
