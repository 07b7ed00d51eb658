#Requires -Version 7.0
#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
<#
    Watch-TcpCloseWait against the built module and real loopback sockets held by child
    processes that play a timeline: a socket that stays 4 s in CLOSE_WAIT, a leak of one stuck
    socket a second. Invoke-Pester ./tests/WatchTcpCloseWait.Tests.ps1 -Output Detailed
#>

BeforeDiscovery {
    $script:IsRoot = $IsLinux -and ((id -u) -eq '0')
}

BeforeAll {
    $manifest = Join-Path (Split-Path $PSScriptRoot -Parent) 'out/CloseWait/CloseWait.psd1'
    if (-not (Test-Path $manifest)) { throw "Build the module first (dotnet build): $manifest not found." }
    Import-Module $manifest -Force
    $script:Pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')

    # The child's timeline. It listens on loopback and writes its port to $PortFile, then:
    #   'EnterLeave': one socket enters CLOSE_WAIT, its owner closes it 4 s later;
    #   'Leak': one more socket enters CLOSE_WAIT every second, none is closed.
    # Either way it exits by itself after 60 s at the latest.
    $script:ChildScript = @'
param($Mode, $PortFile, $Loopback)
if ($Loopback -eq 'Up') { ip link set lo up } # a fresh network namespace starts with lo down
$l = [System.Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp')
$l.Bind([System.Net.IPEndPoint]::new([System.Net.IPAddress]::Loopback, 0)); $l.Listen(128)
function Stick { $c = [System.Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp'); $c.Connect($l.LocalEndPoint); $s = $l.Accept(); $c.Close(); $s }
$held = [System.Collections.Generic.List[object]]::new()
if ($Mode -eq 'EnterLeave') {
    $s = Stick
    $stuck = [System.Diagnostics.Stopwatch]::StartNew()
    # The port is told once the socket is in CLOSE_WAIT: a watch started then sees it at its first sample.
    Set-Content -Path $PortFile -Value $l.LocalEndPoint.Port
    Start-Sleep -Seconds 4
    $s.Close()
    $stuck.Stop()
    # How long it really stayed, by this process's clock: on a loaded machine more than 4 s.
    Set-Content -Path "$PortFile.held" -Value $stuck.Elapsed.TotalSeconds.ToString([cultureinfo]::InvariantCulture)
    Start-Sleep -Seconds 56
}
else {
    Set-Content -Path $PortFile -Value $l.LocalEndPoint.Port
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    for ($i = 1; $i -le 60; $i++) {
        $held.Add((Stick))
        $next = $i * 1000 - $clock.ElapsedMilliseconds
        if ($next -gt 0) { Start-Sleep -Milliseconds $next }
    }
}
'@

    function Start-Scenario {
        param([ValidateSet('EnterLeave', 'Leak')] [string] $Mode, [switch] $OwnNetworkNamespace)
        $portFile = (New-TemporaryFile).FullName
        Remove-Item $portFile
        $scriptFile = (New-TemporaryFile).FullName + '.ps1'
        Set-Content -Path $scriptFile -Value $script:ChildScript
        $argv = @('-NoProfile', '-NonInteractive', '-File', $scriptFile, $Mode, $portFile)
        $child = if ($OwnNetworkNamespace) {
            # unshare execs pwsh: the child's PID is the namespace's PID.
            Start-Process -FilePath unshare -ArgumentList (@('-n', $script:Pwsh) + $argv + 'Up') -PassThru
        }
        else {
            Start-Process -FilePath $script:Pwsh -ArgumentList $argv -PassThru
        }
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while (-not (Get-Content $portFile -ErrorAction SilentlyContinue) -and -not $child.HasExited -and [DateTime]::UtcNow -lt $deadline) {
            Start-Sleep -Milliseconds 50
        }
        $port = Get-Content $portFile -ErrorAction SilentlyContinue
        if (-not $port) { $child.Kill(); throw "The scenario child did not start within 60 s." }
        [pscustomobject]@{ Process = $child; Port = [int]$port; Files = @($portFile, "$portFile.held", $scriptFile); HeldFile = "$portFile.held" }
    }

    function Stop-Scenario($Scenario) {
        if ($Scenario) {
            if (-not $Scenario.Process.HasExited) { $Scenario.Process.Kill() }
            $Scenario.Files | Remove-Item -ErrorAction SilentlyContinue
        }
    }

    # A CLOSE_WAIT socket held by this pwsh, for the quick cases.
    function New-StuckSocket {
        $l = [System.Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp')
        $l.Bind([System.Net.IPEndPoint]::new([System.Net.IPAddress]::Loopback, 0)); $l.Listen(4)
        $c = [System.Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp'); $c.Connect($l.LocalEndPoint)
        $s = $l.Accept(); $c.Close()
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        while (-not (Get-TcpCloseWait -LocalPort $l.LocalEndPoint.Port -NoOwner) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
        [pscustomobject]@{ Listener = $l; Server = $s; Port = $l.LocalEndPoint.Port }
    }
}

AfterAll {
    Remove-Module CloseWait -ErrorAction SilentlyContinue
}

Describe 'Watch-TcpCloseWait on a timeline' {
    It 'sees a socket enter CLOSE_WAIT and leave it 4 s later, with its measured duration' {
        $scenario = Start-Scenario -Mode EnterLeave
        try {
            $events = @(Watch-TcpCloseWait -LocalPort $scenario.Port -Duration 10 -Interval 1)
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            while (-not (Get-Content $scenario.HeldFile -ErrorAction SilentlyContinue) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
            $held = [double]::Parse((Get-Content $scenario.HeldFile), [cultureinfo]::InvariantCulture)
            $held | Should -BeGreaterOrEqual 4.0
            $events.Event | Should -Be @('Entered', 'Left')
            $events | ForEach-Object { $_.PSObject.TypeNames | Should -Contain 'CloseWait.TcpCloseWaitEvent' }
            $entered, $left = $events
            $entered.ProcessId | Should -Be $scenario.Process.Id
            $entered.Id | Should -Be $scenario.Process.Id
            $entered.Program | Should -Not -BeNullOrEmpty
            $entered.LocalPort | Should -Be $scenario.Port
            $entered.Connection.State | Should -Be ([CloseWait.TcpState]::CloseWait)
            $left.ProcessId | Should -Be $scenario.Process.Id
            $left.Connection.RemotePort | Should -Be $entered.Connection.RemotePort
            if ($IsLinux) { $left.Connection.Cookie | Should -Be $entered.Connection.Cookie }
            $left.Time | Should -BeGreaterThan $entered.Time
            # Within a second of the time it really stayed (a sample every second sees it stop).
            $left.Duration.TotalSeconds | Should -BeGreaterOrEqual ($held - 1.0)
            $left.Duration.TotalSeconds | Should -BeLessOrEqual ($held + 0.2)
        }
        finally {
            Stop-Scenario $scenario
        }
    }

    It 'flags the process that adds one stuck socket a second as Growing, near 60 a minute' {
        $scenario = Start-Scenario -Mode Leak
        try {
            $events = @(Watch-TcpCloseWait -LocalPort $scenario.Port -Duration 12 -Interval 1)
            $growing = @($events | Where-Object Event -EQ 'Growing')
            $growing.Count | Should -BeGreaterOrEqual 1
            $last = $growing[-1]
            $last.ProcessId | Should -Be $scenario.Process.Id
            $last.LocalPort | Should -Be $scenario.Port
            $last.Count | Should -BeGreaterOrEqual 5
            $last.RatePerMinute | Should -BeGreaterOrEqual 40
            $last.RatePerMinute | Should -BeLessOrEqual 80
            $last.Connection | Should -BeNullOrEmpty
            if ($IsLinux) {
                # .NET raises its soft descriptor limit to the hard one: large, but known.
                $last.OpenDescriptors | Should -BeGreaterThan $last.Count
                $last.DescriptorLimit | Should -BeGreaterThan $last.OpenDescriptors
                $expected = ($last.DescriptorLimit - $last.OpenDescriptors) / $last.RatePerMinute
                $last.DescriptorsExhaustedIn.TotalMinutes | Should -BeGreaterThan ($expected * 0.99)
                $last.DescriptorsExhaustedIn.TotalMinutes | Should -BeLessThan ($expected * 1.01 + 1)
            }
            @($events | Where-Object Event -EQ 'Entered').Count | Should -BeGreaterOrEqual $last.Count
            @($events | Where-Object Event -EQ 'Left').Count | Should -Be 0
        }
        finally {
            Stop-Scenario $scenario
        }
    }
}

Describe 'Watch-TcpCloseWait ends when it should' {
    BeforeAll {
        $stuck = New-StuckSocket
    }
    AfterAll {
        $stuck.Server.Dispose(); $stuck.Listener.Dispose()
    }

    It 'takes -Count samples and ends after the last one' {
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $verbose = Watch-TcpCloseWait -LocalPort $stuck.Port -Count 3 -Interval 1 -NoOwner -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $clock.Stop()
        @($verbose | Where-Object Message -Match '^Sample \d+:').Count | Should -Be 3
        $clock.Elapsed.TotalSeconds | Should -BeGreaterOrEqual 1.9
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 3.5
    }

    It 'ends at the end of -Duration, with a last sample there' {
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $verbose = Watch-TcpCloseWait -LocalPort $stuck.Port -Duration 2.5 -Interval 1 -NoOwner -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $clock.Stop()
        @($verbose | Where-Object Message -Match '^Sample \d+:').Count | Should -Be 4 # 0, 1, 2 and 2.5 s
        $clock.Elapsed.TotalSeconds | Should -BeGreaterOrEqual 2.4
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 4.0
    }

    It 'ends on the first of -Count and -Duration' {
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $null = Watch-TcpCloseWait -LocalPort $stuck.Port -Count 2 -Duration 30 -Interval 0.5 -NoOwner
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 2.0
    }

    It 'ends at once on Ctrl+C (Stop), in the middle of a long interval' {
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$manifest'; Watch-TcpCloseWait -LocalPort $($stuck.Port) -Interval 01:00:00 -Verbose")
            $async = $ps.BeginInvoke()
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            while (-not ($ps.Streams.Verbose | Where-Object Message -Match '^Sample 1:') -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
            $ps.Streams.Verbose.Message | Should -Match '^Sample 1:'
            $ps.InvocationStateInfo.State | Should -Be 'Running'

            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            $clock.Stop()
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 1.0
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
            $async.IsCompleted | Should -BeTrue
        }
        finally {
            $ps.Dispose()
        }
    }

    It 'ends on Ctrl+C (SIGINT) in a child pwsh, which exits at once' -Skip:(-not $IsLinux) {
        # A real SIGINT to a real pwsh: the console's Ctrl+C path, not only PowerShell.Stop().
        $out = (New-TemporaryFile).FullName
        $child = Start-Process -FilePath $script:Pwsh -PassThru -RedirectStandardOutput $out -ArgumentList @(
            '-NoProfile', '-NonInteractive', '-Command',
            "Import-Module '$manifest'; Watch-TcpCloseWait -LocalPort $($stuck.Port) -Interval 01:00:00 -NoOwner | ForEach-Object { 'event ' + `$_.Event }; 'ended'")
        try {
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while (-not ((Get-Content $out -Raw -ErrorAction SilentlyContinue) -match 'event Entered') -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
            Get-Content $out -Raw | Should -Match 'event Entered'
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            kill -INT $child.Id
            $child.WaitForExit(5000) | Should -BeTrue
            # This includes the whole process's exit (runtime shutdown), not only the watch's end.
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 2.0
            Get-Content $out -Raw | Should -Not -Match 'ended' # the pipeline was stopped, not completed
        }
        finally {
            if (-not $child.HasExited) { $child.Kill() }
            Remove-Item $out -ErrorAction SilentlyContinue
        }
    }
}

Describe 'Watch-TcpCloseWait output' {
    BeforeAll {
        $stuck = New-StuckSocket
        $events = @(Watch-TcpCloseWait -LocalPort $stuck.Port -Count 1)
    }
    AfterAll {
        $stuck.Server.Dispose(); $stuck.Listener.Dispose()
    }

    It 'reports a socket already stuck as Entered, with how long it has been stuck' {
        $events.Count | Should -Be 1
        $events[0].Event | Should -BeOfType [string]
        $events[0].Event | Should -BeExactly 'Entered'
        $events[0].ProcessId | Should -Be $PID
        if ($IsLinux) { $events[0].Duration | Should -BeOfType [TimeSpan] }
    }

    It 'reads as a log, one line per event within 80 columns' {
        $lines = @(($events | Out-String -Width 80) -split "`r?`n" | Where-Object { $_.Trim() })
        $lines[0] | Should -Match '^Time\s+Event\s+PID/Program\s+Port\s+Details'
        $lines.Count | Should -Be 3 # header, rule, one event
        $lines[2] | Should -Match "^\d\d:\d\d:\d\d Entered $PID/\S+\s+$($stuck.Port) from 127\.0\.0\.1:\d+"
        $lines | ForEach-Object { $_.Length | Should -BeLessOrEqual 80 }
    }

    It 'exports to CSV and JSON with the event by name' {
        $csv = $events | ConvertTo-Csv -NoTypeInformation | ConvertFrom-Csv
        $csv.Event | Should -Be 'Entered'
        [int]$csv.LocalPort | Should -Be $stuck.Port
        [int]$csv.ProcessId | Should -Be $PID
        $json = $events | ConvertTo-Json -Depth 4 | ConvertFrom-Json
        $json.Event | Should -Be 'Entered'
        $json.Connection.LocalPort | Should -Be $stuck.Port
    }

    It 'survives remoting serialization and still formats' {
        $d = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($events[0]))
        $d.PSObject.TypeNames | Should -Contain 'Deserialized.CloseWait.TcpCloseWaitEvent'
        $d.Event | Should -Be 'Entered'
        # A PID names a process only on the host that listed it: after remoting Id is its text, so
        # Stop-Process on the caller binds nothing (tests/OutputSafety.Tests.ps1).
        $d.ProcessId | Should -Be $PID
        $d.Id | Should -BeExactly "$PID@$([Environment]::MachineName)"
        $d.Program | Should -Be $events[0].Program
        $d.Connection.LocalPort | Should -Be $stuck.Port
        ($d | Out-String -Width 80) | Should -Match "Entered $PID/"
    }

    It 'leaves the owner $null with -NoOwner on Linux' -Skip:(-not $IsLinux) {
        $e = Watch-TcpCloseWait -LocalPort $stuck.Port -Count 1 -NoOwner
        $e.Event | Should -Be 'Entered'
        $e.ProcessId | Should -BeNullOrEmpty
        ($e | Out-String -Width 80) | Should -Match 'Entered -\s'
    }

    It 'takes processes from the pipeline and selects nothing on empty input' {
        @(Get-Process -Id $PID | Watch-TcpCloseWait -LocalPort $stuck.Port -Count 1).Count | Should -Be 1
        @(@() | Watch-TcpCloseWait -Count 1).Count | Should -Be 0
    }

    It 'rejects an interval below 0.1 s and a count below 1' {
        { Watch-TcpCloseWait -Interval 0 -Count 1 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,CloseWait.Commands.WatchTcpCloseWaitCommand'
        { Watch-TcpCloseWait -Count 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,CloseWait.Commands.WatchTcpCloseWaitCommand'
    }

    It 'watches another network namespace and says so in each event' -Skip:(-not $script:IsRoot) {
        $scenario = Start-Scenario -Mode EnterLeave -OwnNetworkNamespace
        try {
            $e = @(Watch-TcpCloseWait -NetworkNamespace $scenario.Process.Id -LocalPort $scenario.Port -Count 1)
            $e.Count | Should -Be 1
            $e[0].NetworkNamespace | Should -Be "$($scenario.Process.Id)"
            $e[0].ProcessId | Should -Be $scenario.Process.Id
            @(Watch-TcpCloseWait -LocalPort $scenario.Port -Count 1).Count | Should -Be 0 # not in this namespace
        }
        finally {
            Stop-Scenario $scenario
        }
    }

    Context 'the namespace it started in goes away (issue 19 item 5)' -Skip:(-not $script:IsRoot) {
        BeforeAll {
            # Watch in a runspace of this process, so the test can act while it runs.
            function Start-Watch([string] $Spec, [int] $Port) {
                $m = Join-Path (Split-Path $PSScriptRoot -Parent) 'out/CloseWait/CloseWait.psd1'
                $ps = [powershell]::Create()
                $null = $ps.AddScript("Import-Module '$m'; Watch-TcpCloseWait -NetworkNamespace '$Spec' -LocalPort $Port -Interval 0.2 -Duration 100")
                $out = [System.Management.Automation.PSDataCollection[psobject]]::new()
                $handle = $ps.BeginInvoke([System.Management.Automation.PSDataCollection[psobject]]::new(), $out)
                [pscustomobject]@{ PS = $ps; Out = $out; Handle = $handle }
            }
            function Wait-Entered($Watch, [int] $Count) {
                $deadline = [DateTime]::UtcNow.AddSeconds(60)
                while (@($Watch.Out | Where-Object Event -EQ 'Entered').Count -lt $Count) {
                    if ([DateTime]::UtcNow -gt $deadline -or $Watch.Handle.IsCompleted) { throw "The watch saw no $Count Entered events: $($Watch.PS.Streams.Error)" }
                    Start-Sleep -Milliseconds 50
                }
            }
            function Assert-EndedWithLeft($Watch) {
                # Ends by itself long before -Duration 100.
                $Watch.Handle.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds(45)) | Should -BeTrue -Because 'the watch ends when its namespace goes away'
                $Watch.PS.InvocationStateInfo.State | Should -Be 'Completed'
                $Watch.PS.Streams.Error | Should -BeNullOrEmpty
                ($Watch.PS.Streams.Warning -join "`n") | Should -Match 'this watch started in is gone' -Because "the watch ended so: $(@($Watch.Out | ForEach-Object { "$($_.Event) $($_.Time.ToString('HH:mm:ss.fff'))" }) -join ', ') at $([DateTime]::Now.ToString('HH:mm:ss.fff'))" 
                $entered = @($Watch.Out | Where-Object Event -EQ 'Entered')
                $left = @($Watch.Out | Where-Object Event -EQ 'Left')
                $entered.Count | Should -BeGreaterThan 0
                foreach ($e in $entered) { @($left | Where-Object RemotePort -EQ $e.RemotePort).Count | Should -Be 1 }
                # Never followed to another namespace.
                @($Watch.Out | Where-Object NetworkNamespaceId -NE $entered[0].NetworkNamespaceId).Count | Should -Be 0
            }
        }

        It 'by PID: the process exits; its sockets are Left, a warning, then the end (no NetworkNamespaceNotFound)' {
            $scenario = Start-Scenario -Mode Leak -OwnNetworkNamespace
            $watch = $null
            try {
                $watch = Start-Watch $scenario.Process.Id $scenario.Port
                Wait-Entered $watch 2
                $scenario.Process.Kill()
                Assert-EndedWithLeft $watch
            }
            finally {
                if ($watch) { $watch.PS.Stop(); $watch.PS.Dispose() }
                Stop-Scenario $scenario
            }
        }

        # Skipped for now: in this harness `ip netns del` then `ip netns add` of a name attached to a running
        # process (ip netns attach) left /run/netns/<name> on the same inode (the check below fails), so the
        # test cannot yet show the switch. By hand (a `sleep` holder, attach, del, add) the watch wrote the
        # warning and ended. To finish: find why the inode stays, then drop -Skip.
        It 'by name: deleted and created again, the watch does not switch to the new namespace; Left, a warning, the end' -Skip {
            $scenario = Start-Scenario -Mode Leak -OwnNetworkNamespace
            $name = "cw19w-$PID"
            $watch = $null
            try {
                ip netns attach $name $scenario.Process.Id
                $LASTEXITCODE | Should -Be 0
                $watch = Start-Watch $name $scenario.Port
                Wait-Entered $watch 2
                $before = (stat -L -c %i "/run/netns/$name")
                $out = (ip netns del $name 2>&1) -join ' '
                $LASTEXITCODE | Should -Be 0 -Because "ip netns del: $out"
                $out = (ip netns add $name 2>&1) -join ' '
                $LASTEXITCODE | Should -Be 0 -Because "ip netns add: $out"
                (stat -L -c %i "/run/netns/$name") | Should -Not -Be $before
                Assert-EndedWithLeft $watch
            }
            finally {
                if ($watch) { $watch.PS.Stop(); $watch.PS.Dispose() }
                ip netns del $name 2>$null
                Stop-Scenario $scenario
            }
        }
    }
}
