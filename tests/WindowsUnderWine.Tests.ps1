#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# The Windows back ends run for real under Wine: tools/CloseWait.WindowsSmoke/run-wine.sh publishes a
# win-x64 build of the smoke harness, which reads through GetExtendedTcpTable the CLOSE_WAIT sockets a
# Linux process holds, runs Get-TcpCloseWait in the PowerShell engine and round-trips the keepalive
# registry values. Each of its checks is one test here. Needs wine (Debian: apt-get install wine).

BeforeDiscovery {
    $script:wine = [bool](Get-Command wine -ErrorAction SilentlyContinue)
}

Describe 'Windows back ends under Wine' -Skip:(-not $IsLinux -or -not $wine) {
    BeforeAll {
        $script:output = & bash (Join-Path $PSScriptRoot '../tools/CloseWait.WindowsSmoke/run-wine.sh') 2>&1 | ForEach-Object { "$_" }
        $script:exit = $LASTEXITCODE
        $output | Out-String | Write-Host
        $script:checks = @($output | Where-Object { $_ -match '^(PASS|FAIL) ' })
    }

    It 'runs every check, passes them all and exits 0' {
        @($checks | Where-Object { $_ -like 'FAIL *' }) | Should -BeNullOrEmpty
        $exit | Should -Be 0
        $checks.Count | Should -BeGreaterOrEqual 10
        ($output | Where-Object { $_ -match '^Windows smoke under Wine: \d+ passed, 0 failed$' }) | Should -Not -BeNullOrEmpty
    }
}
