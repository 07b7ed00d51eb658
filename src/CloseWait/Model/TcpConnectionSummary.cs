using System;

namespace CloseWait
{
    /// <summary>
    /// Socket counts per state and per owning process, for monitoring loops and fleet overviews:
    /// (Get-TcpConnectionSummary).CloseWait -gt 100.
    /// </summary>
    public sealed class TcpConnectionSummary
    {
        private static readonly TcpProcessSummary[] None = new TcpProcessSummary[0];

        public DateTime Timestamp { get; internal set; }

        public int Total { get; internal set; }

        public int Established { get; internal set; }

        public int Listen { get; internal set; }

        public int CloseWait { get; internal set; }

        public int TimeWait { get; internal set; }

        public int SynSent { get; internal set; }

        public int SynReceived { get; internal set; }

        public int FinWait1 { get; internal set; }

        public int FinWait2 { get; internal set; }

        public int LastAck { get; internal set; }

        public int Closing { get; internal set; }

        public int Closed { get; internal set; }

        /// <summary>Per owning process, most sockets first; empty with -NoOwner.</summary>
        public TcpProcessSummary[] ByProcess { get; internal set; } = None;

        /// <summary>Sockets with no visible owner (TIME_WAIT has none; without root, other users' sockets).</summary>
        public int? Unowned { get; internal set; }

        public string? NetworkNamespace { get; internal set; }

        /// <summary>With -AllNetworkNamespaces: how many network namespaces were counted (the caller's and every container's); null otherwise.</summary>
        public int? NetworkNamespaceCount { get; internal set; }

        public override string ToString() => $"Total {Total}, CloseWait {CloseWait}, TimeWait {TimeWait}, Established {Established}";
    }

    /// <summary>The sockets one process holds, by state.</summary>
    public sealed class TcpProcessSummary
    {
        public int ProcessId { get; internal set; }

        /// <summary>The process for Stop-Process: converts to ProcessId only while this session's listing holds (see ProcessReference).</summary>
        public ProcessReference Id { get; internal set; } = ProcessReference.NotListed(null, null);

        /// <summary>The process's name. Not ProcessName: Stop-Process would bind -Name from it.</summary>
        public string? Program { get; internal set; }

        public int Total { get; internal set; }

        public int Established { get; internal set; }

        public int Listen { get; internal set; }

        public int CloseWait { get; internal set; }

        /// <summary>FIN_WAIT, LAST_ACK, CLOSING and other states.</summary>
        public int Other { get; internal set; }

        public override string ToString() => $"{ProcessId}/{Program ?? "?"}: {Total} ({CloseWait} CloseWait)";
    }
}
