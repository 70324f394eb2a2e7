#!/usr/bin/env bash
# Failover and failure output a person can trust (issue 30), against a real 3-node sandbox:
# - the typo case: a deployment file that leaves out the node running redis and names one that does not exist
#   never leads to a second writable primary: the deploy's hint and --failover both say why (the copy was last
#   written from a node missing from the file), and afterwards one copy runs and takes writes (write probes);
# - a real node loss with the file unchanged: the deploy stops (exit 3) saying what --failover will do; status
#   tells the truth during the outage (exit 3); --failover starts redis on its replica with the keys saved before
#   the last sync (redis with appendonly); later runs go on from there; when the node comes back, its outdated
#   primary is set aside (what it wrote after the sync kept) and redis moves back, once;
# - a run that finds nothing to do while another run is half-way through a move exits 4 naming it, or waits for
#   it with --lock-wait;
# - `clone destroy NAME` for the name given to `clone create --name NAME` refuses, naming NAME-1.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

NODES=(node1 node2 node3)
sandbox_up "${NODES[@]}"
fault_cleanup
reset_nodes "${NODES[@]}"
N1=$("$SANDBOX" addr node1); N2=$("$SANDBOX" addr node2); N3=$("$SANDBOX" addr node3)
APP="$ROOT/examples/redis/application.yml"

# dep NAME TEXT: a deployment file.
dep() { printf "version: 1\n$2" > "$W/$1.yml"; }
deploy() { out=$("$FLOCKER" "$W/$1.yml" "$APP" "${@:2}" 2>&1); rc=$?; }
# writable NODE: a file can be written into the volume on that node (the write probe).
writable() { node "$1" 'f=/flocker/redis.default/.probe-$$; touch "$f" 2>/dev/null && rm -f "$f"'; }
running() { for n in "${NODES[@]}"; do node "$n" docker inspect --format '{{.State.Running}}' flocker--redis 2>/dev/null || echo false; done | xargs; }
writers() { for n in "${NODES[@]}"; do writable "$n" && echo "$n"; done | xargs; }
rcli() { redis-cli -h "$1" "${@:2}" 2>&1; }

section "the typo: the node that runs redis is missing from the file, a node that does not exist is in it"
dep t1 "nodes:\n  node1: [redis]\n  node2: []\n  node3: []\nreplicas:\n  redis: [node3]\n"
dep t2 "nodes:\n  node1: []\n  node2: [redis]\n  node3: []\nreplicas:\n  redis: [node1]\n"
deploy t1
expect_rc "redis on node1" 0 "$rc" "$out"
retry 20 rcli "$N1" ping >/dev/null
rcli "$N1" set typo-key before >/dev/null
deploy t2
expect_rc "redis moves to node2, node1 keeps a replica" 0 "$rc" "$out"
retry 20 rcli "$N2" ping >/dev/null
dep typo "nodes:\n  node1: [redis]\n  node9: []\n"
out=$("$FLOCKER" validate "$W/typo.yml" "$APP" 2>&1); rc=$?
expect_rc "validate cannot know: ok" 0 "$rc" "$out"
deploy typo --connect-timeout 3
expect_rc "the deploy stops: node9 cannot be reached (exit 3)" 3 "$rc" "$out"
expect_contains "… node9's name does not resolve" "could not resolve host name \"node9\"" "$out"
expect_contains "… and it says why --failover would not help" "last seen on node2 (the copy on node1 was last written from it), which is not in the deployment file: add node2" "$out"
expect_not_contains "… no hint to fail over" "run again with --failover" "$out"
deploy typo --connect-timeout 3 --failover
expect_rc "--failover refuses: acting could leave two primaries (exit 5)" 5 "$rc" "$out"
expect_contains "… naming the node to add" "last written from node2, which is not in the deployment file: add node2 to the file" "$out"
expect_eq "one copy runs, on node2" "false true false" "$(running)"
expect_eq "one copy takes writes (write probe on each node): node2's" "node2" "$(writers)"
expect_eq "epochs: node2's primary is the only one" "copy primary" \
  "$(for n in node1 node2; do node "$n" zfs get -H -o value flocker:role flocker/redis.default; done | xargs)"
deploy t2
expect_contains "with the right file, nothing to do" "No changes" "$out"

section "a node dies; the file unchanged: hint, status, --failover"
reset_nodes "${NODES[@]}"
dep f1 "nodes:\n  node1: [redis]\n  node2: []\n  node3: []\nreplicas:\n  redis: 1\n"
deploy f1
expect_rc "redis on node1 with one replica" 0 "$rc" "$out"
retry 20 rcli "$N1" ping >/dev/null
for i in $(seq 1 100); do echo "SET k$i v$i"; done | redis-cli -h "$N1" >/dev/null
expect_eq "appendonly is on (examples/redis)" "appendonly yes" "$(rcli "$N1" config get appendonly | xargs)"
sleep 1.5   # appendfsync everysec
out=$("$FLOCKER" sync "$W/f1.yml" "$APP" 2>&1); rc=$?
expect_rc "a sync reaches node2" 0 "$rc" "$out"
rcli "$N1" set after-sync lost-by-the-failover >/dev/null
sleep 1.5
node node1 zfs snapshot flocker/redis.default@by-hand   # a ZFS write: zfs-fuse commits before the power-off
"$SANDBOX" stop node1 >/dev/null
deploy f1 --connect-timeout 3
expect_rc "a deploy with node1 down exits 3" 3 "$rc" "$out"
expect_contains "it says what --failover does, the file unchanged" "redis's newest replica is on node2" "$out"
expect_contains "… and the flag" "run again with --failover to start redis there at epoch 2 (the file stays as it is)" "$out"
st=$("$FLOCKER" status "$W/f1.yml" "$APP" --connect-timeout 3 2>&1); rc=$?
expect_rc "status during the outage exits 3" 3 "$rc" "$st"
expect_contains "status: node1 does not answer" "node1  unreachable" "$st"
expect_contains "status: redis not seen, placed on node1" "redis  not seen running: placed on node1, which does not answer" "$st"
expect_contains "status: where its primary was last seen" "primary last seen on node1 (epoch 1" "$st"
expect_contains "status: its newest replica" "newest replica: on node2 (flocker-" "$st"
expect_contains "status: the command that fails over" "--failover" "$st"
expect_not_contains "status: no 'a deploy starts it'" "a deploy starts it" "$st"
stj=$("$FLOCKER" status "$W/f1.yml" "$APP" --connect-timeout 3 --json 2>/dev/null)
expect_eq "status --json: the failover it would do" "redis node2 node1 2" \
  "$(jq -r '.outage.failovers[0] | "\(.app) \(.to) \(.last_seen) \(.epoch)"' <<<"$stj" 2>&1)"
deploy f1 --connect-timeout 3 --failover
expect_rc "deploy --failover (same file) exits 0" 0 "$rc" "$out"
expect_contains "it promotes node2's replica" "node2  promote the replica of volume redis/default to primary (failover, epoch 2)" "$out"
expect_contains "it names the loss window" "is not in it" "$out"
expect_contains "it names the skipped node" "skipped node1" "$out"
retry 20 rcli "$N2" ping >/dev/null
expect_eq "redis runs on node2 with the keys written before the sync" "100 v77" "$(rcli "$N2" dbsize) $(rcli "$N2" get k77)"
expect_eq "… reached through node3's routes" "v77" "$(rcli "$N3" get k77)"
expect_eq "… without what was written after the sync" "" "$(rcli "$N2" get after-sync)"
expect_eq "one copy takes writes: node2's" "node2" "$(for n in node2 node3; do writable "$n" && echo "$n"; done | xargs)"
st=$("$FLOCKER" status "$W/f1.yml" "$APP" --connect-timeout 3 2>&1)
expect_contains "status: where it runs and that the file says otherwise" "runs here since a failover, epoch 2; the file places it on node1, which does not answer" "$st"
deploy f1 --connect-timeout 3 --failover
expect_contains "--failover again changes nothing" "No changes" "$out"
expect_contains "… and says why" "redis stays on node2, where it runs since a failover" "$out"
deploy f1 --connect-timeout 3
expect_rc "a deploy without --failover still exits 3" 3 "$rc" "$out"
expect_contains "… saying where redis runs" "redis runs on node2 since a failover (epoch 2)" "$out"
out=$("$FLOCKER" sync "$W/f1.yml" "$APP" --connect-timeout 3 2>&1); rc=$?
expect_not_contains "a sync does not say 'run a deploy first'" "run a deploy first" "$out"

section "the node comes back: its outdated primary is set aside, redis moves back once"
"$SANDBOX" start node1 >/dev/null
deploy f1
expect_rc "a deploy with the file unchanged exits 0" 0 "$rc" "$out"
expect_contains "node1's outdated primary is set aside first" "keep what the outdated primary of volume redis/default holds as redis.default-diverged-epoch1" "$out"
expect_contains "… then redis moves back from node2" "hand redis's volume default over to node1 (epoch 3)" "$out"
retry 20 rcli "$N1" ping >/dev/null
expect_eq "redis runs once, on node1" "true false false" "$(running)"
expect_eq "one copy takes writes: node1's" "node1" "$(writers)"
expect_eq "with the data of the failover" "100 v77" "$(rcli "$N1" dbsize) $(rcli "$N1" get k77)"
expect_contains "what node1 wrote after the sync is kept aside" "lost-by-the-failover" \
  "$(node node1 'cat /flocker/redis.default-diverged-epoch1/appendonlydir/*.incr.aof' 2>&1)"
deploy f1
expect_contains "then a deploy changes nothing" "No changes" "$out"

section "nothing to do while another run is half-way through a move"
dep m2 "nodes:\n  node1: []\n  node2: [redis]\n  node3: []\nreplicas:\n  redis: 1\n"
FLOCKER_TEST_HOLD="after:pre-copy:redis" "$FLOCKER" "$W/m2.yml" "$APP" > "$W/held.out" 2>&1 &
HP=$!; BG+=("$HP")
if retry 90 grep -q "holding after" "$W/held.out"; then pass "a move to node2 holds after its pre-copy (redis still runs on node1)"
else fail "a move to node2 holds after its pre-copy (redis still runs on node1)" "$(tail -n 15 "$W/held.out")"; fi
deploy f1
expect_rc "a deploy of the old placement exits 4 (it would have looked converged)" 4 "$rc" "$out"
expect_contains "… naming the run in flight" "another run is changing these nodes" "$out"
expect_not_contains "… never 'No changes'" "No changes" "$out"
out=$("$FLOCKER" "$W/f1.yml" "$APP" --json 2>/dev/null); rc=$?
expect_eq "--json: an error event with exit code 4" "4" "$(jq -r 'select(.event == "error") | .exit_code' <<<"$out" 2>&1)"
( sleep 2; kill -CONT "$HP" ) &
deploy m2 --lock-wait 60
expect_rc "with --lock-wait, the same kind of run waits and then finds nothing to do" 0 "$rc" "$out"
expect_contains "… No changes once the move is done" "No changes" "$out"
wait "$HP"; hrc=$?
expect_eq "the held move finished" "0" "$hrc"

section "clone destroy with the name given to clone create"
out=$("$FLOCKER" snapshot create "$W/m2.yml" "$APP" --app redis --name prod 2>&1); rc=$?
expect_rc "snapshot prod" 0 "$rc" "$out"
out=$("$FLOCKER" clone create "$W/m2.yml" "$APP" --app redis --name ci --from prod 2>&1); rc=$?
expect_rc "clone create --name ci" 0 "$rc" "$out"
out=$("$FLOCKER" clone destroy "$W/m2.yml" ci 2>&1); rc=$?
expect_rc "clone destroy ci exits 1" 1 "$rc" "$out"
expect_contains "… did you mean ci-1" "no clone is named ci; did you mean ci-1?" "$out"
expect_eq "ci-1 still runs" "ci-1" "$("$FLOCKER" clone list "$W/m2.yml" --json | jq -r '.clones[].name' | xargs)"
out=$("$FLOCKER" clone list "$W/m2.yml" --json 2>&1)
expect_eq "clone list --json carries the schema" "1" "$(jq -r .schema <<<"$out")"
out=$("$FLOCKER" clone destroy "$W/m2.yml" ci-1 2>&1); rc=$?
expect_rc "clone destroy ci-1 exits 0" 0 "$rc" "$out"
out=$("$FLOCKER" clone destroy "$W/m2.yml" ci-1 2>&1); rc=$?
expect_rc "destroying it again is a no-op (exit 0)" 0 "$rc" "$out"
out=$("$FLOCKER" clone destroy "$W/m2.yml" --bogus --json 2>/dev/null); rc=$?
expect_rc "a usage error exits 2" 2 "$rc" "$out"
expect_eq "… with its JSON error on stdout" "error 2" "$(jq -r '"\(.event) \(.exit_code)"' <<<"$out" 2>&1)"

reset_nodes "${NODES[@]}"
finish
