#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
<#
    The default views as a user sees them, at 80 columns (pwsh's width whenever output is
    redirected: a scheduled script that logs) and at 120: every output type, from real sockets held
    by a child pwsh, live and deserialized (as Invoke-Command returns them, with PSComputerName).
    Run after `dotnet build`: Invoke-Pester ./tests/Views.Tests.ps1 (build.ps1 -Test does).
#>

BeforeDiscovery {
    $script:linuxRoot = $IsLinux -and ((id -u) -eq '0')
}

BeforeAll {
    $script:manifest = Join-Path $PSScriptRoot '../out/CloseWait/CloseWait.psd1'
    Import-Module $manifest -Force
    $script:pwsh = Join-Path $PSHOME 'pwsh'

    # A child pwsh that holds one CLOSE_WAIT socket per address (the client sent 5 bytes, then
    # closed; the child never reads or closes) and prints one JSON line with the ports. It lives
    # until its stdin closes, or 10 minutes at most. -Prepare runs first in the child (e.g. `ip`).
    function Start-SocketHolder {
        param([string[]] $Address, [string] $Prepare = '', [string[]] $Prefix = @())
        $child = @"
`$ErrorActionPreference = 'Stop'
$Prepare
`$held = foreach (`$a in '$($Address -join "','")') {
    `$ip = [ipaddress]::Parse(`$a)
    `$l = [System.Net.Sockets.Socket]::new(`$ip.AddressFamily, 'Stream', 'Tcp')
    `$l.Bind([System.Net.IPEndPoint]::new(`$ip, 0)); `$l.Listen(4)
    `$c = [System.Net.Sockets.Socket]::new(`$ip.AddressFamily, 'Stream', 'Tcp')
    `$c.Connect(`$l.LocalEndPoint); `$null = `$c.Send([byte[]]::new(5))
    `$s = `$l.Accept(); `$cp = `$c.LocalEndPoint.Port; `$c.Close()
    [pscustomobject]@{ Address = `$a; Port = `$l.LocalEndPoint.Port; ClientPort = `$cp; Keep = @(`$l, `$s) }
}
[Console]::Out.WriteLine((ConvertTo-Json -Compress @(`$held | Select-Object Address, Port, ClientPort)))
[Console]::Out.Flush()
`$read = [Console]::In.ReadLineAsync()
`$null = `$read.Wait([TimeSpan]::FromMinutes(10))
"@
        $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($child))
        $psi = [System.Diagnostics.ProcessStartInfo]::new()
        if ($Prefix) {
            $psi.FileName = $Prefix[0]
            foreach ($a in $Prefix[1..($Prefix.Count)]) { if ($a) { $psi.ArgumentList.Add($a) } }
            $psi.ArgumentList.Add($pwsh)
        }
        else {
            $psi.FileName = $pwsh
        }
        foreach ($a in '-NoProfile', '-NonInteractive', '-EncodedCommand', $encoded) { $psi.ArgumentList.Add($a) }
        $psi.RedirectStandardInput = $true
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $psi.UseShellExecute = $false
        $p = [System.Diagnostics.Process]::Start($psi)
        $line = $p.StandardOutput.ReadLineAsync()
        if (-not $line.Wait([TimeSpan]::FromSeconds(60)) -or -not $line.Result) {
            $err = if ($p.HasExited) { $p.StandardError.ReadToEnd() } else { '' }
            Stop-SocketHolder $p
            throw "The socket holder did not start: $err"
        }
        [pscustomobject]@{
            Process = $p
            Name    = (Get-Process -Id $p.Id).ProcessName
            Sockets = @($line.Result | ConvertFrom-Json)
        }
    }

    function Stop-SocketHolder {
        param($Holder)
        $p = if ($Holder -is [System.Diagnostics.Process]) { $Holder } else { $Holder.Process }
        if (-not $p) { return }
        if (-not $p.HasExited) {
            $p.StandardInput.Close()
            if (-not $p.WaitForExit(10000)) { $p.Kill() }
        }
        $p.Dispose()
    }

    # Polls until the holder's CLOSE_WAIT sockets are listed (the kernel moves them at once; this
    # only guards against a slow child), then returns them.
    function Wait-CloseWait {
        param($Holder, [string] $NetworkNamespace)
        $ports = $Holder.Sockets.Port
        $extra = if ($NetworkNamespace) { @{ NetworkNamespace = $NetworkNamespace } } else { @{} }
        $deadline = [DateTime]::UtcNow.AddSeconds(20)
        do {
            $found = @(Get-TcpCloseWait -LocalPort $ports @extra | Where-Object ProcessId -EQ $Holder.Process.Id)
            if ($found.Count -eq $ports.Count) { return $found }
            Start-Sleep -Milliseconds 100
        } while ([DateTime]::UtcNow -lt $deadline)
        throw "CLOSE_WAIT sockets on ports $ports did not appear"
    }

    # As Invoke-Command returns it: deserialized, with PSComputerName and PSShowComputerName.
    function ConvertTo-RemoteObject {
        param([Parameter(ValueFromPipeline)] $InputObject, [string] $ComputerName = 'web-frontend-01.example.com')
        process {
            $d = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($InputObject, 2))
            $d | Add-Member -NotePropertyName PSComputerName -NotePropertyValue $ComputerName
            $d | Add-Member -NotePropertyName PSShowComputerName -NotePropertyValue $true
            $d
        }
    }

    function Get-Lines([string] $Text) { @($Text -split '\r?\n' | ForEach-Object TrimEnd | Where-Object { $_ }) }

    # The row that shows this socket, and its text.
    function Get-Row([string[]] $Lines, [string] $Pattern) {
        $row = @($Lines | Where-Object { $_ -match $Pattern })
        $row.Count | Should -Be 1 -Because "one row matches $Pattern in:`n$($Lines -join "`n")"
        $row[0]
    }

    $script:idle = '(\d+ms|\d+s|\d+m\d\ds|\d+h\d\dm|\d+d\d\dh|\d+d)'

    $script:holder = Start-SocketHolder -Address '127.0.0.1', '::1'
    $script:v4 = $holder.Sockets | Where-Object Address -EQ '127.0.0.1'
    $script:v6 = $holder.Sockets | Where-Object Address -EQ '::1'
    $script:listed = Wait-CloseWait $holder
    $script:owner = '{0}/{1}' -f $holder.Process.Id, $holder.Name
}

AfterAll {
    Stop-SocketHolder $holder
}

Describe 'Connection table' {
    It 'shows both endpoints with ports, state, idle time and owner at <width> columns' -ForEach @(
        @{ Width = 80 }, @{ Width = 120 }
    ) {
        $lines = Get-Lines ($listed | Out-String -Width $Width)
        $lines[0] | Should -Match '^Local\s+Remote\s+State\s+Idle\s+PID/Program$'
        $lines | ForEach-Object { $_.Length | Should -BeLessOrEqual $Width }
        $row = Get-Row $lines ([regex]::Escape("127.0.0.1:$($v4.Port) "))
        $row | Should -Match ('^127\.0\.0\.1:{0}\s+127\.0\.0\.1:{1}\s+CloseWait\s+{2}\s+{3}$' -f $v4.Port, $v4.ClientPort, $idle, [regex]::Escape($owner))
        $row = Get-Row $lines ([regex]::Escape("[::1]:$($v6.Port) "))
        $row | Should -Match ('^\[::1\]:{0}\s+\[::1\]:{1}\s+CloseWait\s+{2}\s+{3}$' -f $v6.Port, $v6.ClientPort, $idle, [regex]::Escape($owner))
    }

    It 'is what a scheduled script logs: a child pwsh with its output redirected' {
        $script = "Import-Module '$manifest'; Get-TcpCloseWait -LocalPort $($v4.Port), $($v6.Port)"
        $out = & $pwsh -NoProfile -NonInteractive -Command $script
        $LASTEXITCODE | Should -Be 0
        # What a terminal would show: the child may still style the header (PSStyle), which takes no columns.
        $lines = Get-Lines (($out -join "`n") -replace "`e\[[0-9;]*m")
        $lines | ForEach-Object { $_.Length | Should -BeLessOrEqual 80 }
        Get-Row $lines ([regex]::Escape("127.0.0.1:$($v4.Port) ")) | Should -Match ('CloseWait\s+{0}\s+{1}$' -f $idle, [regex]::Escape($owner))
        Get-Row $lines ([regex]::Escape("[::1]:$($v6.Port) ")) | Should -Match ('CloseWait\s+{0}\s+{1}$' -f $idle, [regex]::Escape($owner))
    }

    It 'puts queues, timers, user and cookie in -View Wide' {
        $lines = Get-Lines ($listed | Format-Table -View Wide | Out-String -Width 160)
        $lines[0] | Should -Match '^Local\s+Remote\s+State\s+Recv-Q\s+Send-Q\s+Idle\s+Timer\s+UID\s+Cookie\s+PID/Program$'
        $c = $listed | Where-Object LocalPort -EQ $v4.Port
        $row = Get-Row $lines ([regex]::Escape("127.0.0.1:$($v4.Port) "))
        if ($IsLinux) {
            $row | Should -Match ('CloseWait\s+5\s+0\s+{0}\s+{1}\s+{2}\s+{3}$' -f $idle, $c.UserId, $c.Cookie, [regex]::Escape($owner))
        }
        else {
            $row | Should -Match ('CloseWait\s.*{0}$' -f [regex]::Escape($owner))
        }
    }

    It 'lists every property with Format-List' {
        $c = $listed | Where-Object LocalPort -EQ $v6.Port
        $text = $c | Format-List | Out-String -Width 80
        foreach ($p in $c.PSObject.Properties.Name) {
            $text | Should -Match "(?m)^$p\s+:" -Because "Format-List shows $p"
        }
        $text | Should -Match "(?m)^Owners\s+: \{$([regex]::Escape($owner)) \(fd \d+\)\}"
    }

    Context 'Remote results' {
        BeforeAll {
            $script:remote = $listed | ConvertTo-RemoteObject
        }

        It 'shows PSComputerName at 120 columns after the whole row' {
            $remote[0].PSObject.TypeNames[0] | Should -Be 'Deserialized.CloseWait.TcpConnection'
            $lines = Get-Lines ($remote | Out-String -Width 120)
            $lines[0] | Should -Match '^Local\s+Remote\s+State\s+Idle\s+PID/Program\s+PSComputerName$'
            $row = Get-Row $lines ([regex]::Escape("127.0.0.1:$($v4.Port) "))
            $row | Should -Match ('CloseWait\s+{0}\s+{1}\s+web-frontend-01\.example\.com$' -f $idle, [regex]::Escape($owner))
            Get-Row $lines ([regex]::Escape("[::1]:$($v6.Port) ")) | Should -Match 'web-frontend-01\.example\.com$'
        }

        It 'keeps endpoints, state, idle time and owner at 80 columns' {
            $lines = Get-Lines ($remote | Out-String -Width 80)
            $lines | ForEach-Object { $_.Length | Should -BeLessOrEqual 80 }
            Get-Row $lines ([regex]::Escape("127.0.0.1:$($v4.Port) ")) | Should -Match ('{0}\s+CloseWait\s+{1}\s+{2}$' -f [regex]::Escape("127.0.0.1:$($v4.ClientPort)"), $idle, [regex]::Escape($owner))
        }

        It 'formats the same without a computer name (Import-Clixml)' {
            $d = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize(($listed | Where-Object LocalPort -EQ $v6.Port), 2))
            $lines = Get-Lines ($d | Out-String -Width 80)
            $lines[0] | Should -Match '^Local\s+Remote\s+State\s+Idle\s+PID/Program$'
            Get-Row $lines ([regex]::Escape("[::1]:$($v6.Port) ")) | Should -Match ('CloseWait\s+{0}\s+{1}$' -f $idle, [regex]::Escape($owner))
        }

        It 'has the Wide view and the full list too' {
            # PowerShell adds no PSComputerName column to a view asked for by name: the Wide view for
            # deserialized objects has its own.
            $lines = Get-Lines ($remote | Format-Table -View Wide | Out-String -Width 200)
            $lines[0] | Should -Match 'Recv-Q.*PID/Program\s+PSComputerName$'
            Get-Row $lines ([regex]::Escape("127.0.0.1:$($v4.Port) ")) | Should -Match 'web-frontend-01\.example\.com$'
            ($remote[0] | Format-List | Out-String -Width 80) | Should -Match '(?m)^Cookie\s+:'
        }
    }

    Context 'A long IPv6 address' -Skip:(-not $linuxRoot) {
        BeforeAll {
            # A private network namespace with a full-length address on lo: nothing on the host changes.
            $script:long = '2001:db8:1234:5678:9abc:def0:1234:5678'
            $prepare = "ip link set lo up; ip -6 addr add $long/128 dev lo nodad"
            $script:nsHolder = Start-SocketHolder -Address $long -Prepare $prepare -Prefix 'unshare', '--net'
            $script:nsListed = Wait-CloseWait $nsHolder -NetworkNamespace $nsHolder.Process.Id
        }
        AfterAll { Stop-SocketHolder $nsHolder }

        It 'shortens the address but keeps the port at <width> columns' -ForEach @(@{ Width = 80 }, @{ Width = 120 }) {
            $s = $nsHolder.Sockets[0]
            $lines = Get-Lines ($nsListed | Out-String -Width $Width)
            $row = Get-Row $lines ([regex]::Escape("]:$($s.Port) "))
            $row | Should -Match ('^\[2001:[0-9a-f:]*…[0-9a-f:]*:5678\]:{0}\s+\[2001:[0-9a-f:]*…[0-9a-f:]*:5678\]:{1}\s+CloseWait\s+{2}\s+{3}/' -f $s.Port, $s.ClientPort, $idle, $nsHolder.Process.Id)
            $lines | ForEach-Object { $_.Length | Should -BeLessOrEqual $Width }
        }

        It 'shows the whole address in -View Wide and Format-List' {
            ($nsListed | Format-List | Out-String -Width 80) | Should -Match "LocalAddress\s+: $long"
        }
    }
}

Describe 'Summary views' {
    BeforeAll {
        $script:summary = Get-TcpConnectionSummary -WarningAction SilentlyContinue
    }

    It 'lists the counts and the top processes at <width> columns' -ForEach @(@{ Width = 80 }, @{ Width = 120 }) {
        $lines = Get-Lines ($summary | Out-String -Width $Width)
        $lines | ForEach-Object { $_.Length | Should -BeLessOrEqual $Width }
        $lines | Should -Contain ('CloseWait    : {0}' -f $summary.CloseWait)
        # One process a line, most sockets first.
        $top = @($summary.ByProcess | Select-Object -First 2)
        Get-Row $lines '^TopProcesses : ' | Should -Be "TopProcesses : $($top[0])"
        if ($top.Count -gt 1) { $lines | Should -Contain "               $($top[1])" }
    }

    It 'shows one row a process in ByProcess at <width> columns' -ForEach @(@{ Width = 80 }, @{ Width = 120 }) {
        $lines = Get-Lines ($summary.ByProcess | Out-String -Width $Width)
        $lines[0] | Should -Match '^\s*PID\s+CloseWait\s+Established\s+Listen\s+Other\s+Total\s+Program$'
        Get-Row $lines ('^\s*{0}\s' -f $holder.Process.Id) | Should -Match ('^\s*{0}\s+2\s+\d+\s+2\s+\d+\s+\d+\s+{1}$' -f $holder.Process.Id, [regex]::Escape($holder.Name))
    }

    It 'shows PSComputerName for remote results' {
        $remote = $summary | ConvertTo-RemoteObject
        ($remote | Out-String -Width 80) | Should -Match 'PSComputerName\s+: web-frontend-01\.example\.com'
        $rows = $summary.ByProcess | ConvertTo-RemoteObject
        $lines = Get-Lines ($rows | Out-String -Width 120)
        $lines[0] | Should -Match 'Program\s+PSComputerName$'
        Get-Row $lines ('^\s*{0}\s' -f $holder.Process.Id) | Should -Match 'web-frontend-01\.example\.com$'
    }
}

Describe 'Close-TcpConnection -PassThru view' -Skip:(-not $linuxRoot) {
    # Results come only from a real close (-WhatIf returns none); closing another process's socket
    # needs root on Linux. A holder of its own, so the other tests keep their sockets.
    BeforeAll {
        $script:closeHolder = Start-SocketHolder -Address '127.0.0.1', '::1'
        $script:closed = Wait-CloseWait $closeHolder | Close-TcpConnection -Force -PassThru
        $script:closeOwner = '{0}/{1}' -f $closeHolder.Process.Id, $closeHolder.Name
    }
    AfterAll { Stop-SocketHolder $closeHolder }

    It 'shows endpoints, status, what is left and the owner at <width> columns' -ForEach @(@{ Width = 80 }, @{ Width = 120 }) {
        @($closed).Count | Should -Be 2
        $lines = Get-Lines ($closed | Out-String -Width $Width)
        $lines[0] | Should -Match '^Local\s+Remote\s+Status\s+Now\s+PID/Program$'
        $lines | ForEach-Object { $_.Length | Should -BeLessOrEqual $Width }
        foreach ($s in $closeHolder.Sockets) {
            $ep = if ($s.Address -like '*:*') { '[{0}]:{{0}}' -f $s.Address } else { '{0}:{{0}}' -f $s.Address }
            $row = Get-Row $lines ('^' + [regex]::Escape(($ep -f $s.Port)) + ' ')
            $row | Should -Match ('{0}\s+Closed\s+gone\s+{1}$' -f [regex]::Escape(($ep -f $s.ClientPort)), [regex]::Escape($closeOwner))
        }
    }

    It 'shows PSComputerName for remote results at 120 columns' {
        $lines = Get-Lines ($closed | ConvertTo-RemoteObject | Out-String -Width 120)
        $lines[0] | Should -Match 'PID/Program\s+PSComputerName$'
        Get-Row $lines ([regex]::Escape("127.0.0.1:$(($closeHolder.Sockets | Where-Object Address -EQ '127.0.0.1').Port) ")) | Should -Match ('Closed\s+gone\s+{0}\s+web-frontend-01\.example\.com$' -f [regex]::Escape($closeOwner))
    }
}

Describe 'Keepalive views' {
    BeforeAll {
        $script:setting = Get-TcpKeepAliveSetting
        $script:test = Test-TcpKeepAliveSetting -IdleTimeout 350
    }

    It 'shows the values, detection time, defaults and the reboot outlook in one row at <width> columns' -ForEach @(@{ Width = 80 }, @{ Width = 120 }) {
        $lines = Get-Lines ($setting | Out-String -Width $Width)
        $lines[0] | Should -Match '^\s*Time\s+Interval\s+Probes\s+Detection\s+Default\s+AfterReboot$'
        $lines | ForEach-Object { $_.Length | Should -BeLessOrEqual $Width }
        $defaults = @(if ($setting.TimeIsDefault) { 'Time' }; if ($setting.IntervalIsDefault) { 'Interval' }; if ($setting.ProbesIsDefault) { 'Probes' })
        $defaultText = if ($defaults.Count -eq 3) { 'all' } elseif (-not $defaults) { 'none' } else { $defaults -join ',' }
        $lines[2] | Should -Match ('^\s*{0}\s+{1}\s+{2}\s+{3}\s+{4}\b' -f [regex]::Escape("$($setting.Time)"), [regex]::Escape("$($setting.Interval)"), $setting.Probes, [regex]::Escape("$($setting.DetectionTime)"), $defaultText)
        if ($IsLinux) {
            $after = if ($setting.ChangesAfterReboot) { 'Time|Interval|Probes' } else { 'no change' }
            $lines[2] | Should -Match "($after)"
        }
    }

    It 'says where each value came from with Format-List' {
        $text = $setting | Format-List | Out-String -Width 80
        $text | Should -Match 'DetectionTime\s+: '
        $text | Should -Match ([regex]::Escape($setting.TimeSource))
    }

    It 'shows PSComputerName for remote settings at 120 columns' {
        $lines = Get-Lines ($setting | ConvertTo-RemoteObject | Out-String -Width 120)
        $lines[0] | Should -Match 'AfterReboot\s+PSComputerName$'
        $lines[2] | Should -Match 'web-frontend-01\.example\.com$'
    }

    It 'shows the verdict, current and recommended values at <width> columns' -ForEach @(@{ Width = 80 }, @{ Width = 120 }) {
        $lines = Get-Lines ($test | Out-String -Width $Width)
        $lines | ForEach-Object { $_.Length | Should -BeLessOrEqual $Width }
        $lines | Should -Contain "Verdict     : $($test.Verdict)"
        $lines | Should -Contain ('Current     : Time {0}, Interval {1}, Probes {2} (detection {3})' -f $test.CurrentTime, $test.CurrentInterval, $test.CurrentProbes, $test.CurrentDetectionTime)
        $lines | Should -Contain ('Recommended : Time {0}, Interval {1}, Probes {2} (detection {3})' -f $test.RecommendedTime, $test.RecommendedInterval, $test.RecommendedProbes, $test.RecommendedDetectionTime)
        ($test | ConvertTo-RemoteObject | Out-String -Width $Width) | Should -Match 'PSComputerName\s+: web-frontend-01\.example\.com'
    }
}

Describe 'Watch Growing rows' {
    It 'keep the count, rate and time to descriptor exhaustion whole at 80 columns' {
        # Growing events of services as a long watch of a busy server prints them (deserialized, as
        # Invoke-Command returns them): nothing cut off with an ellipsis at 80 columns.
        $events = foreach ($e in @(
                @{ Count = 9; Rate = 107.9; Out = [TimeSpan]::Parse('03:05:14') }
                @{ Count = 12345; Rate = 1234.5; Out = [TimeSpan]::Parse('1.02:03:04') }
                @{ Count = 57; Rate = 60; Out = [TimeSpan]::Parse('00:16:05') }
                @{ Count = 3; Rate = 2.5; Out = [TimeSpan]::FromSeconds(42) })) {
            $o = [pscustomobject]@{ Time = [DateTime]'2026-12-08T12:00:15'; Event = 'Growing'; ProcessId = 4242; Program = 'java'; LocalPort = 8080
                Count = $e.Count; RatePerMinute = $e.Rate; DescriptorsExhaustedIn = $e.Out }
            $o.PSObject.TypeNames.Insert(0, 'Deserialized.CloseWait.TcpCloseWaitEvent')
            $o
        }
        $lines = @($events | Out-String -Width 80 -Stream | Where-Object { $_ -match 'Growing' })
        $lines.Count | Should -Be 4
        foreach ($l in $lines) {
            $l.Length | Should -BeLessOrEqual 80
            $l | Should -Not -Match '…'
            $l | Should -Match 'fds out'
        }
        $lines[0] | Should -Match '9 stuck \+108/min, fds out 3h05m$'
        $lines[1] | Should -Match '12345 stuck \+1235/min, fds out 1d02h$'
        $lines[2] | Should -Match '57 stuck \+60/min, fds out 16m05s$'
        $lines[3] | Should -Match '3 stuck \+2\.5/min, fds out 42s$'
    }
}
