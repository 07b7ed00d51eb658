#Requires -Version 5.1
<#
.SYNOPSIS
    Builds CloseWait, runs its tests, and assembles the module folder out/CloseWait.
.DESCRIPTION
    Run it in the pinned PowerShell (a local .NET tool, .config/dotnet-tools.json):

        dotnet tool restore && dotnet pwsh ./build.ps1 -Test

    -Test runs every test: the xunit tests (dotnet test), then the Pester suite (tests/*.Tests.ps1)
    in this pwsh with the Pester that NuGet restored for the test project (no gallery needed).
    Its last line counts both: "tests: N passed, M failed[, K skipped]".
.EXAMPLE
    ./build.ps1                 # build and assemble out/CloseWait
.EXAMPLE
    ./build.ps1 -Run            # build, then run Get-TcpCloseWait from the built module in this pwsh
.EXAMPLE
    ./build.ps1 -Test           # build, then run the xunit tests and the Pester suite
.EXAMPLE
    ./build.ps1 -Test -PesterPath tests/TcpConnection.Tests.ps1 -SkipXunit   # one Pester file
.EXAMPLE
    ./build.ps1 -Package        # build, then out/CloseWait-<version>.zip and out/CloseWait.<version>.nupkg
#>
[CmdletBinding()]
param(
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Debug',
    [switch] $Test,
    [switch] $Run,
    [switch] $Package,
    # With -Test: the Pester files or folders to run (default: tests/).
    [string[]] $PesterPath,
    # With -Test: leave out the xunit tests (to iterate on Pester files).
    [switch] $SkipXunit,
    # With -Test: leave out the Pester suite.
    [switch] $SkipPester
)

$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot
$PesterVersion = '5.9.1'

dotnet build CloseWait.sln -c $Configuration -nologo -v quiet
if ($LASTEXITCODE) { throw "dotnet build failed ($LASTEXITCODE)" }

$module = Join-Path $PSScriptRoot 'out/CloseWait'
Write-Host "Module assembled in $module (Import-Module $module)"

if ($Run) {
    Import-Module (Join-Path $module 'CloseWait.psd1') -Force
    Get-TcpCloseWait | Out-Host
}

if ($Test) {
    $passed = 0; $failed = 0; $skipped = 0
    $results = Join-Path $PSScriptRoot 'out/test-results'
    $null = New-Item -ItemType Directory -Force $results

    if (-not $SkipXunit) {
        $trx = Join-Path $results 'xunit.trx'
        Remove-Item $trx -ErrorAction SilentlyContinue
        dotnet test CloseWait.sln -c $Configuration --no-build --logger "trx;LogFileName=$trx" --logger 'console;verbosity=normal'
        $xunitExit = $LASTEXITCODE
        if (Test-Path $trx) {
            $counters = ([xml](Get-Content -Raw $trx)).TestRun.ResultSummary.Counters
            $passed += [int]$counters.passed
            $failed += [int]$counters.failed + [int]$counters.error + [int]$counters.timeout + [int]$counters.aborted
            $skipped += [int]$counters.notExecuted
            Write-Host "xunit: $($counters.passed) passed, $($counters.failed) failed, $($counters.notExecuted) skipped"
        }
        elseif ($xunitExit) {
            # No results at all (the test host crashed): count the run as one failure.
            $failed++
            Write-Host "xunit: no results (dotnet test exited $xunitExit)"
        }
    }

    if (-not $SkipPester) {
        # Pester comes from NuGet: the test project downloads the package (PackageDownload), whose
        # tools/ folder is the module. No PowerShell gallery is needed.
        $nugetRoot = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages' }
        $pesterManifest = Join-Path $nugetRoot "pester/$PesterVersion/tools/Pester.psd1"
        if (-not (Test-Path $pesterManifest)) { throw "Pester $PesterVersion was not restored to $pesterManifest (dotnet restore CloseWait.sln)" }
        Import-Module $pesterManifest -Force
        $config = New-PesterConfiguration
        $config.Run.Path = if ($PesterPath) { $PesterPath } else { Join-Path $PSScriptRoot 'tests' }
        $config.Run.PassThru = $true
        $config.Output.Verbosity = 'Detailed'
        $config.TestResult.Enabled = $true
        $config.TestResult.OutputPath = Join-Path $results 'pester.xml'
        $pester = Invoke-Pester -Configuration $config
        $passed += $pester.PassedCount
        $failed += $pester.FailedCount + $pester.FailedBlocksCount + $pester.FailedContainersCount
        $skipped += $pester.SkippedCount
        Write-Host "pester: $($pester.PassedCount) passed, $($pester.FailedCount) failed, $($pester.SkippedCount) skipped"
    }

    # The closing line CI reads.
    Write-Host "tests: $passed passed, $failed failed, $skipped skipped"
    if ($failed) { exit 1 }
}

if ($Package) {
    $version = (Import-PowerShellDataFile (Join-Path $module 'CloseWait.psd1')).ModuleVersion
    $zip = Join-Path $PSScriptRoot "out/CloseWait-$version.zip"
    Compress-Archive -Path $module -DestinationPath $zip -Force
    Write-Host "Packaged $zip"

    # The .nupkg a PowerShell repository serves (Install-PSResource CloseWait), made by PSResourceGet
    # (shipped in pwsh 7.4+) from the module folder, as Publish-PSResource would put it in a repository.
    $nupkg = Join-Path $PSScriptRoot "out/CloseWait.$version.nupkg"
    Remove-Item $nupkg -ErrorAction SilentlyContinue
    Import-Module Microsoft.PowerShell.PSResourceGet
    Compress-PSResource -Path $module -DestinationPath (Join-Path $PSScriptRoot 'out')
    if (-not (Test-Path $nupkg)) { throw "Compress-PSResource did not write $nupkg" }
    Write-Host "Packaged $nupkg (publish: Publish-PSResource -NupkgPath $nupkg -Repository <name>)"
}
