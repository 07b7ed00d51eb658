#!/usr/bin/env python3
"""Clients (and one WSGI app) that drive real servers into CLOSE_WAIT, for RealSoftware.Tests.ps1.

    realsw_clients.py MODE PORT [ARGS...]

Each mode prints "ready <pid>" once its part is done, then holds what it holds until stdin closes.

requests_pool PORT N GAP     N requests.Sessions, one GET each, GAP seconds apart, kept open (never closed)
redis_stall PORT N GAP       redis-py: N clients connected, then DEBUG SLEEP 60 blocks the server, then the N
                             clients and N more (never accepted) ask GET with socket_timeout 1 s, GAP apart
pg_leave SOCKDIR PORT N GAP WAIT
                             psycopg2: N connections each start SELECT pg_sleep(120), GAP apart, and leave
                             WAIT seconds later with a FIN and nothing else (as a client timeout does)
http_leave PORT N GAP WAIT   N connections each send one GET, GAP apart, and close WAIT seconds later
                             without an answer (a client's own timeout)
connect PORT N GAP           N plain connections that send a line and close, GAP apart (N 0: one, then
                             "leaking"; more from a "go" line to a "stop" line; "ready" tells how many)
hold PORT                    a silent backend: accepts and holds every connection
gunicorn_forks PORT N GAP    N requests to a gunicorn app that forks a multiprocessing child per request
                             (N 0: as for connect)
"""
import os
import socket
import sys
import threading
import time

LOOPBACK = "127.0.0.1"


def ready(*extra):
    print(" ".join(["ready", str(os.getpid())] + [str(e) for e in extra]), flush=True)


def leak_until_told(n, gap, one):
    """Calls one() every gap seconds, n times. With n 0: once, then "leaking", then on a line on
    stdin ("go") on until the next line ("stop"), at most 150 times: the leak spans the watch."""
    if n:
        for i in range(n):
            if i:
                time.sleep(gap)
            one()
        return n
    one()
    print("leaking", flush=True)
    sys.stdin.readline()
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    made = 1
    while made < 150 and not stop.wait(gap):
        one()
        made += 1
    stop.wait(120)
    return made


def hold():
    sys.stdin.read()


def requests_pool(port, n, gap):
    import requests

    sessions = []
    for i in range(n):
        if i:
            time.sleep(gap)
        s = requests.Session()
        r = s.get(f"http://{LOOPBACK}:{port}/")
        r.content
        sessions.append(s)  # a Session per call, never closed: its idle connection stays pooled
    ready()
    hold()


def redis_stall(port, n, gap):
    import redis

    early = []
    for _ in range(n):
        c = redis.Redis(host=LOOPBACK, port=port, socket_timeout=1)
        c.ping()  # connected and accepted before the stall
        early.append(c)

    blocker = redis.Redis(host=LOOPBACK, port=port)

    def block():
        try:
            blocker.execute_command("DEBUG", "SLEEP", "60")
        except Exception:
            pass

    threading.Thread(target=block, daemon=True).start()
    time.sleep(0.3)  # let the server take the command: from then on it reads and accepts nothing

    def ask(c):
        try:
            c.get("key")
        except Exception:
            pass  # redis-py closes the connection on its socket_timeout

    threads = []
    late = [redis.Redis(host=LOOPBACK, port=port, socket_timeout=1, socket_connect_timeout=5) for _ in range(n)]
    for i, c in enumerate(early + late):
        if i:
            time.sleep(gap)
        t = threading.Thread(target=ask, args=(c,), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(10)
    ready()
    hold()


def pg_leave(sockdir, port, n, gap, wait):
    import psycopg2
    import psycopg2.extras

    conns = []

    def leave(conn):
        # A FIN and no Terminate message, as when a client's own timeout closes the socket.
        s = socket.socket(fileno=os.dup(conn.fileno()))
        s.shutdown(socket.SHUT_RDWR)
        s.close()

    timers = []
    for i in range(n):
        if i:
            time.sleep(gap)
        conn = psycopg2.connect(host=LOOPBACK, port=port, user="postgres", dbname="postgres", async_=1)
        psycopg2.extras.wait_select(conn)
        cur = conn.cursor()
        cur.execute("SELECT pg_sleep(120)")
        conns.append((conn, cur))
        t = threading.Timer(wait, leave, args=(conn,))
        t.start()
        timers.append(t)
    for t in timers:
        t.join(30)
    ready()
    hold()


def http_leave(port, n, gap, wait):
    conns = []
    timers = []
    for i in range(n):
        if i:
            time.sleep(gap)
        c = socket.create_connection((LOOPBACK, port), timeout=10)
        c.sendall(b"GET / HTTP/1.1\r\nHost: closewait\r\n\r\n")
        conns.append(c)
        t = threading.Timer(wait, c.close)
        t.start()
        timers.append(t)
    for t in timers:
        t.join(30)
    ready()
    hold()


def connect(port, n, gap):
    def one():
        c = socket.create_connection((LOOPBACK, port), timeout=10)
        c.sendall(b"hello\n")
        c.close()

    ready(leak_until_told(n, gap, one))
    hold()


def hold_backend(port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((LOOPBACK, port))
    srv.listen(64)
    held = []

    def accept():
        while True:
            a, _ = srv.accept()
            held.append(a)

    threading.Thread(target=accept, daemon=True).start()
    ready()
    hold()


def gunicorn_forks(port, n, gap):
    import requests

    def one():
        r = requests.get(f"http://{LOOPBACK}:{port}/", headers={"Connection": "close"})
        r.content
        r.close()

    ready(leak_until_told(n, gap, one))
    hold()


def main():
    mode = sys.argv[1]
    args = sys.argv[2:]
    if mode == "requests_pool":
        requests_pool(int(args[0]), int(args[1]), float(args[2]))
    elif mode == "redis_stall":
        redis_stall(int(args[0]), int(args[1]), float(args[2]))
    elif mode == "pg_leave":
        pg_leave(args[0], int(args[1]), int(args[2]), float(args[3]), float(args[4]))
    elif mode == "http_leave":
        http_leave(int(args[0]), int(args[1]), float(args[2]), float(args[3]))
    elif mode == "connect":
        connect(int(args[0]), int(args[1]), float(args[2]))
    elif mode == "hold":
        hold_backend(int(args[0]))
    elif mode == "gunicorn_forks":
        gunicorn_forks(int(args[0]), int(args[1]), float(args[2]))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
