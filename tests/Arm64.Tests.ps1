#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# The Linux back end runs for real on arm64: tools/CloseWait.Arm64/run-qemu.sh builds (once, cached in
# /var/cache/closewait-arm64) an arm64 Debian library tree with debootstrap, publishes a self-contained
# linux-arm64 PowerShell host with the module and runs tools/CloseWait.Arm64/checks.ps1 in it under
# qemu-aarch64-static, against CLOSE_WAIT sockets a host process holds. qemu-user has no
# NETLINK_SOCK_DIAG, so there the module reads /proc/net/tcp and walks /proc/<pid>/fd: the code whose
# open flags and system call numbers differ by architecture. Each check is one test here.
# Needs qemu-user-static and debootstrap (Debian), root (debootstrap), the Debian mirror.

BeforeDiscovery {
    $script:missing = @('qemu-aarch64-static', 'debootstrap') | Where-Object { -not (Get-Command $_ -ErrorAction SilentlyContinue) }
    # debootstrap needs root, unless the tree is already cached.
    $script:haveTree = (Test-Path /var/cache/closewait-arm64/bookworm/.closewait-complete) -or ($IsLinux -and (id -u) -eq '0')
    $script:canRun = $IsLinux -and -not $missing -and $haveTree -and [System.Runtime.InteropServices.RuntimeInformation]::ProcessArchitecture -ne 'Arm64'
}

Describe 'Linux back end on arm64 under qemu-user' -Skip:(-not $canRun) {
    BeforeAll {
        $script:output = & bash (Join-Path $PSScriptRoot '../tools/CloseWait.Arm64/run-qemu.sh') 2>&1 | ForEach-Object { "$_" }
        $script:exit = $LASTEXITCODE
        $output | Out-String | Write-Host
        $script:checks = @($output | Where-Object { $_ -match '^(PASS|FAIL) ' })
    }

    It 'runs in an arm64 process' {
        $checks | Should -Contain 'PASS the process is arm64'
    }

    It 'lists the CLOSE_WAIT sockets from /proc with their owner, queue, inode and user (<_>)' -ForEach 'IPv4', 'IPv6' {
        $checks | Should -Contain "PASS ${_}: Get-TcpCloseWait finds the socket through /proc"
        $checks | Should -Contain "PASS ${_}: the owner is the holder, with its descriptor"
        $checks | Should -Contain "PASS ${_}: 4 unread bytes (5 sent, none read)"
        $checks | Should -Contain "PASS ${_}: the socket has an inode and a user"
        $checks | Should -Contain "PASS ${_}: the listener is found with its owner"
        $checks | Should -Contain "PASS ${_}: the closed client side is a minisocket: no owner, no user, no queues"
    }

    It 'filters by owner, summarizes, reads the keepalive settings and honours -WhatIf' {
        $checks | Should -Contain "PASS Get-TcpConnection -ProcessId lists the holder's four sockets"
        $checks | Should -Contain 'PASS Get-TcpCloseWait -ProcessName finds both'
        $checks | Should -Contain 'PASS Get-TcpConnectionSummary counts both CLOSE_WAIT sockets and the holder'
        $checks | Should -Contain 'PASS Get-TcpKeepAliveSetting reads the kernel values'
        $checks | Should -Contain 'PASS Close-TcpConnection -WhatIf closes nothing'
    }

    It 'passes every check and exits 0' {
        @($checks | Where-Object { $_ -like 'FAIL *' }) | Should -BeNullOrEmpty
        $exit | Should -Be 0
        ($output | Where-Object { $_ -match '^arm64 under qemu: \d+ passed, 0 failed$' }) | Should -Not -BeNullOrEmpty
    }
}
