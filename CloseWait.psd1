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
    FormatsToProcess     = @('CloseWait.Format.ps1xml', 'CloseWait.Containers.Format.ps1xml')
    TypesToProcess       = @('CloseWait.Types.ps1xml')
    CmdletsToExport      = @(
        'Get-TcpConnection'
        'Get-TcpCloseWait'
        'Get-TcpConnectionSummary'
        'Close-TcpConnection'
        'Get-TcpKeepAliveSetting'
        'Set-TcpKeepAliveSetting'
        'Test-TcpKeepAliveSetting'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags       = @('TCP', 'CLOSE_WAIT', 'netstat', 'ss', 'keepalive', 'sockets', 'Linux', 'Windows', 'macOS')
        }
    }
}
