@{
    RootModule           = 'CloseWait.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '6f1c3d2e-8a4b-4c77-9d2a-3b5e7f0c1a90'
    Author               = 'CloseWait contributors'
    CompanyName          = 'CloseWait'
    Copyright            = '(c) CloseWait contributors. MIT License.'
    Description          = 'Find TCP sockets stuck in CLOSE_WAIT, see who holds them and for how long, close them, and manage the kernel TCP keepalive. Reads the operating system''s own socket tables (netlink sock_diag on Linux, GetExtendedTcpTable on Windows).'
    CompatiblePSEditions = @('Desktop', 'Core')
    PowerShellVersion    = '5.1'
    FormatsToProcess     = @('CloseWait.Format.ps1xml', 'CloseWait.Diagnosis.Format.ps1xml', 'CloseWait.Watch.Format.ps1xml', 'CloseWait.TimeWait.Format.ps1xml', 'CloseWait.Containers.Format.ps1xml')
    TypesToProcess       = @('CloseWait.Types.ps1xml')
    CmdletsToExport      = @(
        'Get-TcpConnection'
        'Get-TcpCloseWait'
        'Test-TcpCloseWait'
        'Watch-TcpCloseWait'
        'Get-TcpConnectionSummary'
        'Close-TcpConnection'
        'Get-TcpKeepAliveSetting'
        'Set-TcpKeepAliveSetting'
        'Test-TcpKeepAliveSetting'
        'Get-TcpPortUsage'
        'Get-TcpTimeWaitSetting'
        'Set-TcpTimeWaitSetting'
        'Export-TcpCloseWaitMetric'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            # Gallery tags: no spaces.
            Tags         = @('TCP', 'CLOSE_WAIT', 'TIME_WAIT', 'netstat', 'ss', 'keepalive', 'sockets', 'networking', 'Linux', 'Windows', 'macOS', 'PSEdition_Core', 'PSEdition_Desktop')
            ProjectUri   = 'https://github.com/closewait/CloseWait'
            LicenseUri   = 'https://github.com/closewait/CloseWait/blob/main/LICENSE'
            ReleaseNotes = @'
0.1.0
- Get-TcpConnection and Get-TcpCloseWait: sockets from the OS's own tables (Linux netlink sock_diag,
  Windows GetExtendedTcpTable, macOS pcblist_n) with owners, queues and idle time; network namespaces.
- Get-TcpConnectionSummary: counts per state and per process.
- Close-TcpConnection: close exactly the listed sockets (Abort or Shutdown), the process runs on.
- Get-, Set- and Test-TcpKeepAliveSetting: read, change (all or nothing, -Persist) and check keepalive
  against a load balancer's idle timeout.
- Views for an 80-column console (Format-Table -View Wide for queues and timers), about_CloseWait,
  tab completion of -ProcessName, -State and -NetworkNamespace.
'@
        }
    }
}
