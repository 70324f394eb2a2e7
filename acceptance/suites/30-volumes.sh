#!/usr/bin/env bash
# Volumes that follow their application: the redis tutorial, move and move back (the second sends only the
# delta), a 200 MiB file's checksum across a move, an application removed and re-added, and faults (link cut
# during the pre-copy; flocker-deploy killed just after the stop and just after the promotion; the target node
# stopped during the move), each followed by a re-run that must converge with the data intact, one running
# copy and one writable primary.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

section "sandbox with 2 nodes"
"$SANDBOX" up --nodes 2 >/dev/null || { fail "sandbox up"; finish; }
export FLOCKER_SSH_CONFIG="$SSH_CONFIG"
N1=$("$SANDBOX" addr node1); N2=$("$SANDBOX" addr node2)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
EX="$ROOT/examples/redis"

reset_nodes node1 node2

rcli() { redis-cli -h "$1" -p 6379 "${@:2}" 2>&1; }
# converged APP NODE: one running container (on NODE), one writable primary per volume (on NODE).
converged() {
  local app=$1 want=$2 running="" primaries="" n
  for n in node1 node2; do
    [ "$(node "$n" docker inspect --format '{{.State.Running}}' "flocker--$app" 2>/dev/null)" = true ] && running="$running $n"
    if node "$n" zfs list "flocker/$app.default" >/dev/null 2>&1; then
      local role ro
      role=$(node "$n" zfs get -H -o value flocker:role "flocker/$app.default")
      ro=$(node "$n" zfs get -H -o value,source readonly "flocker/$app.default")
      [ "$role" = primary ] && [ "$ro" = "off	local" -o "$ro" = "off	default" -o "$ro" = "off	inherited from flocker" ] && primaries="$primaries $n"
    fi
  done
  expect_eq "$3: $app runs once, on $want" " $want" "$running"
  expect_eq "$3: one writable primary of $app, on $want" " $want" "$primaries"
}
deploy() { "$FLOCKER" "$@"; }

section "the redis tutorial"
out=$(deploy "$EX/deployment-node1.yml" "$EX/application.yml" 2>&1); rc=$?
expect_rc "deploy redis on node1" 0 "$rc" "$out"
retry 20 rcli "$N1" ping
for i in $(seq 1 50); do rcli "$N1" set "key$i" "value$i" >/dev/null; done
expect_eq "write through node1" "value7" "$(rcli "$N1" get key7)"
out=$(deploy "$EX/deployment-node2.yml" "$EX/application.yml" 2>&1); rc=$?
expect_rc "move redis to node2" 0 "$rc" "$out"
expect_contains "the plan pre-copies, stops, copies the rest, hands over, starts" "hand redis's volume default over to node2" "$out"
expect_eq "read through node1 (routing mesh)" "value7" "$(rcli "$N1" get key7)"
expect_eq "read through node2" "value50" "$(rcli "$N2" get key50)"
converged redis node2 "after the move"
expect_contains "node1 keeps a read-only copy" "copy" "$(node node1 zfs get -H -o value flocker:role flocker/redis.default)"
out=$(deploy "$EX/deployment-node2.yml" "$EX/application.yml" 2>&1)
expect_contains "re-run is a no-op" "No changes" "$out"

section "move and move back: the second sends only the delta"
node node2 'docker exec flocker--redis sh -c "head -c 30000000 /dev/urandom > /data/blob"'
sent_bytes() { printf '%s\n' "$1" | jq -s '[.[] | select(.event=="step-finished" and (.step.action=="pre-copy" or .step.action=="final-copy")) | .bytes] | add'; }
json=$(deploy "$EX/deployment-node1.yml" "$EX/application.yml" --json 2>/dev/null); rc=$?
expect_rc "move to node1" 0 "$rc" "$out"
first=$(sent_bytes "$json")
[ "${first:-0}" -gt 25000000 ] && pass "first move sent the 30 MB blob (${first} bytes)" || fail "first move sent the 30 MB blob" "sent: $first"
json=$(deploy "$EX/deployment-node2.yml" "$EX/application.yml" --json 2>/dev/null); rc=$?
expect_rc "move back to node2" 0 "$rc" "$out"
second=$(sent_bytes "$json")
[ "${second:-99999999}" -lt 2000000 ] && pass "moving back sent only the delta (${second} bytes)" || fail "moving back sent only the delta" "sent: $second"
expect_eq "data intact after two moves" "value7" "$(rcli "$N2" get key7)"
converged redis node2 "after moving back"

section "a 200 MiB file keeps its checksum across a move"
cat > "$W/app.yml" <<'YAML'
version: 1
applications:
  bulk:
    image: busybox:latest
    command: ["sleep", "1000000"]
    volume: {mountpoint: /data}
YAML
printf 'version: 1\nnodes:\n  node1: [bulk]\n  node2: []\n' > "$W/d1.yml"
printf 'version: 1\nnodes:\n  node1: []\n  node2: [bulk]\n' > "$W/d2.yml"
printf 'version: 1\nnodes:\n  node1: []\n  node2: []\n' > "$W/d0.yml"
deploy "$W/d1.yml" "$W/app.yml" >/dev/null 2>&1
node node1 'docker exec flocker--bulk sh -c "head -c 209715200 /dev/urandom > /data/big"'
sum1=$(node node1 sha256sum /flocker/bulk.default/big | cut -d' ' -f1)
out=$(deploy "$W/d2.yml" "$W/app.yml" 2>&1); rc=$?
expect_rc "move bulk to node2" 0 "$rc" "$out"
sum2=$(node node2 sha256sum /flocker/bulk.default/big | cut -d' ' -f1)
expect_eq "same sha256 on node2" "$sum1" "$sum2"
expect_eq "same sha256 inside the container" "$sum1" "$(node node2 docker exec flocker--bulk sha256sum /data/big | cut -d' ' -f1)"

section "an application removed and re-added gets its old data"
out=$(deploy "$W/d0.yml" "$W/app.yml" 2>&1); rc=$?
expect_rc "remove bulk" 0 "$rc" "$out"
expect_eq "bulk is stopped everywhere" "" "$(node node1 docker ps -q --filter name=flocker--bulk)$(node node2 docker ps -q --filter name=flocker--bulk)"
st=$("$FLOCKER" status "$W/d0.yml" 2>&1)
expect_contains "status shows the kept volume" "bulk/default (its application is not running" "$st"
out=$(deploy "$W/d1.yml" "$W/app.yml" 2>&1); rc=$?
expect_rc "re-add bulk on node1 (its volume is on node2)" 0 "$rc" "$out"
expect_eq "the old data came back" "$sum1" "$(node node1 docker exec flocker--bulk sha256sum /data/big | cut -d' ' -f1)"
converged bulk node1 "after re-adding"

section "fault: the link cut during the pre-copy"
# bulk runs on node1 with 200 MiB; move it to node2 and cut node2's link while the pre-copy streams.
node node1 'docker exec flocker--bulk sh -c "head -c 104857600 /dev/urandom > /data/more"'
sum_more=$(node node1 sha256sum /flocker/bulk.default/more | cut -d' ' -f1)
deploy "$W/d2.yml" "$W/app.yml" --json --transfer-timeout 5 --no-compression > "$W/cut.json" 2>"$W/cut.err" &
pid=$!
retry 60 grep -q '"event":"progress"' "$W/cut.json"
"$SANDBOX" cut node2 >/dev/null
wait $pid; rc=$?
"$SANDBOX" heal node2 >/dev/null
[ "$rc" -ne 0 ] && pass "the run fails (exit $rc)" || fail "the run fails"
expect_contains "the failure names a node and the copy" "copy volume bulk/default" "$(cat "$W/cut.json" "$W/cut.err")"
expect_eq "bulk still runs on node1 (never stopped)" "true" "$(node node1 docker inspect --format '{{.State.Running}}' flocker--bulk)"
out=$(deploy "$W/d2.yml" "$W/app.yml" 2>&1); rc=$?
expect_rc "re-run converges" 0 "$rc" "$out"
converged bulk node2 "after the cut"
expect_eq "data intact after the cut" "$sum_more" "$(node node2 sha256sum /flocker/bulk.default/more | cut -d' ' -f1)"

section "fault: flocker-deploy killed just after the stop"
kill_at() { # $1 hold point, $2 deployment
  FLOCKER_TEST_HOLD="$1" "$FLOCKER" "$2" "$EX/application.yml" > "$W/hold.out" 2>&1 &
  local p=$!
  if retry 60 grep -q "holding after" "$W/hold.out"; then pass "reached the point: $1"; else fail "reached the point: $1" "$(tail -5 "$W/hold.out")"; fi
  kill -9 $p; wait $p 2>/dev/null
}
# redis runs on node2 first (bulk, not in redis's application file, goes), so that the run killed is a move of
# redis and the stop it is killed after is redis's.
out=$(deploy "$EX/deployment-node2.yml" "$EX/application.yml" 2>&1); rc=$?
expect_rc "redis runs on node2 before the move" 0 "$rc" "$out"
kill_at after:stop:redis "$EX/deployment-node1.yml"
expect_eq "killed after the stop: redis runs nowhere" "" "$(node node1 docker ps -q --filter name=flocker--redis)$(node node2 docker ps -q --filter name=flocker--redis)"
out=$(deploy "$EX/deployment-node1.yml" "$EX/application.yml" 2>&1); rc=$?
expect_rc "re-run converges (after the stop)" 0 "$rc" "$out"
converged redis node1 "after a kill after the stop"
expect_eq "data intact (after the stop)" "value7" "$(rcli "$N2" get key7)"

section "fault: flocker-deploy killed just after the promotion"
kill_at after:handoff "$EX/deployment-node2.yml"
out=$(deploy "$EX/deployment-node2.yml" "$EX/application.yml" 2>&1); rc=$?
expect_rc "re-run converges (after the promotion)" 0 "$rc" "$out"
expect_not_contains "the re-run does not copy again" "copy volume" "$out"
converged redis node2 "after a kill after the promotion"
expect_eq "data intact (after the promotion)" "value50" "$(rcli "$N1" get key50)"

section "fault: the target node stopped during the move"
deploy "$EX/deployment-node1.yml" "$EX/application.yml" --json > "$W/stop.json" 2>"$W/stop.err" &
pid=$!
retry 60 grep -q '"action":"pre-copy"' "$W/stop.json"
"$SANDBOX" stop node1 >/dev/null
wait $pid; rc=$?
[ "$rc" -ne 0 ] && pass "the run fails when its target dies (exit $rc)" || fail "the run fails when its target dies"
expect_eq "redis still (or again) runs on node2" "true" "$(node node2 docker inspect --format '{{.State.Running}}' flocker--redis)"
expect_eq "data served meanwhile" "value7" "$(rcli "$N2" get key7)"
"$SANDBOX" start node1 >/dev/null
out=$(deploy "$EX/deployment-node1.yml" "$EX/application.yml" 2>&1); rc=$?
expect_rc "re-run converges after the target came back" 0 "$rc" "$out"
converged redis node1 "after the target died"
expect_eq "data intact (target died)" "value50" "$(rcli "$N1" get key50)"

section "direct node-to-node transfer (--direct-transfer)"
# What a user sets up for direct transfers: node1 gets a key of its own, authorized on node2, and node2's host key.
node node1 'mkdir -p /root/.ssh && rm -f /root/.ssh/id_ed25519 /root/.ssh/id_ed25519.pub && ssh-keygen -q -t ed25519 -N "" -f /root/.ssh/id_ed25519'
pub=$(node node1 cat /root/.ssh/id_ed25519.pub)
node node2 "mkdir -p /root/.ssh && echo '$pub' >> /root/.ssh/authorized_keys"
node node1 "ssh-keyscan -t ed25519 $N2 2>/dev/null >> /root/.ssh/known_hosts"
check "node1 reaches node2 over ssh by itself" node node1 "ssh -o BatchMode=yes root@$N2 true"
out=$(deploy "$EX/deployment-node2.yml" "$EX/application.yml" --direct-transfer 2>&1); rc=$?
expect_rc "direct move exits 0" 0 "$rc" "$out"
expect_eq "data intact after a direct move" "value50" "$(rcli "$N2" get key50)"
converged redis node2 "after a direct move"
node node2 "sed -i '\\|$pub|d' /root/.ssh/authorized_keys"
out=$(deploy "$EX/deployment-node1.yml" "$EX/application.yml" --direct-transfer 2>&1); rc=$?
[ "$rc" -ne 0 ] && pass "without node-to-node keys a direct move fails (exit $rc)" || fail "without node-to-node keys a direct move fails"
expect_contains "and says so, naming the node" "direct transfer to node1 failed" "$out"
expect_eq "redis still serves from node2" "value50" "$(rcli "$N2" get key50)"

reset_nodes node1 node2
finish
