using System.Collections.Generic;
using System.Threading;

namespace CloseWait.Platform
{
    /// <summary>Says which container (and pod) each connection's owner runs in. One instance per call: it caches.</summary>
    internal interface IContainerResolver
    {
        /// <summary>Fills ContainerId, ContainerName, ContainerRuntime and the Pod* properties where the owner's container is known.</summary>
        void Describe(IReadOnlyList<TcpConnection> connections, CancellationToken cancellationToken);
    }
}
