using System.Net.Sockets;

namespace CloseWait
{
    /// <summary>Close-TcpConnection -PassThru: one per socket, whether it was closed and how.</summary>
    public sealed class TcpCloseResult
    {
        internal TcpCloseResult(TcpConnection connection, TcpCloseStatus status, TcpCloseMethod? method, string detail)
        {
            Connection = connection;
            AddressFamily = connection.AddressFamily;
            LocalAddress = connection.LocalAddress;
            LocalPort = connection.LocalPort;
            RemoteAddress = connection.RemoteAddress;
            RemotePort = connection.RemotePort;
            State = connection.State;
            ProcessId = connection.ProcessId;
            Program = connection.Program;
            Cookie = connection.Cookie;
            NetworkNamespace = connection.NetworkNamespace;
            Status = status;
            Method = method;
            Detail = detail;
        }

        public AddressFamily AddressFamily { get; }

        public string LocalAddress { get; }

        public int LocalPort { get; }

        public string RemoteAddress { get; }

        public int RemotePort { get; }

        /// <summary>The state when the socket was listed.</summary>
        public TcpState State { get; }

        public int? ProcessId { get; }

        /// <summary>The owner for Stop-Process: converts to ProcessId only while this session's listing holds (see ProcessReference).</summary>
        public ProcessReference Id => Connection.Id;

        /// <summary>The owner's name. Not ProcessName: Stop-Process would bind -Name from it.</summary>
        public string? Program { get; }

        public ulong? Cookie { get; }

        public string? NetworkNamespace { get; }

        public TcpCloseStatus Status { get; }

        /// <summary>True when this call closed the socket.</summary>
        public bool Closed => Status == TcpCloseStatus.Closed;

        /// <summary>How it was closed; null when it was not.</summary>
        public TcpCloseMethod? Method { get; }

        /// <summary>
        /// The socket's state in the table right after closing (LastAck while a FIN waits for the
        /// peer's acknowledgement); null when it has left the table or was not closed.
        /// </summary>
        public TcpState? RemainingState { get; internal set; }

        /// <summary>The owner's descriptor that was borrowed (-Method Shutdown), as "pid/fd"; null otherwise.</summary>
        public string? Via { get; internal set; }

        /// <summary>The errno or Win32 error of a failure; null otherwise.</summary>
        public int? NativeError { get; internal set; }

        /// <summary>What happened, in words.</summary>
        public string Detail { get; }

        /// <summary>The connection as it was given.</summary>
        public TcpConnection Connection { get; }

        public override string ToString() =>
            $"{TcpConnection.FormatEndpoint(LocalAddress, LocalPort)} {TcpConnection.FormatEndpoint(RemoteAddress, RemotePort)} {Status}";
    }
}
