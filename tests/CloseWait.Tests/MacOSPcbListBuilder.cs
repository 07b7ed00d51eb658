using System.Collections.Generic;
using System.IO;
using System.Net;

namespace CloseWait.Tests
{
    /// <summary>
    /// Builds net.inet.tcp.pcblist_n buffers as xnu's get_pcblist_n writes them: an xinpgen, then
    /// per socket xinpcb_n, xsocket_n, xsockbuf_n (receive, send), xsockstat_n, xtcpcb_n, each
    /// padded to 8 bytes, then a closing xinpgen. Fields are written in declaration order with
    /// the #pragma pack(4) padding, independently of the decoder's offsets.
    /// </summary>
    internal sealed class MacOSPcbListBuilder
    {
        internal const int XinpcbNSize = 104;
        internal const int XsocketNSize = 104;
        internal const int XsockbufNSize = 32;
        internal const int XsockstatNSize = 8 + (4 * 32);
        internal const int XtcpcbNSize = 212;

        private readonly List<byte[]> _records = new List<byte[]>();

        internal ulong Generation { get; set; } = 1000;

        internal MacOSPcbListBuilder Socket(int state, string local, int localPort, string remote, int remotePort, uint rcvCc = 0, uint sndCc = 0,
            uint uid = 501, int lastPid = 321, int protocol = 6, ulong gencnt = 10, short qlen = 0, short qlimit = 0, int socketLength = XsocketNSize,
            bool swapOrder = false)
        {
            var inp = Inpcb(local, localPort, remote, remotePort, gencnt);
            var so = XSocket(protocol, qlen, qlimit, uid, lastPid, socketLength);
            var rcv = XSockbuf(0x002, rcvCc);
            var snd = XSockbuf(0x004, sndCc);
            var stats = Record(XsockstatNSize, 0x008, w => w.Write(new byte[XsockstatNSize - 8]));
            var tcp = Record(XtcpcbNSize, 0x020, w =>
            {
                w.Write(0UL);                 // t_segq
                w.Write(0);                   // t_dupacks
                w.Write(new byte[4 * 4]);     // t_timer[TCPT_NTIMERS_EXT]
                w.Write(state);               // t_state
                w.Write(new byte[XtcpcbNSize - 40]);
            });
            _records.AddRange(swapOrder ? new[] { tcp, so, stats, snd, inp, rcv } : new[] { inp, so, rcv, snd, stats, tcp });
            return this;
        }

        internal byte[] Build(bool trailer = true, uint? count = null)
        {
            var ms = new MemoryStream();
            var w = new BinaryWriter(ms);
            WriteXinpgen(w, count ?? (uint)(_records.Count / 6));
            foreach (var r in _records)
            {
                w.Write(r);
            }

            if (trailer)
            {
                WriteXinpgen(w, (uint)(_records.Count / 6));
            }

            return ms.ToArray();
        }

        private void WriteXinpgen(BinaryWriter w, uint count)
        {
            w.Write(24u);          // xig_len
            w.Write(count);        // xig_count
            w.Write(Generation);   // xig_gen
            w.Write(77UL);         // xig_sogen
        }

        private static byte[] Inpcb(string local, int localPort, string remote, int remotePort, ulong gencnt)
        {
            var l = IPAddress.Parse(local);
            var r = IPAddress.Parse(remote);
            bool v6 = l.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
            return Record(XinpcbNSize, 0x010, w =>
            {
                w.Write(0xFFFF800012345678UL);          // xi_inpp
                w.Write(NetworkOrder(remotePort));      // inp_fport
                w.Write(NetworkOrder(localPort));       // inp_lport
                w.Write(0xFFFF8000DEADBEEFUL);          // inp_ppcb (pack 4: right after the ports)
                w.Write(gencnt);                        // inp_gencnt
                w.Write(0);                             // inp_flags
                w.Write(0u);                            // inp_flow
                w.Write((byte)(v6 ? 0x2 : 0x1));        // inp_vflag
                w.Write((byte)64);                      // inp_ip_ttl
                w.Write((byte)6);                       // inp_ip_p
                w.Write((byte)0);                       // padding to the 4-aligned union
                w.Write(Addr16(r, v6));                 // inp_dependfaddr
                w.Write(Addr16(l, v6));                 // inp_dependladdr
                w.Write((byte)0);                       // inp_depend4.inp4_ip_tos
                w.Write(new byte[3]);                   // padding
                w.Write(new byte[12]);                  // inp_depend6
                w.Write(0u);                            // inp_flowhash
                w.Write(0u);                            // inp_flags2
            });
        }

        private static byte[] XSocket(int protocol, short qlen, short qlimit, uint uid, int lastPid, int length) =>
            Record(length, 0x001, w =>
            {
                var full = new MemoryStream();
                var f = new BinaryWriter(full);
                f.Write(0xFFFF8000AAAAAAAAUL);  // xso_so
                f.Write((short)1);              // so_type SOCK_STREAM
                f.Write((short)0);              // padding
                f.Write(0u);                    // so_options
                f.Write((short)0);              // so_linger
                f.Write((short)0);              // so_state
                f.Write(0xFFFF800012345678UL);  // so_pcb
                f.Write(protocol);              // xso_protocol
                f.Write(protocol == 6 ? 2 : 1); // xso_family
                f.Write(qlen);                  // so_qlen
                f.Write((short)0);              // so_incqlen
                f.Write(qlimit);                // so_qlimit
                f.Write((short)0);              // so_timeo
                f.Write((ushort)0);             // so_error
                f.Write((short)0);              // padding
                f.Write(0);                     // so_pgid
                f.Write(0u);                    // so_oobmark
                f.Write(uid);                   // so_uid
                f.Write(lastPid);               // so_last_pid
                f.Write(lastPid + 1);           // so_e_pid
                f.Write(5UL);                   // so_gencnt
                f.Write(new byte[20]);          // so_flags .. xso_filter_flags
                byte[] all = full.ToArray();
                w.Write(all, 0, length - 8);    // older kernels: a shorter record
            });

        private static byte[] XSockbuf(int kind, uint cc) =>
            Record(XsockbufNSize, kind, w =>
            {
                w.Write(cc);            // sb_cc
                w.Write(131072u);       // sb_hiwat
                w.Write(0u);            // sb_mbcnt
                w.Write(0u);            // sb_mbmax
                w.Write(1);             // sb_lowat
                w.Write((short)0);      // sb_flags
                w.Write((short)0);      // sb_timeo
            });

        /// <summary>One record: length and kind, the body, zero padding to 8 bytes (ROUNDUP64).</summary>
        private static byte[] Record(int length, int kind, System.Action<BinaryWriter> body)
        {
            var ms = new MemoryStream();
            var w = new BinaryWriter(ms);
            w.Write((uint)length);
            w.Write((uint)kind);
            body(w);
            if (ms.Length != length)
            {
                throw new System.InvalidOperationException($"record kind {kind} is {ms.Length} bytes, declared {length}");
            }

            w.Write(new byte[((length + 7) & ~7) - length]);
            return ms.ToArray();
        }

        private static byte[] NetworkOrder(int port) => new[] { (byte)(port >> 8), (byte)port };

        /// <summary>in_addr_4in6 keeps an IPv4 address in its last four bytes; link-local IPv6 carries its scope in bytes 2-3 (KAME).</summary>
        private static byte[] Addr16(IPAddress a, bool v6)
        {
            var b = new byte[16];
            if (!v6)
            {
                a.GetAddressBytes().CopyTo(b, 12);
                return b;
            }

            a.GetAddressBytes().CopyTo(b, 0);
            if (a.ScopeId != 0)
            {
                b[2] = (byte)(a.ScopeId >> 8);
                b[3] = (byte)a.ScopeId;
            }

            return b;
        }
    }
}
