#!/usr/bin/env bash
# Replicas (issue 12) against a real 3-node sandbox: `replicas:` in the deployment file creates read-only copies
# on deploy and on a count change; `sync` keeps them warm while writes go on, and status shows their state and
# lag; a move onto a warm replica sends only what changed; a replica node that is down during a sync is named
# (exit 3) while the others are synced, and a later sync catches up; a sync killed mid-send converges when run
# again; sync and deploy of the same application are serialized by the lock; a lower count removes a replica.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

NODES=(node1 node2 node3)
sandbox_up "${NODES[@]}"
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
# redis_runs NAME: passes while node1's redis container runs; otherwise shows how it ended (CI once found it
# stopped here with no step of ours having stopped it): its state, the end of its log, the kernel's OOM lines.
redis_runs() {
  local st
  st=$(node node1 "docker inspect --format '{{.State.Status}} exit={{.State.ExitCode}} oom={{.State.OOMKilled}} error={{.State.Error}} finished={{.State.FinishedAt}}' flocker--redis" 2>&1)
  if [[ $st == running* ]]; then pass "$1"; else
    fail "$1" "container: $st" "$(node node1 'docker logs --tail 15 flocker--redis' 2>&1)" \
      "$(dmesg 2>/dev/null | grep -i -E 'out of memory|killed process' | tail -n 5)"
  fi
}
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
redis_runs "redis on node1 still runs after the syncs during writes"

section "a sync with nothing new sends nothing; the replicas of a volume are sent at the same time"
rcli config set save "" >/dev/null   # no background RDB save while the volume is meant to be idle
in_volume() { node node1 "docker exec flocker--redis sh -c 'echo $1 > /data/probe.txt'"; }
in_volume 1
# The two replicas' steps run side by side: both start before either ends.
out=$("$FLOCKER" sync "$W/two.yml" "$APP" --json 2>&1); rc=$?
expect_rc "sync --json exits 0" 0 "$rc" "$out"
expect_eq "both replications start before either finishes" "started started finished finished" \
  "$(jq -r 'select((.event | test("step.(started|finished)")) and .step.action == "replicate") | .event | sub("step.";"")' <<<"$out" 2>&1 | xargs)"
before=$(snap_of node1)
sleep 3
sync_ two
expect_rc "a sync with nothing written since the last exits 0" 0 "$rc" "$out"
expect_eq "it sent nothing to either replica" "2" "$(grep -c 'nothing written since .*nothing sent' <<<"$out")"
expect_eq "… and took no snapshot" "$before" "$(snap_of node1)"
st=$("$FLOCKER" status "$W/two.yml" --json 2>&1)
expect_eq "status: their lag counts from that check, not from the snapshot (3 s older)" "true" \
  "$(jq -r '[.volumes[0].copies[] | select(.role == "copy") | .replica.lag_seconds < (now - .newest_snapshot.created - 1)] | all' <<<"$st" 2>&1)"
out=$(timeout --preserve-status -s INT 8 "$FLOCKER" sync "$W/two.yml" "$APP" --every 1 2>&1); rc=$?
expect_rc "sync --every 1, interrupted, exits 130" 130 "$rc" "$out"
expect_contains "… one line per pass, per replica what was sent" "sync pass 1 ended" "$out"
expect_contains "… node2: nothing new" "node2 redis/default nothing new, node3 redis/default nothing new; next pass in 1 s" "$out"
in_volume 2
sync_ two
expect_not_contains "a write after it is sent again" "nothing sent" "$out"
expect_eq "… and both replicas have the new snapshot" "$(snap_of node1 | cut -d@ -f2) $(snap_of node1 | cut -d@ -f2)" \
  "$(snap_of node2 | cut -d@ -f2) $(snap_of node3 | cut -d@ -f2)"
check_fails "… which is not the one before" test "$before" = "$(snap_of node1)"
rcli config set save "3600 1 300 100 60 10000" >/dev/null

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

section "sync and deploy of the same application are serialized; of different applications, both proceed"
"$FLOCKER" sync "$W/moved.yml" "$APP" --lock-wait 60 > "$W/s.out" 2>&1 & sp=$!
"$FLOCKER" "$W/moved.yml" "$APP" --lock-wait 60 > "$W/d.out" 2>&1 & dp=$!
wait $sp; src=$?; wait $dp; drc=$?
expect_eq "started together with --lock-wait, both exit 0" "0 0" "$src $drc"
# A sync paused after its replication step holds redis's locks (only those) until it is let go.
cat "$APP" > "$W/app2.yml"
cat >> "$W/app2.yml" <<'YAML'
  web:
    image: busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 8080 & wait"]
    ports: [{internal: 8080, external: 8095}]
YAML
sed 's/node3: \[\]/node3: [web]/' "$W/moved.yml" > "$W/web.yml"
FLOCKER_TEST_HOLD=after:replicate "$FLOCKER" sync "$W/moved.yml" "$APP" > "$W/held.out" 2>&1 & sp=$!
retry 60 grep -q "holding after" "$W/held.out"
out=$("$FLOCKER" "$W/web.yml" "$W/app2.yml" 2>&1); rc=$?
expect_rc "a deploy of another application runs while the sync holds redis's locks" 0 "$rc" "$out"
expect_contains "… and starts it" "start web" "$out"
dep shift node3 2
out=$("$FLOCKER" "$W/shift.yml" "$APP" 2>&1); rc=$?
expect_rc "a deploy moving redis meanwhile is refused: exit 4" 4 "$rc" "$out"
expect_contains "… naming redis's lock and its holder" "(redis): locked by" "$out"
st=$("$FLOCKER" lock status "$W/moved.yml" 2>&1)
expect_contains "lock status shows the sync's application lock" "application redis locked by" "$st"
# It pauses after each replication step (one per replica): let it go on until it ends.
while kill -0 $sp 2>/dev/null; do kill -CONT $sp 2>/dev/null; sleep 0.3; done
wait $sp; rc=$?
expect_eq "the held sync then finishes (exit 0)" 0 "$rc"
printf 'version: 1\nnodes:\n  node1: []\n  node2: [redis]\n  node3: []\nreplicas:\n  redis: 2\n' > "$W/noweb.yml"
out=$("$FLOCKER" "$W/noweb.yml" "$APP" 2>&1); rc=$?
expect_rc "web removed again" 0 "$rc" "$out"

section "a lower count removes a replica the primary holds everything of"
dep back node2 1
deploy back
expect_rc "deploy with replicas: 1 exits 0" 0 "$rc" "$out"
expect_contains "it removes one replica" "remove the replica of volume redis/default" "$out"
left=$(for n in node1 node3; do node "$n" zfs list -H -o name flocker/redis.default >/dev/null 2>&1 && echo "$n"; done | xargs)
expect_eq "one replica is left (node1: the existing one kept in name order)" "node1" "$left"
keys_ok "at the end"

section "failover: the primary's node dies; the newer of two replicas takes over; the old primary rejoins"
reset_nodes "${NODES[@]}"
printf 'version: 1\nnodes:\n  node1: [redis]\n  node2: []\n  node3: []\nreplicas:\n  redis: [node2, node3]\n' > "$W/fo1.yml"
printf 'version: 1\nnodes:\n  node1: []\n  node2: []\n  node3: [redis]\nreplicas:\n  redis: [node1, node2]\n' > "$W/fo3.yml"
deploy fo1
expect_rc "redis with replicas on node2 and node3" 0 "$rc" "$out"
retry 20 rcli ping
for i in $(seq 1 200); do echo "SET k$i v$i"; done | redis-cli -h "$N1" >/dev/null
node node1 "docker exec flocker--redis sh -c 'head -c 20971520 /dev/urandom > /data/filler'"
rcli save >/dev/null
sync_ fo1
expect_rc "a sync reaches both replicas" 0 "$rc" "$out"
rcli set only-on-node3 yes >/dev/null; rcli save >/dev/null
"$SANDBOX" cut node2 >/dev/null
sync_ fo1 --connect-timeout 3
"$SANDBOX" heal node2 >/dev/null
expect_rc "a sync while node2 is cut exits 3" 3 "$rc" "$out"
newer=$(snap_of node3 | cut -d@ -f2); older=$(snap_of node2 | cut -d@ -f2)
if [ -n "$newer" ] && [ "$newer" != "$older" ]; then pass "node3's replica ($newer) is newer than node2's ($older)"
else fail "node3's replica is newer than node2's" "node3 $newer, node2 $older"; fi
# Written on node1 after the last sync: lost by the failover, but kept on node1 when it comes back.
node node1 "docker exec flocker--redis sh -c 'echo kept > /data/post-sync.txt'"
node node1 zfs snapshot flocker/redis.default@by-hand   # a ZFS write, so zfs-fuse commits before the power-off
"$SANDBOX" stop node1 >/dev/null
deploy fo3 --connect-timeout 3
expect_rc "a deploy with node1 down exits 3" 3 "$rc" "$out"
expect_contains "it says how to fail over, naming the newest replica" "redis's newest replica is on node3" "$out"
expect_contains "… and the flag" "run again with --failover" "$out"
deploy fo3 --connect-timeout 3 --failover
expect_rc "deploy --failover exits 0" 0 "$rc" "$out"
expect_contains "it promotes node3's replica" "node3  promote the replica of volume redis/default to primary" "$out"
expect_contains "it names the loss window" "is not in it" "$out"
expect_contains "it names the skipped node" "skipped node1" "$out"
N3=$("$SANDBOX" addr node3)
retry 20 redis-cli -h "$N3" ping
expect_eq "redis runs on node3 with the newer replica's data" "yes v77" "$(redis-cli -h "$N3" get only-on-node3) $(redis-cli -h "$N3" get k77)"
check "node3's volume is writable" writable node3
check_fails "node2's is not" writable node2
"$SANDBOX" start node1 >/dev/null
deploy fo3
expect_rc "once node1 is back, a deploy exits 0" 0 "$rc" "$out"
expect_contains "node1's outdated primary is set aside and made a replica again" "keep what the outdated primary of volume redis/default holds" "$out"
expect_eq "redis runs once, on node3" "false false true" "$(for n in "${NODES[@]}"; do node "$n" docker inspect --format '{{.State.Running}}' flocker--redis 2>/dev/null || echo false; done | xargs)"
check "node3's volume is writable" writable node3
check_fails "node1's is not" writable node1
check_fails "node2's is not" writable node2
expect_eq "node1's writes after the last sync are kept" "kept" "$(node node1 cat /flocker/redis.default-diverged-epoch1/post-sync.txt 2>&1)"
st=$("$FLOCKER" status "$W/fo3.yml" "$APP" 2>&1)
expect_contains "status lists the kept data" "redis/default-diverged-epoch1" "$st"
rj=$("$FLOCKER" "$W/fo3.yml" "$APP" --dry-run 2>&1)
expect_contains "then a deploy changes nothing" "No changes" "$rj"
bytes=$(grep -o 'replicate volume redis/default to node1 ([0-9.]*s; sent [0-9.]* [KMG]*i*B' <<<"$out" | sed 's/.*sent //')
case $bytes in *" B"|*KiB) pass "node1 was fed incrementally after the rejoin ($bytes, not 20 MiB again)" ;;
  *) fail "node1 was fed incrementally after the rejoin" "sent: $bytes" "$(grep replicate <<<"$out")" ;; esac

reset_nodes "${NODES[@]}"
finish
