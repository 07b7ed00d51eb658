using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using CloseWait.Platform.Linux;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>
    /// The netlink and /proc decoders on bytes captured from this kernel (Samples/, made by a
    /// CLOSE_WAIT socket with 7 unread bytes) and on constructed, truncated and corrupted input.
    /// </summary>
    public sealed class LinuxDecoderTests
    {
        private const uint CapturedSequence = 4242;

        private static string SamplePath(string name) => Path.Combine(AppContext.BaseDirectory, "Samples", name);

        private static JsonElement Meta(string family) =>
            JsonDocument.Parse(File.ReadAllText(SamplePath("inet-diag-closewait.json"))).RootElement.GetProperty(family);

        private static List<byte[]> Datagrams(string family)
        {
            byte[] all = File.ReadAllBytes(SamplePath($"inet-diag-closewait-{family}.bin"));
            var result = new List<byte[]>();
            int offset = 0;
            foreach (var len in Meta(family).GetProperty("datagrams").EnumerateArray().Select(e => e.GetInt32()))
            {
                result.Add(all.Skip(offset).Take(len).ToArray());
                offset += len;
            }

            return result;
        }

        private static List<TcpConnection> ParseAll(List<byte[]> datagrams, out bool done, out bool interrupted)
        {
            var list = new List<TcpConnection>();
            done = false;
            interrupted = false;
            foreach (var d in datagrams)
            {
                if (LinuxInetDiag.ParseDumpBatch(d, d.Length, CapturedSequence, 0, list, ref interrupted) == LinuxInetDiag.BatchResult.Done)
                {
                    done = true;
                    break;
                }
            }

            return list;
        }

        [Theory]
        [InlineData("v4", "127.0.0.1", AddressFamily.InterNetwork)]
        [InlineData("v6", "::1", AddressFamily.InterNetworkV6)]
        public void DecodesCapturedCloseWaitDump(string family, string address, AddressFamily af)
        {
            var meta = Meta(family);
            var list = ParseAll(Datagrams(family), out bool done, out bool interrupted);
            Assert.True(done);
            Assert.False(interrupted);
            var c = Assert.Single(list);
            Assert.Equal(af, c.AddressFamily);
            Assert.Equal(address, c.LocalAddress);
            Assert.Equal(address, c.RemoteAddress);
            Assert.Equal(meta.GetProperty("localPort").GetInt32(), c.LocalPort);
            Assert.Equal(meta.GetProperty("remotePort").GetInt32(), c.RemotePort);
            Assert.Equal(TcpState.CloseWait, c.State);
            Assert.Equal(meta.GetProperty("inode").GetUInt64(), c.Inode);
            Assert.Equal(meta.GetProperty("unread").GetInt64(), c.ReceiveQueue);
            Assert.Equal(0, c.SendQueue);
            Assert.Equal(0, c.UserId);
            Assert.NotNull(c.IdleTime);
            Assert.True(c.IdleTime < TimeSpan.FromSeconds(5));
            Assert.NotNull(c.DataIdleTime);
            Assert.True(c.DataIdleTime >= c.IdleTime, "IdleTime is the smaller of the last data and the last ACK");
            Assert.NotEqual(0UL, c.Cookie);
            Assert.Equal("Netlink", c.Source);
        }

        [Fact]
        public void EveryTruncationIsAnErrorOrAShorterResultNeverACrash()
        {
            byte[] d = Datagrams("v4")[0];
            for (int len = 0; len < d.Length; len++)
            {
                var list = new List<TcpConnection>();
                bool interrupted = false;
                var cut = d.Take(len).ToArray();
                try
                {
                    LinuxInetDiag.ParseDumpBatch(cut, cut.Length, CapturedSequence, 0, list, ref interrupted);
                    Assert.True(len == 0, $"a datagram cut to {len} bytes parsed without error");
                }
                catch (InvalidDataException)
                {
                }
            }
        }

        [Fact]
        public void CorruptedBytesGiveInvalidDataOrAResultNeverAnotherException()
        {
            byte[] original = Datagrams("v6")[0];
            var random = new Random(12345);
            for (int round = 0; round < 2000; round++)
            {
                byte[] d = (byte[])original.Clone();
                int flips = 1 + random.Next(4);
                for (int i = 0; i < flips; i++)
                {
                    d[random.Next(d.Length)] = (byte)random.Next(256);
                }

                var list = new List<TcpConnection>();
                bool interrupted = false;
                try
                {
                    LinuxInetDiag.ParseDumpBatch(d, d.Length, CapturedSequence, 0, list, ref interrupted);
                }
                catch (Exception e) when (e is InvalidDataException || e is NetlinkErrorException)
                {
                }
            }
        }

        private static LinuxSocketStates ParseStates(byte[] d, int length, out LinuxInetDiag.BatchResult result)
        {
            var states = new LinuxSocketStates(keepInodes: true);
            bool interrupted = false;
            result = LinuxInetDiag.ParseDumpBatch(d, length, CapturedSequence, 0, ref states, ref interrupted);
            return states;
        }

        [Theory]
        [InlineData("v4")]
        [InlineData("v6")]
        public void LeanDecoderReadsStateAndInodeOfTheCapturedDump(string family)
        {
            var meta = Meta(family);
            var datagrams = Datagrams(family);
            var states = ParseStates(datagrams[0], datagrams[0].Length, out var first);
            Assert.Equal(LinuxInetDiag.BatchResult.More, first);
            bool interrupted = false;
            Assert.Equal(LinuxInetDiag.BatchResult.Done, LinuxInetDiag.ParseDumpBatch(datagrams[1], datagrams[1].Length, CapturedSequence, 0, ref states, ref interrupted));
            states.Seal();

            Assert.Equal(1, states.Total);
            Assert.Equal(1, states.InState(8)); // TCP_CLOSE_WAIT
            Assert.Equal(1, states.Count);
            ulong inode = meta.GetProperty("inode").GetUInt64();
            int at = states.IndexOf(inode);
            Assert.Equal(0, at);
            Assert.Equal(8, states.StateAt(at));
            Assert.False(states.Contains(inode + 1));
            Assert.False(states.Contains(inode + (1UL << 32))); // an inode beyond 32 bits is none of netlink's

            LinuxInetDiag.DecodeStateAndInode(datagrams[0], LinuxInetDiag.NLMSG_HDRLEN, datagrams[0].Length - LinuxInetDiag.NLMSG_HDRLEN, out byte af, out byte state, out uint decoded);
            Assert.Equal(family == "v4" ? LinuxInetDiag.AF_INET : LinuxInetDiag.AF_INET6, af);
            Assert.Equal(8, state);
            Assert.Equal(inode, decoded);
        }

        [Fact]
        public void LeanDecoderRejectsEveryTruncationWithoutReadingPastTheLength()
        {
            // The bytes past the given length are the real rest of the message: a decoder that read
            // past it would succeed instead of failing.
            byte[] d = Datagrams("v4")[0];
            for (int len = 1; len < d.Length; len++)
            {
                int cut = len;
                Assert.Throws<InvalidDataException>(() => ParseStates(d, cut, out _));
                Assert.Throws<InvalidDataException>(() =>
                {
                    bool interrupted = false;
                    LinuxInetDiag.ParseDumpBatch(d, cut, CapturedSequence, 0, new List<TcpConnection>(), ref interrupted);
                });
            }

            Assert.Equal(0, ParseStates(d, 0, out _).Total);
            Assert.Throws<InvalidDataException>(() => ParseStates(d, d.Length + 1, out _));
        }

        [Theory]
        [InlineData(0, 73)]             // one byte past the end
        [InlineData(-1, 72)]
        [InlineData(8, int.MaxValue)]   // offset + length overflows
        [InlineData(0, 71)]             // shorter than inet_diag_msg
        public void LeanDecoderRejectsAMessageOutsideTheBuffer(int offset, int length)
        {
            byte[] d = Datagrams("v4")[0].Skip(LinuxInetDiag.NLMSG_HDRLEN).Take(72).ToArray();
            Assert.Throws<InvalidDataException>(() => LinuxInetDiag.DecodeStateAndInode(d, offset, length, out _, out _, out _));
            Assert.Throws<InvalidDataException>(() => LinuxInetDiag.DecodeDiagMessage(d, offset, length));
        }

        [Fact]
        public void LeanAndFullDecodersAgreeOnCorruptedBytes()
        {
            byte[] original = Datagrams("v6")[0];
            var random = new Random(4711);
            int accepted = 0;
            int rejected = 0;
            for (int round = 0; round < 3000; round++)
            {
                byte[] d = (byte[])original.Clone();
                int flips = 1 + random.Next(4);
                for (int i = 0; i < flips; i++)
                {
                    // Mostly the netlink header and inet_diag_msg, where family, state and lengths live.
                    d[random.Next(random.Next(2) == 0 ? 96 : d.Length)] = (byte)random.Next(256);
                }

                Exception? fullError = null;
                Exception? leanError = null;
                var list = new List<TcpConnection>();
                LinuxSocketStates? states = null;
                bool interrupted = false;
                try
                {
                    LinuxInetDiag.ParseDumpBatch(d, d.Length, CapturedSequence, 0, list, ref interrupted);
                }
                catch (Exception e) when (e is InvalidDataException || e is NetlinkErrorException)
                {
                    fullError = e;
                }

                try
                {
                    states = ParseStates(d, d.Length, out _);
                }
                catch (Exception e) when (e is InvalidDataException || e is NetlinkErrorException)
                {
                    leanError = e;
                }

                Assert.Equal(fullError?.GetType(), leanError?.GetType());
                Assert.Equal(fullError?.Message, leanError?.Message);
                if (states != null)
                {
                    accepted++;
                    states.Seal();
                    Assert.Equal(list.Count, states.Total);
                    Assert.Equal(list.Count(c => c.Inode != null), states.Count);
                    foreach (var c in list.Where(c => c.Inode != null))
                    {
                        Assert.Equal(c.NativeState, states.StateAt(states.IndexOf(c.Inode!.Value)));
                    }
                }
                else
                {
                    rejected++;
                }
            }

            // Both outcomes occur, so the comparison covered each.
            Assert.True(accepted > 100 && rejected > 100, $"{accepted} accepted, {rejected} rejected");
        }

        [Fact]
        public void LengthBeyondTheBufferIsRejected()
        {
            byte[] d = Datagrams("v4")[0];
            var list = new List<TcpConnection>();
            bool interrupted = false;
            Assert.Throws<InvalidDataException>(() => LinuxInetDiag.ParseDumpBatch(d, d.Length + 1, CapturedSequence, 0, list, ref interrupted));
        }

        [Fact]
        public void MessagesOfAnotherSequenceOrPortAreSkipped()
        {
            var list = ParseAll(Datagrams("v4"), out _, out _);
            Assert.Single(list);
            var other = new List<TcpConnection>();
            bool interrupted = false;
            byte[] d = Datagrams("v4")[0];
            Assert.Equal(LinuxInetDiag.BatchResult.More, LinuxInetDiag.ParseDumpBatch(d, d.Length, CapturedSequence + 1, 0, other, ref interrupted));
            Assert.Empty(other);
            Assert.Equal(LinuxInetDiag.BatchResult.More, LinuxInetDiag.ParseDumpBatch(d, d.Length, CapturedSequence, 777, other, ref interrupted));
            Assert.Empty(other);
        }

        [Fact]
        public void DumpInterruptedFlagIsReportedAndResultsKept()
        {
            byte[] d = Datagrams("v4")[0];
            LinuxInetDiag.WriteU16(d, 6, (ushort)(LinuxInetDiag.NLM_F_MULTI | LinuxInetDiag.NLM_F_DUMP_INTR));
            var list = new List<TcpConnection>();
            bool interrupted = false;
            LinuxInetDiag.ParseDumpBatch(d, d.Length, CapturedSequence, 0, list, ref interrupted);
            Assert.True(interrupted);
            Assert.Single(list);
        }

        [Fact]
        public void ErrorMessageBecomesTheErrno()
        {
            // struct nlmsghdr + int error (-EACCES) + the offending header.
            var d = new byte[16 + 4 + 16];
            LinuxInetDiag.WriteU32(d, 0, (uint)d.Length);
            LinuxInetDiag.WriteU16(d, 4, LinuxInetDiag.NLMSG_ERROR);
            LinuxInetDiag.WriteU32(d, 8, 9);
            LinuxInetDiag.WriteU32(d, 16, unchecked((uint)-13));
            var list = new List<TcpConnection>();
            bool interrupted = false;
            var e = Assert.Throws<NetlinkErrorException>(() => LinuxInetDiag.ParseDumpBatch(d, d.Length, 9, 0, list, ref interrupted));
            Assert.Equal(13, e.Errno);
            Assert.Contains("errno 13", e.Message);

            // error 0 is an acknowledgement: the end of the reply.
            LinuxInetDiag.WriteU32(d, 16, 0);
            Assert.Equal(LinuxInetDiag.BatchResult.Done, LinuxInetDiag.ParseDumpBatch(d, d.Length, 9, 0, list, ref interrupted));
        }

        [Fact]
        public void DumpRequestHasTheKernelLayout()
        {
            byte[] r = LinuxInetDiag.BuildDumpRequest(LinuxInetDiag.AF_INET6, LinuxInetDiag.StateMask(new[] { TcpState.CloseWait }), withTcpInfo: true, sequence: 77);
            Assert.Equal(16 + 56, r.Length);
            Assert.Equal((uint)r.Length, LinuxInetDiag.ReadU32(r, 0));
            Assert.Equal(20, LinuxInetDiag.ReadU16(r, 4));          // SOCK_DIAG_BY_FAMILY
            Assert.Equal(0x301, LinuxInetDiag.ReadU16(r, 6));       // NLM_F_REQUEST | NLM_F_DUMP
            Assert.Equal(77u, LinuxInetDiag.ReadU32(r, 8));
            Assert.Equal(10, r[16]);                                // sdiag_family
            Assert.Equal(6, r[17]);                                 // IPPROTO_TCP
            Assert.Equal(1 << 1, r[18]);                            // 1 << (INET_DIAG_INFO - 1)
            Assert.Equal(1u << 8, LinuxInetDiag.ReadU32(r, 20));    // TCP_CLOSE_WAIT
            Assert.Equal(0xFFFFFFFFu, LinuxInetDiag.ReadU32(r, 24 + 40));
        }

        [Fact]
        public void SocketRequestNamesAddressesPortsAndCookie()
        {
            byte[] r = LinuxInetDiag.BuildSocketRequest(LinuxInetDiag.SOCK_DESTROY, LinuxInetDiag.AF_INET, 8,
                IPAddress.Parse("::ffff:10.1.2.3"), 443, IPAddress.Parse("192.168.0.9"), 50000, 0x1122334455667788UL, 5);
            Assert.Equal(21, LinuxInetDiag.ReadU16(r, 4));
            int id = 24;
            Assert.Equal(new byte[] { 0x01, 0xBB, 0xC3, 0x50 }, r.Skip(id).Take(4).ToArray());
            Assert.Equal(new byte[] { 10, 1, 2, 3 }, r.Skip(id + 4).Take(4).ToArray());
            Assert.Equal(new byte[] { 192, 168, 0, 9 }, r.Skip(id + 20).Take(4).ToArray());
            Assert.Equal(0x55667788u, LinuxInetDiag.ReadU32(r, id + 40));
            Assert.Equal(0x11223344u, LinuxInetDiag.ReadU32(r, id + 44));
            Assert.Equal(1u << 8, LinuxInetDiag.ReadU32(r, 20));
        }

        [Fact]
        public void StateMaskMapsGetNetTcpConnectionNamesToKernelStates()
        {
            Assert.Equal(1u << 8, LinuxInetDiag.StateMask(new[] { TcpState.CloseWait }));
            Assert.Equal((1u << 3) | (1u << 12), LinuxInetDiag.StateMask(new[] { TcpState.SynReceived }));
            Assert.Equal((1u << 10) | (1u << 1), LinuxInetDiag.StateMask(new[] { TcpState.Listen, TcpState.Established }));
            Assert.Equal(0u, LinuxInetDiag.StateMask(new[] { TcpState.DeleteTCB }));
            Assert.Equal(0x1FFEu, LinuxInetDiag.StateMask(null));
            Assert.Equal(LinuxInetDiag.StateMask(Enum.GetValues<TcpState>()), LinuxInetDiag.StateMask(null));
            for (int s = 1; s <= 12; s++)
            {
                Assert.NotNull(LinuxInetDiag.ToTcpState(s));
            }

            Assert.Null(LinuxInetDiag.ToTcpState(0));
            Assert.Null(LinuxInetDiag.ToTcpState(13));
        }

        [Theory]
        [InlineData(8, 8u, 7L)]   // CLOSE_WAIT: the FIN counts until end-of-file is read
        [InlineData(8, 0u, 0L)]   // end-of-file already read
        [InlineData(9, 1u, 0L)]   // LAST_ACK
        [InlineData(1, 8u, 8L)]   // ESTABLISHED: no FIN
        public void UnreadBytesTakeTheFinOff(int state, uint queue, long expected)
        {
            Assert.Equal(expected, LinuxInetDiag.UnreadBytes(state, queue));
        }

        [Fact]
        public void ProcNetTcpSampleDecodesTheSameSocket()
        {
            var meta = Meta("v4");
            using var reader = new StreamReader(SamplePath("proc-net-tcp.txt"));
            var all = LinuxProcNetTcpParser.Parse(reader, AddressFamily.InterNetwork).ToList();
            var c = Assert.Single(all, x => x.State == TcpState.CloseWait);
            Assert.Equal("127.0.0.1", c.LocalAddress);
            Assert.Equal(meta.GetProperty("localPort").GetInt32(), c.LocalPort);
            Assert.Equal(meta.GetProperty("remotePort").GetInt32(), c.RemotePort);
            Assert.Equal(meta.GetProperty("inode").GetUInt64(), c.Inode);
            Assert.Equal(7, c.ReceiveQueue);
            Assert.Null(c.IdleTime);
            Assert.Null(c.DataIdleTime);
            Assert.Null(c.Cookie);
            Assert.Contains(all, x => x.State == TcpState.Listen && x.LocalPort == meta.GetProperty("localPort").GetInt32());
        }

        [Fact]
        public void ProcNetTcp6SampleDecodesTheSameSocket()
        {
            var meta = Meta("v6");
            using var reader = new StreamReader(SamplePath("proc-net-tcp6.txt"));
            var c = Assert.Single(LinuxProcNetTcpParser.Parse(reader, AddressFamily.InterNetworkV6), x => x.State == TcpState.CloseWait);
            Assert.Equal("::1", c.LocalAddress);
            Assert.Equal("::1", c.RemoteAddress);
            Assert.Equal(meta.GetProperty("localPort").GetInt32(), c.LocalPort);
            Assert.Equal(meta.GetProperty("inode").GetUInt64(), c.Inode);
        }

        [Theory]
        [InlineData("   0: 0100007F:ADEF 0100007F:958E 08 00000000:00000008")]
        [InlineData("   0: 0100007F:ADEF 0100007F:958E ZZ 00000000:00000008 00:00000000 00000000     0        0 16908 1")]
        [InlineData("   0: 0100007:ADEF 0100007F:958E 08 00000000:00000008 00:00000000 00000000     0        0 16908 1")]
        [InlineData("   0: 0100007F:1ADEF 0100007F:958E 08 00000000:00000008 00:00000000 00000000     0        0 16908 1")]
        [InlineData("   0: 0100007F:ADEF 0100007F:958E 08 0000000000000008 00:00000000 00000000     0        0 16908 1")]
        [InlineData("   0: 0100007F:ADEF 0100007F:958E 08 00000000:00000008 00:00000000 00000000     x        0 16908 1")]
        public void MalformedProcLinesNameTheLine(string line)
        {
            var text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" + line + "\n";
            var e = Assert.Throws<InvalidDataException>(() => LinuxProcNetTcpParser.Parse(new StringReader(text), AddressFamily.InterNetwork).ToList());
            Assert.Contains("line 2", e.Message);
        }

        [Theory]
        [InlineData(6, 3, false, true)]    // TIME_WAIT
        [InlineData(5, 3, false, true)]    // FIN_WAIT2 as a time-wait minisocket (tw_substate)
        [InlineData(3, 1, false, true)]    // request socket: inet_req_diag_fill writes SYN_RECV, timer 1
        [InlineData(12, 1, false, true)]   // NEW_SYN_RECV
        [InlineData(3, 1, true, false)]    // a full SYN_RECV socket (TCP Fast Open)
        [InlineData(5, 2, true, false)]    // a full FIN_WAIT2 socket (tcp_fin_timeout above 60 s)
        [InlineData(8, 0, true, false)]    // CLOSE_WAIT
        [InlineData(1, 2, true, false)]    // ESTABLISHED with keepalive
        [InlineData(10, 0, true, false)]   // LISTEN
        [InlineData(9, 1, true, false)]    // LAST_ACK retransmitting
        [InlineData(4, 1, true, false)]    // FIN_WAIT1
        [InlineData(11, 1, true, false)]   // CLOSING
        [InlineData(2, 1, true, false)]    // SYN_SENT
        public void MiniSocketsAreToldByTheirTimerAndAttributesNotOnlyTheirState(int state, int timer, bool shutdownAttribute, bool mini)
        {
            Assert.Equal(mini, LinuxInetDiag.IsMiniSocket(state, timer, shutdownAttribute));
        }

        private const string ProcHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

        [Theory]
        // get_timewait4_sock: a FIN_WAIT2 time-wait minisocket (12 fields, timer 3): uid, queues and inode unknown.
        [InlineData("   5: 0100007F:958E 0100007F:ADEF 05 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000", true)]
        // get_openreq4: a request socket (state 03, timer 01, the listener's uid 1000, 12 fields).
        [InlineData("   6: 0100007F:ADEF 0100007F:958F 03 00000000:00000000 01:00000064 00000000  1000        0 0 0 0000000000000000", true)]
        // get_tcp4_sock: a full FIN_WAIT2 socket (17 fields, keepalive timer): everything is real.
        [InlineData("   7: 0100007F:9590 0100007F:ADEF 05 00000000:00000000 02:00000FA0 00000000  1000        0 16910 1 0000000000000000 20 4 30 10 -1", false)]
        // get_tcp4_sock: CLOSE_WAIT.
        [InlineData("   8: 0100007F:ADEF 0100007F:9591 08 00000000:00000008 00:00000000 00000000  1000        0 16911 1 0000000000000000 20 4 30 10 -1", false)]
        public void ProcMiniSocketsHaveNoUserQueuesOrInode(string line, bool mini)
        {
            var c = LinuxProcNetTcpParser.Parse(new StringReader(ProcHeader + line + "\n"), AddressFamily.InterNetwork).Single();
            if (mini)
            {
                Assert.Null(c.UserId);
                Assert.Null(c.ReceiveQueue);
                Assert.Null(c.SendQueue);
                Assert.Null(c.Inode);
            }
            else
            {
                Assert.Equal(1000, c.UserId);
                Assert.NotNull(c.ReceiveQueue);
                Assert.NotNull(c.Inode);
            }
        }

        /// <summary>
        /// The closed client of a CLOSE_WAIT pair on this host goes to FIN_WAIT2 as a time-wait
        /// minisocket (tcp_fin_timeout 60 s is not above TCP_TIMEWAIT_LEN): both back ends must
        /// report its user and queues as unknown, not 0.
        /// </summary>
        [Theory]
        [InlineData("Netlink")]
        [InlineData("ProcNet")]
        public void TheLocalPeerOfACloseWaitSocketIsAMiniSocketOnBothBackEnds(string backend)
        {
            using var s = LoopbackSockets.CloseWait(IPAddress.Loopback);
            var table = new LinuxSocketTable { ForcedBackend = (LinuxTableBackend)Enum.Parse(typeof(LinuxTableBackend), backend) };
            var query = new CloseWait.Platform.SocketQuery { States = new[] { TcpState.FinWait2, TcpState.TimeWait }, RemotePorts = new[] { s.Port } };

            // Exactly this connection's client side (an older socket may have used the same local
            // port), waited for: it reaches FIN_WAIT2 when the ACK of its FIN lands, a moment after
            // the server side shows CLOSE_WAIT on a loaded machine.
            TcpConnection? peer = null;
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (peer == null)
            {
                peer = table.Read(query, System.Threading.CancellationToken.None).SingleOrDefault(c =>
                    c.LocalPort == s.ClientPorts[0] && c.RemotePort == s.Port && c.LocalAddress == "127.0.0.1" && c.RemoteAddress == "127.0.0.1" && c.State == TcpState.FinWait2);
                Assert.True(peer != null || DateTime.UtcNow < deadline, "the client side never showed FIN_WAIT2");
                if (peer == null)
                {
                    System.Threading.Thread.Sleep(10);
                }
            }

            Assert.Equal(TcpState.FinWait2, peer.State);
            Assert.Null(peer.UserId);
            Assert.Null(peer.ReceiveQueue);
            Assert.Null(peer.SendQueue);
            Assert.Null(peer.Inode);
            Assert.NotNull(peer.TimerExpiresIn);
        }

        [Fact]
        public void ProcFileWithoutHeaderIsRejectedAndEmptyFileIsEmpty()
        {
            Assert.Throws<InvalidDataException>(() => LinuxProcNetTcpParser.Parse(new StringReader("garbage\n"), AddressFamily.InterNetwork).ToList());
            Assert.Empty(LinuxProcNetTcpParser.Parse(new StringReader(string.Empty), AddressFamily.InterNetwork));
        }

        [Theory]
        [InlineData("socket:[12345]", true, 12345UL)]
        [InlineData("socket:[0]", true, 0UL)]
        [InlineData("socket:[]", false, 0UL)]
        [InlineData("socket:[12a45]", false, 0UL)]
        [InlineData("pipe:[12345]", false, 0UL)]
        [InlineData("socket:[12345", false, 0UL)]
        [InlineData("/dev/null", false, 0UL)]
        public void SocketLinkTargetsParseWithoutAllocating(string link, bool ok, ulong inode)
        {
            byte[] b = Encoding.ASCII.GetBytes(link);
            Assert.Equal(ok, LinuxOwnerResolver.TryParseSocketInode(b, b.Length, out ulong parsed));
            if (ok)
            {
                Assert.Equal(inode, parsed);
            }
        }
    }
}
