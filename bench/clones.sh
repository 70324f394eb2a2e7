#!/usr/bin/env bash
# Clones (issue 13), side by side in one run: the time `clone create --count 10` takes for redis with a volume
# of 10 MiB and of 1 GiB (target: 1 GiB ≤ 1.3 × 10 MiB), the pool space the 10 clones use once each has had
# 1 MiB written into it (target: about 10 MiB, not 10 × the volume), and beside them the way without clones: a
# full copy of the same snapshot on the node (`zfs send | zfs recv`), timed, with the space it takes.
# Own sandbox instance (FLOCKER_SANDBOX_ID, default 3), 2 nodes, 4G pools.
source "$(dirname "$0")/lib.sh"
SIZES=${SIZES:-"10 1024"}
need_binary "$FLOCKER"
W=$(mktemp -d)
trap 'rm -rf "$W"; [ -n "${KEEP:-}" ] || "$SANDBOX" down >/dev/null 2>&1 || true' EXIT
"$SANDBOX" down >/dev/null 2>&1 || true
"$SANDBOX" up --nodes 2 --pool-size 4G >/dev/null
eval "$("$SANDBOX" env)"
S="ssh -F $FLOCKER_SSH_CONFIG"
source "$ROOT/acceptance/lib.sh"   # reset_nodes, node
APP="$ROOT/examples/redis/application.yml"
printf 'version: 1\nnodes:\n  node1: [redis]\n  node2: []\n' > "$W/dep.yml"
now() { date +%s.%N; }
used() { $S node1 "zfs get -H -p -o value used $1"; }

printf '%-8s %14s %16s %14s %16s\n' size "10 clones (s)" "clones' space" "full copy (s)" "copy's space"
declare -A clone_time
for size in $SIZES; do
  $S node1 'docker rm -f $(docker ps -aq --filter label=flocker.clone) >/dev/null 2>&1; zfs destroy -r flocker/flocker-clones >/dev/null 2>&1; zfs destroy -r flocker/bench-copy >/dev/null 2>&1; true'
  reset_nodes node1 node2
  must "$FLOCKER" "$W/dep.yml" "$APP" >/dev/null
  $S node1 "docker exec flocker--redis sh -c 'head -c $((size * 1048576)) /dev/urandom > /data/filler'"
  must "$FLOCKER" snapshot create "$W/dep.yml" "$APP" --app redis --name bench >/dev/null
  t0=$(now)
  must "$FLOCKER" clone create "$W/dep.yml" "$APP" --app redis --name b --count 10 --from bench >/dev/null
  t1=$(now)
  for i in $(seq 1 10); do $S node1 "docker exec flocker-clone--b-$i sh -c 'head -c 1048576 /dev/urandom > /data/written'"; done
  $S node1 sync
  # zfs-fuse accounts written data in `used` only once its transaction group is committed (up to 30 s later);
  # taking a snapshot commits it at once (and destroying it leaves nothing behind).
  must $S node1 "zfs snapshot flocker/flocker-clones/b-1.default@bench-commit && zfs destroy flocker/flocker-clones/b-1.default@bench-commit" >/dev/null
  space=$(used flocker/flocker-clones)
  t2=$(now)
  must $S node1 "zfs send flocker/redis.default@flocker-named-bench | zfs recv flocker/bench-copy" >/dev/null
  t3=$(now)
  copy=$(used flocker/bench-copy)
  clone_time[$size]=$(echo "$t1 - $t0" | bc)
  printf '%-8s %14.2f %13.1f MiB %14.2f %13.1f MiB\n' "${size}MiB" "${clone_time[$size]}" "$(echo "$space / 1048576" | bc -l)" \
    "$(echo "$t3 - $t2" | bc)" "$(echo "$copy / 1048576" | bc -l)"
  must "$FLOCKER" clone destroy "$W/dep.yml" $(seq -f 'b-%g' 1 10) >/dev/null
done
set -- $SIZES
if [ $# -ge 2 ]; then
  ratio=$(echo "${clone_time[$2]} / ${clone_time[$1]}" | bc -l)
  printf 'ratio 10 clones of %s MiB / of %s MiB: %.2f (target ≤ 1.3)\n' "$2" "$1" "$ratio"
fi
