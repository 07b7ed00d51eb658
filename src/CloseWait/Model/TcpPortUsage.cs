using System;

namespace CloseWait
{
    /// <summary>How close one destination is to running out of local ports.</summary>
    public enum TcpPortUsageVerdict
    {
        /// <summary>Under half the usable range is taken.</summary>
        Ok,

        /// <summary>Half the range or more is taken.</summary>
        Elevated,

        /// <summary>80% or more: new connections may soon fail with "cannot assign requested address" (EADDRNOTAVAIL).</summary>
        NearExhaustion,

        /// <summary>Every usable port is taken: new connections to this destination fail with EADDRNOTAVAIL.</summary>
        Exhausted,
    }

    /// <summary>
    /// Local ephemeral ports taken towards one destination (Direction Outbound), or TIME_WAIT
    /// sockets on one listening port (Direction Inbound: this side closed first). A connection is
    /// unique by its four addresses and ports, so towards one remote address and port a local
    /// address can hold at most RangeSize connections, open or in TIME_WAIT.
    /// </summary>
    public sealed class TcpPortUsage
    {
        /// <summary>Outbound: ports this host took from its ephemeral range; Inbound: connections accepted on a listening port.</summary>
        public string Direction { get; internal set; } = "Outbound";

        public string LocalAddress { get; internal set; } = string.Empty;

        /// <summary>Inbound rows: the listening port; null on outbound rows (their ports are the ones counted).</summary>
        public int? LocalPort { get; internal set; }

        /// <summary>The destination's address; null on inbound rows (any client).</summary>
        public string? RemoteAddress { get; internal set; }

        /// <summary>The destination's port; null on inbound rows.</summary>
        public int? RemotePort { get; internal set; }

        /// <summary>Sockets counted, in any state: outbound, the local ports taken towards the destination.</summary>
        public int InUse { get; internal set; }

        public int TimeWait { get; internal set; }

        public int Established { get; internal set; }

        /// <summary>Usable ephemeral ports (the range minus reserved ports); null on inbound rows.</summary>
        public int? RangeSize { get; internal set; }

        /// <summary>InUse as a percentage of RangeSize, one decimal; null on inbound rows.</summary>
        public double? PercentUsed { get; internal set; }

        public TcpPortUsageVerdict Verdict { get; internal set; }

        /// <summary>When the first TIME_WAIT socket here ends and frees its port; null when none is in TIME_WAIT (or the timer is not known).</summary>
        public TimeSpan? NextPortFreeIn { get; internal set; }

        /// <summary>When the last TIME_WAIT socket here ends.</summary>
        public TimeSpan? TimeWaitExpiresIn { get; internal set; }

        /// <summary>What to do, where the data shows it; null when nothing needs doing.</summary>
        public string? Advice { get; internal set; }

        /// <summary>The network namespace read when not the caller's own.</summary>
        public string? NetworkNamespace { get; internal set; }

        /// <summary>Linux, with -AllNetworkNamespaces: the inode of the network namespace counted (each has its own ports and range).</summary>
        public ulong? NetworkNamespaceId { get; internal set; }

        public override string ToString() =>
            Direction == "Outbound"
                ? $"{LocalAddress} -> {TcpConnection.FormatEndpoint(RemoteAddress ?? string.Empty, RemotePort ?? 0)}: {InUse} of {RangeSize} ports ({PercentUsed}%), {TimeWait} in TIME_WAIT"
                : $"{TcpConnection.FormatEndpoint(LocalAddress, LocalPort ?? 0)}: {TimeWait} TIME_WAIT on a listening port";
    }
}
