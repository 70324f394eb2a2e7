#!/usr/bin/env bash
# Named snapshots and clones (issue 13) against a real 3-node sandbox: redis on node1 with a replica on node2.
# snapshot create/list (--json, --stop, idempotent), a named snapshot copied by sync and never pruned by it;
# 10 clones made on the replica's node, each serving the snapshot's data through another node, writes in one
# invisible to the application and to the other clones; a deploy with clones present changes none of them;
# destroying a snapshot clones depend on is refused (naming them); the port pool exhausted is refused before
# anything is made; clone destroy (idempotent, no -r/-R), sweep with a TTL; clone create killed with SIGKILL,
# then run again; clone list right from the nodes alone; clone reset (fresh data, same ports, killed and run
# again); the snapshots: retention applied by sync; rollback and back, a move still incremental after it.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

NODES=(node1 node2 node3)
sandbox_up "${NODES[@]}"
N1=$("$SANDBOX" addr node1); N3=$("$SANDBOX" addr node3)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
# Clones first: a clone keeps its origin snapshot, and so its volume, from being destroyed.
for n in "${NODES[@]}"; do node "$n" 'docker rm -f $(docker ps -aq --filter label=flocker.clone) >/dev/null 2>&1; sleep 0.5; zfs destroy -r flocker/flocker-clones >/dev/null 2>&1 || { sleep 1; zfs destroy -r flocker/flocker-clones >/dev/null 2>&1; }; true'; done
reset_nodes "${NODES[@]}"
# zfs-fuse may call a volume busy for some seconds after clones of its snapshots went: wait until every node is empty.
for n in "${NODES[@]}"; do
  retry 30 node "$n" 'for d in $(zfs list -H -o name -r flocker | grep "^flocker/" | sort -r); do zfs destroy -r "$d" 2>/dev/null; done; [ -z "$(zfs list -H -o name -r flocker | grep "^flocker/")" ]' \
    || fail "$n: a dataset of an earlier run could not be destroyed" "$(node "$n" zfs list -r flocker 2>&1)"
done
SUITE_START=$SECONDS
APP="$ROOT/examples/redis/application.yml"
printf 'version: 1\nnodes:\n  node1: [redis]\n  node2: []\n  node3: []\nreplicas:\n  redis: 1\n' > "$W/dep.yml"
run() { out=$("$FLOCKER" "$@" 2>&1); rc=$?; }
rcli() { redis-cli -h "$1" -p "$2" "${@:3}" 2>&1; }
snaps() { node "$1" zfs list -H -t snapshot -o name -r flocker/redis.default 2>/dev/null | sed 's/.*@//' | tr '\n' ' '; }

section "snapshot create and list"
run "$W/dep.yml" "$APP"
expect_rc "deploy redis with a replica on node2" 0 "$rc" "$out"
retry 20 rcli "$N1" 6379 ping
rcli "$N1" 6379 set k before >/dev/null; rcli "$N1" 6379 save >/dev/null
# 8 MiB that does not compress: a full copy of the volume would show in a move's figures.
node node1 "docker exec flocker--redis sh -c 'head -c 8388608 /dev/urandom > /data/filler'"
run snapshot create "$W/dep.yml" "$APP" --app redis --name v1 --stop
expect_rc "snapshot create --name v1 --stop exits 0" 0 "$rc" "$out"
expect_contains "… says how it took them" "1 volume at one moment, flocker--redis stopped around it" "$out"
expect_eq "redis runs again after --stop" "before" "$(retry 20 rcli "$N1" 6379 ping; rcli "$N1" 6379 get k)"
expect_contains "node1 holds @flocker-named-v1" "flocker-named-v1" "$(snaps node1)"
run snapshot create "$W/dep.yml" "$APP" --app redis --name v1
expect_rc "the same snapshot create again exits 0" 0 "$rc" "$out"
expect_contains "… and changes nothing" "exists already on node1" "$out"
run snapshot create "$W/dep.yml" "$APP" --app redis --name 'bad name'
expect_rc "a bad snapshot name: exit 2" 2 "$rc" "$out"
run snapshot create "$W/dep.yml" "$APP" --app nosuch --name x
expect_rc "an unknown application: exit 2" 2 "$rc" "$out"
rcli "$N1" 6379 set k after >/dev/null; rcli "$N1" 6379 save >/dev/null
for i in 1 2 3; do run sync "$W/dep.yml" "$APP"; done
expect_rc "three syncs exit 0" 0 "$rc" "$out"
expect_contains "sync copied the named snapshot to the replica" "flocker-named-v1" "$(snaps node2)"
expect_contains "… and pruning kept it on the primary" "flocker-named-v1" "$(snaps node1)"
run snapshot list "$W/dep.yml" --json
expect_rc "snapshot list --json exits 0" 0 "$rc" "$out"
expect_eq "the list has v1: named, both nodes, created in UTC" "named node1,node2 Z" "$(printf '%s' "$out" | python3 -c '
import json, sys
e = [x for x in json.load(sys.stdin)["snapshots"] if x["name"] == "v1" and x["app"] == "redis"][0]
print(e["kind"], ",".join(e["nodes"]), e["created"][-1])')"
run snapshot list "$W/dep.yml" "$APP" --app redis
expect_contains "the text list has a line for v1" "redis  v1" "$out"

section "10 clones from the replica's node, served through the other nodes"
start=$SECONDS
run clone create "$W/dep.yml" "$APP" --app redis --name ci --count 10 --from v1 --ttl 1h
expect_rc "clone create --count 10 exits 0" 0 "$rc" "$out"
echo "  info  10 clones in $((SECONDS - start)) s"
expect_eq "all ten on node2 (the replica's node)" "10" "$(printf '%s' "$out" | grep -c 'ok      node2  create clone ci-')"
ok=0
for i in $(seq 1 10); do
  port=$((29999 + i)); via=$N3; [ $((i % 2)) = 0 ] && via=$N1
  retry 20 rcli "$via" "$port" ping; [ "$(rcli "$via" "$port" get k)" = before ] && ok=$((ok + 1))
done
expect_eq "each clone serves the snapshot's data (k=before) through node1 or node3" 10 "$ok"
rcli "$N3" 30002 set k clone-3 >/dev/null
expect_eq "a write in ci-3 is invisible to redis and to ci-4" "clone-3 after before" \
  "$(rcli "$N3" 30002 get k) $(rcli "$N1" 6379 get k) $(rcli "$N3" 30003 get k)"
run clone list "$W/dep.yml" --json
expect_eq "clone list --json from the nodes alone: 10 clones of v1 on node2, ports from 30000" "10 v1 node2 30000 True" \
  "$(printf '%s' "$out" | python3 -c '
import json, sys
a = json.load(sys.stdin)["clones"]
print(len(a), a[0]["snapshot"], a[0]["node"], a[0]["ports"]["6379"], all(c["expires"] and c["created"] for c in a))')"
used=$(node node2 "zfs get -H -p -o value used flocker/flocker-clones")
echo "  info  pool space used by the 10 clones: $used bytes"
run "$W/dep.yml" "$APP"
expect_contains "a deploy with clones present changes nothing" "No changes" "$out"
expect_eq "… and every clone still answers" 10 "$(for i in $(seq 0 9); do rcli "$N1" $((30000 + i)) ping; done | grep -c PONG)"

section "refusals before anything is made"
run snapshot destroy "$W/dep.yml" "$APP" --app redis v1
expect_rc "destroying a snapshot clones depend on is refused (exit 5)" 5 "$rc" "$out"
expect_contains "… naming the clones" "flocker/flocker-clones/ci-1.default" "$out"
before=$(node node2 "zfs list -H -o name -r flocker/flocker-clones | wc -l")
run clone create "$W/dep.yml" "$APP" --app redis --name more --count 2 --ports 30000-30010
expect_rc "a pool with 1 free port for 2 clones is refused (exit 1)" 1 "$rc" "$out"
expect_contains "… saying the pool is exhausted" "exhausted: 10 of its 11 ports in use" "$out"
run clone create "$W/dep.yml" "$APP" --app redis --name more --on node3
expect_contains "a node without the snapshot is refused" "node3 does not hold" "$out"
run clone create "$W/dep.yml" "$APP" --app redis --name ci --count 1 --from flocker-00000001
expect_contains "a name taken by another clone is refused" "is taken" "$out"
expect_eq "none of them made a dataset" "$before" "$(node node2 "zfs list -H -o name -r flocker/flocker-clones | wc -l")"

section "destroy, sweep"
out=$("$FLOCKER" clone destroy "$W/dep.yml" ci-9 ci-10 -v 2>&1); rc=$?
expect_rc "clone destroy ci-9 ci-10 exits 0" 0 "$rc" "$out"
expect_not_contains "… with no zfs destroy -r or -R" "destroy -R" "$out"
expect_not_contains "… (nor -r)" "destroy -r" "$out"
check_fails "ci-9's port no longer answers through node1" rcli "$N1" 30008 ping
check_fails "ci-9's dataset is gone" node node2 zfs list flocker/flocker-clones/ci-9.default
expect_eq "… its container too, and its routes on node1" "0 0" \
  "$(node node2 "docker ps -aq --filter label=flocker.clone=ci-9 | wc -l") $(node node1 "iptables-save | grep -c clone=ci-9")"
run clone destroy "$W/dep.yml" ci-9
expect_rc "destroying it again exits 0" 0 "$rc" "$out"
run clone create "$W/dep.yml" "$APP" --app redis --name ttl --ttl 1s --ports 31000-31099
expect_rc "a clone with --ttl 1s" 0 "$rc" "$out"
sleep 1.5
run clone sweep "$W/dep.yml"
expect_rc "clone sweep exits 0" 0 "$rc" "$out"
expect_contains "… destroying the expired clone" "destroy clone ttl-1" "$out"
expect_not_contains "… and no other" "destroy clone ci-" "$out"

section "clone reset: fresh data, same name, ports and node"
created=$("$FLOCKER" clone list "$W/dep.yml" --json | python3 -c 'import json,sys; print([c["created"] for c in json.load(sys.stdin)["clones"] if c["name"] == "ci-3"][0])')
run clone reset "$W/dep.yml" ci-3 --dry-run
expect_rc "clone reset ci-3 --dry-run exits 0" 0 "$rc" "$out"
expect_eq "… and changes nothing (ci-3 still has its write)" "clone-3" "$(rcli "$N3" 30002 get k)"
start=$SECONDS
run clone reset "$W/dep.yml" ci-3
expect_rc "clone reset ci-3 exits 0" 0 "$rc" "$out"
echo "  info  clone reset in $((SECONDS - start)) s"
expect_contains "… from the snapshot it was made from" "reset clone ci-3 to snapshot v1 (fresh data; ports 30002→6379 kept)" "$out"
retry 20 rcli "$N1" 30002 ping
expect_eq "the write is gone: ci-3 serves v1's data, through node1" "before" "$(rcli "$N1" 30002 get k)"
expect_eq "same name, node, port, creation time and snapshot in clone list" "node2 30002 $created v1 True" \
  "$("$FLOCKER" clone list "$W/dep.yml" --json | python3 -c '
import json, sys
c = [c for c in json.load(sys.stdin)["clones"] if c["name"] == "ci-3"][0]
print(c["node"], c["ports"]["6379"], c["created"], c["snapshot"], c["complete"])')"
expect_eq "… and its routing rules on node1 are the ones it had" 4 "$(node node1 "iptables-save | grep -c 'clone=ci-3'")"
run clone reset "$W/dep.yml" ci-4 --from latest
expect_rc "clone reset ci-4 --from latest exits 0" 0 "$rc" "$out"
retry 20 rcli "$N3" 30003 ping
expect_eq "… ci-4 serves the newest snapshot's data (k=after), through node3" "after" "$(rcli "$N3" 30003 get k)"
run clone reset "$W/dep.yml" nosuch-1
expect_rc "resetting a clone that does not exist: exit 1" 1 "$rc" "$out"
expect_contains "… saying so" "there is no clone nosuch-1" "$out"
run clone reset "$W/dep.yml" ci-3 --from nosuch
expect_contains "a snapshot its node lacks is refused" "does not hold snapshot nosuch" "$out"
rcli "$N3" 30002 set k dirty >/dev/null
"$ROOT/acceptance/killpoint.py" kill "$W/kill-reset.json" "reset-clone node2 redis - -" 0.3 -- \
  "$FLOCKER" clone reset "$W/dep.yml" ci-3 --json >/dev/null 2>&1
expect_eq "clone reset was killed with SIGKILL during its step" "True" \
  "$(tail -n 1 "$W/kill-reset.json" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("killed"))')"
run clone reset "$W/dep.yml" ci-3
expect_rc "the re-run after the kill exits 0" 0 "$rc" "$out"
retry 20 rcli "$N1" 30002 ping
expect_eq "… ci-3 serves v1's data on its port, no dataset or container without its record" "before 0 0" \
  "$(rcli "$N1" 30002 get k) \
$(node node2 "zfs get -H -o name,value -r flocker:clone flocker/flocker-clones | awk '\$1 != \"flocker/flocker-clones\" && \$2 == \"-\"' | wc -l") \
$(node node2 "docker ps -a --format '{{.Names}} {{.Label \"flocker.clone\"}}' | awk '\$1 ~ /^flocker-clone--/ && NF < 2' | wc -l")"

section "clone create killed with SIGKILL, then run again"
FLOCKER_TEST_HOLD=after:create-clone "$FLOCKER" clone create "$W/dep.yml" "$APP" --app redis --name kill --count 3 > "$W/held.out" 2>&1 & kp=$!
retry 60 grep -q "holding after" "$W/held.out"
kill -9 $kp; wait $kp 2>/dev/null
"$ROOT/acceptance/killpoint.py" kill "$W/kill2.json" "create-clone node2 redis - -" 0.3 -- \
  "$FLOCKER" clone create "$W/dep.yml" "$APP" --app redis --name kill --count 3 --json >/dev/null 2>&1
run clone create "$W/dep.yml" "$APP" --app redis --name kill --count 3
expect_rc "the re-run after two kills exits 0" 0 "$rc" "$out"
run clone create "$W/dep.yml" "$APP" --app redis --name kill --count 3
expect_contains "… and one more run finds nothing to do" "No changes" "$out"
expect_eq "three kill clones answer, no dataset or container without its record" "3 0 0" \
  "$(for i in 1 2 3; do p=$(node node2 "docker inspect --format '{{index .Config.Labels \"flocker.ports\"}}' flocker-clone--kill-$i" | cut -d: -f2); rcli "$N1" "$p" ping; done | grep -c PONG) \
$(node node2 "zfs get -H -o name,value -r flocker:clone flocker/flocker-clones | awk '\$1 != \"flocker/flocker-clones\" && \$2 == \"-\"' | wc -l") \
$(node node2 "docker ps -a --format '{{.Names}} {{.Label \"flocker.clone\"}}' | awk '\$1 ~ /^flocker-clone--/ && NF < 2' | wc -l")"

section "snapshots: retention applied by sync (hourly: 2, an hour shrunk to 3 s)"
printf 'version: 1\nnodes:\n  node1: [redis]\n  node2: []\n  node3: []\nreplicas:\n  redis: 1\nsnapshots:\n  redis: {hourly: 2}\n' > "$W/ret.yml"
# name<TAB>creation of node N's automatic snapshots.
autos() { node "$1" "zfs get -H -p -o name,value creation -r flocker/redis.default" | grep @ | sed 's/^[^@]*@//' | grep '^flocker-[0-9]'; }
origin=$(node node2 "zfs get -H -o value origin flocker/flocker-clones/kill-1.default" | sed 's/.*@//')
autos node1 > "$W/history"
cp "$W/history" "$W/history0"
for i in 1 2 3 4 5; do
  rcli "$N1" 6379 set r "$i" >/dev/null; rcli "$N1" 6379 save >/dev/null
  out=$(FLOCKER_TEST_RETENTION_HOUR=3 "$FLOCKER" sync "$W/ret.yml" "$APP" 2>&1); rc=$?
  [ $rc = 0 ] || break
  autos node1 >> "$W/history"
  sleep 1
done
expect_rc "five syncs with the retention exit 0" 0 "$rc" "$out"
expect_contains "… and their prunes say what they keep" "prune old snapshots of volume redis/default (keeping hourly 2)" "$out"
# What should be left: the first snapshot of each of the two newest 3-second "hours" that had one, the newest,
# and the newest before this pass (each copy's base when the pass was planned); on node2 also the clones' origin.
expected=$(python3 - "$W/history" <<'PY'
import sys
seen = {}
for line in open(sys.argv[1]):
    name, t = line.split()
    seen[name] = int(t)
order = sorted(seen, key=lambda n: (seen[n], n))
first = {}
for n in order:
    first.setdefault(seen[n] // 3, n)
keep = {first[b] for b in sorted(first)[-2:]} | set(order[-2:])
print(" ".join(sorted(keep)))
PY
)
span=$(python3 - "$W/history" "$W/history0" <<'PY'
import sys
before = {l.split()[0] for l in open(sys.argv[2])}
new = {}
for l in open(sys.argv[1]):
    n, t = l.split()
    if n not in before: new[n] = int(t)
print(len(new), "yes" if new and max(new.values()) // 3 - min(new.values()) // 3 >= 2 else "no")
PY
)
expect_eq "the passes took 5 snapshots, spread over more than two 3-second hours" "5 yes" "$span"
expect_eq "node1 keeps exactly what the retention and the replica's base need" "$expected" "$(autos node1 | cut -f1 | sort | tr '\n' ' ' | sed 's/ $//')"
expect_eq "node2 (the replica) likewise, plus the snapshot the kill clones were made from" \
  "$(printf '%s\n' $expected "$origin" | sort -u | tr '\n' ' ' | sed 's/ $//')" "$(autos node2 | cut -f1 | sort | tr '\n' ' ' | sed 's/ $//')"
expect_eq "pruning left the named snapshot v1 on both nodes" "1 1" \
  "$(snaps node1 | grep -c flocker-named-v1) $(snaps node2 | grep -c flocker-named-v1)"
printf 'version: 1\nnodes:\n  node1: [redis]\n  node2: []\n  node3: []\nreplicas:\n  redis: 1\nsnapshots:\n  redis: {every: 1h, hourly: 2}\n' > "$W/every.yml"
newest=$(autos node1 | sort -k2n | tail -n 1 | cut -f1)
rcli "$N1" 6379 set r 6 >/dev/null; rcli "$N1" 6379 save >/dev/null
run sync "$W/every.yml" "$APP"
expect_rc "a sync with every: 1h exits 0" 0 "$rc" "$out"
expect_eq "… and takes no snapshot: the newest is younger than an hour" "$newest" "$(autos node1 | sort -k2n | tail -n 1 | cut -f1)"
printf 'version: 1\nnodes:\n  node1: [redis]\n  node2: []\nsnapshots:\n  redis: {hourly: -2}\nreplicas:\n  redis: 1\n' > "$W/bad.yml"
run sync "$W/bad.yml" "$APP"
expect_rc "a bad snapshots: entry: exit 2" 2 "$rc" "$out"
expect_contains "… with a positioned error" "bad.yml:6:19: error: snapshots.redis.hourly: expected a number of snapshots to keep (0 or more), found -2" "$out"

section "clean up"
names=$("$FLOCKER" clone list "$W/dep.yml" --json | python3 -c 'import json,sys; print(" ".join(c["name"] for c in json.load(sys.stdin)["clones"]))')
run clone destroy "$W/dep.yml" $names
expect_rc "clone destroy of every clone exits 0" 0 "$rc" "$out"

section "rollback without loss, and back; replicas and moves stay incremental"
rcli "$N1" 6379 set k after2 >/dev/null; rcli "$N1" 6379 save >/dev/null
run rollback "$W/dep.yml" "$APP" --app redis --to v1
expect_rc "rollback without --yes exits 0" 0 "$rc" "$out"
expect_contains "… and says it changed nothing" "Nothing was changed: run again with --yes" "$out"
expect_eq "… redis still has the current data" "after2" "$(rcli "$N1" 6379 get k)"
newest=$(node node1 zfs list -H -t snapshot -o name -s createtxg -r flocker/redis.default | tail -n 1 | sed 's/.*@//')
run rollback "$W/dep.yml" "$APP" --app redis --to v1 --yes
expect_rc "rollback --to v1 --yes exits 0" 0 "$rc" "$out"
pre=$(printf '%s' "$out" | grep -o 'pre-rollback-[0-9TZ]*' | head -n 1)
expect_contains "… tells how to undo" "--to $pre --yes" "$out"
retry 20 rcli "$N1" 6379 ping
expect_eq "redis serves the snapshot's data again" "before" "$(rcli "$N1" 6379 get k)"
expect_contains "the newer snapshot $newest still exists (on the dataset set aside)" "@$newest" \
  "$(node node1 zfs list -H -t snapshot -o name -r flocker)"
run snapshot list "$W/dep.yml" "$APP" --app redis --json
expect_contains "snapshot list shows the pre-rollback snapshot" "\"kind\":\"pre-rollback\",\"name\":\"$pre\"" "$out"
expect_eq "the replica followed: node2's newest snapshot is node1's" "$(snaps node1 | awk '{print $NF}')" "$(snaps node2 | awk '{print $NF}')"
run rollback "$W/dep.yml" "$APP" --app redis --to "$pre" --yes
expect_rc "rollback --to $pre --yes exits 0" 0 "$rc" "$out"
retry 20 rcli "$N1" 6379 ping
expect_eq "the data written after v1 is back" "after2" "$(rcli "$N1" 6379 get k)"
run sync "$W/dep.yml" "$APP"
expect_rc "a sync after two rollbacks exits 0" 0 "$rc" "$out"
expect_eq "… sending no full copy (no MiB)" 0 "$(printf '%s' "$out" | grep 'ok .*replicate' | grep -c MiB)"
printf 'version: 1\nnodes:\n  node1: []\n  node2: [redis]\n  node3: []\nreplicas:\n  redis: 1\n' > "$W/moved.yml"
txg=$(node node2 "zfs get -H -p -o value createtxg flocker/redis.default@flocker-named-v1")
run "$W/moved.yml" "$APP"
expect_rc "a move onto the replica after the rollbacks exits 0" 0 "$rc" "$out"
expect_eq "… and copies only increments (no MiB)" 0 "$(printf '%s' "$out" | grep 'ok .*copy volume' | grep -c MiB)"
expect_eq "… its figures show small increments (B or KiB sent, the volume holds 8 MiB)" "yes" \
  "$(grep 'ok .*copy volume' <<<"$out" | grep 'sent [0-9.]* \(B\|KiB\) in' >/dev/null && echo yes)"
expect_eq "… onto node2's copy as it was (v1 there is the snapshot received before the rollbacks, not a new full copy)" \
  "$txg" "$(node node2 "zfs get -H -p -o value createtxg flocker/redis.default@flocker-named-v1")"
retry 20 rcli "$N1" 6379 ping
expect_eq "… redis on node2 has the data" "after2" "$(rcli "$N1" 6379 get k)"
run snapshot destroy "$W/moved.yml" "$APP" --app redis v1
expect_rc "v1 cannot be destroyed now: the datasets set aside are clones of it (exit 5)" 5 "$rc" "$out"
expect_contains "… and the refusal names them" "pre-rollback-" "$out"
echo "  info  suite took $((SECONDS - SUITE_START)) s"
finish
