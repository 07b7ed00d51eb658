# Run by tools/CloseWait.Arm64/run-qemu.sh inside tools/CloseWait.Host under qemu-aarch64: each check
# prints PASS or FAIL and a name; the last line is "N passed, M failed". The holder is a host process
# with one IPv4 and one IPv6 CLOSE_WAIT socket on the listed local ports, and their listeners.
param([int] $V4Port, [int] $V6Port, [int] $HolderPid)

$script:passed = 0
$script:failed = 0
function Check([string] $Name, [scriptblock] $Test) {
    try {
        $ok = & $Test
        $detail = ''
    } catch {
        $ok = $false
        $detail = " ($($_.FullyQualifiedErrorId): $($_.Exception.Message))"
    }
    if ($ok -eq $true) { $script:passed++; "PASS $Name" } else { $script:failed++; "FAIL $Name$detail" }
}

# Fetches a result; a failure is kept and reported by the checks that need the result, so that one
# failing command (the unchanged module: "/proc: Invalid argument (errno 22)") fails its checks, not the run.
$script:lastError = @{}
function Fetch([string] $Key, [scriptblock] $Command) {
    try { & $Command } catch { $script:lastError[$Key] = "$($_.FullyQualifiedErrorId): $($_.Exception.Message)"; $null }
}
function Why([string] $Key) { if ($script:lastError[$Key]) { throw $script:lastError[$Key] } }

$ErrorActionPreference = 'Stop'
Check 'the process is arm64' { [System.Runtime.InteropServices.RuntimeInformation]::ProcessArchitecture -eq 'Arm64' }

foreach ($case in @(@{ Name = 'IPv4'; Port = $V4Port }, @{ Name = 'IPv6'; Port = $V6Port })) {
    $port = $case.Port
    $c = @(Fetch "cw$port" { Get-TcpCloseWait -LocalPort $port })
    Check "$($case.Name): Get-TcpCloseWait finds the socket through /proc" { Why "cw$port"; $c.Count -eq 1 -and $c[0].State -eq 'CloseWait' -and $c[0].Source -eq 'ProcNet' }
    Check "$($case.Name): the owner is the holder, with its descriptor" { $c[0].ProcessId -eq $HolderPid -and $c[0].Owners.Count -ge 1 -and $c[0].Owners[0].FileDescriptor -ge 0 }
    Check "$($case.Name): 4 unread bytes (5 sent, none read)" { $c[0].ReceiveQueue -eq 5 }
    Check "$($case.Name): the socket has an inode and a user" { $c[0].Inode -gt 0 -and $null -ne $c[0].UserId }
    $l = @(Fetch "l$port" { Get-TcpConnection -State Listen -LocalPort $port })
    Check "$($case.Name): the listener is found with its owner" { Why "l$port"; $l.Count -eq 1 -and $l[0].ProcessId -eq $HolderPid }
}

# The closed local peer of a CLOSE_WAIT socket is a FIN_WAIT2 time-wait minisocket for only
# tcp_fin_timeout (60 s): made here, in this arm64 process, just before it is looked at.
foreach ($loopback in [ipaddress]::Loopback, [ipaddress]::IPv6Loopback) {
    $family = if ($loopback.AddressFamily -eq 'InterNetwork') { 'IPv4' } else { 'IPv6' }
    $peer = @(Fetch "peer$family" {
        $listener = [System.Net.Sockets.Socket]::new($loopback.AddressFamily, 'Stream', 'Tcp')
        try {
            $listener.Bind([System.Net.IPEndPoint]::new($loopback, 0))
            $listener.Listen(1)
            $client = [System.Net.Sockets.Socket]::new($loopback.AddressFamily, 'Stream', 'Tcp')
            $client.Connect($listener.LocalEndPoint)
            $server = $listener.Accept()
            $clientPort = $client.LocalEndPoint.Port
            $serverPort = $listener.LocalEndPoint.Port
            $client.Close()
            # Exactly this connection (an older socket may have had the same local port), waited for
            # in FIN_WAIT2: under emulation on a loaded machine one listing can take seconds.
            $deadline = [DateTime]::UtcNow.AddSeconds(50)
            do {
                $found = @(Get-TcpConnection -LocalPort $clientPort -RemotePort $serverPort -State FinWait2 |
                    Where-Object { $_.LocalAddress -eq "$loopback" -and $_.RemoteAddress -eq "$loopback" })
            } until ($found.Count -gt 0 -or [DateTime]::UtcNow -gt $deadline)
            $found
            $server.Dispose()
        } finally { $listener.Dispose() }
    })
    Check "${family}: the closed client side is a minisocket: no owner, no user, no queues" {
        Why "peer$family"
        $peer.Count -eq 1 -and $peer[0].State -eq 'FinWait2' -and $null -eq $peer[0].UserId -and $null -eq $peer[0].ReceiveQueue -and $null -eq $peer[0].SendQueue -and $null -eq $peer[0].ProcessId
    }
}

$mine = @(Fetch mine { Get-TcpConnection -ProcessId $HolderPid })
Check 'Get-TcpConnection -ProcessId lists the holder''s four sockets' { Why mine; $mine.Count -eq 4 }
$byName = @(Fetch byName { Get-TcpCloseWait -ProcessName (Get-TcpCloseWait -LocalPort $V4Port).Program | Where-Object ProcessId -eq $HolderPid })
Check 'Get-TcpCloseWait -ProcessName finds both' { Why byName; $byName.Count -eq 2 }

$s = Fetch summary { Get-TcpConnectionSummary }
Check 'Get-TcpConnectionSummary counts both CLOSE_WAIT sockets and the holder' {
    Why summary
    $s.CloseWait -ge 2 -and @($s.ByProcess | Where-Object { $_.ProcessId -eq $HolderPid -and $_.CloseWait -eq 2 }).Count -eq 1
}

$k = Fetch keepalive { Get-TcpKeepAliveSetting }
Check 'Get-TcpKeepAliveSetting reads the kernel values' { Why keepalive; $k.Time -gt [timespan]::Zero -and $k.Probes -gt 0 }

Check 'Close-TcpConnection -WhatIf closes nothing' {
    $null = Close-TcpConnection -InputObject (Get-TcpCloseWait -LocalPort $V4Port) -WhatIf -PassThru
    @(Get-TcpCloseWait -LocalPort $V4Port).Count -eq 1
}

"$script:passed passed, $script:failed failed"
