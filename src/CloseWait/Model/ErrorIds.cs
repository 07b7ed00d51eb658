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
        internal const string TimeWaitWriteFailed = nameof(TimeWaitWriteFailed);
        internal const string TimeWaitSettingNotFound = nameof(TimeWaitSettingNotFound);
        internal const string TimeWaitReadFailed = nameof(TimeWaitReadFailed);
        internal const string TimeWaitRollbackFailed = nameof(TimeWaitRollbackFailed);
        internal const string TimeWaitPersistNotSupported = nameof(TimeWaitPersistNotSupported);

        // Network namespaces and containers.

        // Remoting: objects listed on another machine or boot.
    }
}
