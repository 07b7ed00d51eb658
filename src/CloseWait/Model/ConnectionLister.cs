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
        private readonly IOwnerResolver? _owners;
        private readonly IContainerResolver? _containers;

        /// <param name="containers">Names each owner's container after the owner walk; null to skip (and off Linux).</param>
        internal ConnectionLister(ISocketTable table, IOwnerResolver? owners, IContainerResolver? containers = null)
        {
            _table = table;
            _owners = owners;
            _containers = containers;
        }

        /// <summary>Processes that could not be inspected during the last owner walk (not root).</summary>
        public int InaccessibleProcesses { get; private set; }

        /// <summary>Sockets that matched but whose owner stayed unknown.</summary>
        public int UnownedSockets { get; private set; }

        /// <summary>Sockets skipped by -MinimumIdleTime because the platform gives no idle time.</summary>
        public int UnknownIdleTime { get; private set; }

        public IEnumerable<TcpConnection> List(ConnectionFilter filter, SocketQuery query, bool resolveOwners, CancellationToken cancellationToken)
        {
            bool needOwners = (resolveOwners || filter.FiltersByOwner) && _owners != null;
            if (!needOwners)
            {
                foreach (var c in _table.Read(query, cancellationToken))
                {
                    if (Count(filter, c))
                    {
                        yield return c;
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
            }

            // One owner walk for every namespace read: socket inodes are unique across namespaces.
            InaccessibleProcesses = _owners!.Resolve(matched, cancellationToken);
            _containers?.Describe(matched, cancellationToken);
            foreach (var c in matched)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (!filter.MatchesOwner(c))
                {
                    continue;
                }

                if (c.ProcessId == null && c.Inode != null)
                {
                    UnownedSockets++;
                }

                yield return c;
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
        /// The one warning about sockets whose owner stayed unknown. As root the hidden processes
        /// are hidden by something root cannot pass (another user namespace, a security module,
        /// a sandbox's init), so "run as root" would be wrong advice there.
        /// </summary>
        internal static string OwnerWarning(int unownedSockets, int inaccessibleProcesses) =>
            PlatformServices.IsPrivileged
                ? $"{unownedSockets} socket(s) have no visible owner: {inaccessibleProcesses} process(es) could not be inspected even as root (another user namespace, a security module or a sandbox hides their descriptors)."
                : $"{unownedSockets} socket(s) have no visible owner: {inaccessibleProcesses} process(es) could not be inspected. Run as root (sudo) to see every socket's owner.";
    }
}
