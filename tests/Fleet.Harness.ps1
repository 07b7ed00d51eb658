<#
    A fleet on one machine for PowerShell remoting over SSH: each host is a private network
    namespace (and UTS namespace, for its own host name) with its own sshd whose `powershell`
    subsystem runs the pinned pwsh with the built module on its module path, and a process holding
    a known number of CLOSE_WAIT sockets. The caller (this pwsh, in the machine's own namespace)
    reaches each host over a veth pair on a private /30; nothing else on the machine changes (no
    bridge, no forwarding, no firewall rules), and all traffic stays on those pairs.

    . ./tests/Fleet.Harness.ps1
    $fleet = Start-TestFleet -Count 2, 5, 9 -ModulePath ./out
    ...
    Stop-TestFleet $fleet           # kills by PID, deletes the veths and namespaces, whatever was made

    Linux, root, iproute2, openssh-server (sshd, ssh-keygen, ssh) and python3 (the socket holders).
#>

function Get-TestFleetPrerequisite {
    # The reason the fleet cannot start here, or $null.
    if (-not $IsLinux) { return 'the fleet harness needs Linux network namespaces' }
    if ((id -u) -ne '0') { return 'the fleet harness needs root (ip netns, sshd)' }
    foreach ($tool in '/usr/sbin/sshd', '/usr/bin/ssh', '/usr/bin/ssh-keygen', '/usr/bin/python3') {
        if (-not (Test-Path $tool)) { return "$tool is missing (Debian: openssh-server, openssh-client, python3)" }
    }
    if (-not (Get-Command ip -ErrorAction SilentlyContinue)) { return 'ip (iproute2) is missing' }
    return $null
}

function Invoke-FleetTool {
    # Runs a tool, bounded by `timeout`, and throws with its output when it fails.
    param([Parameter(Mandatory)] [string] $Name, [string[]] $Arguments = @(), [int] $TimeoutSeconds = 20)
    $out = & timeout $TimeoutSeconds $Name @Arguments 2>&1
    if ($LASTEXITCODE) { throw "$Name $($Arguments -join ' ') failed ($LASTEXITCODE): $($out -join ' ')" }
    $out
}

function Wait-FleetCondition {
    # Polls a condition until it holds or the deadline passes.
    param([Parameter(Mandatory)] [scriptblock] $Condition, [Parameter(Mandatory)] [string] $What, [double] $TimeoutSeconds = 30)
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while (-not (& $Condition)) {
        if ([DateTime]::UtcNow -gt $deadline) { throw "Timed out after $TimeoutSeconds s waiting for $What." }
        Start-Sleep -Milliseconds 50
    }
}

function Test-FleetPort {
    param([string] $Address, [int] $Port)
    $client = [System.Net.Sockets.TcpClient]::new()
    try { $client.ConnectAsync($Address, $Port).Wait(500) -and $client.Connected } catch { $false } finally { $client.Dispose() }
}

# Holds CLOSE_WAIT sockets: one over ::1, the rest over 127.0.0.1 (the peers close, this process never
# does), writes "port4 port6" when they are in place, and exits by itself after an hour at most.
$script:FleetHolderSource = @'
import socket, sys, time
n = int(sys.argv[1])
keep = []
def hold(family, address, count):
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.bind((address, 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    keep.append(listener)
    for _ in range(count):
        client = socket.create_connection((address, port))
        server, _ = listener.accept()
        keep.append(server)
        client.close()
    return port
port6 = hold(socket.AF_INET6, '::1', 1 if n > 0 else 0)
port4 = hold(socket.AF_INET, '127.0.0.1', max(n - 1, 0))
print(port4, port6, flush=True)
time.sleep(3600)
'@

function Start-FleetHolder {
    # A process inside the namespace holding $Count CLOSE_WAIT sockets; waits until they are in place.
    param([Parameter(Mandatory)] $Fleet, [Parameter(Mandatory)] $FleetHost, [int] $Count, [string] $Tag = 'holder')
    $out = Join-Path $FleetHost.Directory "$Tag.out"
    $p = Start-Process -FilePath ip -ArgumentList @('netns', 'exec', $FleetHost.Namespace, '/usr/bin/python3', (Join-Path $Fleet.Root 'holder.py'), $Count) `
        -RedirectStandardOutput $out -RedirectStandardError (Join-Path $FleetHost.Directory "$Tag.err") -PassThru
    $Fleet.Pids.Add($p.Id)
    Wait-FleetCondition -What "the CLOSE_WAIT holder in $($FleetHost.Namespace)" -TimeoutSeconds 30 -Condition {
        if ($p.HasExited) { throw "The holder in $($FleetHost.Namespace) exited: $(Get-Content -Raw (Join-Path $FleetHost.Directory "$Tag.err"))" }
        (Test-Path $out) -and (Get-Content -Raw $out) -match '^\d+ \d+'
    }
    $ports = (Get-Content -Raw $out).Trim() -split ' '
    [pscustomobject]@{ Pid = $p.Id; Count = $Count; Port4 = [int]$ports[0]; Port6 = [int]$ports[1] }
}

function Start-TestFleet {
    <#
        Builds the fleet; on any failure it tears down what it made and throws. The returned object
        lists every PID, veth and namespace, so Stop-TestFleet removes exactly those.
    #>
    param(
        [int[]] $Count = @(2, 5, 9),
        [Parameter(Mandatory)] [string] $ModulePath,
        [double] $TimeoutSeconds = 30
    )
    $id = '{0}{1}' -f $PID, (Get-Random -Maximum 100)
    $root = Join-Path ([System.IO.Path]::GetTempPath()) "cwfleet-$id"
    $fleet = [pscustomobject]@{
        Root       = $root
        Hosts      = [System.Collections.Generic.List[object]]::new()
        Pids       = [System.Collections.Generic.List[int]]::new()
        Namespaces = [System.Collections.Generic.List[string]]::new()
        Veths      = [System.Collections.Generic.List[string]]::new()
        KeyFile    = Join-Path $root 'id_ed25519'
        KnownHosts = Join-Path $root 'known_hosts'
    }
    try {
        $null = New-Item -ItemType Directory -Force $root
        $null = New-Item -ItemType Directory -Force '/run/sshd'   # sshd's privilege separation directory
        Set-Content -Path (Join-Path $root 'holder.py') -Value $script:FleetHolderSource
        Invoke-FleetTool ssh-keygen @('-q', '-t', 'ed25519', '-N', '', '-C', 'closewait-fleet', '-f', $fleet.KeyFile) | Out-Null

        # The remote side's pwsh: the tool shim would start `dotnet` from a PATH that sshd's subsystem
        # may lack, so run $PSHOME/pwsh with DOTNET_ROOT, and put the built module on its module path
        # (as an install on a system-wide module path would).
        $dotnetRoot = if ($env:DOTNET_ROOT) { $env:DOTNET_ROOT } else {
            Split-Path (Split-Path (Split-Path ([System.Runtime.InteropServices.RuntimeEnvironment]::GetRuntimeDirectory().TrimEnd('/')))) }
        $wrapper = Join-Path $root 'pwsh-sshs'
        Set-Content -Path $wrapper -Value @(
            '#!/bin/sh'
            "export DOTNET_ROOT='$dotnetRoot'"
            "export PSModulePath='$((Resolve-Path $ModulePath).Path)'"
            "exec '$(Join-Path $PSHOME 'pwsh')' `"`$@`""
        )
        Invoke-FleetTool chmod @('0755', $wrapper) | Out-Null
        Copy-Item "$($fleet.KeyFile).pub" (Join-Path $root 'authorized_keys')

        # A /24 of 10.x for this run: one /30 a host (.4i+1 the caller's end, .4i+2 the host's).
        $subnet = $null
        foreach ($try in 0..20) {
            $candidate = '10.213.{0}' -f ((($PID % 250) + $try) % 250)
            if (-not (ip -4 -o addr show to "$candidate.0/24")) { $subnet = $candidate; break }
        }
        if (-not $subnet) { throw 'No free 10.213.x.0/24 for the fleet.' }

        for ($i = 0; $i -lt $Count.Count; $i++) {
            $ns = "cwfleet-$id-$i"
            $hostEnd = "cwf$($id % 1000000)h$i"
            $nsEnd = "cwf$($id % 1000000)n$i"
            $address = "$subnet.$(4 * $i + 2)"
            $dir = Join-Path $root "host$i"
            $null = New-Item -ItemType Directory -Force $dir
            $fleet.Namespaces.Add($ns)
            Invoke-FleetTool ip @('netns', 'add', $ns) | Out-Null
            $fleet.Veths.Add($hostEnd)
            Invoke-FleetTool ip @('link', 'add', $hostEnd, 'type', 'veth', 'peer', 'name', $nsEnd) | Out-Null
            Invoke-FleetTool ip @('link', 'set', $nsEnd, 'netns', $ns) | Out-Null
            Invoke-FleetTool ip @('addr', 'add', "$subnet.$(4 * $i + 1)/30", 'dev', $hostEnd) | Out-Null
            Invoke-FleetTool ip @('link', 'set', $hostEnd, 'up') | Out-Null
            Invoke-FleetTool ip @('-n', $ns, 'link', 'set', 'lo', 'up') | Out-Null
            Invoke-FleetTool ip @('-n', $ns, 'addr', 'add', "$address/30", 'dev', $nsEnd) | Out-Null
            Invoke-FleetTool ip @('-n', $ns, 'link', 'set', $nsEnd, 'up') | Out-Null

            $hostKey = Join-Path $dir 'ssh_host_ed25519_key'
            Invoke-FleetTool ssh-keygen @('-q', '-t', 'ed25519', '-N', '', '-C', $ns, '-f', $hostKey) | Out-Null
            $config = Join-Path $dir 'sshd_config'
            Set-Content -Path $config -Value @(
                "ListenAddress $address"
                'Port 22'
                "HostKey $hostKey"
                'PidFile none'
                "AuthorizedKeysFile $(Join-Path $root 'authorized_keys')"
                'PermitRootLogin prohibit-password'
                'PasswordAuthentication no'
                'KbdInteractiveAuthentication no'
                'UsePAM no'
                'StrictModes no'
                'MaxStartups 30'
                'LogLevel ERROR'
                "Subsystem powershell $wrapper -sshs -NoLogo"
            )
            Add-Content -Path $fleet.KnownHosts -Value ("$address " + ((Get-Content "$hostKey.pub") -split ' ')[0..1] -join ' ')

            $fleetHost = [pscustomobject]@{
                Index     = $i
                Namespace = $ns
                HostName  = "fleet$i-$id"
                Address   = $address
                Directory = $dir
                SshdPid   = $null
                Holder    = $null
            }
            # ip netns exec, unshare and the script's exec replace themselves, so the PID is sshd's; a
            # UTS namespace of its own gives each host its own name.
            $start = Join-Path $dir 'start-sshd.sh'
            Set-Content -Path $start -Value "hostname '$($fleetHost.HostName)' && exec /usr/sbin/sshd -D -e -f '$config'"
            $sshd = Start-Process -FilePath ip -PassThru -ArgumentList @('netns', 'exec', $ns, 'unshare', '--uts', '/bin/sh', $start) `
                -RedirectStandardOutput (Join-Path $dir 'sshd.out') -RedirectStandardError (Join-Path $dir 'sshd.log')
            $fleet.Pids.Add($sshd.Id)
            $fleetHost.SshdPid = $sshd.Id
            $fleet.Hosts.Add($fleetHost)
            $fleetHost.Holder = Start-FleetHolder -Fleet $fleet -FleetHost $fleetHost -Count $Count[$i]
        }

        foreach ($h in $fleet.Hosts) {
            Wait-FleetCondition -What "sshd on $($h.Address)" -TimeoutSeconds $TimeoutSeconds -Condition {
                if ((Get-Process -Id $h.SshdPid -ErrorAction SilentlyContinue) -eq $null) {
                    throw "sshd in $($h.Namespace) exited: $(Get-Content -Raw (Join-Path $h.Directory 'sshd.log'))"
                }
                Test-FleetPort $h.Address 22
            }
        }
        $fleet
    }
    catch {
        Stop-TestFleet $fleet
        throw
    }
}

function Get-TestFleetSessionParameter {
    # What New-PSSession / Invoke-Command need to reach the fleet's hosts, for splatting.
    param([Parameter(Mandatory)] $Fleet, [int] $ConnectingTimeoutMs = 30000)
    @{
        HostName          = @($Fleet.Hosts.Address)
        UserName          = 'root'
        KeyFilePath       = $Fleet.KeyFile
        ConnectingTimeout = $ConnectingTimeoutMs
        Options           = @{
            UserKnownHostsFile    = $Fleet.KnownHosts
            GlobalKnownHostsFile  = '/dev/null'
            StrictHostKeyChecking = 'yes'
            IdentitiesOnly        = 'yes'
            BatchMode             = 'yes'
        }
    }
}

function Stop-TestFleet {
    # Tears down whatever Start-TestFleet made: PIDs first (sshd, holders), then veths and namespaces.
    param($Fleet)
    if (-not $Fleet) { return }
    foreach ($p in $Fleet.Pids) {
        $process = Get-Process -Id $p -ErrorAction SilentlyContinue
        if ($process) {
            $process.Kill()
            $null = $process.WaitForExit(5000)
        }
    }
    foreach ($veth in $Fleet.Veths) {
        # Deleting either end deletes the pair; the namespace end may already be gone with its namespace.
        & timeout 10 ip link del $veth 2>$null
    }
    foreach ($ns in $Fleet.Namespaces) {
        # Session processes sshd started may still live in the namespace: kill them by PID first.
        foreach ($p in @(& timeout 10 ip netns pids $ns 2>$null)) {
            if ($p -match '^\d+$') { Get-Process -Id ([int]$p) -ErrorAction SilentlyContinue | ForEach-Object { $_.Kill(); $null = $_.WaitForExit(5000) } }
        }
        & timeout 10 ip netns del $ns 2>$null
    }
    if ($Fleet.Root -and (Test-Path $Fleet.Root)) { Remove-Item -Recurse -Force $Fleet.Root }
}
