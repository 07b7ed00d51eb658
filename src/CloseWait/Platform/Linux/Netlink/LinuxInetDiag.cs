using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;

namespace CloseWait.Platform.Linux
{
    /// <summary>
    /// NETLINK_SOCK_DIAG messages for TCP (linux/netlink.h, linux/sock_diag.h, linux/inet_diag.h),
    /// built and parsed field by field with the kernel's sizes and alignment. No I/O here, so every
    /// byte path is testable on captured buffers. Netlink is host byte order; addresses and ports
    /// in inet_diag_sockid are network byte order.
    /// </summary>
    internal static class LinuxInetDiag
    {
        internal const int NLMSG_HDRLEN = 16;
        internal const ushort NLMSG_NOOP = 1;
        internal const ushort NLMSG_ERROR = 2;
        internal const ushort NLMSG_DONE = 3;
        internal const ushort NLM_F_REQUEST = 0x1;
        internal const ushort NLM_F_MULTI = 0x2;
        internal const ushort NLM_F_ACK = 0x4;
        internal const ushort NLM_F_DUMP_INTR = 0x10;
        internal const ushort NLM_F_DUMP = 0x300;
        internal const ushort TCPDIAG_GETSOCK = 18;      // the legacy request and its replies
        internal const ushort SOCK_DIAG_BY_FAMILY = 20;
        internal const ushort SOCK_DESTROY = 21;
        internal const byte IPPROTO_TCP = 6;
        internal const byte AF_INET = 2;
        internal const byte AF_INET6 = 10;

        internal const int SockIdSize = 48;              // struct inet_diag_sockid
        internal const int ReqV2Size = 8 + SockIdSize;   // struct inet_diag_req_v2
        internal const int ReqCompatSize = 4 + SockIdSize + 8; // struct inet_diag_req
        internal const int DiagMsgSize = 4 + SockIdSize + 20; // struct inet_diag_msg
        internal const int RtaHdrLen = 4;                // struct rtattr
        internal const ushort INET_DIAG_INFO = 2;
        internal const ushort INET_DIAG_REQ_BYTECODE = 1;

        // struct inet_diag_bc_op codes: port comparisons that every kernel with inet_diag knows
        // (S_EQ/D_EQ only arrived in 4.16, so equality is written as GE and LE).
        internal const byte INET_DIAG_BC_JMP = 1;
        internal const byte INET_DIAG_BC_S_GE = 2;
        internal const byte INET_DIAG_BC_S_LE = 3;
        internal const byte INET_DIAG_BC_D_GE = 4;
        internal const byte INET_DIAG_BC_D_LE = 5;
        internal const int BcOpSize = 4;

        /// <summary>More ports than this on one side and that side is filtered here instead (a jump is a u16).</summary>
        internal const int MaxBytecodePorts = 256;

        // struct tcp_info (include/uapi/linux/tcp.h): 8 u8 (state .. the wscale and app-limited
        // bit fields), then 9 u32 (rto, ato, snd_mss, rcv_mss, unacked, sacked, lost, retrans,
        // fackets), then the times: last_data_sent (44), last_ack_sent (48), last_data_recv (52),
        // last_ack_recv (56), each in milliseconds.
        internal const int TcpInfoLastDataRecvOffset = 52;
        internal const int TcpInfoLastAckRecvOffset = 56;

        // idiag_timer values (ss's "timer:(...)"): 1 retransmit, 2 keepalive, 3 TIME_WAIT, 4 zero window probe.
        internal const byte TimerRetransmit = 1;
        internal const byte TimerKeepAlive = 2;
        internal const byte TimerTimeWait = 3;

        /// <summary>Every full socket carries it (inet_diag_msg_attrs_fill); minisockets never do.</summary>
        internal const ushort INET_DIAG_SHUTDOWN = 8;

        internal const uint NoCookie = 0xFFFFFFFF;

        /// <summary>Bits 1 (TCP_ESTABLISHED) to 12 (TCP_NEW_SYN_RECV).</summary>
        internal const uint AllStates = 0x1FFE;

        internal static int NlmsgAlign(int len) => (len + 3) & ~3;

        /// <summary>Kernel TCP state numbers (include/net/tcp_states.h) to Get-NetTCPConnection's names.</summary>
        internal static TcpState? ToTcpState(int linuxState)
        {
            switch (linuxState)
            {
                case 1: return TcpState.Established;
                case 2: return TcpState.SynSent;
                case 3: return TcpState.SynReceived;
                case 4: return TcpState.FinWait1;
                case 5: return TcpState.FinWait2;
                case 6: return TcpState.TimeWait;
                case 7: return TcpState.Closed;
                case 8: return TcpState.CloseWait;
                case 9: return TcpState.LastAck;
                case 10: return TcpState.Listen;
                case 11: return TcpState.Closing;
                case 12: return TcpState.SynReceived; // TCP_NEW_SYN_RECV: a request socket
                default: return null;
            }
        }

        /// <summary>The idiag_states bit mask for the wanted states (all states when null).</summary>
        internal static uint StateMask(ICollection<TcpState>? states)
        {
            if (states == null)
            {
                // Every TCP state (1..12), not TCP_BOUND_INACTIVE (13): that bit makes the kernel
                // also walk its bind hash for sockets that are bound and neither listening nor
                // connected, which doubles the dump on a large table and lists no connection.
                return AllStates;
            }

            uint mask = 0;
            for (int linux = 1; linux <= 12; linux++)
            {
                var s = ToTcpState(linux);
                if (s.HasValue && states.Contains(s.Value))
                {
                    mask |= 1u << linux;
                }
            }

            return mask;
        }

        /// <summary>
        /// A SOCK_DIAG_BY_FAMILY dump request for TCP sockets of one family in the given states,
        /// with an optional INET_DIAG_REQ_BYTECODE filter (see <see cref="BuildPortFilter"/>).
        /// </summary>
        internal static byte[] BuildDumpRequest(byte family, uint stateMask, bool withTcpInfo, uint sequence, byte[]? bytecode = null)
        {
            var buf = NewDumpRequest(SOCK_DIAG_BY_FAMILY, ReqV2Size, sequence, bytecode);
            int o = NLMSG_HDRLEN;
            buf[o] = family;
            buf[o + 1] = IPPROTO_TCP;
            buf[o + 2] = withTcpInfo ? (byte)(1 << (INET_DIAG_INFO - 1)) : (byte)0;
            WriteU32(buf, o + 4, stateMask);
            // Wildcard socket id: no cookie.
            WriteU32(buf, o + 8 + 40, NoCookie);
            WriteU32(buf, o + 8 + 44, NoCookie);
            return buf;
        }

        /// <summary>
        /// The legacy TCPDIAG_GETSOCK dump (struct inet_diag_req): the kernel answers it for
        /// AF_UNSPEC, so one walk of its socket table returns IPv4 and IPv6 sockets together, where
        /// SOCK_DIAG_BY_FAMILY walks the whole table once per family. Same filters, same replies
        /// (inet_diag_msg), typed TCPDIAG_GETSOCK.
        /// </summary>
        internal static byte[] BuildBothFamiliesDumpRequest(uint stateMask, bool withTcpInfo, uint sequence, byte[]? bytecode = null)
        {
            var buf = NewDumpRequest(TCPDIAG_GETSOCK, ReqCompatSize, sequence, bytecode);
            int o = NLMSG_HDRLEN;
            buf[o + 3] = withTcpInfo ? (byte)(1 << (INET_DIAG_INFO - 1)) : (byte)0;
            int id = o + 4;
            WriteU32(buf, id + 40, NoCookie);
            WriteU32(buf, id + 44, NoCookie);
            WriteU32(buf, id + SockIdSize, stateMask);
            return buf;
        }

        /// <summary>
        /// A dump request's buffer with its header written, room for a <paramref name="requestSize"/>-byte
        /// request struct (left zero for the caller), and the INET_DIAG_REQ_BYTECODE attribute when given.
        /// </summary>
        private static byte[] NewDumpRequest(ushort type, int requestSize, uint sequence, byte[]? bytecode)
        {
            int attrLen = bytecode == null ? 0 : RtaHdrLen + bytecode.Length;
            var buf = new byte[NLMSG_HDRLEN + requestSize + NlmsgAlign(attrLen)];
            WriteHeader(buf, (uint)buf.Length, type, (ushort)(NLM_F_REQUEST | NLM_F_DUMP), sequence);
            if (bytecode != null)
            {
                int a = NLMSG_HDRLEN + requestSize;
                WriteU16(buf, a, (ushort)attrLen);
                WriteU16(buf, a + 2, INET_DIAG_REQ_BYTECODE);
                Buffer.BlockCopy(bytecode, 0, buf, a + RtaHdrLen, bytecode.Length);
            }

            return buf;
        }

        /// <summary>
        /// An inet_diag bytecode program that keeps only sockets whose local port is one of
        /// <paramref name="localPorts"/> and whose remote port is one of <paramref name="remotePorts"/>
        /// (null or empty: any), so that the kernel skips the rest of a large table instead of sending
        /// it. Null when there is nothing to filter. The caller still filters: this only narrows.
        /// </summary>
        /// <remarks>
        /// The kernel runs ops in order; each op moves on by <c>yes</c> or <c>no</c> bytes, a
        /// program accepts when it lands exactly on its end, rejects when it jumps 4 bytes past.
        /// The kernel's audit follows the <c>yes</c> chain and wants every <c>no</c> target on it,
        /// so every <c>yes</c> goes to the next op and alternatives are joined with JMP:
        /// per port GE, LE (a port comparison carries the port in a second op), then JMP to the
        /// end of the side's block; the last port has no JMP and rejects on a miss.
        /// </remarks>
        internal static byte[]? BuildPortFilter(ICollection<int>? localPorts, ICollection<int>? remotePorts, (int Start, int End)? localRange = null)
        {
            int[] local = PortsForBytecode(localPorts);
            int[] remote = PortsForBytecode(remotePorts);
            int rangeLength = localRange == null ? 0 : 4 * BcOpSize;
            int length = rangeLength + BlockLength(local.Length) + BlockLength(remote.Length);
            if (length == 0)
            {
                return null;
            }

            var program = new byte[length];
            if (localRange is (int start, int end))
            {
                // Local port at least start (else reject), then at most end (else reject).
                WritePortOp(program, 0, INET_DIAG_BC_S_GE, program.Length + BcOpSize, start);
                WritePortOp(program, 2 * BcOpSize, INET_DIAG_BC_S_LE, program.Length - (2 * BcOpSize) + BcOpSize, end);
            }

            int at = WritePortBlock(program, rangeLength, local, INET_DIAG_BC_S_GE, INET_DIAG_BC_S_LE);
            WritePortBlock(program, at, remote, INET_DIAG_BC_D_GE, INET_DIAG_BC_D_LE);
            return program;
        }

        private static int[] PortsForBytecode(ICollection<int>? ports)
        {
            if (ports == null || ports.Count == 0 || ports.Count > MaxBytecodePorts)
            {
                return new int[0];
            }

            var sorted = new List<int>(ports);
            sorted.Sort();
            return sorted.ToArray();
        }

        private static int BlockLength(int ports) => ports == 0 ? 0 : (ports * 5 * BcOpSize) - BcOpSize;

        private static int WritePortBlock(byte[] program, int start, int[] ports, byte ge, byte le)
        {
            int blockEnd = start + BlockLength(ports.Length);
            int at = start;
            for (int i = 0; i < ports.Length; i++)
            {
                bool last = i == ports.Length - 1;
                // A miss moves on to the next port's GE, or rejects after the last port.
                int missGe = last ? program.Length - at + BcOpSize : 5 * BcOpSize;
                int missLe = last ? program.Length - (at + 2 * BcOpSize) + BcOpSize : 3 * BcOpSize;
                WritePortOp(program, at, ge, missGe, ports[i]);
                WritePortOp(program, at + (2 * BcOpSize), le, missLe, ports[i]);
                at += 4 * BcOpSize;
                if (!last)
                {
                    WriteBcOp(program, at, INET_DIAG_BC_JMP, BcOpSize, blockEnd - at);
                    at += BcOpSize;
                }
            }

            return at;
        }

        private static void WritePortOp(byte[] program, int at, byte code, int no, int port)
        {
            WriteBcOp(program, at, code, 2 * BcOpSize, no);
            WriteBcOp(program, at + BcOpSize, 0, 0, port); // the port rides in the follow-on op's "no"
        }

        private static void WriteBcOp(byte[] program, int at, byte code, int yes, int no)
        {
            program[at] = code;
            program[at + 1] = (byte)yes;
            WriteU16(program, at + 2, (ushort)no);
        }

        /// <summary>
        /// A request naming one socket exactly (addresses, ports, cookie), for SOCK_DESTROY or a
        /// single-socket SOCK_DIAG_BY_FAMILY lookup. The kernel refuses it when the cookie no longer matches.
        /// </summary>
        internal static byte[] BuildSocketRequest(ushort type, byte family, int linuxState, IPAddress local, int localPort, IPAddress remote, int remotePort, ulong cookie, uint sequence, int interfaceIndex = 0)
        {
            var buf = new byte[NLMSG_HDRLEN + ReqV2Size];
            WriteHeader(buf, (uint)buf.Length, type, (ushort)(NLM_F_REQUEST | NLM_F_ACK), sequence);
            int o = NLMSG_HDRLEN;
            buf[o] = family;
            buf[o + 1] = IPPROTO_TCP;
            WriteU32(buf, o + 4, linuxState > 0 ? 1u << linuxState : 0xFFFFFFFF);
            int id = o + 8;
            buf[id] = (byte)(localPort >> 8);
            buf[id + 1] = (byte)localPort;
            buf[id + 2] = (byte)(remotePort >> 8);
            buf[id + 3] = (byte)remotePort;
            WriteAddress(buf, id + 4, local, family);
            WriteAddress(buf, id + 20, remote, family);
            // The lookup matches a socket bound to a device only when given that device (idiag_if).
            WriteU32(buf, id + 36, (uint)interfaceIndex);
            WriteU32(buf, id + 40, (uint)cookie);
            WriteU32(buf, id + 44, (uint)(cookie >> 32));
            return buf;
        }

        private static void WriteAddress(byte[] buf, int offset, IPAddress address, byte family)
        {
            byte[] b = address.GetAddressBytes();
            if (family == AF_INET && b.Length == 16)
            {
                // An IPv4-mapped address on an AF_INET request: the kernel wants the four IPv4 bytes.
                Array.Copy(b, 12, buf, offset, 4);
                return;
            }

            Array.Copy(b, 0, buf, offset, Math.Min(b.Length, 16));
        }

        private static void WriteHeader(byte[] buf, uint length, ushort type, ushort flags, uint sequence)
        {
            WriteU32(buf, 0, length);
            WriteU16(buf, 4, type);
            WriteU16(buf, 6, flags);
            WriteU32(buf, 8, sequence);
            WriteU32(buf, 12, 0); // port id: the kernel fills in the sender's
        }

        internal enum BatchResult
        {
            More,
            Done,
        }

        /// <summary>
        /// Parses one datagram of a dump reply. Messages for other sequences or port ids are skipped;
        /// NLMSG_ERROR becomes a <see cref="NetlinkErrorException"/>; malformed input an
        /// <see cref="InvalidDataException"/>. Never reads past <paramref name="length"/>.
        /// </summary>
        internal static BatchResult ParseDumpBatch(byte[] buf, int length, uint sequence, uint portId, List<TcpConnection> into, ref bool interrupted)
        {
            var sink = new ConnectionSink(into);
            return ParseDumpBatch(buf, length, sequence, portId, ref sink, ref interrupted);
        }

        /// <summary>Receives each socket message of a dump (payload offset and length within the datagram).</summary>
        internal interface IDiagSink
        {
            void Add(byte[] buf, int offset, int length);
        }

        private struct ConnectionSink : IDiagSink
        {
            private readonly List<TcpConnection> _into;

            internal ConnectionSink(List<TcpConnection> into) => _into = into;

            public void Add(byte[] buf, int offset, int length) => _into.Add(DecodeDiagMessage(buf, offset, length));
        }

        /// <summary>
        /// <see cref="ParseDumpBatch(byte[], int, uint, uint, List{TcpConnection}, ref bool)"/> for any
        /// consumer of the socket messages: generic so that a struct sink costs no call through an interface.
        /// </summary>
        internal static BatchResult ParseDumpBatch<TSink>(byte[] buf, int length, uint sequence, uint portId, ref TSink sink, ref bool interrupted)
            where TSink : IDiagSink
        {
            if (length < 0 || length > buf.Length)
            {
                throw new InvalidDataException("netlink: datagram length out of range.");
            }

            int offset = 0;
            while (offset < length)
            {
                if (length - offset < NLMSG_HDRLEN)
                {
                    throw new InvalidDataException($"netlink: {length - offset} trailing bytes are too short for a message header.");
                }

                uint msgLen = ReadU32(buf, offset);
                ushort type = ReadU16(buf, offset + 4);
                ushort flags = ReadU16(buf, offset + 6);
                uint seq = ReadU32(buf, offset + 8);
                uint pid = ReadU32(buf, offset + 12);
                if (msgLen < NLMSG_HDRLEN || msgLen > (uint)(length - offset))
                {
                    throw new InvalidDataException($"netlink: message length {msgLen} does not fit the {length - offset} bytes left.");
                }

                int payload = offset + NLMSG_HDRLEN;
                int payloadLen = (int)msgLen - NLMSG_HDRLEN;
                int next = offset + NlmsgAlign((int)msgLen);

                if (seq == sequence && (pid == portId || portId == 0))
                {
                    if ((flags & NLM_F_DUMP_INTR) != 0)
                    {
                        interrupted = true;
                    }

                    switch (type)
                    {
                        case NLMSG_DONE:
                            return BatchResult.Done;
                        case NLMSG_ERROR:
                            int err = ErrorCode(buf, payload, payloadLen);
                            if (err != 0)
                            {
                                throw new NetlinkErrorException(-err);
                            }

                            return BatchResult.Done; // an ACK
                        case NLMSG_NOOP:
                            break;
                        case SOCK_DIAG_BY_FAMILY:
                        case TCPDIAG_GETSOCK:
                            sink.Add(buf, payload, payloadLen);
                            break;
                        default:
                            break;
                    }
                }

                offset = Math.Min(next, length);
            }

            return BatchResult.More;
        }

        /// <summary>The (negative) errno of an NLMSG_ERROR payload; 0 is an acknowledgement.</summary>
        internal static int ErrorCode(byte[] buf, int payload, int payloadLen)
        {
            if (payloadLen < 4)
            {
                throw new InvalidDataException("netlink: error message too short.");
            }

            return (int)ReadU32(buf, payload);
        }

        /// <summary>Decodes one struct inet_diag_msg and its attributes.</summary>
        internal static TcpConnection DecodeDiagMessage(byte[] buf, int offset, int length)
        {
            CheckDiagMessage(buf, offset, length, out byte family, out byte state);
            int info = InfoAttribute(buf, offset, length);
            byte timer = buf[offset + 2];
            int id = offset + 4;
            int sport = (buf[id] << 8) | buf[id + 1];
            int dport = (buf[id + 2] << 8) | buf[id + 3];
            uint ifIndex = ReadU32(buf, id + 36);
            ulong cookie = ReadU32(buf, id + 40) | ((ulong)ReadU32(buf, id + 44) << 32);
            int tail = id + SockIdSize;
            uint expires = ReadU32(buf, tail);
            uint rqueue = ReadU32(buf, tail + 4);
            uint wqueue = ReadU32(buf, tail + 8);
            uint uid = ReadU32(buf, tail + 12);
            uint inode = ReadU32(buf, tail + 16);

            AddressFamily af;
            IPAddress local, remote;
            if (family == AF_INET)
            {
                af = AddressFamily.InterNetwork;
                local = new IPAddress(Slice(buf, id + 4, 4));
                remote = new IPAddress(Slice(buf, id + 20, 4));
            }
            else
            {
                af = AddressFamily.InterNetworkV6;
                local = NewV6(Slice(buf, id + 4, 16), ifIndex);
                remote = NewV6(Slice(buf, id + 20, 16), ifIndex);
            }

            var tcpState = ToTcpState(state)!.Value;
            bool mini = IsMiniSocket(state, timer, HasAttribute(buf, offset, length, INET_DIAG_SHUTDOWN));
            var c = new TcpConnection(af, local, sport, remote, dport, tcpState, state, "Netlink")
            {
                ReceiveQueue = mini ? (long?)null : UnreadBytes(state, rqueue),
                EndOfStreamRead = EndOfStreamRead(state, rqueue),
                SendQueue = mini ? (long?)null : wqueue,
                UserId = mini ? (long?)null : uid,
                Inode = inode == 0 ? (ulong?)null : inode,
                Cookie = cookie,
                InterfaceIndex = (int)ifIndex,
                KeepAliveTimer = timer == TimerKeepAlive,
                TimerExpiresIn = timer == 0 ? (TimeSpan?)null : TimeSpan.FromMilliseconds(expires),
            };

            // A listener receives nothing: its tcp_info times are not idle times.
            if (info >= 0 && state != 10)
            {
                uint lastData = ReadU32(buf, info + TcpInfoLastDataRecvOffset);
                uint lastAck = ReadU32(buf, info + TcpInfoLastAckRecvOffset);

                // A FIN carries no data, so last_data_recv keeps counting from the last byte; the
                // FIN (and any ACK since) resets last_ack_recv. The smaller is the peer's last word.
                c.IdleTime = TimeSpan.FromMilliseconds(Math.Min(lastData, lastAck));
                c.DataIdleTime = TimeSpan.FromMilliseconds(lastData);
            }

            return c;
        }

        /// <summary>
        /// Whether a message describes a minisocket, whose uid, queues and inode the kernel writes
        /// as 0 (net/ipv4/inet_diag.c): a time-wait socket (inet_twsk_diag_fill: idiag_timer 3,
        /// state TIME_WAIT or FIN_WAIT2, the substate of an orphan that went to time-wait early) or
        /// a request socket (inet_req_diag_fill: state SYN_RECV, idiag_timer 1). A full socket
        /// always carries INET_DIAG_SHUTDOWN; a full SYN_RECV socket (TCP Fast Open) therefore
        /// stays a full socket.
        /// </summary>
        internal static bool IsMiniSocket(int state, int timer, bool hasShutdownAttribute) =>
            state == 6 || state == 12 || timer == TimerTimeWait
            || (state == 3 && timer == TimerRetransmit && !hasShutdownAttribute);

        /// <summary>
        /// What counting needs from one inet_diag_msg: family, state and inode, nothing allocated.
        /// Accepts and rejects exactly the messages <see cref="DecodeDiagMessage"/> does, so that a
        /// count never disagrees with a listing of the same bytes.
        /// </summary>
        internal static void DecodeStateAndInode(byte[] buf, int offset, int length, out byte family, out byte state, out uint inode)
        {
            CheckDiagMessage(buf, offset, length, out family, out state);
            InfoAttribute(buf, offset, length);
            inode = ReadU32(buf, offset + 4 + SockIdSize + 16);
        }

        /// <summary>The fixed part's bounds, family and state; <see cref="InvalidDataException"/> when any is wrong.</summary>
        private static void CheckDiagMessage(byte[] buf, int offset, int length, out byte family, out byte state)
        {
            if (length < DiagMsgSize)
            {
                throw new InvalidDataException($"inet_diag: message of {length} bytes is shorter than inet_diag_msg ({DiagMsgSize}).");
            }

            if (offset < 0 || offset > buf.Length - length)
            {
                throw new InvalidDataException($"inet_diag: a message of {length} bytes at offset {offset} does not fit the {buf.Length}-byte buffer.");
            }

            family = buf[offset];
            state = buf[offset + 1];
            if (family != AF_INET && family != AF_INET6)
            {
                throw new InvalidDataException($"inet_diag: unexpected address family {family}.");
            }

            if (ToTcpState(state) == null)
            {
                throw new InvalidDataException($"inet_diag: unknown TCP state {state}.");
            }
        }

        /// <summary>Whether the message carries an attribute of this type (bounds checked by <see cref="InfoAttribute"/> first).</summary>
        private static bool HasAttribute(byte[] buf, int offset, int length, ushort type)
        {
            int a = offset + NlmsgAlign(DiagMsgSize);
            int end = offset + length;
            while (a + RtaHdrLen <= end)
            {
                ushort rtaLen = ReadU16(buf, a);
                if (rtaLen < RtaHdrLen)
                {
                    return false;
                }

                if ((ReadU16(buf, a + 2) & 0x3FFF) == type)
                {
                    return true;
                }

                a += NlmsgAlign(rtaLen);
            }

            return false;
        }

        /// <summary>
        /// Walks the attributes (struct rtattr) that follow the aligned message, checking that each
        /// fits; returns where a tcp_info long enough to hold the idle times starts, or -1.
        /// </summary>
        private static int InfoAttribute(byte[] buf, int offset, int length)
        {
            int info = -1;
            int a = offset + NlmsgAlign(DiagMsgSize);
            int end = offset + length;
            while (a + RtaHdrLen <= end)
            {
                ushort rtaLen = ReadU16(buf, a);
                ushort rtaType = ReadU16(buf, a + 2);
                if (rtaLen < RtaHdrLen || a + rtaLen > end)
                {
                    throw new InvalidDataException($"inet_diag: attribute length {rtaLen} does not fit the message.");
                }

                if ((rtaType & 0x3FFF) == INET_DIAG_INFO && rtaLen - RtaHdrLen >= TcpInfoLastAckRecvOffset + 4)
                {
                    info = a + RtaHdrLen;
                }

                a += NlmsgAlign(rtaLen);
            }

            return info;
        }

        /// <summary>
        /// The kernel's receive queue is rcv_nxt - copied_seq, and a received FIN takes one sequence
        /// number until the owner reads end-of-file. In the states that follow the peer's FIN
        /// (CLOSE_WAIT, LAST_ACK, CLOSING) a non-zero queue is therefore one more than the unread
        /// bytes; zero means the owner has already read end-of-file and still not closed.
        /// </summary>
        internal static long UnreadBytes(int linuxState, uint rqueue)
        {
            bool finReceived = linuxState == 8 || linuxState == 9 || linuxState == 11;
            return finReceived && rqueue > 0 ? rqueue - 1 : rqueue;
        }

        /// <summary>
        /// CLOSE_WAIT: the FIN's sequence number stays in the queue until the owner reads
        /// end-of-file, so an empty queue means it has read it. Null in every other state.
        /// </summary>
        internal static bool? EndOfStreamRead(int linuxState, uint rqueue) => linuxState == 8 ? rqueue == 0 : (bool?)null;

        private static IPAddress NewV6(byte[] bytes, uint ifIndex)
        {
            // Only link-local addresses carry a zone; elsewhere idiag_if is the bound device.
            bool linkLocal = bytes[0] == 0xFE && (bytes[1] & 0xC0) == 0x80;
            return linkLocal && ifIndex != 0 ? new IPAddress(bytes, ifIndex) : new IPAddress(bytes);
        }

        private static byte[] Slice(byte[] buf, int offset, int count)
        {
            var b = new byte[count];
            Buffer.BlockCopy(buf, offset, b, 0, count);
            return b;
        }

        internal static uint ReadU32(byte[] b, int o) =>
            BitConverter.IsLittleEndian
                ? (uint)(b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24))
                : (uint)((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]);

        internal static ushort ReadU16(byte[] b, int o) =>
            BitConverter.IsLittleEndian ? (ushort)(b[o] | (b[o + 1] << 8)) : (ushort)((b[o] << 8) | b[o + 1]);

        internal static void WriteU32(byte[] b, int o, uint v)
        {
            byte[] x = BitConverter.GetBytes(v);
            Buffer.BlockCopy(x, 0, b, o, 4);
        }

        internal static void WriteU16(byte[] b, int o, ushort v)
        {
            byte[] x = BitConverter.GetBytes(v);
            Buffer.BlockCopy(x, 0, b, o, 2);
        }
    }

    /// <summary>The kernel answered a netlink request with an error (errno).</summary>
    internal sealed class NetlinkErrorException : Exception
    {
        public NetlinkErrorException(int errno)
            : base($"netlink: {LinuxErrno.Describe(errno)}")
        {
            Errno = errno;
        }

        public int Errno { get; }
    }
}
