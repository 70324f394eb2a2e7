#!/usr/bin/env bash
# The deploy engine against a real 3-node sandbox: discovery, plan, apply; routing mesh; links; restarts only on
# change; removal keeps volumes; limits visible in docker inspect; an unreachable node stops the run first.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

section "sandbox with 3 nodes"
"$SANDBOX" up --nodes 3 >/dev/null || { fail "sandbox up"; finish; }
export FLOCKER_SSH_CONFIG="$SSH_CONFIG"
N1=$("$SANDBOX" addr node1); N2=$("$SANDBOX" addr node2); N3=$("$SANDBOX" addr node3)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# Start from an empty cluster: no managed containers, datasets or rules from an earlier suite.
reset_nodes node1 node2 node3

HOSTILE='$(touch /tmp/pwned-by-flocker) `touch /tmp/pwned2` ; rm -rf / && echo "x" | cat'
write_app() { # $1: extra env line for web, $2: command of web
cat > "$W/app.yml" <<YAML
version: 1
applications:
  web:
    image: busybox:latest
    command: ["sh", "-c", "echo \"hello from \$(hostname) \$GREETING\" > /tmp/index.html && exec httpd -f -p 8080 -h /tmp"]
    ports:
      - {internal: 8080, external: 8081}
    environment:
      GREETING: "${1:-hi}"
      HOSTILE: '$HOSTILE'
    mem_limit: 67108864
    cpu_shares: 512
    restart_policy: {name: on-failure, maximum_retry_count: 3}
  redis:
    image: redis:7
    ports:
      - {internal: 6379, external: 6380}
  client:
    image: busybox:latest
    command: ["sleep", "100000"]
    links:
      - {local_port: 6379, remote_port: 6380, alias: db}
YAML
}
write_deploy() { # $1 node1 apps, $2 node2 apps, $3 node3 apps
cat > "$W/deploy.yml" <<YAML
version: 1
nodes:
  node1: [$1]
  node2: [$2]
  node3: [$3]
YAML
}
deploy() { "$FLOCKER" "$W/deploy.yml" "$W/app.yml" "$@"; }
cid() { node "$1" docker inspect --format '{{.Id}}' "flocker--$2" 2>/dev/null; }
http() { curl -s --max-time 3 "http://$1:8081/"; }

section "first deploy"
write_app hi
write_deploy "web, redis" "client" ""
out=$(deploy 2>&1); rc=$?
expect_rc "deploy exits 0" 0 "$rc" "$out"
expect_contains "plan is printed" "Plan:" "$out"
expect_contains "steps are reported with their node" "ok      node1  start web" "$out"
expect_contains "summary line" "Done:" "$out"
check "web runs on node1" node node1 docker inspect --format '{{.State.Running}}' flocker--web
expect_eq "web is only on node1" "" "$(node node2 docker ps -q --filter name=flocker--web)$(node node3 docker ps -q --filter name=flocker--web)"
expect_eq "labels carry the app name" "web" "$(node node1 "docker inspect --format '{{index .Config.Labels \"flocker.app\"}}' flocker--web")"

section "re-run is a no-op"
before=$(cid node1 web)
out=$(deploy -v 2>&1); rc=$?
expect_rc "re-run exits 0" 0 "$rc" "$out"
expect_contains "re-run says no changes" "No changes" "$out"
traced=$(printf '%s\n' "$out" | grep '^trace ' || true)
expect_eq "only discovery ran (one command per node)" 3 "$(printf '%s\n' "$traced" | grep -c 'flocker-discovery')"
expect_eq "no other remote command ran" "" "$(printf '%s\n' "$traced" | grep -v 'flocker-discovery' || true)"
expect_eq "web was not restarted" "$before" "$(cid node1 web)"

section "environment, limits, restart policy"
env_out=$(node node1 docker exec flocker--web env)
expect_contains "environment visible in the container" "GREETING=hi" "$env_out"
expect_contains "hostile value carried literally" "HOSTILE=$HOSTILE" "$env_out"
check_fails "hostile value never executed on the node" node node1 test -e /tmp/pwned-by-flocker
check_fails "hostile value never executed (backticks)" node node1 test -e /tmp/pwned2
check_fails "no environment file left behind" node node1 'ls /var/lib/flocker-deploy/env/*.env'
expect_eq "mem_limit in docker inspect" 67108864 "$(node node1 docker inspect --format '{{.HostConfig.Memory}}' flocker--web)"
expect_eq "cpu_shares in docker inspect" 512 "$(node node1 docker inspect --format '{{.HostConfig.CpuShares}}' flocker--web)"
expect_eq "restart policy in docker inspect" "on-failure:3" "$(node node1 docker inspect --format '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}' flocker--web)"
check_fails "environment values are not on the container's command line" sh -c "node node1 docker inspect --format '{{json .Args}}' flocker--web | grep -F GREETING"

section "routing mesh"
for ip in "$N1" "$N2" "$N3"; do
  expect_contains "web reached through $ip from outside" "hello from" "$(http "$ip")"
done
expect_contains "web reached from node2 through node2's own address" "hello from" "$(node node2 curl -s --max-time 3 "http://$N2:8081/")"
expect_contains "web reached from node3 through node1" "hello from" "$(node node3 curl -s --max-time 3 "http://$N1:8081/")"
rules=$(node node2 iptables-save -t nat | grep -E -c 'flocker-deploy:dnat(-local)?:web:8081:')
expect_eq "node2 has one tagged DNAT rule per direction for web" 2 "$rules"
expect_eq "node1 (which runs web) has no rule for it" 0 "$(node node1 iptables-save -t nat | grep -c 'flocker-deploy:dnat:web:' || true)"

section "links"
link_env=$(node node2 docker exec flocker--client env)
expect_contains "link variable points at the client's own node" "DB_PORT_6379_TCP=tcp://$N2:6380" "$link_env"
expect_contains "link address variable" "DB_PORT_6379_TCP_ADDR=$N2" "$link_env"
# The script runs in the container's shell, so the link variables are the container's own.
PING_SCRIPT='printf "PING\r\n" | nc -w 2 "$DB_PORT_6379_TCP_ADDR" "$DB_PORT_6379_TCP_PORT"'
pong() { node node2 docker exec flocker--client sh -c "$(printf '%q' "$PING_SCRIPT")" 2>&1; }
expect_contains "client on node2 reaches redis on node1 through its link" "PONG" "$(pong)"

section "move redis (stateless here) and web"
client_before=$(cid node2 client)
write_deploy "" "client" "web, redis"
out=$(deploy 2>&1); rc=$?
expect_rc "move exits 0" 0 "$rc" "$out"
expect_eq "web left node1" "" "$(node node1 docker ps -aq --filter name=flocker--web)"
check "web runs on node3" node node3 docker inspect --format '{{.State.Running}}' flocker--web
web_host=$(node node3 docker inspect --format '{{.Config.Hostname}}' flocker--web)
for ip in "$N1" "$N2" "$N3"; do
  expect_contains "after the move, web (now on node3) reached through $ip" "hello from $web_host" "$(http "$ip")"
done
expect_contains "the link still works after redis moved" "PONG" "$(pong)"
expect_eq "the linking client was not restarted" "$client_before" "$(cid node2 client)"

section "a change restarts only that app"
web_before=$(cid node3 web); redis_before=$(cid node3 redis)
write_app changed
out=$(deploy 2>&1); rc=$?
expect_rc "change exits 0" 0 "$rc" "$out"
expect_contains "plan stops and starts web" "stop and remove web" "$out"
expect_not_contains "plan leaves redis alone" "redis" "$(printf '%s\n' "$out" | grep -E '^\s+node[0-9]' || true)"
[ "$web_before" != "$(cid node3 web)" ] && pass "web got a new container" || fail "web got a new container"
expect_eq "redis kept its container" "$redis_before" "$(cid node3 redis)"
expect_contains "new environment visible" "GREETING=changed" "$(node node3 docker exec flocker--web env)"

section "dry run and JSON"
write_deploy "web" "client" "redis"
out=$(deploy --dry-run 2>&1); rc=$?
expect_rc "dry run exits 0" 0 "$rc" "$out"
expect_contains "dry run prints the plan" "start web" "$out"
expect_contains "dry run says nothing changed" "Dry run: nothing was changed." "$out"
check "dry run changed nothing: web still on node3" node node3 docker inspect --format '{{.State.Running}}' flocker--web
json=$(deploy --json 2>/dev/null); rc=$?
expect_rc "JSON run exits 0" 0 "$rc" "$out"
expect_eq "every JSON line parses" "" "$(printf '%s\n' "$json" | jq -c . >/dev/null 2>&1 || echo bad)"
expect_eq "JSON plan event first" "plan" "$(printf '%s\n' "$json" | head -n1 | jq -r .event)"
expect_eq "JSON summary last, exit code 0" "summary 0" "$(printf '%s\n' "$json" | tail -n1 | jq -r '"\(.event) \(.exit_code)"')"
expect_eq "JSON step results" 0 "$(printf '%s\n' "$json" | jq -r 'select(.event=="step-finished" and .outcome!="succeeded") | .outcome' | wc -l)"

section "removing an app stops it everywhere and keeps its volume"
cat > "$W/vol-app.yml" <<YAML
version: 1
applications:
  keeper:
    image: busybox:latest
    command: ["sh", "-c", "echo kept > /data/file && exec sleep 100000"]
    volume: {mountpoint: /data}
YAML
cat > "$W/vol-deploy.yml" <<YAML
version: 1
nodes:
  node1: [keeper]
  node2: []
  node3: []
YAML
"$FLOCKER" "$W/vol-deploy.yml" "$W/vol-app.yml" >/dev/null 2>&1
check "keeper runs" node node1 docker inspect flocker--keeper
printf 'version: 1\nnodes:\n  node1: []\n  node2: []\n  node3: []\n' > "$W/vol-deploy.yml"
out=$("$FLOCKER" "$W/vol-deploy.yml" "$W/vol-app.yml" 2>&1); rc=$?
expect_rc "removal exits 0" 0 "$rc" "$out"
expect_eq "keeper's container is gone" "" "$(node node1 docker ps -aq --filter name=flocker--keeper)"
check "keeper's volume is kept" node node1 zfs list flocker/keeper.default
expect_eq "keeper's data is kept" "kept" "$(node node1 cat /flocker/keeper.default/file)"

section "an unreachable node stops the run before any change"
write_deploy "web, redis" "client" ""
web_before=$(cid node3 web)
"$SANDBOX" cut node2 >/dev/null
out=$(deploy --connect-timeout 3 2>&1); rc=$?
"$SANDBOX" heal node2 >/dev/null
expect_rc "exit code 3" 3 "$rc" "$out"
expect_contains "the node is named" "node2" "$out"
expect_contains "nothing was changed" "nothing was changed" "$out"
expect_eq "web still runs on node3, same container" "$web_before" "$(cid node3 web)"

section "the release binary: 20 deploys with stdout on a pipe all exit 0 (issue 11: it crashed in 10 of 20)"
reset_nodes node1 node2 node3
EX="$ROOT/examples/redis"
codes=""
for i in $(seq 1 20); do
  # Mostly moves node1 -> node2 -> node1 … (each takes the lock and looks again under it, where the crash
  # was), and a few no-ops (runs 5, 6, 10, 11, …); the output goes through a pipe, as a CI job reads it.
  if [ $((i % 5)) = 0 ]; then to=$(( (i - 1) % 2 + 1 )); else to=$(( i % 2 + 1 )); fi
  "$FLOCKER" "$EX/deployment-node$to.yml" "$EX/application.yml" 2>&1 | cat > "$W/pipe.out"
  codes="$codes${PIPESTATUS[0]} "
done
expect_eq "exit codes of 20 release deploys through a pipe" "$(printf '0 %.0s' $(seq 1 20))" "$codes"

reset_nodes node1 node2 node3
finish
