#Requires -Version 7.0
#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
<#
    Every output type that names a process, piped into a real Stop-Process against decoys that share
    the owner's name: live it stops exactly the owner; after any round trip (CSV with and without
    #TYPE, an edited row, JSON, Clixml, remoting) it stops nothing, never a process chosen by name.
    Enums cross remoting as names.
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../out/CloseWait/CloseWait.psd1') -Force

    # A CLOSE_WAIT socket held by this pwsh: the peer connects and closes, the accepted socket stays open.
    function New-CloseWaitSocket {
        $l = [System.Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp')
        $l.Bind([System.Net.IPEndPoint]::new([System.Net.IPAddress]::Loopback, 0)); $l.Listen(4)
        $c = [System.Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp'); $c.Connect($l.LocalEndPoint)
        $s = $l.Accept(); $c.Close()
        $port = $l.LocalEndPoint.Port
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while (-not (Get-TcpCloseWait -LocalPort $port -NoOwner)) {
            if ([DateTime]::UtcNow -gt $deadline) { throw "no CLOSE_WAIT socket on port $port" }
            Start-Sleep -Milliseconds 20
        }
        [pscustomobject]@{ Port = $port; Sockets = @($l, $s) }
    }

    function ConvertTo-Remote($InputObject) {
        [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($InputObject, 1))
    }

    $script:stuck = New-CloseWaitSocket
    $script:toClose = New-CloseWaitSocket
    $script:outputs = @{
        Diagnosis = Test-TcpCloseWait -LocalPort $stuck.Port -StuckAfter 0
        Event     = Watch-TcpCloseWait -LocalPort $stuck.Port -Count 1
        Summary   = Get-TcpConnectionSummary
        Closed    = Close-TcpConnection -LocalPort $toClose.Port -State CloseWait -PassThru -Confirm:$false
        PortUsage = Get-TcpPortUsage
    }
}

AfterAll {
    foreach ($s in @($stuck.Sockets) + @($toClose.Sockets)) { if ($s) { $s.Dispose() } }
}

Describe 'A real Stop-Process from every output type, through every round trip, against decoys' {
    BeforeAll {
        # Processes that share one name: a copy of perl under a name of its own (comm, at most 15
        # characters). The holder keeps two CLOSE_WAIT sockets; the decoys hold nothing.
        $script:dir = Join-Path ([System.IO.Path]::GetTempPath()) ("cw-decoy-" + [guid]::NewGuid().ToString('n').Substring(0, 8))
        $null = New-Item -ItemType Directory $dir
        $script:program = 'cwdecoy' + (Get-Random -Minimum 1000 -Maximum 9999)
        $script:exe = Join-Path $dir $program
        Copy-Item (Get-Command perl -CommandType Application | Select-Object -First 1).Source $exe
        $script:holderScript = @'
use IO::Socket::INET;
my $l = IO::Socket::INET->new(Listen => 8, LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp') or die;
my @held;
for (1 .. 2) { my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $l->sockport, Proto => 'tcp') or die; push @held, $l->accept; close $c; }
$| = 1; print $l->sockport, "\n";
sleep 300;
'@
        $script:started = [System.Collections.Generic.List[System.Diagnostics.Process]]::new()

        function Start-Named([string[]] $ArgumentList) {
            $si = [System.Diagnostics.ProcessStartInfo]::new($exe)
            foreach ($a in $ArgumentList) { $si.ArgumentList.Add($a) }
            $si.RedirectStandardOutput = $true
            $p = [System.Diagnostics.Process]::Start($si)
            $started.Add($p)
            $p
        }

        # A holder of two CLOSE_WAIT sockets and two idle decoys, all named $program.
        function Start-Cast {
            $holder = Start-Named '-e', $holderScript
            $read = $holder.StandardOutput.ReadLineAsync()
            if (-not $read.Wait(30000)) { throw 'the holder never told its port' }
            $port = [int] $read.Result
            $decoys = @(Start-Named '-e', 'sleep 300'; Start-Named '-e', 'sleep 300')
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            while (@(Get-TcpCloseWait -LocalPort $port | Where-Object ProcessId -eq $holder.Id).Count -ne 2) {
                if ([DateTime]::UtcNow -gt $deadline) { throw "no two CLOSE_WAIT sockets of $($holder.Id) on port $port" }
                Start-Sleep -Milliseconds 20
            }
            [pscustomobject]@{ Holder = $holder; Decoys = $decoys; Port = $port }
        }

        function Get-Output([string] $Kind, $Cast) {
            $holderPid = $Cast.Holder.Id
            switch ($Kind) {
                'Connection' { Get-TcpCloseWait -LocalPort $Cast.Port | Select-Object -First 1 }
                'Owner' { (Get-TcpCloseWait -LocalPort $Cast.Port | Select-Object -First 1).Owners }
                'Diagnosis' { Test-TcpCloseWait -ProcessId $holderPid -StuckAfter 0 }
                'Event' { Watch-TcpCloseWait -LocalPort $Cast.Port -Count 1 | Select-Object -First 1 }
                'Summary' { (Get-TcpConnectionSummary -WarningAction SilentlyContinue).ByProcess | Where-Object ProcessId -eq $holderPid }
                'Closed' { Get-TcpCloseWait -LocalPort $Cast.Port | Select-Object -First 1 | Close-TcpConnection -PassThru -Confirm:$false }
            }
        }

        # What reaches Stop-Process after each way out of the session and back.
        function Invoke-RoundTrip([string] $Trip, $InputObject) {
            $file = Join-Path $dir ([guid]::NewGuid().ToString('n'))
            switch ($Trip) {
                'CsvWithType' { $InputObject | Export-Csv $file -IncludeTypeInformation; Import-Csv $file }
                'CsvNoType' { $InputObject | Export-Csv $file; Import-Csv $file }
                'CsvEdited' { $InputObject | Export-Csv $file; Import-Csv $file | ForEach-Object { if ($_.PSObject.Properties['RemotePort']) { $_.RemotePort = '1' }; $_ } }
                'Json' { $InputObject | ConvertTo-Json -Depth 5 | ConvertFrom-Json }
                'JsonEnumsAsStrings' { $InputObject | ConvertTo-Json -EnumsAsStrings | ConvertFrom-Json }
                'JsonDepth1' { $InputObject | ConvertTo-Json -Depth 1 -WarningAction SilentlyContinue | ConvertFrom-Json }
                'Clixml' { $InputObject | Export-Clixml $file; Import-Clixml $file }
                'Remoting' { [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($InputObject, 1)) }
            }
        }
    }

    AfterAll {
        foreach ($p in $started) { if (-not $p.HasExited) { $p.Kill(); $null = $p.WaitForExit(10000) } }
        Remove-Item $dir -Recurse -Force -ErrorAction Ignore
    }

    It '<kind>: every round trip stops nothing, the live object stops exactly the holder' -ForEach @(
        @{ Kind = 'Connection' }, @{ Kind = 'Owner' }, @{ Kind = 'Diagnosis' }, @{ Kind = 'Event' }, @{ Kind = 'Summary' }, @{ Kind = 'Closed' }
    ) {
        $cast = Start-Cast
        $everyone = @($cast.Holder) + $cast.Decoys
        $live = @(Get-Output $Kind $cast)
        $live.Count | Should -Be 1
        $live[0].Program | Should -Be $program
        $live[0].ProcessId | Should -Be $cast.Holder.Id
        $live[0].PSObject.Properties.Name | Should -Not -Contain 'ProcessName'
        $live[0].PSObject.Properties.Name | Should -Not -Contain 'Name'

        foreach ($trip in 'CsvWithType', 'CsvNoType', 'CsvEdited', 'Json', 'JsonEnumsAsStrings', 'JsonDepth1', 'Clixml', 'Remoting') {
            $back = @(Invoke-RoundTrip $trip $live)
            $back.Count | Should -Be 1 -Because $trip
            # Grouping by the owner's name works after the trip.
            @($back | Group-Object Program).Name | Should -Be $program -Because $trip
            "$($back[0].Id)" | Should -Not -BeNullOrEmpty -Because "$trip (a blank Id binds Stop-Process -Id 0)"
            $err = $null
            $back | Stop-Process -Force -ErrorAction SilentlyContinue -ErrorVariable err
            $err | Should -Not -BeNullOrEmpty -Because "$trip must say it stopped nothing"
            foreach ($p in $everyone) { $p.HasExited | Should -BeFalse -Because "$trip stopped $($p.Id)" }
        }

        $live | Stop-Process -Force
        $cast.Holder.WaitForExit(10000) | Should -BeTrue
        foreach ($p in $cast.Decoys) { $p.HasExited | Should -BeFalse -Because 'a decoy shares the name only' }
        foreach ($p in $cast.Decoys) { $p.Kill(); $null = $p.WaitForExit(10000) }
    }

    It 'a live object whose owner has exited stops nothing, and says why' {
        $cast = Start-Cast
        $live = Get-TcpCloseWait -LocalPort $cast.Port | Select-Object -First 1
        $cast.Holder.Kill(); $null = $cast.Holder.WaitForExit(10000)
        $err = $null
        $live | Stop-Process -Force -ErrorAction SilentlyContinue -ErrorVariable err
        $err | Should -Not -BeNullOrEmpty
        foreach ($p in $cast.Decoys) { $p.HasExited | Should -BeFalse }
        { [int] $live.Id } | Should -Throw "*$($cast.Holder.Id) has exited*"
        foreach ($p in $cast.Decoys) { $p.Kill(); $null = $p.WaitForExit(10000) }
    }

    It 'a caller without the module groups remote connections by Program' {
        $cast = Start-Cast
        $file = Join-Path $dir 'remote.xml'
        Get-TcpCloseWait -LocalPort $cast.Port | Export-Clixml $file
        $groups = & (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -Command "Import-Clixml '$file' | Group-Object Program | ForEach-Object { '{0}={1}' -f `$_.Name, `$_.Count }"
        $groups | Should -Be "$program=2"
        $cast.Holder.Kill(); foreach ($p in $cast.Decoys) { $p.Kill() }
    }
}

Describe 'Settings rows name no process' {
    It 'a TIME_WAIT setting row, live or after a round trip, binds no Stop-Process -Name' {
        # A decoy named as a setting is (comm "PortRange"): a row with a Name property would SIGKILL it.
        $dir = Join-Path ([System.IO.Path]::GetTempPath()) ("cw-setting-" + [guid]::NewGuid().ToString('n').Substring(0, 8))
        $null = New-Item -ItemType Directory $dir
        $exe = Join-Path $dir 'PortRange'
        Copy-Item (Get-Command sleep -CommandType Application | Select-Object -First 1).Source $exe
        $decoy = [System.Diagnostics.Process]::Start($exe, '300')
        try {
            $rows = @((Get-TcpTimeWaitSetting).Details)
            $rows.Setting | Should -Contain 'PortRange'
            foreach ($r in $rows) { $r.PSObject.Properties.Name | Should -Not -Contain 'Name' }
            $file = Join-Path $dir 'rows.csv'
            $rows | Export-Csv $file
            foreach ($back in @($rows), @(Import-Csv $file), @($rows | ConvertTo-Json | ConvertFrom-Json),
                @(ConvertTo-Remote $rows)) {
                $back | Stop-Process -Force -ErrorAction SilentlyContinue
                $decoy.HasExited | Should -BeFalse
            }
        }
        finally {
            if (-not $decoy.HasExited) { $decoy.Kill(); $null = $decoy.WaitForExit(10000) }
            Remove-Item $dir -Recurse -Force -ErrorAction Ignore
        }
    }
}

Describe 'Enums after remoting' {
    It '<kind>.<property> crosses as its name' -ForEach @(
        @{ Kind = 'Diagnosis'; Property = 'Severity' }
        @{ Kind = 'Closed'; Property = 'Status' }
        @{ Kind = 'Closed'; Property = 'Method' }
        @{ Kind = 'Closed'; Property = 'State' }
        @{ Kind = 'PortUsage'; Property = 'Verdict' }
    ) {
        $local = @($outputs[$Kind])[0]
        if ($null -eq $local -or $null -eq $local.$Property) { Set-ItResult -Skipped -Because "no $Kind with a $Property on this box"; return }
        $remote = ConvertTo-Remote $local
        $remote.$Property | Should -BeOfType [string]
        $remote.$Property | Should -BeExactly $local.$Property.ToString()
        @($remote | Where-Object $Property -eq $local.$Property.ToString()).Count | Should -Be 1
    }
}
