using System.IO;
using System.Linq;
using System.Net.Sockets;
using CloseWait.Platform.MacOS;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>net.inet.tcp.pcblist_n decoding on constructed buffers (macOS cannot run here).</summary>
    public sealed class MacOSPcbListTests
    {
        [Fact]
        public void DecodesAnIPv4CloseWaitSocketWithPortsQueuesUidAndPid()
        {
            byte[] buf = new MacOSPcbListBuilder()
                .Socket(state: 5, "127.0.0.1", 8080, "127.0.0.1", 51234, rcvCc: 5, sndCc: 7, uid: 501, lastPid: 4321)
                .Build();

            var c = Assert.Single(MacOSPcbList.Decode(buf, buf.Length));

            Assert.Equal(AddressFamily.InterNetwork, c.AddressFamily);
            Assert.Equal(TcpState.CloseWait, c.State);
            Assert.Equal(5, c.NativeState);
            Assert.Equal(("127.0.0.1", 8080, "127.0.0.1", 51234), (c.LocalAddress, c.LocalPort, c.RemoteAddress, c.RemotePort));
            Assert.Equal(5, c.ReceiveQueue);
            Assert.Equal(7, c.SendQueue);
            Assert.Equal(501, c.UserId);
            Assert.Equal(4321, c.ProcessId);
            Assert.Equal("Sysctl", c.Source);
            Assert.Null(c.IdleTime);
            Assert.Null(c.CreationTime);
            Assert.Null(c.Program); // names come from the owner resolver
        }

        [Fact]
        public void DecodesIPv6AndTakesTheEmbeddedLinkLocalScopeOut()
        {
            byte[] buf = new MacOSPcbListBuilder()
                .Socket(4, "fe80::1%4", 22, "fe80::2%4", 50000)
                .Socket(4, "::1", 443, "::1", 60000)
                .Build();

            var rows = MacOSPcbList.Decode(buf, buf.Length).ToList();

            Assert.Equal(new[] { "fe80::1%4", "::1" }, rows.Select(r => r.LocalAddress));
            Assert.Equal(new[] { "fe80::2%4", "::1" }, rows.Select(r => r.RemoteAddress));
            Assert.Equal(new int?[] { 4, null }, rows.Select(r => r.InterfaceIndex));
            Assert.Equal(new[] { 22, 443 }, rows.Select(r => r.LocalPort));
            Assert.All(rows, r => Assert.Equal(AddressFamily.InterNetworkV6, r.AddressFamily));
        }

        [Fact]
        public void AListenersQueuesAreItsAcceptQueueAndBacklog()
        {
            byte[] buf = new MacOSPcbListBuilder().Socket(1, "0.0.0.0", 80, "0.0.0.0", 0, rcvCc: 999, qlen: 3, qlimit: 128).Build();

            var c = Assert.Single(MacOSPcbList.Decode(buf, buf.Length));

            Assert.Equal((TcpState.Listen, 3L, 128L), (c.State, c.ReceiveQueue!.Value, c.SendQueue!.Value));
        }

        [Fact]
        public void SkipsSocketsNewerThanTheSnapshotAndOtherProtocols()
        {
            byte[] buf = new MacOSPcbListBuilder { Generation = 50 }
                .Socket(4, "10.0.0.1", 1, "10.0.0.2", 2, gencnt: 50)
                .Socket(4, "10.0.0.1", 3, "10.0.0.2", 4, gencnt: 51)
                .Socket(4, "10.0.0.1", 5, "10.0.0.2", 6, protocol: 17)
                .Build();

            Assert.Equal(new[] { 1 }, MacOSPcbList.Decode(buf, buf.Length).Select(c => c.LocalPort));
        }

        [Fact]
        public void FindsRecordsByKindNotByPosition()
        {
            byte[] buf = new MacOSPcbListBuilder().Socket(9, "10.0.0.1", 7, "10.0.0.2", 8, rcvCc: 1, sndCc: 2, swapOrder: true).Build();

            var c = Assert.Single(MacOSPcbList.Decode(buf, buf.Length));

            Assert.Equal((TcpState.FinWait2, 7, 8, 1L, 2L), (c.State, c.LocalPort, c.RemotePort, c.ReceiveQueue!.Value, c.SendQueue!.Value));
        }

        [Fact]
        public void AnOlderShorterXsocketGivesNoPidButStillDecodes()
        {
            // Kernels before so_last_pid was added end xsocket_n at so_uid (68 bytes).
            byte[] buf = new MacOSPcbListBuilder().Socket(4, "10.0.0.1", 1, "10.0.0.2", 2, uid: 0, lastPid: 99, socketLength: 68).Build();

            var c = Assert.Single(MacOSPcbList.Decode(buf, buf.Length));

            Assert.Null(c.ProcessId);
            Assert.Equal(0, c.UserId);
        }

        /// <summary>A record of a kind the decoder does not read (0, or XSO_KCREG 0x40) is skipped, as netstat does; the sockets around it still decode.</summary>
        [Theory]
        [InlineData(0u)]
        [InlineData(0x40u)]
        [InlineData(0x3u)]
        public void ARecordOfAnUnknownKindIsSkippedNotFatal(uint kind)
        {
            byte[] two = new MacOSPcbListBuilder()
                .Socket(5, "10.0.0.1", 1, "10.0.0.2", 2)
                .Socket(4, "10.0.0.1", 3, "10.0.0.2", 4)
                .Build();
            int firstSocketEnd = 24 + new MacOSPcbListBuilder().Socket(5, "10.0.0.1", 1, "10.0.0.2", 2).Build(trailer: false).Length - 24;

            // A 32-byte record of that kind before the first socket's records and between the two sockets.
            var extra = new byte[32];
            System.BitConverter.GetBytes(32u).CopyTo(extra, 0);
            System.BitConverter.GetBytes(kind).CopyTo(extra, 4);
            byte[] buf = two.Take(24).Concat(extra).Concat(two.Skip(24).Take(firstSocketEnd - 24)).Concat(extra).Concat(two.Skip(firstSocketEnd)).ToArray();

            var all = MacOSPcbList.Decode(buf, buf.Length).ToList();

            Assert.Equal(new[] { (TcpState.CloseWait, 1), (TcpState.Established, 3) }, all.Select(c => (c.State, c.LocalPort)));
        }

        [Fact]
        public void AnEmptyTableIsTheHeaderAlone()
        {
            byte[] buf = new MacOSPcbListBuilder().Build(trailer: false, count: 0);

            Assert.Empty(MacOSPcbList.Decode(buf, buf.Length));
        }

        [Fact]
        public void RejectsCutAndCorruptBuffers()
        {
            byte[] full = new MacOSPcbListBuilder().Socket(4, "10.0.0.1", 1, "10.0.0.2", 2).Build();
            byte[] noTrailer = new MacOSPcbListBuilder().Socket(4, "10.0.0.1", 1, "10.0.0.2", 2).Build(trailer: false);

            Assert.Contains("cut short", Assert.Throws<InvalidDataException>(() => MacOSPcbList.Decode(noTrailer, noTrailer.Length).ToList()).Message);
            Assert.Contains("runs past", Assert.Throws<InvalidDataException>(() => MacOSPcbList.Decode(full, 24 + 60).ToList()).Message);
            Assert.Throws<InvalidDataException>(() => MacOSPcbList.Decode(full, 10).ToList());

            byte[] badHeader = (byte[])full.Clone();
            badHeader[0] = 16;
            Assert.Contains("header", Assert.Throws<InvalidDataException>(() => MacOSPcbList.Decode(badHeader, badHeader.Length).ToList()).Message);
        }

        [Fact]
        public void StatesFollowTcpFsmNumbering()
        {
            var expected = new[]
            {
                TcpState.Closed, TcpState.Listen, TcpState.SynSent, TcpState.SynReceived, TcpState.Established, TcpState.CloseWait,
                TcpState.FinWait1, TcpState.Closing, TcpState.LastAck, TcpState.FinWait2, TcpState.TimeWait,
            };
            Assert.Equal(expected, Enumerable.Range(0, 11).Select(s => MacOSPcbList.ToTcpState(s)!.Value));
            Assert.Null(MacOSPcbList.ToTcpState(11));
            Assert.Null(MacOSPcbList.ToTcpState(-1));
        }
    }
}
