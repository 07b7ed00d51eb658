using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;

namespace CloseWait.Platform.Linux
{
    /// <summary>The container a process runs in, from the node's own files; what is not known is null.</summary>
    internal sealed class LinuxContainerInfo
    {
        internal LinuxContainerInfo(LinuxContainerCgroup cgroup)
        {
            Runtime = cgroup.Runtime;
            ContainerId = cgroup.ContainerId;
            PodUid = cgroup.PodUid;
        }

        public string? Runtime { get; }

        public string ContainerId { get; }

        public string? ContainerName { get; internal set; }

        public string? PodUid { get; }

        public string? PodNamespace { get; internal set; }

        public string? PodName { get; internal set; }

        internal void ApplyTo(TcpConnection c)
        {
            c.ContainerId = ContainerId;
            c.ContainerName = ContainerName;
            c.ContainerRuntime = Runtime;
            c.PodUid = PodUid;
            c.PodNamespace = PodNamespace;
            c.PodName = PodName;
        }
    }

    /// <summary>
    /// Names containers from what the node itself holds, without asking a runtime's API or CLI
    /// (which may be absent, slow, or another daemon's): the id and the pod UID come from the
    /// owner's /proc/&lt;pid&gt;/cgroup; a docker container's name from config.v2.json under the
    /// data root of each running dockerd (read from its command line); a podman container's name
    /// from its conmon's command line; a pod's namespace and name from the kubelet's log folder
    /// /var/log/pods/&lt;namespace&gt;_&lt;name&gt;_&lt;uid&gt;. One instance caches per call.
    /// </summary>
    internal sealed class LinuxContainers : IContainerResolver
    {
        internal const string DefaultDockerRoot = "/var/lib/docker";

        private static readonly Regex DockerName = new Regex("\"Name\":\"/(?<name>[^\"]+)\"", RegexOptions.CultureInvariant);

        private readonly Dictionary<int, LinuxContainerInfo?> _byPid = new Dictionary<int, LinuxContainerInfo?>();
        private readonly Dictionary<string, string?> _podmanNames;
        private List<string>? _dockerRoots;
        private Dictionary<string, (string Namespace, string Name)>? _pods;

        internal LinuxContainers()
        {
            _podmanNames = new Dictionary<string, string?>(StringComparer.Ordinal);
        }

        /// <summary>Tests: where the kubelet keeps its pod log folders.</summary>
        internal static string PodLogDirectory { get; set; } = "/var/log/pods";

        /// <summary>Fills the container and pod properties of connections whose owner runs in a container.</summary>
        public void Describe(IReadOnlyList<TcpConnection> connections, CancellationToken cancellationToken)
        {
            Dictionary<ulong, NetworkNamespaceEntry>? namespaces = null;
            foreach (var c in connections)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (c.ProcessId is int pid)
                {
                    Of(pid)?.ApplyTo(c);
                }
                else if (c.NetworkNamespace != null && c.NetworkNamespaceId is ulong inode)
                {
                    // No owner (TIME_WAIT, an orphan): the socket still lives in its namespace, and a
                    // namespace that one container's (or one pod's) processes alone use says whose it is.
                    namespaces ??= LinuxNamespaceScan.Describe(cancellationToken).ToDictionary(n => n.Inode);
                    if (namespaces.TryGetValue(inode, out var ns) && ns.OnlyContainers)
                    {
                        c.ContainerId = ns.ContainerId;
                        c.ContainerName = ns.ContainerId != null && ns.Containers.Length == 1 && ns.Containers[0] != ns.ContainerId ? ns.Containers[0] : null;
                        c.ContainerRuntime = ns.ContainerId != null ? ns.ContainerRuntime : null;
                        c.PodUid = ns.PodUid;
                        c.PodNamespace = ns.PodNamespace;
                        c.PodName = ns.PodName;
                    }
                }
            }
        }

        /// <summary>The container <paramref name="pid"/> runs in, null when none (or the process is gone).</summary>
        internal LinuxContainerInfo? Of(int pid)
        {
            if (_byPid.TryGetValue(pid, out var known))
            {
                return known;
            }

            LinuxContainerInfo? info = null;
            if (ReadText("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/cgroup") is string text
                && LinuxContainerCgroup.Parse(text) is LinuxContainerCgroup cgroup)
            {
                info = new LinuxContainerInfo(cgroup);
                info.ContainerName = NameOf(info);
                if (info.PodUid != null && Pods().TryGetValue(info.PodUid, out var pod))
                {
                    info.PodNamespace = pod.Namespace;
                    info.PodName = pod.Name;
                }
            }

            _byPid[pid] = info;
            return info;
        }

        private string? NameOf(LinuxContainerInfo info)
        {
            switch (info.Runtime)
            {
                case LinuxContainerCgroup.Docker:
                    foreach (string root in DockerRoots())
                    {
                        if (ReadText(Path.Combine(root, "containers", info.ContainerId, "config.v2.json")) is string config
                            && DockerName.Match(config) is Match m && m.Success)
                        {
                            return m.Groups["name"].Value;
                        }
                    }

                    return null;
                case LinuxContainerCgroup.Podman:
                    if (_podmanNames.Count == 0)
                    {
                        ReadConmons();
                    }

                    return _podmanNames.TryGetValue(info.ContainerId, out string? name) ? name : null;
                default:
                    return null;
            }
        }

        /// <summary>The data roots of the running dockerd processes (--data-root, or the default).</summary>
        private List<string> DockerRoots()
        {
            if (_dockerRoots != null)
            {
                return _dockerRoots;
            }

            _dockerRoots = new List<string>();
            foreach (var args in CommandLines("dockerd"))
            {
                string root = OptionValue(args, "--data-root", "-g", "--graph") ?? DefaultDockerRoot;
                if (!_dockerRoots.Contains(root))
                {
                    _dockerRoots.Add(root);
                }
            }

            if (_dockerRoots.Count == 0)
            {
                _dockerRoots.Add(DefaultDockerRoot);
            }

            return _dockerRoots;
        }

        /// <summary>Podman starts one conmon per container with the id (-c) and the name (-n) on its command line.</summary>
        private void ReadConmons()
        {
            foreach (var args in CommandLines("conmon"))
            {
                if (OptionValue(args, "-c", "--cid") is string id)
                {
                    _podmanNames[id] = OptionValue(args, "-n", "--name");
                }
            }

            if (_podmanNames.Count == 0)
            {
                _podmanNames[string.Empty] = null; // read once even when there is none
            }
        }

        /// <summary>Pod UID → (namespace, name), from the kubelet's /var/log/pods/&lt;namespace&gt;_&lt;name&gt;_&lt;uid&gt;.</summary>
        private Dictionary<string, (string Namespace, string Name)> Pods()
        {
            if (_pods != null)
            {
                return _pods;
            }

            _pods = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
            string[] dirs;
            try
            {
                dirs = Directory.GetDirectories(PodLogDirectory);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                return _pods;
            }

            foreach (string dir in dirs)
            {
                if (ParsePodLogFolder(Path.GetFileName(dir)) is (string ns, string name, string uid))
                {
                    _pods[uid] = (ns, name);
                }
            }

            return _pods;
        }

        /// <summary>"&lt;namespace&gt;_&lt;name&gt;_&lt;uid&gt;": namespaces and pod names cannot contain '_', so the split is exact.</summary>
        internal static (string Namespace, string Name, string Uid)? ParsePodLogFolder(string folder)
        {
            string[] parts = folder.Split('_');
            if (parts.Length != 3 || parts[0].Length == 0 || parts[1].Length == 0 || parts[2].Length != 36)
            {
                return null;
            }

            return (parts[0], parts[1], parts[2]);
        }

        /// <summary>
        /// Finds a running container by name (docker, podman), Kubernetes pod ("name" or
        /// "namespace/name"), full id or unique id prefix, and returns the network namespace path of
        /// one of its processes; null when nothing matches. Reads /proc/*/cgroup once.
        /// </summary>
        internal static string? FindNamespacePath(string nameOrId)
        {
            var resolver = new LinuxContainers();
            var byId = new Dictionary<string, (int Pid, LinuxContainerInfo Info)>(StringComparer.Ordinal);
            foreach (int pid in LinuxOwnerResolver.ListPids())
            {
                if (ReadText("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/cgroup") is string text
                    && LinuxContainerCgroup.Parse(text) is LinuxContainerCgroup cgroup
                    && !byId.ContainsKey(cgroup.ContainerId))
                {
                    byId[cgroup.ContainerId] = (pid, resolver.Of(pid)!);
                }
            }

            var matches = Match(byId.Values.Select(v => v.Info), nameOrId);
            if (matches.Count == 0)
            {
                return null;
            }

            // Containers of one pod share its namespace, so a pod name that matches several is still one answer.
            var paths = matches.Select(info => byId[info.ContainerId].Pid)
                .Select(pid => "/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/ns/net")
                .GroupBy(path => LinuxNetworkNamespace.InodeOf(path))
                .ToList();
            if (paths.Count > 1)
            {
                throw new CloseWaitException(ErrorIds.ContainerAmbiguous, ErrorCategory.InvalidArgument,
                    $"'{nameOrId}' matches {matches.Count} containers in different network namespaces ({string.Join(", ", matches.Select(m => ShortId(m.ContainerId)))}). Give more of the id, or the container's full name.",
                    nameOrId);
            }

            return paths[0].First();
        }

        /// <summary>
        /// The containers <paramref name="text"/> names: an exact container name, pod name or
        /// namespace/name, or full id, wins; otherwise every container whose id starts with it.
        /// </summary>
        internal static List<LinuxContainerInfo> Match(IEnumerable<LinuxContainerInfo> containers, string text)
        {
            var all = containers.ToList();
            var exact = all.Where(c =>
                string.Equals(c.ContainerId, text, StringComparison.Ordinal)
                || string.Equals(c.ContainerName, text, StringComparison.Ordinal)
                || (c.PodName != null && (string.Equals(c.PodName, text, StringComparison.Ordinal)
                    || string.Equals(c.PodNamespace + "/" + c.PodName, text, StringComparison.Ordinal)))).ToList();
            if (exact.Count > 0)
            {
                return exact;
            }

            string lower = text.ToLowerInvariant();
            return lower.All(ch => (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))
                ? all.Where(c => c.ContainerId.StartsWith(lower, StringComparison.Ordinal)).ToList()
                : new List<LinuxContainerInfo>();
        }

        private static string ShortId(string id) => id.Length > 12 ? id.Substring(0, 12) : id;

        /// <summary>The argument vectors of running processes whose program is <paramref name="program"/>.</summary>
        private static IEnumerable<string[]> CommandLines(string program)
        {
            foreach (int pid in LinuxOwnerResolver.ListPids())
            {
                string dir = "/proc/" + pid.ToString(CultureInfo.InvariantCulture);
                if (!string.Equals(LinuxOwnerResolver.ReadComm(pid), program, StringComparison.Ordinal))
                {
                    continue;
                }

                if (ReadText(dir + "/cmdline") is string cmdline)
                {
                    yield return cmdline.Split(new[] { '\0' }, StringSplitOptions.RemoveEmptyEntries);
                }
            }
        }

        /// <summary>The value of the first of <paramref name="names"/> in "--name value" or "--name=value" form.</summary>
        internal static string? OptionValue(string[] args, params string[] names)
        {
            for (int i = 0; i < args.Length; i++)
            {
                foreach (string name in names)
                {
                    if (args[i] == name && i + 1 < args.Length)
                    {
                        return args[i + 1];
                    }

                    if (args[i].StartsWith(name + "=", StringComparison.Ordinal))
                    {
                        return args[i].Substring(name.Length + 1);
                    }
                }
            }

            return null;
        }

        private static string? ReadText(string path)
        {
            try
            {
                return File.ReadAllText(path, Encoding.UTF8);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                return null;
            }
        }
    }
}
