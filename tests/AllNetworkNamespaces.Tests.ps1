#Requires -Version 7.0
#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
<#
    -AllNetworkNamespaces on the cmdlets that list sockets their own way (Watch-TcpCloseWait,
    Get-TcpPortUsage) and on Test-TcpCloseWait: each finds the sockets of a private network
    namespace (unshare --net) with the switch, and not without it. Linux, root.
#>

BeforeDiscovery {
    $script:linuxRoot = $IsLinux -and ((id -u) -eq '0') -and [bool](Get-Command unshare -ErrorAction SilentlyContinue)
}

Describe '-AllNetworkNamespaces reaches a private namespace' -Skip:(-not $linuxRoot) {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot '../out/CloseWait/CloseWait.psd1') -Force
        $script:portFile = New-TemporaryFile
        # In its own network namespace: a listener, one accepted socket whose peer closed (CLOSE_WAIT)
        # and one open outbound connection (an ephemeral port toward the listener).
        $script:child = Start-Process -FilePath unshare -PassThru -ArgumentList @('--net', (Join-Path $PSHOME 'pwsh'),
            '-NoProfile', '-NonInteractive', '-Command', @"
ip link set lo up
`$l = [System.Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp')
`$l.Bind([System.Net.IPEndPoint]::new([System.Net.IPAddress]::Loopback, 0)); `$l.Listen(4)
`$c = [System.Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp'); `$c.Connect(`$l.LocalEndPoint); `$s = `$l.Accept(); `$c.Close()
`$o = [System.Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp'); `$o.Connect(`$l.LocalEndPoint); `$a = `$l.Accept()
Set-Content -Path '$($portFile.FullName)' -Value `$l.LocalEndPoint.Port
Start-Sleep -Seconds 120
"@)
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while (-not (Get-Content $portFile -ErrorAction SilentlyContinue) -and -not $child.HasExited -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
        $script:port = [int](Get-Content $portFile)
        $script:nsInode = [uint64](((Get-Item "/proc/$($child.Id)/ns/net").LinkTarget) -replace '\D')
        $script:hostInode = [uint64](((Get-Item /proc/self/ns/net).LinkTarget) -replace '\D')
        $nsInode | Should -Not -Be $hostInode
    }
    AfterAll {
        if ($child -and -not $child.HasExited) { $child.Kill(); $null = $child.WaitForExit(10000) }
        if ($portFile) { Remove-Item $portFile -ErrorAction SilentlyContinue }
    }

    It 'Test-TcpCloseWait diagnoses the namespace''s owner' {
        $d = @(Test-TcpCloseWait -AllNetworkNamespaces -LocalPort $port -StuckAfter 0 | Where-Object ProcessId -eq $child.Id)
        $d.Count | Should -Be 1
        $d[0].Connections.NetworkNamespaceId | Should -Be $nsInode
        @(Test-TcpCloseWait -LocalPort $port -StuckAfter 0 | Where-Object ProcessId -eq $child.Id).Count | Should -Be 0
    }

    It 'Watch-TcpCloseWait reports the socket entering, with its namespace' {
        $e = @(Watch-TcpCloseWait -AllNetworkNamespaces -LocalPort $port -Count 1 | Where-Object NetworkNamespaceId -eq $nsInode)
        $e.Count | Should -Be 1
        $e[0].Event | Should -Be 'Entered'
        $e[0].ProcessId | Should -Be $child.Id
        @(Watch-TcpCloseWait -LocalPort $port -Count 1 | Where-Object ProcessId -eq $child.Id).Count | Should -Be 0
    }

    It 'Get-TcpPortUsage counts the namespace''s outbound port against its own range' {
        $rows = @(Get-TcpPortUsage -AllNetworkNamespaces -RemotePort $port | Where-Object { $_.NetworkNamespaceId -eq $nsInode -and $_.Direction -eq 'Outbound' })
        $rows.Count | Should -Be 1
        $rows[0].RemoteAddress | Should -Be '127.0.0.1'
        $rows[0].InUse | Should -BeGreaterOrEqual 1
        $rows[0].NetworkNamespace | Should -Not -BeNullOrEmpty
        @(Get-TcpPortUsage -RemotePort $port | Where-Object { $_.Direction -eq 'Outbound' -and $_.NetworkNamespaceId -eq $nsInode }).Count | Should -Be 0
        # The host's own rows come once, marked with the host's namespace.
        @(Get-TcpPortUsage -AllNetworkNamespaces | Where-Object NetworkNamespaceId -eq $hostInode | Where-Object NetworkNamespace).Count | Should -Be 0
    }
}
