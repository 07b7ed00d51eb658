namespace CloseWait
{
    /// <summary>What Close-TcpConnection did with one socket.</summary>
    public enum TcpCloseStatus
    {
        /// <summary>Closed now.</summary>
        Closed = 0,

        /// <summary>The socket no longer existed: its owner or the peer closed it after it was listed.</summary>
        AlreadyGone = 1,

        /// <summary>A different socket now uses the same addresses; it was left alone.</summary>
        Replaced = 2,

        /// <summary>Not attempted: a listening socket that -State did not name.</summary>
        Skipped = 3,

        /// <summary>The attempt failed; an error record says why.</summary>
        Failed = 4,
    }
}
