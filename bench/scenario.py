#!/usr/bin/env python3
"""Loopback scenario for the benchmark: many established TCP connections, some in CLOSE_WAIT.

Every connection has both ends in one holder process (a forked child named "cw-holder"), so the
scenario has 2 x connections sockets and about as many file descriptors spread over the holders.
For each CLOSE_WAIT connection the client end calls shutdown(SHUT_WR): the peer's accepted socket
sits in CLOSE_WAIT and the client in FIN_WAIT2, both held open (no orphan timers).

Loopback only: listeners on 127.0.0.1, clients bound to 127.0.0.2, 127.0.0.3, ... with explicit
ports below the ephemeral range, so no host setting (ip_local_port_range) is touched or needed.
Every socket has SO_LINGER 0, so tearing down resets them and leaves no TIME_WAIT behind.
Bounded: holders exit when the parent goes away (their control pipe reaches EOF), when stopped,
or after --max-seconds at the latest (SIGALRM).

    python3 bench/scenario.py --connections 1000 --close-wait 100 --holders 10 --hold-seconds 60
"""

import argparse
import ctypes
import fcntl
import os
import resource
import signal
import socket
import struct
import sys
import time

LISTEN_ADDRESS = "127.0.0.1"
LISTEN_PORT_BASE = 30000        # one listener per holder: 30000 + holder index
CLIENT_PORT_BASE = 10000        # clients use 10000..29999 on 127.0.0.2, 127.0.0.3, ...
CLIENT_PORTS = 20000
MAX_HOLDERS = 1000
MAX_CONNECTIONS = CLIENT_PORTS * 200  # 127.0.0.2 .. 127.0.0.201
HOLDER_NAME = b"cw-holder"
LINGER_ABORT = struct.pack("ii", 1, 0)
CLONE_NEWNET = 0x40000000
SIOCSIFFLAGS = 0x8914
IFF_UP_LOOPBACK_RUNNING = 0x1 | 0x8 | 0x40


def enter_private_netns():
    """Moves the calling (single-threaded) process into a new network namespace with its loopback up:
    nothing of the host's network is touched, and what it and its children create there is invisible
    to the host's own socket table."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) (needs root)")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", IFF_UP_LOOPBACK_RUNNING))


def client_endpoint(index):
    return "127.0.0.%d" % (2 + index // CLIENT_PORTS), CLIENT_PORT_BASE + index % CLIENT_PORTS


def _set_name(name):
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(15, ctypes.c_char_p(name), 0, 0, 0)  # PR_SET_NAME: shows as the owner's name
    except OSError:
        pass


def _hold(holder, first, count, close_wait, control_r, ready_w, max_seconds, own_netns=False):
    """Child: build `count` connections (the first `close_wait` of them half-closed), report, wait.
    With `own_netns`, in a network namespace of its own (a container's, as far as the table goes)."""
    # Ctrl-C reaches the whole process group: the parent cleans up, holders follow on EOF.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(max_seconds)
    _set_name(HOLDER_NAME)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    fds = []
    try:
        if own_netns:
            enter_private_netns()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ABORT)
        listener.bind((LISTEN_ADDRESS, LISTEN_PORT_BASE + holder))
        listener.listen(128)
        target = (LISTEN_ADDRESS, LISTEN_PORT_BASE + holder)
        for k in range(count):
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            client.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ABORT)
            client.bind(client_endpoint(first + k))
            client.connect(target)
            server, _ = listener.accept()
            server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ABORT)
            if k < close_wait:
                client.shutdown(socket.SHUT_WR)
            fds.append(client.detach())
            fds.append(server.detach())
        os.write(ready_w, b"ok %d\n" % holder)
    except OSError as e:
        os.write(ready_w, ("err %d %s\n" % (holder, e)).encode())
        os._exit(1)
    os.close(ready_w)
    while True:
        try:
            if os.read(control_r, 1) == b"":
                break
        except InterruptedError:
            continue
    os._exit(0)


class Scenario:
    """Starts the holders; `with Scenario(...) as s:` tears them down however the block ends."""

    def __init__(self, connections, close_wait, holders, max_seconds=3600, netns_per_holder=False):
        if not (1 <= holders <= MAX_HOLDERS):
            raise ValueError("holders must be 1..%d" % MAX_HOLDERS)
        if not (holders <= connections <= MAX_CONNECTIONS):
            raise ValueError("connections must be %d..%d" % (holders, MAX_CONNECTIONS))
        if not (0 <= close_wait <= connections):
            raise ValueError("close-wait must be 0..connections")
        per_holder = -(-connections // holders)
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        if hard != resource.RLIM_INFINITY and 2 * per_holder + 16 > hard:
            raise ValueError("%d connections per holder need %d descriptors, over the open-file limit %d: use more holders"
                             % (per_holder, 2 * per_holder + 16, hard))
        self.connections = connections
        self.close_wait = close_wait
        self.holders = holders
        self.max_seconds = max_seconds
        self.netns_per_holder = netns_per_holder
        self.pids = []
        self._control_w = -1
        self.setup_seconds = 0.0

    def start(self, timeout=600):
        started = time.monotonic()
        control_r, self._control_w = os.pipe()
        ready_r, ready_w = os.pipe()
        first = 0
        for h in range(self.holders):
            count = self.connections // self.holders + (1 if h < self.connections % self.holders else 0)
            cw = self.close_wait // self.holders + (1 if h < self.close_wait % self.holders else 0)
            pid = os.fork()
            if pid == 0:
                try:
                    os.close(self._control_w)
                    os.close(ready_r)
                    _hold(h, first, count, cw, control_r, ready_w, self.max_seconds, self.netns_per_holder)
                finally:
                    os._exit(1)
            self.pids.append(pid)
            first += count
        os.close(control_r)
        os.close(ready_w)
        reports = b""
        deadline = started + timeout
        try:
            with os.fdopen(ready_r, "rb") as ready:
                for _ in range(self.holders):
                    if time.monotonic() > deadline:
                        raise TimeoutError("holders did not get ready within %d s" % timeout)
                    line = ready.readline()
                    if not line:
                        break
                    reports += line
        except BaseException:
            self.stop()
            raise
        errors = [l for l in reports.decode().splitlines() if not l.startswith("ok ")]
        if errors or reports.count(b"\n") != self.holders:
            self.stop()
            raise RuntimeError("scenario failed: %s" % ("; ".join(errors) or "a holder exited early"))
        self.setup_seconds = time.monotonic() - started
        return self

    def stop(self):
        if self._control_w >= 0:
            os.close(self._control_w)  # EOF on the control pipe: every holder exits
            self._control_w = -1
        deadline = time.monotonic() + 60
        for pid in self.pids:
            while True:
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    break
                if done:
                    break
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    break
                time.sleep(0.01)
        self.pids = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--connections", type=int, default=1000)
    p.add_argument("--close-wait", type=int, default=100)
    p.add_argument("--holders", type=int, default=10)
    p.add_argument("--hold-seconds", type=int, default=60, help="keep the scenario this long (max 3600), then clean up")
    p.add_argument("--netns-per-holder", action="store_true", help="each holder in a network namespace of its own")
    a = p.parse_args()
    hold = max(1, min(a.hold_seconds, 3600))
    # A background job starts with SIGINT ignored; SIGTERM and SIGHUP must clean up too.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    with Scenario(a.connections, a.close_wait, a.holders, max_seconds=hold + 120, netns_per_holder=a.netns_per_holder) as s:
        print("%d connections (%d sockets), %d CLOSE_WAIT, %d holders (pids %d..%d), ready in %.1f s; holding %d s (Ctrl-C ends)"
              % (s.connections, 2 * s.connections, s.close_wait, s.holders, s.pids[0], s.pids[-1], s.setup_seconds, hold), flush=True)
        try:
            time.sleep(hold)
        except KeyboardInterrupt:
            pass
    print("cleaned up")


if __name__ == "__main__":
    sys.exit(main())
