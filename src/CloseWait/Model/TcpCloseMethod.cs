namespace CloseWait
{
    /// <summary>How Close-TcpConnection closes a socket.</summary>
    public enum TcpCloseMethod
    {
        /// <summary>
        /// The kernel aborts the connection from outside the owner and resets the peer: SOCK_DESTROY
        /// on Linux (CAP_NET_ADMIN, CONFIG_INET_DIAG_DESTROY), SetTcpEntry DELETE_TCB on Windows (elevated, IPv4).
        /// </summary>
        Abort = 0,

        /// <summary>
        /// Linux 5.6+: borrow the owner's descriptor with pidfd_getfd and shut the socket down, as if
        /// the owner had called shutdown(): a FIN, not a reset. Needs the right to trace the owner, not root.
        /// </summary>
        Shutdown = 1,
    }
}
