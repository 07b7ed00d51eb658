#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Bad input to every parameter of every cmdlet, garbage and hand-edited records through every
# pipeline input, and unprivileged runs of every cmdlet. Each case asserts the exact error id, the
# category, a message that says what to give or do, and that no .NET exception text leaks, or the
# right result. Nothing here changes the host: Set-TcpKeepAliveSetting runs with -WhatIf, or as nobody
# inside a private network namespace. Sockets are on loopback only.

BeforeDiscovery {
    $script:onLinux = $IsLinux
    $script:isRoot = $IsLinux -and ((id -u) -eq '0')
    $script:canDropPrivileges = $isRoot -and [bool](Get-Command setpriv, unshare -ErrorAction SilentlyContinue | Measure-Object | Where-Object Count -eq 2)
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../out/CloseWait/CloseWait.psd1') -Force

    # Texts of .NET exceptions that must never reach a user.
    $script:leaks = 'Object reference', 'Input string', 'not in a correct format', 'Value was either too large',
        'TimeSpan overflowed', 'Not-a-Number', 'Exception', 'Stack trace', 'at CloseWait.'

    # Runs one case; returns its errors (written or thrown), first first.
    function Invoke-Case {
        param([string] $Command)
        $sb = [scriptblock]::Create($Command)
        $out = & {
            $ErrorActionPreference = 'Continue'
            $WarningPreference = 'SilentlyContinue'
            try { & $sb 2>&1 } catch { $_ }
        }
        @($out | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
    }

    # The expected fragment as a -like pattern: '*' separates parts, everything else is literal.
    function Get-Pattern {
        param([string] $Fragment)
        '*' + (($Fragment -split '\*' | ForEach-Object { [WildcardPattern]::Escape($_) }) -join '*') + '*'
    }

    function Assert-Clear {
        param($Errors, [string] $Id, [string] $Category, [string] $Message)
        $Errors.Count | Should -BeGreaterThan 0 -Because 'the case must fail with an error'
        $e = $Errors[0]
        $e.FullyQualifiedErrorId | Should -BeExactly $Id
        $e.CategoryInfo.Category | Should -Be $Category
        $e.Exception.Message | Should -BeLike (Get-Pattern $Message)
        foreach ($leak in $leaks) { $e.Exception.Message | Should -Not -BeLike "*$leak*" }
    }

    # A listener held by this process: a socket with a visible owner (as root), so that owner
    # filters are matched against something.
    $script:listener = [System.Net.Sockets.TcpListener]::new([ipaddress]::Loopback, 0)
    $listener.Start()
    $script:port = $listener.LocalEndpoint.Port
    $script:row = Get-TcpConnection -State Listen -LocalPort $port
}

AfterAll {
    $listener.Stop()
}

Describe 'Bad parameter values' {
    It 'a visible owner exists, so owner filters are exercised' -Skip:(-not $isRoot) {
        $row.ProcessId | Should -Be $PID
    }

    It '<Command>' -ForEach @(
        # Owner filters: wildcard patterns are checked at binding, not when the first owner is matched.
        @{ Command = "Get-TcpConnection -ProcessName '['"; Id = 'ParameterArgumentValidationError,CloseWait.Commands.GetTcpConnectionCommand'; Category = 'InvalidData'; Message = "'[' is not a valid wildcard pattern*escape it*" }
        @{ Command = "Get-TcpCloseWait -ProcessName 'ja[va'"; Id = 'ParameterArgumentValidationError,CloseWait.Commands.GetTcpCloseWaitCommand'; Category = 'InvalidData'; Message = 'not a valid wildcard pattern' }
        @{ Command = "Close-TcpConnection -State Listen -LocalPort `$port -ProcessName 'x','[' -WhatIf"; Id = 'ParameterArgumentValidationError,CloseWait.Commands.CloseTcpConnectionCommand'; Category = 'InvalidData'; Message = 'not a valid wildcard pattern' }
        @{ Command = "Get-TcpConnection -ProcessName ''"; Id = 'ParameterArgumentValidationError,CloseWait.Commands.GetTcpConnectionCommand'; Category = 'InvalidData'; Message = 'null, empty' }
        @{ Command = 'Get-TcpConnection -ProcessId -1'; Id = 'ParameterArgumentValidationError,CloseWait.Commands.GetTcpConnectionCommand'; Category = 'InvalidData'; Message = 'give a number of 0 or more' }
        @{ Command = 'Get-TcpConnection -ProcessId 99999999999'; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.GetTcpConnectionCommand'; Category = 'InvalidData'; Message = '99999999999 is out of range: give a whole number from 0 to 2147483647' }
        @{ Command = 'Get-TcpConnection -ProcessId 1.5'; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.GetTcpConnectionCommand'; Category = 'InvalidData'; Message = '1.5 is not a whole number' }
        @{ Command = 'Get-TcpConnection -ProcessId abc'; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.GetTcpConnectionCommand'; Category = 'InvalidData'; Message = "'abc' is not a whole number" }
        @{ Command = 'Get-TcpConnection -ProcessId $null'; Id = 'ProcessIdIsNull,CloseWait.Commands.GetTcpConnectionCommand'; Category = 'InvalidArgument'; Message = 'Give one or more process IDs' }
        @{ Command = 'Get-TcpCloseWait -ProcessId @()'; Id = 'ParameterArgumentValidationError,CloseWait.Commands.GetTcpCloseWaitCommand'; Category = 'InvalidData'; Message = 'empty' }
        # Ports.
        @{ Command = 'Get-TcpConnection -LocalPort 70000'; Id = 'ParameterArgumentValidationError,CloseWait.Commands.GetTcpConnectionCommand'; Category = 'InvalidData'; Message = '65535' }
        @{ Command = 'Get-TcpConnection -RemotePort 80.5'; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.GetTcpConnectionCommand'; Category = 'InvalidData'; Message = '80.5 is not a whole number: give a whole number from 0 to 65535' }
        @{ Command = 'Get-TcpCloseWait -LocalPort 1e10'; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.GetTcpCloseWaitCommand'; Category = 'InvalidData'; Message = 'out of range: give a whole number from 0 to 65535' }
        @{ Command = "Get-TcpCloseWait -RemotePort 'http'"; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.GetTcpCloseWaitCommand'; Category = 'InvalidData'; Message = "'http' is not a whole number" }
        # Addresses: no octal, no short forms, prefix lengths in range.
        @{ Command = 'Get-TcpConnection -LocalAddress 010.0.0.1'; Id = 'CannotConvertArgumentNoMessage,CloseWait.Commands.GetTcpConnectionCommand'; Category = 'InvalidArgument'; Message = 'write 10.0.0.1' }
        @{ Command = 'Get-TcpConnection -RemoteAddress 10.1'; Id = 'CannotConvertArgumentNoMessage,CloseWait.Commands.GetTcpConnectionCommand'; Category = 'InvalidArgument'; Message = 'Give an address such as 10.0.0.5' }
        @{ Command = 'Get-TcpCloseWait -RemoteAddress 10.0.0.0/33'; Id = 'CannotConvertArgumentNoMessage,CloseWait.Commands.GetTcpCloseWaitCommand'; Category = 'InvalidArgument'; Message = 'between 0 and 32' }
        @{ Command = "Get-TcpCloseWait -LocalAddress '::1/'"; Id = 'CannotConvertArgumentNoMessage,CloseWait.Commands.GetTcpCloseWaitCommand'; Category = 'InvalidArgument'; Message = 'must be a whole number' }
        # States, families, namespaces.
        @{ Command = 'Get-TcpConnection -State Bogus'; Id = 'CannotConvertArgumentNoMessage,CloseWait.Commands.GetTcpConnectionCommand'; Category = 'InvalidArgument'; Message = 'CloseWait' }
        @{ Command = 'Get-TcpConnection -AddressFamily IPv5'; Id = 'ParameterArgumentValidationError,CloseWait.Commands.GetTcpConnectionCommand'; Category = 'InvalidData'; Message = 'IPv4,IPv6' }
        @{ Command = 'Get-TcpConnectionSummary -AddressFamily Unix'; Id = 'ParameterArgumentValidationError,CloseWait.Commands.GetTcpConnectionSummaryCommand'; Category = 'InvalidData'; Message = 'IPv4,IPv6' }
        @{ Command = "Get-TcpConnection -NetworkNamespace ''"; Id = 'InvalidNetworkNamespace,CloseWait.Commands.GetTcpConnectionCommand'; Category = 'InvalidArgument'; Message = '-NetworkNamespace is empty' }
        @{ Command = "Get-TcpCloseWait -NetworkNamespace ''"; Id = 'InvalidNetworkNamespace,CloseWait.Commands.GetTcpCloseWaitCommand'; Category = 'InvalidArgument'; Message = '-NetworkNamespace is empty' }
        @{ Command = "Test-TcpCloseWait -NetworkNamespace ''"; Id = 'InvalidNetworkNamespace,CloseWait.Commands.TestTcpCloseWaitCommand'; Category = 'InvalidArgument'; Message = '-NetworkNamespace is empty' }
        @{ Command = "Watch-TcpCloseWait -Count 1 -NetworkNamespace ' '"; Id = 'InvalidNetworkNamespace,CloseWait.Commands.WatchTcpCloseWaitCommand'; Category = 'InvalidArgument'; Message = '-NetworkNamespace is empty' }
        @{ Command = "Close-TcpConnection -State CloseWait -WhatIf -NetworkNamespace ''"; Id = 'InvalidNetworkNamespace,CloseWait.Commands.CloseTcpConnectionCommand'; Category = 'InvalidArgument'; Message = '-NetworkNamespace is empty' }
        @{ Command = "Get-TcpConnectionSummary -NetworkNamespace ''"; Id = 'InvalidNetworkNamespace,CloseWait.Commands.GetTcpConnectionSummaryCommand'; Category = 'InvalidArgument'; Message = '-NetworkNamespace is empty' }
        @{ Command = "Get-TcpKeepAliveSetting -NetworkNamespace ''"; Id = 'InvalidNetworkNamespace,CloseWait.Commands.GetTcpKeepAliveSettingCommand'; Category = 'InvalidArgument'; Message = '-NetworkNamespace is empty' }
        @{ Command = "Set-TcpKeepAliveSetting -Time 300 -WhatIf -NetworkNamespace ''"; Id = 'InvalidNetworkNamespace,CloseWait.Commands.SetTcpKeepAliveSettingCommand'; Category = 'InvalidArgument'; Message = '-NetworkNamespace is empty' }
        @{ Command = "Test-TcpKeepAliveSetting -IdleTimeout 350 -NetworkNamespace ''"; Id = 'InvalidNetworkNamespace,CloseWait.Commands.TestTcpKeepAliveSettingCommand'; Category = 'InvalidArgument'; Message = '-NetworkNamespace is empty' }
        @{ Command = "Get-TcpTimeWaitSetting -NetworkNamespace ''"; Id = 'InvalidNetworkNamespace,CloseWait.Commands.GetTcpTimeWaitSettingCommand'; Category = 'InvalidArgument'; Message = '-NetworkNamespace is empty' }
        @{ Command = "Set-TcpTimeWaitSetting -TimeWaitReuse 1 -WhatIf -NetworkNamespace ''"; Id = 'InvalidNetworkNamespace,CloseWait.Commands.SetTcpTimeWaitSettingCommand'; Category = 'InvalidArgument'; Message = '-NetworkNamespace is empty' }
        @{ Command = "Get-TcpPortUsage -NetworkNamespace ''"; Id = 'InvalidNetworkNamespace,CloseWait.Commands.GetTcpPortUsageCommand'; Category = 'InvalidArgument'; Message = '-NetworkNamespace is empty' }
        @{ Command = 'Get-TcpConnectionSummary -NetworkNamespace closewait-no-such-ns'; Id = 'NetworkNamespaceNotFound,CloseWait.Commands.GetTcpConnectionSummaryCommand'; Category = 'ObjectNotFound'; Message = 'ip netns' }
        @{ Command = 'Get-TcpKeepAliveSetting -NetworkNamespace closewait-no-such-ns'; Id = 'NetworkNamespaceNotFound,CloseWait.Commands.GetTcpKeepAliveSettingCommand'; Category = 'ObjectNotFound'; Message = 'ip netns' }
        @{ Command = 'Test-TcpKeepAliveSetting -IdleTimeout 350 -NetworkNamespace 0'; Id = 'NetworkNamespaceNotFound,CloseWait.Commands.TestTcpKeepAliveSettingCommand'; Category = 'ObjectNotFound'; Message = 'Give the PID of a running process' }
        # Time spans: seconds or hh:mm:ss, in range, never a .NET overflow text.
        @{ Command = 'Get-TcpCloseWait -MinimumIdleTime -5'; Id = 'ParameterArgumentValidationError,CloseWait.Commands.GetTcpCloseWaitCommand'; Category = 'InvalidData'; Message = 'outside the allowed range' }
        @{ Command = 'Get-TcpCloseWait -MinimumIdleTime soon'; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.GetTcpCloseWaitCommand'; Category = 'InvalidData'; Message = 'Give seconds (300) or hh:mm:ss' }
        @{ Command = 'Get-TcpCloseWait -MinimumIdleTime 1e30'; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.GetTcpCloseWaitCommand'; Category = 'InvalidData'; Message = 'not a usable time span: give seconds' }
        @{ Command = 'Get-TcpCloseWait -MinimumIdleTime ([double]::NaN)'; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.GetTcpCloseWaitCommand'; Category = 'InvalidData'; Message = 'not a usable time span' }
        @{ Command = "Get-TcpCloseWait -MinimumIdleTime 'Infinity'"; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.GetTcpCloseWaitCommand'; Category = 'InvalidData'; Message = 'not a usable time span' }
        # Whole numbers and time spans everywhere: no rounding, no .NET text (issue 19).
        @{ Command = "Set-TcpTimeWaitSetting -TimeWaitReuse 0.4 -WhatIf"; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.SetTcpTimeWaitSettingCommand'; Category = 'InvalidData'; Message = "0.4 is not a whole number: give a whole number from 0 to 2" }
        @{ Command = "Set-TcpTimeWaitSetting -TimeWaitReuse `$true -WhatIf"; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.SetTcpTimeWaitSettingCommand'; Category = 'InvalidData'; Message = "'True' is not a whole number" }
        @{ Command = "Set-TcpTimeWaitSetting -TimeWaitReuse x -WhatIf"; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.SetTcpTimeWaitSettingCommand'; Category = 'InvalidData'; Message = "'x' is not a whole number" }
        @{ Command = "Set-TcpTimeWaitSetting -MaxTimeWaitBuckets 300000.6 -WhatIf"; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.SetTcpTimeWaitSettingCommand'; Category = 'InvalidData'; Message = "300000.6 is not a whole number" }
        @{ Command = "Set-TcpTimeWaitSetting -MaxTimeWaitBuckets 99999999999 -WhatIf"; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.SetTcpTimeWaitSettingCommand'; Category = 'InvalidData'; Message = "99999999999 is out of range" }
        @{ Command = "Set-TcpTimeWaitSetting -PortRange @('40000-50000','1-2') -WhatIf"; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.SetTcpTimeWaitSettingCommand'; Category = 'InvalidData'; Message = "Give one value, not a list of 2" }
        @{ Command = "Test-TcpCloseWait -MinimumCount 1.5"; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.TestTcpCloseWaitCommand'; Category = 'InvalidData'; Message = "1.5 is not a whole number" }
        @{ Command = "Test-TcpCloseWait -MinimumCount x"; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.TestTcpCloseWaitCommand'; Category = 'InvalidData'; Message = "'x' is not a whole number" }
        @{ Command = "Test-TcpCloseWait -StuckAfter '1e-9'"; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.TestTcpCloseWaitCommand'; Category = 'InvalidData'; Message = "finer than a time span holds" }
        @{ Command = "Test-TcpCloseWait -StuckAfter `$true"; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.TestTcpCloseWaitCommand'; Category = 'InvalidData'; Message = "'True' (Boolean) is not a time span" }
        @{ Command = "Test-TcpCloseWait -StuckAfter (Get-Date)"; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.TestTcpCloseWaitCommand'; Category = 'InvalidData'; Message = "(DateTime) is not a time span" }
        @{ Command = "Test-TcpCloseWait -StuckAfter @(1,2)"; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.TestTcpCloseWaitCommand'; Category = 'InvalidData'; Message = "Give one time span, not a list" }
        @{ Command = "Watch-TcpCloseWait -Count 1.5"; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.WatchTcpCloseWaitCommand'; Category = 'InvalidData'; Message = "1.5 is not a whole number" }
        @{ Command = "Watch-TcpCloseWait -Count x"; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.WatchTcpCloseWaitCommand'; Category = 'InvalidData'; Message = "'x' is not a whole number" }
        @{ Command = "Get-TcpPortUsage -RemotePort 1.5"; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.GetTcpPortUsageCommand'; Category = 'InvalidData'; Message = "1.5 is not a whole number: give a whole number from 1 to 65535" }
        @{ Command = "Get-TcpPortUsage -RemotePort x"; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.GetTcpPortUsageCommand'; Category = 'InvalidData'; Message = "'x' is not a whole number" }
        @{ Command = "Get-TcpConnection -LocalPort `$true"; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.GetTcpConnectionCommand'; Category = 'InvalidData'; Message = "'True' is not a whole number" }
        # Close-TcpConnection's own parameters.
        @{ Command = 'Close-TcpConnection -State @() -WhatIf'; Id = 'ParameterArgumentValidationError,CloseWait.Commands.CloseTcpConnectionCommand'; Category = 'InvalidData'; Message = 'null, empty' }
        @{ Command = 'Close-TcpConnection -State CloseWait -Method Kill -WhatIf'; Id = 'CannotConvertArgumentNoMessage,CloseWait.Commands.CloseTcpConnectionCommand'; Category = 'InvalidArgument'; Message = 'Abort' }
        # Keepalive: always -WhatIf, so that nothing could change even if a check failed.
        @{ Command = 'Set-TcpKeepAliveSetting -Time 0 -WhatIf'; Id = 'KeepAliveTimeOutOfRange,CloseWait.Commands.SetTcpKeepAliveSettingCommand'; Category = 'InvalidArgument'; Message = 'Nothing was changed' }
        @{ Command = 'Set-TcpKeepAliveSetting -Time 1.5 -WhatIf'; Id = 'KeepAliveTimeNotWhole,CloseWait.Commands.SetTcpKeepAliveSettingCommand'; Category = 'InvalidArgument'; Message = 'whole' }
        @{ Command = 'Set-TcpKeepAliveSetting -Interval 99999 -WhatIf'; Id = 'KeepAliveIntervalOutOfRange,CloseWait.Commands.SetTcpKeepAliveSettingCommand'; Category = 'InvalidArgument'; Message = 'Nothing was changed' }
        @{ Command = 'Set-TcpKeepAliveSetting -Probes 0 -WhatIf'; Id = 'KeepAliveProbesOutOfRange,CloseWait.Commands.SetTcpKeepAliveSettingCommand'; Category = 'InvalidArgument'; Message = 'Nothing was changed' }
        @{ Command = 'Set-TcpKeepAliveSetting -Probes 5.5 -WhatIf'; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.SetTcpKeepAliveSettingCommand'; Category = 'InvalidData'; Message = '5.5 is not a whole number' }
        @{ Command = 'Set-TcpKeepAliveSetting -Probes 1e10 -WhatIf'; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.SetTcpKeepAliveSettingCommand'; Category = 'InvalidData'; Message = 'out of range' }
        @{ Command = 'Set-TcpKeepAliveSetting -Time ([double]::NaN) -WhatIf'; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.SetTcpKeepAliveSettingCommand'; Category = 'InvalidData'; Message = 'not a usable time span' }
        @{ Command = 'Set-TcpKeepAliveSetting -Interval 1e300 -WhatIf'; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.SetTcpKeepAliveSettingCommand'; Category = 'InvalidData'; Message = 'not a usable time span' }
        @{ Command = 'Set-TcpKeepAliveSetting -WhatIf'; Id = 'KeepAliveNothingToSet,CloseWait.Commands.SetTcpKeepAliveSettingCommand'; Category = 'InvalidArgument'; Message = 'give -Time, -Interval or -Probes' }
        @{ Command = 'Test-TcpKeepAliveSetting -IdleTimeout 0'; Id = 'ParameterArgumentValidationError,CloseWait.Commands.TestTcpKeepAliveSettingCommand'; Category = 'InvalidData'; Message = 'outside the allowed range' }
        @{ Command = 'Test-TcpKeepAliveSetting -IdleTimeout 1'; Id = 'IdleTimeoutTooShort,CloseWait.Commands.TestTcpKeepAliveSettingCommand'; Category = 'InvalidArgument'; Message = 'Check the idle timeout' }
        @{ Command = 'Test-TcpKeepAliveSetting -IdleTimeout 1e30'; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.TestTcpKeepAliveSettingCommand'; Category = 'InvalidData'; Message = 'not a usable time span' }
    ) {
        Assert-Clear (Invoke-Case $Command) $Id $Category $Message
    }
}

Describe 'Garbage through the pipeline' {
    BeforeAll {
        # A record as Export-Csv writes it (pwsh: no type line) and as remoting or -IncludeTypeInformation
        # brings it (with the type name), each column editable.
        $script:csv = @($row | ConvertTo-Csv) | ConvertFrom-Csv
        function Edit-Row {
            param([hashtable] $Set, [string[]] $Remove = @(), [switch] $Typed)
            $r = $csv | Select-Object * -ExcludeProperty $Remove
            foreach ($k in $Set.Keys) { $r.$k = $Set[$k] }
            if ($Typed) { $r.PSObject.TypeNames.Insert(0, 'CSV:CloseWait.TcpConnection') }
            $r
        }
    }

    It 'an unedited pwsh CSV row binds and names the socket (<Typed>)' -ForEach @(@{ Typed = $false }, @{ Typed = $true }) {
        $script:r = Edit-Row @{} -Typed:$Typed
        Invoke-Case '$r | Close-TcpConnection -State Listen -WhatIf' | Should -BeNullOrEmpty
        Get-TcpConnection -State Listen -LocalPort $port | Should -Not -BeNullOrEmpty
    }

    It 'an edited <Column> = "<Value>" is refused, naming it' -ForEach @(
        @{ Column = 'LocalPort'; Value = 'abc'; Message = "LocalPort 'abc' is not a whole number: give a whole number from 0 to 65535" }
        @{ Column = 'LocalPort'; Value = '70000'; Message = 'LocalPort 70000 is out of range' }
        @{ Column = 'RemotePort'; Value = ''; Message = 'The RemotePort property is missing: give a whole number' }
        @{ Column = 'State'; Value = '2'; Message = "State '2' is not a TcpState name: give one of Closed, Listen" }
        @{ Column = 'State'; Value = 'Bogus'; Message = 'give one of Closed, Listen' }
        @{ Column = 'AddressFamily'; Value = 'Unix'; Message = 'AddressFamily Unix does not match the addresses' }
        @{ Column = 'LocalAddress'; Value = '127.0.0.01'; Message = "LocalAddress '127.0.0.01' is not an IP address: give one such as 10.0.0.5" }
        @{ Column = 'LocalAddress'; Value = ''; Message = 'The LocalAddress property is missing' }
        @{ Column = 'Cookie'; Value = 'x'; Message = "Cookie 'x' is not a whole number" }
        @{ Column = 'Cookie'; Value = '18446744073709551615'; Message = "the kernel's 'no cookie' value*leave Cookie empty" }
        @{ Column = 'Inode'; Value = '-1'; Message = 'Inode -1 is out of range' }
        @{ Column = 'ProcessId'; Value = '-5'; Message = 'ProcessId -5 is out of range' }
        @{ Column = 'Owners'; Value = '99999999999/x (fd 3)'; Message = "Owners '99999999999/x (fd 3)': the process ID 99999999999 is out of range" }
        @{ Column = 'Owners'; Value = 'whoever'; Message = "Owners 'whoever' is not an owner: give 'PID/name'" }
        @{ Column = 'IdleTime'; Value = 'soon'; Message = "IdleTime 'soon' is not a time span: give seconds (300) or hh:mm:ss" }
        @{ Column = 'CreationTime'; Value = 'yesterday'; Message = "CreationTime 'yesterday' is not a date" }
    ) {
        foreach ($typed in $false, $true) {
            $script:r = Edit-Row @{ $Column = $Value } -Typed:$typed
            Assert-Clear (Invoke-Case '$r | Close-TcpConnection -State Listen -Force') 'ParameterArgumentTransformationError,CloseWait.Commands.CloseTcpConnectionCommand' 'InvalidData' $Message
        }
        $listener.Server.IsBound | Should -BeTrue
        Get-TcpConnection -State Listen -LocalPort $port | Should -Not -BeNullOrEmpty
    }

    It 'an Import-Csv row without <Column> says it is missing' -ForEach @(
        @{ Column = 'State'; Message = 'The State property is missing: give one of' }
        @{ Column = 'LocalAddress'; Message = 'The LocalAddress property is missing' }
        @{ Column = 'LocalPort'; Message = 'The LocalPort property is missing' }
        @{ Column = 'AddressFamily'; Message = 'The AddressFamily property is missing: give one of InterNetwork, InterNetworkV6' }
    ) {
        $file = New-TemporaryFile
        try {
            $csv | Select-Object * -ExcludeProperty $Column | Export-Csv -Path $file -IncludeTypeInformation
            $script:imported = Import-Csv -Path $file
            # Without State the row must not fall back to selecting by its ProcessId: that would close every listener of this process.
            Assert-Clear (Invoke-Case '$imported | Close-TcpConnection -State Listen -Force') 'ParameterArgumentTransformationError,CloseWait.Commands.CloseTcpConnectionCommand' 'InvalidData' $Message
        }
        finally { Remove-Item $file }
        Get-TcpConnection -State Listen -LocalPort $port | Should -Not -BeNullOrEmpty
    }

    It 'piping <Label> to <Cmdlet> gives <Id>' -ForEach @(
        @{ Label = 'a string'; Value = 'abc'; Cmdlet = 'Close-TcpConnection -WhatIf'; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.CloseTcpConnectionCommand'; Category = 'InvalidData'; Message = "'abc' (a String) is not a TCP connection: pipe objects from Get-TcpConnection" }
        @{ Label = 'a number'; Value = 42; Cmdlet = 'Close-TcpConnection -WhatIf'; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.CloseTcpConnectionCommand'; Category = 'InvalidData'; Message = 'is not a TCP connection' }
        @{ Label = 'a hashtable'; Value = @{ Port = 1 }; Cmdlet = 'Close-TcpConnection -WhatIf'; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.CloseTcpConnectionCommand'; Category = 'InvalidData'; Message = "A hashtable without a connection's keys is not a TCP connection" }
        @{ Label = 'a hashtable with a bad port'; Value = @{ LocalAddress = '127.0.0.1'; RemoteAddress = '0.0.0.0'; State = 'Listen'; AddressFamily = 'InterNetwork'; LocalPort = 'x'; RemotePort = 0 }; Cmdlet = 'Close-TcpConnection -State Listen -WhatIf'; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.CloseTcpConnectionCommand'; Category = 'InvalidData'; Message = "This hashtable cannot be used as a connection: LocalPort 'x' is not a whole number" }
        @{ Label = '$null'; Value = $null; Cmdlet = 'Close-TcpConnection -WhatIf'; Id = 'ParameterArgumentValidationErrorNullNotAllowed,CloseWait.Commands.CloseTcpConnectionCommand'; Category = 'InvalidData'; Message = 'null' }
        @{ Label = 'an object with Id abc'; Value = [pscustomobject]@{ Id = 'abc' }; Cmdlet = 'Get-TcpConnection'; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.GetTcpConnectionCommand'; Category = 'InvalidData'; Message = "'abc' is not a whole number" }
        @{ Label = 'a string'; Value = 'abc'; Cmdlet = 'Get-TcpCloseWait'; Id = 'InputObjectNotBound,CloseWait.Commands.GetTcpCloseWaitCommand'; Category = 'InvalidArgument'; Message = 'cannot be bound' }
        @{ Label = 'a row with Time abc'; Value = [pscustomobject]@{ Time = 'abc' }; Cmdlet = 'Set-TcpKeepAliveSetting -WhatIf'; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.SetTcpKeepAliveSettingCommand'; Category = 'InvalidData'; Message = "'abc' is not a time span" }
        @{ Label = 'a row with Probes 2.5'; Value = [pscustomobject]@{ Time = 300; Probes = '2.5' }; Cmdlet = 'Set-TcpKeepAliveSetting -WhatIf'; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.SetTcpKeepAliveSettingCommand'; Category = 'InvalidData'; Message = "'2.5' is not a whole number" }
        @{ Label = 'a row with Interval -00:00:30'; Value = [pscustomobject]@{ Interval = '-00:00:30' }; Cmdlet = 'Set-TcpKeepAliveSetting -WhatIf'; Id = 'KeepAliveIntervalOutOfRange,CloseWait.Commands.SetTcpKeepAliveSettingCommand'; Category = 'InvalidArgument'; Message = 'Nothing was changed' }
        @{ Label = 'a string'; Value = 'soon'; Cmdlet = 'Test-TcpKeepAliveSetting'; Id = 'ParameterArgumentTransformationError,CloseWait.Commands.TestTcpKeepAliveSettingCommand'; Category = 'InvalidData'; Message = "'soon' is not a time span" }
        @{ Label = 'zero'; Value = 0; Cmdlet = 'Test-TcpKeepAliveSetting'; Id = 'ParameterArgumentValidationError,CloseWait.Commands.TestTcpKeepAliveSettingCommand'; Category = 'InvalidData'; Message = 'outside the allowed range' }
    ) {
        $script:in = $Value
        Assert-Clear (Invoke-Case "`$in | $Cmdlet") $Id $Category $Message
    }

    It 'an object whose Id is $null selects nothing, and no error' {
        $err = Invoke-Case '[pscustomobject]@{ Id = $null } | Get-TcpConnection'
        $err | Should -BeNullOrEmpty
        @([pscustomobject]@{ Id = $null } | Get-TcpConnection).Count | Should -Be 0
    }
}

Describe 'Unprivileged runs (as nobody)' -Skip:(-not $canDropPrivileges) {
    BeforeAll {
        # The clone and the pinned pwsh (under root's home) may be unreadable to nobody: run a
        # world-readable copy of both from /tmp, removed afterwards.
        $script:copy = Join-Path '/tmp' ('closewait-adversarial-' + [guid]::NewGuid().ToString('N'))
        $null = New-Item -ItemType Directory -Path $copy
        Copy-Item -Recurse -Path $PSHOME -Destination (Join-Path $copy 'pwsh')
        Copy-Item -Recurse -Path (Join-Path $PSScriptRoot '../out/CloseWait') -Destination (Join-Path $copy 'CloseWait')
        $null = New-Item -ItemType Directory -Path (Join-Path $copy 'home')
        chmod -R a+rX $copy
        chmod 755 (Join-Path $copy 'pwsh/pwsh')
        chmod 777 (Join-Path $copy 'home')

        # Runs a pipeline as nobody (in a private network namespace when asked); returns one line
        # per error ('ERROR id|category|message'), object ('OBJECT type') and warning ('WARNING text').
        function Invoke-AsNobody {
            param([string] $Command, [switch] $PrivateNetwork, [switch] $UserNamespaceRoot)
            $script = @"
Import-Module '$copy/CloseWait/CloseWait.psd1'
`$ErrorActionPreference = 'Continue'
& { $Command } 2>&1 3>&1 | ForEach-Object {
    if (`$_ -is [System.Management.Automation.ErrorRecord]) { 'ERROR ' + `$_.FullyQualifiedErrorId + '|' + `$_.CategoryInfo.Category + '|' + `$_.Exception.Message }
    elseif (`$_ -is [System.Management.Automation.WarningRecord]) { 'WARNING ' + `$_.Message }
    else { 'OBJECT ' + `$_.PSObject.TypeNames[0] }
}
"@
            $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($script))
            # -UserNamespaceRoot: euid 0 in a user namespace of its own, still nobody to the host's kernel objects.
            $userNs = if ($UserNamespaceRoot) { 'unshare', '-U', '-r' } else { @() }
            $argv = @('--reuid=65534', '--regid=65534', '--clear-groups') + $userNs + @('env', "HOME=$copy/home", "$copy/pwsh/pwsh", '-NoProfile', '-NonInteractive', '-EncodedCommand', $encoded)
            if ($PrivateNetwork) { unshare -n setpriv @argv 2>&1 } else { setpriv @argv 2>&1 }
        }
    }

    AfterAll {
        Remove-Item -Recurse -Force $copy -ErrorAction SilentlyContinue
    }

    It 'setpriv drops to nobody' {
        setpriv --reuid=65534 --regid=65534 --clear-groups id -u | Should -Be '65534'
    }

    It '<Command> gives <Expect>' -ForEach @(
        @{ Command = 'Get-TcpConnection -State Listen -LocalPort {port}'; Expect = 'the listener, owner hidden, one warning'; Objects = 1; Warning = 'Run as root (sudo)' }
        @{ Command = 'Get-TcpCloseWait -LocalPort {port}'; Expect = 'nothing'; Objects = 0 }
        @{ Command = 'Get-TcpConnectionSummary'; Expect = 'a summary'; Objects = 1 }
        @{ Command = 'Get-TcpKeepAliveSetting'; Expect = 'the setting'; Objects = 1 }
        @{ Command = 'Test-TcpKeepAliveSetting -IdleTimeout 350'; Expect = 'a verdict'; Objects = 1 }
        @{ Command = "Get-TcpConnection -ProcessName '['"; Expect = 'the binding error'; Objects = 0; Id = 'ParameterArgumentValidationError,CloseWait.Commands.GetTcpConnectionCommand'; Category = 'InvalidData'; Message = 'not a valid wildcard pattern' }
        @{ Command = 'Close-TcpConnection -State Listen -LocalPort {port} -Force'; Expect = 'permission denied'; Objects = 0; Id = 'SocketCloseAccessDenied,CloseWait.Commands.CloseTcpConnectionCommand'; Category = 'PermissionDenied'; Message = 'Run as root (sudo)' }
        @{ Command = 'Set-TcpKeepAliveSetting -Time 300 -Interval 30 -Probes 5'; Expect = 'permission denied'; Private = $true; Objects = 0; Id = 'KeepAlivePermissionDenied,CloseWait.Commands.SetTcpKeepAliveSettingCommand'; Category = 'PermissionDenied'; Message = 'Run as root (sudo). Nothing was changed.' }
        @{ Command = 'Get-TcpKeepAliveSetting -NetworkNamespace 1'; Expect = 'namespace access denied'; Objects = 0; Id = 'NetworkNamespaceAccessDenied,CloseWait.Commands.GetTcpKeepAliveSettingCommand'; Category = 'PermissionDenied'; Message = 'Run as root (sudo)' }
    ) {
        $out = @(Invoke-AsNobody $Command.Replace('{port}', [string]$port) -PrivateNetwork:([bool]$Private))
        $text = $out -join "`n"
        @($out -like 'OBJECT *').Count | Should -Be $Objects -Because $text
        $errors = @($out -like 'ERROR *')
        if ($Id) {
            $errors.Count | Should -BeGreaterThan 0 -Because $text
            $id, $category, $message = $errors[0].Substring(6) -split '\|', 3
            $id | Should -BeExactly $Id
            $category | Should -Be $Category
            $message | Should -BeLike (Get-Pattern $Message)
            foreach ($leak in $leaks) { $message | Should -Not -BeLike "*$leak*" }
        }
        else {
            $errors | Should -BeNullOrEmpty -Because $text
        }
        if ($Warning) { @($out -like "WARNING *$Warning*").Count | Should -Be 1 -Because $text }
        $listener.Server.IsBound | Should -BeTrue
    }

    # As root of a user namespace the process is root to itself but not to the host's sockets and
    # settings: "run as root" would be advice it has already followed.
    It 'as root without the rights, <Command> says so without advising root' -ForEach @(
        @{ Command = 'Close-TcpConnection -State Listen -LocalPort {port} -Force'; Id = 'SocketCloseAccessDenied,CloseWait.Commands.CloseTcpConnectionCommand'; Message = 'already runs as root*Stop-Process' }
        @{ Command = 'Set-TcpKeepAliveSetting -Time 300 -Interval 30 -Probes 5'; Private = $true; Id = 'KeepAlivePermissionDenied,CloseWait.Commands.SetTcpKeepAliveSettingCommand'; Message = 'already runs as root*Nothing was changed.' }
    ) {
        $out = @(Invoke-AsNobody $Command.Replace('{port}', [string]$port) -PrivateNetwork:([bool]$Private) -UserNamespaceRoot)
        $text = $out -join "`n"
        $errors = @($out -like 'ERROR *')
        $errors.Count | Should -BeGreaterThan 0 -Because $text
        $id, $category, $message = $errors[0].Substring(6) -split '\|', 3
        $id | Should -BeExactly $Id
        $category | Should -Be 'PermissionDenied'
        $message | Should -BeLike (Get-Pattern $Message)
        $message | Should -Not -BeLike '*sudo*'
        Get-TcpConnection -State Listen -LocalPort $port | Should -Not -BeNullOrEmpty
    }
}
