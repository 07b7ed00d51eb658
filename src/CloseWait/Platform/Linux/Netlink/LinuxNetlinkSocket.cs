using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;

namespace CloseWait.Platform.Linux
{
    /// <summary>
    /// A NETLINK_SOCK_DIAG socket. It belongs to the network namespace of the thread that opens it.
    /// </summary>
    internal sealed unsafe class LinuxNetlinkSocket : IDisposable
    {
        // The kernel sends at most about 32 KiB per dump datagram; larger leaves room.
        private const int BufferSize = 64 * 1024;
        private readonly byte[] _buffer = new byte[BufferSize];
        private readonly Interop.SafeDescriptor _fd;
        private uint _portId;
        private uint _sequence;

        private LinuxNetlinkSocket(Interop.SafeDescriptor fd, uint portId)
        {
            _fd = fd;
            _portId = portId;
            _sequence = (uint)Environment.TickCount;
        }

        /// <summary>Opens the socket; throws <see cref="NetlinkErrorException"/> with the errno when refused.</summary>
        internal static LinuxNetlinkSocket Open()
        {
            var descriptor = Interop.SafeDescriptor.Own(Interop.Libc.socket(Interop.Libc.AF_NETLINK, Interop.Libc.SOCK_RAW | Interop.Libc.SOCK_CLOEXEC, Interop.Libc.NETLINK_SOCK_DIAG));
            if (descriptor.IsInvalid)
            {
                throw new NetlinkErrorException(LinuxErrno.Last());
            }

            int fd = descriptor.Value;

            try
            {
                var addr = new Interop.Libc.SockAddrNl { nl_family = Interop.Libc.AF_NETLINK };
                if (Interop.Libc.bind(fd, ref addr, sizeof(Interop.Libc.SockAddrNl)) != 0)
                {
                    throw new NetlinkErrorException(LinuxErrno.Last());
                }

                int len = sizeof(Interop.Libc.SockAddrNl);
                if (Interop.Libc.getsockname(fd, ref addr, ref len) != 0)
                {
                    throw new NetlinkErrorException(LinuxErrno.Last());
                }

                // A bounded wait per receive so that a silent kernel can never hang a pipeline.
                var abi = Interop.LinuxAbi.Require();
                byte[] tv = abi.TimeVal(10);
                fixed (byte* p = tv)
                {
                    Interop.Libc.setsockopt(fd, Interop.Libc.SOL_SOCKET, abi.SO_RCVTIMEO, p, tv.Length);
                }

                return new LinuxNetlinkSocket(descriptor, addr.nl_pid);
            }
            catch
            {
                descriptor.Dispose();
                throw;
            }
        }

        internal uint NextSequence() => unchecked(++_sequence);

        internal void Send(byte[] message)
        {
            var kernel = new Interop.Libc.SockAddrNl { nl_family = Interop.Libc.AF_NETLINK };
            fixed (byte* p = message)
            {
                while (true)
                {
                    long n = (long)Interop.Libc.sendto(_fd.Value, p, (IntPtr)message.Length, 0, ref kernel, sizeof(Interop.Libc.SockAddrNl));
                    if (n >= 0)
                    {
                        return;
                    }

                    int errno = LinuxErrno.Last();
                    if (errno != Interop.Libc.EINTR)
                    {
                        throw new NetlinkErrorException(errno);
                    }
                }
            }
        }

        /// <summary>Receives one datagram from the kernel into the internal buffer; returns its length.</summary>
        internal int Receive(out byte[] buffer)
        {
            buffer = _buffer;
            fixed (byte* p = _buffer)
            {
                while (true)
                {
                    var from = new Interop.Libc.SockAddrNl();
                    int fromLen = sizeof(Interop.Libc.SockAddrNl);
                    long n = (long)Interop.Libc.recvfrom(_fd.Value, p, (IntPtr)BufferSize, Interop.Libc.MSG_TRUNC, ref from, ref fromLen);
                    if (n < 0)
                    {
                        int errno = LinuxErrno.Last();
                        if (errno == Interop.Libc.EINTR)
                        {
                            continue;
                        }

                        throw new NetlinkErrorException(errno);
                    }

                    if (from.nl_pid != 0)
                    {
                        continue; // not from the kernel
                    }

                    if (n > BufferSize)
                    {
                        throw new InvalidDataException($"netlink: a {n}-byte datagram was truncated to {BufferSize} bytes.");
                    }

                    return (int)n;
                }
            }
        }

        /// <summary>
        /// Runs one dump, handing each batch of decoded sockets to the caller as it arrives. The
        /// kernel filters by <paramref name="stateMask"/> and, when given, by <paramref name="bytecode"/>.
        /// </summary>
        internal IEnumerable<TcpConnection> Dump(byte family, uint stateMask, bool withTcpInfo, CancellationToken cancellationToken, byte[]? bytecode = null)
        {
            uint seq = NextSequence();
            return Run(LinuxInetDiag.BuildDumpRequest(family, stateMask, withTcpInfo, seq, bytecode), seq, cancellationToken);
        }

        /// <summary>
        /// Like <see cref="Dump"/> for IPv4 and IPv6 at once, in one walk of the kernel's table (see
        /// <see cref="LinuxInetDiag.BuildBothFamiliesDumpRequest"/>). A kernel that does not know
        /// the request answers with an error before any socket.
        /// </summary>
        internal IEnumerable<TcpConnection> DumpBothFamilies(uint stateMask, bool withTcpInfo, CancellationToken cancellationToken, byte[]? bytecode = null)
        {
            uint seq = NextSequence();
            return Run(LinuxInetDiag.BuildBothFamiliesDumpRequest(stateMask, withTcpInfo, seq, bytecode), seq, cancellationToken);
        }

        /// <summary>
        /// Runs one dump like <see cref="Dump"/> (<paramref name="family"/> 0: both families, as
        /// <see cref="DumpBothFamilies"/>) and hands every socket message to <paramref name="sink"/>
        /// as raw bytes, for callers that decode only part of each.
        /// </summary>
        internal void DumpInto<TSink>(byte family, uint stateMask, ref TSink sink, CancellationToken cancellationToken)
            where TSink : LinuxInetDiag.IDiagSink
        {
            uint seq = NextSequence();
            Send(family == 0
                ? LinuxInetDiag.BuildBothFamiliesDumpRequest(stateMask, withTcpInfo: false, seq)
                : LinuxInetDiag.BuildDumpRequest(family, stateMask, withTcpInfo: false, seq));
            bool interrupted = false;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int n = Receive(out byte[] buf);
                if (LinuxInetDiag.ParseDumpBatch(buf, n, seq, _portId, ref sink, ref interrupted) == LinuxInetDiag.BatchResult.Done)
                {
                    return;
                }
            }
        }

        private IEnumerable<TcpConnection> Run(byte[] request, uint seq, CancellationToken cancellationToken)
        {
            Send(request);
            var batch = new List<TcpConnection>(256);
            bool interrupted = false;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int n = Receive(out byte[] buf);
                batch.Clear();
                var result = LinuxInetDiag.ParseDumpBatch(buf, n, seq, _portId, batch, ref interrupted);
                foreach (var c in batch)
                {
                    yield return c;
                }

                if (result == LinuxInetDiag.BatchResult.Done)
                {
                    // NLM_F_DUMP_INTR: the table changed during the dump; what was read is still
                    // correct for each socket, the set may miss a socket that came or went.
                    yield break;
                }
            }
        }

        /// <summary>Sends a request that names one socket (SOCK_DESTROY) and waits for its acknowledgement; returns 0 or the errno.</summary>
        internal int Request(byte[] message, uint sequence) => Exchange(message, sequence, new List<TcpConnection>(0));

        /// <summary>
        /// The socket a single-socket SOCK_DIAG_BY_FAMILY request names, as the kernel sees it now;
        /// null when there is none (ENOENT) or its cookie no longer matches (ESTALE).
        /// </summary>
        internal TcpConnection? Find(byte[] message, uint sequence)
        {
            var found = new List<TcpConnection>(1);
            int errno = Exchange(message, sequence, found);
            if (errno == Interop.Libc.ENOENT || errno == Interop.Libc.ESTALE)
            {
                return null;
            }

            if (errno != 0)
            {
                throw new NetlinkErrorException(errno);
            }

            return found.Count > 0 ? found[0] : null;
        }

        /// <summary>
        /// One request and its reply up to the acknowledgement: sockets it describes go into
        /// <paramref name="into"/>; returns 0 or the errno of the kernel's NLMSG_ERROR. A receive
        /// failure is not an answer and still throws.
        /// </summary>
        private int Exchange(byte[] message, uint sequence, List<TcpConnection> into)
        {
            Send(message);
            bool interrupted = false;

            // A reply and its acknowledgement; bounded so a confused kernel cannot hang the pipeline.
            for (int i = 0; i < 16; i++)
            {
                int n = Receive(out byte[] buf);
                try
                {
                    if (LinuxInetDiag.ParseDumpBatch(buf, n, sequence, 0, into, ref interrupted) == LinuxInetDiag.BatchResult.Done)
                    {
                        return 0;
                    }
                }
                catch (NetlinkErrorException e)
                {
                    return e.Errno;
                }
            }

            throw new InvalidDataException("netlink: no acknowledgement to a single-socket request.");
        }

        public void Dispose() => _fd.Dispose();
    }
}
