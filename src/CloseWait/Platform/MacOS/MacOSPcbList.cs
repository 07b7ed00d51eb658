using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;

namespace CloseWait.Platform.MacOS
{
    /// <summary>
    /// Decodes the buffer of sysctl net.inet.tcp.pcblist_n (xnu bsd/netinet/in_pcblist.c,
    /// get_pcblist_n): an xinpgen header, then per socket a run of records, each starting with
    /// its length and kind (xinpcb_n, xsocket_n, xsockbuf_n for receive and send, xsockstat_n,
    /// xtcpcb_n), each padded to 8 bytes, then a closing xinpgen. Records are found by kind, as
    /// netstat does, and fields are read only when the record is long enough to hold them, so
    /// structures that grew in later releases still decode. Pure: tested on constructed buffers.
    /// Offsets are those of the #pragma pack(4) layouts in in_pcb.h, socketvar.h and tcp_var.h.
    /// </summary>
    internal static class MacOSPcbList
    {
        internal const string Source = "Sysctl";

        internal const int XSO_SOCKET = 0x001;
        internal const int XSO_RCVBUF = 0x002;
        internal const int XSO_SNDBUF = 0x004;
        internal const int XSO_STATS = 0x008;
        internal const int XSO_INPCB = 0x010;
        internal const int XSO_TCPCB = 0x020;
        internal const int AllTcpKinds = XSO_SOCKET | XSO_RCVBUF | XSO_SNDBUF | XSO_STATS | XSO_INPCB | XSO_TCPCB;

        internal const int INP_IPV4 = 0x1;
        internal const int INP_IPV6 = 0x2;
        internal const int IPPROTO_TCP = 6;

        /// <summary>sizeof(struct xinpgen): xig_len, xig_count, xig_gen, xig_sogen.</summary>
        internal const int XinpgenSize = 24;

        // struct xinpcb_n
        internal const int XiFport = 16;
        internal const int XiLport = 18;
        internal const int XiGencnt = 28;
        internal const int XiVflag = 44;
        internal const int XiFaddr = 48;
        internal const int XiLaddr = 64;
        internal const int XiMinLength = XiLaddr + 16;

        // struct xsocket_n
        internal const int XsoPcb = 28;
        internal const int XsoProtocol = 36;
        internal const int XsoQlen = 44;
        internal const int XsoQlimit = 48;
        internal const int XsoUid = 64;
        internal const int XsoLastPid = 68;
        internal const int XsoMinLength = XsoQlimit + 2;

        // struct xsockbuf_n
        internal const int XsbCc = 8;
        internal const int XsbMinLength = XsbCc + 4;

        // struct xtcpcb_n: xt_len, xt_kind, t_segq (u64), t_dupacks, t_timer[TCPT_NTIMERS_EXT = 4], t_state
        internal const int XtState = 36;
        internal const int XtMinLength = XtState + 4;

        internal static IEnumerable<TcpConnection> Decode(byte[] buf, int length)
        {
            if (length > buf.Length || length < XinpgenSize)
            {
                throw new InvalidDataException($"net.inet.tcp.pcblist_n returned {length} byte(s), too few for its xinpgen header.");
            }

            uint headerLength = U32(buf, 0);
            if (headerLength != XinpgenSize)
            {
                throw new InvalidDataException($"net.inet.tcp.pcblist_n starts with a {headerLength}-byte header, expected an xinpgen of {XinpgenSize}.");
            }

            ulong generation = U64(buf, 8);
            int inp = -1, so = -1, rcv = -1, snd = -1, tcp = -1;
            int inpLen = 0, soLen = 0, rcvLen = 0, sndLen = 0, tcpLen = 0;
            int seen = 0;
            int pos = RoundUp64(XinpgenSize);
            while (pos + 8 <= length)
            {
                uint recordLength = U32(buf, pos);
                if (recordLength <= XinpgenSize)
                {
                    yield break; // the closing xinpgen
                }

                if (pos + recordLength > length)
                {
                    throw new InvalidDataException($"net.inet.tcp.pcblist_n: a {recordLength}-byte record at offset {pos} runs past the {length}-byte buffer.");
                }

                int kind = (int)U32(buf, pos + 4);
                if (kind == 0 || (kind & ~AllTcpKinds) != 0 || (kind & (kind - 1)) != 0)
                {
                    // A kind this decoder does not read (0, or one a newer kernel adds): netstat
                    // (network_cmds inet.c, protopr) notes it and carries on, and so does this.
                    pos += RoundUp64((int)recordLength);
                    continue;
                }

                if ((seen & kind) != 0)
                {
                    throw new InvalidDataException($"net.inet.tcp.pcblist_n: record kind 0x{kind:x} appears twice for one socket at offset {pos}.");
                }

                switch (kind)
                {
                    case XSO_INPCB: inp = pos; inpLen = (int)recordLength; break;
                    case XSO_SOCKET: so = pos; soLen = (int)recordLength; break;
                    case XSO_RCVBUF: rcv = pos; rcvLen = (int)recordLength; break;
                    case XSO_SNDBUF: snd = pos; sndLen = (int)recordLength; break;
                    case XSO_TCPCB: tcp = pos; tcpLen = (int)recordLength; break;
                    default: break; // XSO_STATS: nothing read from it
                }

                seen |= kind;
                pos += RoundUp64((int)recordLength);
                if (seen != AllTcpKinds)
                {
                    continue;
                }

                seen = 0;
                if (inpLen < XiMinLength || soLen < XsoMinLength || rcvLen < XsbMinLength || sndLen < XsbMinLength || tcpLen < XtMinLength)
                {
                    throw new InvalidDataException($"net.inet.tcp.pcblist_n: a record before offset {pos} is shorter than the fields CloseWait reads.");
                }

                // Sockets created after the snapshot began, and other protocols, are skipped as netstat does.
                if (U64(buf, inp + XiGencnt) > generation || I32(buf, so + XsoProtocol) != IPPROTO_TCP)
                {
                    continue;
                }

                yield return Build(buf, inp, so, soLen, rcv, snd, tcp);
            }

            // With no sockets at all the kernel writes the opening xinpgen only.
            if (U32(buf, 4) != 0)
            {
                throw new InvalidDataException("net.inet.tcp.pcblist_n ended without its closing xinpgen: the buffer was cut short.");
            }
        }

        private static TcpConnection Build(byte[] b, int inp, int so, int soLen, int rcv, int snd, int tcp)
        {
            int nativeState = I32(b, tcp + XtState);
            var state = ToTcpState(nativeState) ?? throw new InvalidDataException($"net.inet.tcp.pcblist_n: unknown TCP state {nativeState}.");
            bool v6 = (b[inp + XiVflag] & INP_IPV6) != 0;
            IPAddress local = v6 ? V6(b, inp + XiLaddr) : new IPAddress(Slice(b, inp + XiLaddr + 12, 4));
            IPAddress remote = v6 ? V6(b, inp + XiFaddr) : new IPAddress(Slice(b, inp + XiFaddr + 12, 4));
            bool listen = state == TcpState.Listen;
            int lastPid = soLen >= XsoLastPid + 4 ? I32(b, so + XsoLastPid) : 0;
            return new TcpConnection(v6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork, local, Port(b, inp + XiLport), remote, Port(b, inp + XiFport), state, nativeState, Source)
            {
                // A listener's queues are its accept queue (so_qlen) and backlog (so_qlimit), as on Linux.
                ReceiveQueue = listen ? (ushort)I16(b, so + XsoQlen) : U32(b, rcv + XsbCc),
                SendQueue = listen ? (ushort)I16(b, so + XsoQlimit) : U32(b, snd + XsbCc),
                UserId = soLen >= XsoUid + 4 ? U32(b, so + XsoUid) : (long?)null,
                // so_last_pid: the process that last used the socket (netstat -v's "pid").
                ProcessId = lastPid > 0 ? lastPid : (int?)null,
                InterfaceIndex = v6 && local.ScopeId != 0 ? (int)local.ScopeId : (int?)null,
            };
        }

        /// <summary>xnu tcp_fsm.h numbering: CLOSED 0, LISTEN 1, SYN_SENT 2, SYN_RECEIVED 3, ESTABLISHED 4, CLOSE_WAIT 5, FIN_WAIT_1 6, CLOSING 7, LAST_ACK 8, FIN_WAIT_2 9, TIME_WAIT 10.</summary>
        internal static TcpState? ToTcpState(int state)
        {
            switch (state)
            {
                case 0: return TcpState.Closed;
                case 1: return TcpState.Listen;
                case 2: return TcpState.SynSent;
                case 3: return TcpState.SynReceived;
                case 4: return TcpState.Established;
                case 5: return TcpState.CloseWait;
                case 6: return TcpState.FinWait1;
                case 7: return TcpState.Closing;
                case 8: return TcpState.LastAck;
                case 9: return TcpState.FinWait2;
                case 10: return TcpState.TimeWait;
                default: return null;
            }
        }

        /// <summary>
        /// The kernel keeps a link-local address's scope (interface index) embedded in bytes 2-3
        /// (KAME); take it out into the zone, as netstat does when printing.
        /// </summary>
        internal static IPAddress V6(byte[] b, int offset)
        {
            byte[] bytes = Slice(b, offset, 16);
            bool linkLocal = bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80;
            bool linkLocalMulticast = bytes[0] == 0xff && (bytes[1] & 0x0f) == 0x02;
            if (linkLocal || linkLocalMulticast)
            {
                int scope = (bytes[2] << 8) | bytes[3];
                if (scope != 0)
                {
                    bytes[2] = 0;
                    bytes[3] = 0;
                    return new IPAddress(bytes, scope);
                }
            }

            return new IPAddress(bytes);
        }

        internal static int RoundUp64(int n) => (n + 7) & ~7;

        /// <summary>inp_lport and inp_fport are in network byte order.</summary>
        private static int Port(byte[] b, int o) => (b[o] << 8) | b[o + 1];

        private static byte[] Slice(byte[] b, int offset, int length)
        {
            var s = new byte[length];
            Buffer.BlockCopy(b, offset, s, 0, length);
            return s;
        }

        // Every Mac (x86_64, arm64) is little-endian.
        private static uint U32(byte[] b, int o) => (uint)(b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24));

        private static int I32(byte[] b, int o) => (int)U32(b, o);

        private static short I16(byte[] b, int o) => (short)(b[o] | (b[o + 1] << 8));

        private static ulong U64(byte[] b, int o) => U32(b, o) | ((ulong)U32(b, o + 4) << 32);
    }
}
