using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;

namespace CloseWait.Platform.Linux
{
    /// <summary>
    /// A network namespace to enter: the paths that may reach it, tried in order, and, when known,
    /// its inode, which the opened descriptor must show (a path can outlive what it named: a PID
    /// reused, a container restarted).
    /// </summary>
    internal sealed class NamespaceTarget
    {
        private readonly IReadOnlyList<string> _paths;
        private readonly bool _searchProc;

        internal NamespaceTarget(string? spec, ulong? inode, IReadOnlyList<string> paths, bool searchProc)
        {
            Spec = spec;
            Inode = inode;
            _paths = paths;
            _searchProc = searchProc;
        }

        /// <summary>What the user or the listing called it (a PID, name or path); for messages.</summary>
        public string? Spec { get; }

        public ulong? Inode { get; }

        /// <summary>A PID, `ip netns` name, container name or id, or path, resolved now (throws when not found).</summary>
        internal static NamespaceTarget Of(string spec) =>
            new NamespaceTarget(spec, null, new[] { LinuxNetworkNamespace.ResolvePath(spec) }, searchProc: false);

        /// <summary>A resolved identity: its paths, each entered only when it still leads to its inode.</summary>
        internal static NamespaceTarget Of(NamespaceIdentity identity) =>
            new NamespaceTarget(identity.Spec, identity.Inode, identity.EntryPaths, searchProc: false);

        /// <summary>
        /// The namespace a connection was listed in: its inode first, through the path it was listed
        /// by when that still leads there, else through any process now in it.
        /// </summary>
        internal static NamespaceTarget OfListed(string? spec, ulong inode)
        {
            var paths = new List<string>();
            if (spec != null)
            {
                try
                {
                    paths.Add(LinuxNetworkNamespace.ResolvePath(spec));
                }
                catch (CloseWaitException)
                {
                    // The process it was listed by is gone; another process in the namespace will do.
                }
            }
            else
            {
                paths.Add("/proc/thread-self/ns/net");
            }

            return new NamespaceTarget(spec, inode, paths, searchProc: true);
        }

        internal IEnumerable<string> Paths()
        {
            foreach (string path in _paths)
            {
                yield return path;
            }

            if (!_searchProc || Inode == null)
            {
                yield break;
            }

            foreach (var ns in LinuxNamespaceScan.Enumerate(CancellationToken.None))
            {
                if (ns.Inode == Inode)
                {
                    foreach (string path in ns.Target.Paths())
                    {
                        yield return path;
                    }
                }
            }
        }
    }

    /// <summary>One network namespace in use on the host: its inode, the processes in it, its `ip netns` name.</summary>
    internal sealed class LinuxNamespaceInfo
    {
        internal LinuxNamespaceInfo(ulong inode, bool isOwn)
        {
            Inode = inode;
            IsOwn = isOwn;
        }

        public ulong Inode { get; }

        /// <summary>The namespace of the thread that scanned (the host's, for a caller on the host).</summary>
        public bool IsOwn { get; }

        /// <summary>Ascending.</summary>
        public List<int> ProcessIds { get; } = new List<int>();

        /// <summary>The name under /run/netns, null when it has none.</summary>
        public string? Name { get; internal set; }

        /// <summary>
        /// How connections name it in NetworkNamespace (what -NetworkNamespace accepts back): the
        /// `ip netns` name, else the PID of its first process; null for the caller's own.
        /// </summary>
        public string? Spec =>
            IsOwn ? null : Name ?? (ProcessIds.Count > 0 ? ProcessIds[0].ToString(CultureInfo.InvariantCulture) : null);

        /// <summary>This namespace as the identity its connections and settings are located by.</summary>
        internal NamespaceIdentity Identity(string? computerName, string? bootId)
        {
            var target = Target;
            return new NamespaceIdentity(Spec, Inode, target.Paths().ToList(), computerName, bootId, Name);
        }

        internal NamespaceTarget Target
        {
            get
            {
                var paths = new List<string>(ProcessIds.Count + 1);
                if (Name != null)
                {
                    paths.Add(LinuxNamespaceScan.NetnsDirectory + "/" + Name);
                }

                paths.AddRange(ProcessIds.Select(pid => "/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/ns/net"));
                return new NamespaceTarget(Spec ?? Inode.ToString(CultureInfo.InvariantCulture), Inode, paths, searchProc: false);
            }
        }
    }

    /// <summary>Finds every network namespace in use on the host: one readlink per process, one open per `ip netns` name.</summary>
    internal static class LinuxNamespaceScan
    {
        internal const string NetnsDirectory = "/run/netns";

        /// <summary>The caller's namespace first, then by their first process.</summary>
        internal static List<LinuxNamespaceInfo> Enumerate(CancellationToken cancellationToken)
        {
            ulong? own = LinuxNetworkNamespace.OwnInode();
            var byInode = new Dictionary<ulong, LinuxNamespaceInfo>();
            LinuxNamespaceInfo Get(ulong inode)
            {
                if (!byInode.TryGetValue(inode, out var info))
                {
                    byInode[inode] = info = new LinuxNamespaceInfo(inode, inode == own);
                }

                return info;
            }

            if (own is ulong ownInode)
            {
                Get(ownInode);
            }

            foreach (int pid in LinuxOwnerResolver.ListPids())
            {
                cancellationToken.ThrowIfCancellationRequested();

                // A process that exits meanwhile, or that root cannot see (another user namespace), is skipped.
                if (LinuxNetworkNamespace.ParseNamespaceLink(LinuxNetworkNamespace.ReadLink("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/ns/net")) is ulong inode)
                {
                    Get(inode).ProcessIds.Add(pid);
                }
            }

            foreach (var (name, path) in NetnsNames())
            {
                if (LinuxNetworkNamespace.InodeOf(path) is ulong inode)
                {
                    var info = Get(inode);
                    info.Name ??= name;
                }
            }

            return byInode.Values
                .OrderBy(n => n.IsOwn ? 0 : 1)
                .ThenBy(n => n.ProcessIds.Count > 0 ? n.ProcessIds[0] : int.MaxValue)
                .ToList();
        }

        /// <summary>
        /// Every namespace with the containers whose processes run in it (the caller's own is not
        /// described: containers sharing the host's network are not told apart from the host).
        /// </summary>
        internal static List<NetworkNamespaceEntry> Describe(CancellationToken cancellationToken)
        {
            var containers = new LinuxContainers();
            var entries = new List<NetworkNamespaceEntry>();
            foreach (var ns in Enumerate(cancellationToken))
            {
                var entry = new NetworkNamespaceEntry { Spec = ns.Spec, Inode = ns.Inode, Name = ns.Name, Where = ns.Identity(Environment.MachineName, PlatformServices.BootId),
                    FirstProcessId = ns.ProcessIds.Count > 0 ? ns.ProcessIds[0] : (int?)null };
                if (!ns.IsOwn)
                {
                    var all = ns.ProcessIds.Select(containers.Of).ToList();
                    entry.OnlyContainers = all.Count > 0 && all.All(i => i != null);
                    var infos = all.Where(i => i != null).Select(i => i!)
                        .GroupBy(i => i.ContainerId).Select(g => g.First()).ToList();
                    entry.Containers = infos.Select(i => i.ContainerName ?? i.ContainerId).ToArray();
                    if (infos.Count == 1)
                    {
                        entry.ContainerId = infos[0].ContainerId;
                    }

                    var runtimes = infos.Select(i => i.Runtime).Distinct().ToList();
                    entry.ContainerRuntime = runtimes.Count == 1 ? runtimes[0] : null;
                    var pods = infos.Select(i => i.PodUid).Distinct().ToList();
                    if (pods.Count == 1 && pods[0] != null)
                    {
                        entry.PodUid = pods[0];
                        entry.PodNamespace = infos[0].PodNamespace;
                        entry.PodName = infos[0].PodName;
                    }
                }

                entries.Add(entry);
            }

            return entries;
        }

        /// <summary>The names `ip netns` made (bind mounts under /run/netns), sorted.</summary>
        internal static IEnumerable<(string Name, string Path)> NetnsNames()
        {
            string[] files;
            try
            {
                files = Directory.GetFiles(NetnsDirectory);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                yield break;
            }

            Array.Sort(files, StringComparer.Ordinal);
            foreach (string path in files)
            {
                yield return (Path.GetFileName(path), path);
            }
        }
    }
}
