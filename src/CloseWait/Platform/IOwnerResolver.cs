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
}
