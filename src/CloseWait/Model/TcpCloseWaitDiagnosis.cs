using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;

namespace CloseWait
{
    /// <summary>Why sockets sit in CLOSE_WAIT, each from evidence the kernel gives (see CloseWaitAnalyzer).</summary>
    public enum TcpCloseWaitCause
    {
        /// <summary>The owner read the end of the stream (FIN consumed, nothing unread) and still holds the socket.</summary>
        NotClosed,

        /// <summary>Data (or the peer's FIN) waits unread: the owner stopped reading.</summary>
        NotRead,

        /// <summary>The peer closed connections after they sat idle about the same time: a balancer's or proxy's idle timeout.</summary>
        PeerIdleTimeout,

        /// <summary>Outbound connections a client pool keeps, untouched, after the server closed them.</summary>
        IdlePool,

        /// <summary>More than one process holds the sockets: inherited across fork/exec.</summary>
        Inherited,

        /// <summary>No process owns them, on a listening port: peers gave up waiting in the accept queue.</summary>
        AcceptBacklog,
    }

    /// <summary>How alarming a process's CLOSE_WAIT sockets are.</summary>
    public enum TcpCloseWaitSeverity
    {
        /// <summary>Brief CLOSE_WAIT, or too few sockets to tell where their age is unknown: nothing to do.</summary>
        Normal,

        /// <summary>Sockets stuck past the threshold: a leak or a stuck program.</summary>
        Warning,

        /// <summary>The owner is near its descriptor limit, or a thousand sockets or more are stuck.</summary>
        Critical,
    }

    /// <summary>
    /// A read-only list whose text is its items joined: a collection, so that
    /// <c>Where-Object Cause -contains NotRead</c> works and JSON and remoting carry the items;
    /// one line of text, so that Export-Csv writes "NotRead, IdlePool", not a type name.
    /// </summary>
    public sealed class TextList<T> : IReadOnlyList<T>
    {
        private readonly T[] _items;

        internal TextList(IEnumerable<T> items) => _items = items.ToArray();

        public int Count => _items.Length;

        public T this[int index] => _items[index];

        public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)_items).GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => _items.GetEnumerator();

        public override string ToString() => string.Join(", ", _items);
    }

    /// <summary>
    /// The CLOSE_WAIT sockets of one diagnosis to one remote address and port (outbound), or from one
    /// client address (inbound: RemotePort 0, as each client connection has its own ephemeral port).
    /// </summary>
    public sealed class TcpCloseWaitPeer
    {
        public string RemoteAddress { get; internal set; } = string.Empty;

        public int RemotePort { get; internal set; }

        public int Count { get; internal set; }

        /// <summary>The longest IdleTime (time since the peer's FIN) among them; null where the platform gives none.</summary>
        public TimeSpan? LongestIdleTime { get; internal set; }

        // Remoting and CSV show nested objects as their string: keep it whole.
        public override string ToString() =>
            $"{(RemotePort == 0 ? RemoteAddress : TcpConnection.FormatEndpoint(RemoteAddress, RemotePort))} x{Count}" +
            (LongestIdleTime is TimeSpan t ? $" ({CloseWaitAnalyzer.FormatDuration(t)})" : string.Empty);
    }

    /// <summary>
    /// Test-TcpCloseWait's answer for one service holding CLOSE_WAIT sockets (with -GroupBy Process,
    /// one process; with ProcessId $null, the CLOSE_WAIT sockets no process owns): what is wrong,
    /// why, and what to do.
    /// </summary>
    public sealed class TcpCloseWaitDiagnosis
    {
        private static readonly TcpConnection[] NoConnections = new TcpConnection[0];
        private TcpCloseWaitCause[] _causes = new TcpCloseWaitCause[0];

        /// <summary>
        /// The service: "postgres :5432" (the processes behind a listening socket), "python3 (10288)"
        /// (one program and its children of the same name), "(no owner)".
        /// </summary>
        public string Service { get; internal set; } = string.Empty;

        /// <summary>
        /// The service's main process (the listener's owner, or the common parent); with -GroupBy
        /// Process, the holder (the lowest PID of a shared socket). Null for sockets no process owns.
        /// </summary>
        public int? ProcessId { get; internal set; }

        /// <summary>
        /// The holder for Stop-Process: converts to ProcessId only while this session's listing holds
        /// (see ProcessReference), and only for a service of one process: a service of many (a
        /// database's backends, a server's workers) is stopped gracefully, never by SIGKILL of its
        /// main process, so its Id never converts.
        /// </summary>
        public ProcessReference Id => ProcessIds.Count > 1
            ? ProcessReference.NotListed(ProcessId, Connections.Select(c => c.ComputerName).FirstOrDefault())
            : ProcessReference.Of(ProcessId, Connections.SelectMany(c => c.Owners), Connections.Select(c => c.ComputerName).FirstOrDefault());

        /// <summary>The main process's name. Not ProcessName: Stop-Process would bind -Name from it.</summary>
        public string? Program { get; internal set; }

        /// <summary>Every process holding these sockets (backends, workers, children), lowest first.</summary>
        public TextList<int> ProcessIds { get; internal set; } = new TextList<int>(new int[0]);

        /// <summary>The software recognised from the processes (nginx, PostgreSQL, gunicorn, Python...); null when unknown.</summary>
        public string? Software { get; internal set; }

        /// <summary>CLOSE_WAIT sockets in this group.</summary>
        public int Count { get; internal set; }

        /// <summary>Those in CLOSE_WAIT at least the threshold (-StuckAfter); null where the platform gives no idle time.</summary>
        public int? StuckCount { get; internal set; }

        /// <summary>The longest IdleTime (time since the peer's FIN); null where the platform gives none.</summary>
        public TimeSpan? LongestIdleTime { get; internal set; }

        /// <summary>
        /// The longest time a socket has surely been in CLOSE_WAIT (its IdleTime: a lower bound, as the
        /// ACKs of keepalive probes sent after the FIN move it on); null where unknown.
        /// </summary>
        public TimeSpan? LongestStuckTime { get; internal set; }

        /// <summary>
        /// The longest time a socket may have been in CLOSE_WAIT: DataIdleTime for those whose
        /// IdleTime ACKs moved on (the FIN came no later than the last data), else IdleTime.
        /// Equal to LongestStuckTime when every stuck time is exact; null where unknown.
        /// </summary>
        public TimeSpan? LongestStuckTimeAtMost { get; internal set; }

        public TcpCloseWaitSeverity Severity { get; internal set; }

        /// <summary>True when nothing is wrong: Severity Normal, no cause.</summary>
        public bool Healthy => Severity == TcpCloseWaitSeverity.Normal;

        /// <summary>
        /// The causes by name (NotClosed, NotRead, PeerIdleTimeout, IdlePool, Inherited,
        /// AcceptBacklog); names, not numbers, so that filters, JSON, CSV and remoting keep them.
        /// </summary>
        public TextList<string> Cause { get; private set; } = new TextList<string>(new string[0]);

        /// <summary>What is wrong, in plain words with the numbers.</summary>
        public string Finding { get; internal set; } = string.Empty;

        /// <summary>What to do, with commands; empty when healthy.</summary>
        public string Advice { get; internal set; } = string.Empty;

        /// <summary>The sockets by remote address and port, most first.</summary>
        public TextList<TcpCloseWaitPeer> Peers { get; internal set; } = new TextList<TcpCloseWaitPeer>(new TcpCloseWaitPeer[0]);

        /// <summary>Bytes received and not read, over all the sockets; null where the platform gives no queue.</summary>
        public long? UnreadBytes { get; internal set; }

        /// <summary>The owner's open descriptors (Linux /proc/&lt;pid&gt;/fd); null elsewhere or when unreadable.</summary>
        public int? OpenDescriptors { get; internal set; }

        /// <summary>The owner's soft descriptor limit (Linux /proc/&lt;pid&gt;/limits); null when unlimited or unknown.</summary>
        public long? DescriptorLimit { get; internal set; }

        /// <summary>
        /// The peer's idle timeout inferred from the sockets (how long they sat idle between the
        /// peer's last data and its FIN, where that clusters); null when none is seen.
        /// </summary>
        public TimeSpan? PeerIdleTimeout { get; internal set; }

        /// <summary>
        /// How long clients waited for an answer before they gave up and closed (inbound sockets left
        /// unread or unaccepted, between the client's last data and its FIN, where that clusters); null when none is seen.
        /// </summary>
        public TimeSpan? ClientTimeout { get; internal set; }

        /// <summary>The holder whose descriptors OpenDescriptors and DescriptorLimit count (the one nearest its limit).</summary>
        internal int? DescriptorProcessId { get; set; }

        /// <summary>Other processes that hold some of these sockets too (inherited after fork).</summary>
        public TextList<int> SharedWith { get; internal set; } = new TextList<int>(new int[0]);

        /// <summary>The CLOSE_WAIT sockets themselves, for Close-TcpConnection or a closer look.</summary>
        public TcpConnection[] Connections { get; internal set; } = NoConnections;

        /// <summary>The network namespace of these sockets (as -NetworkNamespace takes it back) when they share one; null for the caller's own or several.</summary>
        public string? NetworkNamespace { get; internal set; }

        /// <summary>Linux: the inode of that namespace, when the sockets share one.</summary>
        public ulong? NetworkNamespaceId { get; internal set; }

        /// <summary>The host name of the machine that listed the sockets.</summary>
        public string? ComputerName { get; internal set; }

        /// <summary>The machine and boot that listed the sockets.</summary>
        public string? BootId { get; internal set; }

        /// <summary>The location fields of the sockets, when they all share one namespace (else only host and boot).</summary>
        internal void LocateFrom(IReadOnlyList<TcpConnection> sockets)
        {
            if (sockets.Count == 0)
            {
                return;
            }

            var first = sockets[0];
            ComputerName = first.ComputerName;
            BootId = first.BootId;
            if (sockets.All(c => c.NetworkNamespaceId == first.NetworkNamespaceId && c.NetworkNamespace == first.NetworkNamespace))
            {
                NetworkNamespace = first.NetworkNamespace;
                NetworkNamespaceId = first.NetworkNamespaceId;
            }
        }

        /// <summary>The causes as values, in their declaration order.</summary>
        internal TcpCloseWaitCause[] Causes
        {
            get => _causes;
            set
            {
                _causes = value.Distinct().OrderBy(c => c).ToArray();
                Cause = new TextList<string>(_causes.Select(c => c.ToString()));
            }
        }

        internal bool Has(TcpCloseWaitCause cause) => Array.IndexOf(_causes, cause) >= 0;

        public override string ToString() =>
            (Service.Length > 0 ? Service : ProcessId is int pid ? $"{Program ?? "?"} ({pid.ToString(System.Globalization.CultureInfo.InvariantCulture)})" : "(no owner)") +
            $": {Count} CLOSE_WAIT, {Severity}" +
            (Cause.Count > 0 ? $" ({Cause})" : string.Empty);
    }
}
