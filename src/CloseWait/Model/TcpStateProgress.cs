namespace CloseWait
{
    /// <summary>
    /// Which states a socket listed in one state can have reached since (RFC 793's state diagram,
    /// as Linux and Windows follow it). A close acts on a socket identified by its cookie or
    /// inode; when the socket's state now is one it could not have reached from the listed state,
    /// the record does not describe it (an edited CSV row, a listener's cookie under CloseWait)
    /// and it must be left alone.
    /// </summary>
    internal static class TcpStateProgress
    {
        internal static bool CanHaveBecome(TcpState listed, TcpState now)
        {
            if (listed == now || now == TcpState.Closed || now == TcpState.DeleteTCB)
            {
                return true;
            }

            switch (listed)
            {
                case TcpState.SynSent:
                    return now != TcpState.Listen && now != TcpState.Bound;
                case TcpState.SynReceived:
                    return now != TcpState.Listen && now != TcpState.Bound && now != TcpState.SynSent;
                case TcpState.Established:
                    return IsAfterEstablished(now);
                case TcpState.FinWait1:
                    return now == TcpState.FinWait2 || now == TcpState.Closing || now == TcpState.TimeWait;
                case TcpState.FinWait2:
                case TcpState.Closing:
                    return now == TcpState.TimeWait;
                case TcpState.CloseWait:
                    return now == TcpState.LastAck;
                default:
                    // Listen, LastAck, TimeWait, Bound: no other state follows but Closed.
                    return false;
            }
        }

        private static bool IsAfterEstablished(TcpState s) =>
            s == TcpState.FinWait1 || s == TcpState.FinWait2 || s == TcpState.Closing || s == TcpState.TimeWait
            || s == TcpState.CloseWait || s == TcpState.LastAck;
    }
}
