#!/usr/bin/env bash
# The databases people move (issue 27), driven by their own clients (Debian's pgbench, psql, pg_amcheck, mariadb,
# mariadb-check, mariadb-slap) against a real 3-node sandbox and the sandbox's postgres:15 and mariadb:10.11:
# - a move of PostgreSQL from node1 to node2 while pgbench opens a new connection per transaction through node1's
#   address: no failed transaction, pg_amcheck clean, pgbench_history holds one row per reported transaction;
# - a failover: PostgreSQL with a replica, synced every few seconds while it is written; its node powered off;
#   --failover with the file unchanged starts it on the replica, which shows crash recovery, is clean, and holds
#   every row committed before the last completed sync;
# - a clone for CI answers on its own port with the same rows, its writes do not reach the primary; a rollback
#   brings back the primary's rows of the snapshot;
# - MariaDB moved under mariadb-slap (new connections): no error, mariadb-check clean.
# PGBENCH_SCALE (default 10) sets pgbench -i -s; PGBENCH_SECONDS (default 30) the run during the move.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

NODES=(node1 node2 node3)
sandbox_up "${NODES[@]}"
fault_cleanup
reset_nodes "${NODES[@]}"
N1=$("$SANDBOX" addr node1); N2=$("$SANDBOX" addr node2); N3=$("$SANDBOX" addr node3)
PGBIN=/usr/lib/postgresql/15/bin
APP="$ROOT/examples/postgres/application.yml"
SCALE=${PGBENCH_SCALE:-10}
SECS=${PGBENCH_SECONDS:-30}
export PGUSER=postgres PGPASSWORD=flocker PGDATABASE=app

# dep NAME TEXT: a deployment file.
dep() { printf "version: 1\n$2" > "$W/$1.yml"; }
deploy() { out=$("$FLOCKER" "$W/$1.yml" "${APPFILE:-$APP}" "${@:2}" 2>&1); rc=$?; }
sql() { local h=$1; shift; psql -h "$h" -X -qAt -v ON_ERROR_STOP=1 "$@" 2>&1; }
running() { for n in "${NODES[@]}"; do node "$n" docker inspect --format '{{.State.Running}}' "flocker--$1" 2>/dev/null || echo false; done | xargs; }
# pg_amcheck of every database (amcheck installed where missing, NOTICEs about that left out): prints only
# what it finds wrong.
amcheck() { PGOPTIONS='-c client_min_messages=warning' "$PGBIN/pg_amcheck" -h "$1" ${2:+-p "$2"} --all --install-missing --heapallindexed 2>&1; }

section "PostgreSQL moves from node1 to node2 under pgbench -C (scale $SCALE, ${SECS} s)"
dep a1 "nodes:\n  node1: [pg]\n  node2: []\n  node3: []\n"
dep a2 "nodes:\n  node1: []\n  node2: [pg]\n  node3: []\n"
deploy a1
expect_rc "deploy PostgreSQL on node1" 0 "$rc" "$out"
expect_eq "the deploy returned once PostgreSQL accepts queries" "1" "$(sql "$N1" -c 'SELECT 1')"
expect_eq "POSTGRES_DB made the database app, owned by POSTGRES_USER" "app postgres" \
  "$(sql "$N1" -c "SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app'" | tr '|' ' ')"
check_fails "a wrong password is refused over TCP" env PGPASSWORD=wrong psql -h "$N1" -X -c 'SELECT 1'
expect_eq "fsync is on" "on" "$(sql "$N1" -c 'SHOW fsync')"
t0=$SECONDS
init=$("$PGBIN/pgbench" -h "$N1" -i -s "$SCALE" -q 2>&1); irc=$?
expect_rc "pgbench -i -s $SCALE ($((SECONDS - t0)) s)" 0 "$irc" "$init"
# One thread per client (-j 4), as four independent clients would be: with -C, a pgbench thread waits in
# connect() for all of its clients, so while the move holds new connections, a client of a shared thread that is
# half-way through a transaction (holding row locks the others wait on) cannot finish it before the stop.
"$PGBIN/pgbench" -h "$N1" -C -c 4 -j 4 -T "$SECS" > "$W/bench.out" 2>&1 & bp=$!; BG+=("$bp")
sleep 5
t0=$SECONDS
deploy a2
expect_rc "the move to node2 during pgbench exits 0 ($((SECONDS - t0)) s)" 0 "$rc" "$out"
wait "$bp"; brc=$?
bench=$(cat "$W/bench.out")
expect_rc "pgbench exits 0" 0 "$brc" "$bench"
expect_eq "pgbench: no client aborted (a transaction cut by the stop aborts its client)" "" \
  "$(grep -E 'aborted|terminating connection' <<<"$bench")"
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$bench")
done_=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$bench")
expect_eq "pgbench: 0 failed transactions ($done_ processed)" "0" "$failed"
grep -E '^(number of|latency|tps)' <<<"$bench" | sed 's/^/        /'
expect_eq "PostgreSQL runs on node2 only" "false true false" "$(running pg)"
expect_eq "pgbench_history holds one row per transaction pgbench reported" "$done_" \
  "$(sql "$N1" -c 'SELECT count(*) FROM pgbench_history')"
expect_eq "pgbench_accounts still holds $((SCALE * 100000)) rows" "$((SCALE * 100000))" \
  "$(sql "$N1" -c 'SELECT count(*) FROM pgbench_accounts')"
ac=$(amcheck "$N1"); arc=$?
expect_rc "pg_amcheck --all --heapallindexed is clean" 0 "$arc" "$ac"
expect_eq "… and reports nothing" "" "$ac"

section "failover: a replica synced every few seconds under writes; the primary's node powered off"
dep b "nodes:\n  node1: []\n  node2: [pg]\n  node3: []\nreplicas:\n  pg: 1\n"
deploy b
expect_rc "replicas: 1 (PostgreSQL on node2)" 0 "$rc" "$out"
sql "$N3" -c 'CREATE TABLE marks (id int PRIMARY KEY, at timestamptz DEFAULT now())' >/dev/null
# The writer commits rows 1, 2, 3 … one at a time (autocommit) and records the last one committed. It stops at
# its first failure or when told to; each psql is bounded, so that none is left waiting on the dead node to land
# a row later, after the failover.
( i=0; while [ $i -lt 100000 ] && [ ! -e "$W/stop-writer" ]; do i=$((i + 1))
    PGCONNECT_TIMEOUT=3 timeout 5 psql -h "$N3" -X -qAt -v ON_ERROR_STOP=1 -c "INSERT INTO marks (id) VALUES ($i)" >/dev/null 2>&1 || break
    echo "$i" > "$W/last"; sleep 0.05; done ) & wp=$!; BG+=("$wp")
"$PGBIN/pgbench" -h "$N3" -c 2 -T 60 -n > "$W/bench-b.out" 2>&1 & bp=$!; BG+=("$bp")
synced=0; syncs=0
for k in 1 2 3; do
  sleep 3
  before=$(cat "$W/last" 2>/dev/null || echo 0)
  if "$FLOCKER" sync "$W/b.yml" "$APP" > "$W/sync.out" 2>&1; then synced=$before; syncs=$((syncs + 1)); fi
done
expect_eq "three syncs under writes exit 0" "3" "$syncs"
sleep 2
"$SANDBOX" stop node2 >/dev/null
sleep 1
touch "$W/stop-writer"; kill "$bp" 2>/dev/null; wait "$wp" "$bp" 2>/dev/null
lastc=$(cat "$W/last")
if [ "$synced" -gt 0 ] && [ "$lastc" -gt "$synced" ]; then pass "rows were committed after the last sync ($synced before it, $lastc in all)"
else fail "rows were committed after the last sync" "synced $synced, last committed $lastc"; fi
t0=$SECONDS
deploy b --failover --connect-timeout 3
expect_rc "--failover with the file unchanged exits 0 ($((SECONDS - t0)) s)" 0 "$rc" "$out"
expect_contains "… promoting node1's replica" "node1  promote the replica of volume pg/default to primary" "$out"
logs=$(node node1 docker logs flocker--pg 2>&1)
expect_contains "PostgreSQL on node1 went through crash recovery" "database system was interrupted" "$logs"
expect_contains "… and replayed its WAL" "redo done" "$logs"
grep -E 'interrupted|redo|ready to accept' <<<"$logs" | sed 's/^/        /'
expect_eq "every row committed before the last completed sync is there" "$synced" \
  "$(sql "$N3" -c "SELECT count(*) FROM marks WHERE id <= $synced")"
echo "        rows committed: $lastc; before the last sync: $synced; after the failover: $(sql "$N3" -c 'SELECT count(*) FROM marks')"
ac=$(amcheck "$N3"); arc=$?
expect_rc "pg_amcheck --all --heapallindexed is clean after the failover" 0 "$arc" "$ac"
expect_eq "… and reports nothing" "" "$ac"

section "a clone for CI, and a rollback"
"$SANDBOX" start node2 >/dev/null
dep c "nodes:\n  node1: [pg]\n  node2: []\n  node3: []\nreplicas:\n  pg: 1\n"
deploy c
expect_rc "node2 is back: PostgreSQL stays on node1 (node2's outdated primary set aside)" 0 "$rc" "$out"
sql "$N1" -c "CREATE TABLE ci (note text); INSERT INTO ci VALUES ('at the snapshot')" >/dev/null
rows=$(sql "$N1" -c 'SELECT count(*) FROM marks')
out=$("$FLOCKER" snapshot create "$W/c.yml" "$APP" --app pg --name base 2>&1); rc=$?
expect_rc "snapshot create --name base" 0 "$rc" "$out"
out=$("$FLOCKER" clone create "$W/c.yml" "$APP" --app pg --name ci --from base --on node1 2>&1); rc=$?
expect_rc "clone create --name ci --from base" 0 "$rc" "$out"
port=$("$FLOCKER" clone list "$W/c.yml" --json 2>/dev/null | jq -r '.clones[] | select(.name == "ci-1") | .ports["5432"]')
cnode=$("$FLOCKER" clone list "$W/c.yml" --json 2>/dev/null | jq -r '.clones[] | select(.name == "ci-1") | .node')
CN=$("$SANDBOX" addr "${cnode:-node1}")
cq() { psql -h "$CN" -p "$port" -X -qAt -v ON_ERROR_STOP=1 "$@" 2>&1; }
if [[ $port =~ ^[0-9]+$ ]] && [ "$port" != 5432 ]; then pass "the clone has its own port ($port on $cnode)"; else fail "the clone has its own port" "port: $port"; fi
retry 30 cq -c 'SELECT 1'
expect_contains "the clone started from a snapshot of a running database: crash recovery" "database system was interrupted" \
  "$(node "${cnode:-node1}" docker logs flocker-clone--ci-1 2>&1)"
expect_eq "the clone answers with the snapshot's rows" "$rows at the snapshot" "$(cq -c 'SELECT count(*) FROM marks') $(cq -c 'SELECT note FROM ci')"
cq -c "INSERT INTO ci VALUES ('clone only')" >/dev/null
expect_eq "a write to the clone is there" "2" "$(cq -c 'SELECT count(*) FROM ci')"
expect_eq "… and not in the primary" "at the snapshot" "$(sql "$N1" -c 'SELECT note FROM ci')"
ac=$(amcheck "$CN" "$port"); arc=$?
expect_rc "pg_amcheck of the clone is clean" 0 "$arc" "$ac"
# A rollback beside the clone (on its node) would rename the datasets the clone depends on (zfs-fuse cannot while
# the clone is in use): refused before anything is done, naming the clone.
out=$("$FLOCKER" rollback "$W/c.yml" "$APP" --app pg --to base --yes 2>&1); rc=$?
expect_rc "a rollback beside the clone on its node is refused" 1 "$rc" "$out"
expect_contains "… naming it and the way out" "clone ci-1 was made on node1 from snapshots of pg's volumes: a rollback renames the datasets they depend on; destroy it first (flocker-deploy clone destroy DEPLOYMENT ci-1)" "$out"
expect_eq "… PostgreSQL went on serving its rows" "$rows" "$(sql "$N1" -c 'SELECT count(*) FROM marks')"
out=$("$FLOCKER" clone destroy "$W/c.yml" ci-1 2>&1); rc=$?
expect_rc "clone destroy ci-1" 0 "$rc" "$out"
sql "$N1" -c "INSERT INTO ci VALUES ('after the snapshot'); DELETE FROM marks WHERE id <= 10" >/dev/null
rb_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
out=$("$FLOCKER" rollback "$W/c.yml" "$APP" --app pg --to base --yes 2>&1); rc=$?
expect_rc "rollback --to base --yes" 0 "$rc" "$out"
expect_eq "the primary has its rows of the snapshot back" "$rows at the snapshot" \
  "$(sql "$N1" -c 'SELECT count(*) FROM marks') $(sql "$N1" -c "SELECT string_agg(note, ',') FROM ci")"
expect_contains "… which started from a snapshot of a running database: crash recovery" "database system was interrupted" \
  "$(node node1 docker logs --since "$rb_at" flocker--pg 2>&1)"
ac=$(amcheck "$N1"); arc=$?
expect_rc "pg_amcheck --all --heapallindexed is clean after the rollback" 0 "$arc" "$ac"

section "MariaDB moves from node1 to node2 under mariadb-slap (a new connection per query, concurrency 4)"
reset_nodes "${NODES[@]}"
cat > "$W/maria.yml" <<'YAML'
version: 1
applications:
  maria:
    image: mariadb:10.11
    environment:
      MARIADB_ROOT_PASSWORD: flocker
      MARIADB_DATABASE: shop
    stop_timeout: 60
    ports:
      - internal: 3306
        external: 3306
    volume:
      mountpoint: /var/lib/mysql
YAML
APPFILE="$W/maria.yml"
dep d1 "nodes:\n  node1: [maria]\n  node2: []\n  node3: []\n"
dep d2 "nodes:\n  node1: []\n  node2: [maria]\n  node3: []\n"
deploy d1
expect_rc "deploy MariaDB on node1" 0 "$rc" "$out"
my() { mariadb -h "$N1" -u root -pflocker -N -B "$@" 2>&1; }
expect_eq "the deploy returned once MariaDB accepts queries; MARIADB_DATABASE made shop" "shop" "$(my -e "SHOW DATABASES LIKE 'shop'")"
my shop -e "CREATE TABLE items (id int PRIMARY KEY, v text) ENGINE=InnoDB; INSERT INTO items SELECT seq, 'x' FROM seq_1_to_5000" >/dev/null
( end=$((SECONDS + SECS)); n=0
  while [ $SECONDS -lt $end ]; do
    n=$((n + 1))
    # --detach=1: each of the 4 clients reconnects after every query. --no-drop: mariadb-slap's own control
    # connection (open for the whole run, idle while the clients work) is not used again at the end, where
    # the move would have cut it like any persistent connection.
    if mariadb-slap -h "$N1" -u root -pflocker --concurrency=4 --detach=1 --number-of-queries=200 --no-drop \
        --auto-generate-sql --auto-generate-sql-load-type=mixed --create-schema="slap$n" > "$W/slap.$n" 2>&1
    then echo ok; else echo "error in run $n: $(grep -v '^\s*$' "$W/slap.$n" | head -n 3 | xargs)"; fi
  done > "$W/slap.out" ) & sp=$!; BG+=("$sp")
sleep 5
t0=$SECONDS
deploy d2
expect_rc "the move to node2 during mariadb-slap exits 0 ($((SECONDS - t0)) s)" 0 "$rc" "$out"
wait "$sp"
runs=$(wc -l < "$W/slap.out"); errors=$(grep -c -v '^ok$' "$W/slap.out")
expect_eq "mariadb-slap: 0 errors in $runs runs" "0" "$errors"
grep -v '^ok$' "$W/slap.out" | head -n 5 | sed 's/^/        /'
expect_eq "MariaDB runs on node2 only" "false true false" "$(running maria)"
expect_eq "its rows moved with it" "5000" "$(my shop -e 'SELECT count(*) FROM items')"
mc=$(mariadb-check -h "$N1" -u root -pflocker --all-databases 2>&1); mrc=$?
expect_rc "mariadb-check --all-databases exits 0" 0 "$mrc" "$mc"
expect_eq "… every table OK" "" "$(grep -v -E '\s+OK$' <<<"$mc")"

reset_nodes "${NODES[@]}"
finish
