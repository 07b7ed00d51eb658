using System;
using System.Globalization;
using System.IO;
using System.Net;
using System.Net.Sockets;

namespace CloseWait.Platform.Linux
{
    /// <summary>
    /// Parses /proc/net/tcp and /proc/net/tcp6 lines (the netlink fallback). Addresses are hex
    /// 32-bit words in host byte order; queues, uid, timer and inode are as netstat reads them.
    /// Pure: takes a TextReader so it is tested on sample files.
    /// </summary>
    internal static class LinuxProcNetTcpParser
    {
        // USER_HZ: the timer column is in clock ticks of 1/100 s on every Linux architecture.
        private const int UserHz = 100;

        /// <summary>Fields of a full socket's line; minisockets print 12.</summary>
        private const int FullSocketFields = 17;

        internal static System.Collections.Generic.IEnumerable<TcpConnection> Parse(TextReader reader, AddressFamily family)
        {
            string? header = reader.ReadLine();
            if (header == null)
            {
                yield break;
            }

            if (header.IndexOf("local_address", StringComparison.Ordinal) < 0)
            {
                throw new InvalidDataException("/proc/net/tcp: the header line is missing; this is not a TCP socket table.");
            }

            int lineNumber = 1;
            string? line;
            while ((line = reader.ReadLine()) != null)
            {
                lineNumber++;
                if (line.Trim().Length == 0)
                {
                    continue;
                }

                yield return ParseLine(line, family, lineNumber);
            }
        }

        internal static TcpConnection ParseLine(string line, AddressFamily family, int lineNumber = 0)
        {
            string[] f = line.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 10)
            {
                throw Bad(lineNumber, $"has {f.Length} fields, expected at least 10");
            }

            var (local, lport) = ParseEndpoint(f[1], family, lineNumber);
            var (remote, rport) = ParseEndpoint(f[2], family, lineNumber);
            int st = (int)Hex(f[3], lineNumber, "st");
            var state = LinuxInetDiag.ToTcpState(st) ?? throw Bad(lineNumber, $"has unknown state {f[3]}");
            var (tx, rx) = Pair(f[4], lineNumber, "tx_queue:rx_queue");
            var (timer, when) = Pair(f[5], lineNumber, "tr:tm->when");
            long uid = ParseDec(f[7], lineNumber, "uid");
            long inode = ParseDec(f[9], lineNumber, "inode");
            // Minisockets, as LinuxInetDiag.IsMiniSocket decides: a time-wait socket (timer 3, state
            // TIME_WAIT or FIN_WAIT2) and a request socket (SYN_RECV, timer 1) print 12 fields
            // (get_timewait4_sock, get_openreq4 and their v6 twins), a full socket 17 (get_tcp4_sock
            // adds rto, ato, quick ack, cwnd, ssthresh), like INET_DIAG_SHUTDOWN over netlink.
            bool mini = LinuxInetDiag.IsMiniSocket(st, (int)timer, hasShutdownAttribute: f.Length >= FullSocketFields);
            return new TcpConnection(family, local, lport, remote, rport, state, st, "ProcNet")
            {
                ReceiveQueue = mini ? (long?)null : LinuxInetDiag.UnreadBytes(st, (uint)rx),
                EndOfStreamRead = LinuxInetDiag.EndOfStreamRead(st, (uint)rx),
                // A listener's backlog is not in /proc (tx_queue reads 0 there): unknown, not zero.
                SendQueue = mini || st == 10 ? (long?)null : tx,
                UserId = mini ? (long?)null : uid,
                Inode = inode == 0 ? (ulong?)null : (ulong)inode,
                KeepAliveTimer = timer == LinuxInetDiag.TimerKeepAlive,
                TimerExpiresIn = timer == 0 ? (TimeSpan?)null : TimeSpan.FromMilliseconds(when * 1000.0 / UserHz),
            };
        }

        private static (IPAddress, int) ParseEndpoint(string text, AddressFamily family, int line)
        {
            int colon = text.IndexOf(':');
            if (colon < 0)
            {
                throw Bad(line, $"has a malformed endpoint '{text}'");
            }

            string addr = text.Substring(0, colon);
            int port = (int)Hex(text.Substring(colon + 1), line, "port");
            int expected = family == AddressFamily.InterNetwork ? 8 : 32;
            if (addr.Length != expected || port > 65535)
            {
                throw Bad(line, $"has a malformed endpoint '{text}'");
            }

            var bytes = new byte[expected / 2];
            for (int word = 0; word < expected / 8; word++)
            {
                uint v = (uint)Hex(addr.Substring(word * 8, 8), line, "address");
                // The kernel printed each word as a host-order u32 read from the address's
                // memory; GetBytes gives those memory bytes back on either endianness.
                byte[] wb = BitConverter.GetBytes(v);

                Buffer.BlockCopy(wb, 0, bytes, word * 4, 4);
            }

            return (new IPAddress(bytes), port);
        }

        private static (long, long) Pair(string text, int line, string what)
        {
            int colon = text.IndexOf(':');
            if (colon < 0)
            {
                throw Bad(line, $"has a malformed {what} field '{text}'");
            }

            return (Hex(text.Substring(0, colon), line, what), Hex(text.Substring(colon + 1), line, what));
        }

        private static long Hex(string s, int line, string what)
        {
            if (s.Length == 0 || s.Length > 16 || !long.TryParse(s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out long v))
            {
                throw Bad(line, $"has a malformed {what} field '{s}'");
            }

            return v;
        }

        private static long ParseDec(string s, int line, string what)
        {
            if (!long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out long v))
            {
                throw Bad(line, $"has a malformed {what} field '{s}'");
            }

            return v;
        }

        private static InvalidDataException Bad(int line, string what) =>
            new InvalidDataException($"/proc/net/tcp line {line} {what}.");
    }
}
