using System;
using System.Threading;

namespace CloseWait.Platform
{
    /// <summary>
    /// Closes sockets of other processes, one at a time, making sure each is the very socket that
    /// was listed (Linux: its cookie) and never a new one that reuses the same addresses. Holds
    /// kernel handles (netlink sockets per namespace) for the life of one cmdlet call.
    /// </summary>
    internal interface ISocketCloser : IDisposable
    {
        /// <summary>
        /// Closes one socket. Returns Closed, AlreadyGone or Replaced; throws
        /// <see cref="CloseWaitException"/> when the attempt fails, with what to do in its message.
        /// </summary>
        CloseOutcome Close(TcpConnection connection, TcpCloseMethod method, CancellationToken cancellationToken);
    }

    internal sealed class CloseOutcome
    {
        public CloseOutcome(TcpCloseStatus status, string detail)
        {
            Status = status;
            Detail = detail;
        }

        public TcpCloseStatus Status { get; }

        public string Detail { get; }

        /// <summary>The state the socket was left in when it is still in the table (LastAck after a FIN).</summary>
        public TcpState? RemainingState { get; set; }

        /// <summary>-Method Shutdown: the owner's descriptor used, "pid/fd".</summary>
        public string? Via { get; set; }
    }
}
