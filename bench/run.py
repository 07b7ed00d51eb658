#!/usr/bin/env python3
"""CloseWait benchmark: Get-TcpCloseWait against ss, netstat, lsof and psutil on one loopback scenario.

    python3 bench/run.py --scenario small            # 1,000 connections, 100 CLOSE_WAIT, 10 holders
    python3 bench/run.py --scenario large            # 100,000 connections, 1,000 CLOSE_WAIT, 100 holders
    python3 bench/run.py --scenario small --smoke    # CI: one round, checks that it works, asserts nothing about time

One run builds the scenario once (bench/scenario.py), then times every tool in the same rounds,
rotating the order each round, and reports medians. External tools are timed as whole processes
(fork to exit, peak RSS from wait4). The cmdlet is timed inside a warm engine: a hosted
System.Management.Automation with the module imported and each case run a few times first, which
is what a user in a pwsh session waits for. Its peak RSS is the engine process's during the call.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from scenario import LISTEN_PORT_BASE, Scenario, enter_private_netns  # noqa: E402

# netns: "host" (the runner's own), "private" (the runner, its tools and holders in one new network
# namespace: the host's table is untouched), "per-holder" (every holder in a namespace of its own).
PRESETS = {
    "small": dict(connections=1000, close_wait=100, holders=10, netns="host"),
    "large": dict(connections=100000, close_wait=1000, holders=100, netns="host"),
    # A million sockets, 10,000 descriptors a holder (under the 20,000 per-process limit).
    "huge": dict(connections=500000, close_wait=1000, holders=100, netns="private"),
    # 200,000 sockets in 50 namespaces (20 stuck in each), and the same 200,000 in one.
    "namespaces": dict(connections=100000, close_wait=1000, holders=50, netns="per-holder"),
    "namespaces-one": dict(connections=100000, close_wait=1000, holders=50, netns="private"),
}
TOOL_TIMEOUT = 300
BENCH_PROJECT = os.path.join(HERE, "CloseWait.Bench", "CloseWait.Bench.csproj")
BENCH_DLL = os.path.join(HERE, "CloseWait.Bench", "bin", "Release", "net10.0", "CloseWait.Bench.dll")
PSUTIL_SCRIPT = ("import psutil\n"
                 "c = [x for x in psutil.net_connections('tcp') if x.status == psutil.CONN_CLOSE_WAIT]\n"
                 "print('\\n'.join('%s %s' % (x.laddr, x.pid) for x in c))\n")


def count_ss(out):
    lines = out.splitlines()[1:]
    return len(lines), sum(1 for l in lines if "users:" in l)


def count_netstat(out):
    lines = [l for l in out.splitlines() if "CLOSE_WAIT" in l]
    return len(lines), sum(1 for l in lines if not l.rstrip().endswith("-"))


def count_lsof(out):
    lines = out.splitlines()[1:]
    return len(lines), len(lines)


def count_psutil(out):
    lines = out.splitlines()
    return len(lines), sum(1 for l in lines if not l.endswith(" None"))


def count_proc(out):
    n = sum(1 for l in out.splitlines() if len(l.split()) > 3 and l.split()[3] == "08")
    return n, 0


def external_tools(have_psutil):
    tools = [
        dict(name="ss -tanp state close-wait", argv=["ss", "-tanp", "state", "close-wait"], count=count_ss, owners=True),
        dict(name="ss -tan state close-wait", argv=["ss", "-tan", "state", "close-wait"], count=count_ss, owners=False),
        dict(name="ss -tan sport = :%d" % LISTEN_PORT_BASE, argv=["ss", "-tan", "sport", "=", ":%d" % LISTEN_PORT_BASE], count=count_ss, owners=False),
        dict(name="netstat -tanp | grep CLOSE_WAIT", argv=["netstat", "-tanp"], count=count_netstat, owners=True, slow=True),
        dict(name="lsof -nP -iTCP -sTCP:CLOSE_WAIT", argv=["lsof", "-nP", "-iTCP", "-sTCP:CLOSE_WAIT"], count=count_lsof, owners=True, slow=True),
        dict(name="cat /proc/net/tcp /proc/net/tcp6", argv=["cat", "/proc/net/tcp", "/proc/net/tcp6"], count=count_proc, owners=False),
    ]
    if have_psutil:
        tools.append(dict(name="psutil net_connections", argv=[sys.executable, "-c", PSUTIL_SCRIPT], count=count_psutil, owners=True, slow=True))
    return [t for t in tools if shutil.which(t["argv"][0])]


def spawn(argv):
    """Whole process, fork to exit, bounded by TOOL_TIMEOUT: (seconds, exit code, stdout, timed out)."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        # A blocking wait sees the exit at once; Popen.wait(timeout) polls with sleeps of up to
        # 50 ms, which would add tens of milliseconds to a fast tool. A timer bounds it instead.
        watchdog = threading.Timer(TOOL_TIMEOUT, p.kill)
        watchdog.start()
        # wait4 also gives the child's user + system time (CPU), less noisy than wall time on a shared box.
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        watchdog.cancel()
        elapsed = time.perf_counter() - started
        out.seek(0)
        spawn.cpu = usage.ru_utime + usage.ru_stime
        return elapsed, p.returncode, out.read().decode(errors="replace"), elapsed >= TOOL_TIMEOUT


def run_external(tool):
    elapsed, code, text, timed_out = spawn(tool["argv"])
    count, owned = tool["count"](text)
    return dict(ms=elapsed * 1000, cpuMs=spawn.cpu * 1000, count=count, owned=owned, exit=code, timedOut=timed_out)


def peak_rss(tool):
    """Peak RSS from one extra, untimed run under /usr/bin/time: a child forked from this Python
    process would report Python's own RSS as its floor (Linux carries the high-water mark across exec)."""
    with tempfile.NamedTemporaryFile(mode="r") as report:
        spawn(["/usr/bin/time", "-f", "%M", "-o", report.name] + tool["argv"])
        lines = report.read().split()
        return int(lines[-1]) * 1024 if lines and lines[-1].isdigit() else None


class Engine:
    """The warm PowerShell engine (CloseWait.Bench serve), one JSON line per request."""

    def __init__(self):
        self.proc = subprocess.Popen(["dotnet", BENCH_DLL, "serve", str(LISTEN_PORT_BASE)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.info = json.loads(self._read())
        self.cases = self.info["cases"]

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the engine process exited (exit %s)" % self.proc.wait())
        return line

    def run(self, case):
        self.proc.stdin.write("run %s\n" % case)
        self.proc.stdin.flush()
        r = json.loads(self._read())
        if "error" in r:
            raise RuntimeError(r["error"])
        return r

    def watch(self, variant, samples, interval_ms):
        self.proc.stdin.write("watch %s %d %d\n" % (variant, samples, interval_ms))
        self.proc.stdin.flush()
        r = json.loads(self._read())
        if "error" in r:
            raise RuntimeError(r["error"])
        return r

    def close(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


SS_OWNERS = "ss -tanp state close-wait"
SS_PLAIN = "ss -tan state close-wait"
SS_PORT = "ss -tan sport = :%d" % LISTEN_PORT_BASE
ENGINE_CASES = {
    "owners": dict(name="Get-TcpCloseWait", ref=SS_OWNERS),
    "noowner": dict(name="Get-TcpCloseWait -NoOwner", ref=SS_PLAIN),
    "render": dict(name="Get-TcpCloseWait | Out-Default", ref=SS_OWNERS),
    "allns": dict(name="Get-TcpCloseWait -AllNetworkNamespaces", ref=SS_OWNERS),
    "allnsdiagnose": dict(name="Test-TcpCloseWait -AllNetworkNamespaces", ref=SS_OWNERS),
    "allnsexport": dict(name="Export-TcpCloseWaitMetric -AllNetworkNamespaces", ref=None),
    "port": dict(name="Get-TcpConnection -LocalPort %d -NoOwner" % LISTEN_PORT_BASE, ref=SS_PORT),
    "summary": dict(name="Get-TcpConnectionSummary", ref=None),
    "summarynoowner": dict(name="Get-TcpConnectionSummary -NoOwner", ref=None),
    "portusage": dict(name="Get-TcpPortUsage", ref=None),
    "diagnose": dict(name="Test-TcpCloseWait", ref=SS_OWNERS),
}


WATCH_CASES = ["noowner", "owners", "noowner-churn", "owners-churn"]
WATCH_NAMES = {
    "noowner": "`Watch-TcpCloseWait -NoOwner`, steady table",
    "owners": "`Watch-TcpCloseWait`, steady table",
    "noowner-churn": "`Watch-TcpCloseWait -NoOwner`, a new CLOSE_WAIT socket every second",
    "owners-churn": "`Watch-TcpCloseWait`, a new CLOSE_WAIT socket every second",
}


def machine():
    mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal:")), "0")
    return dict(date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                nproc=os.cpu_count(), kernel=platform.release(), memGiB=round(int(mem) / 1048576, 1),
                loadavg=open("/proc/loadavg").read().split()[:3])


def count_fds():
    total = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                total += len(os.listdir("/proc/%s/fd" % pid))
            except OSError:
                pass
    return total


def build():
    subprocess.run(["dotnet", "build", "-c", "Release", "-nologo", "-v", "q", BENCH_PROJECT], check=True, cwd=REPO,
                   stdout=subprocess.DEVNULL)


def summarize(rows, key):
    return statistics.median(r[key] for r in rows)


def rss(rows):
    values = [r["peakRssBytes"] for r in rows if r.get("peakRssBytes")]
    return statistics.median(values) / 1048576 if values else None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", choices=sorted(PRESETS), default="small")
    p.add_argument("--connections", type=int)
    p.add_argument("--close-wait", type=int)
    p.add_argument("--holders", type=int)
    p.add_argument("--netns", choices=["host", "private", "per-holder"], help="where the scenario lives (default: the preset's)")
    p.add_argument("--rounds", type=int, default=7, help="rounds of every fast tool (medians over these)")
    p.add_argument("--slow-rounds", type=int, default=3, help="rounds of netstat, lsof and psutil (seconds each on large tables)")
    p.add_argument("--skip-slow", action="store_true", help="leave out netstat, lsof and psutil")
    p.add_argument("--profile", action="store_true", help="also time the back end's phases (dump, owner walk)")
    p.add_argument("--watch-samples", type=int, default=20,
                   help="samples (1 s apart) of each Watch-TcpCloseWait case: CPU per sample, with and without owners, steady and with a new socket every second")
    p.add_argument("--skip-watch", action="store_true", help="leave out the Watch-TcpCloseWait cases")
    p.add_argument("--watch-rounds", type=int, default=1, help="rounds of the four watch cases, interleaved (medians over these)")
    p.add_argument("--smoke", action="store_true", help="one round; fail only if a tool does not work")
    p.add_argument("--no-build", action="store_true")
    p.add_argument("--json", help="write every measurement here")
    a = p.parse_args()
    shape = dict(PRESETS[a.scenario])
    for k in ("connections", "close_wait", "holders", "netns"):
        if getattr(a, k) is not None:
            shape[k] = getattr(a, k)
    rounds = 1 if a.smoke else max(1, min(a.rounds, 50))
    slow_rounds = 1 if a.smoke else max(1, min(a.slow_rounds, rounds))

    if not a.no_build:
        build()
    try:
        import psutil  # noqa: F401
        have_psutil = True
    except ImportError:
        have_psutil = False
    tools = [t for t in external_tools(have_psutil) if not (a.skip_slow and t.get("slow"))]
    info = dict(machine=machine(), scenario=shape, rounds=rounds, slowRounds=slow_rounds,
                psutil=have_psutil, results={}, raw={})

    netns = shape.pop("netns")
    if netns in ("private", "per-holder"):
        # After the build (which may need the network); the engine, ss and the holders start in here.
        enter_private_netns()
    with Scenario(netns_per_holder=(netns == "per-holder"), **shape) as s:
        info["setupSeconds"] = round(s.setup_seconds, 1)
        info["fds"] = count_fds()
        engine = Engine()
        try:
            info["engine"] = engine.info
            entries = [("engine", c) for c in engine.cases if c in ENGINE_CASES] + [("tool", t) for t in tools]
            raw = {}
            for r in range(rounds):
                shift = r % len(entries)
                for kind, e in entries[shift:] + entries[:shift]:
                    if kind == "engine":
                        raw.setdefault(ENGINE_CASES[e]["name"], []).append(engine.run(e))
                    elif r < slow_rounds or not e.get("slow"):
                        raw.setdefault(e["name"], []).append(run_external(e))
            if os.path.exists("/usr/bin/time"):
                for t in tools:
                    peak = peak_rss(t)
                    for row in raw.get(t["name"], []):
                        row["peakRssBytes"] = peak
            if not a.skip_watch:
                samples = 3 if a.smoke else max(3, min(a.watch_samples, 600))
                for v in WATCH_CASES:
                    engine.watch(v, 3, 100)  # JIT and first-call costs, not measured
                info["watch"] = [engine.watch(v, samples, 1000)
                                 for _ in range(1 if a.smoke else max(1, min(a.watch_rounds, 10))) for v in WATCH_CASES]
            if a.profile:
                prof = subprocess.run(["dotnet", BENCH_DLL, "profile", str(max(3, rounds)), str(LISTEN_PORT_BASE)], check=True,
                                      stdout=subprocess.PIPE, text=True, timeout=600).stdout
                info["profile"] = [json.loads(l) for l in prof.splitlines() if l.strip()]
        finally:
            engine.close()
    info["machine"]["loadavgAfter"] = open("/proc/loadavg").read().split()[:3]
    info["raw"] = raw

    refs = {e["name"]: e["ref"] for e in ENGINE_CASES.values()}
    refs.update({t["name"]: SS_OWNERS if t["owners"] else SS_PLAIN for t in tools})
    refs[SS_PORT] = SS_PORT
    ref_ms = {n: summarize(raw[n], "ms") for n in (SS_OWNERS, SS_PLAIN, SS_PORT) if n in raw}
    ref_cpu = {n: summarize(raw[n], "cpuMs") for n in (SS_OWNERS, SS_PLAIN, SS_PORT) if n in raw and all("cpuMs" in r for r in raw[n])}
    m = info["machine"]
    print("\n## %s scenario: %d connections (%d sockets), %d CLOSE_WAIT, %d holders, %d fds on the machine; network namespace: %s"
          % (a.scenario, shape["connections"], 2 * shape["connections"], shape["close_wait"], shape["holders"], info["fds"], netns))
    print("%s; %d cores, Linux %s, %.1f GiB; load %s before, %s after; %d rounds (netstat, lsof, psutil: %d); psutil %s"
          % (m["date"], m["nproc"], m["kernel"], m["memGiB"], "/".join(m["loadavg"]), "/".join(m["loadavgAfter"]),
             rounds, slow_rounds, "present" if have_psutil else "not installed"))
    print("The cmdlet is timed inside a warm engine (hosted System.Management.Automation %s, module imported, %d warm-up runs);"
          % (engine.info.get("engine"), engine.info["warmUpRuns"]))
    print("the other tools as whole processes. Peak RSS: whole process; for the cmdlet, the engine process during the call.")
    print("Module build: %s.\n" % ("Release (optimized)" if engine.info.get("moduleOptimized") else "DEBUG, UNOPTIMIZED: numbers are not representative"))
    print("| tool | median ms | min..max ms | ratio to ss | median CPU ms | CPU ratio | found | with owner | peak RSS MiB | allocated MiB/call |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, rows in raw.items():
        med = summarize(rows, "ms")
        ref = ref_ms.get(refs.get(name))
        ratio = "%.2f× `%s`" % (med / ref, refs[name]) if ref and refs[name] != name else ("1.00×" if ref else "")
        alloc = "%.2f" % (summarize(rows, "allocatedBytes") / 1048576) if "allocatedBytes" in rows[0] else ""
        cpu = summarize(rows, "cpuMs") if all("cpuMs" in r for r in rows) else None
        cref = ref_cpu.get(refs.get(name))
        info["results"][name] = dict(medianMs=med, ratio=(med / ref) if ref else None, medianCpuMs=cpu,
                                     cpuRatio=(cpu / cref) if cpu is not None and cref else None,
                                     peakRssMiB=rss(rows), count=rows[-1]["count"])
        print("| `%s` | %.1f | %.1f..%.1f | %s | %s | %s | %d | %d | %s | %s |"
              % (name.replace("|", "\\|"), med, min(r["ms"] for r in rows), max(r["ms"] for r in rows), ratio,
                 "%.1f" % cpu if cpu is not None else "", "%.2f×" % (cpu / cref) if cpu is not None and cref else "",
                 rows[-1]["count"], rows[-1]["owned"], "%.1f" % rss(rows) if rss(rows) else "", alloc))
    for name in ("Get-TcpCloseWait", "Get-TcpCloseWait -NoOwner"):
        rows = raw.get(name)
        if rows:
            print("\n`%s`: heap before %.1f MiB, retained after with the output alive %.1f MiB; engine RSS %.0f MiB, peak during call %.0f MiB (+%.1f); allocated %.0f bytes per object returned"
                  % (name, summarize(rows, "heapBeforeBytes") / 1048576, summarize(rows, "heapAfterBytes") / 1048576,
                     summarize(rows, "baseRssBytes") / 1048576, summarize(rows, "peakRssBytes") / 1048576,
                     (summarize(rows, "peakRssBytes") - summarize(rows, "baseRssBytes")) / 1048576,
                     summarize(rows, "allocatedBytes") / max(1, rows[-1]["count"])))
    if SS_OWNERS in ref_ms and "Get-TcpCloseWait" in raw:
        print("\nTarget (large scenario) with owners ≤ 0.20× ss -tanp: %.2f×" % info["results"]["Get-TcpCloseWait"]["ratio"])
    if SS_PLAIN in ref_ms and "Get-TcpCloseWait -NoOwner" in raw:
        print("Target (large scenario) without owners ≤ 0.40× ss -tan: %.2f×" % info["results"]["Get-TcpCloseWait -NoOwner"]["ratio"])
    if SS_OWNERS in ref_cpu and info["results"].get("Get-TcpCloseWait", {}).get("cpuRatio"):
        print("  in CPU time: %.2f×" % info["results"]["Get-TcpCloseWait"]["cpuRatio"])
    if SS_PLAIN in ref_cpu and info["results"].get("Get-TcpCloseWait -NoOwner", {}).get("cpuRatio"):
        print("  without owners, in CPU time: %.2f×" % info["results"]["Get-TcpCloseWait -NoOwner"]["cpuRatio"])
    if "Test-TcpCloseWait" in raw and "Get-TcpCloseWait" in raw:
        print("Target Test-TcpCloseWait ≤ 1.15× Get-TcpCloseWait: %.2f× (CPU %s)"
              % (summarize(raw["Test-TcpCloseWait"], "ms") / summarize(raw["Get-TcpCloseWait"], "ms"),
                 "%.2f×" % (info["results"]["Test-TcpCloseWait"]["medianCpuMs"] / info["results"]["Get-TcpCloseWait"]["medianCpuMs"])
                 if info["results"]["Get-TcpCloseWait"].get("medianCpuMs") else "n/a"))
    if "Test-TcpCloseWait -AllNetworkNamespaces" in raw and "Get-TcpCloseWait -AllNetworkNamespaces" in raw:
        print("Test-TcpCloseWait -AllNetworkNamespaces / Get-TcpCloseWait -AllNetworkNamespaces: %.2f×"
              % (summarize(raw["Test-TcpCloseWait -AllNetworkNamespaces"], "ms") / summarize(raw["Get-TcpCloseWait -AllNetworkNamespaces"], "ms")))
    if info.get("watch"):
        print("\nWatch-TcpCloseWait -Interval 1 -Count %d in the warm engine: the engine process's CPU time (user + system, every thread,"
              " the kernel's dump included) over the watch, per sample." % info["watch"][0]["samples"])
        print("First sample: the CPU time until its events arrived (with owners: one walk of every process);"
              " later samples: the rest over the other samples. Ratio: to the -NoOwner watch of the same table, same rounds (medians).")
        print("\n| watch | CPU ms per sample | ratio | first sample CPU ms | later samples CPU ms each | ratio | cores (CPU / wall) | wall s | Entered (with owner) | churn sockets Entered (with owner) | Growing |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        by = {}
        for w in info["watch"]:
            by.setdefault(w["case"].split(" ", 1)[1], []).append(w)
        med = {v: dict(all=statistics.median(x["cpuMsPerSample"] for x in rows),
                       later=statistics.median(x["cpuMsPerLaterSample"] for x in rows if x.get("cpuMsPerLaterSample") is not None)
                       if any(x.get("cpuMsPerLaterSample") is not None for x in rows) else None)
               for v, rows in by.items()}
        info["watchMedians"] = med
        for variant, rows in by.items():
            w = rows[-1]
            base = med.get(variant.replace("owners", "noowner"))
            m = med[variant]
            print("| %s | %.1f | %s | %.0f | %s | %s | %.3f | %.1f | %d (%d) | %d (%d) | %d |"
                  % (WATCH_NAMES[variant], m["all"], "%.2f×" % (m["all"] / base["all"]) if base and base["all"] else "",
                     statistics.median(x["firstSampleCpuMs"] for x in rows),
                     "%.1f" % m["later"] if m["later"] is not None else "",
                     "%.2f×" % (m["later"] / base["later"]) if base and base["later"] and m["later"] is not None else "",
                     w["cores"], w["wallMs"] / 1000, w["entered"], w["enteredWithOwner"],
                     w.get("churnEntered", 0), w.get("churnEnteredWithOwner", 0), w["growing"]))
    for ph in info.get("profile", []):
        print("profile %-34s median %7.1f ms (min %.1f, max %.1f), CPU %7.1f ms, result %d"
              % (ph["phase"], ph["medianMs"], ph["minMs"], ph["maxMs"], ph["cpuMedianMs"], ph["result"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(info, f, indent=1)

    # Works, nothing about time: every tool answered and the cmdlet found at least the scenario's sockets with owners.
    problems = [n for n, rows in raw.items() if any(r.get("timedOut") or r.get("exit", 0) not in (0, 1) for r in rows)]
    # With a namespace per holder the runner's own namespace holds none: only the scan of every namespace finds them.
    cw = raw.get("Get-TcpCloseWait -AllNetworkNamespaces" if netns == "per-holder" else "Get-TcpCloseWait", [{}])[-1]
    if cw.get("count", 0) < shape["close_wait"] or cw.get("owned", 0) < shape["close_wait"]:
        problems.append("Get-TcpCloseWait found %s CLOSE_WAIT sockets (%s with owner), expected at least %d"
                        % (cw.get("count"), cw.get("owned"), shape["close_wait"]))
    if problems:
        print("\nFAILED: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
