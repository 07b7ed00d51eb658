#Requires -Version 7.0
#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
<#
    The module over real PowerShell remoting over SSH, to a fleet of three hosts on this machine
    (tests/Fleet.Harness.ps1: network namespaces with their own sshd and a process holding 2, 5 and
    9 CLOSE_WAIT sockets). What the admin does on the caller's side with what comes back: count,
    filter, export, close, stop, tune keepalive, and the fleet overview.
    Invoke-Pester ./tests/Fleet.Tests.ps1 -Output Detailed       (Linux, root; skipped otherwise)
#>

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Fleet.Harness.ps1')
    $script:FleetSkipReason = Get-TestFleetPrerequisite
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Fleet.Harness.ps1')
    $repo = Split-Path $PSScriptRoot -Parent
    $manifest = Join-Path $repo 'out/CloseWait/CloseWait.psd1'
    if (-not (Test-Path $manifest)) { throw "Build the module first (dotnet build): $manifest not found." }
    # The caller imports the module too: the views and Deserialized.CloseWait.TcpConnection's members.
    Import-Module $manifest -Force

    $script:fleet = $null
    $script:sessions = @()
    if (-not (Get-TestFleetPrerequisite)) {
        $script:fleet = Start-TestFleet -Count 2, 5, 9 -ModulePath (Join-Path $repo 'out')
        $connect = Get-TestFleetSessionParameter $fleet
        # One New-PSSession for every host: the connections and remote pwsh starts run in parallel.
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $script:sessions = @(New-PSSession @connect -ErrorAction Stop)
        $opened = $watch.Elapsed.TotalSeconds
        $watch.Restart()
        Invoke-Command -Session $sessions { Import-Module CloseWait -ErrorAction Stop }
        $imported = $watch.Elapsed.TotalSeconds
        $watch.Restart()
        $null = Invoke-Command -Session $sessions { Get-TcpCloseWait -NoOwner }
        Write-Host ('fleet: {0} sessions opened in {1:n2} s, module imported in {2:n2} s, a reused-session listing in {3:n2} s' -f $sessions.Count, $opened, $imported, $watch.Elapsed.TotalSeconds)

        # The session (and harness host) for each address the caller used.
        $script:hostOf = @{}
        $script:sessionOf = @{}
        foreach ($h in $fleet.Hosts) {
            $hostOf[$h.Address] = $h
            $sessionOf[$h.Address] = $sessions | Where-Object ComputerName -eq $h.Address
        }
        $script:localBootId = (Get-Content /proc/sys/kernel/random/boot_id).Trim()
    }

    # The remote listing of one host's holder sockets (both of its ports).
    function Get-HolderSocket($FleetHost, $Holder = $FleetHost.Holder) {
        $ports = $Holder.Port4, $Holder.Port6
        Invoke-Command -Session $sessionOf[$FleetHost.Address] { Get-TcpCloseWait | Where-Object LocalPort -in $using:ports }
    }
}

AfterAll {
    if ($sessions) { $sessions | Remove-PSSession -ErrorAction SilentlyContinue }
    Stop-TestFleet $fleet
    Remove-Module CloseWait -ErrorAction SilentlyContinue
}

Describe 'A fleet over PowerShell remoting over SSH' -Skip:($null -ne $FleetSkipReason) {
    BeforeAll {
        $script:all = @(Invoke-Command -Session $sessions -ThrottleLimit 2 { Get-TcpCloseWait })
        $script:held = @($all | Where-Object { $h = $hostOf[$_.PSComputerName]; $_.ProcessId -eq $h.Holder.Pid })
    }

    It 'counts on each host exactly the CLOSE_WAIT sockets its holder keeps' {
        foreach ($h in $fleet.Hosts) {
            $mine = @($all | Where-Object PSComputerName -eq $h.Address)
            @($mine | Where-Object LocalPort -in $h.Holder.Port4, $h.Holder.Port6).Count | Should -Be $h.Holder.Count -Because "host $($h.Index) holds $($h.Holder.Count)"
            @($mine | Where-Object ProcessId -eq $h.Holder.Pid).Count | Should -Be $h.Holder.Count
        }
        $held.Count | Should -Be 16
    }

    It 'gives every object where it was listed: the host name, this kernel''s boot and the host''s own namespace' {
        $localNamespace = (Get-TcpConnection -State Listen | Select-Object -First 1).NetworkNamespaceId
        foreach ($h in $fleet.Hosts) {
            $mine = @($held | Where-Object PSComputerName -eq $h.Address)
            $mine.ComputerName | Select-Object -Unique | Should -Be $h.HostName
            # One kernel serves the whole fleet here: one boot, three namespaces.
            $mine.BootId | Select-Object -Unique | Should -Be $localBootId
            @($mine.NetworkNamespaceId | Select-Object -Unique).Count | Should -Be 1
            $mine[0].NetworkNamespaceId | Should -Not -Be $localNamespace
        }
        @($held.NetworkNamespaceId | Select-Object -Unique).Count | Should -Be 3
        $held[0].PSObject.TypeNames[0] | Should -Be 'Deserialized.CloseWait.TcpConnection'
        # Owners stay objects, and the owner's name is there for Group-Object on the caller.
        $held[0].Owners[0].ProcessId | Should -Be $held[0].ProcessId
        @($held | Group-Object Program).Name | Should -Be 'python3'
    }

    It 'keeps every remote object when the caller filters by state and address family by name' {
        @($held | Where-Object State -eq CloseWait).Count | Should -Be 16
        @($held | Where-Object State -eq 'CloseWait').Count | Should -Be 16
        @($held | Where-Object AddressFamily -eq InterNetworkV6).Count | Should -Be 3
        @($held | Where-Object AddressFamily -eq InterNetwork).Count | Should -Be 13
        @($held | Group-Object State).Name | Should -Be 'CloseWait'
    }

    It 'gives one summary row per host, cheap and sortable by its counts' {
        $rows = @(Invoke-Command -Session $sessions { Get-TcpConnectionSummary -NoOwner } | Sort-Object CloseWait -Descending)
        $rows.Count | Should -Be 3
        $rows.PSComputerName | Should -Be @($fleet.Hosts[2].Address, $fleet.Hosts[1].Address, $fleet.Hosts[0].Address)
        $rows.CloseWait | Should -Be @(9, 5, 2)
        $table = $rows | Format-Table PSComputerName, Total, CloseWait, TimeWait, Established | Out-String -Width 80
        $table | Should -Match ([regex]::Escape($fleet.Hosts[2].Address) + '\s+\d+\s+9\s')
    }

    It 'round-trips through ConvertTo-Json and ConvertFrom-Json with names, not numbers' {
        $json = $held | ConvertTo-Json -Depth 4
        $json | Should -Not -Match '"value"\s*:'
        $back = @($json | ConvertFrom-Json)
        $back.Count | Should -Be 16
        @($back | Where-Object State -eq CloseWait).Count | Should -Be 16
        @($back | Where-Object AddressFamily -eq InterNetworkV6).Count | Should -Be 3
        ($back | Group-Object ComputerName).Count | Should -Be 3
        $back[0].Owners[0].Program | Should -Be 'python3'
    }

    It 'round-trips through Export-Csv and Import-Csv (no type line) into Close-TcpConnection' {
        $csv = Join-Path $TestDrive 'fleet.csv'
        $held | Export-Csv -Path $csv
        (Get-Content $csv -TotalCount 1) | Should -Not -Match '^#TYPE'
        $rows = @(Import-Csv $csv)
        @($rows | Where-Object State -eq CloseWait).Count | Should -Be 16
        # Every row parses as a connection and is refused here, since none was listed on this side.
        $rows | Close-TcpConnection -Confirm:$false -ErrorVariable refused -ErrorAction SilentlyContinue
        $refused.Count | Should -Be 16
        @($refused.FullyQualifiedErrorId | Select-Object -Unique) | Should -Be 'ConnectionListedElsewhere,CloseWait.Commands.CloseTcpConnectionCommand'
        # A row without a column the close needs is refused by that column's name.
        $rows[0] | Select-Object * -ExcludeProperty LocalPort | Close-TcpConnection -Confirm:$false -ErrorVariable missing -ErrorAction SilentlyContinue
        $missing.Count | Should -Be 1
        $missing[0].Exception.Message | Should -Match 'The LocalPort property is missing'
    }

    It 'refuses a remote object in a local Close-TcpConnection, naming its host and the command that closes it there' {
        $h = $fleet.Hosts[0]
        $one = $held | Where-Object PSComputerName -eq $h.Address | Select-Object -First 1
        $result = $one | Close-TcpConnection -Confirm:$false -PassThru -ErrorVariable refused -ErrorAction SilentlyContinue
        $refused.Count | Should -Be 1
        $refused[0].FullyQualifiedErrorId | Should -Be 'ConnectionListedElsewhere,CloseWait.Commands.CloseTcpConnectionCommand'
        $refused[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        $refused[0].Exception.Message | Should -Match ([regex]::Escape("host $($h.HostName)"))
        $refused[0].Exception.Message | Should -Match ([regex]::Escape("Invoke-Command -HostName $($h.Address) {"))
        $result.Status | Should -Be 'Skipped'
        @(Get-HolderSocket $h).Count | Should -Be $h.Holder.Count
    }

    It 'stops no local process when remote objects are piped into a local Stop-Process' {
        # Here the hosts share this machine's PIDs, so the holder is the very process a remote PID
        # would name: the strongest case. Id arrives as its text ("pid@host"), which binds nothing.
        $h = $fleet.Hosts[1]
        $mine = @($held | Where-Object PSComputerName -eq $h.Address)
        $mine | Stop-Process -ErrorVariable bound -ErrorAction SilentlyContinue
        $bound.Count | Should -Be $mine.Count
        $bound[0].FullyQualifiedErrorId | Should -Match '^InputObjectNotBound'
        "$($mine[0].Id)" | Should -Be "$($mine[0].ProcessId)@$($mine[0].ComputerName)"
        @($mine | Group-Object Program).Name | Should -Be 'python3'

        # Without the module (a runspace of its own): the same, and no ProcessName for -Name to bind.
        $ps = [powershell]::Create([System.Management.Automation.Runspaces.InitialSessionState]::CreateDefault2())
        try {
            $null = $ps.AddCommand('Stop-Process')
            $null = $ps.Invoke($mine)
            $ps.Streams.Error.Count | Should -Be $mine.Count
            $ps.Streams.Error[0].FullyQualifiedErrorId | Should -Match '^InputObjectNotBound'
        }
        finally { $ps.Dispose() }

        Get-Process -Id $h.Holder.Pid -ErrorAction SilentlyContinue | Should -Not -BeNullOrEmpty
        @(Get-HolderSocket $h).Count | Should -Be $h.Holder.Count
    }

    It 'still stops the owner from the listing on its own host (Get-TcpCloseWait | Stop-Process there)' {
        $h = $fleet.Hosts[1]
        $spare = Start-FleetHolder -Fleet $fleet -FleetHost $h -Count 1 -Tag 'stop'
        $stopped = Invoke-Command -Session $sessionOf[$h.Address] {
            Get-TcpCloseWait -LocalPort $using:spare.Port6 | Stop-Process -Confirm:$false -PassThru
        }
        $stopped.Id | Should -Be $spare.Pid
        Wait-FleetCondition -What 'the stopped holder to exit' -TimeoutSeconds 10 -Condition { -not (Get-Process -Id $spare.Pid -ErrorAction SilentlyContinue) }
        Get-Process -Id $h.Holder.Pid -ErrorAction SilentlyContinue | Should -Not -BeNullOrEmpty
    }

    It 'closes CSV and JSON records on the host that listed them' {
        $h = $fleet.Hosts[2]
        $spare = Start-FleetHolder -Fleet $fleet -FleetHost $h -Count 3 -Tag 'close'
        $listed = @(Get-HolderSocket $h $spare)
        $listed.Count | Should -Be 3
        $csv = Join-Path $TestDrive 'close.csv'
        $listed[0], $listed[1] | Export-Csv -Path $csv
        $rows = @(Import-Csv $csv)
        $records = @($rows) + @($listed[2] | ConvertTo-Json -Depth 4 | ConvertFrom-Json)
        $results = @(Invoke-Command -Session $sessionOf[$h.Address] { $using:records | Close-TcpConnection -Force -PassThru })
        $results.Status | Should -Be @('Closed', 'Closed', 'Closed')
        @(Get-HolderSocket $h $spare).Count | Should -Be 0
        @(Get-HolderSocket $h).Count | Should -Be $h.Holder.Count
    }

    It 'changes keepalive only on the host it was set on, and its warnings name the host' {
        $before = Invoke-Command -Session $sessions { Get-TcpKeepAliveSetting } -WarningAction SilentlyContinue
        $localBefore = (Get-TcpKeepAliveSetting -WarningAction SilentlyContinue).Time
        $target = $fleet.Hosts[0]
        $newTime = if ((($before | Where-Object PSComputerName -eq $target.Address).Time.TotalSeconds) -eq 1234) { 1235 } else { 1234 }
        # Its own warning (not persisted) is not what this test reads: keep it on the host.
        Invoke-Command -Session $sessionOf[$target.Address] { Set-TcpKeepAliveSetting -Time $using:newTime -Confirm:$false -WarningAction SilentlyContinue }

        $after = Invoke-Command -Session $sessions { Get-TcpKeepAliveSetting } -WarningVariable warned -WarningAction SilentlyContinue
        foreach ($h in $fleet.Hosts) {
            $time = ($after | Where-Object PSComputerName -eq $h.Address).Time
            if ($h -eq $target) { $time.TotalSeconds | Should -Be $newTime }
            else { $time | Should -Be ($before | Where-Object PSComputerName -eq $h.Address).Time }
        }
        (Get-TcpKeepAliveSetting -WarningAction SilentlyContinue).Time | Should -Be $localBefore

        # The running value now differs from what a reboot would bring: that host warns, by its name,
        # and every warning says which host raised it.
        @($warned | Where-Object { "$_".StartsWith("[$($target.HostName)] After a reboot") }).Count | Should -BeGreaterThan 0
        foreach ($w in $warned) { "$w" | Should -Match ('^\[(' + (($fleet.Hosts.HostName | ForEach-Object { [regex]::Escape($_) }) -join '|') + ')\] ') }
    }
}
