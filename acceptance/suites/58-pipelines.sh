#!/usr/bin/env bash
# Per-application pipelines against a real 3-node sandbox: two applications with volumes move at once while one
# of them ignores SIGTERM (busybox httpd as PID 1: its stop takes the whole stop_timeout), and the other's move is
# not held up by it (a redis client through node3 sees no failed request and no long wait, and redis's hold is
# released before the slow stop ends); an application without volumes moves start-before-stop while a client
# opens a new connection every 10 ms through node3: not one request fails.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

NODES=(node1 node2 node3)
sandbox_up "${NODES[@]}"
N3=$("$SANDBOX" addr node3)
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
reset_nodes "${NODES[@]}"
cat > "$W/app.yml" <<'YAML'
version: 1
applications:
  slow:
    image: busybox:latest
    command: ["httpd", "-f", "-p", "80"]
    ports: [{internal: 80, external: 8081}]
    volume: {mountpoint: /data}
    stop_timeout: 8
  redis:
    image: redis:7
    ports: [{internal: 6379, external: 6379}]
    volume: {mountpoint: /data}
  web:
    image: busybox:latest
    command: ["httpd", "-f", "-p", "80"]
    ports: [{internal: 80, external: 8080}]
    stop_timeout: 3
YAML
dep() { printf 'version: 1\nnodes:\n  node1: [%s]\n  node2: [%s]\n  node3: []\n' "$1" "$2" > "$W/dep.yml"; }
# finished APP ACTION NODE: the line number of that step's step-finished record in the run's JSON output (a
# route step, node-wide in JSON, is APP's when its rules name APP)
finished() { grep -n '"event":"step-finished"' "$W/run.json" | grep "\"action\":\"$2\"" \
  | grep -e "\"app\":\"$1\"" -e "flocker-deploy:dnat:$1:" | grep "\"node\":\"$3\"" | head -1 | cut -d: -f1; }

section "three applications on node1"
dep "slow, redis, web" ""
out=$("$FLOCKER" "$W/dep.yml" "$W/app.yml" 2>&1); rc=$?
expect_rc "the first deploy exits 0" 0 "$rc" "$out"
for i in $(seq 1 50); do echo "SET k$i v$i"; done | redis-cli -h "$N3" >/dev/null

section "slow (ignores SIGTERM, stop_timeout 8) and redis move at once; redis is not held up"
python3 "$ROOT/bench/redis_probe.py" "$N3" 6379 120 4 > "$W/probe.json" & probe=$!
sleep 0.5
dep web "slow, redis"
started=$EPOCHREALTIME
"$FLOCKER" "$W/dep.yml" "$W/app.yml" --json > "$W/run.json" 2>&1; rc=$?
took=$(echo "$EPOCHREALTIME - $started" | bc -l)
sleep 0.5
kill -TERM "$probe"; wait "$probe"
expect_rc "the move of both exits 0" 0 "$rc" "$(tail -n 5 "$W/run.json")"
if awk -v t="$took" 'BEGIN { exit !(t >= 8) }'; then pass "slow's stop really waited its stop_timeout (the run took $(printf '%.1f' "$took") s)"
else fail "slow's stop really waited its stop_timeout" "the run took $took s: slow stopped at once?"; fi
release=$(finished redis release-hold node3); stop=$(finished slow stop node1)
if [ -n "$release" ] && [ -n "$stop" ] && [ "$release" -lt "$stop" ]; then
  pass "redis's move ended (its hold released) before slow's stop did"
else fail "redis's move ended before slow's stop did" "release-hold at line ${release:-none}, slow's stop at line ${stop:-none}"; fi
expect_eq "the redis client saw no failed request" "0" "$(jq -r .failures "$W/probe.json")"
slowest=$(jq -r .slowest "$W/probe.json")
# A held SYN is sent again after 1 s, then 3 s after the first: redis's own window, not slow's 8 s stop.
if awk -v s="$slowest" 'BEGIN { exit !(s <= 3.5) }'; then pass "every redis request was answered within 3.5 s (slowest $slowest s)"
else fail "every redis request was answered within 3.5 s" "slowest: $slowest s (held up by slow's stop?)"; fi
expect_eq "redis kept its data" "v33" "$(redis-cli -h "$N3" get k33)"
expect_eq "slow runs on node2" "true" "$(node node2 docker inspect -f '{{.State.Running}}' flocker--slow 2>&1)"
# busybox httpd answers 404 for a folder without index.html: an answer all the same.
expect_eq "… and answers through node3" "404" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://$N3:8081/")"

section "web (no volume) moves start-before-stop while a client connects every 10 ms through node3"
python3 "$ROOT/bench/http_probe.py" "$N3" 8080 120 0.5 > "$W/http.json" & probe=$!
sleep 0.5
dep "" "slow, redis, web"
"$FLOCKER" "$W/dep.yml" "$W/app.yml" --json > "$W/run.json" 2>&1; rc=$?
sleep 0.5
kill -TERM "$probe"; wait "$probe"
expect_rc "the stateless move exits 0" 0 "$rc" "$(tail -n 5 "$W/run.json")"
start=$(finished web start node2); routes=$(finished web set-routes node3); stop=$(finished web stop node1)
if [ -n "$start" ] && [ -n "$routes" ] && [ -n "$stop" ] && [ "$start" -lt "$routes" ] && [ "$routes" -lt "$stop" ]; then
  pass "web started on node2, then the routes switched, then the old copy stopped"
else fail "start, then routes, then stop" "start ${start:-none}, routes ${routes:-none}, stop ${stop:-none}"; fi
expect_eq "the client saw no failed request" "0" "$(jq -r .failures "$W/http.json")"
expect_eq "… and made requests meanwhile" "true" "$(jq -r '.requests > 100' "$W/http.json")"
expect_eq "web's old container is gone from node1" "" "$(node node1 docker ps -aq --filter name=flocker--web)"
out=$("$FLOCKER" "$W/dep.yml" "$W/app.yml" 2>&1); rc=$?
expect_rc "the next run exits 0" 0 "$rc" "$out"
expect_contains "… and changes nothing" "No changes" "$out"

reset_nodes "${NODES[@]}"
finish
