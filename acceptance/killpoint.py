#!/usr/bin/env python3
"""Runs a flocker-deploy command with --json and notes when each output line arrives; for 45-kill-points.

  killpoint.py trace OUT -- CMD...
      Runs CMD to its end. OUT gets one JSON object per output line, {"t": SECONDS_SINCE_LAUNCH, "event": {...}}
      (events carry no times of their own, so the arrival time is the event's time). Exits with CMD's code.

  killpoint.py points TRACE [MERGE_SECONDS]
      The kill points of a traced run, one per line, tab-separated: TIME ANCHOR OFFSET WHAT. For every step,
      its start (a boundary: OFFSET 0) and its half-way point (OFFSET half its duration), TIME being the moment
      in the trace. A point less than MERGE_SECONDS (default 0.005) after the previous one is the same moment
      (two steps of one phase start together) and is left out.

  killpoint.py kill OUT ANCHOR OFFSET -- CMD...
      Runs CMD and sends it SIGKILL OFFSET seconds after the step-started event of the step ANCHOR (see
      step_key: "ACTION NODE APP VOLUME TARGET", "-" for what a step lacks) arrived, or OFFSET seconds after
      the launch when ANCHOR is "start". Anchoring on the event takes out the run's own jitter before it
      (connections, discovery, lock), so a kill point of the trace lands at the same moment of the same step. OUT gets the lines seen, as for trace, then a line
      {"killed": true|false, "t": ..., "in_flight": [steps started and not finished]}. Exits 0 when it killed,
      3 when CMD ended before the moment (the kill point was never reached: a plan unlike the trace's).
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time


def step_key(step):
    """A step's name, the same in every run of one plan: its action, node, application, volume and target (the
    description is not: a handoff's names the new epoch)."""
    return " ".join(str(step.get(k, "-")) for k in ("action", "node", "app", "volume", "target"))


def points(trace, merge):
    started, finished = {}, {}
    for line in open(trace):
        entry = json.loads(line)
        event = entry["event"]
        if event.get("event") == "step-started":
            started[step_key(event["step"])] = (entry["t"], event["step"])
        elif event.get("event") == "step-finished":
            finished[step_key(event["step"])] = entry["t"]
    moments = []
    for key, (t, step) in started.items():
        end = finished.get(key, t)
        what = f'{step["action"]} on {step["node"]}'
        moments.append((t, key, 0.0, f"start of {what}"))
        moments.append((t + (end - t) / 2, key, (end - t) / 2, f"half-way through {what}"))
    last = None
    for t, key, offset, what in sorted(moments):
        if last is not None and t - last < merge:
            continue
        last = t
        print(f"{t:.4f}\t{key}\t{offset:.4f}\t{what}")


def main():
    argv = sys.argv[1:]
    if argv[:1] == ["points"]:
        argv = argv + ["--"]
    if "--" not in argv or len(argv[:argv.index("--")]) < 2:
        sys.exit(__doc__)
    cmd = argv[argv.index("--") + 1:]
    head = argv[:argv.index("--")]
    mode, out_path = head[0], head[1]
    if mode == "points":
        points(out_path, float(head[2]) if len(head) > 2 else 0.005)
        return
    anchor, offset = (head[2], float(head[3])) if mode == "kill" else (None, 0.0)

    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL if mode == "kill" else None)
    lines = []
    in_flight = {}
    lock = threading.Lock()
    anchored = threading.Event()
    anchor_time = [None]
    if anchor == "start":
        anchor_time[0] = start
        anchored.set()

    def reader():
        for raw in proc.stdout:
            t = time.monotonic()
            try:
                event = json.loads(raw)
            except ValueError:
                event = {"text": raw.decode(errors="replace").rstrip("\n")}
            with lock:
                lines.append({"t": round(t - start, 4), "event": event})
                step = event.get("step")
                if event.get("event") == "step-started":
                    in_flight[step_key(step)] = step
                    if anchor is not None and not anchored.is_set() and step_key(step) == anchor:
                        anchor_time[0] = t
                        anchored.set()
                elif event.get("event") == "step-finished":
                    in_flight.pop(step_key(step), None)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    killed = False
    kill_t = None
    if mode == "kill":
        # Wait for the anchor (or the end of the run), then for the offset.
        while not anchored.wait(0.002):
            if proc.poll() is not None and not thread.is_alive():
                break
        if anchored.is_set():
            due = anchor_time[0] + offset
            while proc.poll() is None:
                left = due - time.monotonic()
                if left <= 0:
                    break
                time.sleep(min(left, 0.002))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kill_t = time.monotonic()
                killed = True
                with lock:
                    flying = list(in_flight.values())
    rc = proc.wait()
    thread.join()
    with open(out_path, "w") as f:
        for entry in lines:
            f.write(json.dumps(entry) + "\n")
        if mode == "kill":
            f.write(json.dumps({"killed": killed, "t": None if kill_t is None else round(kill_t - start, 4),
                                "in_flight": flying if killed else []}) + "\n")
    if mode == "kill":
        sys.exit(0 if killed else 3)
    sys.exit(rc)


if __name__ == "__main__":
    main()
