#!/usr/bin/env bash
# PostgreSQL beside redis (issue 27), same run, same sandbox, about 1 GiB each: the moves of
# bench/move-downtime.sh (onto a node with no copy: pre-copy while running, then the increment while stopped)
# and of bench/replicas.sh (onto a replica `sync` kept warm, synced just before), each measured by the
# database's own client through node1's address while the move runs:
# - redis: bench/redis_probe.py (SET+PING every 10 ms, a new connection after any error); downtime = its
#   longest stretch of failed or unanswered requests;
# - PostgreSQL: `pgbench -C -c 4 -j 4` (TPC-B-like, a new connection per transaction, 4 clients with a thread
#   each) with a per-transaction log; downtime = the longest stretch with no transaction completed, slowest =
#   the longest transaction (connect included), failed = failed transactions and aborted clients.
# Targets (issue 27): PostgreSQL downtime ≤ 1.5 s at 1 GiB, slowest transaction ≤ 1.5 s (every client served
# at its first SYN retransmission), 0 failed. Medians of RUNS (default 3) moves of each kind.
# Own sandbox instance (FLOCKER_SANDBOX_ID, default 3), 6G pools; PGBENCH_SCALE (default 68: 1.0 GiB).
source "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-3}
SCALE=${PGBENCH_SCALE:-68}
MIB=${REDIS_MIB:-1024}
need_binary "$FLOCKER"
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"; [ -n "${KEEP:-}" ] || "$SANDBOX" down >/dev/null 2>&1 || true' EXIT
"$SANDBOX" down >/dev/null 2>&1 || true
"$SANDBOX" up --nodes 2 --pool-size 6G >/dev/null
eval "$("$SANDBOX" env)"
N1=$("$SANDBOX" addr node1)
S="ssh -F $FLOCKER_SSH_CONFIG"
source "$ROOT/acceptance/lib.sh"   # reset_nodes, node
export PGUSER=postgres PGPASSWORD=flocker PGDATABASE=app
PGBIN=/usr/lib/postgresql/15/bin

# deployment NAME APP ON REPLICA: a deployment file running APP on node ON, with a replica on REPLICA (or none).
deployment() {
  printf 'version: 1\nnodes:\n  node1: [%s]\n  node2: [%s]\n' "$([ "$3" = node1 ] && echo "$2")" "$([ "$3" = node2 ] && echo "$2")" > "$W/$1.yml"
  [ -z "$4" ] || printf 'replicas:\n  %s: [%s]\n' "$2" "$4" >> "$W/$1.yml"
}

# probe_start APP / probe_stop APP: the client load through node1; probe_stop prints "downtime slowest failed".
probe_start() {
  case $1 in
  redis) python3 "$ROOT/bench/redis_probe.py" "$N1" 6379 600 > "$W/probe.json" & ;;
  # Long enough for any move here; the benchmark waits for it to end (pgbench writes its log at exit).
  pg) (cd "$W" && rm -f pglog.* && exec "$PGBIN/pgbench" -h "$N1" -C -c 4 -j 4 -T 45 -l --log-prefix=pglog > "$W/pgbench.out" 2>&1) & ;;
  esac
  probe=$!
  sleep 3
}
probe_stop() {
  case $1 in
  redis)
    sleep 2; kill -TERM "$probe"; wait "$probe" || true
    # Its requests give up after 0.5 s (as in move-downtime.sh), so held ones count as down, not as failed.
    printf '%s %s -\n' "$(jq -r .downtime "$W/probe.json")" "$(jq -r .slowest "$W/probe.json")" ;;
  pg)
    wait "$probe" || true
    # Log lines: client transaction latency_us script epoch_s epoch_us (completion time).
    local gaps failed
    # Downtime: the longest stretch in which no client completed a transaction. Slowest: the longest a client
    # waited for its next transaction to complete (its connect, held or not, included: pgbench's own latency
    # leaves the connect out under -C).
    gaps=$(cat "$W"/pglog.* | awk '{ printf "%d.%06d %d\n", $5, $6, $1 }' | sort -n |
      awk 'NR > 1 && $1 - last > gap { gap = $1 - last }
           ($2 in seen) && $1 - seen[$2] > slow { slow = $1 - seen[$2] }
           { last = $1; seen[$2] = $1 } END { printf "%.3f %.3f", gap, slow }')
    failed=$(( $(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$W/pgbench.out" | head -n 1) + $(grep -c 'aborted' "$W/pgbench.out" || true) ))
    grep -q '^number of transactions actually processed' "$W/pgbench.out" || { cat "$W/pgbench.out" >&2; exit 1; }
    printf '%s %s\n' "$gaps" "$failed" ;;
  esac
}

# one_move APP KIND: moves APP node1 -> node2, onto no copy (cold) or a warm replica, under load; back to node1
# afterwards (not measured). Prints "downtime move_seconds slowest failed".
one_move() {
  local app=$1 kind=$2
  if [ "$kind" = cold ]; then
    deployment from "$app" node1 ""; deployment to "$app" node2 ""
    must "$FLOCKER" "$W/from.yml" "$APPFILE" >/dev/null
    # The copy an earlier move left there goes (zfs-fuse may call it busy for a moment after its container went).
    node node2 "ds=flocker/$app.default; i=0; while zfs list -H -o name \$ds >/dev/null 2>&1; do
      zfs destroy -r \$ds 2>/dev/null || { i=\$((i + 1)); [ \$i -lt 20 ] || { zfs destroy -r \$ds; exit 1; }; sleep 0.5; }; done"
  else
    deployment from "$app" node1 node2; deployment to "$app" node2 node1
    must "$FLOCKER" "$W/from.yml" "$APPFILE" >/dev/null
    must "$FLOCKER" sync "$W/from.yml" "$APPFILE" >/dev/null
  fi
  probe_start "$app"
  local s=$EPOCHREALTIME
  "$FLOCKER" "$W/to.yml" "$APPFILE" > "$W/move.out" 2>&1 || { cat "$W/move.out" >&2; exit 1; }
  local e=$EPOCHREALTIME
  grep -oE 'waited [0-9.]+ s for [0-9]+ open connections? to end|[0-9]+ of [0-9]+ open connections? still open after [0-9]+ s' "$W/move.out" >> "$W/drains" || true
  cp "$W/move.out" "$W/last-$app-$kind.out"
  probe_stop "$app" > "$W/p"   # not in a subshell: it waits for the probe, a child of this shell
  read -r down slow failed < "$W/p"
  deployment back "$app" node1 ""
  must "$FLOCKER" "$W/back.yml" "$APPFILE" >/dev/null
  printf '%s %s %s %s\n' "$down" "$(echo "$e - $s" | bc -l)" "$slow" "$failed"
}

reset_nodes node1 node2
: > "$W/drains"
# redis holding MIB MiB; PostgreSQL with pgbench's tables at SCALE (generated on the server: -I dtGvp).
APPFILE="$ROOT/examples/redis/application.yml"
deployment from redis node1 ""
must "$FLOCKER" "$W/from.yml" "$APPFILE" >/dev/null
$S node1 "docker exec flocker--redis sh -c 'head -c $((MIB * 1048576)) /dev/urandom > /data/filler'"
APPFILE="$ROOT/examples/postgres/application.yml"
deployment from pg node1 ""
must "$FLOCKER" "$W/from.yml" "$APPFILE" >/dev/null
t0=$SECONDS
must "$PGBIN/pgbench" -h "$N1" -i -I dtGvp -s "$SCALE" -q >/dev/null
pgsize=$(psql -h "$N1" -X -qAt -c 'SELECT pg_size_pretty(pg_database_size(current_database()))')
echo "pgbench -i -s $SCALE: $pgsize in $((SECONDS - t0)) s; redis: $MIB MiB"

printf '%-11s %-5s %-14s %-12s %-14s %-8s\n' "database" "move" "downtime" "move time" "slowest req." "failed"
for app in redis pg; do
  case $app in redis) APPFILE="$ROOT/examples/redis/application.yml" ;; pg) APPFILE="$ROOT/examples/postgres/application.yml" ;; esac
  for kind in cold warm; do
    ds=(); ms=(); ss=(); fs=0
    for _ in $(seq 1 "$RUNS"); do
      one_move "$app" "$kind" > "$W/r"; read -r d m s f < "$W/r"
      ds+=("$d"); ms+=("$m"); ss+=("$s"); [ "$f" = - ] && fs=- || fs=$((fs + f))
    done
    printf '%-11s %-5s %-14s %-12s %-14s %-8s (runs: down %s; slowest %s)\n' \
      "$([ "$app" = pg ] && echo PostgreSQL || echo redis)" "$kind" \
      "$(printf '%.2f s' "$(printf '%s\n' "${ds[@]}" | median)")" "$(printf '%.2f s' "$(printf '%s\n' "${ms[@]}" | median)")" \
      "$(printf '%.2f s' "$(printf '%s\n' "${ss[@]}" | median)")" "$fs" "${ds[*]}" "${ss[*]}"
  done
done
echo "medians of $RUNS runs; failed = sum over the runs (PostgreSQL: failed transactions + aborted clients; redis's probe gives up a request after 0.5 s, so its held requests count as downtime)"
echo "the stop's drains: $(sort "$W/drains" | uniq -c | sort -rn | head -n 5 | awk '{$1 = $1 "×"; print}' | paste -sd ';')"
# Where a move's downtime goes: the steps from the hold to the release in the last move of each kind.
for f in "$W"/last-*.out; do
  echo "${f##*/last-}:" | sed 's/\.out:$/:/'
  sed -n '/hold new connections/,/release the hold/p' "$f" | grep -E '^ +ok ' | grep -vE 'hold new connections to .* on node[0-9]+ \(|routes' | sed 's/^ *ok */  /' | head -n 12
done
