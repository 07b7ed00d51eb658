#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
<#
    Tab completion of -ProcessName, -State and -NetworkNamespace, through TabExpansion2 as the
    console calls it. Run after `dotnet build`: Invoke-Pester ./tests/Completers.Tests.ps1.
#>

BeforeDiscovery {
    $script:linuxRoot = $IsLinux -and ((id -u) -eq '0')
    Import-Module (Join-Path $PSScriptRoot '../out/CloseWait/CloseWait.psd1') -Force
    # Every cmdlet of the module that has one of the completed parameters, also those added later.
    $script:completed = foreach ($c in Get-Command -Module CloseWait -CommandType Cmdlet) {
        foreach ($p in 'ProcessName', 'State', 'NetworkNamespace') {
            if ($c.Parameters.ContainsKey($p)) { @{ Command = $c.Name; Parameter = $p } }
        }
    }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../out/CloseWait/CloseWait.psd1') -Force

    function Get-Completion([string] $Line) {
        (TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches
    }
}

Describe 'Argument completers' {
    It '<command> -<parameter> has a completer' -ForEach $completed {
        $attr = (Get-Command $Command).Parameters[$Parameter].Attributes | Where-Object { $_ -is [System.Management.Automation.ArgumentCompleterAttribute] }
        $attr | Should -Not -BeNullOrEmpty
        # A type, not a script block: the only form Windows PowerShell 5.1 and PowerShellStandard share.
        $attr.Type.GetInterfaces() | Should -Contain ([System.Management.Automation.IArgumentCompleter])
    }

    It 'completes -ProcessName with running process names' {
        $mine = (Get-Process -Id $PID).ProcessName
        $typed = $mine.Substring(0, [Math]::Min(3, $mine.Length))
        $r = Get-Completion "Get-TcpConnection -ProcessName $typed"
        $r.CompletionText | Should -Contain $mine
        $r.CompletionText | ForEach-Object { $_.Trim("'") | Should -BeLike "$typed*" }
        # Names are unique, though many processes share one.
        @($r.CompletionText).Count | Should -Be @($r.CompletionText | Sort-Object -Unique).Count
        (Get-Completion "Get-TcpCloseWait -ProcessName $typed").CompletionText | Should -Contain $mine
    }

    It 'completes -State with the state names' {
        $r = Get-Completion 'Get-TcpConnection -State Clo'
        $r.CompletionText | Sort-Object | Should -Be @('Closed', 'CloseWait', 'Closing')
        (Get-Completion 'Get-TcpConnection -State ').CompletionText | Sort-Object | Should -Be ([enum]::GetNames([CloseWait.TcpState]) | Sort-Object)
        (Get-Completion 'Close-TcpConnection -State tim').CompletionText | Should -Be @('TimeWait')
        (Get-Completion 'Get-TcpConnection -State Established, Fin').CompletionText | Sort-Object | Should -Be @('FinWait1', 'FinWait2')
    }

    Context 'Network namespaces (Linux, root)' -Skip:(-not $linuxRoot) {
        BeforeAll {
            $script:nsName = 'closewait-compl-{0}' -f [Guid]::NewGuid().ToString('N').Substring(0, 8)
            ip netns add $nsName
            if ($LASTEXITCODE) { throw "ip netns add $nsName failed" }
            # A process in a namespace of its own, as a container's would be. It ends when its stdin closes.
            $psi = [System.Diagnostics.ProcessStartInfo]::new('unshare')
            foreach ($a in '--net', 'sleep', '600') { $psi.ArgumentList.Add($a) }
            $psi.UseShellExecute = $false
            $script:inNs = [System.Diagnostics.Process]::Start($psi)
            # unshare execs sleep once the namespace is made: wait until the PID has left ours.
            $own = (Get-Item /proc/self/ns/net).LinkTarget
            $deadline = [DateTime]::UtcNow.AddSeconds(10)
            while ((Get-Item "/proc/$($inNs.Id)/ns/net").LinkTarget -eq $own -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
        }
        AfterAll {
            if ($inNs -and -not $inNs.HasExited) { $inNs.Kill(); $null = $inNs.WaitForExit(10000) }
            if ($nsName) { ip netns delete $nsName }
        }

        It 'offers the `ip netns` names on <command>' -ForEach @(
            @{ Command = 'Get-TcpConnection' }, @{ Command = 'Get-TcpCloseWait' }, @{ Command = 'Get-TcpConnectionSummary' }
            @{ Command = 'Get-TcpKeepAliveSetting' }, @{ Command = 'Set-TcpKeepAliveSetting' }, @{ Command = 'Test-TcpKeepAliveSetting' }
            @{ Command = 'Test-TcpCloseWait' }, @{ Command = 'Watch-TcpCloseWait' }, @{ Command = 'Close-TcpConnection' }
            @{ Command = 'Get-TcpPortUsage' }, @{ Command = 'Get-TcpTimeWaitSetting' }, @{ Command = 'Set-TcpTimeWaitSetting' }
        ) {
            $r = Get-Completion "$Command -NetworkNamespace closewait-compl-"
            $r.CompletionText | Should -Contain $nsName
        }

        It 'offers the PID of a process in another namespace, with its name' {
            $r = Get-Completion "Get-TcpCloseWait -NetworkNamespace $($inNs.Id)"
            $hit = $r | Where-Object CompletionText -EQ "$($inNs.Id)"
            $hit | Should -Not -BeNullOrEmpty
            $hit.ToolTip | Should -Match "^$($inNs.Id) sleep \(net:\[\d+\]\)$"
            # The caller's own namespace is not offered.
            (Get-Completion "Get-TcpCloseWait -NetworkNamespace $PID").CompletionText | Should -Not -Contain "$PID"
        }
    }
}
