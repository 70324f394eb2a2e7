#!/usr/bin/env bash
# `flocker-deploy evacuate` against a real 3-node sandbox: six applications on node1 (two with volumes, one of
# them with a replica on node3) all move off it; the replica's node takes that one and only its changes travel;
# the written file deploys as a no-op afterwards; data and service survive; impossible evacuations are refused
# with nothing written or changed.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

NODES=(node1 node2 node3)
sandbox_up "${NODES[@]}"
N1=$("$SANDBOX" addr node1); N2=$("$SANDBOX" addr node2)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
reset_nodes "${NODES[@]}"

web() { # NAME PORT: a stateless httpd answering its own name
  printf '  %s:\n    image: busybox:latest\n    command: ["sh", "-c", "echo %s > /tmp/index.html && exec httpd -f -p 8080 -h /tmp"]\n    ports:\n      - {internal: 8080, external: %s}\n' "$1" "$1" "$2"
}
{
  printf 'version: 1\napplications:\n'
  printf '  redis:\n    image: redis:7\n    ports:\n      - {internal: 6379, external: 6379}\n    volume:\n      mountpoint: /data\n'
  printf '  kv:\n    image: redis:7\n    ports:\n      - {internal: 6379, external: 6390}\n    volume:\n      mountpoint: /data\n'
  web web1 8091; web web2 8092; web web3 8093; web web4 8094
} > "$W/app.yml"
cat > "$W/dep.yml" <<'YAML'
version: 1
nodes:
  node1: [redis, kv, web1, web2, web3, web4]
  node2: []
  node3: []
replicas:
  redis: [node3]
YAML

section "six applications on node1, redis with a replica on node3"
out=$("$FLOCKER" "$W/dep.yml" "$W/app.yml" 2>&1); rc=$?
expect_rc "deploy exits 0" 0 "$rc" "$out"
redis-cli -h "$N1" -p 6379 set evac-key before >/dev/null
redis-cli -h "$N1" -p 6390 set kv-key kept >/dev/null
redis-cli -h "$N1" -p 6379 save >/dev/null; redis-cli -h "$N1" -p 6390 save >/dev/null
out=$("$FLOCKER" sync "$W/dep.yml" "$W/app.yml" 2>&1); rc=$?
expect_rc "a sync warms redis's replica on node3" 0 "$rc" "$out"
redis-cli -h "$N1" -p 6379 set after-sync yes >/dev/null

section "evacuate --dry-run prints the placement and the plan, writes and changes nothing"
out=$("$FLOCKER" evacuate node1 "$W/dep.yml" "$W/app.yml" --write "$W/new.yml" --dry-run 2>&1); rc=$?
expect_rc "--dry-run exits 0" 0 "$rc" "$out"
expect_contains "the order of earlier releases (NODE first) is read, with a warning" "the order is now \`evacuate DEPLOYMENT APPLICATION NODE\`" "$out"
expect_contains "redis goes to node3, which holds its replica" "redis  -> node3  (holds its replica" "$out"
expect_contains "the plan is printed" "Plan:" "$out"
check_fails "no file is written" test -e "$W/new.yml"
expect_eq "node1 still runs all six" "6" "$(node node1 docker ps -q --filter label=flocker.app | wc -l)"

section "evacuate node1"
out=$("$FLOCKER" evacuate "$W/dep.yml" "$W/app.yml" node1 --write "$W/new.yml" 2>&1); rc=$?
expect_rc "evacuate exits 0" 0 "$rc" "$out"
expect_contains "it prints the placement" "Evacuating node1: 6 applications" "$out"
expect_contains "kv (with a volume) goes to node2, the least loaded" "kv     -> node2  (least loaded" "$out"
expect_contains "the replica list is kept valid" "note: replicas of redis: [node1] (node3 runs it now)" "$out"
expect_contains "the written file" "Wrote $W/new.yml." "$out"
expect_eq "node1 runs nothing" "0" "$(node node1 docker ps -q --filter label=flocker.app | wc -l)"
expect_eq "node2 and node3 run three each" "3 3" \
  "$(node node2 docker ps -q --filter label=flocker.app | wc -l) $(node node3 docker ps -q --filter label=flocker.app | wc -l)"
expect_eq "redis runs on node3" "true" "$(node node3 docker inspect --format '{{.State.Running}}' flocker--redis 2>&1)"
sent=$(grep -E 'copy volume redis/default' <<<"$out" | grep -Eo 'sent [0-9.]+ [KMG]?i?B' | head -n1)
case $sent in *" B"|*KiB) pass "redis's move sent only what changed since the sync ($sent)" ;; *) fail "redis's move sent only the changes" "$sent" ;; esac
expect_eq "redis kept its data, written before and after the sync (asked through node1)" "before yes" \
  "$(redis-cli -h "$N1" -p 6379 get evac-key) $(redis-cli -h "$N1" -p 6379 get after-sync)"
expect_eq "kv kept its data (asked through node2)" "kept" "$(redis-cli -h "$N2" -p 6390 get kv-key)"
for p in 8091 8092 8093 8094; do
  expect_eq "web on port $p answers through node1" "web$((p - 8090))" "$(curl -s --max-time 5 "http://$N1:$p/" 2>&1)"
done
expect_contains "the written file keeps node1, empty" "node1: []" "$(cat "$W/new.yml")"
out=$("$FLOCKER" "$W/new.yml" "$W/app.yml" 2>&1); rc=$?
expect_rc "deploying the written file exits 0" 0 "$rc" "$out"
expect_contains "… and changes nothing" "No changes" "$out"

section "impossible evacuations are refused, nothing written or changed"
out=$("$FLOCKER" evacuate "$W/new.yml" "$W/app.yml" node9 --write "$W/x.yml" 2>&1); rc=$?
expect_rc "an unknown node: exit 2" 2 "$rc" "$out"
expect_contains "… saying so" "node9 is not a node of the deployment file" "$out"
printf 'version: 1\nnodes:\n  node1: [redis, kv, web1, web2, web3, web4]\n' > "$W/one.yml"
out=$("$FLOCKER" evacuate "$W/one.yml" "$W/app.yml" node1 --write "$W/x.yml" 2>&1); rc=$?
expect_rc "a single-node file: exit 2" 2 "$rc" "$out"
expect_contains "… nowhere to go" "there is nowhere to move its applications" "$out"
check_fails "no file was written" test -e "$W/x.yml"

reset_nodes "${NODES[@]}"
finish
