using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Text;
using System.Threading;

namespace CloseWait.Platform.Linux
{
    /// <summary>
    /// Closes TCP sockets of other processes on Linux, two ways:
    /// Abort: sock_diag SOCK_DESTROY (what `ss -K` does), naming the socket by its addresses and the
    /// cookie read at listing, so the kernel itself refuses (ESTALE) a newer socket on the same
    /// addresses. tcp_abort resets the peer and unhashes the socket; the owner keeps its descriptor
    /// to a dead socket. Needs CAP_NET_ADMIN and CONFIG_INET_DIAG_DESTROY.
    /// Shutdown: pidfd_getfd (Linux 5.6+) copies the owner's descriptor into this process, the copy
    /// is checked by SO_COOKIE (or inode) to be the listed socket, then shutdown(SHUT_RDWR) sends a
    /// FIN as if the owner had called it. Needs the right to trace the owner, not CAP_NET_ADMIN.
    /// </summary>
    internal sealed unsafe class LinuxSocketCloser : ISocketCloser
    {
        // Both cookie halves INET_DIAG_NOCOOKIE: the kernel then skips the cookie check.
        private const ulong NoCookie = ((ulong)LinuxInetDiag.NoCookie << 32) | LinuxInetDiag.NoCookie;

        private const string AbortDetail =
            "Aborted with SOCK_DESTROY: the peer got a reset. The owner's descriptor stays open on the dead socket until the owner closes it; its next write fails (ECONNABORTED).";

        private const string AbortDetailNoOwner =
            "Aborted with SOCK_DESTROY: the peer got a reset. No owner was listed for it: a process that still holds a descriptor to it (one in flight over a Unix socket, or hidden from the listing) keeps it on the dead socket until it closes it.";

        private readonly Dictionary<string, LinuxNetlinkSocket> _netlink = new Dictionary<string, LinuxNetlinkSocket>(StringComparer.Ordinal);
        private readonly Func<IOwnerResolver> _owners;

        internal LinuxSocketCloser(Func<IOwnerResolver> owners)
        {
            _owners = owners;
        }

        public CloseOutcome Close(TcpConnection connection, TcpCloseMethod method, CancellationToken cancellationToken)
        {
            if (connection.Cookie == NoCookie)
            {
                // That value would switch the kernel's identity check off.
                throw IdentityUnknown(connection);
            }

            try
            {
                return method == TcpCloseMethod.Shutdown ? ShutDown(connection, cancellationToken) : Destroy(connection);
            }
            catch (CloseWaitException e) when (e.ErrorId == ErrorIds.NetworkNamespaceGone)
            {
                // No process is left in the socket's namespace: the namespace, and the socket, are gone.
                return Gone();
            }
            catch (NetlinkErrorException e)
            {
                throw new CloseWaitException(ErrorIds.SocketCloseFailed, ErrorCategory.NotSpecified,
                    $"Closing {connection.DescribeEndpoints()} failed: the sock_diag netlink socket reported {LinuxErrno.Describe(e.Errno)}.", connection, e) { NativeError = e.Errno };
            }
            catch (InvalidDataException e)
            {
                throw new CloseWaitException(ErrorIds.SocketCloseFailed, ErrorCategory.InvalidData,
                    $"Closing {connection.DescribeEndpoints()} failed: {e.Message}", connection, e);
            }
        }

        private CloseOutcome Destroy(TcpConnection c)
        {
            var netlink = Netlink(c);
            ulong cookie;
            TcpConnection? now;
            if (c.Cookie is ulong listed)
            {
                // SOCK_DESTROY finds the socket by addresses and cookie whatever its state: the
                // state is checked here, so that a record that says CloseWait never closes a listener.
                cookie = listed;
                now = Lookup(netlink, c, cookie);
                if (now == null)
                {
                    return GoneOrReplaced(netlink, c);
                }
            }
            else
            {
                // Listed from /proc/net/tcp, which gives no cookie: take the cookie of the socket on
                // these addresses now, but only if it is the listed socket (same inode).
                if (c.Inode == null)
                {
                    throw IdentityUnknown(c);
                }

                now = Lookup(netlink, c, NoCookie);
                if (now == null || now.Cookie == null || IsListenerOf(now, c))
                {
                    return Gone();
                }

                if (now.Inode != c.Inode)
                {
                    return Replaced(now);
                }

                cookie = now.Cookie.Value;
            }

            CheckState(c, now.State);
            uint seq = netlink.NextSequence();
            int errno = netlink.Request(Request(LinuxInetDiag.SOCK_DESTROY, c, cookie, seq), seq);
            switch (errno)
            {
                case 0:
                    return new CloseOutcome(TcpCloseStatus.Closed, c.Owners.Length > 0 ? AbortDetail : AbortDetailNoOwner);
                case Interop.Libc.ENOENT:
                case Interop.Libc.ESTALE:
                    return GoneOrReplaced(netlink, c);
                case Interop.Libc.EPERM:
                case Interop.Libc.EACCES:
                    throw new CloseWaitException(ErrorIds.SocketCloseAccessDenied, ErrorCategory.PermissionDenied,
                        $"The kernel refused to close {c.DescribeEndpoints()}: {LinuxErrno.Describe(errno)}. Closing another process's socket needs CAP_NET_ADMIN. " + LinuxErrno.PermissionAdvice("CAP_NET_ADMIN", PlatformServices.IsPrivileged ? " Stop the owner with Stop-Process instead." : " Without root, -Method Shutdown can close sockets of processes you own."), c)
                    { NativeError = errno };
                case Interop.Libc.EOPNOTSUPP:
                    throw new CloseWaitException(ErrorIds.SocketCloseNotSupported, ErrorCategory.NotImplemented,
                        $"This kernel cannot close {c.DescribeEndpoints()} from outside its process ({LinuxErrno.Describe(errno)}): it was built without CONFIG_INET_DIAG_DESTROY. Use -Method Shutdown (Linux 5.6+), or stop the owner with Stop-Process instead.", c)
                    { NativeError = errno };
                default:
                    throw new CloseWaitException(ErrorIds.SocketCloseFailed, ErrorCategory.NotSpecified,
                        $"Closing {c.DescribeEndpoints()} failed: SOCK_DESTROY returned {LinuxErrno.Describe(errno)}.", c)
                    { NativeError = errno };
            }
        }

        /// <summary>
        /// No socket with that cookie: the kernel answers ENOENT (older kernels ESTALE) both when
        /// the addresses are free and when another socket holds them. Another socket is a new
        /// connection reusing the addresses, or the listener an accepted socket came from.
        /// </summary>
        private static CloseOutcome GoneOrReplaced(LinuxNetlinkSocket netlink, TcpConnection c)
        {
            // The kernel finds a socket by its addresses and only then compares the cookie: a record
            // whose addresses were edited, or that carries another socket's cookie (its listener's),
            // misses a socket that is still open. That is no closed socket, and no new one.
            if (c.Cookie is ulong cookie && FindByCookie(netlink, cookie) is TcpConnection elsewhere)
            {
                throw new CloseWaitException(ErrorIds.ConnectionRecordMismatch, ErrorCategory.InvalidData,
                    $"{c.DescribeEndpoints()} ({c.State}) carries cookie {cookie.ToString(CultureInfo.InvariantCulture)}, and the socket with that cookie is open as {elsewhere.DescribeEndpoints()} ({elsewhere.State}): the record does not match it (edited, or another socket's cookie), so nothing was closed. List it again with Get-TcpConnection and pipe that.", c);
            }

            var now = Lookup(netlink, c, NoCookie);
            if (now == null || IsListenerOf(now, c))
            {
                return Gone();
            }

            return Replaced(now);
        }

        /// <summary>The socket with this cookie in the namespace, whatever its addresses and state (a dump: only on this failure path); null when none or netlink cannot tell.</summary>
        private static TcpConnection? FindByCookie(LinuxNetlinkSocket netlink, ulong cookie)
        {
            TcpConnection? found = null;
            try
            {
                foreach (byte family in new[] { LinuxInetDiag.AF_INET, LinuxInetDiag.AF_INET6 })
                {
                    // Read each dump to its end: the socket is reused for the next request.
                    foreach (var s in netlink.Dump(family, LinuxInetDiag.AllStates, false, CancellationToken.None))
                    {
                        if (found == null && s.Cookie == cookie)
                        {
                            found = s;
                        }
                    }
                }
            }
            catch (NetlinkErrorException)
            {
            }

            return found;
        }

        /// <summary>A lookup on an accepted socket's addresses finds its listener once it is gone: that is no new socket on them.</summary>
        private static bool IsListenerOf(TcpConnection now, TcpConnection c) => now.State == TcpState.Listen && c.State != TcpState.Listen;

        private CloseOutcome ShutDown(TcpConnection c, CancellationToken cancellationToken)
        {
            if (c.Cookie == null && c.Inode == null)
            {
                throw IdentityUnknown(c);
            }

            var tried = new HashSet<long>();
            if (TryShutDownVia(c.Owners, c, tried) is CloseOutcome listed)
            {
                return listed;
            }

            // The listed descriptors no longer hold the socket (or none were listed): look the owners up now.
            int inaccessible = 0;
            if (c.Inode != null)
            {
                var probe = new TcpConnection { Inode = c.Inode, AddressFamily = c.AddressFamily };
                inaccessible = _owners().Resolve(new[] { probe }, cancellationToken);
                if (TryShutDownVia(probe.Owners, c, tried) is CloseOutcome found)
                {
                    return found;
                }
            }

            if (MissingNow(c) is CloseOutcome missing)
            {
                return missing;
            }

            string hint = inaccessible == 0
                ? string.Empty
                : PlatformServices.IsPrivileged
                    ? $" {inaccessible} process(es) could not be inspected even as root (another user namespace, a security module or a sandbox hides their descriptors)."
                    : $" {inaccessible} process(es) could not be inspected: run as root (sudo) to see every owner.";
            throw new CloseWaitException(ErrorIds.SocketOwnerUnknown, ErrorCategory.ObjectNotFound,
                $"No process holding {c.DescribeEndpoints()} could be found, and -Method Shutdown works through the owner's descriptor.{hint} Use -Method Abort instead, which needs no owner.", c);
        }

        /// <summary>
        /// When no owner holds the socket: AlreadyGone when nothing uses its addresses now, Replaced
        /// when another socket does (another cookie, or another inode for a record listed from
        /// /proc without a cookie); null when it still exists or netlink cannot tell.
        /// </summary>
        private CloseOutcome? MissingNow(TcpConnection c)
        {
            try
            {
                var netlink = Netlink(c);
                if (c.Cookie is ulong cookie)
                {
                    return Lookup(netlink, c, cookie) == null ? GoneOrReplaced(netlink, c) : null;
                }

                var now = Lookup(netlink, c, NoCookie);
                if (now == null || IsListenerOf(now, c))
                {
                    return Gone();
                }

                return now.Inode != c.Inode ? Replaced(now) : null;
            }
            catch (Exception e) when (e is NetlinkErrorException || (e is CloseWaitException cw && cw.ErrorId == ErrorIds.SocketDiagUnavailable))
            {
                return null;
            }
        }

        /// <summary>The record's state against the socket's state now: a socket it cannot have become is not the listed one.</summary>
        private static void CheckState(TcpConnection c, TcpState now)
        {
            if (!TcpStateProgress.CanHaveBecome(c.State, now))
            {
                throw new CloseWaitException(ErrorIds.ConnectionStateMismatch, ErrorCategory.InvalidData,
                    $"{c.DescribeEndpoints()} was listed as {c.State}, but the socket with its identity is {now}, a state it cannot have reached since: the record does not describe it (edited?), so it was left open. List it again with Get-TcpConnection{(now == TcpState.Listen ? "; a listener closes only when listed as Listen and -State names Listen" : string.Empty)}.", c);
            }
        }

        /// <summary>The socket's state from TCP_INFO on a descriptor (tcpi_state, the first byte); null when the kernel does not say.</summary>
        private static TcpState? StateOf(int fd)
        {
            byte* info = stackalloc byte[TcpInfoStateBytes];
            int len = TcpInfoStateBytes;
            if (Interop.Libc.getsockopt(fd, Interop.Libc.IPPROTO_TCP, Interop.Libc.TCP_INFO, info, ref len) != 0 || len < 1)
            {
                return null;
            }

            return LinuxInetDiag.ToTcpState(info[0]);
        }

        // Enough of struct tcp_info for tcpi_state; the kernel copies min(len, sizeof) bytes.
        private const int TcpInfoStateBytes = 8;

        /// <summary>Tries each owner's descriptor not tried yet; null when none of them holds the socket.</summary>
        private CloseOutcome? TryShutDownVia(TcpSocketOwner[] owners, TcpConnection c, HashSet<long> tried)
        {
            foreach (var owner in owners)
            {
                if (owner.FileDescriptor is int fd && tried.Add(Key(owner.ProcessId, fd))
                    && TryShutDownVia(owner.ProcessId, fd, c) is CloseOutcome done)
                {
                    return done;
                }
            }

            return null;
        }

        /// <summary>Null when that descriptor is gone or now holds another socket.</summary>
        private CloseOutcome? TryShutDownVia(int pid, int fd, TcpConnection c)
        {
            long pidfd = (long)Interop.Libc.syscall((IntPtr)Interop.LinuxAbi.Require().SYS_pidfd_open, (IntPtr)pid, IntPtr.Zero, IntPtr.Zero);
            if (pidfd < 0)
            {
                int errno = LinuxErrno.Last();
                if (errno == Interop.Libc.ESRCH)
                {
                    return null;
                }

                throw PidfdFailure(errno, pid, fd, c);
            }

            long local;
            try
            {
                local = (long)Interop.Libc.syscall((IntPtr)Interop.LinuxAbi.Require().SYS_pidfd_getfd, (IntPtr)pidfd, (IntPtr)fd, IntPtr.Zero);
                if (local < 0)
                {
                    int errno = LinuxErrno.Last();
                    if (errno == Interop.Libc.EBADF || errno == Interop.Libc.ESRCH)
                    {
                        return null;
                    }

                    throw PidfdFailure(errno, pid, fd, c);
                }
            }
            finally
            {
                Interop.Libc.close((int)pidfd);
            }

            TcpState before;
            TcpState? remaining;
            try
            {
                if (!IsListedSocket((int)local, c))
                {
                    return null;
                }

                // The descriptor holds the socket with the record's cookie: its addresses must be the
                // record's too, as SOCK_DESTROY requires (an edited record closes nothing either way).
                if (c.Cookie is ulong listedCookie && NetlinkIfAvailable(c) is LinuxNetlinkSocket nl && Lookup(nl, c, listedCookie) == null)
                {
                    GoneOrReplaced(nl, c);
                }

                before = StateOf((int)local) ?? c.State;
                CheckState(c, before);
                if (Interop.Libc.shutdown((int)local, Interop.Libc.SHUT_RDWR) != 0)
                {
                    int errno = LinuxErrno.Last();
                    if (errno == Interop.Libc.ENOTCONN)
                    {
                        return Gone();
                    }

                    throw new CloseWaitException(ErrorIds.SocketCloseFailed, ErrorCategory.NotSpecified,
                        $"shutdown() of {c.DescribeEndpoints()} through descriptor {fd} of PID {pid} failed: {LinuxErrno.Describe(errno)}.", c)
                    { NativeError = errno };
                }

                remaining = StateOf((int)local);
            }
            finally
            {
                Interop.Libc.close((int)local);
            }

            if (remaining == null && c.Cookie is ulong cookie)
            {
                remaining = Lookup(Netlink(c), c, cookie)?.State;
            }

            return new CloseOutcome(TcpCloseStatus.Closed, ShutdownDetail(before, remaining, pid, fd))
            {
                RemainingState = remaining == TcpState.Closed ? null : remaining,
                Via = pid.ToString(CultureInfo.InvariantCulture) + "/" + fd.ToString(CultureInfo.InvariantCulture),
            };
        }

        /// <summary>
        /// What shutdown(SHUT_RDWR) did, by the state it found (net/ipv4/tcp.c tcp_shutdown,
        /// af_inet.c inet_shutdown): a FIN only from ESTABLISHED, SYN_RECV and CLOSE_WAIT; a
        /// listener stops listening and a connecting socket gives up, both without a word to any
        /// peer; after the FIN (FIN_WAIT1/2, CLOSING, LAST_ACK) nothing is sent at all.
        /// </summary>
        internal static string ShutdownDetail(TcpState before, TcpState? remaining, int pid, int fd)
        {
            string via = $"Shut down through descriptor {fd} of PID {pid} (pidfd_getfd)";
            string now = remaining is TcpState r && r != TcpState.Closed
                ? $"the socket is now {r}"
                : "the socket has left the table";
            switch (before)
            {
                case TcpState.Established:
                case TcpState.SynReceived:
                case TcpState.CloseWait:
                    return $"{via}: the peer got a FIN and {now}{(remaining is TcpState st && st != TcpState.Closed ? " until the peer acknowledges" : string.Empty)}. The owner's descriptor stays open on the closed socket until the owner closes it; it reads end of file and its next write fails (EPIPE).";
                case TcpState.Listen:
                    return $"{via}: the listener stopped listening and connections waiting to be accepted were reset; no peer was sent anything. The owner's descriptor stays open on the closed socket; its next accept() fails.";
                case TcpState.SynSent:
                    return $"{via}: the connection attempt was abandoned before it was established; nothing was sent to the peer.";
                default:
                    return $"{via}: its FIN had already been sent ({before}), so nothing was sent now; only the receive side was shut (the owner reads end of file), and {now}. It ends when the peer sends its FIN or the kernel's timeout expires; -Method Abort ends it at once.";
            }
        }

        /// <summary>The copied descriptor is the listed socket: same cookie, or same inode when no cookie was listed.</summary>
        private static bool IsListedSocket(int fd, TcpConnection c)
        {
            ulong value;
            int len = sizeof(ulong);
            if (c.Cookie is ulong cookie && Interop.Libc.getsockopt(fd, Interop.Libc.SOL_SOCKET, Interop.Libc.SO_COOKIE, &value, ref len) == 0)
            {
                return value == cookie;
            }

            if (c.Inode is ulong inode)
            {
                byte[] path = Encoding.ASCII.GetBytes("/proc/self/fd/" + fd.ToString(CultureInfo.InvariantCulture) + "\0");
                var link = new byte[64];
                fixed (byte* p = path)
                fixed (byte* l = link)
                {
                    long n = (long)Interop.Libc.readlinkat(Interop.Libc.AT_FDCWD, p, l, (IntPtr)link.Length);
                    return n > 0 && LinuxOwnerResolver.TryParseSocketInode(link, (int)n, out ulong found) && found == inode;
                }
            }

            return false;
        }

        private LinuxNetlinkSocket? NetlinkIfAvailable(TcpConnection c)
        {
            try
            {
                return Netlink(c);
            }
            catch (CloseWaitException e) when (e.ErrorId == ErrorIds.SocketDiagUnavailable)
            {
                return null;
            }
        }

        /// <summary>The socket on the connection's addresses now (checked against the cookie unless NoCookie); null when there is none.</summary>
        private static TcpConnection? Lookup(LinuxNetlinkSocket netlink, TcpConnection c, ulong cookie)
        {
            uint seq = netlink.NextSequence();
            return netlink.Find(Request(LinuxInetDiag.SOCK_DIAG_BY_FAMILY, c, cookie, seq), seq);
        }

        private static byte[] Request(ushort type, TcpConnection c, ulong cookie, uint seq)
        {
            byte family = c.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? LinuxInetDiag.AF_INET : LinuxInetDiag.AF_INET6;
            return LinuxInetDiag.BuildSocketRequest(type, family, 0, c.LocalIPAddress, c.LocalPort, c.RemoteIPAddress, c.RemotePort,
                cookie, seq, c.InterfaceIndex ?? 0);
        }

        /// <summary>
        /// A sock_diag socket in the namespace the connection was listed in. With its namespace inode
        /// (listed on Linux), that very namespace: through the path it was listed by while that
        /// still leads there, else through any process now in it, so a container's socket is closed
        /// inside the container's namespace and never in one that merely took over its PID.
        /// </summary>
        private LinuxNetlinkSocket Netlink(TcpConnection c)
        {
            string? networkNamespace = c.NetworkNamespace;
            ulong? inode = c.NetworkNamespaceId;
            string key = inode?.ToString(CultureInfo.InvariantCulture) ?? networkNamespace ?? string.Empty;
            if (!_netlink.TryGetValue(key, out var socket))
            {
                try
                {
                    // A netlink socket belongs to the namespace it was opened in and can be used from any thread.
                    if (inode is ulong id && !(networkNamespace == null && LinuxNetworkNamespace.OwnInode() == id))
                    {
                        socket = LinuxNetworkNamespace.Run(NamespaceTarget.OfListed(networkNamespace, id), LinuxNetlinkSocket.Open);
                    }
                    else
                    {
                        socket = networkNamespace == null
                            ? LinuxNetlinkSocket.Open()
                            : LinuxNetworkNamespace.Run(networkNamespace, LinuxNetlinkSocket.Open);
                    }
                }
                catch (NetlinkErrorException e)
                {
                    throw new CloseWaitException(ErrorIds.SocketDiagUnavailable, ErrorCategory.ResourceUnavailable,
                        $"Cannot open a sock_diag netlink socket: {LinuxErrno.Describe(e.Errno)}. Closing sockets needs NETLINK_SOCK_DIAG (blocked by a seccomp profile?); stop the owner with Stop-Process instead.", networkNamespace, e)
                    { NativeError = e.Errno };
                }

                _netlink[key] = socket;
            }

            return socket;
        }

        private static CloseWaitException PidfdFailure(int errno, int pid, int fd, TcpConnection c)
        {
            switch (errno)
            {
                case Interop.Libc.EPERM:
                case Interop.Libc.EACCES:
                    return new CloseWaitException(ErrorIds.SocketCloseAccessDenied, ErrorCategory.PermissionDenied,
                        $"Not allowed to take descriptor {fd} of PID {pid} to shut {c.DescribeEndpoints()} down: {LinuxErrno.Describe(errno)}. -Method Shutdown needs the right to trace the owner (its own user, or root). " + LinuxErrno.PermissionAdvice("the right to trace the owner (CAP_SYS_PTRACE)", PlatformServices.IsPrivileged ? " Use -Method Abort, or stop the owner with Stop-Process." : string.Empty), c)
                    { NativeError = errno };
                case Interop.Libc.ENOSYS:
                    return new CloseWaitException(ErrorIds.CloseMethodNotSupported, ErrorCategory.NotImplemented,
                        $"This kernel has no pidfd_getfd ({LinuxErrno.Describe(errno)}); -Method Shutdown needs Linux 5.6 or later. Use -Method Abort instead.", c)
                    { NativeError = errno };
                default:
                    return new CloseWaitException(ErrorIds.SocketCloseFailed, ErrorCategory.NotSpecified,
                        $"Taking descriptor {fd} of PID {pid} to shut {c.DescribeEndpoints()} down failed: {LinuxErrno.Describe(errno)}.", c)
                    { NativeError = errno };
            }
        }

        private static CloseWaitException IdentityUnknown(TcpConnection c) =>
            new CloseWaitException(ErrorIds.ConnectionIdentityUnknown, ErrorCategory.InvalidData,
                (c.Cookie == NoCookie
                    ? $"{c.DescribeEndpoints()} carries the kernel's 'no cookie' value ({NoCookie}) as its Cookie, which would switch the kernel's identity check off."
                    : $"{c.DescribeEndpoints()} carries no socket cookie or inode, so it cannot be told apart from a newer socket on the same addresses.")
                + " List it again with Get-TcpConnection and pipe that.", c);

        private static CloseOutcome Gone() =>
            new CloseOutcome(TcpCloseStatus.AlreadyGone, "The socket no longer exists: its owner or the peer closed it after it was listed.");

        private static CloseOutcome Replaced(TcpConnection now) =>
            new CloseOutcome(TcpCloseStatus.Replaced,
                $"The listed socket is gone and a different one (cookie {now.Cookie?.ToString(CultureInfo.InvariantCulture) ?? "?"}, {now.State}) now uses these addresses: it was left open.");

        private static long Key(int pid, int fd) => ((long)pid << 32) | (uint)fd;

        public void Dispose()
        {
            foreach (var socket in _netlink.Values)
            {
                socket.Dispose();
            }

            _netlink.Clear();
        }
    }
}
