using System;
using System.Collections.Generic;

namespace CloseWait
{
    /// <summary>
    /// Which network namespace a command acts in, resolved once at the command boundary
    /// (<see cref="Platform.PlatformServices.ResolveNamespace"/>): the spec as typed, the namespace
    /// inode, the paths that enter it (each checked against the inode when opened), and the host
    /// and boot it belongs to. Every output type takes its location fields from here
    /// (<see cref="Locate{T}"/>), and every action on a record compares the record with the identity
    /// its spec resolves to now (<see cref="Elsewhere"/>).
    /// </summary>
    internal sealed class NamespaceIdentity
    {
        internal NamespaceIdentity(string? spec, ulong? inode, IReadOnlyList<string> entryPaths, string? computerName, string? bootId, string? name = null)
        {
            Spec = spec;
            Inode = inode;
            EntryPaths = entryPaths;
            ComputerName = computerName;
            BootId = bootId;
            Name = name;
        }

        /// <summary>What the user typed or the scan named it by (a PID, `ip netns` name, container, path); null for the caller's own.</summary>
        internal string? Spec { get; }

        /// <summary>The namespace inode; null off Linux or when it cannot be read.</summary>
        internal ulong? Inode { get; }

        /// <summary>How to enter it: paths tried in order, each entered only when it still leads to <see cref="Inode"/>.</summary>
        internal IReadOnlyList<string> EntryPaths { get; }

        internal string? ComputerName { get; }

        internal string? BootId { get; }

        /// <summary>The `ip netns` name, when it has one.</summary>
        internal string? Name { get; }

        /// <summary>The caller's own namespace: entered by nobody, read on the calling thread.</summary>
        internal bool IsOwn => Spec == null;

        /// <summary>Fills the location fields of an output object: the one place they are set.</summary>
        internal T Locate<T>(T located)
            where T : ILocated
        {
            located.SetLocation(this);
            return located;
        }

        /// <summary>
        /// Null when a record listed at (<paramref name="computerName"/>, <paramref name="bootId"/>,
        /// <paramref name="inode"/>) is in this namespace of this boot; otherwise where it was listed,
        /// in words. Unknown values (a record without them, a platform that has none) do not refuse.
        /// </summary>
        internal string? Elsewhere(string? computerName, string? bootId, ulong? inode)
        {
            string host = computerName ?? "another machine";
            if (bootId != null && BootId != null && !ConnectionOrigin.SameBoot(bootId, BootId))
            {
                return $"host {host} (boot {bootId}), not this machine's current boot ({BootId})";
            }

            if (computerName != null && ComputerName != null && bootId == null
                && !string.Equals(computerName, ComputerName, StringComparison.OrdinalIgnoreCase))
            {
                return $"host {computerName}, not {ComputerName}";
            }

            if (inode is ulong listed && Inode is ulong now && listed != now)
            {
                return Spec == null
                    ? $"host {host} in network namespace net:[{listed}], not in this namespace net:[{now}]"
                    : $"host {host} in network namespace net:[{listed}], not in net:[{now}] which '{Spec}' names now";
            }

            return null;
        }
    }

    /// <summary>An output object that says where it was read: host, boot and network namespace.</summary>
    internal interface ILocated
    {
        void SetLocation(NamespaceIdentity where);
    }
}
