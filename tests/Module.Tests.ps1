#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
<#
    The module as a gallery and a new user get it: the manifest, the package build.ps1 -Package
    makes, and the conceptual help. Run after `dotnet build`: Invoke-Pester ./tests/Module.Tests.ps1.
#>

BeforeAll {
    $script:root = Split-Path $PSScriptRoot -Parent
    $script:manifest = Join-Path $root 'out/CloseWait/CloseWait.psd1'
    $script:pwsh = Join-Path $PSHOME 'pwsh'
}

Describe 'Manifest' {
    It 'passes Test-ModuleManifest' {
        $m = Test-ModuleManifest -Path $manifest -ErrorAction Stop
        $m.Name | Should -Be 'CloseWait'
        $m.RootModule | Should -Be 'CloseWait.dll'
        $m.CompatiblePSEditions | Should -Be @('Desktop', 'Core')
    }

    It 'has what a gallery asks for: ProjectUri, LicenseUri, ReleaseNotes and tags without spaces' {
        $m = Test-ModuleManifest -Path $manifest -ErrorAction Stop
        $m.ProjectUri.IsAbsoluteUri | Should -BeTrue
        $m.LicenseUri.IsAbsoluteUri | Should -BeTrue
        $m.ReleaseNotes | Should -Match "^$([regex]::Escape($m.Version.ToString()))"
        $m.Tags.Count | Should -BeGreaterThan 3
        $m.Tags | ForEach-Object { $_ | Should -Not -Match '\s' }
        $m.Description | Should -Not -BeNullOrEmpty
        $m.Author | Should -Be 'CloseWait contributors'
    }

    It 'exports exactly the cmdlets the DLL has' {
        $data = Import-PowerShellDataFile $manifest
        $child = & $pwsh -NoProfile -NonInteractive -Command "Import-Module '$manifest'; (Get-Command -Module CloseWait -CommandType Cmdlet).Name"
        $LASTEXITCODE | Should -Be 0
        $child | Sort-Object | Should -Be ($data.CmdletsToExport | Sort-Object)
    }

    It 'ships an MIT LICENSE held by CloseWait contributors' {
        foreach ($license in (Join-Path $root 'LICENSE'), (Join-Path $root 'out/CloseWait/LICENSE')) {
            $text = Get-Content -Raw $license
            $text | Should -Match '^MIT License'
            $text | Should -Match 'Copyright \(c\) CloseWait contributors'
        }
    }
}

Describe 'about_CloseWait' {
    BeforeAll {
        # In a child pwsh, as a user's session finds it: the module imported from out/CloseWait.
        $script:about = (& $pwsh -NoProfile -NonInteractive -Command "Import-Module '$manifest'; Get-Help about_CloseWait | Out-String -Width 80") -join "`n"
    }

    It 'is found by Get-Help' {
        $about | Should -Match 'TOPIC\s+about_CloseWait'
    }

    It 'explains <term>' -ForEach @(
        @{ Term = 'CLOSE_WAIT' }, @{ Term = 'TIME_WAIT' }, @{ Term = 'FIN' }, @{ Term = 'LastAck' }
        @{ Term = 'load balancer' }, @{ Term = 'HTTP keep-alive' }, @{ Term = 'idle timeout' }
        @{ Term = 'ephemeral port' }, @{ Term = 'Get-TcpCloseWait' }, @{ Term = 'Test-TcpCloseWait' }
        @{ Term = 'Close-TcpConnection' }, @{ Term = 'Stop-Process' }, @{ Term = 'Watch-TcpCloseWait' }
        @{ Term = 'Get-TcpPortUsage' }, @{ Term = 'Set-TcpKeepAliveSetting' }, @{ Term = 'Format-Table -View Wide' }
        @{ Term = 'NotClosed' }, @{ Term = 'NotRead' }, @{ Term = 'PeerIdleTimeout' }, @{ Term = 'IdlePool' }
        @{ Term = 'Inherited' }, @{ Term = 'AcceptBacklog' }
    ) {
        $about | Should -Match ([regex]::Escape($Term))
    }

    It 'fits 80 columns' {
        $about -split '\n' | ForEach-Object { $_.TrimEnd().Length | Should -BeLessOrEqual 80 }
    }
}

Describe 'build.ps1 -Package' {
    BeforeAll {
        $version = (Import-PowerShellDataFile $manifest).ModuleVersion
        $script:zip = Join-Path $root "out/CloseWait-$version.zip"
        Remove-Item $zip -ErrorAction SilentlyContinue
        # As a user runs it; it builds (incrementally) first.
        $script:packageOutput = & $pwsh -NoProfile -NonInteractive -File (Join-Path $root 'build.ps1') -Package 2>&1
        $script:packageExit = $LASTEXITCODE
        $script:unzipped = Join-Path ([IO.Path]::GetTempPath()) ('closewait-package-' + [Guid]::NewGuid().ToString('N'))
    }
    AfterAll {
        Remove-Item -Recurse -Force $unzipped -ErrorAction SilentlyContinue
    }

    It 'writes out/CloseWait-<version>.zip' {
        $packageExit | Should -Be 0 -Because ($packageOutput -join "`n")
        $zip | Should -Exist
    }

    It 'writes out/CloseWait.<version>.nupkg, the package a PowerShell repository serves (Install.Tests.ps1 installs one)' {
        Join-Path $root "out/CloseWait.$version.nupkg" | Should -Exist
    }

    It 'holds the DLL, manifest, views, types, license and en-US help with the about topic' {
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $archive = [System.IO.Compression.ZipFile]::OpenRead($zip)
        try { $entries = $archive.Entries.FullName -replace '\\', '/' } finally { $archive.Dispose() }
        foreach ($f in 'CloseWait.dll', 'CloseWait.psd1', 'CloseWait.Types.ps1xml', 'LICENSE', 'en-US/CloseWait.dll-Help.xml', 'en-US/about_CloseWait.help.txt') {
            $entries | Should -Contain "CloseWait/$f"
        }
        foreach ($format in (Import-PowerShellDataFile $manifest).FormatsToProcess) {
            $entries | Should -Contain "CloseWait/$format"
        }
    }

    It 'imports from the unzipped folder in a fresh pwsh, with views and help' {
        Expand-Archive -Path $zip -DestinationPath $unzipped
        $folder = Join-Path $unzipped 'CloseWait'
        $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$folder'
(Get-Module CloseWait).ModuleBase
(Get-Command Get-TcpCloseWait).Source
(Get-FormatData -TypeName CloseWait.TcpConnection).FormatViewDefinition.Name -join ','
(Get-Help Get-TcpCloseWait).Synopsis
(Get-Help about_CloseWait | Out-String) -match 'CLOSE_WAIT'
"@
        $out = & $pwsh -NoProfile -NonInteractive -Command $script
        $LASTEXITCODE | Should -Be 0
        $out[0] | Should -Be (Resolve-Path $folder).Path
        $out[1] | Should -Be 'CloseWait'
        $out[2] -split ',' | Should -Contain 'Wide'
        $out[3] | Should -Not -BeNullOrEmpty
        $out[4] | Should -Be 'True'
    }
}
