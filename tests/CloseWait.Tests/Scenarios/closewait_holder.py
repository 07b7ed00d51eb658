#!/usr/bin/env python3
"""A process that holds loopback sockets in one CLOSE_WAIT scenario, for Test-TcpCloseWait's tests.

    closewait_holder.py MODE [COUNT] [IDLE_SECONDS]

Prints "ready <port>" once its sockets are in place (port: its listening port, or 0), then holds
them until stdin closes (or a "go" line, for the brief mode). Every peer lives in this process too;
a peer that closes leaves nothing behind in this process but the CLOSE_WAIT end.
"""
import os
import socket
import subprocess
import sys
import time

LOOPBACK = "127.0.0.1"


def listener(backlog=64):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((LOOPBACK, 0))
    s.listen(backlog)
    return s


def connect(port):
    c = socket.create_connection((LOOPBACK, port), timeout=10)
    return c


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("peer closed early")
        data += chunk
    return data


def read_to_eof(sock):
    while sock.recv(4096):
        pass


def inbound(count, payload, read, close_peer=True):
    """Peers connect, send payload and close; the accepted ends stay here, read to EOF or not."""
    srv = listener()
    port = srv.getsockname()[1]
    held, peers = [], []
    for _ in range(count):
        c = connect(port)
        if payload:
            c.sendall(payload)
        a, _ = srv.accept()
        if close_peer:
            c.close()
        else:
            peers.append(c)
        if read:
            read_to_eof(a)
        held.append(a)
    return srv, port, held, peers


def pool(count, idle):
    """A client pool: request, response, then the server closes after `idle` seconds; the pool never looks again."""
    srv = listener()
    port = srv.getsockname()[1]
    clients, servers, answered = [], [], []
    for i in range(count):
        if idle > 0 and i:
            time.sleep(0.3)  # requests at different times: an idle timeout closes each at its own time
        c = connect(port)
        a, _ = srv.accept()
        c.sendall(b"GET")
        recv_exact(a, 3)
        a.sendall(b"200 OK")
        recv_exact(c, 6)  # the response only: the FIN that follows stays unread
        answered.append(time.monotonic())
        clients.append(c)
        servers.append(a)
    for a, at in zip(servers, answered):
        if idle > 0:
            time.sleep(max(0.0, at + idle - time.monotonic()))
        a.close()
    # The server side holds no socket here any more: only its listener and the pool's clients.
    return srv, port, clients


def wait_for_close_wait(socks, deadline=10.0):
    """Until each socket has the peer's FIN (CLOSE_WAIT) or the deadline passes."""
    end = time.monotonic() + deadline
    for s in socks:
        while time.monotonic() < end:
            info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
            if info[0] == 8:  # TCP_CLOSE_WAIT
                break
            time.sleep(0.01)


def main():
    mode = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    idle = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    keep = []
    child = None
    port = 0

    if mode == "notclosed":
        srv, port, held, _ = inbound(count, b"request", read=True)
        keep += [srv] + held
        wait_for_close_wait(held)
    elif mode == "notread":
        srv, port, held, _ = inbound(count, b"x" * 100, read=False)
        keep += [srv] + held
        wait_for_close_wait(held)
    elif mode in ("idlepool", "peeridle"):
        srv, port, clients = pool(count, idle if mode == "peeridle" else 0.0)
        keep += [srv] + clients
        wait_for_close_wait(clients)
    elif mode == "inherited":
        srv, port, held, _ = inbound(count, b"request", read=True)
        keep += [srv] + held
        wait_for_close_wait(held)
        # A child that inherits the accepted sockets (no close-on-exec for them).
        child = subprocess.Popen(["sleep", "120"], pass_fds=[a.fileno() for a in held], stdin=subprocess.DEVNULL)
        while True:
            fds = set(os.listdir(f"/proc/{child.pid}/fd"))
            if all(str(a.fileno()) in fds for a in held):
                break
            time.sleep(0.01)
    elif mode == "acceptbacklog":
        srv = listener(backlog=count + 8)
        port = srv.getsockname()[1]
        keep.append(srv)
        for _ in range(count):
            c = connect(port)
            c.sendall(b"request")
            c.close()
        time.sleep(0.05)
    elif mode == "healthy":
        srv, port, held, peers = inbound(count, b"ping", read=False, close_peer=False)
        keep += [srv] + held + peers
    elif mode == "brief":
        srv = listener()
        port = srv.getsockname()[1]
        keep.append(srv)
    else:
        print(f"unknown mode {mode}", file=sys.stderr)
        return 2

    print(f"ready {port} {child.pid if child else 0}", flush=True)
    for line in sys.stdin:
        if line.strip() == "go" and mode == "brief":
            _, _, held, _ = inbound(count, b"request", read=True)
            keep += held
            wait_for_close_wait(held)
            print("went", flush=True)

    if child:
        child.kill()
        child.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
