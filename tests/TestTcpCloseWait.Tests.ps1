#Requires -Version 7.0
#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
<#
    Test-TcpCloseWait against the built module and real processes: one python3 process per cause
    (tests/CloseWait.Tests/Scenarios/closewait_holder.py), one holding healthy established
    connections and one with a few brief CLOSE_WAIT sockets. All start at once; the only waits are
    the scenario's own (a pool idles PeerIdle seconds before its server closes, then every socket
    must be in CLOSE_WAIT StuckAfter seconds).
    Invoke-Pester ./tests/TestTcpCloseWait.Tests.ps1 -Output Detailed
#>

BeforeDiscovery {
    # The causes rest on Linux's queues, FIN state, timers and every holder; the holders are python3.
    $script:CanRun = $IsLinux -and [bool](Get-Command python3 -ErrorAction SilentlyContinue)
}

BeforeAll {
    $manifest = Join-Path (Split-Path $PSScriptRoot -Parent) 'out/CloseWait/CloseWait.psd1'
    if (-not (Test-Path $manifest)) { throw "Build the module first (dotnet build): $manifest not found." }
    Import-Module $manifest -Force
}

AfterAll {
    Remove-Module CloseWait -ErrorAction SilentlyContinue
}

Describe 'Test-TcpCloseWait on one process per cause' -Skip:(-not $CanRun) {
    BeforeAll {
        # Brief sockets must stay under StuckAfter through one listing on a loaded machine.
        $StuckAfter = 3
        $PeerIdle = 3
        $holderScript = Join-Path $PSScriptRoot 'CloseWait.Tests/Scenarios/closewait_holder.py'

        function Start-Holder([string] $Mode, [int] $Count = 3, [double] $Idle = 0) {
            $psi = [System.Diagnostics.ProcessStartInfo]::new('python3')
            foreach ($a in @($holderScript, $Mode, "$Count", "$Idle")) { $psi.ArgumentList.Add($a) }
            $psi.UseShellExecute = $false
            $psi.RedirectStandardInput = $true
            $psi.RedirectStandardOutput = $true
            [System.Diagnostics.Process]::Start($psi)
        }

        function Read-HolderLine($Process, [string] $Name, [int] $TimeoutMs = 20000) {
            $line = $Process.StandardOutput.ReadLineAsync()
            if (-not $line.Wait($TimeoutMs)) { throw "the $Name holder said nothing in $TimeoutMs ms" }
            if ($null -eq $line.Result) { throw "the $Name holder exited (code $($Process.ExitCode))" }
            $line.Result
        }

        $holders = [ordered]@{}
        $ports = @{}
        try {
            foreach ($mode in 'notclosed', 'notread', 'idlepool', 'inherited', 'acceptbacklog', 'healthy', 'brief') {
                $holders[$mode] = Start-Holder $mode
            }
            $holders['peeridle'] = Start-Holder 'peeridle' 4 $PeerIdle
            foreach ($mode in @($holders.Keys)) {
                $ready = (Read-HolderLine $holders[$mode] $mode) -split ' '
                $ready[0] | Should -Be 'ready'
                $ports[$mode] = [int] $ready[1]
            }

            # The scenario's own wait: until all 16 stuck sockets have been in CLOSE_WAIT StuckAfter.
            $stuckPids = foreach ($m in 'notclosed', 'notread', 'idlepool', 'inherited', 'peeridle') { $holders[$m].Id }
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            while ($true) {
                $cw = @(Get-TcpCloseWait -ProcessId $stuckPids) + @(Get-TcpCloseWait -LocalPort $ports.acceptbacklog)
                $youngest = ($cw.IdleTime | Measure-Object -Property TotalSeconds -Minimum).Minimum
                if ($cw.Count -eq 19 -and $youngest -ge $StuckAfter + 0.2) { break }
                if ([DateTime]::UtcNow -gt $deadline) { throw "the scenario's sockets never all stood $StuckAfter s in CLOSE_WAIT: $($cw.Count) of 19, youngest $youngest s" }
                Start-Sleep -Milliseconds 100
            }

            # Brief: CLOSE_WAIT sockets made now, well under StuckAfter.
            $holders.brief.StandardInput.WriteLine('go')
            Read-HolderLine $holders.brief 'brief' | Should -Be 'went'

            $allPids = @($holders.Values.Id)
            $script:result = @(Test-TcpCloseWait -StuckAfter $StuckAfter -ProcessId $allPids)
            # The brief sockets age with every call: -Quiet on them under a threshold they cannot reach here.
            $script:quietHealthy = Test-TcpCloseWait -StuckAfter 600 -ProcessId $holders.healthy.Id, $holders.brief.Id -Quiet
            $script:unowned = @(Test-TcpCloseWait -StuckAfter $StuckAfter -LocalPort $ports.acceptbacklog)
            $script:quietAll = Test-TcpCloseWait -StuckAfter $StuckAfter -ProcessId $allPids -Quiet
        }
        catch {
            foreach ($p in $holders.Values) { try { $p.Kill($true) } catch { } }
            throw
        }

        function Get-Diagnosis([string] $Mode) { $script:result | Where-Object ProcessId -EQ $holders[$Mode].Id }
    }

    AfterAll {
        foreach ($p in $holders.Values) {
            try { $p.StandardInput.Close() } catch { }
            if (-not $p.WaitForExit(3000)) { $p.Kill($true); [void] $p.WaitForExit(3000) }
            $p.Dispose()
        }
    }

    It 'gives <Mode> exactly <Expected>' -ForEach @(
        @{ Mode = 'notclosed'; Expected = @('NotClosed') }
        @{ Mode = 'notread'; Expected = @('NotRead') }
        @{ Mode = 'idlepool'; Expected = @('IdlePool') }
        @{ Mode = 'inherited'; Expected = @('Inherited') }
        @{ Mode = 'peeridle'; Expected = @('PeerIdleTimeout', 'IdlePool') }
    ) {
        $d = Get-Diagnosis $Mode
        @($d).Count | Should -Be 1
        @($d.Cause) | Should -Be $Expected
        $d.Severity | Should -Be 'Warning'
        $d.Healthy | Should -BeFalse
        $d.Program | Should -Be 'python3'
        $d.StuckCount | Should -Be $d.Count
        $d.Finding | Should -Match "\b$($Expected[0])\b"
        $d.Advice | Should -Not -BeNullOrEmpty
        $d.OpenDescriptors | Should -BeGreaterThan $d.Count
        $d.DescriptorLimit | Should -BeGreaterThan 0
    }

    It 'infers the peer idle timeout within half a second and advises the server''s keep-alive, never TCP keepalive' {
        $d = Get-Diagnosis 'peeridle'
        $d.Count | Should -Be 4
        $d.PeerIdleTimeout.TotalSeconds | Should -BeGreaterOrEqual ($PeerIdle - 0.5)
        $d.PeerIdleTimeout.TotalSeconds | Should -BeLessOrEqual ($PeerIdle + 0.5)
        $d.Finding | Should -Match 'closes keep-alive connections idle'
        $d.Advice | Should -Match "keep-alive above the client's idle gaps"
        $d.Advice | Should -Not -Match '(?i)TCP keepalive|Set-TcpKeepAlive|Test-TcpKeepAlive|SO_KEEPALIVE'
        (Get-Diagnosis 'idlepool').PeerIdleTimeout | Should -BeNullOrEmpty
    }

    It 'counts the unread bytes of NotRead' {
        (Get-Diagnosis 'notread').UnreadBytes | Should -Be 300
        (Get-Diagnosis 'notclosed').UnreadBytes | Should -Be 0
    }

    It 'names the child that inherited the sockets' {
        $d = Get-Diagnosis 'inherited'
        @($d.SharedWith).Count | Should -Be 1
        (Get-Process -Id $d.SharedWith[0]).ProcessName | Should -Be 'sleep'
        $d.Finding | Should -Match "sleep \(PID $($d.SharedWith[0])\)"
    }

    It 'gives the sockets no process owns AcceptBacklog, in the listener''s service, naming the listener' {
        $unowned.Count | Should -Be 1
        $d = $unowned[0]
        $d.ProcessId | Should -Be $holders.acceptbacklog.Id
        $d.Service | Should -Be "python3 :$($ports.acceptbacklog)"
        @($d.ProcessIds).Count | Should -Be 0
        $d.Count | Should -Be 3
        @($d.Cause) | Should -Be @('AcceptBacklog')
        $d.Finding | Should -Match "port $($ports.acceptbacklog), held by python3 \(PID $($holders.acceptbacklog.Id)\)"
    }

    It 'says nothing about the process with only established connections' {
        Get-Diagnosis 'healthy' | Should -BeNullOrEmpty
    }

    It 'finds brief CLOSE_WAIT normal: no cause, healthy' {
        $d = Get-Diagnosis 'brief'
        $d.Count | Should -Be 3
        $d.Severity | Should -Be 'Normal'
        $d.Healthy | Should -BeTrue
        @($d.Cause).Count | Should -Be 0
        $d.Finding | Should -Match 'normal'
        $d.Advice | Should -BeNullOrEmpty
    }

    It 'answers -Quiet with $false when something is wrong and $true when not' {
        $quietAll | Should -BeOfType [bool]
        $quietAll | Should -BeFalse
        $quietHealthy | Should -BeTrue
    }

    It 'filters by cause with Where-Object -contains' {
        @($result | Where-Object Cause -Contains NotRead).ProcessId | Should -Be $holders.notread.Id
        @($result | Where-Object Cause -Contains IdlePool).Count | Should -Be 2
        @($result | Where-Object Healthy).ProcessId | Should -Be $holders.brief.Id
    }

    It 'reads at 80 columns in the default list view and in Format-Table' {
        $list = $result | Out-String -Width 80
        $list | Should -Match 'Finding'
        $list | Should -Match 'PeerIdleTimeout, IdlePool'
        $table = $result | Format-Table | Out-String -Width 80
        $table | Should -Match 'Severity'
        $table | Should -Match 'NotClosed'
        foreach ($line in ($list + $table) -split "`r?`n") { $line.Length | Should -BeLessOrEqual 80 -Because $line }
    }

    It 'survives remoting serialization: names, filters and the view' {
        $d = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($result))
        $d[0].PSObject.TypeNames | Should -Contain 'Deserialized.CloseWait.TcpCloseWaitDiagnosis'
        @($d | Where-Object Cause -Contains NotRead).ProcessId | Should -Be $holders.notread.Id
        @(($d | Where-Object ProcessId -EQ $holders.peeridle.Id).Cause) | Should -Be @('PeerIdleTimeout', 'IdlePool')
        ($d | Where-Object ProcessId -EQ $holders.peeridle.Id).Peers[0].Count | Should -Be 4
        $text = $d | Out-String -Width 80
        $text | Should -Match 'Finding'
        $text | Should -Match 'NotClosed'
    }

    It 'keeps the cause names in CSV and JSON' {
        $csv = $result | ConvertTo-Csv -NoTypeInformation | ConvertFrom-Csv
        ($csv | Where-Object ProcessId -EQ $holders.peeridle.Id).Cause | Should -Be 'PeerIdleTimeout, IdlePool'
        ($csv | Where-Object ProcessId -EQ $holders.notread.Id).Severity | Should -Be 'Warning'
        ($csv | Where-Object ProcessId -EQ $holders.idlepool.Id).Peers | Should -Match '^127\.0\.0\.1:\d+ x3 '
        $json = $result | ConvertTo-Json -Depth 5 | ConvertFrom-Json
        @(($json | Where-Object ProcessId -EQ $holders.peeridle.Id).Cause) | Should -Be @('PeerIdleTimeout', 'IdlePool')
    }
}

Describe 'Test-TcpCloseWait help and parameters' {
    It 'has help with examples' {
        $help = Get-Help Test-TcpCloseWait -Full
        $help.Synopsis | Should -Match 'CLOSE_WAIT'
        @($help.Examples.Example).Count | Should -BeGreaterOrEqual 4
        $help.Parameters.Parameter.Name | Should -Contain 'StuckAfter'
    }

    It 'refuses -NoOwner with its error id' {
        { Test-TcpCloseWait -NoOwner } | Should -Throw -ErrorId 'DiagnosisNeedsOwners,CloseWait.Commands.TestTcpCloseWaitCommand'
    }
}
