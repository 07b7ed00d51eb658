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

        // Close-TcpConnection.

        // Keepalive (Get-/Set-/Test-TcpKeepAliveSetting).

        // Test-TcpCloseWait.

        // Watch-TcpCloseWait.

        // Get-TcpPortUsage, Get-/Set-TcpTimeWaitSetting.

        // Network namespaces and containers.
        internal const string NetworkNamespaceGone = "NetworkNamespaceGone";
        internal const string ContainerAmbiguous = "ContainerAmbiguous";
        internal const string AllNetworkNamespacesNotSupported = "AllNetworkNamespacesNotSupported";
        internal const string NetworkNamespaceConflict = "NetworkNamespaceConflict";

        // Remoting: objects listed on another machine or boot.
    }
}
