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
        internal const string ProcessIdIsNull = nameof(ProcessIdIsNull);
        internal const string SocketTableAccessDenied = nameof(SocketTableAccessDenied);
        internal const string SocketTableReadFailed = nameof(SocketTableReadFailed);
        internal const string SocketTableMalformed = nameof(SocketTableMalformed);
        internal const string PlatformNotSupported = nameof(PlatformNotSupported);

        /// <summary>Linux on a CPU architecture whose open flags and system call numbers CloseWait does not know.</summary>
        internal const string UnsupportedArchitecture = "UnsupportedArchitecture";

        // Close-TcpConnection.
        internal const string ListenerNotClosed = nameof(ListenerNotClosed);

        /// <summary>The OS refused the close for lack of rights (Linux CAP_NET_ADMIN or ptrace rights, Windows elevation).</summary>
        internal const string SocketCloseAccessDenied = nameof(SocketCloseAccessDenied);

        /// <summary>This OS or kernel cannot close that socket at all (IPv6 on Windows, macOS, no CONFIG_INET_DIAG_DESTROY).</summary>
        internal const string SocketCloseNotSupported = nameof(SocketCloseNotSupported);

        /// <summary>The -Method asked for does not exist here (Shutdown on Windows, or a kernel without pidfd_getfd).</summary>
        internal const string CloseMethodNotSupported = nameof(CloseMethodNotSupported);
        internal const string SocketCloseFailed = nameof(SocketCloseFailed);
        internal const string SocketOwnerUnknown = nameof(SocketOwnerUnknown);
        internal const string SocketDiagUnavailable = nameof(SocketDiagUnavailable);
        internal const string ConnectionIdentityUnknown = nameof(ConnectionIdentityUnknown);

        /// <summary>The socket with the record's cookie or inode is in a state it cannot have reached from the record's state (an edited record): left open.</summary>
        internal const string ConnectionStateMismatch = "ConnectionStateMismatch";

        /// <summary>The socket with the record's cookie is open on other addresses than the record's (an edited record, or another socket's cookie): left open.</summary>
        internal const string ConnectionRecordMismatch = "ConnectionRecordMismatch";

        // Keepalive (Get-/Set-/Test-TcpKeepAliveSetting).
        internal const string KeepAlivePermissionDenied = nameof(KeepAlivePermissionDenied);
        internal const string KeepAliveSettingNotFound = nameof(KeepAliveSettingNotFound);
        internal const string KeepAliveReadFailed = nameof(KeepAliveReadFailed);
        internal const string KeepAliveWriteFailed = nameof(KeepAliveWriteFailed);
        internal const string KeepAliveReadOnly = nameof(KeepAliveReadOnly);
        internal const string KeepAlivePersistFailed = nameof(KeepAlivePersistFailed);
        internal const string KeepAlivePersistNotSupported = nameof(KeepAlivePersistNotSupported);
        internal const string KeepAliveRollbackFailed = nameof(KeepAliveRollbackFailed);
        internal const string KeepAliveNothingToSet = nameof(KeepAliveNothingToSet);
        internal const string KeepAliveChangedMeanwhile = nameof(KeepAliveChangedMeanwhile);
        internal const string KeepAliveTimeOutOfRange = nameof(KeepAliveTimeOutOfRange);
        internal const string KeepAliveTimeNotWhole = nameof(KeepAliveTimeNotWhole);
        internal const string KeepAliveIntervalOutOfRange = nameof(KeepAliveIntervalOutOfRange);
        internal const string KeepAliveIntervalNotWhole = nameof(KeepAliveIntervalNotWhole);
        internal const string KeepAliveProbesOutOfRange = nameof(KeepAliveProbesOutOfRange);
        internal const string KeepAliveProbesNotSupported = nameof(KeepAliveProbesNotSupported);
        internal const string IdleTimeoutTooShort = nameof(IdleTimeoutTooShort);
        internal const string PersistNotSupportedForNetworkNamespace = nameof(PersistNotSupportedForNetworkNamespace);

        // Test-TcpCloseWait.
        internal const string DiagnosisNeedsOwners = "DiagnosisNeedsOwners";

        // Watch-TcpCloseWait.

        // Export-TcpCloseWaitMetric.

        /// <summary>The folder of -Path does not exist (the textfile collector's directory is created by its package, not by the export).</summary>
        internal const string MetricFolderNotFound = nameof(MetricFolderNotFound);

        /// <summary>The metrics file could not be written or renamed into place.</summary>
        internal const string MetricWriteFailed = nameof(MetricWriteFailed);

        // Get-TcpPortUsage, Get-/Set-TcpTimeWaitSetting.
        internal const string TimeWaitSettingNotSupported = nameof(TimeWaitSettingNotSupported);
        internal const string PortRangeBelow1024 = nameof(PortRangeBelow1024);
        internal const string PortRangeCollidesWithListener = nameof(PortRangeCollidesWithListener);
        internal const string PortRangeInvalid = nameof(PortRangeInvalid);
        internal const string ReservedPortsInvalid = nameof(ReservedPortsInvalid);
        internal const string TimeWaitReuseOutOfRange = nameof(TimeWaitReuseOutOfRange);
        internal const string MaxTimeWaitBucketsOutOfRange = nameof(MaxTimeWaitBucketsOutOfRange);
        internal const string MaxTimeWaitBucketsLowered = nameof(MaxTimeWaitBucketsLowered);
        internal const string FinWait2TimeoutOutOfRange = nameof(FinWait2TimeoutOutOfRange);
        internal const string TimeWaitDurationOutOfRange = nameof(TimeWaitDurationOutOfRange);
        internal const string MaximumSegmentLifetimeOutOfRange = nameof(MaximumSegmentLifetimeOutOfRange);
        internal const string TimeWaitRecycleRemoved = nameof(TimeWaitRecycleRemoved);
        internal const string TimeWaitNothingToSet = nameof(TimeWaitNothingToSet);
        internal const string TimeWaitPermissionDenied = nameof(TimeWaitPermissionDenied);
        internal const string TimeWaitReadOnly = nameof(TimeWaitReadOnly);
        internal const string TimeWaitPersistFailed = nameof(TimeWaitPersistFailed);
        internal const string TimeWaitWriteFailed = nameof(TimeWaitWriteFailed);
        internal const string TimeWaitSettingNotFound = nameof(TimeWaitSettingNotFound);
        internal const string TimeWaitReadFailed = nameof(TimeWaitReadFailed);
        internal const string TimeWaitRollbackFailed = nameof(TimeWaitRollbackFailed);
        internal const string TimeWaitChangedMeanwhile = nameof(TimeWaitChangedMeanwhile);
        internal const string TimeWaitPersistNotSupported = nameof(TimeWaitPersistNotSupported);

        // Network namespaces and containers.
        internal const string InvalidNetworkNamespace = nameof(InvalidNetworkNamespace);
        internal const string NetworkNamespaceNotFound = nameof(NetworkNamespaceNotFound);
        internal const string NetworkNamespaceAccessDenied = nameof(NetworkNamespaceAccessDenied);
        internal const string NetworkNamespaceNotSupported = nameof(NetworkNamespaceNotSupported);
        internal const string NetworkNamespaceGone = "NetworkNamespaceGone";
        internal const string ContainerAmbiguous = "ContainerAmbiguous";
        internal const string AllNetworkNamespacesNotSupported = "AllNetworkNamespacesNotSupported";
        internal const string NetworkNamespaceConflict = "NetworkNamespaceConflict";

        // Remoting: objects listed on another machine or boot.

        /// <summary>Close-TcpConnection got a connection listed on another machine, boot or network namespace.</summary>
        internal const string ConnectionListedElsewhere = "ConnectionListedElsewhere";

        /// <summary>A piped setting was read on another host, boot or network namespace than its NetworkNamespace names now.</summary>
        internal const string SettingListedElsewhere = nameof(SettingListedElsewhere);

        /// <summary>A setting piped from one network namespace, with a typed -NetworkNamespace naming another.</summary>
        internal const string SettingNamespaceConflict = nameof(SettingNamespaceConflict);
    }
}
