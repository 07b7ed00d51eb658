namespace CloseWait
{
    /// <summary>
    /// Every ErrorRecord id the module writes, in one place that code and tests share: one id per
    /// failure, the same on every OS. FullyQualifiedErrorId is "id,cmdlet type": keep ids short,
    /// stable and PascalCase.
    /// </summary>
    internal static class ErrorIds
    {
        // Listing, filters and input records (Get-TcpConnection, Get-TcpCloseWait, piped records).

        /// <summary>Linux on a CPU architecture whose open flags and system call numbers CloseWait does not know.</summary>
        internal const string UnsupportedArchitecture = "UnsupportedArchitecture";

        // Close-TcpConnection.

        /// <summary>The socket with the record's cookie or inode is in a state it cannot have reached from the record's state (an edited record): left open.</summary>
        internal const string ConnectionStateMismatch = "ConnectionStateMismatch";

        // Keepalive (Get-/Set-/Test-TcpKeepAliveSetting).

        // Test-TcpCloseWait.

        // Watch-TcpCloseWait.

        // Get-TcpPortUsage, Get-/Set-TcpTimeWaitSetting.

        // Network namespaces and containers.

        /// <summary>-NetworkNamespace (or a piped record's NetworkNamespace) names something that is not a network namespace.</summary>
        internal const string InvalidNetworkNamespace = "InvalidNetworkNamespace";

        // Remoting: objects listed on another machine or boot.
    }
}
