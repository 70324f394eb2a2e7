#!/usr/bin/env bash
# Downtime of a move: the longest time during which redis refuses or fails requests, measured by a client that
# writes and pings through node1 every 10 ms (bench/redis_probe.py) while redis, with a volume of 10 MiB,
# 100 MiB and 1 GiB, moves from node1 to node2. Side by side, in the same run and on the same data: the
# two-phase move (pre-copy while running, then only the increment while stopped) and Flocker 0.1's way
# (stop, then copy everything: --pre-copy-rounds 0). Targets (issue 6): ≤ 1.5 s at every size, and
# 1 GiB ≤ 1.25 × 10 MiB. Medians of RUNS (default 3) moves of each kind at each size.
# Uses its own sandbox instance (FLOCKER_SANDBOX_ID, default 3) with 3G pools and takes it down at the end.
source "$(dirname "$0")/lib.sh"
SIZES=${SIZES:-"10 100 1024"}
RUNS=${RUNS:-3}
need_binary "$FLOCKER"
W=$(mktemp -d)
trap 'rm -rf "$W"; [ -n "${KEEP:-}" ] || "$SANDBOX" down >/dev/null 2>&1 || true' EXIT
"$SANDBOX" down >/dev/null 2>&1 || true
"$SANDBOX" up --nodes 2 --pool-size 3G >/dev/null
eval "$("$SANDBOX" env)"
N1=$("$SANDBOX" addr node1)
S="ssh -F $FLOCKER_SSH_CONFIG"
source "$ROOT/acceptance/lib.sh"   # reset_nodes, node
EX="$ROOT/examples/redis"


# one_move SIZE_MIB EXTRA_ARGS…: prints "downtime move_seconds"
one_move() {
  local size=$1; shift
  reset_nodes node1 node2
  "$FLOCKER" "$EX/deployment-node1.yml" "$EX/application.yml" > "$W/setup.out" 2>&1 || { cat "$W/setup.out" >&2; exit 1; }
  $S node1 "docker exec flocker--redis sh -c 'head -c $((size * 1048576)) /dev/urandom > /data/filler'"
  python3 "$ROOT/bench/redis_probe.py" "$N1" 6379 600 > "$W/probe.json" &
  local probe=$!
  sleep 2
  local s=$EPOCHREALTIME
  "$FLOCKER" "$EX/deployment-node2.yml" "$EX/application.yml" "$@" > "$W/move.out" 2>&1 || { cat "$W/move.out" >&2; kill $probe; exit 1; }
  local e=$EPOCHREALTIME
  sleep 2
  kill -TERM $probe; wait $probe || true
  printf '%s %s\n' "$(jq -r .downtime "$W/probe.json")" "$(echo "$e - $s" | bc -l)"
}

printf '%-9s %-22s %-22s %-8s\n' "volume" "two-phase: down (move)" "stop+copy: down (move)" "ratio"
declare -A ours
for size in $SIZES; do
  # RUNS moves of each kind, alternating; medians (single moves vary by ±0.2 s on a shared machine).
  d1s=(); m1s=(); d0s=(); m0s=()
  for _ in $(seq 1 "$RUNS"); do
    # Called directly (not in a process substitution), so a failed move stops the benchmark.
    one_move "$size" > "$W/r"; read -r d m < "$W/r"; d1s+=("$d"); m1s+=("$m")
    one_move "$size" --pre-copy-rounds 0 > "$W/r"; read -r d m < "$W/r"; d0s+=("$d"); m0s+=("$m")
  done
  d1=$(printf '%s\n' "${d1s[@]}" | median); m1=$(printf '%s\n' "${m1s[@]}" | median)
  d0=$(printf '%s\n' "${d0s[@]}" | median); m0=$(printf '%s\n' "${m0s[@]}" | median)
  ours[$size]=$d1
  printf '%-9s %-22s %-22s %-8s  (two-phase runs: %s)\n' "${size} MiB" "$(printf '%.2f s (%.1f s)' "$d1" "$m1")" \
    "$(printf '%.2f s (%.1f s)' "$d0" "$m0")" "$(printf '%.1f×' "$(echo "$d0 / $d1" | bc -l)")" "${d1s[*]}"
done
first=${SIZES%% *}; last=${SIZES##* }
printf 'medians of %d runs; two-phase downtime, %s MiB vs %s MiB: %.2f× (target ≤ 1.25×); ratio column = stop+copy downtime / two-phase downtime\n' \
  "$RUNS" "$last" "$first" "$(echo "${ours[$last]} / ${ours[$first]}" | bc -l)"
