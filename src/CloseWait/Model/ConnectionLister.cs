using System.Collections.Generic;
using System.Threading;
using CloseWait.Platform;

namespace CloseWait
{
    /// <summary>
    /// Lists connections: the kernel filters by state, the rest is filtered here, and owners are
    /// looked up once per call, only when the output or a filter needs them. Without owners the
    /// objects stream straight from the table; with owners the matching sockets are held until
    /// the one owner walk is done (the kernel's state filter keeps that set small).
    /// </summary>
    internal sealed class ConnectionLister
    {
        private readonly ISocketTable _table;
        private readonly IOwnerPolicy? _owners;
        private readonly IContainerResolver? _containers;

        /// <param name="containers">Names each owner's container after the owner walk; null to skip (and off Linux).</param>
        internal ConnectionLister(ISocketTable table, IOwnerResolver? owners, IContainerResolver? containers = null)
            : this(table, owners != null ? new AllOwners(owners) : null, containers)
        {
        }

        /// <param name="owners">Which sockets get owners looked up: all (<see cref="AllOwners"/>), or only new ones (Watch); null for none.</param>
        internal ConnectionLister(ISocketTable table, IOwnerPolicy? owners, IContainerResolver? containers = null)
        {
            _table = table;
            _owners = owners;
            _containers = containers;
        }

        /// <summary>Processes that could not be inspected during the last owner walk (not root).</summary>
        public int InaccessibleProcesses { get; private set; }

        /// <summary>Sockets that matched but whose owner stayed unknown.</summary>
        public int UnownedSockets { get; private set; }

        /// <summary>Whether the last listing filtered by owner (the warning then says the result may be incomplete).</summary>
        public bool FilteredByOwner { get; private set; }

        /// <summary>Sockets skipped by -MinimumIdleTime because the platform gives no idle time.</summary>
        public int UnknownIdleTime { get; private set; }

        /// <summary>
        /// When set, listening sockets the table returns that the filter's states leave out land
        /// here, on the filter's local ports and family only, with owners from the same walk: the
        /// diagnosis tells inbound from outbound connections by them. The query must ask for Listen.
        /// </summary>
        public List<TcpConnection>? Listeners { get; set; }

        public IEnumerable<TcpConnection> List(ConnectionFilter filter, SocketQuery query, bool resolveOwners, CancellationToken cancellationToken)
        {
            // Every connection says where it was listed: the namespace the command resolved, or the
            // one a scan of every namespace read it in.
            var here = query.Namespace ??= PlatformServices.ResolveNamespace(null);
            TcpConnection Stamp(TcpConnection c) => (c.ListedIn ?? here).Locate(c);

            bool needOwners = (resolveOwners || filter.FiltersByOwner) && _owners != null;
            UnownedSockets = 0;
            if (!needOwners)
            {
                foreach (var c in _table.Read(query, cancellationToken))
                {
                    if (Count(filter, c))
                    {
                        yield return Stamp(c);
                    }
                    else
                    {
                        KeepListener(filter, c, here);
                    }
                }

                yield break;
            }

            var matched = new List<TcpConnection>();
            foreach (var c in _table.Read(query, cancellationToken))
            {
                if (Count(filter, c))
                {
                    matched.Add(c);
                }
                else
                {
                    KeepListener(filter, c, here);
                }
            }

            // One owner walk for every namespace read: socket inodes are unique across namespaces.
            if (Listeners != null && Listeners.Count > 0)
            {
                // One owner walk for both: the listeners' owners name who should accept.
                var all = new List<TcpConnection>(matched.Count + Listeners.Count);
                all.AddRange(matched);
                all.AddRange(Listeners);
                InaccessibleProcesses = _owners!.Place(all, cancellationToken);
            }
            else
            {
                InaccessibleProcesses = _owners!.Place(matched, cancellationToken);
            }

            _containers?.Describe(matched, cancellationToken);
            FilteredByOwner = filter.FiltersByOwner;
            foreach (var c in matched)
            {
                cancellationToken.ThrowIfCancellationRequested();

                // Counted before the owner filter: a socket whose owner stayed hidden cannot match
                // -ProcessId or -ProcessName, and may be exactly what was asked for.
                if (c.ProcessId == null && c.Inode != null)
                {
                    UnownedSockets++;
                }

                if (!filter.MatchesOwner(c))
                {
                    continue;
                }

                yield return Stamp(c);
            }
        }

        /// <summary>Keeps a listener (located like every connection: the diagnosis matches sockets with listeners of their own namespace).</summary>
        private void KeepListener(ConnectionFilter filter, TcpConnection c, NamespaceIdentity here)
        {
            if (Listeners != null && c.State == TcpState.Listen
                && (filter.LocalPorts == null || filter.LocalPorts.Contains(c.LocalPort))
                && (filter.AddressFamily == null || filter.AddressFamily == c.AddressFamily))
            {
                Listeners.Add((c.ListedIn ?? here).Locate(c));
            }
        }

        private bool Count(ConnectionFilter filter, TcpConnection c)
        {
            if (!filter.MatchesSocket(c, checkIdle: false))
            {
                return false;
            }

            if (filter.MinimumIdleTime is System.TimeSpan min)
            {
                if (c.IdleTime is System.TimeSpan idle)
                {
                    return idle >= min;
                }

                UnknownIdleTime++;
                return false;
            }

            return true;
        }

        /// <summary>
        /// The one warning about sockets whose owner stayed unknown while some processes could
        /// not be inspected. As root those processes are hidden by something root cannot pass
        /// (another user namespace, a security module, a sandbox's init), so "run as root" would
        /// be wrong advice there, and they need not be the owners: an owner may also have closed
        /// its descriptor during the walk. With an owner filter, those sockets could not match it.
        /// </summary>
        internal static string OwnerWarning(int unownedSockets, int inaccessibleProcesses, bool filteredByOwner = false)
        {
            string text = PlatformServices.IsPrivileged
                ? $"{unownedSockets} socket(s) have no visible owner, and {inaccessibleProcesses} process(es) could not be inspected even as root (another user namespace, a security module or a sandbox hides their descriptors): those may hold them, or their owners closed them during the walk."
                : $"{unownedSockets} socket(s) have no visible owner: {inaccessibleProcesses} process(es) could not be inspected. Run as root (sudo) to see every socket's owner.";
            return filteredByOwner
                ? text + " -ProcessId and -ProcessName cannot match a socket whose owner is not visible, so the result may be incomplete."
                : text;
        }
    }

    /// <summary>
    /// Which of the matched sockets get their owners looked up, the pipeline's owner step: every
    /// one (<see cref="AllOwners"/>), or only those not seen before (Watch's sampler, which carries
    /// known owners forward and hands the resolver only the new sockets it wants). May drop
    /// duplicates from the list. Returns the processes that could not be inspected.
    /// </summary>
    internal interface IOwnerPolicy
    {
        int Place(List<TcpConnection> matched, CancellationToken cancellationToken);
    }

    /// <summary>Owners for every matched socket, in one walk.</summary>
    internal sealed class AllOwners : IOwnerPolicy
    {
        private readonly IOwnerResolver _resolver;

        internal AllOwners(IOwnerResolver resolver)
        {
            _resolver = resolver;
        }

        public int Place(List<TcpConnection> matched, CancellationToken cancellationToken) => _resolver.Resolve(matched, cancellationToken);
    }
}
