#!/usr/bin/env bash
# Connection holds against a real 3-node sandbox: while redis (with a volume) moves, every node drops new SYNs to
# its port instead of refusing them, so a client that waits a few seconds per connection sees no failed request;
# the hold is gone after the move; a run killed with SIGKILL while a hold is in place leaves a rule that ends by
# itself (new connections work again within the hold time) and that the next run removes.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

NODES=(node1 node2 node3)
sandbox_up "${NODES[@]}"
N3=$("$SANDBOX" addr node3)
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
reset_nodes "${NODES[@]}"
APP="$ROOT/examples/redis/application.yml"
dep() { printf 'version: 1\nnodes:\n  node1: [%s]\n  node2: [%s]\n  node3: []\n' "$1" "$2" > "$W/dep.yml"; }
holds() { node "$1" iptables-save -t raw | grep -c 'flocker-deploy:hold:'; }

section "a redis move with a client opening a new connection every 10 ms, waiting up to 4 s each"
dep redis ""
out=$("$FLOCKER" "$W/dep.yml" "$APP" 2>&1); rc=$?
expect_rc "redis on node1 exits 0" 0 "$rc" "$out"
for i in $(seq 1 100); do echo "SET k$i v$i"; done | redis-cli -h "$N3" >/dev/null
# Through node3, which runs neither end of the move: its mesh forwards, then holds, then forwards to node2.
python3 "$ROOT/bench/redis_probe.py" "$N3" 6379 120 4 > "$W/probe.json" & probe=$!
sleep 1
dep "" redis
out=$("$FLOCKER" "$W/dep.yml" "$APP" 2>&1); rc=$?
sleep 1
kill -TERM "$probe"; wait "$probe"
expect_rc "the move exits 0" 0 "$rc" "$out"
expect_contains "the plan holds new connections on every node" "node3  hold new connections to redis (port 6379) until it runs elsewhere" "$out"
expect_contains "… and releases them after the routes" "release the hold on redis's new connections" "$out"
expect_eq "the client saw no failed request" "0" "$(jq -r .failures "$W/probe.json")"
expect_eq "… and made requests meanwhile" "true" "$(jq -r '.requests > 100' "$W/probe.json")"
slowest=$(jq -r .slowest "$W/probe.json")
# A dropped SYN is sent again 1 s later, then 3 s after the first: with a window over 1 s, 3 s and a bit.
if awk -v s="$slowest" 'BEGIN { exit !(s <= 3.5) }'; then pass "every request was answered within 3.5 s (slowest $slowest s)"
else fail "every request was answered within 3.5 s" "slowest: $slowest s"; fi
expect_eq "redis kept its data (asked through node3)" "v77 yes" "$(redis-cli -h "$N3" get k77) $(redis-cli -h "$N3" exists probe:1 | sed 's/1/yes/')"
expect_eq "no hold is left on any node" "0 0 0" "$(holds node1) $(holds node2) $(holds node3)"

section "SIGKILL while a hold is in place"
dep redis ""
FLOCKER_TEST_HOLD=after:hold-connections "$FLOCKER" "$W/dep.yml" "$APP" --connection-hold 6 > "$W/killed.out" 2>&1 & run=$!
retry 60 grep -q 'holding after' "$W/killed.out"
sleep 1   # every node's hold step has run (they run side by side; the pause comes after the first)
kill -KILL "$run"; wait "$run" 2>/dev/null
expect_eq "the hold rules are in place on every node (2 per node: from outside and from the node itself)" "2 2 2" \
  "$(holds node1) $(holds node2) $(holds node3)"
# redis still runs on node2 (the run was killed before the stop): connections are held, then work again.
started=$SECONDS
if retry 20 timeout 2 redis-cli -h "$N3" ping; then
  waited=$((SECONDS - started))
  if [ "$waited" -le 10 ]; then pass "new connections work again within the hold time (after ${waited} s, hold 6 s)"
  else fail "new connections work again within the hold time" "after ${waited} s"; fi
else
  fail "new connections work again within the hold time" "redis did not answer for 20 s"
fi
out=$("$FLOCKER" "$W/dep.yml" "$APP" 2>&1); rc=$?
expect_rc "the next run exits 0" 0 "$rc" "$out"
expect_contains "… and releases the leftover holds" "release the hold on redis's new connections" "$out"
expect_eq "no hold rule is left" "0 0 0" "$(holds node1) $(holds node2) $(holds node3)"
expect_eq "redis runs on node1 with its data" "v77" "$(redis-cli -h "$N3" get k77)"

section "connections open when a move stops redis: the stop waits for them to end (--drain), cuts them only after that"
# redis runs on node1. A client connected before the move, idle: the stop waits --drain seconds, then cuts it.
N1=$("$SANDBOX" addr node1)
N2=$("$SANDBOX" addr node2)
client() {  # client ADDRESS: one connection, a PING answered, then open and idle until killed
  python3 -c 'import socket, sys, time
s = socket.create_connection((sys.argv[1], 6379)); s.sendall(b"PING\r\n"); print(s.recv(64).decode().strip(), flush=True)
time.sleep(120)' "$1" > "$W/client.out" 2>&1 &
  conn=$!
  retry 20 grep -q PONG "$W/client.out"
}
client "$N1"
dep "" redis
out=$("$FLOCKER" "$W/dep.yml" "$APP" --drain 1 2>&1); rc=$?
kill "$conn" 2>/dev/null; wait "$conn" 2>/dev/null
expect_rc "the move with an idle client exits 0" 0 "$rc" "$out"
expect_match "the stop waited 1 s for it, then cut it, and says so" "still open after 1 s: cut by the stop \(--drain\)" "$out"
# A client that ends its connection while the stop waits: the stop goes on as soon as it is gone.
client "$N2"
dep redis ""
FLOCKER_TEST_HOLD=after:hold-connections "$FLOCKER" "$W/dep.yml" "$APP" --drain 20 > "$W/drain.out" 2>&1 & run=$!
retry 60 grep -q 'holding after' "$W/drain.out"
sleep 1   # every node's hold step has run
kill -CONT "$run"
sleep 1
kill "$conn" 2>/dev/null; wait "$conn" 2>/dev/null
wait "$run"; rc=$?
out=$(cat "$W/drain.out")
expect_rc "the move back exits 0" 0 "$rc" "$out"
expect_match "the stop waited for the open connection to end, not the whole --drain" "waited [0-9]+\.[0-9] s for 1 open connection to end" "$out"
expect_eq "redis runs on node1 with its data" "v77" "$(redis-cli -h "$N3" get k77)"

reset_nodes "${NODES[@]}"
finish
