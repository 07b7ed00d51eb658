using System.Collections.Generic;
using System.Threading;
using CloseWait.Platform;

namespace CloseWait
{
    /// <summary>
    /// One sample of the watched CLOSE_WAIT sockets, for Watch-TcpCloseWait. Owners are looked up
    /// only for sockets not seen in the previous sample (and, in the same walk, those whose owner
    /// was not found before); the rest keep the owner found when they were first seen. On Linux
    /// that walk reads every descriptor of every process, so a steady table costs only the
    /// kernel's dump. A socket handed from one process to another while it stays in CLOSE_WAIT
    /// keeps its first owner.
    /// </summary>
    internal sealed class CloseWaitSampler
    {
        private readonly ISocketTable _table;
        private readonly IOwnerResolver? _owners;
        private readonly ConnectionFilter _filter;
        private readonly SocketQuery _query;
        private Dictionary<SocketIdentity, TcpConnection> _known = new Dictionary<SocketIdentity, TcpConnection>();

        internal CloseWaitSampler(ISocketTable table, IOwnerResolver? owners, ConnectionFilter filter, SocketQuery query)
        {
            _table = table;
            _owners = owners;
            _filter = filter;
            _query = query;
        }

        /// <summary>Owner walks done so far (one at most per sample).</summary>
        internal int OwnerWalks { get; private set; }

        /// <summary>Processes that could not be inspected in the last owner walk.</summary>
        internal int InaccessibleProcesses { get; private set; }

        /// <summary>Sockets in the last sample whose owner stayed unknown.</summary>
        internal int UnownedSockets { get; private set; }

        internal List<TcpConnection> Read(CancellationToken cancellationToken)
        {
            var seen = new Dictionary<SocketIdentity, TcpConnection>(_known.Count + 16);
            var lookUp = new List<TcpConnection>();
            foreach (var c in _table.Read(_query, cancellationToken))
            {
                if (!_filter.MatchesSocket(c, checkIdle: false))
                {
                    continue;
                }

                var id = SocketIdentity.Of(c);
                if (seen.ContainsKey(id))
                {
                    continue;
                }

                seen[id] = c;
                if (_owners == null)
                {
                    continue;
                }

                if (_known.TryGetValue(id, out var before) && before.ProcessId != null)
                {
                    c.ProcessId = before.ProcessId;
                    c.ProcessName = before.ProcessName;
                    c.Owners = before.Owners;
                }
                else
                {
                    lookUp.Add(c);
                }
            }

            // Sockets whose owner was not found before are asked about again only with new ones,
            // so that a socket no walk can place (another user namespace) costs no walk per sample.
            bool fresh = false;
            foreach (var c in lookUp)
            {
                if (!_known.ContainsKey(SocketIdentity.Of(c)))
                {
                    fresh = true;
                    break;
                }
            }

            if (fresh)
            {
                InaccessibleProcesses = _owners!.Resolve(lookUp, cancellationToken);
                OwnerWalks++;
            }

            _known = seen;
            var sample = new List<TcpConnection>(seen.Count);
            int unowned = 0;
            foreach (var c in seen.Values)
            {
                if (_owners != null && !_filter.MatchesOwner(c))
                {
                    continue;
                }

                if (_owners != null && c.ProcessId == null && c.Inode != null)
                {
                    unowned++;
                }

                sample.Add(c);
            }

            UnownedSockets = unowned;
            return sample;
        }
    }
}
