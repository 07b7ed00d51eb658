#!/usr/bin/env bash
# Runs the Windows smoke harness under Wine against CLOSE_WAIT sockets a Linux process holds.
# Bounded throughout; a private WINEPREFIX in a temporary directory, removed afterwards.
# Exit status: 0 when every check passed, non-zero otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."

WINE_TIMEOUT="${WINE_TIMEOUT:-240}"
HOLD_SECONDS=$((WINE_TIMEOUT + 120))

if ! command -v wine >/dev/null; then
    echo "wine is not installed: apt-get install -y wine (Debian 12: wine 8.0)" >&2
    exit 2
fi
echo "== $(wine --version)"

work="$(mktemp -d /tmp/closewait-wine.XXXXXX)"
holder_pid=""
export WINEPREFIX="$work/prefix"
cleanup() {
    if [ -n "$holder_pid" ]; then kill "$holder_pid" 2>/dev/null || true; wait "$holder_pid" 2>/dev/null || true; fi
    timeout 60 wineserver -k 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
# Stopped from outside (a CI timeout): still stop the holder and Wine.
trap 'exit 143' TERM INT

step() { local name="$1"; shift; local t0=$SECONDS; "$@"; echo "== $name: $((SECONDS - t0)) s"; }

# Debug, as the tests build it: the module DLL is then the very one the tests load.
step "publish win-x64 (self-contained)" \
    dotnet publish tools/CloseWait.WindowsSmoke -c Debug -r win-x64 --self-contained -o "$work/win" -nologo -v quiet
step "build the Linux holder" \
    dotnet build tools/CloseWait.WindowsSmoke -c Debug -o "$work/linux" -nologo -v quiet

dotnet "$work/linux/CloseWait.WindowsSmoke.dll" --hold --seconds "$HOLD_SECONDS" >"$work/holder.out" &
holder_pid=$!
for _ in $(seq 1 300); do
    grep -q '^READY$' "$work/holder.out" 2>/dev/null && break
    kill -0 "$holder_pid" 2>/dev/null || { cat "$work/holder.out"; echo "the holder exited early" >&2; exit 1; }
    sleep 0.1
done
grep -q '^READY$' "$work/holder.out" || { echo "the holder did not get ready in 30 s" >&2; exit 1; }
cat "$work/holder.out"
v4="$(awk '$1=="HOLD" && $2=="v4" {print $3 ":" $4}' "$work/holder.out")"
v6="$(awk '$1=="HOLD" && $2=="v6" {print $3 ":" $4}' "$work/holder.out")"

# winedbg disabled: an unhandled exception must fail the run, not exit 0 behind a debugger.
export WINEDLLOVERRIDES="winedbg.exe=d"
export WINEDEBUG="${WINEDEBUG:--all}"
# Create the prefix and let its services (nsiproxy, which serves GetExtendedTcpTable) start
# before the harness runs, so that the run's timings are the calls' own.
step "create the Wine prefix" timeout --kill-after=10 120 wineboot --init
step "wait for the prefix's services" timeout --kill-after=10 60 wineserver --wait
t0=$SECONDS
set +e
# Wine's CoreCLR dies at random finalizing dynamic methods ("Internal CLR error", DynamicResolver
# +DestroyScout.Finalize; seen in about half of the runs once PowerShell compiles more script): a
# gen0 budget of 512 MiB keeps the GC, and so that finalizer, from running during the short smoke.
DOTNET_GCgen0size=0x20000000 timeout --kill-after=10 "$WINE_TIMEOUT" wine "$work/win/CloseWait.WindowsSmoke.exe" --v4 "$v4" --v6 "$v6" 2>"$work/wine.err" | tee "$work/smoke.out"
rc=${PIPESTATUS[0]}
set -e
echo "== run under wine: $((SECONDS - t0)) s, exit $rc"
if [ "$rc" -ne 0 ]; then
    echo "-- wine stderr (last 40 lines):"; tail -n 40 "$work/wine.err"
fi

# Wine can exit 0 after a crash: trust only the harness's own summary line.
summary="$(tail -n 1 "$work/smoke.out" | tr -d '\r')"
if [ "$rc" -eq 0 ] && [[ "$summary" =~ ^[0-9]+\ passed,\ 0\ failed$ ]]; then
    echo "Windows smoke under Wine: $summary"
    exit 0
fi
echo "Windows smoke under Wine FAILED (exit $rc, last line: '$summary')" >&2
exit 1
