#Requires -Version 7.0
#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
<#
    Behaviour of Get-TcpConnection, Get-TcpCloseWait and Get-TcpConnectionSummary against the
    built module (run `dotnet build` first) and real loopback sockets.
    Invoke-Pester ./tests/TcpConnection.Tests.ps1 -Output Detailed
    Linux: run as root for the namespace tests (they are skipped otherwise).
#>

BeforeDiscovery {
    # -Skip is evaluated at discovery, before any BeforeAll runs.
    $script:IsRoot = $IsLinux -and ((id -u) -eq '0')
}

BeforeAll {
    $manifest = Join-Path (Split-Path $PSScriptRoot -Parent) 'out/CloseWait/CloseWait.psd1'
    if (-not (Test-Path $manifest)) { throw "Build the module first (dotnet build): $manifest not found." }
    Import-Module $manifest -Force

    # Polls a condition with a deadline: the tests never sleep a fixed time.
    function Wait-Until([scriptblock] $Condition, [string] $What, [int] $Seconds = 30) {
        $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
        while (-not (& $Condition)) {
            if ([DateTime]::UtcNow -gt $deadline) { throw "Waited $Seconds s for $What." }
            Start-Sleep -Milliseconds 5
        }
    }


    # A server that accepts and never closes; a client that sends a few bytes and closes:
    # the accepted socket, held by this pwsh, sits in CLOSE_WAIT with those bytes unread.
    function New-CloseWaitSocket {
        param([string] $Address = '127.0.0.1', [int] $Bytes = 5, [int] $Count = 1)
        $ip = [System.Net.IPAddress]::Parse($Address)
        $listener = [System.Net.Sockets.Socket]::new($ip.AddressFamily, [System.Net.Sockets.SocketType]::Stream, [System.Net.Sockets.ProtocolType]::Tcp)
        $listener.Bind([System.Net.IPEndPoint]::new($ip, 0))
        $listener.Listen(16)
        $servers = [System.Collections.Generic.List[object]]::new()
        $clientPorts = [System.Collections.Generic.List[int]]::new()
        for ($i = 0; $i -lt $Count; $i++) {
            $client = [System.Net.Sockets.Socket]::new($ip.AddressFamily, [System.Net.Sockets.SocketType]::Stream, [System.Net.Sockets.ProtocolType]::Tcp)
            $client.Connect($listener.LocalEndPoint)
            if ($Bytes -gt 0) { [void] $client.Send([byte[]]::new($Bytes)) }
            $servers.Add($listener.Accept())
            $clientPorts.Add($client.LocalEndPoint.Port)
            $client.Close()
        }
        $port = $listener.LocalEndPoint.Port
        Wait-Until { @(Get-TcpCloseWait -LocalPort $port -NoOwner).Count -eq $Count } "$Count socket(s) in CLOSE_WAIT on port $port"
        [pscustomobject]@{
            Listener    = $listener
            Servers     = $servers
            Port        = $listener.LocalEndPoint.Port
            ClientPorts = $clientPorts
        }
    }

    function Remove-CloseWaitSocket($Sockets) {
        if ($Sockets) {
            $Sockets.Servers | ForEach-Object { $_.Dispose() }
            $Sockets.Listener.Dispose()
        }
    }
}

AfterAll {
    Remove-Module CloseWait -ErrorAction SilentlyContinue
}

Describe 'Get-TcpCloseWait' {
    BeforeAll {
        $v4 = New-CloseWaitSocket -Address '127.0.0.1' -Bytes 5
        $v6 = New-CloseWaitSocket -Address '::1' -Bytes 7
    }
    AfterAll {
        Remove-CloseWaitSocket $v4
        Remove-CloseWaitSocket $v6
    }

    It 'finds the IPv4 CLOSE_WAIT socket with its ports and owner' {
        $c = @(Get-TcpCloseWait -LocalPort $v4.Port)
        $c.Count | Should -Be 1
        $c[0].State | Should -Be ([CloseWait.TcpState]::CloseWait)
        $c[0].LocalAddress | Should -Be '127.0.0.1'
        $c[0].RemotePort | Should -Be $v4.ClientPorts[0]
        $c[0].ProcessId | Should -Be $PID
        $c[0].Id | Should -Be $PID
        $c[0].Program | Should -Be (Get-Process -Id $PID).ProcessName
        $c[0].PSObject.TypeNames | Should -Contain 'CloseWait.TcpConnection'
    }

    It 'finds the IPv6 CLOSE_WAIT socket' {
        $c = @(Get-TcpCloseWait -LocalPort $v6.Port -AddressFamily IPv6)
        $c.Count | Should -Be 1
        $c[0].LocalAddress | Should -Be '::1'
        $c[0].ProcessId | Should -Be $PID
    }

    It 'counts the unread bytes and reports a growing idle time on Linux' -Skip:(-not $IsLinux) {
        $first = Get-TcpCloseWait -LocalPort $v4.Port
        $first.ReceiveQueue | Should -Be 5
        $first.Inode | Should -Not -BeNullOrEmpty
        $first.Cookie | Should -Not -BeNullOrEmpty
        Wait-Until { ((Get-TcpCloseWait -LocalPort $v4.Port).IdleTime - $first.IdleTime).TotalMilliseconds -ge 1000 } 'the idle time to grow by a second'

    }

    It 'keeps only sockets idle long enough with -MinimumIdleTime' -Skip:(-not $IsLinux) {
        Get-TcpCloseWait -LocalPort $v4.Port -MinimumIdleTime 00:10:00 | Should -BeNullOrEmpty
        Get-TcpCloseWait -LocalPort $v4.Port -MinimumIdleTime 600 | Should -BeNullOrEmpty
        @(Get-TcpCloseWait -LocalPort $v4.Port -MinimumIdleTime 0).Count | Should -Be 1
    }

    It 'filters by address prefix, remote port, process and name' {
        @(Get-TcpCloseWait -LocalPort $v4.Port -LocalAddress 127.0.0.0/8).Count | Should -Be 1
        @(Get-TcpCloseWait -LocalPort $v4.Port -LocalAddress 10.0.0.0/8).Count | Should -Be 0
        @(Get-TcpCloseWait -LocalPort $v4.Port -RemotePort $v4.ClientPorts[0]).Count | Should -Be 1
        @(Get-TcpCloseWait -LocalPort $v4.Port -ProcessId $PID).Count | Should -Be 1
        @(Get-TcpCloseWait -LocalPort $v4.Port -ProcessName ((Get-Process -Id $PID).ProcessName.Substring(0, 2) + '*')).Count | Should -Be 1
        @(Get-TcpCloseWait -LocalPort $v4.Port -ProcessName 'no-such-process*').Count | Should -Be 0
    }

    It 'takes processes from the pipeline by Id' {
        @(Get-Process -Id $PID | Get-TcpCloseWait -LocalPort $v4.Port).Count | Should -Be 1
        @(@() | Get-TcpCloseWait).Count | Should -Be 0
    }

    It 'leaves owner fields $null with -NoOwner' {
        $c = Get-TcpCloseWait -LocalPort $v4.Port -NoOwner
        $c.Program | Should -BeNullOrEmpty
        # The Windows and macOS tables carry the owning PID in every row, so it stays even without the lookup.
        if ($IsLinux) { $c.ProcessId | Should -BeNullOrEmpty } else { $c.ProcessId | Should -Be $PID }
    }

    It 'formats as a netstat-like table' {
        $text = Get-TcpCloseWait -LocalPort $v4.Port | Out-String -Width 200
        $text | Should -Match 'PID/Program'
        $text | Should -Match ([regex]::Escape("127.0.0.1:$($v4.Port)"))
        $text | Should -Match ([regex]::Escape("$PID/"))
    }

    It 'survives remoting serialization and still formats' {
        $d = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize((Get-TcpCloseWait -LocalPort $v4.Port)))
        $d.PSObject.TypeNames | Should -Contain 'Deserialized.CloseWait.TcpConnection'
        $d.ProcessId | Should -Be $PID
        # A PID names a process only where it was listed: after the trip Id is text no conversion
        # makes a PID (README, "A fleet").
        $d.Id | Should -BeExactly "$PID@$([Environment]::MachineName)"
        { [int] $d.Id } | Should -Throw
        ($d | Out-String -Width 200) | Should -Match 'PID/Program'
    }

    It 'exports to CSV and JSON without colour codes' {
        $csv = Get-TcpCloseWait -LocalPort $v4.Port | ConvertTo-Csv -NoTypeInformation
        ($csv -join "`n") | Should -Not -Match "`e\["
        $json = Get-TcpCloseWait -LocalPort $v4.Port | ConvertTo-Json -Depth 3 | ConvertFrom-Json
        $json.LocalPort | Should -Be $v4.Port
    }
}

Describe 'Stop-Process from Get-TcpCloseWait' {
    BeforeAll {
        $sockets = New-CloseWaitSocket -Count 2
    }
    AfterAll {
        Remove-CloseWaitSocket $sockets
    }

    It 'binds -Id with the owner PID, never -Name' {
        Mock Stop-Process { }
        Get-TcpCloseWait -LocalPort $sockets.Port | Stop-Process -WhatIf
        Should -Invoke Stop-Process -Times 2 -Exactly -ParameterFilter { $Id -contains $PID -and -not $Name }
        Should -Invoke Stop-Process -Times 0 -Exactly -ParameterFilter { $Name }
    }

    It 'stops each owner once with the README one-liner' {
        $portFile = New-TemporaryFile
        # The real pwsh is in $PSHOME: this process may be `dotnet` running pwsh.dll (a .NET tool install).
        $child = Start-Process -FilePath (Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')) -PassThru -ArgumentList @(
            '-NoProfile', '-NonInteractive', '-Command',
            @"
`$l = [System.Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp')
`$l.Bind([System.Net.IPEndPoint]::new([System.Net.IPAddress]::Loopback, 0)); `$l.Listen(4)
`$held = foreach (`$i in 1..2) { `$c = [System.Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp'); `$c.Connect(`$l.LocalEndPoint); `$s = `$l.Accept(); `$c.Close(); `$s }
Set-Content -Path '$($portFile.FullName)' -Value `$l.LocalEndPoint.Port
Start-Sleep -Seconds 3600
"@)
        try {
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            while (-not (Get-Content $portFile -ErrorAction SilentlyContinue) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
            $port = [int](Get-Content $portFile)
            Wait-Until { @(Get-TcpCloseWait -LocalPort $port -NoOwner).Count -eq 2 } "the child's two CLOSE_WAIT sockets"
            $stuck = @(Get-TcpCloseWait -LocalPort $port)
            $stuck.Count | Should -Be 2
            $stuck.ProcessId | Sort-Object -Unique | Should -Be $child.Id

            Get-TcpCloseWait -LocalPort $port | Where-Object ProcessId | Sort-Object ProcessId -Unique | Stop-Process -ErrorAction SilentlyContinue -ErrorVariable stopErrors
            $stopErrors | Should -BeNullOrEmpty
            $child.WaitForExit(10000) | Should -BeTrue
            Get-Process -Id $PID | Should -Not -BeNullOrEmpty
        }
        finally {
            if (-not $child.HasExited) { $child.Kill() }
            Remove-Item $portFile -ErrorAction SilentlyContinue
        }
    }
}

Describe 'Get-TcpConnection' {
    BeforeAll {
        $sockets = New-CloseWaitSocket
    }
    AfterAll {
        Remove-CloseWaitSocket $sockets
    }

    It 'filters by state' {
        @(Get-TcpConnection -LocalPort $sockets.Port).Count | Should -Be 2
        @(Get-TcpConnection -LocalPort $sockets.Port -State Listen).Count | Should -Be 1
        @(Get-TcpConnection -LocalPort $sockets.Port -State CloseWait, Listen).Count | Should -Be 2
        @(Get-TcpConnection -LocalPort $sockets.Port -State Established).Count | Should -Be 0
    }

    It 'completes state names' {
        $completions = (TabExpansion2 -inputScript 'Get-TcpConnection -State CloseW' -cursorColumn 31).CompletionMatches.CompletionText
        $completions | Should -Contain 'CloseWait'
    }

    It 'rejects bad parameters with the binding error ids' {
        { Get-TcpConnection -LocalPort 70000 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,CloseWait.Commands.GetTcpConnectionCommand'
        { Get-TcpConnection -LocalAddress nope } | Should -Throw -ErrorId 'CannotConvertArgumentNoMessage,CloseWait.Commands.GetTcpConnectionCommand'
        { Get-TcpConnection -State Bogus } | Should -Throw -ErrorId 'CannotConvertArgumentNoMessage,CloseWait.Commands.GetTcpConnectionCommand'
        { Get-TcpCloseWait -MinimumIdleTime -1 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,CloseWait.Commands.GetTcpCloseWaitCommand'
    }

    It 'lists another network namespace' -Skip:(-not $script:IsRoot) {
        $hostNs = (Get-Item /proc/self/ns/net).LinkTarget
        $ns = Start-Process unshare -ArgumentList '-n', 'sleep', '3600' -PassThru
        try {
            Wait-Until { $ns.HasExited -or (Get-Item "/proc/$($ns.Id)/ns/net" -ErrorAction SilentlyContinue).LinkTarget -notin $null, $hostNs } 'unshare -n to enter its namespace'
            $ns.HasExited | Should -BeFalse
            { Get-TcpConnection -NetworkNamespace $ns.Id } | Should -Not -Throw
            { Get-TcpConnection -NetworkNamespace "/proc/$($ns.Id)/ns/net" } | Should -Not -Throw
        }
        finally {
            $ns.Kill()
        }
        { Get-TcpConnection -NetworkNamespace /nonexistent/ns } | Should -Throw -ErrorId 'NetworkNamespaceNotFound,CloseWait.Commands.GetTcpConnectionCommand'
    }
}

Describe 'Get-TcpConnectionSummary' {
    BeforeAll {
        $sockets = New-CloseWaitSocket -Count 3
    }
    AfterAll {
        Remove-CloseWaitSocket $sockets
    }

    It 'counts this process''s sockets per state' {
        $summary = Get-TcpConnectionSummary
        $summary.CloseWait | Should -BeGreaterOrEqual 3
        $mine = $summary.ByProcess | Where-Object ProcessId -EQ $PID
        $mine.CloseWait | Should -Be @(Get-TcpConnection -ProcessId $PID -State CloseWait).Count
    }

    It 'skips owners with -NoOwner' {
        $summary = Get-TcpConnectionSummary -NoOwner
        $summary.ByProcess | Should -BeNullOrEmpty
        $summary.Total | Should -BeGreaterOrEqual 4
    }
}
