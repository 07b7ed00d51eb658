using System;
using System.Collections.Generic;
using System.Diagnostics;
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
    /// there; on Linux a targeted search (<see cref="IOwnerSearch"/>) replaces the first step:
    /// where the socket was last seen, then only the processes whose descriptor table changed.</item>
    /// </list>
    /// Each kind of walk takes at most about a tenth of the time (<see cref="WalkBudget"/>): on a
    /// busy box a new socket may be reported before its owner is found (ProcessId $null) and carry
    /// it from the sample after the walk that found it. A socket handed to another process while it
    /// stays in CLOSE_WAIT keeps its first owner, and a new socket found in a known process lists
    /// the owners among those processes only (a child forked since, holding it too, is not named;
    /// Get-TcpCloseWait names every owner).
    /// </summary>
    internal sealed class CloseWaitSampler
    {
        private readonly ISocketTable _table;
        private readonly IOwnerResolver? _owners;
        private readonly ConnectionFilter _filter;
        private readonly SocketQuery _query;
        private readonly Func<TimeSpan> _clock;
        private readonly WalkBudget _allWalks = new WalkBudget();
        private readonly WalkBudget _knownWalks = new WalkBudget();
        private readonly IOwnerSearch? _search;
        private Dictionary<SocketIdentity, TcpConnection> _known = new Dictionary<SocketIdentity, TcpConnection>();

        // Sockets seen without an owner that no walk of every process has looked for yet.
        private HashSet<SocketIdentity> _unplaced = new HashSet<SocketIdentity>();

        /// <param name="clock">Monotonic time, to space the walks; a Stopwatch by default (tests pass their own).</param>
        internal CloseWaitSampler(ISocketTable table, IOwnerResolver? owners, ConnectionFilter filter, SocketQuery query, Func<TimeSpan>? clock = null)
        {
            var watch = Stopwatch.StartNew();
            _clock = clock ?? (() => watch.Elapsed);
            _table = table;
            _owners = owners;
            _search = (owners as IOwnerSearchSource)?.StartSearch();
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

        /// <summary>
        /// One sample through the listing pipeline (read, filter, owners for new sockets only,
        /// stamp): every connection says which host, boot and namespace it was listed in.
        /// </summary>
        internal List<TcpConnection> Read(CancellationToken cancellationToken)
        {
            var lister = new ConnectionLister(_table, _owners != null ? new NewOwnersOnly(this) : null);
            var sample = new List<TcpConnection>();
            var seen = new HashSet<SocketIdentity>();
            foreach (var c in lister.List(_filter, _query, _owners != null, cancellationToken))
            {
                // With owners the policy already dropped duplicates; without, the sample does.
                if (_owners != null || seen.Add(SocketIdentity.Of(c)))
                {
                    sample.Add(c);
                }
            }

            UnownedSockets = lister.UnownedSockets;
            return sample;
        }

        /// <summary>
        /// The pipeline's owner step for Watch: known sockets keep the owner found when first seen,
        /// and the resolver is handed only the new ones (and those still unplaced).
        /// </summary>
        private sealed class NewOwnersOnly : IOwnerPolicy
        {
            private readonly CloseWaitSampler _sampler;

            internal NewOwnersOnly(CloseWaitSampler sampler)
            {
                _sampler = sampler;
            }

            public int Place(List<TcpConnection> matched, CancellationToken cancellationToken)
            {
                var known = _sampler._known;
                var seen = new Dictionary<SocketIdentity, TcpConnection>(known.Count + 16);
                var lookUp = new List<TcpConnection>();
                matched.RemoveAll(c =>
                {
                    var id = SocketIdentity.Of(c);
                    if (seen.ContainsKey(id))
                    {
                        return true;
                    }

                    seen[id] = c;
                    if (known.TryGetValue(id, out var before) && before.ProcessId != null)
                    {
                        c.ProcessId = before.ProcessId;
                        c.Program = before.Program;
                        c.Owners = before.Owners;
                    }
                    else
                    {
                        lookUp.Add(c);
                    }

                    return false;
                });

                if (lookUp.Count > 0)
                {
                    _sampler.PlaceOwners(lookUp, seen.Values, cancellationToken);
                }

                _sampler._known = seen;
                return _sampler.InaccessibleProcesses;
            }
        }

        /// <summary>
        /// Looks for the owners of <paramref name="lookUp"/> (sockets with none yet): first in the
        /// processes that hold the other sockets, then in every process, each kind of walk spaced by
        /// its <see cref="WalkBudget"/>. What stays unplaced is asked about again at the next walk of
        /// every process; a socket that walk cannot place either (another user namespace) is asked
        /// about again only when a new socket brings on another walk.
        /// </summary>
        private void PlaceOwners(List<TcpConnection> lookUp, IEnumerable<TcpConnection> sample, CancellationToken cancellationToken)
        {
            var pending = new List<TcpConnection>();
            foreach (var c in lookUp)
            {
                var id = SocketIdentity.Of(c);
                if (!_known.ContainsKey(id) || _unplaced.Contains(id))
                {
                    pending.Add(c);
                }
            }

            var unplaced = new HashSet<SocketIdentity>();
            if (pending.Count == 0)
            {
                _unplaced = unplaced;
                return;
            }

            var candidates = new HashSet<int>();
            foreach (var c in sample)
            {
                foreach (var o in c.Owners)
                {
                    candidates.Add(o.ProcessId);
                }
            }

            if (_search != null && _search.Primed)
            {
                // Where each socket was last seen, then the processes whose descriptor table changed (holders first).
                if (_knownWalks.Allows(_clock()))
                {
                    TimeSpan began = _clock();
                    _search.ResolveTargeted(pending, candidates, cancellationToken);
                    _knownWalks.Record(began, _clock());
                    KnownOwnerWalks++;
                    pending.RemoveAll(c => c.ProcessId != null);
                    lookUp.RemoveAll(c => c.ProcessId != null);
                }
            }
            else if (_owners is IOwnerResolverInProcesses inProcesses && candidates.Count > 0 && _knownWalks.Allows(_clock()))
            {
                TimeSpan began = _clock();
                inProcesses.ResolveAmong(pending, candidates, cancellationToken);
                _knownWalks.Record(began, _clock());
                KnownOwnerWalks++;
                pending.RemoveAll(c => c.ProcessId != null);
                lookUp.RemoveAll(c => c.ProcessId != null);
            }

            if (pending.Count > 0 && _allWalks.Allows(_clock()))
            {
                TimeSpan began = _clock();
                InaccessibleProcesses = _search != null ? _search.ResolveAll(lookUp, cancellationToken) : _owners!.Resolve(lookUp, cancellationToken);
                _allWalks.Record(began, _clock(), _search != null ? WalkBudget.SpacingAfterSearch : WalkBudget.Spacing);
                OwnerWalks++;
                pending.Clear();
            }

            foreach (var c in pending)
            {
                unplaced.Add(SocketIdentity.Of(c));
            }

            _unplaced = unplaced;
        }

        /// <summary>
        /// Keeps one kind of owner walk to about a tenth of the time: the next starts no sooner than
        /// <see cref="Spacing"/> times the last one's duration after it began. At 200,000
        /// descriptors a walk of every process takes ~0.3 s on 2 cores, so at most one every ~3 s;
        /// on a box so loaded that it takes 5 s, one every 50 s.
        /// </summary>
        internal sealed class WalkBudget
        {
            internal const int Spacing = 10;

            /// <summary>
            /// With a targeted search (Linux) a walk of every process is needed only for what the search
            /// misses (a descriptor closed and another opened between two reads): about 3 % of the time.
            /// </summary>
            internal const int SpacingAfterSearch = 30;

            private TimeSpan? _began;
            private TimeSpan _took;
            private int _spacing = Spacing;

            internal bool Allows(TimeSpan now) => _began is not TimeSpan began || now - began >= TimeSpan.FromTicks(_took.Ticks * _spacing);

            internal void Record(TimeSpan began, TimeSpan ended, int spacing = Spacing)
            {
                _began = began;
                _took = ended - began;
                _spacing = spacing;
            }
        }
    }
}
