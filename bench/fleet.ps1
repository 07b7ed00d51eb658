#Requires -Version 7.0
<#
    Times PowerShell remoting over SSH to the test fleet (tests/Fleet.Harness.ps1: three network
    namespaces with their own sshd): a fresh connection with its remote pwsh start, per host and for
    the fleet in parallel, and a reused session. Linux, root; build first (dotnet build).
    dotnet pwsh -NoProfile -File bench/fleet.ps1 [-Repeat 5]
#>
param([int] $Repeat = 5)
$ErrorActionPreference = 'Stop'
$repo = Split-Path $PSScriptRoot -Parent
. (Join-Path $repo 'tests/Fleet.Harness.ps1')
if ($reason = Get-TestFleetPrerequisite) { throw $reason }

function Median([double[]] $x) { $s = $x | Sort-Object; $s[[int][math]::Floor(($s.Count - 1) / 2)] }
function Time([scriptblock] $Block) { $w = [Diagnostics.Stopwatch]::StartNew(); $null = & $Block; $w.Elapsed.TotalSeconds }

$fleet = Start-TestFleet -Count 2, 5, 9 -ModulePath (Join-Path $repo 'out')
try {
    $p = Get-TestFleetSessionParameter $fleet
    $one = $p.Clone(); $one.HostName = $fleet.Hosts[0].Address

    $connect = @(); $first = @(); $adhoc = @(); $parallel = @()
    for ($i = 0; $i -lt $Repeat; $i++) {
        $connect += Time { $script:s = New-PSSession @one }
        $first += Time { Invoke-Command -Session $s { Get-TcpCloseWait } }
        Remove-PSSession $s
        $adhoc += Time { Invoke-Command @one { Get-TcpCloseWait } }
        $parallel += Time { $script:all = New-PSSession @p; Invoke-Command -Session $all { Get-TcpCloseWait } }
        Remove-PSSession $all
    }
    $sessions = New-PSSession @p
    $null = Invoke-Command -Session $sessions { Get-TcpCloseWait }
    $reusedOne = 1..20 | ForEach-Object { Time { Invoke-Command -Session $sessions[0] { Get-TcpCloseWait } } }
    $reusedAll = 1..20 | ForEach-Object { Time { Invoke-Command -Session $sessions { Get-TcpCloseWait } } }
    $summary = 1..20 | ForEach-Object { Time { Invoke-Command -Session $sessions { Get-TcpConnectionSummary -NoOwner } } }
    Remove-PSSession $sessions

    [pscustomobject]@{
        'New-PSSession, one host (s)'                      = Median $connect
        'first command there, module load included (s)'    = Median $first
        'Invoke-Command -HostName, one host, fresh (s)'    = Median $adhoc
        'three hosts in parallel, connect + list (s)'      = Median $parallel
        'reused session, one host (s)'                     = Median $reusedOne
        'reused sessions, three hosts (s)'                 = Median $reusedAll
        'reused sessions, summary of three hosts (s)'      = Median $summary
        'load average'                                     = (Get-Content /proc/loadavg).Split(' ')[0]
    } | Format-List
}
finally { Stop-TestFleet $fleet }
