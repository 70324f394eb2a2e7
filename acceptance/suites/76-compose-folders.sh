#!/usr/bin/env bash
# Compose folders that hold data (issue 27) against a real 2-node sandbox: a writable folder beside the Compose
# file becomes a managed volume, seeded from the folder's contents when it is created, and moves with its service.
# (a) PostgreSQL (the sandbox's postgres:15) with ./pgdata: validate warns and shows the volume, the dry run and
#     --json name the seed, the deploy seeds the volume (a marker file, beside the data directory the image
#     initialises), rows written with psql are there after a move to node2; the folder edited afterwards: nothing
#     is sent, the volume is not overwritten, the container is not replaced.
# (b) busybox with a writable config folder ./config: seeded with its modes and numeric owners; what the
#     container writes there survives a restart and a move.
# (c) a seed interrupted by SIGKILL half-way through its step, and a leftover temporary dataset with partial
#     content: one re-run converges, the volume holds the full seed once.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

NODES=(node1 node2)
sandbox_up "${NODES[@]}"
N1=$("$SANDBOX" addr node1)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
reset_nodes "${NODES[@]}"
KP="$ROOT/acceptance/killpoint.py"
export PGUSER=postgres PGPASSWORD=flocker PGDATABASE=app

# dep FOLDER NAME APP NODE: a deployment file FOLDER/NAME.yml placing APP on NODE (the other node listed empty).
dep() {
  local other=node2; [ "$4" = node2 ] && other=node1
  printf 'version: 1\nnodes:\n  %s: [%s]\n  %s: []\n' "$4" "$3" "$other" > "$1/$2.yml"
}
run() { out=$("$FLOCKER" "$@" 2>&1); rc=$?; }
sql() { local h=$1; shift; psql -h "$h" -X -qAt -v ON_ERROR_STOP=1 "$@" 2>&1; }
inspect() { node "$1" "docker inspect --format '$3' flocker--$2" 2>&1; }
running() { for n in "${NODES[@]}"; do node "$n" docker inspect --format '{{.State.Running}}' "flocker--$1" 2>/dev/null || echo false; done | xargs; }

section "(a) PostgreSQL with ./pgdata beside the Compose file"
P="$W/pg"
mkdir -p "$P/pgdata"
printf 'seeded from the folder\n' > "$P/pgdata/marker.txt"
# PGDATA one level down: the volume's root holds the marker, and initdb wants an empty folder of its own.
cat > "$P/docker-compose.yml" <<'EOF'
services:
  pg:
    image: postgres:15
    environment:
      POSTGRES_PASSWORD: flocker
      POSTGRES_DB: app
      PGDATA: /var/lib/postgresql/data/pgdata
    stop_grace_period: 60s
    ports:
      - "5432:5432"
    volumes:
      - ./pgdata:/var/lib/postgresql/data
EOF
dep "$P" on1 pg node1
dep "$P" on2 pg node2
run validate "$P/on1.yml" "$P/docker-compose.yml"
expect_rc "validate exits 0" 0 "$rc" "$out"
expect_contains "validate warns, positioned" "docker-compose.yml:12:9: warning: services.pg.volumes[0]: \"./pgdata\" becomes managed volume \"pgdata\", seeded from the folder's contents (1 file, 23 bytes) on the first deploy: later edits of the folder are not uploaded, and what the container writes stays in the volume, which moves with the service" "$out"
expect_contains "validate shows the volume and its seed" "pgdata at /var/lib/postgresql/data, no quota, seeded from ./pgdata (1 file, 23 B) when created" "$out"
printf '%s\n' "$out" | grep -E 'warning: services.pg.volumes|volumes: ' | sed 's/^/        /'
run "$P/on1.yml" "$P/docker-compose.yml" --dry-run
expect_contains "the dry run names the seed" "create volume pg/pgdata, seeded from ./pgdata (1 file, 23 B)" "$out"
grep -F 'create volume' <<<"$out" | sed 's/^/        /'
run "$P/on1.yml" "$P/docker-compose.yml" --dry-run --json
expect_contains "--json: the create-volume step carries the seed" '"seed":{"files":1,"size":23,"source":"./pgdata"}' "$(sed 's#\\/#/#g' <<<"$out")"
run "$P/on1.yml" "$P/docker-compose.yml"
expect_rc "deploy on node1 exits 0" 0 "$rc" "$out"
expect_contains "the deploy says what it wrote" "seeded from ./pgdata: 1 file, 23 B" "$out"
expect_eq "the marker is in the volume on node1" "seeded from the folder" "$(node node1 cat /flocker/pg.pgdata/marker.txt 2>&1)"
expect_eq "no temporary dataset is left" "" "$(node node1 "zfs list -H -o name -r flocker | grep -F :seed")"
expect_eq "PostgreSQL initialised its data directory beside it, and answers" "1" "$(sql "$N1" -c 'SELECT 1')"
sql "$N1" -c "CREATE TABLE t (n int); INSERT INTO t SELECT generate_series(1, 1000)" >/dev/null
expect_eq "1000 rows written" "1000" "$(sql "$N1" -c 'SELECT count(*) FROM t')"
run "$P/on2.yml" "$P/docker-compose.yml"
expect_rc "the move to node2 exits 0" 0 "$rc" "$out"
expect_not_contains "the move creates no volume, so seeds nothing" "create volume" "$out"
expect_eq "PostgreSQL runs on node2 only" "false true" "$(running pg)"
expect_eq "the rows moved with it" "1000" "$(sql "$N1" -c 'SELECT count(*) FROM t')"
expect_eq "the marker moved with it" "seeded from the folder" "$(node node2 cat /flocker/pg.pgdata/marker.txt 2>&1)"
started=$(inspect node2 pg '{{.State.StartedAt}}')
printf 'edited later\n' > "$P/pgdata/marker.txt"
printf 'new\n' > "$P/pgdata/new.txt"
run "$P/on2.yml" "$P/docker-compose.yml"
expect_rc "a deploy after editing the folder exits 0" 0 "$rc" "$out"
expect_contains "… and changes nothing" "No changes" "$out"
expect_eq "the volume is not overwritten" "seeded from the folder|absent" \
  "$(node node2 cat /flocker/pg.pgdata/marker.txt 2>&1)|$(node node2 "[ -e /flocker/pg.pgdata/new.txt ] && echo present || echo absent")"
expect_eq "the container was not replaced" "$started" "$(inspect node2 pg '{{.State.StartedAt}}')"
expect_eq "the rows are still there" "1000" "$(sql "$N1" -c 'SELECT count(*) FROM t')"
reset_nodes "${NODES[@]}"

section "(b) a writable config folder: seeded with modes and owners, the container's writes kept"
B="$W/cfg"
mkdir -p "$B/config/conf.d"
printf 'level=info\n' > "$B/config/app.conf"
printf 'x=1\n' > "$B/config/conf.d/extra.conf"
chmod 0640 "$B/config/app.conf"
chown 1234:2345 "$B/config/app.conf"
cat > "$B/docker-compose.yml" <<'EOF'
services:
  app:
    image: busybox:latest
    command: ["sh", "-c", "echo started >> /etc/app/starts; trap 'exit 0' TERM; while true; do sleep 1; done"]
    volumes:
      - type: bind
        source: ./config
        target: /etc/app
EOF
dep "$B" on1 app node1
dep "$B" on2 app node2
run validate "$B/on1.yml" "$B/docker-compose.yml"
expect_contains "validate warns at the long syntax's source" "docker-compose.yml:7:17: warning: services.app.volumes[0].source: \"./config\" becomes managed volume \"config\"" "$out"
run "$B/on1.yml" "$B/docker-compose.yml"
expect_rc "deploy on node1 exits 0" 0 "$rc" "$out"
expect_eq "the files are in the volume" "level=info|x=1" \
  "$(node node1 cat /flocker/app.config/app.conf)|$(node node1 cat /flocker/app.config/conf.d/extra.conf)"
expect_eq "with their mode and numeric owner" "640 1234:2345" "$(node node1 stat -c "'%a %u:%g'" /flocker/app.config/app.conf)"
retry 10 node node1 grep -q started /flocker/app.config/starts
check "the container wrote into the folder" node node1 docker exec flocker--app sh -c "'echo written > /etc/app/state'"
node node1 docker restart flocker--app >/dev/null 2>&1
retry 10 node node1 "[ \$(grep -c started /flocker/app.config/starts) -ge 2 ]"
expect_eq "after a restart: its write and both starts are there" "written 2" \
  "$(node node1 cat /flocker/app.config/state) $(node node1 grep -c started /flocker/app.config/starts)"
run "$B/on2.yml" "$B/docker-compose.yml"
expect_rc "the move to node2 exits 0" 0 "$rc" "$out"
retry 10 node node2 "[ \$(grep -c started /flocker/app.config/starts) -ge 3 ]"
expect_eq "on node2: the write, three starts, the seed" "written 3 level=info" \
  "$(node node2 cat /flocker/app.config/state) $(node node2 grep -c started /flocker/app.config/starts) $(node node2 cat /flocker/app.config/app.conf)"
reset_nodes "${NODES[@]}"

section "(c) an interrupted seed converges with one re-run"
C="$W/blob"
mkdir -p "$C/data/parts"
for i in 1 2 3 4; do head -c $((24 * 1024 * 1024)) /dev/urandom > "$C/data/parts/part$i"; done
printf 'last\n' > "$C/data/zz-last"
want=$(cd "$C/data" && find . -type f | sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
cat > "$C/docker-compose.yml" <<'EOF'
services:
  blob:
    image: busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    volumes:
      - ./data:/data
EOF
dep "$C" on1 blob node1
sums() { node node1 "cd /flocker/blob.data 2>/dev/null && find . -type f | sort | xargs sha256sum | sha256sum | cut -d' ' -f1"; }
# A trace of the whole seed first, for how long its step takes.
python3 "$KP" trace "$W/trace.json" -- "$FLOCKER" "$C/on1.yml" "$C/docker-compose.yml" --json >/dev/null 2>&1
expect_eq "a traced deploy seeds the 96 MiB volume" "$want" "$(sums)"
line=$(python3 "$KP" points "$W/trace.json" | grep -m1 $'\thalf-way through create-volume')
anchor=$(cut -f2 <<<"$line"); offset=$(cut -f3 <<<"$line")
echo "  info  the seed's step took $(python3 -c "print(round(2 * $offset, 2))") s; killing at +${offset}s"
reset_nodes "${NODES[@]}"
python3 "$KP" kill "$W/kill.json" "$anchor" "$offset" -- "$FLOCKER" "$C/on1.yml" "$C/docker-compose.yml" --json >/dev/null 2>&1
krc=$?
expect_eq "the run was killed half-way through the seed" "0" "$krc"
sleep 2
left=$(node node1 "zfs list -H -o name -r flocker | grep -E 'blob'" | xargs)
echo "  info  after the kill: ${left:-no dataset of blob}"
run "$C/on1.yml" "$C/docker-compose.yml"
expect_rc "one re-run exits 0" 0 "$rc" "$out"
expect_eq "the volume holds the full seed, once" "$want" "$(sums)"
expect_eq "no temporary dataset is left" "" "$(node node1 "zfs list -H -o name -r flocker | grep -F :seed")"
run "$C/on1.yml" "$C/docker-compose.yml"
expect_contains "a second re-run changes nothing" "No changes" "$out"
# A leftover with partial content (as a run killed during the extraction leaves it): destroyed and made again.
reset_nodes "${NODES[@]}"
node node1 "zfs list flocker/flocker-incoming >/dev/null 2>&1 || zfs create -o mountpoint=none flocker/flocker-incoming
  mkdir -p /var/lib/flocker-deploy/seed/blob.data
  zfs create -o mountpoint=/var/lib/flocker-deploy/seed/blob.data 'flocker/flocker-incoming/blob.data:seed'
  head -c 1000 /dev/urandom > /var/lib/flocker-deploy/seed/blob.data/partial" >/dev/null 2>&1
check "a leftover temporary dataset with partial content is there" node node1 zfs list 'flocker/flocker-incoming/blob.data:seed'
run "$C/on1.yml" "$C/docker-compose.yml"
expect_rc "the deploy exits 0" 0 "$rc" "$out"
expect_eq "the volume holds the full seed and nothing of the leftover" "$want|absent" \
  "$(sums)|$(node node1 "[ -e /flocker/blob.data/partial ] && echo present || echo absent")"
expect_eq "no temporary dataset is left" "" "$(node node1 "zfs list -H -o name -r flocker | grep -F :seed")"

reset_nodes "${NODES[@]}"
finish
