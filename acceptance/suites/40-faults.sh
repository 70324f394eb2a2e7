#!/usr/bin/env bash
# Faults beyond the volume moves of 30-volumes (issue 7), against a real 3-node sandbox: a node down at discovery;
# a node powered off between two phases (before and after the handoff); sshd killed while a transfer streams and
# while an application starts; two runs at once on one cluster and on overlapping clusters; the target pool
# filling up during the pre-copy and during the final copy; diverged target copies (written to, extra snapshot);
# Ctrl-C before and after the handoff and during a streaming copy; stale locks. Each case checks the error (node
# and step), the exit code, that no data was lost (redis keys, sha256 of files), and that a re-run converges
# (exit 0, then "No changes") with one running copy per application and one writable primary per volume.
# Also: audit records on the changed nodes only, and `status` showing the latest run.
#
# Exact points are reached with the test aid FLOCKER_TEST_HOLD=after:ACTION: the run pauses after that step;
# `kill -CONT` lets it go on (so a test can break something in between), SIGINT stops it there.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

NODES=(node1 node2 node3)
sandbox_up "${NODES[@]}"
N1=$("$SANDBOX" addr node1); N2=$("$SANDBOX" addr node2); N3=$("$SANDBOX" addr node3)
addr() { case $1 in node1) echo "$N1" ;; node2) echo "$N2" ;; node3) echo "$N3" ;; esac; }
W=$(mktemp -d)
BG=()
cleanup() {
  local p n
  for p in "${BG[@]}"; do kill -9 "$p" 2>/dev/null; done
  for n in "${NODES[@]}"; do "$SANDBOX" start "$n" >/dev/null 2>&1; "$SANDBOX" heal "$n" >/dev/null 2>&1; done
  rm -rf "$W"
}
trap cleanup EXIT
SUITE_START=$SECONDS
_t=$SECONDS
# part TITLE: a section header, with the time the previous one took.
part() { [ "$_t" = "$SECONDS" ] || echo "  info  ($((SECONDS - _t)) s)"; _t=$SECONDS; section "$@"; }

# Start from an empty cluster: no managed containers, datasets, rules, locks or audit records.
reset_nodes "${NODES[@]}"

# One application file for the whole suite. redis and bulk keep data in a volume; web and slow are stateless
# (slow takes 3 s to listen, so its start step lasts long enough to break something during it); solo has no
# port, so starting it changes its own node only. A container's PID 1 ignores SIGTERM unless it handles it, so
# the busybox ones trap it: stops take no time (instead of Docker's 10 s grace period).
APP="$W/app.yml"
cat > "$APP" <<'YAML'
version: 1
applications:
  redis:
    image: redis:7
    ports: [{internal: 6379, external: 6379}]
    volume: {mountpoint: /data}
  bulk:
    image: busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 8080 -h /data & wait"]
    volume: {mountpoint: /data}
  web:
    image: busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 8080 & wait"]
    ports: [{internal: 8080, external: 8090}]
  slow:
    image: busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3; httpd -f -p 8080 & wait"]
    ports: [{internal: 8080, external: 8091}]
  solo:
    image: busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 8080 & wait"]
YAML
# dep NAME NODE1-APPS NODE2-APPS NODE3-APPS: writes $W/NAME.yml, a deployment of the three nodes.
dep() { printf 'version: 1\nnodes:\n  node1: [%s]\n  node2: [%s]\n  node3: [%s]\n' "$2" "$3" "$4" > "$W/$1.yml"; }

# deploy NAME [OPTIONS...]: runs a deploy of $W/NAME.yml; sets $out (stdout and stderr) and $rc.
deploy() { out=$("$FLOCKER" "$W/$1.yml" "$APP" "${@:2}" 2>&1); rc=$?; }
# converges LABEL NAME: a re-run exits 0, and a further re-run prints "No changes".
converges() {
  deploy "$2"
  expect_eq "$1: the re-run exits 0" 0 "$rc"
  [ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 20 | sed 's/^/        | /'
  deploy "$2"
  expect_contains "$1: a further re-run changes nothing" "No changes" "$out"
}
running_on() { # APP: the nodes where the app's container runs
  local n r=""
  for n in "${NODES[@]}"; do
    [ "$(node "$n" docker inspect --format '{{.State.Running}}' "flocker--$1" 2>/dev/null)" = true ] && r="$r $n"
  done
  echo "${r# }"
}
# converged LABEL APP NODE: the app runs once, on NODE; if it has a volume, its only writable primary is there.
converged() {
  local label=$1 app=$2 want=$3 primaries="" n role ro
  expect_eq "$label: $app runs once, on $want" "$want" "$(running_on "$app")"
  case $app in redis|bulk) ;; *) return ;; esac
  for n in "${NODES[@]}"; do
    node "$n" zfs list "flocker/$app.default" >/dev/null 2>&1 || continue
    role=$(node "$n" zfs get -H -o value flocker:role "flocker/$app.default")
    ro=$(node "$n" zfs get -H -o value,source readonly "flocker/$app.default")
    # zfs-fuse shows a read-only dataset as "off temporary" (see DiscoveryScript.isReadOnly).
    [ "$role" = primary ] && case $ro in on*|*temporary) false ;; *) true ;; esac && primaries="$primaries $n"
  done
  expect_eq "$label: one writable primary of $app, on $want" "$want" "${primaries# }"
}
cid() { node "$1" docker inspect --format '{{.Id}}' "flocker--$2" 2>/dev/null; }
rcli() { redis-cli -h "$1" -p 6379 "${@:2}" 2>&1; }
# redis_intact LABEL ADDRESS: the 50 keys written at the start are all there.
redis_intact() {
  expect_eq "$1: redis data intact (50 keys, key7=value7)" "50 value7" "$(rcli "$2" dbsize) $(rcli "$2" get key7)"
}
sum_of() { node "$1" sha256sum "/flocker/bulk.default/$2" 2>/dev/null | cut -d' ' -f1; }
locked() { node "$1" test -d /var/lib/flocker-deploy/lock; }
audit_lines() { node "$1" 'cat /var/lib/flocker-deploy/audit.log 2>/dev/null | wc -l'; }
last_result() { node "$1" 'tail -n 1 /var/lib/flocker-deploy/audit.log 2>/dev/null' | jq -r .result 2>/dev/null; }
# fingerprint NODE: what flocker-deploy could have changed on a node (containers, datasets and snapshots with
# their role/epoch/readonly, owned rules, lock, audit log).
fingerprint() {
  node "$1" 'docker ps -a --format "{{.Names}} {{.ID}} {{.State}}" | sort; zfs get -H -r -o name,property,value readonly,flocker:role,flocker:epoch flocker | sort; for t in nat filter; do iptables-save -t $t | grep -F flocker-deploy: | sort; done; ls -d /var/lib/flocker-deploy/lock* 2>/dev/null; cat /var/lib/flocker-deploy/audit.log 2>/dev/null | wc -l'
}
cluster_fp() { local n; for n in "${NODES[@]}"; do echo "== $n"; fingerprint "$n"; done; }

# hold NAME HOLD DEPLOYMENT [OPTIONS...]: starts a deploy in the background that pauses after the step HOLD
# (a JSON action); returns once it holds. $HP is its pid, $W/NAME.out its output.
hold() {
  FLOCKER_TEST_HOLD="after:$2" "$FLOCKER" "$W/$3.yml" "$APP" "${@:4}" > "$W/$1.out" 2>&1 &
  HP=$!; BG+=("$HP")
  if retry 90 grep -q "holding after" "$W/$1.out"; then pass "$1: the run holds after $2"
  else fail "$1: the run holds after $2" "$(tail -n 15 "$W/$1.out")"; fi
}
# held_end NAME: waits for the held run; sets $rc and $out.
held_end() { wait "$HP"; rc=$?; out=$(cat "$W/$1.out"); }
# no_crash LABEL: the last output shows no crash of the binary.
# deploy_killing_sshd NAME DEPLOYMENT NODE PATTERN [ARGS…]: deploys with --json in the background, kills NODE's
# sshd as soon as a JSON event matching PATTERN is out, and waits. Sets rc, out, and failed (one line
# "NODE ACTION APP" per failed step).
deploy_killing_sshd() {
  local name=$1 dep=$2 victim=$3 pattern=$4 p
  shift 4
  "$FLOCKER" "$W/$dep.yml" "$APP" --json "$@" > "$W/$name.json" 2> "$W/$name.err" &
  p=$!; BG+=("$p")
  retry 60 grep -q "$pattern" "$W/$name.json"
  node "$victim" 'pkill -KILL -x sshd' >/dev/null 2>&1
  wait "$p"; rc=$?
  out=$(cat "$W/$name.json" "$W/$name.err")
  failed=$(jq -r 'select(.event=="step-finished" and .outcome=="failed") | "\(.error.node) \(.step.action) \(.step.app)"' "$W/$name.json" 2>/dev/null)
}
no_crash() { expect_not_contains "$1: no crash" "Fatal error" "$out"; }

part "first deploy; audit records only on the nodes a run changed; status shows the latest run"
dep base "redis" "web" ""
deploy base
expect_eq "first deploy exits 0" 0 "$rc"
retry 30 rcli "$N1" ping
for i in $(seq 1 50); do rcli "$N1" set "key$i" "value$i" >/dev/null; done
redis_intact "written through node1" "$N1"
for n in "${NODES[@]}"; do node "$n" rm -f /var/lib/flocker-deploy/audit.log; done
dep base "redis, solo" "web" ""
deploy base
expect_eq "adding solo (no port) exits 0" 0 "$rc"
# solo's start, after a pull when node1 does not have busybox yet (a sandbox that ran other suites may have it).
steps=$(printf '%s\n' "$out" | sed -n 's/^Plan: \([0-9]*\) steps\{0,1\} on 1 node.*/\1/p')
check "the plan touches node1 only, starting solo ($steps steps)" test -n "$steps"
expect_contains "… whose last step starts solo" "node1  start solo" "$out"
expect_eq "an audit record on node1, the changed node" 1 "$(audit_lines node1)"
expect_eq "no audit record on node2 (unchanged)" 0 "$(audit_lines node2)"
expect_eq "no audit record on node3 (unchanged)" 0 "$(audit_lines node3)"
rec=$(node node1 tail -n 1 /var/lib/flocker-deploy/audit.log)
expect_eq "the record says what ran and how it ended" "succeeded|$steps|start solo|root" "$(printf '%s' "$rec" | jq -r '"\(.result)|\(.changes | length)|\(.changes | last)|\(.user)"')"
deploy base
expect_contains "a run with nothing to do" "No changes" "$out"
expect_eq "adds no audit record" "1 0 0" "$(audit_lines node1) $(audit_lines node2) $(audit_lines node3)"
deploy base --dry-run
expect_eq "a dry run adds no audit record either" "1 0 0" "$(audit_lines node1) $(audit_lines node2) $(audit_lines node3)"
st=$("$FLOCKER" status "$W/base.yml" "$APP" 2>&1); rc=$?
expect_eq "status exits 0" 0 "$rc"
expect_contains "status shows node1's latest run" "last run: " "$(printf '%s\n' "$st" | grep -A1 '^  node1 ')"
expect_contains "… and that it succeeded with its $steps steps" "succeeded, $steps step" "$st"
expect_eq "status shows no run on the unchanged nodes" 1 "$(printf '%s\n' "$st" | grep -c 'last run:')"
expect_eq "status --json gives the latest run per node" "succeeded null null" \
  "$("$FLOCKER" status "$W/base.yml" --json 2>/dev/null | jq -r '[.nodes[] | .last_run.result // "null"] | join(" ")' 2>/dev/null)"

part "1. a node down at discovery"
dep move2 "solo" "web, redis" ""
"$SANDBOX" stop node3 >/dev/null
before=$(for n in node1 node2; do fingerprint "$n"; done)
t0=$SECONDS
deploy move2
expect_eq "exit code 3 (a node unreachable)" 3 "$rc"
expect_contains "the error names the node" "node3: " "$out"
expect_contains "and says nothing was changed" "cannot reach every node; nothing was changed" "$out"
no_crash "node down at discovery"
check "it gives up quickly ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -lt 30
expect_eq "nothing changed on node1 and node2 (containers, datasets, rules, locks, audit)" "$before" "$(for n in node1 node2; do fingerprint "$n"; done)"
redis_intact "redis still serves on node1" "$N1"
"$SANDBOX" start node3 >/dev/null
converges "node3 back" move2
converged "node3 back" redis node2
redis_intact "after the move" "$N3"

part "2. a node powered off between two phases"
# The target dies after the pre-copy, while redis still runs: the next step on node3 fails, redis is untouched.
dep move3 "solo" "web" "redis"
redis_cid=$(cid node2 redis)
hold target-dies-early pre-copy move3
"$SANDBOX" stop node3 >/dev/null
kill -CONT "$HP"; held_end target-dies-early
expect_eq "exit code 1 (a step failed)" 1 "$rc"
expect_contains "the error names the dead node" "node3: " "$(printf '%s\n' "$out" | sed -n '/^Failed:/,$p')"
expect_not_contains "redis was never stopped (nothing to roll back)" "rollback" "$out"
expect_eq "redis still runs on node2, same container" "$redis_cid true" "$(cid node2 redis) $(node node2 docker inspect --format '{{.State.Running}}' flocker--redis)"
"$SANDBOX" start node3 >/dev/null

# The target dies after redis stopped for the move: the final copy fails, redis is restarted on its source.
hold target-dies stop move3
"$SANDBOX" stop node3 >/dev/null
kill -CONT "$HP"; held_end target-dies
expect_eq "exit code 1 (a step failed)" 1 "$rc"
expect_contains "the error names the node and the step" "node3: copy volume redis/default to node3 (final increment)" "$out"
expect_contains "redis went back to its source" "rollback: redis was restarted on node2, where its data still is" "$out"
no_crash "target died"
expect_eq "redis runs on node2 again" "true" "$(node node2 docker inspect --format '{{.State.Running}}' flocker--redis)"
redis_intact "served by node2 meanwhile" "$N2"
check_fails "node2's lock was released" locked node2
"$SANDBOX" start node3 >/dev/null
deploy move3
expect_eq "re-run after node3 came back exits 0" 0 "$rc"
expect_contains "the dead run's lock on node3 is taken over" "taking over the lock of a run on this machine that no longer exists" "$out"
converges "target died" move3
converged "target died" redis node3
redis_intact "after the move to node3" "$N3"

# The source dies after the handoff: redis starts on the target; what was left on the source (routes, the
# stopped container, snapshots) waits for the re-run.
dep move1 "solo, redis" "web" ""
hold source-dies handoff move1
"$SANDBOX" stop node3 >/dev/null
kill -CONT "$HP"; held_end source-dies
expect_eq "exit code 1 (a step failed)" 1 "$rc"
expect_contains "the error names the dead source" "node3: " "$(printf '%s\n' "$out" | sed -n '/^Failed:/,$p')"
expect_contains "redis started on the target anyway" "ok      node1  start redis" "$out"
expect_not_contains "no rollback after the handoff" "rollback" "$out"
no_crash "source died"
redis_intact "served by node1 right after" "$N1"
"$SANDBOX" start node3 >/dev/null
converges "source died" move1
converged "source died" redis node1
redis_intact "through node3's routes" "$N3"

part "3. sshd killed during a step"
# While a transfer streams: 256 MiB of bulk go from node1 to node2; node2's sshd dies (all of its processes).
dep bulk1 "solo, redis, bulk" "web" ""
deploy bulk1
expect_eq "deploy bulk on node1" 0 "$rc"
node node1 'docker exec flocker--bulk sh -c "head -c 268435456 /dev/urandom > /data/big"'
sum_big=$(sum_of node1 big)
bulk_cid=$(cid node1 bulk)
dep bulk2 "solo, redis" "web, bulk" ""
deploy_killing_sshd sshd bulk2 node2 '"event":"progress"' --no-compression
expect_eq "exit code 1 (a step failed)" 1 "$rc"
expect_eq "the failed step is bulk's pre-copy, on node2" "node2 pre-copy bulk" "$failed"
no_crash "sshd killed during a transfer"
expect_eq "bulk was never stopped on node1" "$bulk_cid true" "$(cid node1 bulk) $(node node1 docker inspect --format '{{.State.Running}}' flocker--bulk)"
expect_eq "its data is intact on node1" "$sum_big" "$(sum_of node1 big)"
expect_contains "the sandbox sees node2 degraded" "degraded" "$("$SANDBOX" status | grep '^node2 ')"
"$SANDBOX" up --nodes 3 >/dev/null   # reboots node2, whose sshd is dead
converges "sshd killed during a transfer" bulk2
converged "sshd killed during a transfer" bulk node2
expect_eq "same sha256 on node2" "$sum_big" "$(sum_of node2 big)"

# While an application starts: slow takes 3 s to listen on its port; node3's sshd dies meanwhile.
dep slow "solo, redis" "web, bulk" "slow"
deploy_killing_sshd slow slow node3 '"event":"step-started".*"action":"start"'
expect_eq "exit code 1 (a step failed)" 1 "$rc"
expect_eq "the failed step is slow's start, on node3" "node3 start slow" "$failed"
no_crash "sshd killed during a start"
"$SANDBOX" up --nodes 3 >/dev/null
converges "sshd killed during a start" slow
converged "sshd killed during a start" slow node3

part "4. two runs at once"
# Same cluster: the first run holds the locks (paused after starting web on node3); the second is refused.
dep web3 "solo, redis" "bulk" "slow, web"
hold first-run start web3
second=$("$FLOCKER" "$W/web3.yml" "$APP" 2>&1); rc=$?
expect_eq "the second run exits 4 (locked)" 4 "$rc"
expect_contains "it names the holder" "locked by root@" "$second"
expect_contains "… with the holder's pid" "(pid $HP," "$second"
expect_contains "and says nothing was changed" "another run holds the lock; nothing was changed" "$second"
"$FLOCKER" "$W/web3.yml" "$APP" --lock-wait 60 > "$W/waiter.out" 2>&1 &
wp=$!; BG+=("$wp")
retry 30 grep -q "waiting for the lock" "$W/waiter.out"
expect_contains "with --lock-wait, a third run waits" "waiting for the lock: node" "$(cat "$W/waiter.out")"
kill -CONT "$HP"; held_end first-run
expect_eq "the first run finishes (exit 0)" 0 "$rc"
expect_not_contains "web (no volume) moved: nothing is rolled back" "rollback" "$out"
wait $wp; wrc=$?
expect_eq "the waiting run exits 0" 0 "$wrc"
expect_contains "… and finds nothing left to do" "No changes" "$(cat "$W/waiter.out")"
converged "after the first run" web node3

# Started together: exactly one of them does the work.
dep web2 "solo, redis" "bulk, web" "slow"
"$FLOCKER" "$W/web2.yml" "$APP" > "$W/a.out" 2>&1 & pa=$!
"$FLOCKER" "$W/web2.yml" "$APP" > "$W/b.out" 2>&1 & pb=$!
BG+=("$pa" "$pb")
wait $pa; ra=$?; wait $pb; rb=$?
did=$(grep -l '^Done:' "$W/a.out" "$W/b.out" | wc -l)
expect_eq "exactly one of two simultaneous runs did the work" 1 "$did"
other=$( (grep -q '^Done:' "$W/a.out" && echo "$rb $(cat "$W/b.out")") || echo "$ra $(cat "$W/a.out")")
case $other in
  "4 "*"locked by"*|"0 "*"No changes"*) pass "the other was refused (exit 4, naming the holder) or found no changes" ;;
  *) fail "the other was refused (exit 4, naming the holder) or found no changes" "$other" ;;
esac
converges "two runs at once" web2
converged "two runs at once" web node2

# Overlapping clusters: another deployment file that shares node2 with this one.
dep web3 "solo, redis" "bulk" "slow, web"
hold overlap start web3
cat > "$W/other-app.yml" <<'YAML'
version: 1
applications:
  other:
    image: busybox:latest
    command: ["httpd", "-f", "-p", "8080"]
YAML
printf 'version: 1\nnodes:\n  node2: [other]\n' > "$W/other.yml"
before3=$(fingerprint node2)
second=$("$FLOCKER" "$W/other.yml" "$W/other-app.yml" 2>&1); rc=$?
expect_eq "a run of the other cluster exits 4" 4 "$rc"
expect_contains "it names the shared node and the holder" "node2: locked by root@" "$second"
kill -CONT "$HP"; held_end overlap
expect_eq "the first cluster's run finishes (exit 0)" 0 "$rc"
expect_eq "nothing of the other cluster ran on node2" "" "$(node node2 docker ps -aq --filter name=flocker--other)"
converged "overlap" web node3

part "5. the target pool fills up"
# During the pre-copy: node3 has 64 MiB left (a reservation holds the rest); bulk has 256 MiB.
fill() { # NODE MiB-LEFT: reserve all but MiB-LEFT of the pool
  node "$1" "zfs destroy flocker/filler 2>/dev/null; a=\$(zfs get -H -p -o value available flocker); zfs create -o mountpoint=none -o reservation=\$((a - $2 * 1048576)) flocker/filler"
}
fill node3 64
dep bulk3 "solo, redis" "" "slow, web, bulk"
bulk_cid=$(cid node2 bulk)
deploy bulk3
expect_eq "exit code 1 (a step failed)" 1 "$rc"
expect_contains "the error names the node and the step" "node3: copy volume bulk/default to node3 while bulk runs" "$out"
expect_contains "with zfs's message" "cannot receive new filesystem stream: out of space" "$out"
no_crash "pool full during the pre-copy"
expect_eq "bulk kept running on node2 (never stopped)" "$bulk_cid true" "$(cid node2 bulk) $(node node2 docker inspect --format '{{.State.Running}}' flocker--bulk)"
expect_eq "data intact on node2" "$sum_big" "$(sum_of node2 big)"
check_fails "nothing of bulk is left on node3" node node3 zfs list flocker/bulk.default
expect_eq "the audit record on node2 says the run failed" "failed" "$(last_result node2)"
dep bulk1 "solo, redis, bulk" "" "slow, web"
converges "moved to node1 instead" bulk1
converged "moved to node1 instead" bulk node1
expect_eq "same sha256 on node1" "$sum_big" "$(sum_of node1 big)"

# During the final copy: the pre-copy fits, then bulk writes 96 MiB more while node3 gets down to 32 MiB free;
# the final copy fails after bulk stopped, and bulk is restarted on node1 with all of its data.
node node3 zfs destroy flocker/filler
hold final-fill pre-copy bulk3
node node1 'docker exec flocker--bulk sh -c "head -c 100663296 /dev/urandom > /data/more"'
sum_more=$(sum_of node1 more)
fill node3 32
kill -CONT "$HP"; held_end final-fill
expect_eq "exit code 1 (a step failed)" 1 "$rc"
expect_contains "the error names the node and the step" "node3: copy volume bulk/default to node3 (final increment)" "$out"
expect_contains "with zfs's message" "out of space" "$out"
expect_contains "bulk went back to node1" "rollback: bulk was restarted on node1, where its data still is" "$out"
no_crash "pool full during the final copy"
converged "after the failed final copy" bulk node1
expect_eq "data intact on node1" "$sum_big $sum_more" "$(sum_of node1 big) $(sum_of node1 more)"
node node3 zfs destroy flocker/filler
converges "node3 has room again" bulk3
converged "node3 has room again" bulk node3
expect_eq "same sha256 on node3" "$sum_big $sum_more" "$(sum_of node3 big) $(sum_of node3 more)"

part "6. a diverged target copy"
# node1's copy made writable and written to.
node node1 'zfs set readonly=off flocker/bulk.default && echo mine > /flocker/bulk.default/mine.txt'
before=$(cluster_fp)
deploy bulk1
expect_eq "exit code 5 (refused: acting could lose data)" 5 "$rc"
expect_contains "the message names the node and says why" "node1: bulk: the copy of volume default here is writable" "$out"
expect_contains "and the way out" "destroy it (zfs destroy -r flocker/bulk.default) and run again" "$out"
expect_contains "nothing was changed" "refusing to act; nothing was changed" "$out"
expect_eq "nothing changed on any node" "$before" "$(cluster_fp)"
check "following the advice: zfs destroy -r flocker/bulk.default on node1" retry 10 node node1 zfs destroy -r flocker/bulk.default
converges "after destroying the diverged copy" bulk1
converged "after destroying the diverged copy" bulk node1
expect_eq "data intact on node1" "$sum_big $sum_more" "$(sum_of node1 big) $(sum_of node1 more)"

# node2's copy (read-only) with a snapshot someone took after its last receive.
node node2 zfs snapshot flocker/bulk.default@mine
before=$(cluster_fp)
dep bulk2 "solo, redis" "bulk" "slow, web"
deploy bulk2
expect_eq "extra snapshot: exit code 5" 5 "$rc"
expect_contains "the message names the snapshot" "node2: bulk: the copy of volume default here has snapshot mine" "$out"
expect_contains "and the way out" "zfs destroy -r flocker/bulk.default" "$out"
expect_eq "nothing changed on any node" "$before" "$(cluster_fp)"
check "following the advice: zfs destroy -r flocker/bulk.default on node2" retry 10 node node2 zfs destroy -r flocker/bulk.default
converges "after destroying the copy with the extra snapshot" bulk2
converged "after destroying the copy with the extra snapshot" bulk node2
expect_eq "data intact on node2" "$sum_big $sum_more" "$(sum_of node2 big) $(sum_of node2 more)"

part "7. Ctrl-C during a move"
# Before the handoff (redis stopped and fully copied to node2): redis goes back to node1.
dep redis2 "solo" "bulk, redis" "slow, web"
hold int-before final-copy redis2
kill -INT "$HP"; held_end int-before
expect_eq "exit code 130" 130 "$rc"
expect_contains "the summary is printed" "Interrupted: " "$out"
expect_contains "redis went back to its source" "rollback: redis was restarted on node1, where its data still is" "$out"
no_crash "Ctrl-C before the handoff"
for n in "${NODES[@]}"; do check_fails "no lock left on $n" locked "$n"; done
expect_eq "the audit record says interrupted" "interrupted" "$(last_result node1)"
converged "right after the Ctrl-C" redis node1
redis_intact "after the Ctrl-C" "$N1"
converges "after a Ctrl-C before the handoff" redis2
converged "after a Ctrl-C before the handoff" redis node2
redis_intact "on node2" "$N2"

# While the final copy streams (--pre-copy-rounds 0: all of 192 MiB is sent after the stop): the copy in flight
# finishes, the handoff does not start, bulk goes back to node2.
node node2 'docker exec flocker--bulk sh -c "head -c 201326592 /dev/urandom > /data/late"'
sum_late=$(sum_of node2 late)
dep bulkint "solo, bulk" "redis" "slow, web"
"$FLOCKER" "$W/bulkint.yml" "$APP" --json --no-compression --pre-copy-rounds 0 > "$W/int.json" 2> "$W/int.err" &
p=$!; BG+=("$p")
retry 60 grep -q '"event":"progress".*"action":"final-copy"' "$W/int.json"
kill -INT $p; wait $p; rc=$?
out=$(cat "$W/int.json" "$W/int.err")
expect_eq "Ctrl-C while streaming: exit code 130" 130 "$rc"
expect_eq "the copy in flight finished, the handoff never started" "succeeded skipped" \
  "$(jq -r 'select(.event=="step-finished" and (.step.action=="final-copy" or .step.action=="handoff")) | .outcome' "$W/int.json" 2>/dev/null | xargs)"
expect_eq "the JSON summary says interrupted, exit code 130" "true 130" "$(tail -n 1 "$W/int.json" | jq -r '"\(.interrupted) \(.exit_code)"' 2>/dev/null)"
no_crash "Ctrl-C while streaming"
converged "after a Ctrl-C while streaming" bulk node2
expect_eq "data intact on node2" "$sum_big $sum_late" "$(sum_of node2 big) $(sum_of node2 late)"
converges "after a Ctrl-C while streaming" bulkint
converged "after a Ctrl-C while streaming" bulk node1
expect_eq "same sha256 on node1" "$sum_big $sum_more $sum_late" "$(sum_of node1 big) $(sum_of node1 more) $(sum_of node1 late)"

# After the handoff (node1 promoted): nothing is rolled back; the re-run starts redis on node1.
dep redis1 "solo, redis, bulk" "" "slow, web"
hold int-after handoff redis1
kill -INT "$HP"; held_end int-after
expect_eq "exit code 130" 130 "$rc"
expect_contains "the summary is printed" "Interrupted: " "$out"
expect_not_contains "nothing is rolled back after the handoff" "rollback" "$out"
for n in "${NODES[@]}"; do check_fails "no lock left on $n" locked "$n"; done
expect_eq "redis runs nowhere until the re-run" "" "$(running_on redis)"
deploy redis1
expect_eq "the re-run exits 0" 0 "$rc"
expect_not_contains "it does not copy again" "copy volume" "$out"
converges "after a Ctrl-C after the handoff" redis1
converged "after a Ctrl-C after the handoff" redis node1
redis_intact "after the Ctrl-C after the handoff" "$N2"

# The reader of the output goes away after the first line (| head -n 1): the run still goes to the end.
"$FLOCKER" "$W/bulkint.yml" "$APP" | head -n 1 > /dev/null
rc=${PIPESTATUS[0]}
expect_eq "output closed after one line: the run still finishes (exit 0, not 141)" 0 "$rc"
for n in "${NODES[@]}"; do check_fails "no lock left on $n" locked "$n"; done
converged "after the output closed" redis node2
redis_intact "after the output closed" "$N1"

part "8. stale locks"
# A lock of a run on another machine (user alice on ci-runner-7), last active 120 s ago.
foreign_lock() { # NODE AGE-SECONDS
  node "$1" "mkdir -p /var/lib/flocker-deploy/lock && t=\$((\$(date +%s) - $2)) && printf '%s\n' '{\"command\":\"flocker-deploy d.yml a.yml\",\"host\":\"ci-runner-7\",\"manifests\":\"0123456789abcdef\",\"pid\":4242,\"started\":'\$t',\"token\":\"t-foreign\",\"user\":\"alice\"}' > /var/lib/flocker-deploy/lock/info && touch -d @\$t /var/lib/flocker-deploy/lock/heartbeat /var/lib/flocker-deploy/lock"
}
foreign_lock node2 120
st=$("$FLOCKER" lock status "$W/redis1.yml" 2>&1); rc=$?
expect_eq "lock status exits 4 while a node is locked" 4 "$rc"
expect_contains "it shows the holder" "node2  locked by alice@ci-runner-7 (pid 4242, since " "$st"
if grep -Eq 'node2 .*last active 1[2-9][0-9]s ago' <<<"$st"; then pass "… and how long ago it was last active"
else fail "… and how long ago it was last active" "$st"; fi
expect_contains "the other nodes are not locked" "node1  not locked" "$st"
dep webmove "solo, redis, bulk" "web" "slow"
before=$(cluster_fp)
deploy webmove
expect_rc "a run that needs node2 exits 4" 4 "$rc" "$out"
expect_contains "naming the holder" "node2: locked by alice@ci-runner-7" "$out"
expect_eq "nothing changed" "$before" "$(cluster_fp)"
deploy webmove --lock-expiry 60
expect_eq "with --lock-expiry 60 the 120 s old lock is taken over (exit 0)" 0 "$rc"
expect_contains "with a warning naming the old holder" "warning: node2: took over a lock left by a run that stopped answering: alice@ci-runner-7" "$out"
expect_not_contains "web (no volume) moved: nothing is rolled back" "rollback" "$out"
converged "after taking over a stale lock" web node2
foreign_lock node3 5
out=$("$FLOCKER" lock release "$W/redis1.yml" 2>&1); rc=$?
expect_eq "lock release exits 0" 0 "$rc"
expect_contains "it says whose lock it removed" "node3  released the lock of alice@ci-runner-7" "$out"
check_fails "node3's lock is gone" locked node3
st=$("$FLOCKER" lock status "$W/redis1.yml" 2>&1); rc=$?
expect_eq "lock status exits 0 with no lock" 0 "$rc"
expect_eq "no node locked" 3 "$(printf '%s\n' "$st" | grep -c 'not locked')"
st=$("$FLOCKER" status "$W/webmove.yml" "$APP" 2>&1)
expect_contains "status shows node2's latest run (the takeover)" "succeeded" "$(printf '%s\n' "$st" | grep -A1 '^  node2 ' | tail -n 1)"
expect_contains "status: up to date" "Up to date" "$st"

part "9. a plan that grows under the lock (issue 17)"
# Run A moves redis node1 -> node3 and pauses after stopping it (an app with a volume: a stateless one starts on
# its target before it stops). Run B, wanting redis on node2, looks first (redis stopped on node1: its plan
# touches node1 and node2), then waits for A's lock on node1. When A finishes, redis runs on node3, so B's plan
# under the lock grows to node3, which it must lock too before any step. Each line of
# both outputs is timestamped as it arrives: B's first step must come after A's last line (never interleaved).
stamp() { while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done; }
dep growA "solo" "bulk" "slow, web, redis"
dep growB "solo" "bulk, redis" "slow, web"
dep growStart "solo, redis" "bulk" "slow, web"
deploy growStart
expect_eq "redis stays on node1" 0 "$rc"
( FLOCKER_TEST_HOLD="after:stop" "$FLOCKER" "$W/growA.yml" "$APP" 2>&1 | stamp > "$W/growA.out" ) &
pa=$!; BG+=("$pa")
retry 60 grep -q "holding after" "$W/growA.out"
apid=$(pgrep -f -n "flocker-deploy $W/growA.yml") || true
( "$FLOCKER" "$W/growB.yml" "$APP" --lock-wait 90 2>&1 | stamp > "$W/growB.out" ) &
pb=$!; BG+=("$pb")
retry 60 grep -q "waiting for the lock" "$W/growB.out"
expect_contains "run B waits for run A's lock" "waiting for the lock: node1 is locked by" "$(cat "$W/growB.out")"
[ -n "$apid" ] && kill -CONT "$apid"
wait "$pa"; wait "$pb"
a_rc=$(grep -c '^[0-9.]* Done:' "$W/growA.out"); b_out=$(cat "$W/growB.out")
expect_eq "run A finishes its move" 1 "$a_rc"
expect_contains "run B's plan grew under the lock to node3 (where A left redis)" "node3  stop redis" "$b_out"
expect_contains "run B finishes" "Done:" "$b_out"
a_end=$(tail -n 1 "$W/growA.out" | cut -d' ' -f1)
b_first=$(grep -E '^[0-9.]+   (ok|FAIL|\.\.\.) ' "$W/growB.out" | head -n 1 | cut -d' ' -f1)
if [ -n "$b_first" ] && [ "$(echo "$b_first > $a_end" | bc)" = 1 ]; then pass "run B's first step came after run A ended (not interleaved)"
else fail "run B's first step came after run A ended (not interleaved)" "A ended $a_end, B's first step $b_first" "$b_out"; fi
converged "after two runs whose plans overlapped" redis node2
converges "after the grown plan" growB

reset_nodes "${NODES[@]}"
echo "  info  suite time: $((SECONDS - SUITE_START)) s"
finish
