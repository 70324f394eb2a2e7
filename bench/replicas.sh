#!/usr/bin/env bash
# Replicas (issue 12), side by side in one run:
# 1. Warm moves: redis with a volume of 10 MiB and 1 GiB moves node1 -> node2, once onto a node that holds a
#    replica kept warm by `sync` (replicas: {redis: [node2]}) and once onto a node without one (no replicas:),
#    measuring the whole move (the deploy's wall time) and the downtime (bench/redis_probe.py: SET+PING every
#    10 ms through node1). Targets: warm 1 GiB ≤ 1.3 × warm 10 MiB in move time; downtime ≤ 1.5 s at both sizes.
# 2. Replication lag under writes: redis taking about 1 MiB/s of writes while `sync --every INTERVAL` runs;
#    status --json is sampled every 2 s and the steady-state lag (the largest age of the replica's newest
#    snapshot after the first pass) is printed. Target: ≤ 2 × the interval.
# Medians of RUNS (default 3) moves of each kind. Own sandbox instance (FLOCKER_SANDBOX_ID, default 3), 3G pools.
source "$(dirname "$0")/lib.sh"
SIZES=${SIZES:-"10 1024"}
RUNS=${RUNS:-3}
INTERVAL=${INTERVAL:-10}
LAG_SECONDS=${LAG_SECONDS:-60}
need_binary "$FLOCKER"
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"; [ -n "${KEEP:-}" ] || "$SANDBOX" down >/dev/null 2>&1 || true' EXIT
"$SANDBOX" down >/dev/null 2>&1 || true
"$SANDBOX" up --nodes 2 --pool-size 3G >/dev/null
eval "$("$SANDBOX" env)"
N1=$("$SANDBOX" addr node1)
S="ssh -F $FLOCKER_SSH_CONFIG"
source "$ROOT/acceptance/lib.sh"   # reset_nodes, node
APP="$ROOT/examples/redis/application.yml"
printf 'version: 1\nnodes:\n  node1: [redis]\n  node2: []\nreplicas:\n  redis: [node2]\n' > "$W/warm1.yml"
printf 'version: 1\nnodes:\n  node1: []\n  node2: [redis]\nreplicas:\n  redis: [node1]\n' > "$W/warm2.yml"
printf 'version: 1\nnodes:\n  node1: [redis]\n  node2: []\n' > "$W/cold1.yml"
printf 'version: 1\nnodes:\n  node1: []\n  node2: [redis]\n' > "$W/cold2.yml"

# one_move KIND SIZE_MIB: prints "downtime move_seconds" for a move of redis holding SIZE MiB, onto a warm
# replica (KIND=warm: synced just before, while redis runs) or onto an empty node (KIND=cold).
one_move() {
  local kind=$1 size=$2
  reset_nodes node1 node2
  must "$FLOCKER" "$W/${kind}1.yml" "$APP" >/dev/null
  $S node1 "docker exec flocker--redis sh -c 'head -c $((size * 1048576)) /dev/urandom > /data/filler'"
  [ "$kind" = warm ] && must "$FLOCKER" sync "$W/warm1.yml" "$APP" >/dev/null
  python3 "$ROOT/bench/redis_probe.py" "$N1" 6379 600 > "$W/probe.json" &
  local probe=$!
  sleep 2
  local s=$EPOCHREALTIME
  "$FLOCKER" "$W/${kind}2.yml" "$APP" > "$W/move.out" 2>&1 || { cat "$W/move.out" >&2; kill $probe; exit 1; }
  local e=$EPOCHREALTIME
  sleep 2
  kill -TERM $probe; wait $probe || true
  printf '%s %s\n' "$(jq -r .downtime "$W/probe.json")" "$(echo "$e - $s" | bc -l)"
}

printf '%-9s %-26s %-26s\n' "volume" "warm replica: move (down)" "no replica: move (down)"
declare -A warm_move warm_down
for size in $SIZES; do
  wm=(); wd=(); cm=(); cd=()
  for _ in $(seq 1 "$RUNS"); do
    one_move warm "$size" > "$W/r"; read -r d m < "$W/r"; wd+=("$d"); wm+=("$m")
    one_move cold "$size" > "$W/r"; read -r d m < "$W/r"; cd+=("$d"); cm+=("$m")
  done
  warm_move[$size]=$(printf '%s\n' "${wm[@]}" | median); warm_down[$size]=$(printf '%s\n' "${wd[@]}" | median)
  printf '%-9s %-26s %-26s\n' "${size} MiB" \
    "$(printf '%.2f s (%.2f s)' "${warm_move[$size]}" "${warm_down[$size]}")" \
    "$(printf '%.2f s (%.2f s)' "$(printf '%s\n' "${cm[@]}" | median)" "$(printf '%s\n' "${cd[@]}" | median)")"
done
first=${SIZES%% *}; last=${SIZES##* }
printf 'medians of %d runs; warm move time %s MiB / %s MiB: %.2f× (target ≤ 1.3×); warm downtime %.2f s / %.2f s (target ≤ 1.5 s)\n' \
  "$RUNS" "$last" "$first" "$(echo "${warm_move[$last]} / ${warm_move[$first]}" | bc -l)" "${warm_down[$first]}" "${warm_down[$last]}"

# Replication lag under about 1 MiB/s of writes.
reset_nodes node1 node2
must "$FLOCKER" "$W/warm1.yml" "$APP" >/dev/null
python3 - "$N1" "$LAG_SECONDS" > "$W/writer.out" <<'PY' &
import socket, sys, time
host, seconds = sys.argv[1], float(sys.argv[2])
value = b"x" * (64 << 10)
end = time.time() + seconds
i = 0
with socket.create_connection((host, 6379), timeout=5) as s:
    while time.time() < end:
        key = b"lag:%d" % (i % 64)
        s.sendall(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(value), value))
        s.recv(16)
        i += 1
        time.sleep(1 / 16)   # 16 × 64 KiB a second = 1 MiB/s
print(i)
PY
writer=$!
"$FLOCKER" sync "$W/warm1.yml" "$APP" --every "$INTERVAL" > "$W/sync.out" 2>&1 &
syncer=$!
lags=()
end=$((SECONDS + LAG_SECONDS))
sleep $((INTERVAL + 2))
while [ $SECONDS -lt $end ]; do
  lag=$(must "$FLOCKER" status "$W/warm1.yml" --json | jq -r '[.volumes[0].copies[] | select(.role == "copy") | .replica.lag_seconds] | max')
  lags+=("$lag")
  sleep 2
done
kill -INT $syncer; wait $syncer || true
wait $writer || { echo "replicas: the writer failed" >&2; exit 1; }
passes=$(grep -c '^sync pass' "$W/sync.out" || true)
failed=$(grep '^sync pass' "$W/sync.out" | grep -vc 'with exit 0' || true)
[ "$failed" = 0 ] || { echo "replicas: $failed sync passes failed:" >&2; cat "$W/sync.out" >&2; exit 1; }
maxlag=$(printf '%s\n' "${lags[@]}" | sort -n | tail -n 1)
printf 'replication lag under ~1 MiB/s of writes, sync --every %d s, %d passes (all exit 0), %d samples: median %s s, max %s s (target ≤ %d s)\n' \
  "$INTERVAL" "$passes" "${#lags[@]}" "$(printf '%s\n' "${lags[@]}" | median)" "$maxlag" $((2 * INTERVAL))
