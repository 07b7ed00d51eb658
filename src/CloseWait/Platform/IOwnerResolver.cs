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
}
