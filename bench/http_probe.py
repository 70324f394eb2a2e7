#!/usr/bin/env python3
"""Asks an HTTP server for / every 10 ms through one address, each request on a fresh connection (so every
request follows the current routing), until it is told to stop (SIGTERM) or MAX_SECONDS pass. Any HTTP status
line counts as an answer (busybox httpd answers 404 for a folder without index.html: the server answered).
Prints one JSON object like bench/redis_probe.py's: requests, failures, the longest window during which requests
failed (the downtime) and the slowest request that succeeded, in seconds. WAIT (default 0.5 s) is how long one
request may take, its connect included. Usage: http_probe.py HOST PORT [MAX_SECONDS [WAIT]]"""
import json, signal, socket, sys, time

host, port = sys.argv[1], int(sys.argv[2])
max_seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 300.0
wait = float(sys.argv[4]) if len(sys.argv) > 4 else 0.5
interval = 0.010
stop = False

def on_term(*_):
    global stop
    stop = True

signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)

def request():
    with socket.create_connection((host, port), timeout=wait) as s:
        s.settimeout(wait)
        s.sendall(b"GET / HTTP/1.0\r\nHost: probe\r\n\r\n")
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(256)
            if not chunk:
                raise OSError("closed before a status line")
            data += chunk
        if not data.startswith(b"HTTP/1."):
            raise OSError("bad reply %r" % data[:40])

start = time.monotonic()
requests = failures = 0
fail_since = None
longest = 0.0
slowest = 0.0
windows = []
while not stop and time.monotonic() - start < max_seconds:
    t = time.monotonic()
    requests += 1
    try:
        request()
        slowest = max(slowest, time.monotonic() - t)
        if fail_since is not None:
            window = t - fail_since
            windows.append(round(window, 3))
            longest = max(longest, window)
            fail_since = None
    except OSError:
        failures += 1
        if fail_since is None:
            fail_since = t
    time.sleep(max(0.0, interval - (time.monotonic() - t)))
if fail_since is not None:
    longest = max(longest, time.monotonic() - fail_since)
    windows.append(None)  # still failing at the end
print(json.dumps({"requests": requests, "failures": failures, "downtime": round(longest, 3), "windows": windows,
                  "slowest": round(slowest, 3)}))
