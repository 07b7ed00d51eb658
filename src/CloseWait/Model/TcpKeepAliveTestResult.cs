using System;

namespace CloseWait
{
    /// <summary>
    /// Test-TcpKeepAliveSetting's answer: do keepalive probes start before the device in front (a
    /// load balancer, NAT gateway or firewall) drops an idle flow, and what to set when they do not.
    /// Pipe it into Set-TcpKeepAliveSetting to apply the recommendation (RecommendedTime,
    /// RecommendedInterval and RecommendedProbes bind to -Time, -Interval and -Probes).
    /// </summary>
    public sealed class TcpKeepAliveTestResult
    {
        public string Platform { get; internal set; } = string.Empty;

        /// <summary>The network namespace tested (a PID or a path) when not the caller's own.</summary>
        public string? NetworkNamespace { get; internal set; }

        /// <summary>Linux, with -AllNetworkNamespaces: the namespace's inode.</summary>
        public ulong? NetworkNamespaceId { get; internal set; }

        /// <summary>With -AllNetworkNamespaces: the containers whose processes use the namespace (name, else id); empty for the host's.</summary>
        public string[]? Containers { get; internal set; }

        /// <summary>With -AllNetworkNamespaces: the Kubernetes pod that owns the namespace, where the node's files name it.</summary>
        public string? PodNamespace { get; internal set; }

        public string? PodName { get; internal set; }

        /// <summary>The idle timeout of the device in front: flows idle this long are dropped.</summary>
        public TimeSpan IdleTimeout { get; internal set; }

        public TcpKeepAliveVerdict Verdict { get; internal set; }

        /// <summary>Why, in one sentence.</summary>
        public string Reason { get; internal set; } = string.Empty;

        public TimeSpan CurrentTime { get; internal set; }

        public TimeSpan CurrentInterval { get; internal set; }

        public int CurrentProbes { get; internal set; }

        /// <summary>The current values are all the kernel's defaults (never tuned).</summary>
        public bool UsesKernelDefaults { get; internal set; }

        public TimeSpan CurrentDetectionTime => KeepAliveRules.DetectionTime(CurrentTime, CurrentInterval, CurrentProbes);

        /// <summary>The current Time when it passes; otherwise at most 80% of the idle timeout, rounded down.</summary>
        public TimeSpan RecommendedTime { get; internal set; }

        /// <summary>The current Interval when it passes; otherwise at most 10% of the idle timeout, rounded down.</summary>
        public TimeSpan RecommendedInterval { get; internal set; }

        public int RecommendedProbes { get; internal set; }

        public TimeSpan RecommendedDetectionTime => KeepAliveRules.DetectionTime(RecommendedTime, RecommendedInterval, RecommendedProbes);

        /// <summary>The command that applies the recommendation; null when nothing needs to change.</summary>
        public string? RecommendedCommand { get; internal set; }
    }
}
