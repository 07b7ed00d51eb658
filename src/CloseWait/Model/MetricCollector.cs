using System.Collections.Generic;
using System.Linq;
using System.Threading;
using CloseWait.Platform;

namespace CloseWait
{
    /// <summary>
    /// One collection for Export-TcpCloseWaitMetric: the socket table is read once, every state;
    /// each socket read is counted and kept for the port usage as it streams past, while the one
    /// listing pipeline (<see cref="ConnectionLister"/>) keeps the CLOSE_WAIT and listening sockets
    /// and walks their owners once. The diagnosis and the port usage are then CloseWaitAnalyzer's
    /// and PortUsageBuilder's, as Test-TcpCloseWait and Get-TcpPortUsage make them.
    /// </summary>
    internal sealed class MetricCollector
    {
        private static readonly TcpState[] CloseWaitOnly = { TcpState.CloseWait };

        private readonly ISocketTable _table;
        private readonly IOwnerResolver? _owners;
        private readonly IContainerResolver? _containers;
        private readonly IProcessDescriptors? _descriptors;
        private readonly ITimeWaitStore? _ports;
        private readonly IProcessTable? _processes;

        /// <param name="ports">Reads each namespace's ephemeral range; null leaves the port usage out.</param>
        /// <param name="processes">Parents and names, so that a service's processes are counted as one service (Test-TcpCloseWait's grouping).</param>
        internal MetricCollector(ISocketTable table, IOwnerResolver? owners, IContainerResolver? containers, IProcessDescriptors? descriptors, ITimeWaitStore? ports, IProcessTable? processes = null)
        {
            _processes = processes;
            _table = table;
            _owners = owners;
            _containers = containers;
            _descriptors = descriptors;
            _ports = ports;
        }

        /// <summary>Socket table reads made so far (a test checks that a collection makes one).</summary>
        internal int Reads { get; private set; }

        /// <summary>Sockets whose owner stayed unknown while some processes could not be inspected (the cmdlet warns).</summary>
        internal int UnownedSockets { get; private set; }

        internal int InaccessibleProcesses { get; private set; }

        /// <summary>What the last collection had to leave out, for the cmdlet to warn about.</summary>
        internal List<string> Warnings { get; } = new List<string>();

        internal MetricSnapshot Collect(SocketQuery query, CloseWaitThresholds thresholds, CancellationToken cancellationToken)
        {
            var snapshot = new MetricSnapshot();
            // Per namespace read (null: the caller's), the sockets that count against its port range.
            var byNamespace = new Dictionary<string, List<TcpConnection>>();
            var observed = new ObservedTable(_table, c =>
            {
                snapshot.States[c.State] = snapshot.States.TryGetValue(c.State, out int n) ? n + 1 : 1;
                if (_ports != null && (c.State == TcpState.Listen || c.RemotePort != 0))
                {
                    string key = c.NetworkNamespace ?? string.Empty;
                    if (!byNamespace.TryGetValue(key, out var list))
                    {
                        byNamespace[key] = list = new List<TcpConnection>();
                    }

                    list.Add(c);
                }
            });

            query.States = null;
            query.IncludeDetails = true;
            var owners = _owners != null ? new OwnersOfCloseWait(_owners) : null;
            var lister = new ConnectionLister(observed, owners, _containers) { Listeners = snapshot.Listeners };
            var closeWait = lister.List(new ConnectionFilter { States = CloseWaitOnly }, query, resolveOwners: true, cancellationToken).ToList();
            Reads = observed.Reads;
            UnownedSockets = lister.UnownedSockets;
            InaccessibleProcesses = lister.InaccessibleProcesses;

            snapshot.Diagnoses.AddRange(CloseWaitAnalyzer.Analyze(closeWait, snapshot.Listeners, _descriptors, thresholds, _processes));
            if (_ports != null)
            {
                foreach (var ns in byNamespace)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    TcpTimeWaitSetting setting;
                    try
                    {
                        setting = _ports.Read(ns.Key.Length == 0 ? query.NetworkNamespace : ns.Key);
                    }
                    catch (CloseWaitException e)
                    {
                        // A namespace gone since the read, or a range this platform does not give: the rest still counts.
                        Warnings.Add("Port usage left out for " + (ns.Key.Length == 0 ? "this network namespace" : "network namespace " + ns.Key) + ": " + e.Message);
                        continue;
                    }

                    var builder = new PortUsageBuilder(setting);
                    foreach (var c in ns.Value)
                    {
                        builder.Add(c);
                    }

                    snapshot.PortUsage.AddRange(builder.Build());
                }
            }

            return snapshot;
        }

        /// <summary>
        /// The owner walk (every process's descriptors: most of a collection's cost on a busy host)
        /// only when there is a CLOSE_WAIT socket to diagnose: the listeners alone need no owners.
        /// </summary>
        private sealed class OwnersOfCloseWait : IOwnerResolver
        {
            private readonly IOwnerResolver _inner;

            internal OwnersOfCloseWait(IOwnerResolver inner) => _inner = inner;

            public int Resolve(IReadOnlyList<TcpConnection> connections, CancellationToken cancellationToken) =>
                connections.Any(c => c.State == TcpState.CloseWait) ? _inner.Resolve(connections, cancellationToken) : 0;
        }

        /// <summary>A socket table that shows every socket it streams to an observer on the way.</summary>
        private sealed class ObservedTable : ISocketTable
        {
            private readonly ISocketTable _inner;
            private readonly System.Action<TcpConnection> _observe;

            internal ObservedTable(ISocketTable inner, System.Action<TcpConnection> observe)
            {
                _inner = inner;
                _observe = observe;
            }

            internal int Reads { get; private set; }

            public IEnumerable<TcpConnection> Read(SocketQuery query, CancellationToken cancellationToken)
            {
                Reads++;
                foreach (var c in _inner.Read(query, cancellationToken))
                {
                    _observe(c);
                    yield return c;
                }
            }
        }
    }
}
