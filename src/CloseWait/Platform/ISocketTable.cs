using System.Collections.Generic;
using System.Threading;

namespace CloseWait.Platform
{
    /// <summary>Reads the operating system's TCP socket table, streaming one connection at a time.</summary>
    internal interface ISocketTable
    {
        IEnumerable<TcpConnection> Read(SocketQuery query, CancellationToken cancellationToken);
    }
}
