using System.Collections.Generic;
using System.Threading;
using CloseWait.Platform;

namespace CloseWait
{
    /// <summary>
    /// One sample of the watched CLOSE_WAIT sockets, for Watch-TcpCloseWait. On Linux an owner
    /// walk reads every descriptor of every process (~0.35 s of CPU at 200,000), so:
    /// <list type="bullet">
    /// <item>owners are looked up only for sockets not seen in the previous sample (and, with
    /// them, those whose owner was not found before); the rest keep the owner found when they
    /// were first seen, so a steady table costs only the kernel's dump;</item>
    /// <item>new sockets are looked for first in the processes that already hold watched sockets
    /// (a leaking process is one of them), and every process is walked only for those not found
    /// there.</item>
    /// </list>
    /// So a socket handed to another process while it stays in CLOSE_WAIT keeps its first owner,
    /// and a new socket found in a known process lists the owners among those processes only (a
    /// child forked since, holding it too, is not named; Get-TcpCloseWait names every owner).
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

        /// <summary>Walks of every process done so far (one at most per sample).</summary>
        internal int OwnerWalks { get; private set; }

        /// <summary>Walks of the known owners only, done so far.</summary>
        internal int KnownOwnerWalks { get; private set; }

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
                var candidates = new HashSet<int>();
                foreach (var c in seen.Values)
                {
                    foreach (var o in c.Owners)
                    {
                        candidates.Add(o.ProcessId);
                    }
                }

                if (_owners is IOwnerResolverInProcesses known && candidates.Count > 0)
                {
                    known.ResolveAmong(lookUp, candidates, cancellationToken);
                    KnownOwnerWalks++;
                    lookUp.RemoveAll(c => c.ProcessId != null);
                    fresh = lookUp.Exists(c => !_known.ContainsKey(SocketIdentity.Of(c)));
                }

                if (fresh)
                {
                    InaccessibleProcesses = _owners!.Resolve(lookUp, cancellationToken);
                    OwnerWalks++;
                }
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
