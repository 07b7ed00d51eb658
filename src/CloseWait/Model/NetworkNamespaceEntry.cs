namespace CloseWait
{
    /// <summary>One network namespace in use on the host, and the containers whose processes run in it.</summary>
    internal sealed class NetworkNamespaceEntry
    {
        /// <summary>What -NetworkNamespace accepts for it (an `ip netns` name or a PID); null for the caller's own.</summary>
        public string? Spec { get; internal set; }

        public ulong Inode { get; internal set; }

        public string? Name { get; internal set; }

        /// <summary>Every container with a process in the namespace (a pod's share one), by name where known, else by id.</summary>
        public string[] Containers { get; internal set; } = new string[0];

        /// <summary>Every process in the namespace runs in a container (none is the host's).</summary>
        public bool OnlyContainers { get; internal set; }

        /// <summary>Set when exactly one container uses the namespace.</summary>
        public string? ContainerId { get; internal set; }

        public string? ContainerRuntime { get; internal set; }

        /// <summary>Set when the containers in the namespace belong to one Kubernetes pod.</summary>
        public string? PodNamespace { get; internal set; }

        public string? PodName { get; internal set; }

        public string? PodUid { get; internal set; }

        /// <summary>The lowest PID in the namespace (what its Spec is when it has no `ip netns` name); null when none.</summary>
        internal int? FirstProcessId { get; set; }

        /// <summary>The scan's identity of the namespace (how to enter it, inode-checked), set by the scan.</summary>
        internal NamespaceIdentity? Where { get; set; }

        /// <summary>The identity settings and rows read in this namespace are located by.</summary>
        internal NamespaceIdentity Identity() =>
            Where ?? new NamespaceIdentity(Spec, Inode, new string[0], System.Environment.MachineName, Platform.PlatformServices.BootId, Name);
    }
}
