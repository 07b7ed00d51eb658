using System;
using System.IO;
using System.Text.RegularExpressions;

namespace CloseWait.Platform.Linux
{
    /// <summary>
    /// What a process's /proc/&lt;pid&gt;/cgroup says about the container it runs in: the runtime,
    /// the container id and, under Kubernetes, the pod's UID. Pure parsing: the container runtimes
    /// name the cgroups they create after the container (docker, podman, containerd, CRI-O, with
    /// the cgroupfs or the systemd driver), so the path is the node's own record of it.
    /// </summary>
    internal sealed class LinuxContainerCgroup
    {
        internal const string Docker = "docker";
        internal const string Podman = "podman";
        internal const string Containerd = "containerd";
        internal const string CriO = "cri-o";

        // A segment that names a container: "<prefix>-<64 hex>.scope" (systemd driver, also podman's
        // libpod-<id>.scope/container) or "libpod-<id>" (podman cgroupfs). Conmon's own scopes
        // (libpod-conmon-, crio-conmon-) hold the monitor, not the container, and do not match.
        private static readonly Regex ScopeSegment = new Regex(
            @"^(?<prefix>docker|cri-containerd|crio|libpod)-(?<id>[0-9a-f]{64})(?:\.scope)?$",
            RegexOptions.CultureInvariant);

        private static readonly Regex HexId = new Regex(@"^[0-9a-f]{64}$", RegexOptions.CultureInvariant);

        // kubepods pod segment: "pod<uid>" (cgroupfs) or "kubepods-burstable-pod<uid>.slice" (systemd, '_' for '-').
        private static readonly Regex PodSegment = new Regex(
            @"^(?:kubepods(?:-besteffort|-burstable)?-)?pod(?<uid>[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$",
            RegexOptions.CultureInvariant);

        private LinuxContainerCgroup(string? runtime, string containerId, string? podUid)
        {
            Runtime = runtime;
            ContainerId = containerId;
            PodUid = podUid;
        }

        /// <summary>docker, podman, containerd or cri-o; null when the path names a container but not its runtime (kubepods with the cgroupfs driver).</summary>
        public string? Runtime { get; }

        /// <summary>The container id, 64 lowercase hex digits.</summary>
        public string ContainerId { get; }

        /// <summary>The Kubernetes pod UID (with dashes), null outside a kubepods cgroup.</summary>
        public string? PodUid { get; }

        /// <summary>
        /// Parses the content of /proc/&lt;pid&gt;/cgroup ("hierarchy:controllers:path" per line,
        /// cgroup v1, v2 or both). The unified line (0::) is read first, then the others: on a
        /// hybrid host the v2 line can be "/" while the v1 controllers carry the container.
        /// Null when no line names a container.
        /// </summary>
        internal static LinuxContainerCgroup? Parse(string content)
        {
            LinuxContainerCgroup? other = null;
            using (var reader = new StringReader(content ?? string.Empty))
            {
                string? line;
                while ((line = reader.ReadLine()) != null)
                {
                    int first = line.IndexOf(':');
                    int second = first < 0 ? -1 : line.IndexOf(':', first + 1);
                    if (second < 0)
                    {
                        continue;
                    }

                    var found = ParsePath(line.Substring(second + 1));
                    if (found != null && line.StartsWith("0::", StringComparison.Ordinal))
                    {
                        return found;
                    }

                    other ??= found;
                }
            }

            return other;
        }

        /// <summary>Parses one cgroup path; the innermost segment that names a container wins (a container nested in another).</summary>
        internal static LinuxContainerCgroup? ParsePath(string path)
        {
            string[] segments = (path ?? string.Empty).Split(new[] { '/' }, StringSplitOptions.RemoveEmptyEntries);
            string? podUid = null;
            bool underKubepods = false;
            bool underDocker = false;
            LinuxContainerCgroup? found = null;
            foreach (string segment in segments)
            {
                if (underKubepods && PodSegment.Match(segment) is Match pod && pod.Success)
                {
                    podUid = pod.Groups["uid"].Value.Replace('_', '-');
                }
                else if (segment.StartsWith("kubepods", StringComparison.Ordinal))
                {
                    // kubepods, kubepods.slice, kubepods-burstable.slice (the QoS level).
                    underKubepods = true;
                }
                else if (ScopeSegment.Match(segment) is Match scope && scope.Success)
                {
                    found = new LinuxContainerCgroup(RuntimeOf(scope.Groups["prefix"].Value), scope.Groups["id"].Value, podUid);
                }
                else if (HexId.IsMatch(segment) && (underDocker || podUid != null))
                {
                    // /docker/<id>, or kubepods with the cgroupfs driver (/kubepods/burstable/pod<uid>/<id>),
                    // where docker, containerd and CRI-O all write a bare id: the runtime stays unknown there.
                    found = new LinuxContainerCgroup(podUid == null ? Docker : null, segment, podUid);
                }

                underDocker = segment == "docker";
            }

            return found;
        }

        private static string RuntimeOf(string prefix)
        {
            switch (prefix)
            {
                case "docker":
                    return Docker;
                case "libpod":
                    return Podman;
                case "crio":
                    return CriO;
                default:
                    return Containerd;
            }
        }
    }
}
