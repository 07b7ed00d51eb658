namespace CloseWait
{
    /// <summary>
    /// TCP states, named and numbered as Windows' Get-NetTCPConnection (MIB_TCP_STATE) so that
    /// admins' habits carry over. Linux states are mapped onto these.
    /// </summary>
    public enum TcpState
    {
        Closed = 1,
        Listen = 2,
        SynSent = 3,
        SynReceived = 4,
        Established = 5,
        FinWait1 = 6,
        FinWait2 = 7,
        CloseWait = 8,
        Closing = 9,
        LastAck = 10,
        TimeWait = 11,
        DeleteTCB = 12,
        Bound = 100,
    }
}
