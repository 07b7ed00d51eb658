#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
<#
    Get-, Set- and Test-TcpKeepAliveSetting against the built module (out/CloseWait), in pwsh with
    Pester 5. Real kernel values change only inside private network namespaces (a child
    `unshare -n sleep`), and every test that writes checks that the host's values did not move.
    The xunit tests (tests/CloseWait.Tests/KeepAlive*Tests.cs) cover the same ground without pwsh;
    these add what only a full pwsh has: Export-Clixml, ConvertTo-Json, Format-List.
#>

BeforeDiscovery {
    $script:linuxRoot = $IsLinux -and ((id -u) -eq '0') -and (Get-Command unshare, nsenter -ErrorAction SilentlyContinue).Count -eq 2
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../out/CloseWait/CloseWait.psd1') -Force

    $script:defaults = '7200 75 9'

    function script:Get-HostKeepAlive {
        (Get-Content /proc/sys/net/ipv4/tcp_keepalive_time, /proc/sys/net/ipv4/tcp_keepalive_intvl, /proc/sys/net/ipv4/tcp_keepalive_probes) -join ' '
    }

    # A private network namespace held by `unshare -n sleep`: its PID is what -NetworkNamespace takes.
    function script:New-PrivateNamespace {
        $hostNs = (Get-Item /proc/self/ns/net).LinkTarget
        $holder = Start-Process -FilePath unshare -ArgumentList '-n', 'sleep', '3600' -PassThru
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        while ((Get-Item "/proc/$($holder.Id)/ns/net" -ErrorAction SilentlyContinue).LinkTarget -eq $hostNs -or $holder.HasExited) {
            if ($holder.HasExited -or [DateTime]::UtcNow -gt $deadline) { throw 'unshare -n did not create a namespace in 10 s' }
            Start-Sleep -Milliseconds 5
        }
        $holder
    }

    # The namespace's values as the kernel holds them, read without the module.
    function script:Get-NamespaceKeepAlive([System.Diagnostics.Process] $Holder) {
        (nsenter "--net=/proc/$($Holder.Id)/ns/net" cat /proc/sys/net/ipv4/tcp_keepalive_time /proc/sys/net/ipv4/tcp_keepalive_intvl /proc/sys/net/ipv4/tcp_keepalive_probes) -join ' '
    }
}

Describe 'Get-TcpKeepAliveSetting' {
    It 'returns one setting with the detection time' {
        $s = Get-TcpKeepAliveSetting
        $s | Should -HaveCount 1
        $s.PSObject.TypeNames[0] | Should -Be 'CloseWait.TcpKeepAliveSetting'
        $s.DetectionTime | Should -Be ($s.Time + [TimeSpan]::FromTicks($s.Interval.Ticks * $s.Probes))
    }

    It 'formats as a list with DetectionTime' {
        Get-TcpKeepAliveSetting | Format-List | Out-String | Should -Match 'DetectionTime\s+: '
    }
}

Describe 'Keepalive in a private network namespace' -Skip:(-not $linuxRoot) {
    BeforeEach {
        $script:before = Get-HostKeepAlive
        $script:ns = New-PrivateNamespace
        $script:other = New-PrivateNamespace
    }

    AfterEach {
        $ns, $other | Stop-Process -Force -ErrorAction SilentlyContinue
        Get-HostKeepAlive | Should -Be $before
    }

    It 'starts a new namespace from the kernel defaults' {
        $s = Get-TcpKeepAliveSetting -NetworkNamespace $ns.Id
        $s.Time | Should -Be ([TimeSpan]::FromHours(2))
        $s.TimeIsDefault | Should -BeTrue
        $s.NetworkNamespace | Should -Be "$($ns.Id)"
    }

    It 'sets Time 300, Interval 30, Probes 5 with DetectionTime 00:07:30 (done-when)' {
        $s = Set-TcpKeepAliveSetting -Time 300 -Interval 30 -Probes 5 -PassThru -NetworkNamespace $ns.Id
        $s.DetectionTime | Should -Be ([TimeSpan]'00:07:30')
        Get-NamespaceKeepAlive $ns | Should -Be '300 30 5'
    }

    It 'takes hh:mm:ss and seconds alike' {
        Set-TcpKeepAliveSetting -Time 00:05:00 -Interval 00:00:30 -NetworkNamespace $ns.Id
        Get-NamespaceKeepAlive $ns | Should -Be '300 30 9'
    }

    It 'writes nothing with -WhatIf' {
        Set-TcpKeepAliveSetting -Time 300 -WhatIf -NetworkNamespace $ns.Id
        Get-NamespaceKeepAlive $ns | Should -Be $defaults
    }

    It 'does not prompt with -Confirm:$false' {
        # Pester 5 runs It and AfterEach in one scope: keep the preference inside this block.
        & {
            $ConfirmPreference = 'Low'
            Set-TcpKeepAliveSetting -Probes 4 -Confirm:$false -NetworkNamespace $ns.Id
        }
        Get-NamespaceKeepAlive $ns | Should -Be '7200 75 4'
    }

    It 'applies a baseline through Export-Clixml and Import-Clixml' {
        Set-TcpKeepAliveSetting -Time 300 -Interval 30 -Probes 5 -NetworkNamespace $ns.Id
        Get-TcpKeepAliveSetting -NetworkNamespace $ns.Id | Export-Clixml TestDrive:/baseline.xml
        # A namespace's record names its namespace: as a baseline for another one, drop that (issue 19 item 6).
        Import-Clixml TestDrive:/baseline.xml | Select-Object * -ExcludeProperty NetworkNamespace* | Set-TcpKeepAliveSetting -NetworkNamespace $other.Id
        Get-NamespaceKeepAlive $other | Should -Be '300 30 5'
    }

    It 'applies a baseline through ConvertTo-Json and ConvertFrom-Json' {
        Set-TcpKeepAliveSetting -Time 300 -Interval 30 -Probes 5 -NetworkNamespace $ns.Id
        Get-TcpKeepAliveSetting -NetworkNamespace $ns.Id | ConvertTo-Json | Set-Content TestDrive:/baseline.json
        { Get-Content TestDrive:/baseline.json -Raw | ConvertFrom-Json | Set-TcpKeepAliveSetting -NetworkNamespace $other.Id -ErrorAction Stop } |
            Should -Throw -ErrorId 'SettingNamespaceConflict,CloseWait.Commands.SetTcpKeepAliveSettingCommand'
        Get-NamespaceKeepAlive $other | Should -Be $defaults
        Get-Content TestDrive:/baseline.json -Raw | ConvertFrom-Json | Select-Object * -ExcludeProperty NetworkNamespace* | Set-TcpKeepAliveSetting -NetworkNamespace $other.Id
        Get-NamespaceKeepAlive $other | Should -Be '300 30 5'
    }

    It 'refuses <Arguments> with <ErrorId> and writes nothing' -TestCases @(
        @{ Arguments = @{ Probes = 128 }; ErrorId = 'KeepAliveProbesOutOfRange' }
        @{ Arguments = @{ Time = 32768 }; ErrorId = 'KeepAliveTimeOutOfRange' }
        @{ Arguments = @{ Interval = 0 }; ErrorId = 'KeepAliveIntervalOutOfRange' }
        @{ Arguments = @{ Time = 1.5 }; ErrorId = 'KeepAliveTimeNotWhole' }
    ) {
        Set-TcpKeepAliveSetting @Arguments -NetworkNamespace $ns.Id -ErrorVariable failures -ErrorAction SilentlyContinue
        $failures[0].FullyQualifiedErrorId | Should -Be "$ErrorId,CloseWait.Commands.SetTcpKeepAliveSettingCommand"
        Get-NamespaceKeepAlive $ns | Should -Be $defaults
    }

    It 'refuses -Persist for another namespace' {
        { Set-TcpKeepAliveSetting -Time 300 -Persist -NetworkNamespace $ns.Id -ErrorAction Stop } |
            Should -Throw -ErrorId 'PersistNotSupportedForNetworkNamespace,CloseWait.Commands.SetTcpKeepAliveSettingCommand'
    }

    It 'fails the load-balancer check on defaults and applies its recommendation' {
        $r = Test-TcpKeepAliveSetting -IdleTimeout 350 -NetworkNamespace $ns.Id
        $r.Verdict | Should -Be 'Fail'
        $r.RecommendedTime | Should -Be ([TimeSpan]::FromSeconds(280))
        $r | Set-TcpKeepAliveSetting -NetworkNamespace $ns.Id
        (Test-TcpKeepAliveSetting 350 -NetworkNamespace $ns.Id).Verdict | Should -Be 'Pass'
        Get-NamespaceKeepAlive $ns | Should -Be '280 35 9'
    }
}

Describe 'Set-TcpKeepAliveSetting -Persist writes a drop-in sysctl --system applies' -Skip:(-not $linuxRoot) {
    It 'writes /etc/sysctl.d/99-closewait-tcp-keepalive.conf (a scratch directory in a private mount namespace)' {
        $before = Get-HostKeepAlive
        $scratch = New-Item -ItemType Directory -Path (Join-Path TestDrive:/ sysctl.d)
        # The real pwsh is in $PSHOME: this process may be `dotnet` running pwsh.dll (a .NET tool install).
        $pwsh = Join-Path $PSHOME 'pwsh'
        # -EncodedCommand keeps the script clear of sh's quoting and $-expansion.
        $script = "Import-Module '$(Join-Path $PSScriptRoot '../out/CloseWait/CloseWait.psd1')'; Set-TcpKeepAliveSetting -Time 300 -Interval 30 -Probes 5 -Persist -Confirm:`$false"
        $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($script))
        # procps-ng 4.0.2's `sysctl --system --dry-run` still writes every key, and only net.* belongs to
        # the private network namespace: /proc/sys is read-only here but for net, so the host's kernel.*,
        # fs.* and vm.* keys stay as they are (sysctl's "permission denied" on them is expected).
        $output = unshare -m -n sh -c "mount --make-rprivate / && mount --bind '$($scratch.FullName)' /etc/sysctl.d && mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && mount --bind /proc/sys/net /proc/sys/net && mount -o remount,bind,rw /proc/sys/net && '$pwsh' -NoProfile -EncodedCommand $encoded && { sysctl --system --dry-run 2>/dev/null; true; }"
        $LASTEXITCODE | Should -Be 0
        $output | Should -Contain '* Applying /etc/sysctl.d/99-closewait-tcp-keepalive.conf ...'
        # @(): one matching line alone would be a string, and [-1] its last character.
        @($output | Where-Object { $_ -like 'net.ipv4.tcp_keepalive_time = *' })[-1] | Should -Be 'net.ipv4.tcp_keepalive_time = 300'
        (Get-Content (Join-Path $scratch.FullName 99-closewait-tcp-keepalive.conf) | Where-Object { $_ -notlike '#*' }) -join "`n" |
            Should -Be "net.ipv4.tcp_keepalive_time = 300`nnet.ipv4.tcp_keepalive_intvl = 30`nnet.ipv4.tcp_keepalive_probes = 5"
        Test-Path /etc/sysctl.d/99-closewait-tcp-keepalive.conf | Should -BeFalse
        Get-HostKeepAlive | Should -Be $before
    }
}
