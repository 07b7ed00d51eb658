using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Sockets;
using System.Threading;

namespace CloseWait.Platform.Linux
{
    /// <summary>
    /// The Linux socket table: netlink sock_diag with the kernel filtering by state and port, falling back to
    /// /proc/net/tcp{,6} when netlink is refused (seccomp, old kernel without inet_diag).
    /// </summary>
    internal sealed class LinuxSocketTable : ISocketTable
    {
        internal const string ProcNetTcp = "/proc/net/tcp";
        internal const string ProcNetTcp6 = "/proc/net/tcp6";
        internal const string ThreadSelfNetTcp = "/proc/thread-self/net/tcp";
        internal const string ThreadSelfNetTcp6 = "/proc/thread-self/net/tcp6";

        // Kernels that refuse the legacy request (none known) get one dump per family from then on.
        private static volatile bool _bothFamiliesWork = true;

        /// <summary>Set to force a back end (tests compare them): null picks netlink, then /proc.</summary>
        internal LinuxTableBackend? ForcedBackend { get; set; }

        /// <summary>
        /// Netlink: read both families in one dump (one walk of the kernel's table) when no family
        /// is asked for; false makes one dump per family (tests compare them).
        /// </summary>
        internal bool BothFamiliesAtOnce { get; set; } = true;

        public IEnumerable<TcpConnection> Read(SocketQuery query, CancellationToken cancellationToken) =>
            LinuxTableFailures.Translated(ReadUntranslated(query, cancellationToken));

        private IEnumerable<TcpConnection> ReadUntranslated(SocketQuery query, CancellationToken cancellationToken)
        {
            if (query.AllNetworkNamespaces)
            {
                return ReadAll(query, cancellationToken);
            }

            if (query.Namespace is NamespaceIdentity ns && !ns.IsOwn)
            {
                return LinuxNetworkNamespace.Stream(NamespaceTarget.Of(ns), ct => ReadHere(query, inNamespace: true, ct), cancellationToken);
            }

            return ReadHere(query, inNamespace: false, cancellationToken);
        }

        /// <summary>
        /// Every network namespace in use on the host, one after the other: the caller's own on this
        /// thread, each other one on a thread that joined it. A namespace whose processes all exit
        /// between the scan and the read is skipped and recorded in the query's progress.
        /// </summary>
        private IEnumerable<TcpConnection> ReadAll(SocketQuery query, CancellationToken cancellationToken)
        {
            var progress = query.Progress ?? new NamespaceScanProgress(null);
            var namespaces = LinuxNamespaceScan.Enumerate(cancellationToken);
            progress.Total = namespaces.Count;
            string? host = query.Namespace?.ComputerName ?? Environment.MachineName;
            string? boot = query.Namespace?.BootId ?? PlatformServices.BootId;
            foreach (var ns in namespaces)
            {
                progress.Report();
                var identity = ns.Identity(host, boot);
                var source = ns.IsOwn
                    ? ReadHere(query, inNamespace: false, cancellationToken)
                    : LinuxNetworkNamespace.Stream(ns.Target, ct => ReadHere(query, inNamespace: true, ct), cancellationToken);
                using (var e = source.GetEnumerator())
                {
                    while (true)
                    {
                        try
                        {
                            if (!e.MoveNext())
                            {
                                break;
                            }
                        }
                        catch (CloseWaitException gone) when (gone.ErrorId == ErrorIds.NetworkNamespaceGone)
                        {
                            progress.Vanished.Add(ns.Spec ?? ns.Inode.ToString(System.Globalization.CultureInfo.InvariantCulture));
                            break;
                        }

                        var c = e.Current;
                        c.ListedIn = identity;
                        yield return c;
                    }
                }

                progress.Done++;
            }

            progress.Report();
        }

        /// <summary>
        /// The table as per-state counts and, with <paramref name="keepInodes"/>, each socket's inode
        /// and state (sealed for lookups), read through netlink without a connection object per
        /// socket. Null when netlink is refused: the caller falls back to <see cref="Read"/> (/proc).
        /// Honours the query's states, family and namespace; ports and details do not apply.
        /// </summary>
        internal LinuxSocketStates? ReadStates(SocketQuery query, bool keepInodes, CancellationToken cancellationToken)
        {
            // The whole dump runs on the namespace's thread and hands back only the compact result.
            return LinuxTableFailures.Run(() => query.Namespace is NamespaceIdentity ns && !ns.IsOwn
                ? LinuxNetworkNamespace.Run(ns, () => ReadStatesHere(query, keepInodes, cancellationToken), cancellationToken)
                : ReadStatesHere(query, keepInodes, cancellationToken));
        }

        private LinuxSocketStates? ReadStatesHere(SocketQuery query, bool keepInodes, CancellationToken cancellationToken)
        {
            var netlink = OpenNetlink();
            if (netlink == null)
            {
                return null;
            }

            using (netlink)
            {
                uint mask = LinuxInetDiag.StateMask(query.States);
                var states = new LinuxSocketStates(keepInodes);
                if (OneDumpForBothFamilies(query))
                {
                    try
                    {
                        netlink.DumpInto(0, mask, ref states, cancellationToken);
                        states.Seal();
                        return states;
                    }
                    catch (NetlinkErrorException ex) when (states.Total == 0 && IsUnknownRequest(ex.Errno))
                    {
                        _bothFamiliesWork = false;
                    }
                }

                foreach (byte family in Families(query))
                {
                    netlink.DumpInto(family, mask, ref states, cancellationToken);
                }

                states.Seal();
                return states;
            }
        }

        private IEnumerable<TcpConnection> ReadHere(SocketQuery query, bool inNamespace, CancellationToken cancellationToken)
        {
            var netlink = OpenNetlink();
            if (netlink != null)
            {
                using (netlink)
                {
                    uint mask = LinuxInetDiag.StateMask(query.States);
                    byte[]? ports = LinuxInetDiag.BuildPortFilter(query.LocalPorts, query.RemotePorts, query.LocalPortRange);
                    if (OneDumpForBothFamilies(query))
                    {
                        bool refused = false;
                        using (var e = netlink.DumpBothFamilies(mask, query.IncludeDetails, cancellationToken, ports).GetEnumerator())
                        {
                            bool any = false;
                            while (true)
                            {
                                try
                                {
                                    if (!e.MoveNext())
                                    {
                                        break;
                                    }
                                }
                                catch (NetlinkErrorException ex) when (!any && IsUnknownRequest(ex.Errno))
                                {
                                    _bothFamiliesWork = false;
                                    refused = true;
                                    break;
                                }

                                any = true;
                                yield return e.Current;
                            }
                        }

                        if (!refused)
                        {
                            yield break;
                        }
                    }

                    foreach (byte family in Families(query))
                    {
                        foreach (var c in netlink.Dump(family, mask, query.IncludeDetails, cancellationToken, ports))
                        {
                            yield return c;
                        }
                    }
                }

                yield break;
            }

            foreach (var c in ReadProc(query, inNamespace, cancellationToken))
            {
                yield return c;
            }
        }

        /// <summary>The netlink socket, or null for the /proc fallback (forced, or netlink refused).</summary>
        private LinuxNetlinkSocket? OpenNetlink()
        {
            if (ForcedBackend == LinuxTableBackend.ProcNet)
            {
                return null;
            }

            try
            {
                return LinuxNetlinkSocket.Open();
            }
            catch (NetlinkErrorException e) when (ForcedBackend == null && IsRefusal(e.Errno))
            {
                return null;
            }
        }

        private bool OneDumpForBothFamilies(SocketQuery query) => query.AddressFamily == null && BothFamiliesAtOnce && _bothFamiliesWork;

        internal static IEnumerable<TcpConnection> ReadProc(SocketQuery query, bool inNamespace, CancellationToken cancellationToken)
        {
            // /proc/net follows the process's namespace; /proc/thread-self/net the calling thread's.
            if (query.WantsFamily(AddressFamily.InterNetwork))
            {
                foreach (var c in ReadProcFile(inNamespace ? ThreadSelfNetTcp : ProcNetTcp, AddressFamily.InterNetwork, query, cancellationToken))
                {
                    yield return c;
                }
            }

            if (query.WantsFamily(AddressFamily.InterNetworkV6))
            {
                foreach (var c in ReadProcFile(inNamespace ? ThreadSelfNetTcp6 : ProcNetTcp6, AddressFamily.InterNetworkV6, query, cancellationToken))
                {
                    yield return c;
                }
            }
        }

        private static IEnumerable<TcpConnection> ReadProcFile(string path, AddressFamily family, SocketQuery query, CancellationToken cancellationToken)
        {
            if (!File.Exists(path))
            {
                yield break; // IPv6 disabled: no tcp6 table
            }

            using var reader = new StreamReader(path);
            foreach (var c in LinuxProcNetTcpParser.Parse(reader, family))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (query.WantsState(c.State))
                {
                    yield return c;
                }
            }
        }

        private static IEnumerable<byte> Families(SocketQuery query)
        {
            if (query.WantsFamily(AddressFamily.InterNetwork))
            {
                yield return LinuxInetDiag.AF_INET;
            }

            if (query.WantsFamily(AddressFamily.InterNetworkV6))
            {
                yield return LinuxInetDiag.AF_INET6;
            }
        }

        private static bool IsRefusal(int errno) =>
            errno == Interop.Libc.EACCES || errno == Interop.Libc.EPERM || errno == Interop.Libc.EPROTONOSUPPORT
            || errno == Interop.Libc.EAFNOSUPPORT || errno == Interop.Libc.ENOSYS || errno == Interop.Libc.EINVAL;

        private static bool IsUnknownRequest(int errno) =>
            errno == Interop.Libc.EINVAL || errno == Interop.Libc.ENOENT || errno == Interop.Libc.EOPNOTSUPP || errno == Interop.Libc.EPROTONOSUPPORT;
    }

    internal enum LinuxTableBackend
    {
        Netlink,
        ProcNet,
    }
}
