using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Threading;
using CloseWait.Platform;
using CloseWait.Platform.Windows;
using Xunit;
using TableClass = Interop.IpHlpApi.TcpTableClass;

namespace CloseWait.Tests
{
    /// <summary>GetExtendedTcpTable decoding and the two-call loop, on constructed buffers and a scripted native call.</summary>
    public sealed class WindowsSocketTableTests
    {
        private static readonly long CreatedFileTime = new DateTime(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc).ToFileTimeUtc();

        [Fact]
        public void DecodesIPv4ModuleRowsWithNetworkOrderPortsOwnerAndCreationTime()
        {
            byte[] table = new WindowsTableBuilder(v6: false, module: true)
                .Row(8, "127.0.0.1", 8080, "10.1.2.3", 51234, pid: 4242, CreatedFileTime)
                .Row(11, "192.168.0.5", 443, "192.168.0.9", 60000, pid: 0)
                .Build();

            var rows = WindowsTcpRows.Decode(table, table.Length, AddressFamily.InterNetwork, TableClass.OwnerModuleAll).ToList();

            Assert.Equal(2, rows.Count);
            var cw = rows[0];
            Assert.Equal(AddressFamily.InterNetwork, cw.AddressFamily);
            Assert.Equal(TcpState.CloseWait, cw.State);
            Assert.Equal(8, cw.NativeState);
            Assert.Equal("127.0.0.1", cw.LocalAddress);
            Assert.Equal(8080, cw.LocalPort);
            Assert.Equal("10.1.2.3", cw.RemoteAddress);
            Assert.Equal(51234, cw.RemotePort);
            Assert.Equal(4242, cw.ProcessId);
            Assert.Equal(new DateTime(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc).ToLocalTime(), cw.CreationTime);
            Assert.Equal(DateTimeKind.Local, cw.CreationTime!.Value.Kind);
            Assert.Equal("GetExtendedTcpTable", cw.Source);
            Assert.Null(cw.ReceiveQueue);
            Assert.Null(cw.SendQueue);
            Assert.Null(cw.IdleTime);
            Assert.Null(cw.UserId);
            Assert.Null(cw.Inode);

            var tw = rows[1];
            Assert.Equal(TcpState.TimeWait, tw.State);
            Assert.Null(tw.ProcessId); // PID 0: no process owns it
            Assert.Null(tw.CreationTime); // FILETIME 0: not given
        }

        [Fact]
        public void DecodesIPv4PidRowsThatStartAtOffsetFour()
        {
            byte[] table = new WindowsTableBuilder(v6: false, module: false)
                .Row(5, "10.0.0.1", 1, "10.0.0.2", 65535, pid: 7)
                .Row(8, "10.0.0.1", 256, "10.0.0.3", 258, pid: 8)
                .Build();

            var rows = WindowsTcpRows.Decode(table, table.Length, AddressFamily.InterNetwork, TableClass.OwnerPidAll).ToList();

            Assert.Equal(new[] { (1, 65535, 7), (256, 258, 8) }, rows.Select(r => (r.LocalPort, r.RemotePort, r.ProcessId!.Value)));
            Assert.Equal(new[] { "10.0.0.2", "10.0.0.3" }, rows.Select(r => r.RemoteAddress));
            Assert.All(rows, r => Assert.Null(r.CreationTime)); // the PID class has no timestamp
        }

        [Fact]
        public void ListenerRemotePortIsZeroWhateverTheRowHolds()
        {
            byte[] table = new WindowsTableBuilder(v6: false, module: true).Row(2, "0.0.0.0", 445, "0.0.0.0", 30222, pid: 4).Build();

            var listener = Assert.Single(WindowsTcpRows.Decode(table, table.Length, AddressFamily.InterNetwork, TableClass.OwnerModuleAll));

            Assert.Equal(TcpState.Listen, listener.State);
            Assert.Equal(445, listener.LocalPort);
            Assert.Equal(0, listener.RemotePort);
        }

        [Fact]
        public void DecodesIPv6ModuleRowsWithScopeIdsOnlyWhereTheyMeanSomething()
        {
            byte[] table = new WindowsTableBuilder(v6: true, module: true)
                .Row(8, "fe80::1", 22, "fe80::2", 50000, pid: 900, CreatedFileTime, localScope: 7, remoteScope: 7)
                .Row(5, "::1", 5985, "::1", 49152, pid: 901, localScope: 0)
                .Row(5, "2001:db8::5", 443, "2001:db8::9", 40000, pid: 902, localScope: 1, remoteScope: 1)
                .Build();

            var rows = WindowsTcpRows.Decode(table, table.Length, AddressFamily.InterNetworkV6, TableClass.OwnerModuleAll).ToList();

            Assert.Equal(new[] { "fe80::1%7", "::1", "2001:db8::5" }, rows.Select(r => r.LocalAddress));
            Assert.Equal(new[] { "fe80::2%7", "::1", "2001:db8::9" }, rows.Select(r => r.RemoteAddress));
            Assert.Equal(new[] { 22, 5985, 443 }, rows.Select(r => r.LocalPort));
            Assert.Equal(new[] { 50000, 49152, 40000 }, rows.Select(r => r.RemotePort));
            Assert.Equal(new[] { TcpState.CloseWait, TcpState.Established, TcpState.Established }, rows.Select(r => r.State));
            Assert.Equal(new int?[] { 900, 901, 902 }, rows.Select(r => r.ProcessId));
            Assert.Equal(7, rows[0].LocalIPAddress.ScopeId);
            Assert.NotNull(rows[0].CreationTime);
            Assert.All(rows, r => Assert.Equal(AddressFamily.InterNetworkV6, r.AddressFamily));
        }

        [Fact]
        public void DecodesIPv6PidRows()
        {
            byte[] table = new WindowsTableBuilder(v6: true, module: false).Row(10, "::1", 1000, "::1", 2000, pid: 3).Build();

            var row = Assert.Single(WindowsTcpRows.Decode(table, table.Length, AddressFamily.InterNetworkV6, TableClass.OwnerPidAll));

            Assert.Equal((TcpState.LastAck, 1000, 2000, 3), (row.State, row.LocalPort, row.RemotePort, row.ProcessId!.Value));
        }

        [Fact]
        public void RowSizesAreThoseOfTcpmib()
        {
            Assert.Equal(24, WindowsTcpRows.RowSize(AddressFamily.InterNetwork, TableClass.OwnerPidAll));
            Assert.Equal(160, WindowsTcpRows.RowSize(AddressFamily.InterNetwork, TableClass.OwnerModuleAll));
            Assert.Equal(56, WindowsTcpRows.RowSize(AddressFamily.InterNetworkV6, TableClass.OwnerPidAll));
            Assert.Equal(192, WindowsTcpRows.RowSize(AddressFamily.InterNetworkV6, TableClass.OwnerModuleAll));
        }

        [Fact]
        public void EveryMibTcpStateMapsAndOthersAreRejected()
        {
            var expected = new[]
            {
                TcpState.Closed, TcpState.Listen, TcpState.SynSent, TcpState.SynReceived, TcpState.Established, TcpState.FinWait1,
                TcpState.FinWait2, TcpState.CloseWait, TcpState.Closing, TcpState.LastAck, TcpState.TimeWait, TcpState.DeleteTCB,
            };
            Assert.Equal(expected, Enumerable.Range(1, 12).Select(s => WindowsTcpRows.ToTcpState((uint)s)!.Value));
            Assert.Null(WindowsTcpRows.ToTcpState(0));
            Assert.Null(WindowsTcpRows.ToTcpState(13));

            byte[] table = new WindowsTableBuilder(v6: false, module: false).Row(13, "1.2.3.4", 1, "1.2.3.5", 2, pid: 1).Build();
            var e = Assert.Throws<InvalidDataException>(() => WindowsTcpRows.Decode(table, table.Length, AddressFamily.InterNetwork, TableClass.OwnerPidAll).ToList());
            Assert.Contains("unknown state 13", e.Message);
        }

        [Fact]
        public void RejectsATableWhoseCountRunsPastTheBytesReturned()
        {
            byte[] table = new WindowsTableBuilder(v6: true, module: true).Row(8, "::1", 1, "::1", 2, pid: 1).Row(8, "::1", 3, "::1", 4, pid: 1).Build(count: 3);

            var e = Assert.Throws<InvalidDataException>(() => WindowsTcpRows.Decode(table, table.Length, AddressFamily.InterNetworkV6, TableClass.OwnerModuleAll).ToList());
            Assert.Contains("3 row(s)", e.Message);
            Assert.Throws<InvalidDataException>(() => WindowsTcpRows.Decode(new byte[3], 3, AddressFamily.InterNetwork, TableClass.OwnerPidAll).ToList());
        }

        [Fact]
        public void FileTimesBecomeLocalTimesAndZeroOrNonsenseBecomesNull()
        {
            Assert.Null(WindowsTcpRows.FromFileTime(0));
            Assert.Null(WindowsTcpRows.FromFileTime(-5));
            Assert.Null(WindowsTcpRows.FromFileTime(long.MaxValue));
            Assert.Equal(new DateTime(1601, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddTicks(10_000_000).ToLocalTime(), WindowsTcpRows.FromFileTime(10_000_000));
        }

        [Fact]
        public void TwoCallLoopGrowsTheBufferWhileTheTableGrows()
        {
            var script = new ScriptedTable();
            byte[] small = new WindowsTableBuilder(false, true).Row(8, "127.0.0.1", 1, "127.0.0.1", 2, 5).Build();
            byte[] big = new WindowsTableBuilder(false, true).Row(8, "127.0.0.1", 1, "127.0.0.1", 2, 5).Row(8, "127.0.0.1", 3, "127.0.0.1", 4, 6).Build();
            script.Sizing(small.Length);          // first call: how big?
            script.Sizing(big.Length * 20);       // the table grew past the headroom
            script.Fill(big);                     // third call fits
            var table = new WindowsSocketTable(script.Call);

            var rows = table.Read(new SocketQuery { AddressFamily = AddressFamily.InterNetwork }, CancellationToken.None).ToList();

            Assert.Equal(new[] { 1, 3 }, rows.Select(r => r.LocalPort));
            Assert.Equal(3, script.Calls.Count);
            Assert.Null(script.Calls[0].BufferLength);
            Assert.True(script.Calls[1].BufferLength >= small.Length, "the second call must get at least the size asked for");
            Assert.True(script.Calls[2].BufferLength >= big.Length * 20);
            Assert.All(script.Calls, c => Assert.Equal((AddressFamily.InterNetwork, TableClass.OwnerModuleAll), (c.Family, c.Class)));
        }

        [Fact]
        public void FallsBackToTheOwnerPidClassWhenTheModuleClassIsRefused()
        {
            var script = new ScriptedTable();
            script.Error(Interop.IpHlpApi.ERROR_INVALID_PARAMETER);
            byte[] pidTable = new WindowsTableBuilder(true, false).Row(8, "::1", 10, "::1", 20, 99).Build();
            script.Sizing(pidTable.Length);
            script.Fill(pidTable);
            var table = new WindowsSocketTable(script.Call);

            var row = Assert.Single(table.Read(new SocketQuery { AddressFamily = AddressFamily.InterNetworkV6 }, CancellationToken.None));

            Assert.Equal((10, 20, 99), (row.LocalPort, row.RemotePort, row.ProcessId!.Value));
            Assert.Equal(new[] { TableClass.OwnerModuleAll, TableClass.OwnerPidAll, TableClass.OwnerPidAll }, script.Calls.Select(c => c.Class));
            Assert.Equal(TableClass.OwnerPidAll, table.UsedClass[AddressFamily.InterNetworkV6]);
        }

        [Fact]
        public void GivesUpWithAClearErrorWhenTheTableNeverSettles()
        {
            var script = new ScriptedTable { Forever = Interop.IpHlpApi.ERROR_INSUFFICIENT_BUFFER };
            var table = new WindowsSocketTable(script.Call);

            var e = Assert.Throws<CloseWaitException>(() => table.Read(new SocketQuery(), CancellationToken.None).ToList());

            Assert.Equal(ErrorIds.SocketTableReadFailed, e.ErrorId);
            Assert.Contains("kept growing", e.Message);
            Assert.Equal(WindowsSocketTable.MaxAttempts, script.Calls.Count);
        }

        [Fact]
        public void OtherErrorsCarryTheWin32CodeAndWhatFailed()
        {
            var script = new ScriptedTable { Forever = 5 };
            var e = Assert.Throws<CloseWaitException>(() => new WindowsSocketTable(script.Call).Read(new SocketQuery(), CancellationToken.None).ToList());

            Assert.Equal(ErrorIds.SocketTableReadFailed, e.ErrorId);
            Assert.Equal(5, e.NativeError);
            Assert.Contains("GetExtendedTcpTable (IPv4) failed", e.Message);
        }

        [Fact]
        public void NoDataAndAMissingIPv6StackAreEmptyTables()
        {
            var script = new ScriptedTable();
            script.Error(Interop.IpHlpApi.ERROR_NO_DATA);                // IPv4: nothing
            script.Error(Interop.IpHlpApi.ERROR_NOT_SUPPORTED);          // IPv6 module class refused
            script.Error(Interop.IpHlpApi.ERROR_NOT_SUPPORTED);          // and the PID class too: no IPv6 stack

            Assert.Empty(new WindowsSocketTable(script.Call).Read(new SocketQuery(), CancellationToken.None));
            Assert.Equal(new[] { AddressFamily.InterNetwork, AddressFamily.InterNetworkV6, AddressFamily.InterNetworkV6 }, script.Calls.Select(c => c.Family));
        }

        [Fact]
        public void FiltersStatesAndFamiliesItself()
        {
            var script = new ScriptedTable();
            byte[] v4 = new WindowsTableBuilder(false, true).Row(2, "0.0.0.0", 80, "0.0.0.0", 0, 4).Row(8, "127.0.0.1", 80, "127.0.0.1", 5555, 4).Build();
            script.Sizing(v4.Length);
            script.Fill(v4);
            var table = new WindowsSocketTable(script.Call);

            var rows = table.Read(new SocketQuery { States = new[] { TcpState.CloseWait }, AddressFamily = AddressFamily.InterNetwork }, CancellationToken.None).ToList();

            Assert.Equal(5555, Assert.Single(rows).RemotePort);
            Assert.DoesNotContain(script.Calls, c => c.Family == AddressFamily.InterNetworkV6);
        }

        /// <summary>Plays GetExtendedTcpTable's answers in order and records each call.</summary>
        private sealed class ScriptedTable
        {
            private readonly Queue<Func<byte[]?, uint, (uint Rc, uint Size)>> _answers = new Queue<Func<byte[]?, uint, (uint, uint)>>();

            internal List<(int? BufferLength, AddressFamily Family, TableClass Class)> Calls { get; } = new List<(int?, AddressFamily, TableClass)>();

            internal uint? Forever { get; set; }

            internal void Sizing(int needed) => _answers.Enqueue((buf, size) => (Interop.IpHlpApi.ERROR_INSUFFICIENT_BUFFER, (uint)needed));

            internal void Error(uint rc) => _answers.Enqueue((buf, size) => (rc, size));

            internal void Fill(byte[] table) => _answers.Enqueue((buf, size) =>
            {
                if (buf == null || size < table.Length)
                {
                    return (Interop.IpHlpApi.ERROR_INSUFFICIENT_BUFFER, (uint)table.Length);
                }

                Buffer.BlockCopy(table, 0, buf, 0, table.Length);
                return (Interop.IpHlpApi.NO_ERROR, size);
            });

            internal uint Call(byte[]? buffer, ref uint size, AddressFamily family, TableClass tableClass)
            {
                Calls.Add((buffer?.Length, family, tableClass));
                if (Forever is uint rc)
                {
                    size += 1000;
                    return rc;
                }

                var (result, newSize) = _answers.Dequeue()(buffer, size);
                size = newSize;
                return result;
            }
        }
    }
}
