#!/usr/bin/env bash
# Runs the Linux back end on arm64 for real, under qemu-user, against CLOSE_WAIT sockets a host
# process holds. qemu-user has no NETLINK_SOCK_DIAG, so there the module takes its /proc
# fallback: the /proc/net/tcp parser and the /proc/<pid>/fd owner walk, in an arm64 process.
#   1. an arm64 library tree (debootstrap --foreign, minbase), cached in $ARM64_TREE;
#   2. a self-contained linux-arm64 build of tools/CloseWait.Host (the PowerShell engine 7.6.9);
#   3. checks.ps1 run by that host under qemu-aarch64-static -L <tree>.
# Bounded throughout. Exit status 0 when every check passed. MODULE=<psd1> runs another build of the module.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"

ARM64_TREE="${ARM64_TREE:-/var/cache/closewait-arm64/bookworm}"
QEMU_TIMEOUT="${QEMU_TIMEOUT:-600}"
MODULE="${MODULE:-$repo/out/CloseWait/CloseWait.psd1}"
HOLD_SECONDS=$((QEMU_TIMEOUT + 120))

for tool in qemu-aarch64-static debootstrap; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed: apt-get install -y qemu-user-static debootstrap" >&2; exit 2; }
done

step() { local name="$1"; shift; local t0=$SECONDS; "$@"; echo "== $name: $((SECONDS - t0)) s"; }

# The Debian mirror this machine already uses (deb822 or one-line sources), else the default one.
mirror() {
    local uri
    uri="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n 1 | tr -d ' ')"
    echo "${uri:-http://deb.debian.org/debian}"
}

# The tree is built once and kept: a marker written last says it is complete.
build_tree() {
    if [ -f "$ARM64_TREE/.closewait-complete" ]; then
        echo "== arm64 tree: cached in $ARM64_TREE"
        return
    fi
    local partial="$ARM64_TREE.partial"
    rm -rf "$partial"
    mkdir -p "$(dirname "$ARM64_TREE")"
    local m; m="$(mirror)"
    echo "== arm64 tree: debootstrap --foreign --arch=arm64 --variant=minbase bookworm from $m"
    timeout --kill-after=30 1200 debootstrap --foreign --arch=arm64 --variant=minbase bookworm "$partial" "$m" >"$partial.log" 2>&1 \
        || { tail -n 20 "$partial.log" >&2; echo "debootstrap failed" >&2; exit 1; }
    [ -e "$partial/lib/ld-linux-aarch64.so.1" ] && [ -e "$partial/usr/lib/aarch64-linux-gnu/libstdc++.so.6" ] \
        || { echo "the arm64 tree lacks the loader or libstdc++" >&2; exit 1; }
    touch "$partial/.closewait-complete"
    rm -rf "$ARM64_TREE"; mv "$partial" "$ARM64_TREE"; rm -f "$partial.log"
}

work="$(mktemp -d /tmp/closewait-arm64.XXXXXX)"
chmod 755 "$work"
holder_pid=""
cleanup() {
    if [ -n "$holder_pid" ]; then kill "$holder_pid" 2>/dev/null || true; wait "$holder_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

step "arm64 library tree" build_tree
[ -f "$MODULE" ] || { echo "the module $MODULE is not built: dotnet build CloseWait.sln" >&2; exit 1; }
step "publish linux-arm64 host (self-contained)" \
    timeout 600 dotnet publish tools/CloseWait.Host -c Debug -r linux-arm64 --self-contained -p:InvariantGlobalization=true -o "$work/arm64" -nologo -v quiet
step "build the holder" \
    timeout 600 dotnet build tools/CloseWait.WindowsSmoke -c Debug -o "$work/holder" -nologo -v quiet
# ELF e_machine (offset 18) 0xb7 is EM_AARCH64.
[ "$(od -An -tx1 -j18 -N2 "$work/arm64/CloseWait.Host" | tr -d ' \n')" = "b700" ] || { echo "the published host is not an arm64 program" >&2; exit 1; }

# The holder (a host x86_64 process) keeps an IPv4 and an IPv6 CLOSE_WAIT socket open.
dotnet "$work/holder/CloseWait.WindowsSmoke.dll" --hold --seconds "$HOLD_SECONDS" >"$work/holder.out" &
holder_pid=$!
for _ in $(seq 1 300); do
    grep -q '^READY$' "$work/holder.out" 2>/dev/null && break
    kill -0 "$holder_pid" 2>/dev/null || { cat "$work/holder.out"; echo "the holder exited early" >&2; exit 1; }
    sleep 0.1
done
grep -q '^READY$' "$work/holder.out" || { echo "the holder did not get ready in 30 s" >&2; exit 1; }
cat "$work/holder.out"
v4="$(awk '$1=="HOLD" && $2=="v4" {print $3}' "$work/holder.out")"
v6="$(awk '$1=="HOLD" && $2=="v6" {print $3}' "$work/holder.out")"

cp tools/CloseWait.Arm64/checks.ps1 "$work/checks.ps1"
export CLOSEWAIT_MODULE="$MODULE" DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
# W^X costs a lot under emulation and tells nothing about the module.
export DOTNET_EnableWriteXorExecute=0
t0=$SECONDS
set +e
timeout --kill-after=10 "$QEMU_TIMEOUT" qemu-aarch64-static -L "$ARM64_TREE" "$work/arm64/CloseWait.Host" \
    ". '$work/checks.ps1' -V4Port $v4 -V6Port $v6 -HolderPid $holder_pid" 2>"$work/qemu.err" | tee "$work/checks.out"
rc=${PIPESTATUS[0]}
set -e
echo "== run under qemu-aarch64: $((SECONDS - t0)) s, exit $rc"
if [ "$rc" -ne 0 ]; then
    echo "-- stderr (last 40 lines):"; tail -n 40 "$work/qemu.err"
fi

summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$work/checks.out" | tail -n 1)"
if [ "$rc" -eq 0 ] && [[ "$summary" =~ ^[0-9]+\ passed,\ 0\ failed$ ]]; then
    echo "arm64 under qemu: $summary"
    exit 0
fi
echo "arm64 under qemu FAILED (exit $rc, summary: '$summary')" >&2
exit 1
