using System.Collections.Generic;
using System.Threading;

namespace CloseWait.Platform
{
    /// <summary>Finds the processes that hold sockets, in one pass per call.</summary>
    internal interface IOwnerResolver
    {
        /// <summary>
        /// Fills ProcessId, ProcessName and Owners of each connection it can. Returns how many
        /// processes could not be inspected (not root), so the caller can warn once.
        /// </summary>
        int Resolve(IReadOnlyList<TcpConnection> connections, CancellationToken cancellationToken);
    }

    /// <summary>
    /// An owner lookup that can look in given processes only (Linux: their /proc/&lt;pid&gt;/fd,
    /// instead of every process's). Watch-TcpCloseWait asks the processes that already hold its
    /// sockets first: a leaking process is one of them.
    /// </summary>
    internal interface IOwnerResolverInProcesses
    {
        /// <summary>As <see cref="IOwnerResolver.Resolve"/>, but only the descriptors of <paramref name="processIds"/> are read.</summary>
        int ResolveAmong(IReadOnlyList<TcpConnection> connections, IEnumerable<int> processIds, CancellationToken cancellationToken);
    }

    /// <summary>
    /// An owner lookup that can start a search kept across calls (Watch-TcpCloseWait: one per
    /// watch), so that the owners of a few new sockets are found without reading every descriptor.
    /// </summary>
    internal interface IOwnerSearchSource
    {
        IOwnerSearch StartSearch();
    }

    /// <summary>
    /// A search for the owners of exactly the sockets asked about, sample after sample. It keeps
    /// what the last reads of each process's descriptors saw; nothing it keeps is trusted without
    /// reading the descriptor again.
    /// </summary>
    internal interface IOwnerSearch
    {
        /// <summary>True once <see cref="ResolveAll"/> has run: only then can <see cref="ResolveTargeted"/> find sockets opened before it.</summary>
        bool Primed { get; }

        /// <summary>As <see cref="IOwnerResolver.Resolve"/> (every process, every owner), and remembers what it read.</summary>
        int ResolveAll(IReadOnlyList<TcpConnection> connections, CancellationToken cancellationToken);

        /// <summary>
        /// Fills the owners of the connections it can find without reading every descriptor: where a
        /// socket was last seen (one descriptor read to confirm), then the descriptors of the
        /// processes whose table changed since it last read them, <paramref name="likelyProcesses"/>
        /// first, stopping when every socket is found. Returns how many were found.
        /// </summary>
        int ResolveTargeted(IReadOnlyList<TcpConnection> connections, IEnumerable<int> likelyProcesses, CancellationToken cancellationToken);
    }
}
