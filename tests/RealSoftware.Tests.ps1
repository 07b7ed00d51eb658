#Requires -Version 7.0
#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
<#
    Test-TcpCloseWait and Watch-TcpCloseWait against real software from Debian packages, each
    started here in the foreground on loopback with its own config and data under one temp folder,
    and stopped by PID: nginx with a python3-requests client pool, gunicorn whose handler forks
    multiprocessing children, Redis blocked by DEBUG SLEEP with redis-py clients, PostgreSQL 15
    backends running pg_sleep whose clients left, socat with a long -t, a python3-requests pool on
    HAProxy (timeout http-keep-alive), a Node.js net.Server with allowHalfOpen whose handler never
    calls end(). Every scenario starts at once; the waits are on the socket table. Then the advice
    is followed where it can be: nginx keepalive_timeout raised (and reloaded gracefully),
    pg_terminate_backend on the backends, client_connection_check_interval set and reloaded.
    Invoke-Pester ./tests/RealSoftware.Tests.ps1 -Output Detailed
#>

BeforeDiscovery {
    $script:PgBin = @(Get-ChildItem /usr/lib/postgresql/*/bin/postgres -ErrorAction SilentlyContinue | Sort-Object FullName -Descending)[0]
    $need = 'nginx', 'gunicorn', 'redis-server', 'socat', 'setpriv', 'psql', 'haproxy', 'node'
    $missing = @($need | Where-Object { -not (Get-Command $_ -ErrorAction SilentlyContinue) })
    if (-not $PgBin) { $missing += 'postgresql' }
    if ($IsLinux -and (Test-Path /usr/bin/python3)) {
        & /usr/bin/python3 -c 'import requests, redis, psycopg2' 2>$null
        if ($LASTEXITCODE -ne 0) { $missing += 'python3-requests/python3-redis/python3-psycopg2' }
    }
    $script:Skip = if (-not $IsLinux) { 'Linux only' }
    elseif ((id -u) -ne '0') { 'needs root (PostgreSQL runs as the postgres user; every owner must be visible)' }
    elseif ($missing.Count) { "missing: $($missing -join ', ')" }
}

BeforeAll {
    $manifest = Join-Path (Split-Path $PSScriptRoot -Parent) 'out/CloseWait/CloseWait.psd1'
    if (-not (Test-Path $manifest)) { throw "Build the module first (dotnet build): $manifest not found." }
    Import-Module $manifest -Force

    # Advice that would change TCP keepalive (an application's keep-alive knob is no such change) or SIGKILL.
    $script:KeepaliveChange = '(?i)TCP keepalive|Set-TcpKeepAlive|Test-TcpKeepAlive|SO_KEEPALIVE|tcp_keepalive_'
    $script:Kill = '(?i)Stop-Process|kill -9|kill -KILL|SIGKILL \('
}

AfterAll {
    Remove-Module CloseWait -ErrorAction SilentlyContinue
}

Describe 'Test-TcpCloseWait on real software' -Skip:([bool]$Skip) {
    BeforeAll {
        $scenarios = Join-Path $PSScriptRoot 'CloseWait.Tests/Scenarios'
        $clients = Join-Path $scenarios 'realsw_clients.py'
        $script:tmp = Join-Path ([IO.Path]::GetTempPath()) "closewait-real-$PID"
        New-Item -ItemType Directory -Force $tmp, "$tmp/nginx", "$tmp/redis", "$tmp/pgroot", "$tmp/gunicorn", "$tmp/haproxy" | Out-Null
        chmod 755 $tmp
        chown postgres:postgres "$tmp/pgroot"
        $script:procs = [System.Collections.Generic.List[System.Diagnostics.Process]]::new()

        function Start-Bg([string] $File, [string[]] $Arguments, [switch] $Group) {
            # -Group: its own session (setsid), so that AfterAll ends its children with it.
            $psi = [System.Diagnostics.ProcessStartInfo]::new($(if ($Group) { 'setsid' } else { $File }))
            if ($Group) { $psi.ArgumentList.Add($File) }
            foreach ($a in $Arguments) { $psi.ArgumentList.Add($a) }
            $psi.UseShellExecute = $false
            $psi.RedirectStandardInput = $true
            $psi.RedirectStandardOutput = $true
            $psi.RedirectStandardError = $true
            $p = [System.Diagnostics.Process]::Start($psi)
            $null = $p.StandardError.ReadToEndAsync()
            $script:procs.Add($p)
            $p
        }

        function Start-Client([string] $Mode, [string[]] $Arguments) { Start-Bg /usr/bin/python3 (@($clients, $Mode) + $Arguments) }

        function Read-Line($Process, [string] $Name, [int] $TimeoutMs = 30000) {
            $line = $Process.StandardOutput.ReadLineAsync()
            if (-not $line.Wait($TimeoutMs)) { throw "$Name said nothing in $TimeoutMs ms" }
            if ($null -eq $line.Result) { throw "$Name exited (code $($Process.ExitCode))" }
            $line.Result
        }

        # "ready <pid> [count]": returns the count, where given.
        function Read-Ready($Process, [string] $Name) {
            $words = (Read-Line $Process $Name) -split ' '
            $words[0] | Should -Be 'ready'
            if ($words.Count -gt 2) { [int] $words[2] }
        }

        function Get-FreePort {
            $l = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
            $l.Start(); $port = $l.LocalEndpoint.Port; $l.Stop(); $port
        }

        function Wait-Until([scriptblock] $Condition, [string] $What, [double] $Seconds = 30) {
            $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
            while (-not (& $Condition)) {
                if ([DateTime]::UtcNow -gt $deadline) { throw "timed out after $Seconds s waiting for $What" }
                Start-Sleep -Milliseconds 100
            }
        }

        function Test-Listening([int] $Port) { [bool](Get-TcpConnection -State Listen -LocalPort $Port -NoOwner) }

        $script:port = @{ nginx = Get-FreePort; gunicorn = Get-FreePort; redis = Get-FreePort; pg = Get-FreePort; socat = Get-FreePort; backend = Get-FreePort; haproxy = Get-FreePort; haproxySlow = Get-FreePort; haproxyAbort = Get-FreePort; node = Get-FreePort }

        # PostgreSQL's initdb is the slowest step: first.
        $pg = Split-Path $PgBin
        $initdb = Start-Bg setpriv @('--reuid=postgres', '--regid=postgres', '--init-groups', "$pg/initdb", '-D', "$tmp/pgroot/data", '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C')

        Set-Content "$tmp/nginx/nginx.conf" @"
worker_processes 2;
error_log $tmp/nginx/error.log;
pid $tmp/nginx/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    keepalive_timeout 3s;
    server { listen 127.0.0.1:$($port.nginx); location / { return 200 "ok\n"; } }
}
"@
        $script:nginx = Start-Bg nginx @('-e', "$tmp/nginx/error.log", '-p', "$tmp/nginx", '-c', "$tmp/nginx/nginx.conf", '-g', 'daemon off;')
        $script:gunicorn = Start-Bg gunicorn @('--bind', "127.0.0.1:$($port.gunicorn)", '--workers', '2', '--chdir', $scenarios, '--worker-tmp-dir', "$tmp/gunicorn", 'forking_app:app') -Group
        $script:redis = Start-Bg redis-server @('--port', "$($port.redis)", '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', "$tmp/redis", '--enable-debug-command', 'yes', '--daemonize', 'no', '--logfile', "$tmp/redis/log")
        # HAProxy answers itself on one frontend and closes client connections idle 2 s between
        # requests; two more forward to the silent backend, one with option abortonclose (in a listen
        # section: HAProxy 2.6 left the sockets in CLOSE_WAIT with it in a backend behind a separate frontend).
        Set-Content "$tmp/haproxy/haproxy.cfg" @"
global
    maxconn 100
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 2s
frontend fe
    bind 127.0.0.1:$($port.haproxy)
    http-request return status 200 content-type text/plain string ok
frontend slow
    bind 127.0.0.1:$($port.haproxySlow)
    default_backend silent
backend silent
    server s1 127.0.0.1:$($port.backend)
listen abort
    bind 127.0.0.1:$($port.haproxyAbort)
    option abortonclose
    server s1 127.0.0.1:$($port.backend)
"@
        # Node.js: a net.Server with allowHalfOpen whose handler reads and never calls end().
        $script:node = Start-Bg node @('-e', @'
const net = require('net');
const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('data', () => {});
    socket.on('end', () => { /* the peer is done; the code forgets socket.end() */ });
});
server.listen(Number(process.argv[1]), '127.0.0.1', () => console.log('ready ' + process.pid));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
'@, "$($port.node)")
        $script:backend = Start-Client hold @("$($port.backend)")
        Read-Ready $backend 'the silent backend'
        $script:haproxy = Start-Bg haproxy @('-db', '-f', "$tmp/haproxy/haproxy.cfg")
        $script:socat = Start-Bg socat @('-t', '120', "TCP-LISTEN:$($port.socat),bind=127.0.0.1,reuseaddr,fork", "TCP:127.0.0.1:$($port.backend)") -Group
        foreach ($name in 'nginx', 'gunicorn', 'redis', 'socat', 'haproxy', 'node') {
            Wait-Until { Test-Listening $port[$name] } "$name to listen on $($port[$name])"
        }

        $script:pool = Start-Client requests_pool @("$($port.nginx)", '6', '0.3')
        $script:haproxyPool = Start-Client requests_pool @("$($port.haproxy)", '4', '0.3')
        $script:nodeClient = Start-Client connect @("$($port.node)", '4', '0.2')
        # Clients that give up after 1.5 s on a server that never answers, through HAProxy.
        $script:haproxyLeave = Start-Client http_leave @("$($port.haproxySlow)", '4', '0.3', '1.5')
        $script:haproxyAbortLeave = Start-Client http_leave @("$($port.haproxyAbort)", '4', '0.3', '1.5')

        if (-not $initdb.WaitForExit(60000) -or $initdb.ExitCode -ne 0) { throw "initdb failed (exit $($initdb.ExitCode))" }
        New-Item -ItemType Directory -Force "$tmp/pgroot/sock" | Out-Null
        chown postgres:postgres "$tmp/pgroot/sock"
        $script:postgres = Start-Bg setpriv @('--reuid=postgres', '--regid=postgres', '--init-groups', "$pg/postgres", '-D', "$tmp/pgroot/data", '-p', "$($port.pg)", '-k', "$tmp/pgroot/sock", '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off')
        Wait-Until { Test-Listening $port.pg } "postgres to listen on $($port.pg)" 60
        $script:pgClients = Start-Client pg_leave @("$tmp/pgroot/sock", "$($port.pg)", '6', '0.25', '1.5')

        # Growing per service: gunicorn's and socat's children each hold one socket, leaking through
        # the whole watch (samples take what an owner walk takes on a loaded machine: count samples).
        $script:gunicornClient = Start-Client gunicorn_forks @("$($port.gunicorn)", '0', '0.3')
        $script:socatClient = Start-Client connect @("$($port.socat)", '0', '0.4')
        foreach ($c in $gunicornClient, $socatClient) { Read-Line $c 'a leaking client' | Should -Be 'leaking' }
        # The leak goes on from the watch's first sample (which sees the first socket of each) to its end.
        $go = $false
        $script:events = @(Watch-TcpCloseWait -LocalPort $port.gunicorn, $port.socat -Interval 0.5 -Count 10 | ForEach-Object {
                if (-not $go) { $go = $true; foreach ($c in $gunicornClient, $socatClient) { $c.StandardInput.WriteLine('go') } }
                $_
            })
        foreach ($c in $gunicornClient, $socatClient) { $c.StandardInput.WriteLine($(if ($go) { 'stop' } else { "go`nstop" })) }

        # Redis stays blocked for DEBUG SLEEP's 60 s from here.
        $script:redisClients = Start-Client redis_stall @("$($port.redis)", '3', '0.2')
        Read-Ready $pool 'the requests client'
        Read-Ready $haproxyPool 'the requests client of HAProxy'
        Read-Ready $nodeClient 'the Node.js client'
        Read-Ready $haproxyLeave 'the clients that leave HAProxy'
        Read-Ready $haproxyAbortLeave 'the clients that leave HAProxy with abortonclose'
        Read-Ready $redisClients 'the redis-py clients'
        $script:leaked = @{ gunicorn = Read-Ready $gunicornClient 'the gunicorn client'; socat = Read-Ready $socatClient 'the socat client' }
        Read-Ready $pgClients 'the psycopg2 clients'

        # Every expected socket in CLOSE_WAIT for over a second (the -StuckAfter below).
        $expected = @{ nginx = 6; redis = 6; gunicorn = $leaked.gunicorn; socat = $leaked.socat; pg = 6; haproxy = 4; haproxySlow = 4; node = 4 }
        $script:counts = @{}
        try {
            Wait-Until {
                $cw = @(Get-TcpCloseWait -NoOwner | Where-Object { $_.IdleTime.TotalSeconds -ge 1.2 })
                $n = @{
                    nginx = @($cw | Where-Object RemotePort -EQ $port.nginx).Count
                    redis = @($cw | Where-Object LocalPort -EQ $port.redis).Count
                    gunicorn = @($cw | Where-Object LocalPort -EQ $port.gunicorn).Count
                    socat = @($cw | Where-Object LocalPort -EQ $port.socat).Count
                    pg = @($cw | Where-Object LocalPort -EQ $port.pg).Count
                    haproxy = @($cw | Where-Object RemotePort -EQ $port.haproxy).Count
                    node = @($cw | Where-Object LocalPort -EQ $port.node).Count
                    haproxySlow = @($cw | Where-Object LocalPort -EQ $port.haproxySlow).Count
                }
                $script:counts = $n
                @($expected.Keys | Where-Object { $n[$_] -lt $expected[$_] }).Count -eq 0
            } "every scenario's sockets stuck a second" 45
        }
        catch {
            throw "$_ (expected $(($expected.Keys | ForEach-Object { "$_ $($expected[$_])" }) -join ', '); seen $(($counts.Keys | ForEach-Object { "$_ $($counts[$_])" }) -join ', '))"
        }

        $script:all = @(Test-TcpCloseWait -StuckAfter 1)
        $script:byProcess = @(Test-TcpCloseWait -StuckAfter 1 -GroupBy Process)

        function Get-Service([string] $Name) { @($script:all | Where-Object Service -EQ $Name) }
    }

    AfterAll {
        # Servers first (gracefully where that is quick), then the clients, then whatever is left.
        if ($gunicorn) { kill -TERM -- "-$($gunicorn.Id)" 2>$null }
        if ($socat) { kill -TERM -- "-$($socat.Id)" 2>$null }
        if ($postgres) { kill -INT $postgres.Id 2>$null }
        if ($nginx) { kill -TERM $nginx.Id 2>$null }
        if ($haproxy) { kill -TERM $haproxy.Id 2>$null }
        if ($node) { kill -TERM $node.Id 2>$null }
        if ($redis) { try { $redis.Kill() } catch { } }
        foreach ($p in $procs) {
            try { $p.StandardInput.Close() } catch { }
        }
        foreach ($p in $procs) {
            if (-not $p.WaitForExit(10000)) { try { $p.Kill($true) } catch { } ; [void] $p.WaitForExit(3000) }
            $p.Dispose()
        }
        if ($gunicorn) { kill -KILL -- "-$($gunicorn.Id)" 2>$null }
        if ($socat) { kill -KILL -- "-$($socat.Id)" 2>$null }
        if ($tmp -and (Test-Path $tmp)) { Remove-Item -Recurse -Force $tmp -ErrorAction SilentlyContinue }
    }

    It 'requests pool on nginx: one client service, IdlePool with the 3 s keepalive_timeout, the nginx knob, no keepalive change' {
        $d = @($all | Where-Object ProcessId -EQ $pool.Id)
        $d.Count | Should -Be 1
        $d = $d[0]
        $d.Service | Should -Be "python3 ($($pool.Id))"
        $d.Software | Should -Be 'Python'
        @($d.Cause) | Should -Be @('PeerIdleTimeout', 'IdlePool')
        $d.PeerIdleTimeout.TotalSeconds | Should -BeGreaterOrEqual 2.5
        $d.PeerIdleTimeout.TotalSeconds | Should -BeLessOrEqual 3.5
        $d.Finding | Should -Match "nginx :$($port.nginx) closes keep-alive connections idle 3 s"
        $d.Advice | Should -Match 'nginx keepalive_timeout'
        $d.Advice | Should -Match 'requests\.Session'
        $d.Advice | Should -Not -Match $KeepaliveChange
        $d.Advice | Should -Not -Match $Kill
    }

    It 'requests pool on HAProxy: IdlePool with the 2 s timeout http-keep-alive, the HAProxy knob, no keepalive change' {
        # HAProxy itself closes what its peers close at once (an event loop that reads every FIN): it
        # leaves CLOSE_WAIT on its peers, here the client pool whose idle connections it ended.
        $d = @($all | Where-Object ProcessId -EQ $haproxyPool.Id)
        $d.Count | Should -Be 1
        $d = $d[0]
        $d.Software | Should -Be 'Python'
        Write-Host "HAProxy timeout http-keep-alive 2s: PeerIdleTimeout $($d.PeerIdleTimeout.TotalSeconds) s over $($d.Count) sockets"
        @($d.Cause) | Should -Be @('PeerIdleTimeout', 'IdlePool')
        $d.PeerIdleTimeout.TotalSeconds | Should -BeGreaterOrEqual 1.5
        $d.PeerIdleTimeout.TotalSeconds | Should -BeLessOrEqual 2.5
        $d.Finding | Should -Match "haproxy :$($port.haproxy) closes keep-alive connections idle 2 s"
        $d.Advice | Should -Match 'HAProxy timeout http-keep-alive'
        $d.Advice | Should -Not -Match $KeepaliveChange
        $d.Advice | Should -Not -Match $Kill
    }

    It 'HAProxy waiting on a server that never answers: its clients left, NotRead, the 1.5 s client timeout, option abortonclose advice' {
        $d = @($all | Where-Object ProcessId -EQ $haproxy.Id)
        $d.Count | Should -Be 1
        $d = $d[0]
        $d.Service | Should -Be "haproxy :$($port.haproxySlow)"
        $d.Software | Should -Be 'HAProxy'
        Write-Host "HAProxy without abortonclose: $($d.Count) sockets, $(@($d.Cause) -join '+'), ClientTimeout $($d.ClientTimeout.TotalSeconds) s"
        $d.Count | Should -Be 4 -Because "the abortonclose frontend holds none (slow $($port.haproxySlow), abort $($port.haproxyAbort), keep-alive $($port.haproxy); $(($d.Connections | ForEach-Object { '{0}->{1} {2:0.0}/{3:0.0}/{4}' -f $_.LocalPort, $_.RemotePort, $_.IdleTime.TotalSeconds, $_.DataIdleTime.TotalSeconds, $_.ReceiveQueue }) -join ' '))"
        @($d.Cause) | Should -Be @('NotRead')
        $d.PeerIdleTimeout | Should -BeNullOrEmpty
        $d.ClientTimeout.TotalSeconds | Should -BeGreaterOrEqual 1.0
        $d.ClientTimeout.TotalSeconds | Should -BeLessOrEqual 2.0
        $d.Advice | Should -Match 'option abortonclose'
        $d.Advice | Should -Match 'timeout server'
        $d.Advice | Should -Not -Match '(?i)more workers'
        $d.Advice | Should -Not -Match $KeepaliveChange
        $d.Advice | Should -Not -Match $Kill
        # Following it: the same clients through the backend with option abortonclose leave nothing.
        @(Get-TcpCloseWait -NoOwner -LocalPort $port.haproxyAbort).Count | Should -Be 0
    }

    It 'Node.js net.Server with allowHalfOpen and no end(): NotClosed, one service, the allowHalfOpen/socket.end() advice' {
        $d = @(Get-Service "node :$($port.node)")
        $d.Count | Should -Be 1
        $d = $d[0]
        $d.ProcessId | Should -Be $node.Id
        $d.Software | Should -Be 'Node.js'
        Write-Host "Node.js allowHalfOpen: $($d.Count) sockets, $(@($d.Cause) -join '+'), longest $([int]$d.LongestStuckTime.TotalMilliseconds) ms"
        $d.Count | Should -Be 4
        @($d.Cause) | Should -Be @('NotClosed')
        $d.PeerIdleTimeout | Should -BeNullOrEmpty -Because 'each client sent its line and closed at once'
        $d.Advice | Should -Match 'allowHalfOpen'
        $d.Advice | Should -Match 'socket\.end\(\)'
        $d.Advice | Should -Not -Match $KeepaliveChange
        $d.Advice | Should -Not -Match $Kill
    }

    It 'Redis blocked by a slow command: one finding for unread and unaccepted, a 1 s client timeout, Redis advice' {
        $d = @(Get-Service "redis-server :$($port.redis)")
        $d.Count | Should -Be 1
        $d = $d[0]
        $d.ProcessId | Should -Be $redis.Id
        $d.Software | Should -Be 'Redis'
        @($d.Cause) | Should -Be @('NotRead', 'AcceptBacklog')
        $d.PeerIdleTimeout | Should -BeNullOrEmpty
        $d.ClientTimeout.TotalSeconds | Should -BeGreaterOrEqual 0.5
        $d.ClientTimeout.TotalSeconds | Should -BeLessOrEqual 1.5
        $d.Finding | Should -Match 'stopped serving'
        $d.Finding | Should -Match 'clients gave up after about 1 s'
        $d.Advice | Should -Match 'SLOWLOG GET'
        $d.Advice | Should -Not -Match '(?i)more workers'
        $d.Advice | Should -Not -Match $KeepaliveChange
        $d.Advice | Should -Not -Match $Kill
    }

    It 'PostgreSQL backends whose clients left: one service, NotRead, the 1.5 s client timeout, PostgreSQL advice, no kill' {
        $d = @(Get-Service "postgres :$($port.pg)")
        $d.Count | Should -Be 1
        $d = $d[0]
        $d.ProcessId | Should -Be $postgres.Id
        $d.Program | Should -Be 'postgres'
        $d.Software | Should -Be 'PostgreSQL'
        @($d.ProcessIds).Count | Should -Be 6
        $d.ProcessIds | Should -Not -Contain $postgres.Id
        @($d.Cause) | Should -Be @('NotRead')
        $d.ClientTimeout.TotalSeconds | Should -BeGreaterOrEqual 1.0 -Because "$($d.Finding) $(($d.Connections | ForEach-Object { '{0:0.00}/{1:0.00}/{2}' -f $_.IdleTime.TotalSeconds, $_.DataIdleTime.TotalSeconds, $_.ReceiveQueue }) -join ' ')"
        $d.ClientTimeout.TotalSeconds | Should -BeLessOrEqual 2.0
        $d.Advice | Should -Match "client_connection_check_interval"
        $d.Advice | Should -Match 'pg_terminate_backend'
        $d.Advice | Should -Match 'not the work behind them'
        $d.Advice | Should -Not -Match $KeepaliveChange
        $d.Advice | Should -Not -Match $Kill

        # -GroupBy Process: one per backend, each naming its service.
        $each = @($byProcess | Where-Object Service -EQ "postgres :$($port.pg)")
        $each.Count | Should -Be 6
    }

    It 'gunicorn children forked from a worker: Inherited, one service under the master, multiprocessing advice' {
        $d = @(Get-Service "gunicorn :$($port.gunicorn)")
        $d.Count | Should -Be 1
        $d = $d[0]
        $d.ProcessId | Should -Be $gunicorn.Id
        $d.Software | Should -Be 'gunicorn'
        @($d.ProcessIds).Count | Should -Be $leaked.gunicorn
        @($d.Cause) | Should -Be @('Inherited')
        $d.Advice | Should -Match "set_start_method\('spawn'\)"
        $d.Advice | Should -Not -Match 'close-on-exec'
        $d.Advice | Should -Not -Match $KeepaliveChange
        $d.Advice | Should -Not -Match $Kill
    }

    It 'socat with a long -t: NotClosed in its children, one service, the -t advice' {
        $d = @(Get-Service "socat :$($port.socat)")
        $d.Count | Should -Be 1
        $d = $d[0]
        $d.ProcessId | Should -Be $socat.Id
        $d.Software | Should -Be 'socat'
        @($d.ProcessIds).Count | Should -Be $leaked.socat
        @($d.Cause) | Should -Be @('NotClosed')
        $d.Advice | Should -Match 'socat -t'
        $d.Advice | Should -Not -Match $KeepaliveChange
        $d.Advice | Should -Not -Match $Kill
        $d.Peers.Count | Should -Be 1 -Because 'inbound sockets group by client address, not by each ephemeral port'
    }

    It 'Watch-TcpCloseWait reports Growing per service for gunicorn and socat, whose children each hold one socket' {
        $growing = @($events | Where-Object Event -EQ Growing)
        foreach ($server in $gunicorn, $socat) {
            $g = @($growing | Where-Object ProcessId -EQ $server.Id)
            $g.Count | Should -BeGreaterOrEqual 1 -Because "the service of PID $($server.Id) leaks one socket per child (events: $(($events | Where-Object Event -EQ Growing | ForEach-Object { "$($_.Service) $($_.Count)" }) -join '; '); entered $(@($events | Where-Object Event -EQ Entered).Count))"
            $g[-1].Service | Should -Be "$((Get-Process -Id $server.Id).ProcessName) :$(@(Get-TcpConnection -State Listen -ProcessId $server.Id)[0].LocalPort)"
            # Each child holds one socket: only the service can grow. (ProcessIds lists the holders the
            # budgeted owner walks have found so far; the others count with their port's service.)
            $g[-1].Count | Should -BeGreaterOrEqual 3
            @($g[-1].ProcessIds).Count | Should -BeGreaterOrEqual 1
            $g[-1].ProcessIds | Should -Not -Contain $server.Id
            $g[-1].RatePerMinute | Should -BeGreaterThan 0
        }
    }

    It 'following the PostgreSQL advice: pg_terminate_backend frees the backends, the server lives on' {
        function Invoke-Psql([string] $Sql) { psql -h 127.0.0.1 -p $port.pg -U postgres -d postgres -Atc $Sql }
        # A crash (a SIGKILLed backend) would make the postmaster restart its auxiliary processes.
        $checkpointer = Invoke-Psql "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'"
        [int] (Invoke-Psql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'") | Should -Be 6
        Wait-Until { @(Get-TcpCloseWait -NoOwner -LocalPort $port.pg).Count -eq 0 } 'the backends to end' 15
        $postgres.HasExited | Should -BeFalse
        Invoke-Psql "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'" | Should -Be $checkpointer
    }

    It 'following the PostgreSQL advice: client_connection_check_interval ends backends whose clients left, nothing else' {
        function Invoke-Psql([string] $Sql) { psql -h 127.0.0.1 -p $port.pg -U postgres -d postgres -Atc $Sql }
        $checkpointer = Invoke-Psql "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'"
        # Another session whose client stays, running a query all along.
        $stayer = Start-Bg psql @('-h', '127.0.0.1', '-p', "$($port.pg)", '-U', 'postgres', '-d', 'postgres', '-Atc', 'SELECT pg_sleep(50)')
        Wait-Until { [int] (Invoke-Psql "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(50)'") -eq 1 } 'the staying session' 10
        $stayerBackend = Invoke-Psql "SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(50)'"
        # Two clients leave before the setting: their queries started without it.
        $early = Start-Client pg_leave @("$tmp/pgroot/sock", "$($port.pg)", '2', '0.1', '0.3')
        Read-Ready $early 'the psycopg2 clients that leave first'
        $earlyBackends = @(Invoke-Psql "SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(120)'")
        $earlyBackends.Count | Should -Be 2
        $inList = $earlyBackends -join ','
        # The advice, on the test's own server.
        Invoke-Psql "ALTER SYSTEM SET client_connection_check_interval = '1s'" | Out-Null
        Invoke-Psql 'SELECT pg_reload_conf()' | Should -Be 't'
        Wait-Until { (Invoke-Psql 'SHOW client_connection_check_interval') -eq '1s' } 'the reloaded setting' 10
        $left = Start-Client pg_leave @("$tmp/pgroot/sock", "$($port.pg)", '4', '0.1', '0.5')
        Read-Ready $left 'the psycopg2 clients that leave'
        $watch = [Diagnostics.Stopwatch]::StartNew()
        Wait-Until {
            @(Get-TcpCloseWait -NoOwner -LocalPort $port.pg).Count -eq 2 -and
            [int] (Invoke-Psql "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(120)' AND pid NOT IN ($inList)") -eq 0
        } 'the backends whose clients left to end' 10
        $watch.Stop()
        Write-Host "client_connection_check_interval 1s: the 4 backends ended $([int]$watch.Elapsed.TotalMilliseconds) ms after their clients had all left"
        # Queries that were running before the reload do not check (as the advice says): those need pg_terminate_backend.
        # (Watched for 1.5 intervals more: a check would have ended them by then.)
        $until = [DateTime]::UtcNow.AddSeconds(1.5)
        while ([DateTime]::UtcNow -lt $until) {
            @(Invoke-Psql "SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(120)'") | Should -Be $earlyBackends
            Start-Sleep -Milliseconds 250
        }
        [int] (Invoke-Psql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid IN ($inList)") | Should -Be 2
        Wait-Until { @(Get-TcpCloseWait -NoOwner -LocalPort $port.pg).Count -eq 0 } 'the early backends to end' 10
        $postgres.HasExited | Should -BeFalse
        Invoke-Psql "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'" | Should -Be $checkpointer
        Invoke-Psql "SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(50)'" | Should -Be $stayerBackend
        $stayer.HasExited | Should -BeFalse
        Invoke-Psql "SELECT pg_cancel_backend($stayerBackend)" | Should -Be 't'
        $stayer.WaitForExit(10000) | Should -BeTrue
    }

    It 'following the nginx advice: keepalive_timeout above the client''s gaps leaves no CLOSE_WAIT' {
        (Get-Content "$tmp/nginx/nginx.conf" -Raw) -replace 'keepalive_timeout 3s', 'keepalive_timeout 60s' | Set-Content "$tmp/nginx/nginx.conf"
        function Get-Workers { @((Get-Content "/proc/$($nginx.Id)/task/$($nginx.Id)/children" -Raw).Trim() -split ' ') }
        $old = Get-Workers
        kill -HUP $nginx.Id   # nginx -s reload: graceful
        Wait-Until { @(Get-Workers | Where-Object { $_ -notin $old }).Count -gt 0 } 'new nginx workers' 15
        $again = Start-Client requests_pool @("$($port.nginx)", '3', '0.1')
        Read-Ready $again 'the second requests client'
        # The old pool's sockets are in CLOSE_WAIT: the new client's are the established ones.
        $mine = @(Get-TcpConnection -NoOwner -State Established -RemotePort $port.nginx).LocalPort
        $mine.Count | Should -Be 3
        # Longer than the old 3 s timeout: with the old setting every socket would be in CLOSE_WAIT by now.
        $until = [DateTime]::UtcNow.AddSeconds(4)
        while ([DateTime]::UtcNow -lt $until) {
            @(Get-TcpCloseWait -NoOwner -RemotePort $port.nginx | Where-Object LocalPort -In $mine).Count | Should -Be 0
            Start-Sleep -Milliseconds 250
        }
        @(Get-TcpConnection -NoOwner -State Established -RemotePort $port.nginx | Where-Object LocalPort -In $mine).Count | Should -Be 3
    }
}
