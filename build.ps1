#Requires -Version 5.1
<#
.SYNOPSIS
    Builds CloseWait, runs its tests, and assembles the module folder out/CloseWait.
.EXAMPLE
    ./build.ps1                 # build (Release) and assemble out/CloseWait
.EXAMPLE
    ./build.ps1 -Test           # build, then run the xunit tests (and Pester tests when Pester is installed)
.EXAMPLE
    ./build.ps1 -Package        # build, then zip out/CloseWait into out/CloseWait-<version>.zip
#>
[CmdletBinding()]
param(
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',
    [switch] $Test,
    [switch] $Package
)

$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot

dotnet build CloseWait.sln -c $Configuration
if ($LASTEXITCODE) { throw "dotnet build failed ($LASTEXITCODE)" }

$module = Join-Path $PSScriptRoot 'out/CloseWait'
Write-Host "Module assembled in $module (Import-Module $module)"

if ($Test) {
    dotnet test CloseWait.sln -c $Configuration --no-build
    if ($LASTEXITCODE) { throw "dotnet test failed ($LASTEXITCODE)" }
    if (Get-Module -ListAvailable Pester | Where-Object Version -ge '5.0') {
        # Windows ships Pester 3.4, which command autoloading may pick first: load 5 explicitly.
        Import-Module Pester -MinimumVersion 5.0
        $result = Invoke-Pester -Path (Join-Path $PSScriptRoot 'tests') -PassThru -Output Detailed
        if ($result.FailedCount) { throw "$($result.FailedCount) Pester test(s) failed" }
    }
    else {
        Write-Warning 'Pester 5 is not installed: skipping tests/*.Tests.ps1 (Install-Module Pester).'
    }
}

if ($Package) {
    $version = (Import-PowerShellDataFile (Join-Path $module 'CloseWait.psd1')).ModuleVersion
    $zip = Join-Path $PSScriptRoot "out/CloseWait-$version.zip"
    Compress-Archive -Path $module -DestinationPath $zip -Force
    Write-Host "Packaged $zip"
}
