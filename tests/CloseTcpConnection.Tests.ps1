#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Close-TcpConnection against the built module (out/CloseWait) on a real machine: run with
# Invoke-Pester (build.ps1 -Test does). Closing needs root on Linux and an elevated session on Windows;
# the contexts that need them are skipped otherwise. Sockets are on loopback only.

BeforeDiscovery {
    $script:onWindows = $PSVersionTable.PSEdition -eq 'Desktop' -or $IsWindows
    $script:onLinux = $PSVersionTable.PSEdition -eq 'Core' -and $IsLinux
    $script:linuxRoot = $onLinux -and ((id -u) -eq '0')
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../out/CloseWait/CloseWait.psd1') -Force

    # Polls a condition with a deadline: the tests never sleep a fixed time.
    function Wait-Until([scriptblock] $Condition, [string] $What, [int] $Seconds = 30) {
        $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
        while (-not (& $Condition)) {
            if ([DateTime]::UtcNow -gt $deadline) { throw "Waited $Seconds s for $What." }
            Start-Sleep -Milliseconds 5
        }
    }

    # Loopback connections whose accepted ends (held by this process) sit in CLOSE_WAIT with 3 unread bytes.
    function New-CloseWait {
        param([int] $Count = 1, [ipaddress] $Loopback = [ipaddress]::Loopback)
        $listener = [System.Net.Sockets.Socket]::new($Loopback.AddressFamily, 'Stream', 'Tcp')
        $listener.Bind([System.Net.IPEndPoint]::new($Loopback, 0))
        $listener.Listen($Count + 4)
        $servers = foreach ($i in 1..$Count) {
            $client = [System.Net.Sockets.Socket]::new($Loopback.AddressFamily, 'Stream', 'Tcp')
            $client.Connect($listener.LocalEndPoint)
            $null = $client.Send([byte[]](1, 2, 3))
            $listener.Accept()
            $client.Close()
        }
        $port = $listener.LocalEndPoint.Port
        Wait-Until { @(Get-TcpCloseWait -LocalPort $port -NoOwner).Count -eq $Count } "$Count socket(s) in CLOSE_WAIT on port $port"
        [pscustomobject]@{ Listener = $listener; Servers = @($servers); Port = $listener.LocalEndPoint.Port }
    }

    function Remove-CloseWait {
        param($Set)
        if ($Set) {
            $Set.Servers | ForEach-Object { $_.Dispose() }
            $Set.Listener.Dispose()
        }
    }
}

Describe 'Close-TcpConnection' {
    Context 'Declaration' {
        It 'supports -WhatIf, asks as Stop-Process does and returns TcpCloseResult' {
            $cmd = Get-Command Close-TcpConnection
            $attr = $cmd.ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]
            $attr.SupportsShouldProcess | Should -BeTrue
            # ShouldProcess is the engine's (Medium, as Stop-Process); the stronger question is ShouldContinue, skipped by -Force.
            $attr.ConfirmImpact | Should -Be 'Medium'
            $cmd.OutputType.Name | Should -Contain 'CloseWait.TcpCloseResult'
            $cmd.Parameters.Keys | Should -Contain 'Force'
            $cmd.Parameters.Keys | Should -Contain 'PassThru'
            $cmd.Parameters['State'].ParameterSets['Filter'].IsMandatory | Should -BeTrue
        }

        It 'has help with examples' {
            (Get-Help Close-TcpConnection).Examples.Example.Count | Should -BeGreaterOrEqual 4
        }
    }

    Context 'Any platform' {
        BeforeEach { $script:set = New-CloseWait -Count 2 }
        AfterEach { Remove-CloseWait $set }

        It '-WhatIf closes nothing' {
            Get-TcpCloseWait -LocalPort $set.Port | Close-TcpConnection -WhatIf
            @(Get-TcpCloseWait -LocalPort $set.Port).Count | Should -Be 2
        }

        It 'skips a listener that -State does not name' {
            $r = Get-TcpConnection -LocalPort $set.Port -State Listen | Close-TcpConnection -Force -PassThru -ErrorVariable e -ErrorAction SilentlyContinue
            $r.Status | Should -Be 'Skipped'
            $e[0].FullyQualifiedErrorId | Should -Be 'ListenerNotClosed,CloseWait.Commands.CloseTcpConnectionCommand'
            @(Get-TcpConnection -LocalPort $set.Port -State Listen).Count | Should -Be 1
        }
    }

    Context 'Linux as root' -Skip:(-not $linuxRoot) {
        BeforeEach { $script:set = New-CloseWait -Count 2 }
        AfterEach { Remove-CloseWait $set }

        It 'leaves -WhatIf and -Confirm to the engine, the stronger question to -Force (<label>)' -ForEach @(
            @{ Label = 'no switch: the stronger question is asked'; Prelude = ''; Switches = ''; Closed = $false }
            @{ Label = '-Force: not asked'; Prelude = ''; Switches = '-Force'; Closed = $true }
            @{ Label = '-Confirm:$false: not asked'; Prelude = ''; Switches = '-Confirm:$false'; Closed = $true }
            @{ Label = '-Force under $ConfirmPreference Low: the engine asks'; Prelude = '$ConfirmPreference = ''Low'';'; Switches = '-Force'; Closed = $false }
            @{ Label = '-Force under $WhatIfPreference: only reports'; Prelude = '$WhatIfPreference = $true;'; Switches = '-Force'; Closed = $false }
            @{ Label = '-Force -WhatIf:$false under $WhatIfPreference: closes'; Prelude = '$WhatIfPreference = $true;'; Switches = '-Force -WhatIf:$false'; Closed = $true }
        ) {
            # A non-interactive child cannot answer a prompt: a question asked means nothing is closed.
            $manifest = Join-Path $PSScriptRoot '../out/CloseWait/CloseWait.psd1'
            $null = & (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -Command "Import-Module '$manifest'; $Prelude Get-TcpCloseWait -LocalPort $($set.Port) | Close-TcpConnection $Switches -ErrorAction SilentlyContinue" 2>&1
            @(Get-TcpCloseWait -LocalPort $set.Port).Count | Should -Be ($Closed ? 0 : 2)
        }

        It 'empties the CLOSE_WAIT list of a process that keeps running (<method>)' -ForEach @(
            @{ Method = 'Abort'; WriteError = 'ConnectionAborted' }
            @{ Method = 'Shutdown'; WriteError = 'Shutdown' }
        ) {
            $r = Get-TcpCloseWait -LocalPort $set.Port | Close-TcpConnection -Method $Method -Confirm:$false -PassThru
            $r.Count | Should -Be 2
            $r.Status | Should -Be @('Closed', 'Closed')
            Get-TcpCloseWait -LocalPort $set.Port | Should -BeNullOrEmpty
            foreach ($s in $set.Servers) {
                $buf = [byte[]]::new(8)
                $s.Receive($buf) | Should -Be 3
                $s.Receive($buf) | Should -Be 0
                $err = { $s.Send([byte[]](1)) } | Should -Throw -PassThru
                $err.Exception.InnerException.SocketErrorCode | Should -Be $WriteError
            }
        }

        It 'closes objects that went through serialization' {
            $x = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize(@(Get-TcpCloseWait -LocalPort $set.Port), 2))
            ($x | Close-TcpConnection -Force -PassThru).Status | Should -Be @('Closed', 'Closed')
        }

        It 'reports a socket closed since listing as AlreadyGone, without an error' {
            $listed = Get-TcpCloseWait -LocalPort $set.Port
            $set.Servers | ForEach-Object { $_.Close() }
            # Gone from the table, not only out of CLOSE_WAIT (LAST_ACK until the peer's ACK lands).
            Wait-Until { @(Get-TcpConnection -LocalPort $set.Port -NoOwner | Where-Object State -ne 'Listen').Count -eq 0 } 'the closed sockets to leave the table'
            $r = $listed | Close-TcpConnection -Force -PassThru -ErrorVariable e
            $r.Status | Should -Be @('AlreadyGone', 'AlreadyGone')
            $e | Should -BeNullOrEmpty
        }

        It 'takes a diagnosis for its sockets, and says what to pipe when its sockets were lost' {
            $d = Test-TcpCloseWait -LocalPort $set.Port -StuckAfter 0
            $csv = $d | ConvertTo-Csv | ConvertFrom-Csv
            $null = $csv | Close-TcpConnection -Force -ErrorVariable e -ErrorAction SilentlyContinue
            $e[0].Exception.Message | Should -BeLike '*pipe (Test-TcpCloseWait).Connections*'
            @(Get-TcpCloseWait -LocalPort $set.Port -NoOwner).Count | Should -Be 2

            $r = $d | Close-TcpConnection -Force -PassThru
            $r.Status | Should -Be @('Closed', 'Closed')
        }

        # Issue 19: a socket whose only reference is a descriptor in flight over a Unix socket
        # (SCM_RIGHTS, sent and never received) has no owner even as root.
        It 'handles a socket held only by a descriptor in flight: diagnosis, Shutdown, Abort' {
            $code = Join-Path $TestDrive 'inflight.py'
            Set-Content -Path $code -Value @"
import socket, time
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(4)
c = socket.create_connection(l.getsockname()); s, _ = l.accept()
a, b = socket.socketpair()
socket.send_fds(a, [b'x'], [s.fileno()])
s.close(); c.close()
print(l.getsockname()[1], flush=True)
time.sleep(300)
"@
            $script:py = Start-Process python3 -PassThru -RedirectStandardOutput (Join-Path $TestDrive 'inflight.txt') -ArgumentList $code
            try {
                Wait-Until { (Get-Content (Join-Path $TestDrive 'inflight.txt') -ErrorAction Ignore) -match '^\d+$' } 'the holder to tell its port'
                $port = [int](Get-Content (Join-Path $TestDrive 'inflight.txt'))
                Wait-Until { @(Get-TcpCloseWait -LocalPort $port).Count -eq 1 } 'the in-flight socket in CLOSE_WAIT'
                $c = Get-TcpCloseWait -LocalPort $port
                $c.ProcessId | Should -BeNullOrEmpty

                $d = Test-TcpCloseWait -LocalPort $port -StuckAfter 0
                $d.Finding | Should -BeLike 'No visible process holds*in flight over a Unix socket*'
                $d.Advice | Should -Not -BeLike '*sudo*'

                $null = $c | Close-TcpConnection -Method Shutdown -Force -ErrorVariable e -ErrorAction SilentlyContinue
                $e[0].FullyQualifiedErrorId | Should -BeExactly 'SocketOwnerUnknown,CloseWait.Commands.CloseTcpConnectionCommand'
                $e[0].Exception.Message | Should -BeLike "*works through the owner's descriptor.*Use -Method Abort instead*"
                $e[0].Exception.Message | Should -Not -BeLike '*. or use*'

                $r = $c | Close-TcpConnection -Method Abort -Force -PassThru
                $r.Status | Should -Be 'Closed'
                $r.Detail | Should -BeLike '*No owner was listed*'
                $r.Detail | Should -Not -BeLike "*The owner's descriptor*"
            }
            finally { if (-not $py.HasExited) { $py.Kill(); $null = $py.WaitForExit(10000) } }
        }

        # Issue 19: the kernel finds a socket by its addresses and then compares the cookie, so an
        # edited record missed an open socket and was reported AlreadyGone or Replaced.
        It 'says the record does not match an open socket: <case>' -ForEach @(
            @{ Case = 'RemotePort edited' }, @{ Case = 'RemoteAddress edited' }, @{ Case = 'the listener''s cookie' }
        ) {
            $csv = Get-TcpCloseWait -LocalPort $set.Port | Select-Object -First 1 | ConvertTo-Csv | ConvertFrom-Csv
            switch ($Case) {
                'RemotePort edited' { $csv.RemotePort = [string]([int]$csv.RemotePort + 1) }
                'RemoteAddress edited' { $csv.RemoteAddress = '127.0.0.2' }
                default { $csv.Cookie = [string](Get-TcpConnection -State Listen -LocalPort $set.Port).Cookie }
            }
            foreach ($method in 'Abort', 'Shutdown') {
                $r = $csv | Close-TcpConnection -Method $method -Force -PassThru -ErrorVariable e -ErrorAction SilentlyContinue
                $r.Status | Should -Not -BeIn @('AlreadyGone', 'Replaced', 'Closed') -Because $method
                $e[0].FullyQualifiedErrorId | Should -BeExactly 'ConnectionRecordMismatch,CloseWait.Commands.CloseTcpConnectionCommand' -Because $method
                $e[0].Exception.Message | Should -BeLike '*the record does not match it*'
            }
            @(Get-TcpCloseWait -LocalPort $set.Port -NoOwner).Count | Should -Be 2
            @(Get-TcpConnection -State Listen -LocalPort $set.Port -NoOwner).Count | Should -Be 1
        }
    }

    Context 'Windows' -Skip:(-not $onWindows) {
        It 'refuses IPv6 with SocketCloseNotSupported and closes nothing' {
            $v6 = New-CloseWait -Loopback ([ipaddress]::IPv6Loopback)
            try {
                Get-TcpCloseWait -LocalPort $v6.Port | Close-TcpConnection -Force -ErrorVariable e -ErrorAction SilentlyContinue
                $e[0].FullyQualifiedErrorId | Should -Be 'SocketCloseNotSupported,CloseWait.Commands.CloseTcpConnectionCommand'
                @(Get-TcpCloseWait -LocalPort $v6.Port).Count | Should -Be 1
            }
            finally { Remove-CloseWait $v6 }
        }

        It 'closes IPv4 when elevated, or says to run elevated' {
            $v4 = New-CloseWait
            try {
                $r = Get-TcpCloseWait -LocalPort $v4.Port | Close-TcpConnection -Force -PassThru -ErrorVariable e -ErrorAction SilentlyContinue
                $admin = ([Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()).IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
                if ($admin) {
                    $r.Status | Should -Be 'Closed'
                    Get-TcpCloseWait -LocalPort $v4.Port | Should -BeNullOrEmpty
                }
                else {
                    $e[0].FullyQualifiedErrorId | Should -Be 'SocketCloseAccessDenied,CloseWait.Commands.CloseTcpConnectionCommand'
                    @(Get-TcpCloseWait -LocalPort $v4.Port).Count | Should -Be 1
                }
            }
            finally { Remove-CloseWait $v4 }
        }
    }
}
