using System.Collections.Generic;
using System.Net.Sockets;

namespace CloseWait.Platform
{
    /// <summary>What a socket table read asks of the kernel: the filters it can apply itself.</summary>
    internal sealed class SocketQuery
    {
        /// <summary>States wanted; null for all.</summary>
        public ICollection<TcpState>? States { get; set; }

        /// <summary>
        /// Local and remote ports wanted; null for any. A table may apply them (Linux: inet_diag
        /// bytecode) or not: the caller filters again either way.
        /// </summary>
        public ICollection<int>? LocalPorts { get; set; }

        public ICollection<int>? RemotePorts { get; set; }

        /// <summary>Local ports from Start to End only (Get-TcpPortUsage: the ephemeral range); null for any. A hint, as the ports above.</summary>
        public (int Start, int End)? LocalPortRange { get; set; }

        /// <summary>InterNetwork, InterNetworkV6, or null for both.</summary>
        public AddressFamily? AddressFamily { get; set; }

        /// <summary>Ask for per-socket TCP details (Linux tcp_info: idle time). Costs a little more per socket.</summary>
        public bool IncludeDetails { get; set; } = true;

        /// <summary>
        /// The namespace to read, resolved once by the command (<see cref="PlatformServices.ResolveNamespace"/>);
        /// null for the caller's own. Every connection read is located by it, unless a scan of every namespace names its own.
        /// </summary>
        public NamespaceIdentity? Namespace { get; set; }

        /// <summary>The spec of <see cref="Namespace"/>; null for the caller's.</summary>
        public string? NetworkNamespace => Namespace?.Spec;

        /// <summary>Read every network namespace in use on the host (Linux); NetworkNamespace is then ignored.</summary>
        public bool AllNetworkNamespaces { get; set; }

        /// <summary>With AllNetworkNamespaces: told before each namespace is read (on the reading thread), and filled as the scan goes.</summary>
        public NamespaceScanProgress? Progress { get; set; }

        public bool WantsFamily(AddressFamily family) => AddressFamily == null || AddressFamily == family;

        public bool WantsState(TcpState state) => States == null || States.Contains(state);
    }

    /// <summary>How far a scan of every network namespace has got, and which namespaces vanished before they could be read.</summary>
    internal sealed class NamespaceScanProgress
    {
        private readonly System.Action<NamespaceScanProgress>? _report;

        internal NamespaceScanProgress(System.Action<NamespaceScanProgress>? report)
        {
            _report = report;
        }

        public int Total { get; internal set; }

        public int Done { get; internal set; }

        /// <summary>Namespaces skipped because their last process exited between listing and reading.</summary>
        public List<string> Vanished { get; } = new List<string>();

        internal void Report() => _report?.Invoke(this);
    }
}
