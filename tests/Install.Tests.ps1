#Requires -Version 7.0
#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
<#
    Installing like a gallery module: PSResourceGet (shipped in pwsh 7.4+) registers a local folder
    as a repository, publishes the built module folder there as a .nupkg, installs it with
    Install-PSResource CloseWait into a fresh module path, and a new pinned pwsh (dotnet pwsh)
    imports it by name and runs Get-TcpCloseWait. Every step runs in child pwsh processes whose
    HOME is a temporary folder, so the repository registration and the CurrentUser module path
    are theirs alone: nothing is registered or installed for the real user.
    Invoke-Pester ./tests/Install.Tests.ps1 -Output Detailed
#>

BeforeDiscovery {
    $script:HasPSResourceGet = [bool](Get-Module -ListAvailable Microsoft.PowerShell.PSResourceGet)
}

Describe 'Install-PSResource CloseWait from a local repository' -Skip:(-not $HasPSResourceGet) {
    BeforeAll {
        $root = Split-Path $PSScriptRoot -Parent
        $module = Join-Path $root 'out/CloseWait'
        if (-not (Test-Path (Join-Path $module 'CloseWait.psd1'))) { throw "Build the module first (dotnet build): $module not found." }
        $version = (Import-PowerShellDataFile (Join-Path $module 'CloseWait.psd1')).ModuleVersion

        $work = Join-Path ([IO.Path]::GetTempPath()) ("closewait-install-" + [guid]::NewGuid().ToString('N').Substring(0, 8))
        $script:childHome = Join-Path $work 'home'
        $repo = Join-Path $work 'repo'
        # .NET gives an XDG folder only when it exists (else an empty path: PSResourceGet and NuGet
        # would then write their settings under the working folder), so they are made first.
        $null = New-Item -ItemType Directory -Force $repo, (Join-Path $childHome '.local/share'), (Join-Path $childHome '.config'), (Join-Path $childHome '.cache')

        # A child `dotnet pwsh` (the pinned pwsh, found from the repository's tool manifest) with its
        # own HOME: PSResourceGet's repository list and the CurrentUser module path live under it.
        # The .NET tool cache and the NuGet packages stay the real user's, so the tool still resolves.
        function Invoke-ChildPwsh([string] $Script, [string] $ChildHome) {
            $psi = [System.Diagnostics.ProcessStartInfo]::new('dotnet')
            foreach ($a in 'pwsh', '-NoProfile', '-NonInteractive', '-Command', $Script) { $psi.ArgumentList.Add($a) }
            $psi.WorkingDirectory = $root
            $psi.UseShellExecute = $false
            $psi.RedirectStandardOutput = $true
            $psi.RedirectStandardError = $true
            $realHome = [Environment]::GetFolderPath('UserProfile')
            $psi.Environment['HOME'] = $ChildHome
            $psi.Environment['XDG_DATA_HOME'] = Join-Path $ChildHome '.local/share'
            $psi.Environment['XDG_CONFIG_HOME'] = Join-Path $ChildHome '.config'
            $psi.Environment['XDG_CACHE_HOME'] = Join-Path $ChildHome '.cache'
            $psi.Environment['DOTNET_CLI_HOME'] = if ($env:DOTNET_CLI_HOME) { $env:DOTNET_CLI_HOME } else { $realHome }
            $psi.Environment['NUGET_PACKAGES'] = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path $realHome '.nuget/packages' }
            # The new pwsh builds its own module path: nothing from this session's.
            $null = $psi.Environment.Remove('PSModulePath')
            $p = [System.Diagnostics.Process]::Start($psi)
            $stderr = $p.StandardError.ReadToEndAsync()
            $stdout = $p.StandardOutput.ReadToEndAsync()
            if (-not $p.WaitForExit(180000)) { Stop-Process -Id $p.Id -Force; throw "child pwsh timed out: $Script" }
            $p.WaitForExit()
            [pscustomobject]@{ ExitCode = $p.ExitCode; Out = $stdout.Result; Err = $stderr.Result }
        }

        $publish = Invoke-ChildPwsh -ChildHome $childHome -Script @"
`$ErrorActionPreference = 'Stop'
'home:' + [Environment]::GetFolderPath('LocalApplicationData')
Register-PSResourceRepository -Name CloseWaitLocal -Uri '$repo' -Trusted
Publish-PSResource -Path '$module' -Repository CloseWaitLocal
Install-PSResource -Name CloseWait -Repository CloseWaitLocal -Scope CurrentUser -TrustRepository
'installed:' + (Get-InstalledPSResource -Name CloseWait -Scope CurrentUser).InstalledLocation
"@
        $script:publish = $publish
        $script:nupkg = Join-Path $repo "CloseWait.$version.nupkg"

        # A new pwsh: import by name (module autoload path), then run the cmdlet.
        $script:run = Invoke-ChildPwsh -ChildHome $childHome -Script @'
$ErrorActionPreference = 'Stop'
Import-Module CloseWait
$m = Get-Module CloseWait
'base:' + $m.ModuleBase
'version:' + $m.Version
'rules:' + (Test-Path (Join-Path $m.ModuleBase 'closewait.rules.yml'))
$cw = @(Get-TcpCloseWait)
'listed:' + $cw.Count
'commands:' + ((Get-Command -Module CloseWait).Name -join ',')
'@
        $script:expectedBase = Join-Path $childHome ".local/share/powershell/Modules/CloseWait/$version"
        $script:version = $version
    }

    AfterAll {
        if ($work -and (Test-Path $work)) { Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue }
    }

    It 'publishes the module to a local folder repository as a .nupkg and installs it' {
        $publish.ExitCode | Should -Be 0 -Because $publish.Err
        Test-Path $nupkg | Should -BeTrue
        # PSResourceGet's settings went to the child's own HOME, not the real user's or the working folder.
        $publish.Out | Should -Match ('(?m)^home:' + [regex]::Escape((Join-Path $childHome '.local/share')) + '$')
        Join-Path $childHome '.local/share/PSResourceGet/PSResourceRepository.xml' | Should -Exist
        Join-Path $root 'PSResourceGet' | Should -Not -Exist
        $publish.Out | Should -Match ([regex]::Escape('installed:' + (Join-Path $childHome '.local/share/powershell/Modules')))
    }

    It 'imports it by name in a new pwsh from the fresh module path, and Get-TcpCloseWait runs' {
        $run.ExitCode | Should -Be 0 -Because $run.Err
        $run.Out | Should -Match ('(?m)^base:' + [regex]::Escape($expectedBase) + '$')
        $run.Out | Should -Match ('(?m)^version:' + [regex]::Escape($version) + '$')
        $run.Out | Should -Match '(?m)^rules:True$'
        $run.Out | Should -Match '(?m)^listed:\d+$'
        $run.Out | Should -Match 'Export-TcpCloseWaitMetric'
    }
}
