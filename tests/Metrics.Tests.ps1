#Requires -Version 7.0
#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
<#
    Export-TcpCloseWaitMetric with the real parts of a monitoring stack: a process that leaks
    CLOSE_WAIT sockets (tests/CloseWait.Tests/Scenarios/closewait_holder.py, run under its own
    name so that its service label is this test's alone), promtool check metrics on the file, a real
    node_exporter serving it through its textfile collector, a real Prometheus scraping that
    node_exporter (with the shipped alert rules loaded) and answering a query, and promtool test
    rules on the shipped rules. Each server listens on its own loopback port, keeps its data under
    one temporary folder, and is stopped by PID. Waits poll a condition, never a fixed sleep.
    Invoke-Pester ./tests/Metrics.Tests.ps1 -Output Detailed
#>

BeforeDiscovery {
    $script:HasPython = $IsLinux -and [bool](Get-Command python3 -ErrorAction SilentlyContinue)
    $script:HasPromtool = [bool](Get-Command promtool -ErrorAction SilentlyContinue)
    $script:HasNodeExporter = [bool](Get-Command prometheus-node-exporter -ErrorAction SilentlyContinue)
    $script:HasPrometheus = [bool](Get-Command prometheus -ErrorAction SilentlyContinue)
}

BeforeAll {
    $root = Split-Path $PSScriptRoot -Parent
    $manifest = Join-Path $root 'out/CloseWait/CloseWait.psd1'
    if (-not (Test-Path $manifest)) { throw "Build the module first (dotnet build): $manifest not found." }
    Import-Module $manifest -Force

    $script:work = Join-Path ([IO.Path]::GetTempPath()) ("closewait-metrics-" + [guid]::NewGuid().ToString('N').Substring(0, 8))
    $script:textfiles = Join-Path $work 'textfile'
    $null = New-Item -ItemType Directory -Force $textfiles
    $script:servers = [System.Collections.Generic.List[System.Diagnostics.Process]]::new()

    function Get-FreePort {
        $l = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $l.Start()
        try { $l.LocalEndpoint.Port } finally { $l.Stop() }
    }

    # Starts a server with its output in the work folder; stopped by PID in AfterAll.
    function Start-Server([string] $Name, [string] $File, [string[]] $Arguments) {
        $p = Start-Process -FilePath $File -ArgumentList $Arguments -PassThru `
            -RedirectStandardOutput (Join-Path $work "$Name.out") -RedirectStandardError (Join-Path $work "$Name.err")
        $script:servers.Add($p)
        $p
    }

    # Polls until the script block returns something, or throws after the timeout with the server's log.
    function Wait-Until([scriptblock] $Condition, [string] $What, [int] $TimeoutSeconds = 60, [string] $Log) {
        $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
        while ([DateTime]::UtcNow -lt $deadline) {
            $r = try { & $Condition } catch { $null }
            if ($r) { return $r }
            Start-Sleep -Milliseconds 200
        }
        $tail = if ($Log -and (Test-Path $Log)) { (Get-Content $Log -Tail 20) -join "`n" } else { '' }
        throw "$What did not happen within $TimeoutSeconds s. $tail"
    }
}

AfterAll {
    foreach ($p in $script:servers) {
        try { if (-not $p.HasExited) { Stop-Process -Id $p.Id -Force; [void] $p.WaitForExit(10000) } } catch { }
    }
    Remove-Module CloseWait -ErrorAction SilentlyContinue
    if ($script:work -and (Test-Path $script:work)) { Remove-Item -Recurse -Force $script:work -ErrorAction SilentlyContinue }
}

Describe 'Export-TcpCloseWaitMetric' {
    It 'writes the text to the pipeline without -Path, with HELP and TYPE for every metric under closewait_' {
        $text = Export-TcpCloseWaitMetric
        $text | Should -BeOfType [string]
        $names = [regex]::Matches($text, '(?m)^# TYPE (\S+) gauge$') | ForEach-Object { $_.Groups[1].Value }
        $help = [regex]::Matches($text, '(?m)^# HELP (\S+) ') | ForEach-Object { $_.Groups[1].Value }
        $names | Should -Contain 'closewait_stuck_sockets'
        $names | Should -Contain 'closewait_last_success_timestamp_seconds'
        $help | Should -Be $names
        $names | ForEach-Object { $_ | Should -Match '^closewait_' }
        $text | Should -Match '(?m)^closewait_sockets\{state="CloseWait"\} \d+$'
        $text | Should -Match '(?m)^closewait_collection_success 1$'
        $text | Should -Not -Match '(?i)pid='
    }

    It 'refuses a folder that does not exist with MetricFolderNotFound' {
        { Export-TcpCloseWaitMetric -Path (Join-Path $work 'missing/closewait.prom') -ErrorAction Stop } |
            Should -Throw -ErrorId 'MetricFolderNotFound,CloseWait.Commands.ExportTcpCloseWaitMetricCommand'
    }

    It 'writes nothing with -WhatIf' {
        $file = Join-Path $work 'whatif.prom'
        Export-TcpCloseWaitMetric -Path $file -WhatIf
        Test-Path $file | Should -BeFalse
    }

    It 'replaces the file in place and leaves no temporary file behind' {
        $folder = Join-Path $work 'replace'
        $null = New-Item -ItemType Directory $folder
        $file = Join-Path $folder 'closewait.prom'
        # An earlier file (as a scrape might be reading it) is replaced by one export.
        Set-Content -Path $file -Value '# an earlier export' -NoNewline
        Export-TcpCloseWaitMetric -Path $file
        @(Get-ChildItem $folder -Force).Name | Should -Be @('closewait.prom')
        Get-Content -Raw $file | Should -Not -Match 'an earlier export'
        Get-Content -Raw $file | Should -Match '(?m)^closewait_collection_success 1$'
    }

    It 'passes promtool check metrics' -Skip:(-not $HasPromtool) {
        $out = Get-Content -Raw (Join-Path $work 'replace/closewait.prom') | promtool check metrics 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($out -join "`n")
    }
}

Describe 'A leaking service, through node_exporter and Prometheus' -Skip:(-not ($HasPython -and $HasNodeExporter -and $HasPrometheus -and $HasPromtool)) {
    BeforeAll {
        # The leaking service: python3 run through a link named cwleak, so that its comm (the
        # service label) is unique to this test while other tests run python3 holders.
        $holderScript = Join-Path $PSScriptRoot 'CloseWait.Tests/Scenarios/closewait_holder.py'
        $bin = Join-Path $work 'bin'
        $null = New-Item -ItemType Directory -Force $bin
        $leakExe = Join-Path $bin 'cwleak'
        # The interpreter itself, not a wrapper such as a pyenv shim (that would exec python3 by name).
        $python = (& python3 -c 'import sys; print(sys.executable)').Trim()
        $null = New-Item -ItemType SymbolicLink -Path $leakExe -Target $python
        $psi = [System.Diagnostics.ProcessStartInfo]::new($leakExe)
        foreach ($a in @($holderScript, 'notclosed', '4')) { $psi.ArgumentList.Add($a) }
        $psi.UseShellExecute = $false
        $psi.RedirectStandardInput = $true
        $psi.RedirectStandardOutput = $true
        $script:leak = [System.Diagnostics.Process]::Start($psi)
        $script:servers.Add($leak)
        $line = $leak.StandardOutput.ReadLineAsync()
        if (-not $line.Wait(20000) -or -not $line.Result) { throw 'the leaking holder never said ready' }
        $line.Result | Should -Match '^ready '

        # Stuck means 1 s in CLOSE_WAIT here: wait for the sockets to be that old.
        $null = Wait-Until { $cw = @(Get-TcpCloseWait -ProcessId $leak.Id); $cw.Count -eq 4 -and ($cw.IdleTime | Measure-Object TotalSeconds -Minimum).Minimum -ge 1.2 } 'four CLOSE_WAIT sockets 1 s old' 60

        $script:prom = Join-Path $textfiles 'closewait.prom'
        $script:exportMs = (Measure-Command { Export-TcpCloseWaitMetric -Path $prom -StuckAfter 1 }).TotalMilliseconds
        $script:fileText = Get-Content -Raw $prom

        $nodePort = Get-FreePort
        $null = Start-Server 'node_exporter' 'prometheus-node-exporter' @(
            "--web.listen-address=127.0.0.1:$nodePort", '--collector.disable-defaults', '--collector.textfile',
            "--collector.textfile.directory=$textfiles")
        $script:nodeUrl = "http://127.0.0.1:$nodePort/metrics"
        $script:served = Wait-Until { $r = Invoke-WebRequest -Uri $nodeUrl -TimeoutSec 5; if ($r.Content -match 'closewait_stuck_sockets') { $r.Content } } 'node_exporter serving the textfile' 30 (Join-Path $work 'node_exporter.err')

        $promPort = Get-FreePort
        $rules = Join-Path $root 'out/CloseWait/closewait.rules.yml'
        $config = Join-Path $work 'prometheus.yml'
        @"
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - '$rules'
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['127.0.0.1:$nodePort']
"@ | Set-Content -Path $config
        $null = Start-Server 'prometheus' 'prometheus' @(
            "--config.file=$config", "--storage.tsdb.path=$(Join-Path $work 'tsdb')",
            "--web.listen-address=127.0.0.1:$promPort", '--log.level=warn')
        $script:promUrl = "http://127.0.0.1:$promPort"
        # The holder accepts its stuck sockets on its own listener: its service is "cwleak :<port>".
        $script:service = "cwleak :$(@(Get-TcpConnection -State Listen -ProcessId $leak.Id)[0].LocalPort)"
        $query = [uri]::EscapeDataString("closewait_stuck_sockets{service=`"$service`"}")
        $script:result = Wait-Until {
            $r = Invoke-RestMethod -Uri "$promUrl/api/v1/query?query=$query" -TimeoutSec 5
            if ($r.status -eq 'success' -and @($r.data.result).Count -gt 0) { $r.data.result }
        } 'Prometheus answering the stuck-socket query' 60 (Join-Path $work 'prometheus.err')
    }

    AfterAll {
        if ($script:leak) {
            try { $leak.StandardInput.Close() } catch { }
            if (-not $leak.WaitForExit(3000)) { Stop-Process -Id $leak.Id -Force -ErrorAction SilentlyContinue }
        }
    }

    It 'writes the leaking service''s stuck sockets with their cause' {
        Write-Host "  one export: $([int]$exportMs) ms"
        $fileText | Should -Match "(?m)^closewait_stuck_sockets\{service=`"$([regex]::Escape($service))`",cause=`"NotClosed`"\} 4$"
        $fileText | Should -Match "(?m)^closewait_stuck_oldest_seconds\{service=`"$([regex]::Escape($service))`"\} [0-9.]+$"
        $fileText | Should -Match "(?m)^closewait_process_open_fds\{service=`"$([regex]::Escape($service))`"\} \d+$"
        $fileText | Should -Match "(?m)^closewait_process_max_fds\{service=`"$([regex]::Escape($service))`"\} \d+$"
        $out = $fileText | promtool check metrics 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($out -join "`n")
    }

    It 'is served by node_exporter''s textfile collector over HTTP' {
        $served | Should -Match "(?m)^closewait_stuck_sockets\{cause=`"NotClosed`",service=`"$([regex]::Escape($service))`"\} 4$"
        # The collector read the file without an error.
        $served | Should -Match '(?m)^node_textfile_scrape_error 0$'
    }

    It 'is scraped by Prometheus: a query returns the service''s stuck-socket series with its cause' {
        $series = @($result)
        $series.Count | Should -Be 1
        $series[0].metric.service | Should -Be $service
        $series[0].metric.cause | Should -Be 'NotClosed'
        $series[0].metric.job | Should -Be 'node'
        [double] $series[0].value[1] | Should -Be 4
    }

    It 'loads the shipped alert rules in Prometheus' {
        $rules = Invoke-RestMethod -Uri "$promUrl/api/v1/rules" -TimeoutSec 5
        $names = @($rules.data.groups | Where-Object name -EQ 'closewait' | ForEach-Object { $_.rules.name })
        $names | Should -Be @('CloseWaitStuckSocketsGrowing', 'CloseWaitDescriptorsNearLimit', 'CloseWaitEphemeralPortsNearExhaustion', 'CloseWaitCollectorFailing', 'CloseWaitCollectorStale')
        @($rules.data.groups.rules | Where-Object health -EQ 'err').Count | Should -Be 0
    }
}

Describe 'The shipped alert rules' -Skip:(-not $HasPromtool) {
    It 'pass promtool check rules' {
        $out = promtool check rules (Join-Path $root 'out/CloseWait/closewait.rules.yml') 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($out -join "`n")
    }

    It 'fire on a leaking series and stay quiet on a healthy one (promtool test rules)' {
        $out = promtool test rules (Join-Path $PSScriptRoot 'metrics/closewait.rules.test.yml') 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($out -join "`n")
    }
}
