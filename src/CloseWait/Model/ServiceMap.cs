using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using CloseWait.Platform;

namespace CloseWait
{
    /// <summary>
    /// Which service each socket belongs to. A service is the processes behind one listening socket
    /// (its owners and their descendants: prefork workers, backends, forked children), or one
    /// program's children (a parent and its descendants of the same name); a lone process is its own
    /// service. Sockets no process owns belong to the service of the listener whose accept queue
    /// holds them. Built from the listeners beside the sockets and the process table (parents,
    /// names): both optional, so that where the host tells less, each PID stands alone.
    /// </summary>
    internal sealed class ServiceMap
    {
        /// <summary>How far up the parent chain a service is looked for: deeper trees are cut there.</summary>
        private const int MaximumDepth = 32;

        /// <summary>Facts kept at most, then forgotten (a long watch sees many short-lived processes).</summary>
        private const int MaximumCached = 20000;

        private readonly IProcessTable _processes;
        private readonly Dictionary<int, ProcessFacts?> _facts = new Dictionary<int, ProcessFacts?>();
        private readonly Dictionary<int, int> _roots = new Dictionary<int, int>();
        private IReadOnlyList<TcpConnection> _listeners = new TcpConnection[0];
        private HashSet<int> _listenerOwners = new HashSet<int>();

        internal ServiceMap(IProcessTable? processes)
        {
            _processes = processes ?? new NoProcessTable();
        }

        /// <summary>The listening sockets of this sample, owners included; none when the caller lists none (Watch).</summary>
        internal IReadOnlyList<TcpConnection> Listeners
        {
            get => _listeners;
            set
            {
                _listeners = value;
                _listenerOwners = new HashSet<int>(value.SelectMany(Holders));
                _roots.Clear();
            }
        }

        /// <summary>The listener that would have accepted this socket: same namespace, same port, same or wildcard address.</summary>
        internal TcpConnection? ListenerOf(TcpConnection c) => ListenerOf(c.NetworkNamespaceId, c.LocalIPAddress, c.LocalAddress, c.LocalPort);

        /// <summary>The local listener this socket is connected to (an outbound connection to this host); null when none.</summary>
        internal TcpConnection? ListenerAtRemoteEnd(TcpConnection c)
        {
            bool local = IPAddress.IsLoopback(c.RemoteIPAddress) || c.RemoteAddress == c.LocalAddress;
            return local ? ListenerOf(c.NetworkNamespaceId, c.RemoteIPAddress, c.RemoteAddress, c.RemotePort) : null;
        }

        private TcpConnection? ListenerOf(ulong? networkNamespaceId, IPAddress ip, string address, int port)
        {
            foreach (var l in _listeners)
            {
                if (l.LocalPort != port || l.NetworkNamespaceId != networkNamespaceId)
                {
                    continue;
                }

                if (l.LocalIPAddress.Equals(IPAddress.Any) || l.LocalIPAddress.Equals(IPAddress.IPv6Any)
                    || l.LocalAddress == address || l.LocalIPAddress.Equals(ip))
                {
                    return l;
                }
            }

            return null;
        }

        internal ProcessFacts? Facts(int pid)
        {
            if (!_facts.TryGetValue(pid, out var f))
            {
                if (_facts.Count >= MaximumCached)
                {
                    _facts.Clear();
                    _roots.Clear();
                }

                f = _processes.Get(pid);
                _facts[pid] = f;
            }

            return f;
        }

        internal bool OwnsListener(int pid) => _listenerOwners.Contains(pid);

        /// <summary>Whether a child holds a listening socket its parent holds too (inherited across fork).</summary>
        private bool SharesListener(int child, int parent)
        {
            if (!OwnsListener(child) || !OwnsListener(parent))
            {
                return false;
            }

            foreach (var l in _listeners)
            {
                var holders = Holders(l).ToList();
                if (holders.Contains(child) && holders.Contains(parent))
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>
        /// The service's main process for a process holding a socket: up the parent chain while the
        /// child holds a listening socket of its parent's (a worker) or is the same program; never up to PID 1.
        /// </summary>
        internal int RootOf(int pid)
        {
            if (_roots.TryGetValue(pid, out int root))
            {
                return root;
            }

            int p = pid;
            for (int depth = 0; depth < MaximumDepth; depth++)
            {
                var f = Facts(p);
                if (!(f?.ParentId is int parent) || parent <= 1 || parent == p)
                {
                    break;
                }

                var pf = Facts(parent);
                if (pf == null)
                {
                    break;
                }

                // A worker (or a worker's forked child) holds its parent's listening socket, inherited;
                // a program that merely runs under a process that listens somewhere (a shell, a test
                // runner, a supervisor) holds none of its parent's listeners and is its own service.
                if (!SharesListener(p, parent) && !SameProgram(f, pf))
                {
                    break;
                }

                p = parent;
            }

            _roots[pid] = p;
            return p;
        }

        /// <summary>
        /// A child of the same program: same name, and the same command line (forked without exec:
        /// multiprocessing, socat) or a server known to fork its workers or backends (PostgreSQL,
        /// nginx, gunicorn). Not a program that runs another of its interpreter (python3 running a
        /// python3 script, dotnet test running its test host).
        /// </summary>
        private static bool SameProgram(ProcessFacts child, ProcessFacts parent)
        {
            if (child.Name == null || !string.Equals(child.Name, parent.Name, StringComparison.Ordinal))
            {
                return false;
            }

            if (child.CommandLine != null && string.Equals(child.CommandLine, parent.CommandLine, StringComparison.Ordinal))
            {
                return true;
            }

            var software = SoftwareKnowledge.Recognize(new[] { parent });
            return software != null && software.Model != SoftwareModel.Runtime && software.Model != SoftwareModel.Unknown;
        }

        /// <summary>
        /// A process that holds the listening socket it inherited, under a parent that holds it too
        /// and is itself a child of another holder: a child forked from a worker, which never accepts
        /// (a worker's own accepted sockets have the listener's owner one level up, not two).
        /// </summary>
        internal bool IsForkedFromWorker(int pid, TcpConnection? listener)
        {
            if (listener == null)
            {
                return false;
            }

            var holders = new HashSet<int>(Holders(listener));
            if (!holders.Contains(pid) || !(Facts(pid)?.ParentId is int worker) || !holders.Contains(worker))
            {
                return false;
            }

            return Facts(worker)?.ParentId is int master && master > 1 && holders.Contains(master);
        }

        /// <summary>The service key of a socket: its main process (>= 0), or for unowned sockets without a listener a negative key (per local port when asked).</summary>
        internal long KeyOf(TcpConnection c, bool unownedPerPort)
        {
            if (c.ProcessId is int pid)
            {
                return RootOf(pid);
            }

            if (ListenerOf(c)?.ProcessId is int owner)
            {
                return RootOf(owner);
            }

            return unownedPerPort ? -2L - c.LocalPort : -1L;
        }

        /// <summary>The name of the main process: from the process table, else from a socket or listener it holds.</summary>
        internal string? NameOf(int pid, IEnumerable<TcpConnection> sockets)
        {
            string? name = Facts(pid)?.Name;
            if (name != null)
            {
                return name;
            }

            foreach (var c in sockets.Concat(_listeners))
            {
                var o = c.Owners.FirstOrDefault(x => x.ProcessId == pid && x.Program != null);
                if (o != null)
                {
                    return o.Program;
                }

                if (c.ProcessId == pid && c.Program != null)
                {
                    return c.Program;
                }
            }

            return null;
        }

        /// <summary>"postgres :5432" for a listener's service, "python3 (10288)" for a program, "(no owner)" without one.</summary>
        internal string ServiceName(long key, string? name, IReadOnlyCollection<TcpConnection> sockets)
        {
            if (key < 0)
            {
                return key == -1 ? "(no owner)" : "(no owner) :" + (-2L - key).ToString(CultureInfo.InvariantCulture);
            }

            int root = (int)key;
            var ports = _listeners.Where(l => Holders(l).Contains(root)).Select(l => l.LocalPort).Distinct().ToList();
            if (ports.Count > 0)
            {
                // The port the stuck sockets came in on, else the lowest the main process listens on.
                int port = sockets.Select(c => c.LocalPort).Where(ports.Contains).GroupBy(p => p)
                    .OrderByDescending(g => g.Count()).Select(g => (int?)g.Key).FirstOrDefault() ?? ports.Min();
                return $"{name ?? "?"} :{port.ToString(CultureInfo.InvariantCulture)}";
            }

            return $"{name ?? "?"} ({root.ToString(CultureInfo.InvariantCulture)})";
        }

        private static IEnumerable<int> Holders(TcpConnection l)
        {
            if (l.Owners.Length > 0)
            {
                return l.Owners.Select(o => o.ProcessId);
            }

            return l.ProcessId is int pid ? new[] { pid } : new int[0];
        }
    }
}
