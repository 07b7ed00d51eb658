#Requires -Version 7.0
#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
<#
    Every output type that names a process, piped into Stop-Process: locally it binds -Id with the
    owner's PID (never -Name, which would stop every process of that name); after a remoting round
    trip (PSSerializer at depth 1, the type's own SerializationDepth on top, as remoting does) it
    binds nothing, and its enums cross as names. Real sockets, Stop-Process mocked.
#>

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../out/CloseWait/CloseWait.psd1') -Force

    # A CLOSE_WAIT socket held by this pwsh: the peer connects and closes, the accepted socket stays open.
    function New-CloseWaitSocket {
        $l = [System.Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp')
        $l.Bind([System.Net.IPEndPoint]::new([System.Net.IPAddress]::Loopback, 0)); $l.Listen(4)
        $c = [System.Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp'); $c.Connect($l.LocalEndPoint)
        $s = $l.Accept(); $c.Close()
        $port = $l.LocalEndPoint.Port
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while (-not (Get-TcpCloseWait -LocalPort $port -NoOwner)) {
            if ([DateTime]::UtcNow -gt $deadline) { throw "no CLOSE_WAIT socket on port $port" }
            Start-Sleep -Milliseconds 20
        }
        [pscustomobject]@{ Port = $port; Sockets = @($l, $s) }
    }

    function ConvertTo-Remote($InputObject) {
        [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($InputObject, 1))
    }

    $script:stuck = New-CloseWaitSocket
    $script:toClose = New-CloseWaitSocket
    $script:outputs = @{
        Diagnosis = Test-TcpCloseWait -LocalPort $stuck.Port -StuckAfter 0
        Event     = Watch-TcpCloseWait -LocalPort $stuck.Port -Count 1
        Summary   = Get-TcpConnectionSummary
        Closed    = Close-TcpConnection -LocalPort $toClose.Port -State CloseWait -PassThru -Confirm:$false
        PortUsage = Get-TcpPortUsage
    }
}

AfterAll {
    foreach ($s in @($stuck.Sockets) + @($toClose.Sockets)) { if ($s) { $s.Dispose() } }
}

Describe 'Stop-Process from every output type that names a process' {
    It '<kind> binds -Id with the owner locally, nothing after remoting' -ForEach @(
        @{ Kind = 'Diagnosis' }, @{ Kind = 'Event' }, @{ Kind = 'Summary' }, @{ Kind = 'Closed' }, @{ Kind = 'Owner' }
    ) {
        $local = switch ($Kind) {
            'Summary' { $outputs.Summary.ByProcess | Where-Object ProcessId -eq $PID }
            'Owner' { $outputs.Event.Connection.Owners }
            default { $outputs[$Kind] }
        }
        @($local).Count | Should -Be 1
        $local.ProcessName | Should -Not -BeNullOrEmpty

        Mock Stop-Process { }
        $local | Stop-Process
        Should -Invoke Stop-Process -Times 1 -Exactly -ParameterFilter { $Id -contains $PID -and -not $Name }
        Should -Invoke Stop-Process -Times 0 -Exactly -ParameterFilter { $Name }

        $remote = switch ($Kind) {
            'Summary' { (ConvertTo-Remote $outputs.Summary).ByProcess | Where-Object ProcessId -eq $PID }
            'Owner' { (ConvertTo-Remote $outputs.Event).Connection.Owners }
            default { ConvertTo-Remote $local }
        }
        @($remote).Count | Should -Be 1
        $remote.ProcessId | Should -Be $PID
        $remote.Id | Should -BeNullOrEmpty
        # Id is $null, so binding -Id fails and -Name is never tried: no further call.
        $remote | Stop-Process -ErrorAction SilentlyContinue
        Should -Invoke Stop-Process -Times 1 -Exactly
    }
}

Describe 'Enums after remoting' {
    It '<kind>.<property> crosses as its name' -ForEach @(
        @{ Kind = 'Diagnosis'; Property = 'Severity' }
        @{ Kind = 'Closed'; Property = 'Status' }
        @{ Kind = 'Closed'; Property = 'Method' }
        @{ Kind = 'Closed'; Property = 'State' }
        @{ Kind = 'PortUsage'; Property = 'Verdict' }
    ) {
        $local = @($outputs[$Kind])[0]
        if ($null -eq $local -or $null -eq $local.$Property) { Set-ItResult -Skipped -Because "no $Kind with a $Property on this box"; return }
        $remote = ConvertTo-Remote $local
        $remote.$Property | Should -BeOfType [string]
        $remote.$Property | Should -BeExactly $local.$Property.ToString()
        @($remote | Where-Object $Property -eq $local.$Property.ToString()).Count | Should -Be 1
    }
}
