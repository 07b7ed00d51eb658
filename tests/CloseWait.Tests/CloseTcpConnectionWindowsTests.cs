using System;
using System.Collections.Generic;
using System.Management.Automation;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading;
using CloseWait.Platform;
using CloseWait.Platform.Windows;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>
    /// The Windows closer off Windows: the MIB_TCPROW bytes SetTcpEntry receives, and what each
    /// answer of SetTcpEntry and of the live table turns into. The native call is replaced by a recorder.
    /// </summary>
    public sealed class CloseTcpConnectionWindowsTests
    {
        private sealed class FakeTable : ISocketTable
        {
            public List<TcpConnection> Rows { get; } = new List<TcpConnection>();

            public int Reads { get; private set; }

            public IEnumerable<TcpConnection> Read(SocketQuery query, CancellationToken cancellationToken)
            {
                Reads++;
                Assert.Equal(AddressFamily.InterNetwork, query.AddressFamily);
                return Rows;
            }
        }

        private static TcpConnection V4(string local, int lport, string remote, int rport, int? pid = 4242, DateTime? created = null)
        {
            var l = IPAddress.Parse(local);
            var r = IPAddress.Parse(remote);
            return new TcpConnection
            {
                AddressFamily = l.AddressFamily,
                LocalIPAddress = l,
                RemoteIPAddress = r,
                LocalAddress = l.ToString(),
                RemoteAddress = r.ToString(),
                LocalPort = lport,
                RemotePort = rport,
                State = TcpState.CloseWait,
                ProcessId = pid,
                CreationTime = created,
            };
        }

        private static byte[] Bytes(Interop.IpHlpApi.MIB_TCPROW row)
        {
            var span = MemoryMarshal.AsBytes(MemoryMarshal.CreateReadOnlySpan(ref row, 1));
            return span.ToArray();
        }

        [Fact]
        public void DeleteRowHasStateTwelveAddressesInNetworkOrderAndPortsInTheLowSixteenBits()
        {
            var row = WindowsSocketCloser.BuildDeleteRow(IPAddress.Parse("127.0.0.1"), 8080, IPAddress.Parse("192.0.2.10"), 443);
            Assert.Equal(20, Marshal.SizeOf<Interop.IpHlpApi.MIB_TCPROW>());
            Assert.Equal(new byte[]
            {
                12, 0, 0, 0,
                127, 0, 0, 1,
                0x1F, 0x90, 0, 0,
                192, 0, 2, 10,
                0x01, 0xBB, 0, 0,
            }, Bytes(row));
        }

        [Theory]
        [InlineData(0, new byte[] { 0, 0, 0, 0 })]
        [InlineData(1, new byte[] { 0, 1, 0, 0 })]
        [InlineData(256, new byte[] { 1, 0, 0, 0 })]
        [InlineData(65535, new byte[] { 0xFF, 0xFF, 0, 0 })]
        public void PortDwordIsBigEndianInTheFirstTwoBytes(int port, byte[] expected)
        {
            Assert.Equal(expected, BitConverter.GetBytes(WindowsSocketCloser.PortDword(port)));
        }

        [Fact]
        public void MappedAddressesBecomeTheirIPv4AndOthersAreRejected()
        {
            Assert.Equal(new byte[] { 10, 1, 2, 3 }, BitConverter.GetBytes(WindowsSocketCloser.AddressDword(IPAddress.Parse("::ffff:10.1.2.3"))));
            Assert.Throws<ArgumentException>(() => WindowsSocketCloser.AddressDword(IPAddress.IPv6Loopback));
            Assert.Throws<ArgumentOutOfRangeException>(() => WindowsSocketCloser.PortDword(65536));
            Assert.Throws<ArgumentOutOfRangeException>(() => WindowsSocketCloser.PortDword(-1));
        }

        [Fact]
        public void ClosesALiveMatchingConnectionOnceWithOneTableRead()
        {
            var table = new FakeTable();
            var listed = V4("10.0.0.5", 8080, "10.0.0.9", 50000);
            var other = V4("10.0.0.5", 8080, "10.0.0.9", 50001);
            table.Rows.Add(V4("10.0.0.5", 8080, "10.0.0.9", 50000));
            table.Rows.Add(V4("10.0.0.5", 8080, "10.0.0.9", 50001));
            var calls = new List<byte[]>();
            using var closer = new WindowsSocketCloser(table, row =>
            {
                calls.Add(Bytes(row));
                return 0;
            }, () => TimeSpan.Zero); // no time passes between the closes: one read serves them all

            var first = closer.Close(listed, TcpCloseMethod.Abort, CancellationToken.None);
            Assert.Equal(TcpCloseStatus.Closed, first.Status);
            Assert.Contains("SetTcpEntry", first.Detail);
            Assert.Equal(Bytes(WindowsSocketCloser.BuildDeleteRow(listed.LocalIPAddress, 8080, listed.RemoteIPAddress, 50000)), Assert.Single(calls));

            // Gone after closing: a second request for it does not call SetTcpEntry again.
            Assert.Equal(TcpCloseStatus.AlreadyGone, closer.Close(listed, TcpCloseMethod.Abort, CancellationToken.None).Status);
            Assert.Equal(TcpCloseStatus.Closed, closer.Close(other, TcpCloseMethod.Abort, CancellationToken.None).Status);
            Assert.Equal(2, calls.Count);
            Assert.Equal(1, table.Reads);
        }

        [Fact]
        public void ANewOwnerOrCreationTimeOnTheSameAddressesIsLeftAlone()
        {
            var created = new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc);
            var table = new FakeTable();
            table.Rows.Add(V4("10.0.0.5", 8080, "10.0.0.9", 50000, pid: 777));
            table.Rows.Add(V4("10.0.0.5", 8080, "10.0.0.9", 50001, pid: 4242, created: created.AddSeconds(1)));
            int calls = 0;
            using var closer = new WindowsSocketCloser(table, _ =>
            {
                calls++;
                return 0;
            });

            Assert.Equal(TcpCloseStatus.Replaced, closer.Close(V4("10.0.0.5", 8080, "10.0.0.9", 50000, pid: 4242), TcpCloseMethod.Abort, CancellationToken.None).Status);
            Assert.Equal(TcpCloseStatus.Replaced, closer.Close(V4("10.0.0.5", 8080, "10.0.0.9", 50001, pid: 4242, created: created), TcpCloseMethod.Abort, CancellationToken.None).Status);
            Assert.Equal(TcpCloseStatus.AlreadyGone, closer.Close(V4("10.0.0.5", 8080, "10.0.0.9", 50002), TcpCloseMethod.Abort, CancellationToken.None).Status);
            Assert.Equal(0, calls);
        }

        [Fact]
        public void AConnectionBackFromCsvWithItsCreationTimeInWholeSecondsIsClosed()
        {
            // The live table keeps 100 ns; Export-Csv writes the creation time as text to the second.
            var live = new DateTime(2026, 11, 3, 4, 5, 6, DateTimeKind.Local).AddTicks(1234567);
            var table = new FakeTable();
            table.Rows.Add(V4("10.0.0.5", 8080, "10.0.0.9", 50000, created: live));
            table.Rows.Add(V4("10.0.0.5", 8080, "10.0.0.9", 50001, created: live.AddSeconds(2)));
            int calls = 0;
            using var closer = new WindowsSocketCloser(table, _ =>
            {
                calls++;
                return 0;
            });

            var fromCsv = live.AddTicks(-1234567);
            Assert.Equal(TcpCloseStatus.Closed, closer.Close(V4("10.0.0.5", 8080, "10.0.0.9", 50000, created: fromCsv), TcpCloseMethod.Abort, CancellationToken.None).Status);
            Assert.Equal(TcpCloseStatus.Replaced, closer.Close(V4("10.0.0.5", 8080, "10.0.0.9", 50001, created: fromCsv), TcpCloseMethod.Abort, CancellationToken.None).Status);
            Assert.Equal(1, calls);
        }

        [Theory]
        [InlineData(5u, ErrorIds.SocketCloseAccessDenied, ErrorCategory.PermissionDenied)]
        [InlineData(317u, ErrorIds.SocketCloseAccessDenied, ErrorCategory.PermissionDenied)]
        [InlineData(50u, ErrorIds.SocketCloseNotSupported, ErrorCategory.NotImplemented)]
        [InlineData(87u, ErrorIds.SocketCloseFailed, ErrorCategory.NotSpecified)]
        public void SetTcpEntryFailuresBecomeErrorsThatSayWhatToDo(uint error, string errorId, ErrorCategory category)
        {
            var table = new FakeTable();
            table.Rows.Add(V4("10.0.0.5", 8080, "10.0.0.9", 50000));
            using var closer = new WindowsSocketCloser(table, _ => error);
            var e = Assert.Throws<CloseWaitException>(() => closer.Close(V4("10.0.0.5", 8080, "10.0.0.9", 50000), TcpCloseMethod.Abort, CancellationToken.None));
            Assert.Equal(errorId, e.ErrorId);
            Assert.Equal(category, e.Category);
            Assert.Equal((int)error, e.NativeError);
            if (errorId == ErrorIds.SocketCloseAccessDenied)
            {
                Assert.Contains("Administrator", e.Message);
            }
        }

        [Fact]
        public void NotFoundFromSetTcpEntryIsAlreadyGone()
        {
            var table = new FakeTable();
            table.Rows.Add(V4("10.0.0.5", 8080, "10.0.0.9", 50000));
            using var closer = new WindowsSocketCloser(table, _ => 1168);
            Assert.Equal(TcpCloseStatus.AlreadyGone, closer.Close(V4("10.0.0.5", 8080, "10.0.0.9", 50000), TcpCloseMethod.Abort, CancellationToken.None).Status);
        }

        [Fact]
        public void IPv6AndShutdownAreRefusedWithoutCallingSetTcpEntry()
        {
            var table = new FakeTable();
            using var closer = new WindowsSocketCloser(table, _ => throw new InvalidOperationException("must not be called"));
            var v6 = Assert.Throws<CloseWaitException>(() => closer.Close(V4("2001:db8::5", 8080, "2001:db8::9", 50000), TcpCloseMethod.Abort, CancellationToken.None));
            Assert.Equal(ErrorIds.SocketCloseNotSupported, v6.ErrorId);
            Assert.Contains("IPv6", v6.Message);
            Assert.Contains("Stop-Process -Id 4242", v6.Message);

            var shutdown = Assert.Throws<CloseWaitException>(() => closer.Close(V4("10.0.0.5", 8080, "10.0.0.9", 50000), TcpCloseMethod.Shutdown, CancellationToken.None));
            Assert.Equal(ErrorIds.CloseMethodNotSupported, shutdown.ErrorId);
            Assert.Equal(0, table.Reads);
        }
    }
}
