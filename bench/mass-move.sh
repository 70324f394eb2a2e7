#!/usr/bin/env bash
# Mass move (issue 14): N nodes × 3 applications, a quarter of them with a volume, every application moved to
# the next node at once (one deploy), for N in NS (default "4 8 16"). For each N: the deploy's wall time, and
# for two probed applications, the failed requests and the slowest request of a client that opens a new
# connection every 10 ms through node1's routing mesh and waits up to WAIT (default 8) seconds for each:
#   - a stateless application (busybox httpd; bench/http_probe.py);
#   - an application with a volume (redis with a few MiB of data; bench/redis_probe.py).
# Beside them, in the same run and on the first N's cluster: the single-application figures, the same two
# applications each moved alone. Targets: 0 failed requests at every N; the slowest request of the application
# with a volume ≤ 3 × its single-application figure. Only the command line is used (deployment files and
# flocker-deploy's exit status), so the script runs unchanged on any engine.
# Uses its own sandbox instance (FLOCKER_SANDBOX_ID, default 3) and takes it down at the end.
source "$(dirname "$0")/lib.sh"
NS=${NS:-"4 8 16"}
WAIT=${WAIT:-8}
need_binary "$FLOCKER"
W=$(mktemp -d)
probes=()
cleanup() {
  local p
  for p in "${probes[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$W"
  [ -n "${KEEP:-}" ] || "$SANDBOX" down >/dev/null 2>&1 || true
}
trap cleanup EXIT
"$SANDBOX" down >/dev/null 2>&1 || true
source "$ROOT/acceptance/lib.sh"   # reset_nodes

# apps N: the application file for N nodes: 3N applications; v1…vV (V = 3N/4) with a volume (v1 is redis, the
# probed one; the others busybox httpd writing nothing), s1…sS without (s1 is the probed one). Ports: redis
# 6379, the others 10000 + index.
apps() {
  local n=$1 v=$(( 3 * $1 / 4 )) s i
  s=$(( 3 * n - v ))
  echo "version: 1"; echo "applications:"
  printf '  v1:\n    image: redis:7\n    ports: [{internal: 6379, external: 6379}]\n    volume: {mountpoint: /data}\n'
  for i in $(seq 2 "$v"); do
    printf '  v%d:\n    image: busybox:latest\n    command: ["httpd", "-f", "-p", "80"]\n    ports: [{internal: 80, external: %d}]\n    volume: {mountpoint: /data}\n' "$i" $((10000 + i))
  done
  for i in $(seq 1 "$s"); do
    printf '  s%d:\n    image: busybox:latest\n    command: ["httpd", "-f", "-p", "80"]\n    ports: [{internal: 80, external: %d}]\n' "$i" $((10100 + i))
  done
}

# names N: every application's name, in a fixed order (volumes first).
names() {
  local n=$1 v=$(( 3 * $1 / 4 )) i
  for i in $(seq 1 "$v"); do echo "v$i"; done
  for i in $(seq 1 $(( 3 * n - v ))); do echo "s$i"; done
}

# deployment N SHIFT [ONLY…]: application k (0-based, in `names` order) on node ((k + SHIFT) mod N) + 1; with
# ONLY, only those applications are shifted (the others keep SHIFT 0).
deployment() {
  local n=$1 shift_by=$2; shift 2
  local only=" $* " k=0 a node
  declare -A on=()
  while read -r a; do
    local s=0
    if [ "$only" = "  " ] || [[ $only == *" $a "* ]]; then s=$shift_by; fi
    node=$(( (k + s) % n + 1 ))
    on[$node]="${on[$node]:+${on[$node]}, }$a"
    k=$((k + 1))
  done < <(names "$n")
  echo "version: 1"; echo "nodes:"
  for node in $(seq 1 "$n"); do echo "  node$node: [${on[$node]:-}]"; done
}

# move N SHIFT [ONLY…]: deploy (timed, its exit checked) with both probes running; prints
# "seconds http_failed http_slowest http_down redis_failed redis_slowest redis_down requests_http requests_redis"
# (down: the longest window during which requests failed).
move() {
  local n=$1 shift_by=$2; shift 2
  deployment "$n" "$shift_by" "$@" > "$W/move.yml"
  python3 "$ROOT/bench/http_probe.py" "$N1" 10101 900 "$WAIT" > "$W/http.json" & local hp=$!
  python3 "$ROOT/bench/redis_probe.py" "$N1" 6379 900 "$WAIT" > "$W/redis.json" & local rp=$!
  probes=("$hp" "$rp")
  sleep 2
  local s=$EPOCHREALTIME
  must "$FLOCKER" "$W/move.yml" "$W/app.yml" > "$W/move.out"
  local e=$EPOCHREALTIME
  sleep 2
  kill -TERM "$hp" "$rp"; wait "$hp" || true; wait "$rp" || true
  probes=()
  printf '%.2f %s %s %s %s %s %s %s %s\n' "$(echo "$e - $s" | bc -l)" \
    "$(jq -r .failures "$W/http.json")" "$(jq -r .slowest "$W/http.json")" "$(jq -r .downtime "$W/http.json")" \
    "$(jq -r .failures "$W/redis.json")" "$(jq -r .slowest "$W/redis.json")" "$(jq -r .downtime "$W/redis.json")" \
    "$(jq -r .requests "$W/http.json")" "$(jq -r .requests "$W/redis.json")"
}

# setup N: a clean N-node cluster with every application at SHIFT 0, redis holding 8 MiB of data.
setup() {
  local n=$1 k
  "$SANDBOX" up --nodes "$n" >/dev/null
  eval "$("$SANDBOX" env)"
  N1=$("$SANDBOX" addr node1)
  reset_nodes $(for k in $(seq 1 "$n"); do echo "node$k"; done)
  apps "$n" > "$W/app.yml"
  deployment "$n" 0 > "$W/start.yml"
  must "$FLOCKER" "$W/start.yml" "$W/app.yml" > "$W/setup.out"
  # redis is v1, application 0: on node1.
  must ssh -F "$FLOCKER_SSH_CONFIG" node1 "docker exec flocker--v1 sh -c 'head -c 8388608 /dev/urandom > /data/filler'" >/dev/null
}

printf '%-27s %-8s %-28s %-28s\n' "" "deploy" "stateless s1" "with a volume v1 (redis)"
printf '%-27s %-8s %-28s %-28s\n' "what moved" "(s)" "failed / slowest / down (s)" "failed / slowest / down (s)"
row() { printf '%-27s %-8s %-28s %-28s (requests: %s, %s)\n' "$1" "$2" "$3 / $4 / $5" "$6 / $7 / $8" "$9" "${10}"; }
first=${NS%% *}
declare -A slow_v fail_v fail_s down_v
single_v=""
for n in $NS; do
  setup "$n"
  total=$(( 3 * n ))
  if [ "$n" = "$first" ]; then
    # The single-application figures, on this same cluster: s1 alone, then v1 alone, each to the next node.
    # Called directly (not in a process substitution), so a failed deploy stops the benchmark.
    move "$n" 1 s1 > "$W/r"; read -r t hf hs hd rf rs rd hq rq < "$W/r"
    row "s1 alone (N=$n)" "$t" "$hf" "$hs" "$hd" "$rf" "$rs" "$rd" "$hq" "$rq"
    # s1 stays where it went; only v1 moves.
    move "$n" 1 s1 v1 > "$W/r"; read -r t hf hs hd rf rs rd hq rq < "$W/r"
    row "v1 alone (N=$n)" "$t" "$hf" "$hs" "$hd" "$rf" "$rs" "$rd" "$hq" "$rq"
    single_v=$rs
    # Back to the start for the mass move.
    must "$FLOCKER" "$W/start.yml" "$W/app.yml" > "$W/back.out"
  fi
  move "$n" 1 > "$W/r"; read -r t hf hs hd rf rs rd hq rq < "$W/r"
  row "all $total apps (N=$n, $(( 3 * n / 4 )) vol.)" "$t" "$hf" "$hs" "$hd" "$rf" "$rs" "$rd" "$hq" "$rq"
  slow_v[$n]=$rs; fail_v[$n]=$rf; fail_s[$n]=$hf; down_v[$n]=$rd
done
for n in $NS; do
  # A slowest answered request means little when others failed outright (a refused connect fails fast).
  verdict=$([ "${fail_v[$n]}" = 0 ] && [ "${fail_s[$n]}" = 0 ] && echo "0 failed" || echo "NOT MET: ${fail_s[$n]} (s1) and ${fail_v[$n]} (v1) failed, v1 down for up to ${down_v[$n]} s")
  printf 'N=%s: %s; slowest answered request of v1 in the mass move / alone: %.1f× (target ≤ 3×)\n' \
    "$n" "$verdict" "$(echo "${slow_v[$n]} / $single_v" | bc -l)"
done
printf 'clients wait up to %s s per request, a new connection every 10 ms, through node1; target 0 failed at every N\n' "$WAIT"
printf 'this machine has %d cores (every node shares them); load average %s\n' "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
