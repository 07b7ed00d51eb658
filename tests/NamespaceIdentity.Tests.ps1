#Requires -Version 7.0
#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
<#
    Issue 20: a namespace is resolved once and carried. Get-TcpConnection -NetworkNamespace enters
    the namespace once (counted under strace); its connections and settings say which host, boot
    and namespace they were read in; a setting read in a namespace that its name no longer leads to
    is refused by Set-TcpKeepAliveSetting. Linux, root, private namespaces only.
#>

BeforeDiscovery {
    $script:linuxRoot = $IsLinux -and ((id -u) -eq '0') -and [bool](Get-Command unshare -ErrorAction SilentlyContinue) -and [bool](Get-Command socat -ErrorAction SilentlyContinue)
    $script:hasStrace = [bool](Get-Command strace -ErrorAction SilentlyContinue)
}

Describe 'One namespace identity' -Skip:(-not $linuxRoot) {
    BeforeAll {
        $script:modulePath = Join-Path $PSScriptRoot '../out/CloseWait/CloseWait.psd1'
        Import-Module $modulePath -Force
        # In the ephemeral range: namespace A's pool binds its client to it, as a real pool's port is.
        $script:port = Get-Random -Minimum 40000 -Maximum 50000
        $script:script = New-TemporaryFile
        Set-Content -Path $script.FullName -Value "ip link set lo up; exec socat TCP-LISTEN:$port,reuseaddr,fork EXEC:/bin/cat"
        $script:child = Start-Process -FilePath unshare -PassThru -ArgumentList @('--net', 'sh', $script.FullName)
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while (-not $child.HasExited -and [DateTime]::UtcNow -lt $deadline -and
            -not (& { try { Get-TcpConnection -NetworkNamespace $child.Id -State Listen -LocalPort $port -NoOwner } catch { } })) {
            Start-Sleep -Milliseconds 100
        }
        $script:nsInode = [uint64](((Get-Item "/proc/$($child.Id)/ns/net").LinkTarget) -replace '\D')
        $script:bootId = (Get-Content /proc/sys/kernel/random/boot_id).Trim()
        $script:netnsName = "cw20-$PID"
    }
    AfterAll {
        if ($child -and -not $child.HasExited) { $child.Kill(); $null = $child.WaitForExit(10000) }
        ip netns del $netnsName 2>$null
        if ($script) { Remove-Item $script.FullName -ErrorAction SilentlyContinue }
    }

    It 'Test-TcpCloseWait -AllNetworkNamespaces does not take a listener of another namespace for the socket''s own' {
        # Namespace A: an outbound connection from local port $port whose peer closed (CLOSE_WAIT, unread FIN);
        # the socat namespace (B) listens on that same port number.
        $readyFile = New-TemporaryFile
        $pool = Start-Process -FilePath unshare -PassThru -ArgumentList @('--net', (Join-Path $PSHOME 'pwsh'),
            '-NoProfile', '-NonInteractive', '-Command', @"
ip link set lo up
`$l = [System.Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp')
`$l.Bind([System.Net.IPEndPoint]::new([System.Net.IPAddress]::Loopback, 0)); `$l.Listen(4)
`$c = [System.Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp')
`$c.Bind([System.Net.IPEndPoint]::new([System.Net.IPAddress]::Loopback, $port)); `$c.Connect(`$l.LocalEndPoint)
`$s = `$l.Accept(); `$s.Close()
Set-Content -Path '$($readyFile.FullName)' -Value ready
Start-Sleep -Seconds 120
"@)
        try {
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while (-not (Get-Content $readyFile.FullName -ErrorAction SilentlyContinue) -and -not $pool.HasExited -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
            $d = $null
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            while (-not $d -and [DateTime]::UtcNow -lt $deadline) {
                $d = @(Test-TcpCloseWait -AllNetworkNamespaces -LocalPort $port -StuckAfter 0 -MinimumCount 1 | Where-Object ProcessId -eq $pool.Id)
                if (-not $d) { Start-Sleep -Milliseconds 200 }
            }
            $d.Count | Should -Be 1
            $d[0].Cause | Should -Contain 'IdlePool'
            $d[0].Cause | Should -Not -Contain 'NotRead'
            $d[0].NetworkNamespaceId | Should -Be ([uint64](((Get-Item "/proc/$($pool.Id)/ns/net").LinkTarget) -replace '\D'))
        }
        finally {
            if (-not $pool.HasExited) { $pool.Kill(); $null = $pool.WaitForExit(10000) }
            Remove-Item $readyFile.FullName -ErrorAction SilentlyContinue
        }
    }

    It 'Get-TcpConnection -NetworkNamespace <pid> enters the namespace once' -Skip:(-not $hasStrace) {
        $trace = New-TemporaryFile
        try {
            $pwsh = Join-Path $PSHOME 'pwsh'
            $null = strace -f -qq -e trace=setns -o $trace.FullName $pwsh -NoProfile -NonInteractive -Command "Import-Module '$modulePath'; @(Get-TcpConnection -NetworkNamespace $($child.Id) -LocalPort $port).Count"
            $joins = @(Get-Content $trace.FullName | Where-Object { $_ -match 'setns\(.*CLONE_NEWNET\)\s+=\s+0' })
            $joins.Count | Should -Be 1
        }
        finally { Remove-Item $trace.FullName -ErrorAction SilentlyContinue }
    }

    It 'Set-TcpKeepAliveSetting -NetworkNamespace <pid> -PassThru enters twice: to read and plan, then to write and read back (issue 20)' -Skip:(-not $hasStrace) {
        $trace = New-TemporaryFile
        try {
            $pwsh = Join-Path $PSHOME 'pwsh'
            $time = Get-Random -Minimum 400 -Maximum 900
            $null = strace -f -qq -e trace=setns -o $trace.FullName $pwsh -NoProfile -NonInteractive -Command "Import-Module '$modulePath'; (Set-TcpKeepAliveSetting -NetworkNamespace $($child.Id) -Time $time -PassThru -Confirm:`$false).Time.TotalSeconds"
            $joins = @(Get-Content $trace.FullName | Where-Object { $_ -match 'setns\(.*CLONE_NEWNET\)\s+=\s+0' })
            $joins.Count | Should -Be 2
            (Get-TcpKeepAliveSetting -NetworkNamespace $child.Id).Time.TotalSeconds | Should -Be $time
        }
        finally { Remove-Item $trace.FullName -ErrorAction SilentlyContinue }
    }

    It 'connections read in a namespace say which host, boot and namespace' {
        $c = @(Get-TcpConnection -NetworkNamespace $child.Id -State Listen -LocalPort $port)
        $c.Count | Should -Be 1
        $c[0].NetworkNamespace | Should -Be ([string]$child.Id)
        $c[0].NetworkNamespaceId | Should -Be $nsInode
        $c[0].ComputerName | Should -Be ([Environment]::MachineName)
        $c[0].BootId | Should -Be $bootId
    }

    It 'a setting says which host, boot and namespace it was read in' {
        $s = Get-TcpKeepAliveSetting -NetworkNamespace $child.Id
        $s.NetworkNamespaceId | Should -Be $nsInode
        $s.ComputerName | Should -Be ([Environment]::MachineName)
        $s.BootId | Should -Be $bootId
    }

    It 'Set-TcpKeepAliveSetting refuses a setting whose namespace name now leads to another namespace' {
        ip netns add $netnsName
        $old = Get-TcpKeepAliveSetting -NetworkNamespace $netnsName
        $old.NetworkNamespaceId | Should -Not -BeNullOrEmpty
        # The "container" restarts: the same name now names a new namespace. A process keeps the old
        # one alive meanwhile, so the kernel cannot give the new one the freed inode number.
        $keeper = Start-Process -FilePath ip -ArgumentList 'netns', 'exec', $netnsName, 'sleep', '120' -PassThru
        try {
            $deadline = [DateTime]::UtcNow.AddSeconds(20)
            while ([DateTime]::UtcNow -lt $deadline -and -not $keeper.HasExited -and
                ([uint64](((Get-Item "/proc/$($keeper.Id)/ns/net" -ErrorAction SilentlyContinue).LinkTarget) -replace '\D') -ne $old.NetworkNamespaceId)) {
                Start-Sleep -Milliseconds 50
            }
            ip netns del $netnsName
            ip netns add $netnsName
        }
        finally {
            if (-not $keeper.HasExited) { $keeper.Kill(); $null = $keeper.WaitForExit(10000) }
        }
        $before = Get-TcpKeepAliveSetting -NetworkNamespace $netnsName
        $before.NetworkNamespaceId | Should -Not -Be $old.NetworkNamespaceId
        $old | Set-TcpKeepAliveSetting -Time 123 -ErrorVariable failed -ErrorAction SilentlyContinue
        $failed.Count | Should -Be 1
        $failed[0].FullyQualifiedErrorId | Should -Be 'SettingListedElsewhere,CloseWait.Commands.SetTcpKeepAliveSettingCommand'
        (Get-TcpKeepAliveSetting -NetworkNamespace $netnsName).Time | Should -Be $before.Time
        # The fresh record goes through.
        $before | Set-TcpKeepAliveSetting -Time 123 -ErrorAction Stop
        (Get-TcpKeepAliveSetting -NetworkNamespace $netnsName).Time | Should -Be ([timespan]::FromSeconds(123))
    }

    It 'Set-TcpTimeWaitSetting refuses a setting from another boot' {
        $s = Get-TcpTimeWaitSetting -NetworkNamespace $child.Id
        $s.NetworkNamespaceId | Should -Be $nsInode
        $record = [pscustomobject]@{ NetworkNamespace = [string]$child.Id; NetworkNamespaceId = $s.NetworkNamespaceId; BootId = 'another-boot'; ComputerName = 'elsewhere'; TimeWaitReuse = 1 }
        $record | Set-TcpTimeWaitSetting -ErrorVariable failed -ErrorAction SilentlyContinue
        $failed.Count | Should -Be 1
        $failed[0].FullyQualifiedErrorId | Should -Be 'SettingListedElsewhere,CloseWait.Commands.SetTcpTimeWaitSettingCommand'
    }
}

Describe 'A -NetworkNamespace path follows PowerShell''s location and ~ (issue 19 item 7)' -Skip:(-not ($IsLinux -and ((id -u) -eq '0'))) {
    BeforeAll {
        Import-Module (Join-Path (Split-Path $PSScriptRoot -Parent) 'out/CloseWait/CloseWait.psd1') -Force
        $script:own = (Get-TcpKeepAliveSetting -NetworkNamespace /proc/self/ns/net).NetworkNamespaceId
        $script:netns = "cw19p-$PID"
        ip netns add $netns
        $script:netnsId = (Get-TcpKeepAliveSetting -NetworkNamespace "/run/netns/$netns").NetworkNamespaceId
    }
    AfterAll {
        ip netns del $netns 2>$null
    }

    It '<Command> after Set-Location /proc, with ./self/ns/net' -ForEach @(
        @{ Command = 'Get-TcpConnection -NetworkNamespace ./self/ns/net -State Listen' }
        @{ Command = 'Get-TcpCloseWait -NetworkNamespace ./self/ns/net' }
        @{ Command = 'Test-TcpCloseWait -NetworkNamespace ./self/ns/net' }
        @{ Command = 'Watch-TcpCloseWait -NetworkNamespace ./self/ns/net -Count 1' }
        @{ Command = 'Close-TcpConnection -NetworkNamespace ./self/ns/net -State CloseWait -LocalPort 1 -WhatIf' }
        @{ Command = 'Get-TcpConnectionSummary -NetworkNamespace ./self/ns/net' }
        @{ Command = 'Get-TcpKeepAliveSetting -NetworkNamespace ./self/ns/net' }
        @{ Command = 'Test-TcpKeepAliveSetting -IdleTimeout 350 -NetworkNamespace ./self/ns/net' }
        @{ Command = 'Set-TcpKeepAliveSetting -Time 300 -NetworkNamespace ./self/ns/net -WhatIf' }
        @{ Command = 'Get-TcpTimeWaitSetting -NetworkNamespace ./self/ns/net' }
        @{ Command = 'Set-TcpTimeWaitSetting -TimeWaitReuse 1 -NetworkNamespace ./self/ns/net -WhatIf' }
        @{ Command = 'Get-TcpPortUsage -NetworkNamespace ./self/ns/net' }
    ) {
        Push-Location /proc
        try {
            $failed = $null
            $null = & ([scriptblock]::Create($Command)) -ErrorVariable failed -ErrorAction SilentlyContinue 3>$null 6>$null
            $failed | Should -BeNullOrEmpty
        }
        finally { Pop-Location }
    }

    It 'the record names the resolved namespace, and a relative name under /run/netns works' {
        Push-Location /proc
        try {
            $s = Get-TcpKeepAliveSetting -NetworkNamespace ./self/ns/net
            $s.NetworkNamespaceId | Should -Be $own
            $s.NetworkNamespace | Should -Be '/proc/self/ns/net'
        }
        finally { Pop-Location }
        Push-Location /run
        try { (Get-TcpKeepAliveSetting -NetworkNamespace "netns/$netns").NetworkNamespaceId | Should -Be $netnsId }
        finally { Pop-Location }
    }

    It 'follows ~ (the FileSystem provider''s home)' {
        $provider = Get-PSProvider FileSystem
        $home0 = $provider.Home
        try {
            $provider.Home = '/run/netns'
            (Get-TcpKeepAliveSetting -NetworkNamespace "~/$netns").NetworkNamespaceId | Should -Be $netnsId
            (Get-TcpConnectionSummary -NetworkNamespace "~/$netns").NetworkNamespace | Should -Be "/run/netns/$netns"
        }
        finally { $provider.Home = $home0 }
    }
}
