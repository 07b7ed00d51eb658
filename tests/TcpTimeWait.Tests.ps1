#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
<#
    Get-TcpPortUsage, Get- and Set-TcpTimeWaitSetting against the built module, and the keepalive
    items of issue 15 that share their machinery (piped namespace, -Persist keeping other lines,
    kernel-faithful after-reboot values). Kernel values change only inside private network
    namespaces (`unshare -n sleep`); every test that writes checks the host's values did not move.
#>

BeforeDiscovery {
    $script:linuxRoot = $IsLinux -and ((id -u) -eq '0') -and (Get-Command unshare, nsenter, python3 -ErrorAction SilentlyContinue).Count -eq 3
    $script:haveSysctl = $null -ne (Get-Command sysctl -ErrorAction SilentlyContinue)
    $script:hasStrace = $null -ne (Get-Command strace -ErrorAction SilentlyContinue)
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../out/CloseWait/CloseWait.psd1') -Force

    $script:hostKeys = 'ip_local_port_range', 'ip_local_reserved_ports', 'tcp_tw_reuse', 'tcp_max_tw_buckets', 'tcp_fin_timeout', 'tcp_keepalive_time', 'tcp_keepalive_intvl', 'tcp_keepalive_probes'
    function script:Get-HostValues { ($hostKeys | ForEach-Object { Get-Content "/proc/sys/net/ipv4/$_" }) -join '|' }

    function script:New-PrivateNamespace {
        $hostNs = (Get-Item /proc/self/ns/net).LinkTarget
        $holder = Start-Process -FilePath unshare -ArgumentList '-n', 'sleep', '300' -PassThru
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        while ((Get-Item "/proc/$($holder.Id)/ns/net" -ErrorAction SilentlyContinue).LinkTarget -eq $hostNs -or $holder.HasExited) {
            if ($holder.HasExited -or [DateTime]::UtcNow -gt $deadline) { throw 'unshare -n did not create a namespace in 10 s' }
            Start-Sleep -Milliseconds 5
        }
        nsenter "--net=/proc/$($holder.Id)/ns/net" ip link set lo up
        $holder
    }

    # The namespaces a command run in a child pwsh entered: the inode of each successful setns, as strace -y names it (net:[inode]).
    function script:Get-NamespaceEntries([string] $Command) {
        $trace = New-TemporaryFile
        try {
            $module = Join-Path $PSScriptRoot '../out/CloseWait/CloseWait.psd1'
            $null = strace -f -qq -y -e trace=setns -o $trace.FullName (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -Command "Import-Module '$module'; $Command"
            @(Get-Content $trace.FullName | ForEach-Object { if ($_ -match 'setns\(\d+<net:\[(\d+)\]>, CLONE_NEWNET\)\s+=\s+0') { [uint64]$Matches[1] } })
        }
        finally { Remove-Item $trace.FullName -ErrorAction SilentlyContinue }
    }

    function script:Get-NsValue([System.Diagnostics.Process] $Holder, [string] $Name) {
        (nsenter "--net=/proc/$($Holder.Id)/ns/net" cat "/proc/sys/net/ipv4/$Name") -join ''
    }

    # $Count loopback connections to a listener on $Port inside the namespace, each closed by the client first
    # (so the client's side ends in TIME_WAIT); returns when the kernel shows them all in TIME_WAIT.
    function script:New-ClientClosedConnections([System.Diagnostics.Process] $Holder, [int] $Port, [int] $Count) {
        $py = @"
import socket, sys, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('127.0.0.1', $Port)); srv.listen(256)
for i in range($Count):
    c = socket.create_connection(('127.0.0.1', $Port)); a, _ = srv.accept()
    c.close(); a.recv(1); a.close()
print('listening', flush=True)
time.sleep(120)
"@
        $out = Join-Path ([IO.Path]::GetTempPath()) ("tw-" + [guid]::NewGuid().ToString('N'))
        $file = "$out.py"
        Set-Content -Path $file -Value $py
        $p = Start-Process -FilePath nsenter -ArgumentList "--net=/proc/$($Holder.Id)/ns/net", 'python3', $file -RedirectStandardOutput $out -PassThru
        $deadline = [DateTime]::UtcNow.AddSeconds(20)
        while (-not ((Test-Path $out) -and (Get-Content $out -Raw) -match 'listening')) {
            if ($p.HasExited -or [DateTime]::UtcNow -gt $deadline) { throw "the connection helper did not finish in 20 s" }
            Start-Sleep -Milliseconds 20
        }
        Remove-Item $out, $file -ErrorAction SilentlyContinue
        $p
    }
}

Describe 'Get-TcpPortUsage and the TIME_WAIT settings in a private namespace' -Skip:(-not $linuxRoot) {
    BeforeEach {
        $script:before = Get-HostValues
        $script:ns = New-PrivateNamespace
        $script:helper = $null
    }

    AfterEach {
        if ($helper -and -not $helper.HasExited) { Stop-Process -Id $helper.Id -Force -ErrorAction SilentlyContinue }
        if ($ns -and -not $ns.HasExited) { Stop-Process -Id $ns.Id -Force -ErrorAction SilentlyContinue }
        Get-HostValues | Should -Be $before
    }

    It 'counts 60 client-closed connections as 60 of 100 ports towards one destination, and widening the range fixes it there only (done-when)' {
        Set-TcpTimeWaitSetting -NetworkNamespace $ns.Id -PortRange 40000-40099 -Confirm:$false
        Get-NsValue $ns ip_local_port_range | Should -Be "40000`t40099"
        $script:helper = New-ClientClosedConnections $ns 5000 60

        $rows = @(Get-TcpPortUsage -NetworkNamespace $ns.Id)
        $row = $rows | Where-Object { $_.RemotePort -eq 5000 -and $_.Direction -eq 'Outbound' }
        $row | Should -HaveCount 1
        $row.LocalAddress | Should -Be '127.0.0.1'
        $row.RemoteAddress | Should -Be '127.0.0.1'
        $row.InUse | Should -Be 60
        $row.TimeWait | Should -Be 60
        $row.Established | Should -Be 0
        $row.RangeSize | Should -Be 100
        $row.PercentUsed | Should -Be 60
        $row.Verdict | Should -Be 'Elevated'
        $row.NextPortFreeIn | Should -BeGreaterThan ([TimeSpan]::Zero)
        $row.NextPortFreeIn | Should -BeLessOrEqual ([TimeSpan]::FromSeconds(60))
        $row.TimeWaitExpiresIn | Should -BeGreaterOrEqual $row.NextPortFreeIn
        $row.Advice | Should -Match 'keep-alive'
        $row.Advice | Should -Match 'PortRange 32768-60999'
        $rows[0] | Should -Be $row   # worst first

        $s = Get-TcpTimeWaitSetting -NetworkNamespace $ns.Id
        $s.TimeWaitCount | Should -Be 60
        $s.RangeSize | Should -Be 100

        Set-TcpTimeWaitSetting -NetworkNamespace $ns.Id -PortRange 32768-60999 -Confirm:$false
        Get-NsValue $ns ip_local_port_range | Should -Be "32768`t60999"
        $after = Get-TcpPortUsage -NetworkNamespace $ns.Id -RemotePort 5000 | Where-Object Direction -eq 'Outbound'
        $after.InUse | Should -Be 60
        $after.RangeSize | Should -Be 28232
        $after.PercentUsed | Should -Be 0.2
        $after.Verdict | Should -Be 'Ok'
        $after.Advice | Should -BeNullOrEmpty
        (Get-TcpTimeWaitSetting -NetworkNamespace $ns.Id).RangeSize | Should -Be 28232
    }

    It 'formats the usage table within 80 columns' {
        Set-TcpTimeWaitSetting -NetworkNamespace $ns.Id -PortRange 40000-40099 -Confirm:$false
        $script:helper = New-ClientClosedConnections $ns 5001 5
        $lines = Get-TcpPortUsage -NetworkNamespace $ns.Id | Out-String -Width 80 -Stream
        ($lines | Where-Object { $_ -match '127\.0\.0\.1:5001' }) | Should -Match '\s5\s+5\s+100\s+5\s+Ok$'
        $lines | ForEach-Object { $_.Length | Should -BeLessOrEqual 80 }
        # The same view on the far side of remoting (a deserialized object).
        $far = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize(@(Get-TcpPortUsage -NetworkNamespace $ns.Id)))
        $far[0].PSObject.TypeNames[0] | Should -Be 'Deserialized.CloseWait.TcpPortUsage'
        ($far | Out-String -Width 80 -Stream | Where-Object { $_ -match '127\.0\.0\.1:5001' }) | Should -Match '\s5\s+5\s+100\s+5\s+Ok$'
        $setting = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize((Get-TcpTimeWaitSetting -NetworkNamespace $ns.Id)))
        $setting.Details[0].Setting | Should -Be 'PortRange'
        ($setting | Out-String -Width 80) | Should -Match 'PortRange\s+: 40000-40099'
    }

    It 'reads and sets reserved ports, tcp_tw_reuse, tcp_max_tw_buckets and tcp_fin_timeout there, all at once' {
        $buckets = [int](Get-NsValue $ns tcp_max_tw_buckets)
        $r = Set-TcpTimeWaitSetting -NetworkNamespace $ns.Id -ReservedPorts '40010-40019,40050' -PortRange 40000-40099 -TimeWaitReuse 1 -MaxTimeWaitBuckets ($buckets + 1) -FinWait2Timeout 30 -PassThru -Confirm:$false -WarningVariable w 3>$null
        $r.ReservedPorts | Should -Be '40010-40019,40050'
        $r.RangeSize | Should -Be 89
        $r.TimeWaitReuse | Should -Be 1
        $r.MaxTimeWaitBuckets | Should -Be ($buckets + 1)
        $r.FinWait2Timeout | Should -Be ([TimeSpan]::FromSeconds(30))
        $w | Should -Match 'does not shorten TIME_WAIT'
        Get-NsValue $ns tcp_tw_reuse | Should -Be '1'
        Get-NsValue $ns tcp_fin_timeout | Should -Be '30'
        ($r.Details | Where-Object Setting -eq 'FinWait2Timeout').Meaning | Should -Match 'not TIME_WAIT'
    }

    It 'writes nothing with -WhatIf' {
        Set-TcpTimeWaitSetting -NetworkNamespace $ns.Id -PortRange 40000-40099 -WhatIf
        Get-NsValue $ns ip_local_port_range | Should -Be "32768`t60999"
    }

    It 'refuses <Arguments> with <ErrorId> and writes nothing' -TestCases @(
        @{ Arguments = @{ PortRange = '80-2000' }; ErrorId = 'PortRangeBelow1024'; Message = 'privileged' }
        @{ Arguments = @{ PortRange = '60000-50000' }; ErrorId = 'PortRangeInvalid'; Message = 'START at most END' }
        @{ Arguments = @{ PortRange = '40000' }; ErrorId = 'PortRangeInvalid'; Message = 'START-END' }
        @{ Arguments = @{ MaxTimeWaitBuckets = 5000 }; ErrorId = 'MaxTimeWaitBucketsLowered'; Message = 'not to lower it' }
        @{ Arguments = @{ TimeWaitRecycle = 1 }; ErrorId = 'TimeWaitRecycleRemoved'; Message = 'removed in Linux 4.12' }
        @{ Arguments = @{ TimeWaitReuse = 3 }; ErrorId = 'TimeWaitReuseOutOfRange'; Message = '0, 1 or 2' }
        @{ Arguments = @{ TimeWaitDuration = 30 }; ErrorId = 'TimeWaitSettingNotSupported'; Message = 'TCP_TIMEWAIT_LEN' }
        @{ Arguments = @{ ReservedPorts = '80,x' }; ErrorId = 'ReservedPortsInvalid'; Message = 'list of ports' }
        @{ Arguments = @{ TimeWaitReuse = 1; PortRange = '80-2000' }; ErrorId = 'PortRangeBelow1024'; Message = 'Nothing was changed' }
    ) {
        $values = { ($hostKeys[0..4] | ForEach-Object { Get-NsValue $ns $_ }) -join '|' }
        $was = & $values
        $e = $null
        Set-TcpTimeWaitSetting -NetworkNamespace $ns.Id @Arguments -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
        $e | Should -HaveCount 1
        $e[0].FullyQualifiedErrorId | Should -Be "$ErrorId,CloseWait.Commands.SetTcpTimeWaitSettingCommand"
        $e[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $e[0].Exception.Message | Should -Match $Message
        & $values | Should -Be $was
    }

    It 'refuses a range over a listening port and says which' {
        $script:helper = New-ClientClosedConnections $ns 45000 1
        { Set-TcpTimeWaitSetting -NetworkNamespace $ns.Id -PortRange 40000-50000 -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'PortRangeCollidesWithListener,CloseWait.Commands.SetTcpTimeWaitSettingCommand' -ExpectedMessage '*45000*'
        Get-NsValue $ns ip_local_port_range | Should -Be "32768`t60999"
        # Reserving the port first makes the same range acceptable.
        Set-TcpTimeWaitSetting -NetworkNamespace $ns.Id -ReservedPorts 45000 -PortRange 40000-50000 -Confirm:$false
        Get-NsValue $ns ip_local_port_range | Should -Be "40000`t50000"
    }

    It 'refuses dropping the reservation that keeps a listener out of the range, TCP and UDP (issue 19)' -ForEach @(@{ Proto = 'tcp' }, @{ Proto = 'udp' }) {
        if ($Proto -eq 'tcp') { $script:helper = New-ClientClosedConnections $ns 45000 1 }
        else {
            $out = Join-Path ([IO.Path]::GetTempPath()) ("udp-" + [guid]::NewGuid().ToString('N'))
            Set-Content -Path "$out.py" -Value "import socket, time`ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)`ns.bind(('0.0.0.0', 45000))`nprint('bound', flush=True)`ntime.sleep(120)"
            $script:helper = Start-Process -FilePath nsenter -ArgumentList "--net=/proc/$($ns.Id)/ns/net", 'python3', "$out.py" -RedirectStandardOutput $out -PassThru
            $deadline = [DateTime]::UtcNow.AddSeconds(20)
            while (-not ((Test-Path $out) -and (Get-Content $out -Raw) -match 'bound')) {
                if ($helper.HasExited -or [DateTime]::UtcNow -gt $deadline) { throw 'the UDP helper did not bind in 20 s' }
                Start-Sleep -Milliseconds 20
            }
            Remove-Item $out, "$out.py" -ErrorAction SilentlyContinue
            { Set-TcpTimeWaitSetting -NetworkNamespace $ns.Id -PortRange 40000-50000 -Confirm:$false -ErrorAction Stop } |
                Should -Throw -ErrorId 'PortRangeCollidesWithListener,CloseWait.Commands.SetTcpTimeWaitSettingCommand' -ExpectedMessage '*45000*'
        }
        Set-TcpTimeWaitSetting -NetworkNamespace $ns.Id -ReservedPorts 45000 -Confirm:$false
        Set-TcpTimeWaitSetting -NetworkNamespace $ns.Id -PortRange 40000-50000 -Confirm:$false
        { Set-TcpTimeWaitSetting -NetworkNamespace $ns.Id -ReservedPorts '' -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'PortRangeCollidesWithListener,CloseWait.Commands.SetTcpTimeWaitSettingCommand' -ExpectedMessage '*45000*unreserved*'
        Get-NsValue $ns ip_local_reserved_ports | Should -Be '45000'
    }

    It 'gives -NetworkNamespace rows the namespace inode, as -AllNetworkNamespaces does (issue 19)' {
        $script:helper = New-ClientClosedConnections $ns 5000 2
        $inode = [uint64](((Get-Item "/proc/$($ns.Id)/ns/net").LinkTarget) -replace '\D', '')
        $rows = @(Get-TcpPortUsage -NetworkNamespace $ns.Id)
        $rows.Count | Should -BeGreaterThan 0
        $rows.NetworkNamespaceId | Sort-Object -Unique | Should -Be $inode
    }

    It 'Set-TcpTimeWaitSetting -NetworkNamespace enters it twice: to read and plan, then to write and read back (issue 20)' -Skip:(-not $hasStrace) {
        $script:helper = New-ClientClosedConnections $ns 5000 2
        $inode = [uint64](((Get-Item "/proc/$($ns.Id)/ns/net").LinkTarget) -replace '\D', '')
        # A port range needs the listeners, the UDP ports and the range's connections besides the values: still one entry for the plan.
        $entries = Get-NamespaceEntries "Set-TcpTimeWaitSetting -NetworkNamespace $($ns.Id) -PortRange 40000-40099 -TimeWaitReuse 1 -PassThru -Confirm:`$false | Out-Null"
        $entries | Should -Be @($inode, $inode)
        Get-NsValue $ns ip_local_port_range | Should -Match '^40000\s+40099$'
        Get-NsValue $ns tcp_tw_reuse | Should -Be '1'

        $entries = Get-NamespaceEntries "Set-TcpTimeWaitSetting -NetworkNamespace $($ns.Id) -PortRange 40000-40199 -WhatIf | Out-Null"
        $entries | Should -Be @($inode)
        Get-NsValue $ns ip_local_port_range | Should -Match '^40000\s+40099$'
    }

    It 'Get-TcpPortUsage -NetworkNamespace enters it once for the range and the socket table together (issue 20)' -Skip:(-not $hasStrace) {
        # A listener with TIME_WAIT on its port: the range, and all three dumps (listeners, the range, TIME_WAIT on listening ports).
        $script:helper = New-ClientClosedConnections $ns 5000 2
        $inode = [uint64](((Get-Item "/proc/$($ns.Id)/ns/net").LinkTarget) -replace '\D', '')
        $entries = Get-NamespaceEntries "Get-TcpPortUsage -NetworkNamespace $($ns.Id) | Out-Null"
        $entries | Should -Be @($inode)
    }

    It 'Get-TcpPortUsage -AllNetworkNamespaces enters each namespace at most once (issue 20)' -Skip:(-not $hasStrace) {
        $script:helper = New-ClientClosedConnections $ns 5000 2
        $inode = [uint64](((Get-Item "/proc/$($ns.Id)/ns/net").LinkTarget) -replace '\D', '')
        $entries = Get-NamespaceEntries "Get-TcpPortUsage -AllNetworkNamespaces | Out-Null"
        $entries | Should -Contain $inode
        @($entries | Group-Object | Where-Object Count -gt 1).Name | Should -BeNullOrEmpty
    }

    It 'warns when the new range is narrower than the connections using the range now (issue 19)' {
        $script:helper = New-ClientClosedConnections $ns 5000 3
        Set-TcpTimeWaitSetting -NetworkNamespace $ns.Id -PortRange 40000-40000 -Confirm:$false -WarningVariable w -WarningAction SilentlyContinue
        $w | Should -Not -BeNullOrEmpty
        "$w" | Should -BeLike '*holds 1 port(s), fewer than the * TCP connection(s)*'
    }

    It 'applies a setting piped from a namespace to that namespace, not the host (issue 15)' {
        Set-TcpTimeWaitSetting -NetworkNamespace $ns.Id -PortRange 40000-40099 -Confirm:$false
        $other = New-PrivateNamespace
        try {
            Get-TcpTimeWaitSetting -NetworkNamespace $ns.Id | Set-TcpTimeWaitSetting -TimeWaitReuse 1 -Confirm:$false
            Get-NsValue $ns tcp_tw_reuse | Should -Be '1'
            Get-NsValue $other tcp_tw_reuse | Should -Be '2'
        }
        finally { Stop-Process -Id $other.Id -Force -ErrorAction SilentlyContinue }
    }

    It 'keepalive: Test | Set acts on the namespace the test read, not the host (issue 15)' {
        Test-TcpKeepAliveSetting -NetworkNamespace $ns.Id -IdleTimeout 350 | Set-TcpKeepAliveSetting -Confirm:$false
        Get-NsValue $ns tcp_keepalive_time | Should -Be '280'
        Get-TcpKeepAliveSetting -NetworkNamespace $ns.Id | Set-TcpKeepAliveSetting -Confirm:$false
        # the host is checked by AfterEach
    }

    It 'refuses a setting piped from one namespace with -NetworkNamespace naming another, and writes nothing (issue 19 item 6; was: applied as a baseline)' {
        $other = New-PrivateNamespace
        try {
            Set-TcpKeepAliveSetting -NetworkNamespace $ns.Id -Time 301 -Confirm:$false
            $e = $null
            Get-TcpKeepAliveSetting -NetworkNamespace $ns.Id | Set-TcpKeepAliveSetting -NetworkNamespace $other.Id -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
            $e[0].FullyQualifiedErrorId | Should -Be 'SettingNamespaceConflict,CloseWait.Commands.SetTcpKeepAliveSettingCommand'
            $e[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
            Get-NsValue $other tcp_keepalive_time | Should -Be '7200'
            $e = $null
            Get-TcpTimeWaitSetting -NetworkNamespace $ns.Id | Set-TcpTimeWaitSetting -NetworkNamespace $other.Id -TimeWaitReuse 1 -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
            $e[0].FullyQualifiedErrorId | Should -Be 'SettingNamespaceConflict,CloseWait.Commands.SetTcpTimeWaitSettingCommand'
            Get-NsValue $other tcp_tw_reuse | Should -Be '2'
            Get-NsValue $ns tcp_tw_reuse | Should -Be '2'
            # The same namespace named both ways is no conflict; a baseline without its namespace applies anywhere.
            Get-TcpKeepAliveSetting -NetworkNamespace $ns.Id | Set-TcpKeepAliveSetting -NetworkNamespace "/proc/$($ns.Id)/ns/net" -Time 302 -Confirm:$false
            Get-NsValue $ns tcp_keepalive_time | Should -Be '302'
            Get-TcpKeepAliveSetting -NetworkNamespace $ns.Id | Select-Object * -ExcludeProperty NetworkNamespace* | Set-TcpKeepAliveSetting -NetworkNamespace $other.Id -Confirm:$false
            Get-NsValue $other tcp_keepalive_time | Should -Be '302'
        }
        finally { Stop-Process -Id $other.Id -Force -ErrorAction SilentlyContinue }
    }

    It 'keepalive: a piped namespace setting with -Persist is refused (issue 15)' {
        $e = $null
        Get-TcpKeepAliveSetting -NetworkNamespace $ns.Id | Set-TcpKeepAliveSetting -Persist -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
        $e[0].FullyQualifiedErrorId | Should -Be 'PersistNotSupportedForNetworkNamespace,CloseWait.Commands.SetTcpKeepAliveSettingCommand'
    }

    It 'keepalive: Test fails a running time of 0 instead of passing it (issue 15)' {
        nsenter "--net=/proc/$($ns.Id)/ns/net" sh -c 'echo 0 > /proc/sys/net/ipv4/tcp_keepalive_time'
        $r = Test-TcpKeepAliveSetting -NetworkNamespace $ns.Id -IdleTimeout 350
        $r.Verdict | Should -Be 'Fail'
        $r.Reason | Should -Match 'Time 00:00:00 is outside'
        $r.RecommendedTime | Should -Be ([TimeSpan]::FromSeconds(280))
    }
}

Describe '-Persist drop-ins that the real sysctl --system applies' -Skip:(-not ($linuxRoot -and $haveSysctl)) {
    BeforeAll {
        $script:pwsh = Join-Path $PSHOME 'pwsh'
        $script:module = Join-Path $PSScriptRoot '../out/CloseWait/CloseWait.psd1'
        # A private mount and network namespace: a scratch directory stands for /etc/sysctl.d, /proc/sys
        # is read-only but for net (procps applies every key it finds), the other sysctl.d directories
        # and /etc/sysctl.conf are hidden, so only the scratch files apply.
        function script:Invoke-InPrivateSysctl([string] $Scratch, [string] $Script, [string] $After) {
            $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes("Import-Module '$module'; $Script"))
            $empty = Join-Path $Scratch '.empty'
            New-Item -ItemType Directory -Path $empty -Force | Out-Null
            $hide = (@('/run/sysctl.d', '/usr/local/lib/sysctl.d', '/usr/lib/sysctl.d', '/lib/sysctl.d') | Where-Object { Test-Path $_ } | ForEach-Object { "mount --bind '$empty' $_" }) -join ' && '
            $conf = Join-Path $Scratch '.sysctl.conf'
            Set-Content -Path $conf -Value ''
            $cmd = "mount --make-rprivate / && mount --bind '$Scratch' /etc/sysctl.d && $hide && { [ ! -e /etc/sysctl.conf ] || mount --bind '$conf' /etc/sysctl.conf; } && mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && mount --bind /proc/sys/net /proc/sys/net && mount -o remount,bind,rw /proc/sys/net && '$pwsh' -NoProfile -EncodedCommand $encoded && { sysctl --system >/dev/null 2>&1; true; } && $After"
            unshare -m -n sh -c $cmd
        }
    }

    It 'writes the TIME_WAIT drop-in, keeps the lines that are not ours, and sysctl --system applies it' {
        $before = Get-HostValues
        $scratch = (New-Item -ItemType Directory -Path (Join-Path TestDrive:/ tw-sysctl.d)).FullName
        Set-Content -Path (Join-Path $scratch 99-closewait-tcp-timewait.conf) -Value "# mine`nnet.core.somaxconn = 1024`nnet.ipv4.tcp_tw_reuse = 0"
        $out = Invoke-InPrivateSysctl $scratch 'Set-TcpTimeWaitSetting -PortRange 40000-40999 -TimeWaitReuse 1 -Persist -Confirm:$false' 'cat /proc/sys/net/ipv4/ip_local_port_range /proc/sys/net/ipv4/tcp_tw_reuse /proc/sys/net/core/somaxconn'
        $LASTEXITCODE | Should -Be 0
        $out | Should -Be @("40000`t40999", '1', '1024')
        Get-Content (Join-Path $scratch 99-closewait-tcp-timewait.conf) | Should -Be @('# mine', 'net.core.somaxconn = 1024', 'net.ipv4.tcp_tw_reuse = 1', 'net.ipv4.ip_local_port_range = 40000 40999')
        Get-HostValues | Should -Be $before
        Test-Path /etc/sysctl.d/99-closewait-tcp-timewait.conf | Should -BeFalse
    }

    It 'keepalive -Persist keeps another key and the comments of its drop-in (issue 15)' {
        $before = Get-HostValues
        $scratch = (New-Item -ItemType Directory -Path (Join-Path TestDrive:/ ka-sysctl.d)).FullName
        Set-Content -Path (Join-Path $scratch 99-closewait-tcp-keepalive.conf) -Value "# kept`nnet.core.somaxconn = 2048`nnet.ipv4.tcp_keepalive_time = 7200"
        $out = Invoke-InPrivateSysctl $scratch 'Set-TcpKeepAliveSetting -Time 300 -Interval 30 -Probes 5 -Persist -Confirm:$false' 'cat /proc/sys/net/ipv4/tcp_keepalive_time /proc/sys/net/ipv4/tcp_keepalive_intvl /proc/sys/net/ipv4/tcp_keepalive_probes /proc/sys/net/core/somaxconn'
        $out | Should -Be @('300', '30', '5', '2048')
        Get-Content (Join-Path $scratch 99-closewait-tcp-keepalive.conf) | Should -Be @('# kept', 'net.core.somaxconn = 2048', 'net.ipv4.tcp_keepalive_time = 300', 'net.ipv4.tcp_keepalive_intvl = 30', 'net.ipv4.tcp_keepalive_probes = 5')
        Get-HostValues | Should -Be $before
    }

    It 'predicts after-reboot keepalive values as the real sysctl --system sets them, in 17 configurations (issue 15)' {
        $cases = @(
            'net.ipv4.tcp_keepalive_time = 300'
            'net.ipv4.tcp_keepalive_time = 300 # inline comment'
            'net.ipv4.tcp_keepalive_time = 300#nospace'
            'net.ipv4.tcp_keepalive_time = 8589934'
            'net.ipv4.tcp_keepalive_time = 8589935'
            'net.ipv4.tcp_keepalive_intvl = -5'
            'net.ipv4.tcp_keepalive_intvl = 0x1e'
            'net.ipv4.tcp_keepalive_intvl = 010'
            'net.ipv4.tcp_keepalive_intvl = +5'
            'net.ipv4.tcp_keepalive_probes = 0'
            'net.ipv4.tcp_keepalive_probes = 256'
            'net.ipv4.tcp_keepalive_probes = -1'
            'net.ipv4.tcp_keepalive_probes = 12 13'
            'net.ipv4.tcp_keepalive_time = abc'
            'net/ipv4/tcp_keepalive_time = 600'
            "net.ipv4.tcp_keepalive_time = 100`nnet.ipv4.tcp_keepalive_time = 200"
            '-net.ipv4.tcp_keepalive_probes = 99999'
        )
        $cases | Should -HaveCount 17
        $i = 0
        $mismatch = foreach ($case in $cases) {
            $i++
            $scratch = (New-Item -ItemType Directory -Path (Join-Path TestDrive:/ "c$i")).FullName
            Set-Content -Path (Join-Path $scratch 50-case.conf) -Value $case
            # The prediction is made in the fresh namespace (kernel defaults running), before sysctl --system applies the file.
            $predict = '$s = Get-TcpKeepAliveSetting 3>$null; "{0} {1} {2}" -f [long]($s.TimeAfterReboot ?? $s.Time).TotalSeconds, [long]($s.IntervalAfterReboot ?? $s.Interval).TotalSeconds, ($s.ProbesAfterReboot ?? $s.Probes)'
            $out = @(Invoke-InPrivateSysctl $scratch $predict 'echo "$(cat /proc/sys/net/ipv4/tcp_keepalive_time) $(cat /proc/sys/net/ipv4/tcp_keepalive_intvl) $(cat /proc/sys/net/ipv4/tcp_keepalive_probes)"')
            if ($out.Count -ne 2 -or $out[0] -ne $out[1]) { "[$case] predicted '$($out[0])', sysctl --system set '$($out[-1])'" }
        }
        $mismatch | Should -BeNullOrEmpty
    }
}
