#!/usr/bin/env bash
# Replicas (issue 12) against a real 3-node sandbox: `replicas:` in the deployment file creates read-only copies
# on deploy and on a count change; `sync` keeps them warm while writes go on, and status shows their state and
# lag; a move onto a warm replica sends only what changed; a replica node that is down during a sync is named
# (exit 3) while the others are synced, and a later sync catches up; a sync killed mid-send converges when run
# again; sync and deploy of the same application are serialized by the lock; a lower count removes a replica.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

NODES=(node1 node2 node3)
section "sandbox with 3 nodes"
"$SANDBOX" up --nodes 3 >/dev/null || { fail "sandbox up"; finish; }
export FLOCKER_SSH_CONFIG="$SSH_CONFIG"
for n in "${NODES[@]}"; do "$SANDBOX" start "$n" >/dev/null; "$SANDBOX" heal "$n" >/dev/null; done
N1=$("$SANDBOX" addr node1)
W=$(mktemp -d)
trap 'for n in "${NODES[@]}"; do "$SANDBOX" start "$n" >/dev/null 2>&1; done; rm -rf "$W"' EXIT
reset_nodes "${NODES[@]}"
APP="$ROOT/examples/redis/application.yml"

# dep NAME PRIMARY REPLICAS: a deployment of the three nodes with redis on PRIMARY and `replicas: {redis: REPLICAS}`.
dep() {
  local n out="version: 1\nnodes:\n"
  for n in "${NODES[@]}"; do
    if [ "$n" = "$2" ]; then out="$out  $n: [redis]\n"; else out="$out  $n: []\n"; fi
  done
  printf "${out}replicas:\n  redis: %s\n" "$3" > "$W/$1.yml"
}
deploy() { out=$("$FLOCKER" "$W/$1.yml" "$APP" "${@:2}" 2>&1); rc=$?; }
sync_() { out=$("$FLOCKER" sync "$W/$1.yml" "$APP" "${@:2}" 2>&1); rc=$?; }
role() { node "$1" zfs get -H -o value flocker:role flocker/redis.default 2>/dev/null; }
# writable NODE: whether a file can be written into the volume's mountpoint there (zfs-fuse shows a read-only
# dataset as "off temporary", so the property is not trusted).
writable() { node "$1" 'f=/flocker/redis.default/.probe-$$; touch "$f" 2>/dev/null && rm -f "$f"'; }
rcli() { redis-cli -h "$N1" -p 6379 "$@" 2>&1; }
keys_ok() { expect_eq "$1: redis has all 200 keys k1..k200 (k77=v77)" "200 v77" "$(rcli --scan --pattern 'k*' | wc -l) $(rcli get k77)"; }
snap_of() { node "$1" zfs list -H -t snapshot -o name -s createtxg -r flocker/redis.default 2>/dev/null | tail -n 1; }

section "a deploy creates the replica a count asks for"
dep one node1 1
deploy one
expect_rc "deploy with replicas: 1 exits 0" 0 "$rc" "$out"
expect_contains "the plan replicates to node2 (fewest replicas, then name order)" "replicate volume redis/default to node2" "$out"
retry 20 rcli ping
for i in $(seq 1 200); do echo "SET k$i v$i"; done | redis-cli -h "$N1" >/dev/null
rcli save >/dev/null
expect_eq "node2 holds a read-only copy" "copy" "$(role node2)"
check_fails "… that cannot be written" writable node2
check_fails "node3 holds none" node node3 zfs list flocker/redis.default
deploy one
expect_contains "a second deploy changes nothing (keeping replicas warm is sync's work)" "No changes" "$out"

section "a count change adds a replica"
dep two node1 2
deploy two
expect_rc "deploy with replicas: 2 exits 0" 0 "$rc" "$out"
expect_eq "node3 now holds a copy too" "copy" "$(role node3)"
check_fails "… read-only" writable node3

section "sync keeps replicas warm while writes go on; status shows state and lag"
( for i in $(seq 1 40); do rcli set "w$i" "x" >/dev/null; sleep 0.1; done ) & writer=$!
sync_ two
expect_rc "sync during writes exits 0" 0 "$rc" "$out"
wait $writer
sync_ two
expect_rc "a second sync exits 0" 0 "$rc" "$out"
expect_eq "both replicas have the primary's newest snapshot" "$(snap_of node1 | cut -d@ -f2) $(snap_of node1 | cut -d@ -f2)" \
  "$(snap_of node2 | cut -d@ -f2) $(snap_of node3 | cut -d@ -f2)"
st=$("$FLOCKER" status "$W/two.yml" "$APP" --json 2>&1)
expect_eq "status --json: both replicas up to date" "up to date,up to date" \
  "$(jq -r '[.volumes[0].copies[] | select(.role == "copy") | .replica.state] | join(",")' <<<"$st")"
expect_eq "status --json: lag is a number of seconds" "true" \
  "$(jq -r '[.volumes[0].copies[] | select(.role == "copy") | .replica.lag_seconds | type == "number"] | all' <<<"$st")"
sleep 3
out=$("$FLOCKER" status "$W/two.yml" --max-lag 1 2>&1); rc=$?
expect_rc "status --max-lag 1 exits 1 three seconds after the sync" 1 "$rc" "$out"
expect_contains "… naming the replica" "node2: replica of redis/default" "$out"
out=$("$FLOCKER" status "$W/two.yml" --max-lag 600 2>&1); rc=$?
expect_rc "status --max-lag 600 exits 0" 0 "$rc" "$out"

section "a move onto a warm replica sends only what changed"
node node1 "docker exec flocker--redis sh -c 'head -c 52428800 /dev/urandom > /data/filler'"
sync_ two
expect_rc "sync of the 50 MiB filler exits 0" 0 "$rc" "$out"
rcli set after-sync yes >/dev/null
dep moved node2 2
out=$("$FLOCKER" "$W/moved.yml" "$APP" --json 2>&1); rc=$?
expect_rc "the move onto node2 exits 0" 0 "$rc" "$out"
sent=$(jq -s '[.[] | select(.event == "step-finished" and (.step.action == "pre-copy" or .step.action == "final-copy")) | .bytes // 0] | add' <<<"$out" 2>/dev/null)
if [ -n "$sent" ] && [ "$sent" -lt 1048576 ]; then pass "the move sent $sent bytes (< 1 MiB of a 50 MiB volume)"
else fail "the move sent less than 1 MiB" "sent: $sent" "$(tail -n 20 <<<"$out")"; fi
expect_eq "redis runs on node2 only" "false true false" "$(for n in "${NODES[@]}"; do node "$n" docker inspect --format '{{.State.Running}}' flocker--redis 2>/dev/null || echo false; done | xargs)"
check "node2's volume is writable" writable node2
check_fails "node1's is not (it stays a replica: the direction flipped)" writable node1
expect_eq "redis kept what was written after the sync" "yes" "$(rcli get after-sync)"
keys_ok "after the warm move"
deploy moved
expect_contains "a deploy after the move changes nothing" "No changes" "$out"

section "a replica node down during a sync"
"$SANDBOX" stop node3 >/dev/null
rcli set during-outage 1 >/dev/null
sync_ moved --connect-timeout 3
expect_rc "sync exits 3 (a node could not be reached)" 3 "$rc" "$out"
expect_contains "it names node3" "node3" "$out"
expect_contains "node1 was still synced" "replicate volume redis/default to node1" "$out"
expect_eq "node1 has the primary's newest snapshot" "$(snap_of node2 | cut -d@ -f2)" "$(snap_of node1 | cut -d@ -f2)"
"$SANDBOX" start node3 >/dev/null
sync_ moved
expect_rc "once node3 is back, a sync exits 0" 0 "$rc" "$out"
expect_eq "node3 caught up" "$(snap_of node2 | cut -d@ -f2)" "$(snap_of node3 | cut -d@ -f2)"

section "a sync killed mid-send, then run again"
node node2 "docker exec flocker--redis sh -c 'head -c 104857600 /dev/urandom > /data/filler2'"
"$FLOCKER" sync "$W/moved.yml" "$APP" --no-compression > "$W/killed.out" 2>&1 & sp=$!
retry 60 grep -q "replicate volume redis/default to node1:" "$W/killed.out"
kill -9 $sp; wait $sp 2>/dev/null
sync_ moved
expect_rc "the next sync exits 0" 0 "$rc" "$out"
sync_ moved
expect_rc "and the one after" 0 "$rc" "$out"
expect_eq "node1 and node3 have the primary's newest snapshot" "$(snap_of node2 | cut -d@ -f2) $(snap_of node2 | cut -d@ -f2)" \
  "$(snap_of node1 | cut -d@ -f2) $(snap_of node3 | cut -d@ -f2)"

section "sync and deploy of the same application at once are serialized"
"$FLOCKER" sync "$W/moved.yml" "$APP" --lock-wait 60 > "$W/s.out" 2>&1 & sp=$!
"$FLOCKER" "$W/moved.yml" "$APP" --lock-wait 60 > "$W/d.out" 2>&1 & dp=$!
wait $sp; src=$?; wait $dp; drc=$?
expect_eq "both exit 0" "0 0" "$src $drc"

section "a lower count removes a replica the primary holds everything of"
dep back node2 1
deploy back
expect_rc "deploy with replicas: 1 exits 0" 0 "$rc" "$out"
expect_contains "it removes one replica" "remove the replica of volume redis/default" "$out"
left=$(for n in node1 node3; do node "$n" zfs list -H -o name flocker/redis.default >/dev/null 2>&1 && echo "$n"; done | xargs)
expect_eq "one replica is left (node1: the existing one kept in name order)" "node1" "$left"
keys_ok "at the end"

reset_nodes "${NODES[@]}"
finish
