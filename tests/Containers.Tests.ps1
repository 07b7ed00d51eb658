#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Containers and pods with REAL containers: a private dockerd (no bridge, no iptables, no
# ip_forward, its own socket, data and exec roots under a temp dir; the containerd it spawns),
# an image built here from busybox-static, and containers with no network holding CLOSE_WAIT
# sockets: A alone, B and C sharing one namespace (docker's --network container:, as a pod), and
# D started through containerd's ctr with a Kubernetes cgroup path inside A's namespace (as a pod's
# second container). Everything is stopped by PID and removed in AfterAll, whatever happens.
# Needs Linux, root, dockerd, ctr and busybox (CI installs docker.io, containerd, busybox-static).

BeforeDiscovery {
    function Get-SkipReason {
        if (-not $IsLinux) { return 'containers are a Linux feature' }
        if ((id -u) -ne '0') { return 'a private dockerd needs root' }
        foreach ($tool in 'dockerd', 'docker', 'ctr', 'busybox', 'tar') {
            if (-not (Get-Command $tool -CommandType Application -ErrorAction Ignore)) { return "$tool is not installed (apt-get install docker.io containerd busybox-static)" }
        }
    }
    $script:skipReason = Get-SkipReason
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../out/CloseWait/CloseWait.psd1') -Force
    # Discovery's variables do not reach the run: decide again.
    $script:skipReason = if (-not $IsLinux) { 'Linux only' } elseif ((id -u) -ne '0') { 'root only' } else {
        @('dockerd', 'docker', 'ctr', 'busybox', 'tar') | Where-Object { -not (Get-Command $_ -CommandType Application -ErrorAction Ignore) } | Select-Object -First 1
    }
    if ($skipReason) { return }

    $script:tmp = Join-Path '/tmp' ('cwct' + [guid]::NewGuid().ToString('N').Substring(0, 8))
    $script:sock = "$tmp/docker.sock"
    $script:started = [System.Collections.Generic.List[int]]::new()
    $script:createdCgroups = [System.Collections.Generic.List[string]]::new()
    New-Item -ItemType Directory -Path "$tmp/data", "$tmp/exec", "$tmp/rootfs/bin", "$tmp/pods" -Force | Out-Null

    function Wait-Until {
        param([scriptblock] $Condition, [int] $TimeoutSeconds = 20, [string] $What)
        $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
        while ([DateTime]::UtcNow -lt $deadline) {
            $value = & $Condition
            if ($value) { return $value }
            Start-Sleep -Milliseconds 100
        }
        throw "Timed out after $TimeoutSeconds s waiting for $What"
    }

    function Invoke-Docker {
        $out = & docker -H "unix://$sock" @args 2>&1
        if ($LASTEXITCODE -ne 0) { throw "docker $($args -join ' ') failed: $out" }
        $out
    }

    function Start-PrivateDockerd([string] $Driver) {
        $log = "$tmp/dockerd-$Driver.log"
        $arguments = @('--bridge=none', '--iptables=false', '--ip-forward=false', '--ip-masq=false',
            '--storage-driver', $Driver, '-H', "unix://$sock", '--data-root', "$tmp/data", '--exec-root', "$tmp/exec",
            '--pidfile', "$tmp/docker.pid")
        $p = Start-Process -FilePath (Get-Command dockerd -CommandType Application | Select-Object -First 1).Source -ArgumentList $arguments -RedirectStandardOutput "$log.out" -RedirectStandardError $log -PassThru
        $script:started.Add($p.Id)
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ([DateTime]::UtcNow -lt $deadline -and -not $p.HasExited) {
            & docker -H "unix://$sock" version *> $null
            if ($LASTEXITCODE -eq 0) { return $p }
            Start-Sleep -Milliseconds 100
        }
        if (-not $p.HasExited) { Stop-Process -Id $p.Id -Force -ErrorAction Ignore; $p.WaitForExit(10000) | Out-Null }
        return $null
    }

    # overlay2 where this kernel and filesystem allow it, else vfs.
    $script:dockerd = Start-PrivateDockerd 'overlay2'
    if (-not $dockerd) { $script:dockerd = Start-PrivateDockerd 'vfs' }
    if (-not $dockerd) { throw "dockerd did not start: $(Get-Content "$tmp/dockerd-vfs.log" -Tail 5 -ErrorAction Ignore)" }

    # The image: busybox-static and its applets, nothing else.
    Copy-Item (Get-Command busybox -CommandType Application | Select-Object -First 1).Source "$tmp/rootfs/bin/busybox"
    foreach ($applet in 'sh', 'nc', 'sleep', 'cat') { & ln -s busybox "$tmp/rootfs/bin/$applet" }
    & tar -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" .
    $script:image = 'cwtest/busybox:' + (Split-Path $tmp -Leaf)
    Invoke-Docker import "$tmp/rootfs.tar" $image | Out-Null

    # A server that hands each accepted socket to `sleep` (which never reads or closes it), and a
    # client that sends a line and leaves: the accepted end sits in CLOSE_WAIT inside the container.
    function Get-HolderScript([int] $Port) {
        "nc -l -p $Port -e sleep 600 & sleep 0.3; echo hi | nc -w 1 127.0.0.1 $Port; exec sleep 600"
    }

    function Start-Container([string] $Name, [int] $Port, [string] $Network = 'none') {
        $id = (Invoke-Docker run -d --network $Network --name $Name $image sh -c (Get-HolderScript $Port) | Select-Object -Last 1).Trim()
        $pid_ = [int](Invoke-Docker inspect -f '{{.State.Pid}}' $id)
        $script:started.Add($pid_)
        [pscustomobject]@{ Name = $Name; Id = $id; Pid = $pid_; Port = $Port; Namespace = [uint64]((readlink "/proc/$pid_/ns/net") -replace '\D', '') }
    }

    $suffix = Split-Path $tmp -Leaf
    $script:A = Start-Container "cwA-$suffix" 5000
    $script:B = Start-Container "cwB-$suffix" 5000
    $script:C = Start-Container "cwC-$suffix" 5001 "container:$($B.Id)"

    # D: containerd's ctr (docker's containerd, its own ctr namespace) with a Kubernetes cgroup path,
    # joining A's network namespace as a pod's container joins the pod sandbox's.
    $script:ctrSock = "$tmp/exec/containerd/containerd.sock"
    $script:podUid = [guid]::NewGuid().ToString()
    $dId = -join ((1..64) | ForEach-Object { '{0:x}' -f (Get-Random -Maximum 16) })
    foreach ($controller in Get-ChildItem /sys/fs/cgroup -Directory -ErrorAction Ignore) {
        if (-not (Test-Path (Join-Path $controller.FullName 'kubepods'))) { $script:createdCgroups.Add((Join-Path $controller.FullName 'kubepods')) }
    }
    if (-not (Test-Path /sys/fs/cgroup/kubepods)) { $script:createdCgroups.Add('/sys/fs/cgroup/kubepods') }
    & cp -a "$tmp/rootfs" "$tmp/ctrroot"
    $cgroup = "/kubepods/besteffort/pod$podUid/cri-containerd-$dId.scope"
    $out = & ctr -a $ctrSock -n cwtest run -d --rootfs --cgroup $cgroup --with-ns "network:/proc/$($A.Pid)/ns/net" "$tmp/ctrroot" "cwd-$suffix" /bin/sh -c (Get-HolderScript 5002) 2>&1
    if ($LASTEXITCODE -ne 0) { throw "ctr run failed: $out" }
    $dPid = Wait-Until -What 'the ctr container' -TimeoutSeconds 10 {
        $line = & ctr -a $ctrSock -n cwtest task ls 2>$null | Select-String "cwd-$suffix"
        if ($line) { [int](($line.Line -split '\s+')[1]) }
    }
    $script:started.Add($dPid)
    $script:D = [pscustomobject]@{ Name = "cwd-$suffix"; Id = $dId; Pid = $dPid; Port = 5002; Namespace = $A.Namespace }

    # The kubelet's log folder names the pod: point the module at a copy made here.
    New-Item -ItemType Directory -Path "$tmp/pods/cwtest_web-0_$podUid" | Out-Null
    $containers = [CloseWait.TcpConnection].Assembly.GetType('CloseWait.Platform.Linux.LinuxContainers')
    $script:podProperty = $containers.GetProperty('PodLogDirectory', [System.Reflection.BindingFlags]'NonPublic,Static')
    $script:podDirectoryBefore = $podProperty.GetValue($null)
    $podProperty.SetValue($null, "$tmp/pods")

    # Each container's CLOSE_WAIT, seen from inside its namespace.
    foreach ($each in $A, $B, $C, $D) {
        Wait-Until -What "CLOSE_WAIT in $($each.Name)" {
            Get-TcpConnection -NetworkNamespace $each.Pid -State CloseWait -LocalPort $each.Port -NoOwner
        } | Out-Null
    }
    $script:hostKeepAlive = Get-TcpKeepAliveSetting
}

AfterAll {
    if ($skipReason -or -not $tmp) { return }
    if ($podProperty) { $podProperty.SetValue($null, $podDirectoryBefore) }
    if ($ctrSock -and (Test-Path $ctrSock)) {
        & ctr -a $ctrSock -n cwtest task kill -s KILL "cwd-$(Split-Path $tmp -Leaf)" *> $null
        Start-Sleep -Milliseconds 200
        & ctr -a $ctrSock -n cwtest task rm -f "cwd-$(Split-Path $tmp -Leaf)" *> $null
        & ctr -a $ctrSock -n cwtest container rm "cwd-$(Split-Path $tmp -Leaf)" *> $null
    }
    if ($dockerd -and -not $dockerd.HasExited) {
        & docker -H "unix://$sock" rm -f (& docker -H "unix://$sock" ps -aq 2>$null) *> $null
    }
    # Everything started here, by PID: container processes, then dockerd (which stops its containerd).
    $shims = Get-Process -ErrorAction Ignore | Where-Object { try { (Get-Content "/proc/$($_.Id)/cmdline" -Raw -ErrorAction Stop) -like "*$tmp*" } catch { $false } }
    foreach ($id in @($started) + @($shims.Id)) {
        if ($id -and (Test-Path "/proc/$id")) { Stop-Process -Id $id -Force -ErrorAction Ignore }
    }
    $deadline = [DateTime]::UtcNow.AddSeconds(15)
    while ([DateTime]::UtcNow -lt $deadline -and (@($started) + @($shims.Id) | Where-Object { $_ -and (Test-Path "/proc/$_") })) { Start-Sleep -Milliseconds 100 }
    # Mounts the daemon left behind (overlay, shm, netns), deepest first; then the directories.
    $mounts = Get-Content /proc/mounts | ForEach-Object { ($_ -split ' ')[1] } | Where-Object { $_ -like "$tmp*" } | Sort-Object Length -Descending
    foreach ($m in $mounts) { & umount -l $m 2>$null }
    foreach ($controller in Get-ChildItem /sys/fs/cgroup -Directory -ErrorAction Ignore) {
        foreach ($dir in Get-ChildItem (Join-Path $controller.FullName "kubepods/besteffort/pod$podUid") -Directory -ErrorAction Ignore) { & rmdir $dir.FullName 2>$null }
        & rmdir (Join-Path $controller.FullName "kubepods/besteffort/pod$podUid") 2>$null
    }
    foreach ($top in $createdCgroups) {
        & rmdir (Join-Path $top 'besteffort') 2>$null
        & rmdir $top 2>$null
    }
    Remove-Item -Recurse -Force $tmp -ErrorAction Ignore
}

Describe 'Containers and pods' -Skip:([bool]$skipReason) {
    It 'the host listing without -AllNetworkNamespaces misses every container socket' {
        $hostInode = [uint64]((readlink /proc/self/ns/net) -replace '\D', '')
        $listed = @(Get-TcpCloseWait)
        $listed | Where-Object ContainerId -in $A.Id, $B.Id, $C.Id, $D.Id | Should -BeNullOrEmpty
        $listed | Where-Object NetworkNamespaceId -ne $hostInode | Should -BeNullOrEmpty
    }

    It '-AllNetworkNamespaces finds each container''s CLOSE_WAIT with its container id, runtime and namespace' {
        $all = @(Get-TcpCloseWait -AllNetworkNamespaces -LocalPort 5000, 5001, 5002)
        foreach ($each in $A, $B, $C) {
            $found = @($all | Where-Object { $_.ContainerId -eq $each.Id -and $_.LocalPort -eq $each.Port })
            $found.Count | Should -Be 1 -Because "$($each.Name) holds one CLOSE_WAIT socket"
            $found[0].ContainerRuntime | Should -Be 'docker'
            $found[0].ContainerName | Should -Be $each.Name
            $found[0].NetworkNamespaceId | Should -Be $each.Namespace
            $found[0].NetworkNamespace | Should -Not -BeNullOrEmpty
            $found[0].Program | Should -Be 'sleep'
            $found[0].PodUid | Should -BeNullOrEmpty
        }
        ($all | Group-Object ContainerId | Where-Object Name -in $A.Id, $B.Id, $C.Id, $D.Id).Count | Should -Be 4
    }

    It 'names the Kubernetes-style container from its cgroup path and the pod from the kubelet''s log folder' {
        $found = @(Get-TcpCloseWait -AllNetworkNamespaces -LocalPort $D.Port | Where-Object ContainerId -eq $D.Id)
        $found.Count | Should -Be 1
        $found[0].ContainerRuntime | Should -Be 'containerd'
        $found[0].PodUid | Should -Be $podUid
        $found[0].PodNamespace | Should -Be 'cwtest'
        $found[0].PodName | Should -Be 'web-0'
        $found[0].NetworkNamespaceId | Should -Be $A.Namespace
    }

    It 'two containers sharing one namespace (a pod) show the same namespace and their own container ids' {
        $B.Namespace | Should -Be $C.Namespace
        $A.Namespace | Should -Not -Be $B.Namespace
        $pair = @(Get-TcpCloseWait -AllNetworkNamespaces -LocalPort 5000, 5001, 5002 | Where-Object NetworkNamespaceId -eq $B.Namespace)
        ($pair.ContainerId | Sort-Object -Unique) | Should -Be (@($B.Id, $C.Id) | Sort-Object)
    }

    It '-NetworkNamespace takes a container name or a unique id prefix' {
        $byName = @(Get-TcpCloseWait -NetworkNamespace $B.Name)
        $byName.LocalPort | Sort-Object | Should -Be @(5000, 5001)
        $byPrefix = @(Get-TcpCloseWait -NetworkNamespace $A.Id.Substring(0, 12))
        $byPrefix.LocalPort | Sort-Object | Should -Be @(5000, 5002)
        { Get-TcpConnection -NetworkNamespace "no-such-container-$(Split-Path $tmp -Leaf)" } | Should -Throw -ErrorId 'NetworkNamespaceNotFound,CloseWait.Commands.GetTcpConnectionCommand'
    }

    It 'Get-TcpConnectionSummary -AllNetworkNamespaces counts the containers'' sockets too' {
        $summary = Get-TcpConnectionSummary -AllNetworkNamespaces
        $summary.NetworkNamespaceCount | Should -BeGreaterOrEqual 3
        foreach ($each in $A, $B, $C, $D) {
            @($summary.ByProcess | Where-Object ProcessId -eq (Get-TcpCloseWait -NetworkNamespace $each.Pid -LocalPort $each.Port).ProcessId).CloseWait | Should -Be 1 -Because "$($each.Name)'s holder is counted"
        }
    }

    It 'the tables name the container: the default view (wide) and -View Container at 80 columns' {
        $mine = Get-TcpCloseWait -AllNetworkNamespaces -LocalPort 5000, 5002 | Where-Object ContainerId -in $A.Id, $D.Id
        $wide = $mine | Out-String -Width 160
        $wide | Should -Match ([regex]::Escape("$($A.Name):sleep"))
        $wide | Should -Match 'web-0:sleep'
        $narrow = $mine | Format-Table -View Container | Out-String -Width 80
        $narrow | Should -Match ([regex]::Escape($A.Name))
        $narrow | Should -Match 'cwtest/web-0'
        ($narrow -split "`n" | Where-Object { $_.TrimEnd().Length -gt 80 }) | Should -BeNullOrEmpty
    }

    It 'closes one container''s socket from the host and leaves the others' {
        $target = Get-TcpCloseWait -AllNetworkNamespaces -LocalPort 5000 | Where-Object ContainerId -eq $A.Id
        $result = $target | Close-TcpConnection -Force -PassThru
        $result.Status | Should -Be 'Closed'
        Wait-Until -What 'the socket to leave A' { -not (Get-TcpCloseWait -NetworkNamespace $A.Pid -LocalPort 5000) } | Out-Null
        $left = @(Get-TcpCloseWait -AllNetworkNamespaces -LocalPort 5000, 5001, 5002)
        foreach ($each in $B, $C, $D) {
            @($left | Where-Object { $_.ContainerId -eq $each.Id -and $_.LocalPort -eq $each.Port }).Count | Should -Be 1 -Because "$($each.Name) was not the target"
        }
    }

    It 'keepalive set for one container changes only that namespace' {
        Set-TcpKeepAliveSetting -NetworkNamespace $B.Name -Time 300 -Confirm:$false
        (Get-TcpKeepAliveSetting -NetworkNamespace $B.Name).Time | Should -Be ([timespan]::FromSeconds(300))
        (Get-TcpKeepAliveSetting -NetworkNamespace $C.Id).Time | Should -Be ([timespan]::FromSeconds(300)) -Because 'C shares B''s namespace'
        (Get-TcpKeepAliveSetting -NetworkNamespace $A.Name).Time | Should -Be ([timespan]::FromSeconds(7200))
        (Get-TcpKeepAliveSetting).Time | Should -Be $hostKeepAlive.Time

        $tests = @(Test-TcpKeepAliveSetting -AllNetworkNamespaces -IdleTimeout 350)
        $inB = @($tests | Where-Object NetworkNamespaceId -eq $B.Namespace)
        $inA = @($tests | Where-Object NetworkNamespaceId -eq $A.Namespace)
        $inB.Count | Should -Be 1
        $inA.Count | Should -Be 1
        $inB[0].Containers | Sort-Object | Should -Be (@($B.Name, $C.Name) | Sort-Object)
        $inB[0].UsesKernelDefaults | Should -BeFalse
        $inA[0].UsesKernelDefaults | Should -BeTrue
        $inA[0].Containers | Should -Contain $A.Name
        $inA[0].Containers | Should -Contain $D.Id
        $inA[0].RecommendedCommand | Should -Match ([regex]::Escape("-NetworkNamespace $($inA[0].NetworkNamespace)"))
    }
}
