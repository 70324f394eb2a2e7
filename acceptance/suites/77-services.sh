#!/usr/bin/env bash
# Services by name across nodes (issue 15), with the example stack examples/compose-services on a real 3-node
# sandbox: web on node2 counts visits in db on node1, which it reaches as db:6379 (db publishes nothing); each
# container resolves every service's name to its stable address; db's port is not reachable from outside the
# cluster; db moves to node3 with its data and web keeps reaching it without a restart, and a client connecting to
# it by name through the move sees no failed connection; the next run changes nothing; removing the services
# removes every address and route. Last, a UDP port served through every node.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

NODES=(node1 node2 node3)
sandbox_up "${NODES[@]}"
N1=$("$SANDBOX" addr node1)
N3=$("$SANDBOX" addr node3)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
reset_nodes "${NODES[@]}"
EX="$ROOT/examples/compose-services"
APP="$EX/docker-compose.yml"

hits() { curl -s --max-time 10 "http://$N1:8080/cgi-bin/hits" | tr -d '\r\n'; }
# The count once db answers (a visit that could not reach db counts nothing and prints nothing), up to 20 s.
hits_once_up() { local h="" i; for i in $(seq 100); do h=$(hits); [ -n "$h" ] && break; sleep 0.2; done; printf '%s' "$h"; }
started() { node node2 "docker inspect --format '{{.Id}} {{.State.StartedAt}}' flocker--web" 2>&1; }

section "web on node2 reaches db on node1 by name"
out=$("$FLOCKER" "$EX/deployment.yml" "$APP" 2>&1); rc=$?
expect_rc "deploy exits 0" 0 "$rc" "$out"
expect_contains "the plan routes db's name to node1 on the other nodes" "name db → $N1" "$out"
DB=$(node node2 "docker exec flocker--web awk '\$2 == \"db\" {print \$1}' /etc/hosts" 2>&1)
case $DB in 10.233.*) pass "db's name resolves to its service address in web's container ($DB)" ;; *) fail "db's name resolves to a service address" "$DB" ;; esac
WEBADDR=$(node node1 "docker exec flocker--db awk '\$2 == \"web\" {print \$1}' /etc/hosts" 2>&1)
case $WEBADDR in 10.233.*) pass "… and web's name in db's container ($WEBADDR)" ;; *) fail "web's name resolves in db's container" "$WEBADDR" ;; esac
expect_eq "the first visit is counted in db, across nodes, by name" 1 "$(hits_once_up)"
expect_eq "… and the next" 2 "$(hits)"
expect_contains "node1 holds db's address" "$DB/32" "$(node node1 ip -4 -o addr show dev lo)"
expect_contains "node2 routes it to node1" "$DB via $N1" "$(node node2 ip route)"
expect_contains "node3 routes it to node1" "$DB via $N1" "$(node node3 ip route)"
expect_eq "node3 reaches db by its address" "+PONG" "$(node node3 "printf 'PING\r\n' | timeout 3 nc $DB 6379 | tr -d '\r'" 2>/dev/null | head -n 1)"

section "db's unpublished port is not reachable from outside the cluster"
# pong HOST: what answers PING at HOST:6379 from this machine (outside the cluster). Only redis's answer counts:
# this machine's own default route may lead to a proxy that accepts any connection (and answers HTTP).
pong() { timeout 4 bash -c 'exec 3<>"/dev/tcp/$1/6379" && printf "PING\r\n" >&3 && read -r -t 3 line <&3 && printf "%s" "$line"' _ "$1" 2>/dev/null | tr -d '\r'; }
expect_not_contains "node1's address does not answer on db's port 6379 (nothing published)" "+PONG" "$(pong "$N1")"
expect_not_contains "db's service address does not answer from this machine (no node routes it here)" "+PONG" "$(pong "$DB")"
expect_eq "… while from node2 it does" "+PONG" "$(node node2 "printf 'PING\r\n' | timeout 3 nc $DB 6379 | tr -d '\r'" 2>/dev/null | head -n 1)"

section "db moves to node3: web keeps reaching it, not restarted"
before=$(started)
# A client in web's container connecting to db by name every 0.1 s through the move (each connection waits up to
# 8 s): new connections by name are held while db is down, not refused.
node node2 "docker exec flocker--web sh -c 'f=0; n=0; for i in \$(seq 60); do r=\$(printf \"PING\\r\\nQUIT\\r\\n\" | nc -w 8 db 6379 | head -n 1 | tr -d \"\\r\"); n=\$((n+1)); [ \"\$r\" = +PONG ] || f=\$((f+1)); sleep 0.1; done; echo \$n \$f'" > "$W/client" 2>&1 &
client=$!
sleep 1
out=$("$FLOCKER" "$EX/deployment-db-node3.yml" "$APP" 2>&1); rc=$?
expect_rc "the move exits 0" 0 "$rc" "$out"
expect_contains "the move holds new connections to db's name" "hold new connections to db (by name)" "$out"
wait "$client"
read -r tried failed < <(tail -n 1 "$W/client")
expect_eq "a client connecting to db by name throughout the move: none of ${tried:-?} connections failed" 0 "${failed:-?}"
expect_eq "web was not restarted" "$before" "$(started)"
expect_eq "web counts on, with db's data moved to node3" 3 "$(hits_once_up)"
expect_contains "node3 holds db's address" "$DB/32" "$(node node3 ip -4 -o addr show dev lo)"
expect_not_contains "node1 does not any more" "$DB/32" "$(node node1 ip -4 -o addr show dev lo)"
expect_contains "node1 routes it to node3" "$DB via $N3" "$(node node1 ip route)"
expect_contains "node2 routes it to node3" "$DB via $N3" "$(node node2 ip route)"
expect_eq "the same address after the move" "$DB" "$(node node2 "docker exec flocker--web awk '\$2 == \"db\" {print \$1}' /etc/hosts" 2>&1)"
out=$("$FLOCKER" "$EX/deployment-db-node3.yml" "$APP" 2>&1); rc=$?
expect_rc "the next run exits 0" 0 "$rc" "$out"
expect_contains "… and changes nothing" "No changes" "$out"

section "an address or route left wrong on a node is put right by the next run"
node node2 "ip route replace $DB/32 via $N1"
out=$("$FLOCKER" "$EX/deployment-db-node3.yml" "$APP" 2>&1); rc=$?
expect_rc "the run exits 0" 0 "$rc" "$out"
expect_contains "node2 routes db to node3 again" "$DB via $N3" "$(node node2 ip route)"
expect_eq "web counts on" 4 "$(hits_once_up)"

section "a service's image port that something else holds when it starts is published once free"
# cache (redis: its image EXPOSEs 6379, a volume, no ports) is reached by name on its service address. kv, which
# publishes 6379 on every address of node2, moves away from node2 in the same deploy that moves cache there: cache's
# start waits for the port (issue 30: it used to skip it for good, and every later run said No changes).
cat > "$W/kv.yml" <<'YAML'
services:
  kv:
    image: redis:7
    ports: ["6379:6379"]
  cache:
    image: redis:7
    volumes: [cache-data:/data]
volumes:
  cache-data:
YAML
printf 'version: 1\nnodes:\n  node1: []\n  node2: [kv]\n  node3: [cache]\n' > "$W/kv1.yml"
printf 'version: 1\nnodes:\n  node1: [kv]\n  node2: [cache]\n  node3: []\n' > "$W/kv2.yml"
out=$("$FLOCKER" "$W/kv1.yml" "$W/kv.yml" 2>&1); rc=$?
expect_rc "kv on node2, cache on node3" 0 "$rc" "$out"
out=$("$FLOCKER" "$W/kv2.yml" "$W/kv.yml" 2>&1); rc=$?
expect_rc "kv moves to node1 while cache moves to node2" 0 "$rc" "$out"
CACHE=$(node node1 "docker exec flocker--kv awk '\$2 == \"cache\" {print \$1}' /etc/hosts" 2>&1)
expect_contains "cache's container publishes 6379 on its service address" "$CACHE:6379->6379/tcp" \
  "$(node node2 "docker ps --filter name=flocker--cache --format '{{.Ports}}'")"
expect_eq "kv's container reaches cache by name" "+PONG" "$(node node1 "docker exec flocker--kv sh -c 'printf \"PING\\r\\nQUIT\\r\\n\" | nc -w 5 cache 6379 | head -n 1'" 2>&1 | tr -d '\r')"
# Now something that is not ours holds 6379 on node2 while cache starts again: left out, labelled, and published
# by the next run once it is gone.
node node2 "docker rm -f flocker--cache >/dev/null; docker run -d --name squatter -p 6379:6379 redis:7 >/dev/null"
out=$("$FLOCKER" "$W/kv2.yml" "$W/kv.yml" 2>&1); rc=$?
expect_rc "cache is started again while the port is held (exit 0)" 0 "$rc" "$out"
expect_eq "… the port it could not publish is labelled" "6379/tcp" \
  "$(node node2 "docker inspect --format '{{index .Config.Labels \"flocker.unpublished\"}}' flocker--cache")"
node node2 "docker rm -f squatter >/dev/null"
out=$("$FLOCKER" "$W/kv2.yml" "$W/kv.yml" 2>&1); rc=$?
expect_rc "the next run exits 0" 0 "$rc" "$out"
expect_contains "… starting cache again to publish it" "to publish 6379/tcp on its service address" "$out"
expect_contains "… which it now does" "$CACHE:6379->6379/tcp" "$(node node2 "docker ps --filter name=flocker--cache --format '{{.Ports}}'")"
out=$("$FLOCKER" "$W/kv2.yml" "$W/kv.yml" 2>&1)
expect_contains "then nothing to do" "No changes" "$out"

section "removing the services removes their addresses and routes"
printf 'version: 1\nnodes:\n  node1: []\n  node2: []\n  node3: []\n' > "$W/empty.yml"
printf 'services: {}\n' > "$W/none.yml"
out=$("$FLOCKER" "$W/empty.yml" "$W/none.yml" 2>&1); rc=$?
expect_rc "the run exits 0" 0 "$rc" "$out"
left=""
for n in "${NODES[@]}"; do left="$left$(node "$n" 'ip -4 -o addr show dev lo; ip route' | grep '10[.]233[.]')"; done
expect_eq "no service address or route is left on any node" "" "$left"

section "a UDP port served through every node"
# socat in the sandbox's redis image answers each datagram with itself. A node that has an older redis:7 (built
# before socat was in it) gets the new one.
for n in "${NODES[@]}"; do node "$n" docker pull -q redis:7 >/dev/null 2>&1; done
cat > "$W/udp.yml" <<'YAML'
services:
  echo:
    image: redis:7
    entrypoint: ["socat"]
    command: ["-T", "2", "UDP-RECVFROM:5353,fork", "EXEC:cat"]
    ports: ["15353:5353/udp"]
YAML
printf 'version: 1\nnodes:\n  node1: []\n  node2: [echo]\n  node3: []\n' > "$W/udp-dep.yml"
out=$("$FLOCKER" "$W/udp-dep.yml" "$W/udp.yml" 2>&1); rc=$?
expect_rc "deploy exits 0" 0 "$rc" "$out"
expect_contains "the plan forwards the port as UDP" "forward 15353/udp → $("$SANDBOX" addr node2) (echo)" "$out"
# udp_echo HOST: what comes back from HOST:15353/udp for one datagram (up to 5 tries, 1 s each).
udp_echo() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
for _ in range(5):
    s.sendto(b"hello over udp", (sys.argv[1], 15353))
    try:
        print(s.recvfrom(512)[0].decode(errors="replace"), end="")
        break
    except OSError:
        pass
PY
}
for n in "${NODES[@]}"; do
  expect_eq "a datagram to $n's address comes back from echo (on node2)" "hello over udp" "$(udp_echo "$("$SANDBOX" addr "$n")")"
done
expect_contains "node1 forwards it as UDP" "-p udp -m udp --dport 15353" "$(node node1 iptables-save -t nat)"
out=$("$FLOCKER" "$W/udp-dep.yml" "$W/udp.yml" 2>&1); rc=$?
expect_contains "the next run changes nothing" "No changes" "$out"

finish
