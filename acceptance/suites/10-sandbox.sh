#!/usr/bin/env bash
# Acceptance: the sandbox itself (sandbox/flocker-sandbox). A cold start of 3 nodes (after an interrupted
# `up`, to prove leftovers are repaired), then every node is checked through the generated ssh_config with
# strict host key checking: ZFS, Docker, the images, redis serving, node-to-node traffic; then warm `up`,
# cut/heal, stop/start, growing to 4 nodes, a second instance beside this one, and a `down` that leaves
# nothing behind. Leaves the machine as it found it (no sandbox of this instance running).
set -uo pipefail

ID=${FLOCKER_SANDBOX_ID:-0}
export FLOCKER_SANDBOX_ID=$ID
if [ -z "${FLOCKER_SANDBOX_DIR:-}" ] && [ "$ID" != 0 ]; then export FLOCKER_SANDBOX_DIR=/var/tmp/flocker-sandbox-$ID; fi
# shellcheck source=../lib.sh
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

STATE=$FLOCKER_SANDBOX_DIR
SB() { "$SANDBOX" "$@"; }
ip_of() { SB addr "$1"; }
# ssh_to NODE CMD...: like lib.sh's `node`, with a short connect timeout (for nodes that must NOT answer).
ssh_to() { local n=$1; shift; ssh -F "$SSH_CONFIG" -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=3 "$n" "$@"; }

# The second instance: the first ID other than ours with nothing of it on this machine.
OTHER=""
for i in 1 2 3 4 5 6 7 8 9 0; do
  [ "$i" = "$ID" ] && continue
  if ! ip link show "flbr$i" >/dev/null 2>&1 && ! ls /run/netns/"fl$i-"* >/dev/null 2>&1 &&
    [ ! -e "/var/tmp/flocker-sandbox-$i" ]; then OTHER=$i; break; fi
done
OTHER_DIR=/var/tmp/flocker-sandbox-$OTHER

# Millisecond stopwatch.
ms() { local t=$EPOCHREALTIME; echo $((${t/./} / 1000)); }

cleanup() { SB down >/dev/null 2>&1; [ -n "$OTHER" ] && FLOCKER_SANDBOX_ID=$OTHER FLOCKER_SANDBOX_DIR=$OTHER_DIR SB down >/dev/null 2>&1; }
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------------------
section "cold start after an interrupted up"
check "down before starting (idempotent, nothing may be up)" SB down
check "down twice is fine" SB down
# An `up` killed halfway (the whole process group, SIGKILL) leaves namespaces, processes, mounts, files.
setsid "$SANDBOX" up --nodes 3 >/dev/null 2>&1 &
upid=$!
sleep 1.5
kill -9 -- -"$upid" 2>/dev/null
wait "$upid" 2>/dev/null
t0=$(ms)
out=$(SB up --nodes 3 2>&1); rc=$?
cold_ms=$(($(ms) - t0))
expect_eq "up --nodes 3 after the interrupted one succeeds" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out"
expect_contains "up prints the time it took" " nodes up in " "$out"
check "up repaired the leftovers within 60 s (took ${cold_ms} ms)" test "$cold_ms" -lt 60000
# And a truly cold one, from nothing at all, for the time.
check "down" SB down
t0=$(ms)
out=$(SB up --nodes 3 2>&1); rc=$?
cold_ms=$(($(ms) - t0))
expect_eq "cold up --nodes 3 succeeds" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out"
check "cold up of 3 nodes within 60 s (took ${cold_ms} ms)" test "$cold_ms" -lt 60000
echo "  info  cold up of 3 nodes: ${cold_ms} ms"

# ---------------------------------------------------------------------------------------------------------
section "state folder and client configuration"
check "ssh_config exists" test -s "$SSH_CONFIG"
check "known_hosts exists" test -s "$STATE/known_hosts"
check "client key exists and is private" test "$(stat -c %a "$STATE/id_ed25519")" = 600
for n in node1 node2 node3; do
  expect_contains "ssh_config has a block for $n" "Host $n" "$(cat "$SSH_CONFIG")"
  expect_contains "known_hosts keys $n by its address" "$(ip_of "$n") ssh-ed25519" "$(tr ',' ' ' < "$STATE/known_hosts")"
done
expect_contains "ssh_config checks host keys strictly" "StrictHostKeyChecking yes" "$(cat "$SSH_CONFIG")"
expect_eq "env prints the instance, its folder and its ssh_config" \
  "export FLOCKER_SANDBOX_ID=$ID
export FLOCKER_SANDBOX_DIR=$STATE
export FLOCKER_SSH_CONFIG=$STATE/ssh_config" "$(SB env)"
check "env output evaluates" bash -c 'eval "$("$0" env)" && test "$FLOCKER_SSH_CONFIG" = "$1" && test "$FLOCKER_SANDBOX_ID" = "$2"' "$SANDBOX" "$SSH_CONFIG" "$ID"
# A second shell that evals env acts on this instance, not on instance 0.
check "a shell that evals env acts on this instance" bash -c 'eval "$(FLOCKER_SANDBOX_ID=$2 "$0" env)"; unset FLOCKER_SANDBOX_DIR; eval "$("$0" env)"; test "$FLOCKER_SANDBOX_ID" = "$2" && test "$("$0" addr node2)" = "10.77.$2.12"' "$SANDBOX" "$SSH_CONFIG" "$ID"
expect_eq "addr node2" "10.77.$ID.12" "$(SB addr node2)"
expect_contains "the registry is in this instance's cgroup (so this instance's down stops it)" "pids:/flocker-sandbox-$ID/registry" \
  "$(cat "/proc/$(cat "$STATE/registry/registry.pid")/cgroup" 2>&1)"
check_fails "addr of a node that does not exist fails" SB addr node9
expect_contains "the ssh sub-command reaches the node" "node2" "$(SB ssh node2 hostname 2>&1)"

# ---------------------------------------------------------------------------------------------------------
section "every node: ssh, zfs, docker, images, a dataset bind-mounted into a container"
for k in 1 2 3; do
  n=node$k
  expect_eq "$n: hostname over ssh (strict host key checking)" "$n" "$(node "$n" hostname 2>&1)"
  expect_eq "$n: root's shell is bash" "/bin/bash" "$(node "$n" 'echo $SHELL' 2>&1)"
  check "$n: zfs, zpool, docker, iptables, iptables-save, sysctl on PATH" \
    node "$n" 'command -v zfs zpool docker iptables iptables-save sysctl'
  expect_eq "$n: ip_forward is on" "1" "$(node "$n" cat /proc/sys/net/ipv4/ip_forward 2>&1)"
  expect_eq "$n: no default route (nothing leaves the machine)" "" "$(node "$n" ip route show default 2>&1)"
  expect_eq "$n: its address" "$(ip_of "$n")/24" "$(node "$n" ip -4 -o addr show dev eth0 2>&1 | awk '{print $4}')"
  check "$n: zfs list flocker" node "$n" zfs list flocker
  expect_eq "$n: pool mounted at /flocker" "/flocker" "$(node "$n" zfs get -H -o value mountpoint flocker 2>&1)"
  check "$n: docker info" node "$n" docker info
  check "$n: docker pull redis:7 (from the sandbox registry)" node "$n" docker pull -q redis:7
  check "$n: docker pull busybox" node "$n" docker pull -q busybox
  check "$n: create dataset flocker/sbx" node "$n" zfs create flocker/sbx
  check "$n: busybox writes into the bind-mounted dataset" \
    node "$n" docker run --rm -v /flocker/sbx:/data busybox sh -c "'echo written-on-$n > /data/hello'"
  expect_eq "$n: the file is in the node's /flocker path" "written-on-$n" "$(node "$n" cat /flocker/sbx/hello 2>&1)"
  expect_contains "$n: docker run --rm redis:7 redis-server --version" "Redis server v=7." \
    "$(node "$n" docker run --rm redis:7 redis-server --version 2>&1)"
done
# Each node is its own machine: its pool and its containers are its own.
expect_eq "node1's dataset holds node1's file, not the last node's" "written-on-node1" "$(node node1 cat /flocker/sbx/hello 2>&1)"
expect_eq "node ids differ (node1 vs node2 docker)" "different" \
  "$( [ "$(node node1 docker info -f '{{.ID}}' 2>&1)" != "$(node node2 docker info -f '{{.ID}}' 2>&1)" ] && echo different)"

# ---------------------------------------------------------------------------------------------------------
section "the images behave like the official ones"
N1=$(ip_of node1); N2=$(ip_of node2)
check "busybox has sh, httpd, nc, wget" node node1 docker run --rm busybox sh -c "'command -v httpd nc wget'"
check "redis-cli runs as a command" node node1 docker run --rm redis:7 redis-cli --version
check "start redis detached with a published port and /data on a dataset" \
  node node1 "zfs create flocker/redis && docker run -d --name sbx-redis -p 6379:6379 -v /flocker/redis:/data redis:7"
check "redis answers from the host" retry 20 bash -c "[ \"\$(redis-cli -h $N1 ping)\" = PONG ]"
expect_eq "redis-cli -h node1 ping from the host" "PONG" "$(redis-cli -h "$N1" ping 2>&1)"
expect_eq "SET from the host" "OK" "$(redis-cli -h "$N1" set sandbox-key sandbox-value 2>&1)"
expect_eq "GET from the host" "sandbox-value" "$(redis-cli -h "$N1" get sandbox-key 2>&1)"
expect_eq "working directory is /data" "/data" "$(node node1 docker inspect -f '{{.Config.WorkingDir}}' sbx-redis 2>&1)"
expect_eq "redis-cli in a container on node2 reaches node1's redis" "sandbox-value" \
  "$(node node2 docker run --rm redis:7 redis-cli -h "$N1" get sandbox-key 2>&1)"
check "docker stop (SIGTERM) makes redis save dump.rdb into /data" node node1 docker stop sbx-redis
check "dump.rdb is on the dataset" node node1 test -s /flocker/redis/dump.rdb
check "redis-server with options only (entrypoint adds redis-server)" \
  node node1 docker run --rm redis:7 --version

# ---------------------------------------------------------------------------------------------------------
section "node-to-node reachability"
check "node1 reaches node2's sshd port" node node1 "timeout 3 bash -c ': </dev/tcp/$N2/22'"
check "node2 publishes an httpd container" \
  node node2 "mkdir -p /tmp/www && echo served-by-node2 > /tmp/www/index.html && docker run -d --name sbx-web -p 8080:80 -v /tmp/www:/www busybox httpd -f -p 80 -h /www"
check "node1 reaches node2's published port" retry 20 node node1 "wget -q -O - http://$N2:8080/ | grep -q served-by-node2"
# A service of the host listening on the bridge address: the nodes reach the registry only.
timeout 20 nc -l "10.77.$ID.1" 5999 >/dev/null 2>&1 &
ncpid=$!
sleep 0.3
check_fails "node1 cannot reach the host's other services (only the registry)" \
  node node1 "timeout 3 bash -c ': </dev/tcp/10.77.$ID.1/5999'"
kill "$ncpid" 2>/dev/null; wait "$ncpid" 2>/dev/null

# ---------------------------------------------------------------------------------------------------------
section "warm up is a no-op"
check "a marker in node1's /run (lost if node1 rebooted)" node node1 touch /run/sbx-marker
cfg_before=$(cksum < "$SSH_CONFIG")
t0=$(ms)
out=$(SB up 2>&1); rc=$?
warm_ms=$(($(ms) - t0))
expect_eq "warm up succeeds" 0 "$rc"
expect_contains "warm up says there is nothing to do" "nothing to do" "$out"
check "warm up takes less than 2 s (took ${warm_ms} ms)" test "$warm_ms" -lt 2000
echo "  info  warm up: ${warm_ms} ms"
check "node1 was not rebooted" node node1 test -e /run/sbx-marker
expect_eq "ssh_config unchanged" "$cfg_before" "$(cksum < "$SSH_CONFIG")"

# ---------------------------------------------------------------------------------------------------------
section "cut and heal"
check "cut node2" SB cut node2
t0=$(ms)
check_fails "node2 does not answer ssh while cut" ssh_to node2 true
cut_ms=$(($(ms) - t0))
check "ssh to the cut node gives up quickly (${cut_ms} ms)" test "$cut_ms" -lt 10000
check_fails "node1 cannot reach node2 while cut" node node1 "timeout 3 bash -c ': </dev/tcp/$N2/22'"
expect_contains "status shows node2 cut" "cut" "$(SB status | grep '^node2 ')"
check "heal node2" SB heal node2
check "node2 answers again" retry 15 ssh_to node2 true
check "node2 kept running through the cut (its container is still up)" \
  node node2 "docker ps --format '{{.Names}}' | grep -qx sbx-web"

# ---------------------------------------------------------------------------------------------------------
section "partition: a one-sided cut"
check "partition node2 --from host" SB partition node2 --from host
check_fails "this machine cannot reach node2's sshd" timeout 3 bash -c ": </dev/tcp/$N2/22"
check "node1 still reaches node2's sshd" node node1 "timeout 3 bash -c ': </dev/tcp/$N2/22'"
expect_contains "status shows node2 partitioned" "partitioned" "$(SB status | grep '^node2 ')"
check "partition node2 --from node1 too" SB partition node2 --from node1
check_fails "node1 cannot reach node2 now" node node1 "timeout 3 bash -c ': </dev/tcp/$N2/22'"
check "… while node3 still can" node node3 "timeout 3 bash -c ': </dev/tcp/$N2/22'"
check_fails "a node is never partitioned from itself" SB partition node2 --from node2
check "heal node2 lifts the partitions" SB heal node2
check "this machine reaches node2 again" retry 15 ssh_to node2 true
check "… and node1 too" node node1 "timeout 3 bash -c ': </dev/tcp/$N2/22'"
expect_eq "no partition rule is left in node2's namespace" 0 "$(node node2 "iptables-save -t raw | grep -c flocker-sandbox:partition")"

# ---------------------------------------------------------------------------------------------------------
section "stop and start keep the disk"
check "write a file into a dataset on node3" \
  node node3 "zfs create flocker/keep && echo survives-power-loss > /flocker/keep/data"
# zfs-fuse commits a transaction group every 30 s; an administrative command commits one at once (fsync
# alone is not reliable across a crash with zfs-fuse). flocker-deploy's own steps are such commands.
check "commit it (zfs snapshot)" node node3 zfs snapshot flocker/keep@committed
check "a container with a restart policy on node3" \
  node node3 docker run -d --name sbx-always --restart always redis:7
check "stop node3" SB stop node3
check_fails "node3 is unreachable when stopped" ssh_to node3 true
expect_contains "status shows node3 stopped" "stopped" "$(SB status | grep '^node3 ')"
check "no process of node3 is left" test -z "$(cat /sys/fs/cgroup/pids/flocker-sandbox-$ID/node3/cgroup.procs 2>/dev/null)"
check "up leaves a stopped node stopped" SB up
check_fails "node3 still unreachable after up" ssh_to node3 true
check "start node3" SB start node3
expect_eq "the file is back (strict host key checking: same host key)" "survives-power-loss" \
  "$(node node3 cat /flocker/keep/data 2>&1)"
check "the snapshot is back" node node3 zfs list -t snapshot flocker/keep@committed
check "the restart-policy container came back" \
  retry 30 node node3 "docker ps --format '{{.Names}}' | grep -qx sbx-always"
check "start of a running node is a no-op" SB start node3

# ---------------------------------------------------------------------------------------------------------
section "growing to 4 nodes"
out=$(SB up --nodes 4 2>&1); rc=$?
expect_eq "up --nodes 4 succeeds" 0 "$rc"
expect_contains "it booted node4" "node4: up" "$out"
check "node1 was not rebooted by it" node node1 test -e /run/sbx-marker
check "node4: zfs list flocker" node node4 zfs list flocker
check "node4: docker info" node node4 docker info
expect_eq "node4 has the next address" "10.77.$ID.14" "$(SB addr node4)"
status=$(SB status)
for k in 1 2 3 4; do
  expect_contains "status: node$k running" "running" "$(grep "^node$k " <<<"$status")"
done
expect_contains "status: registry up" "registry: up" "$status"

# ---------------------------------------------------------------------------------------------------------
section "a second instance beside this one"
if [ -z "$OTHER" ]; then
  fail "no free sandbox ID for the second instance"
else
  SB2() { FLOCKER_SANDBOX_ID=$OTHER FLOCKER_SANDBOX_DIR=$OTHER_DIR "$SANDBOX" "$@"; }
  check "up of instance $OTHER with 1 node" SB2 up --nodes 1
  check "instance $OTHER: its node1 over its own ssh_config" \
    ssh -F "$OTHER_DIR/ssh_config" -o BatchMode=yes node1 zfs list flocker
  expect_eq "instance $OTHER: node1's address" "10.77.$OTHER.11" "$(SB2 addr node1)"
  # Its registry in its own cgroup: in another instance's, its own `down` would miss it and the other's kill it.
  expect_contains "instance $OTHER: its registry is in its own cgroup" "pids:/flocker-sandbox-$OTHER/registry" \
    "$(cat "/proc/$(cat "$OTHER_DIR/registry/registry.pid")/cgroup" 2>&1)"
  check "instance $OTHER: docker pull redis:7 from its registry" \
    ssh -F "$OTHER_DIR/ssh_config" -o BatchMode=yes node1 docker pull -q redis:7
  check "instance $ID still fine meanwhile" node node1 zfs list flocker
  check_fails "instances are isolated (node1 of $ID cannot reach node1 of $OTHER)" \
    node node1 "timeout 3 bash -c ': </dev/tcp/10.77.$OTHER.11/22'"
  check "down of instance $OTHER" SB2 down
  check_fails "instance $OTHER: bridge gone" ip link show "flbr$OTHER"
  check "instance $OTHER: no namespace left" bash -c "! grep -q '^fl$OTHER-' <<<\"\$(ip netns list)\""
  check "instance $OTHER: state folder gone" test ! -e "$OTHER_DIR"
  check "instance $ID still fine after it" node node1 zfs list flocker
  check "instance $ID: node4 still fine" node node4 docker info
  expect_contains "instance $ID: registry still up" "registry: up" "$(SB status)"
fi

# ---------------------------------------------------------------------------------------------------------
section "down leaves nothing behind"
no_netns()   { ! grep -q "^fl$ID-" <<<"$(ip netns list)"; }
no_mounts()  { ! grep -E "/fl$ID-|$STATE" /proc/mounts; }
no_links()   { ! ip -o link show | grep -E ": (flbr$ID|fl$ID-n[0-9]+)[:@]"; }
no_rules()   { ! iptables-save | grep -E -- "flocker-sandbox-$ID( |\"|\$)"; }
no_cgroups() { ! ls -d /sys/fs/cgroup/*/"flocker-sandbox-$ID" 2>/dev/null; }
# Processes of THIS instance: its node inits carry its FLOCKER_SANDBOX_ID (none for instance 0) in their
# environment; anything else names its state folder. Other instances (engineers testing in parallel) don't count.
no_procs() {
  local p id found=""
  for p in $(pgrep -f -- "_node-init|$STATE/"); do
    if grep -qa -- "$STATE/" "/proc/$p/cmdline" 2>/dev/null; then found="$found $p"; continue; fi
    id=$(tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | sed -n 's/^FLOCKER_SANDBOX_ID=//p')
    [ "${id:-0}" = "${FLOCKER_SANDBOX_ID:-0}" ] && found="$found $p"
  done
  [ -z "$found" ] || { ps -o pid,args -p "$(echo $found | tr ' ' ',')"; return 1; }
}
check "down" SB down
check "no namespace of the instance (ip netns)" no_netns
check "no mount of the instance (/proc/mounts)" no_mounts
check "no bridge or veth (ip link)" no_links
check "no firewall rule (iptables-save)" no_rules
check "no cgroup of the instance (so no process in it)" no_cgroups
check "no process of the sandbox's nodes or registry" no_procs
check "no state folder" test ! -e "$STATE"
check "down again is fine" SB down

trap - EXIT
finish
