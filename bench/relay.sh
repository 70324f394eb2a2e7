#!/usr/bin/env bash
# Relay throughput: 1 GiB of incompressible data (a snapshot of a dataset filled from /dev/urandom) sent from
# node1 to node2 through this machine, flocker-deploy's way (one process, two FlockerSSH connections, a
# bounded pipe between them: `flocker-bench relay`) against OpenSSH's (`ssh node1 zfs send … | ssh node2 zfs
# recv …`), on the same snapshot, after one warm-up each, alternating which goes first, RUNS times each (both
# timings include connecting); medians and the ratio (ours / OpenSSH).
# Target (issue 6): ratio ≥ 1.0. Uses its own sandbox instance (FLOCKER_SANDBOX_ID, default 3), taken down after.
source "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-3}
MIB=${MIB:-1024}
need_binary "$BENCH"
trap '[ -n "${KEEP:-}" ] || "$SANDBOX" down >/dev/null 2>&1 || true' EXIT
"$SANDBOX" down >/dev/null 2>&1 || true
"$SANDBOX" up --nodes 2 --pool-size 3G >/dev/null
eval "$("$SANDBOX" env)"
CFG=$FLOCKER_SSH_CONFIG
DS=flocker/bench.data
ssh -F "$CFG" node1 "zfs destroy -r -f $DS 2>/dev/null; zfs create $DS && head -c $((MIB * 1048576)) /dev/urandom > /flocker/bench.data/blob && zfs snapshot $DS@s1 && sync"
clean_target() { # zfs-fuse may call a dataset busy for a moment after a receive: retry the destroy.
  ssh -F "$CFG" node2 "for i in 1 2 3 4 5; do zfs list $DS >/dev/null 2>&1 || break; zfs destroy -r -f $DS 2>/dev/null && break; sleep 1; done; sync"
}
run_ours() {
  clean_target
  local line s
  line=$(must "$BENCH" relay --ssh-config "$CFG" --from node1 --to node2 --dataset "$DS" --snapshot s1 --compress none)
  s=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$line"); [ -n "$s" ] || { echo "$line" >&2; exit 1; }
  echo "$MIB / $s" | bc -l
}
run_openssh() {
  clean_target
  local t0=$EPOCHREALTIME
  ssh -F "$CFG" node1 zfs send "$DS@s1" | ssh -F "$CFG" node2 zfs recv "$DS" ||
    { echo "relay: the OpenSSH pipe failed" >&2; exit 1; }
  echo "$MIB / ($EPOCHREALTIME - $t0)" | bc -l
}
run_ours >/dev/null; run_openssh >/dev/null   # warm-up (pool and caches), not counted
ours=(); openssh=()
for r in $(seq 1 "$RUNS"); do
  if [ $((r % 2)) = 1 ]; then o=$(run_ours); p=$(run_openssh); else p=$(run_openssh); o=$(run_ours); fi
  ours+=("$o"); openssh+=("$p")
  printf 'run %d: flocker relay %.1f MiB/s, OpenSSH pipe %.1f MiB/s\n' "$r" "$o" "$p"
done
mo=$(printf '%s\n' "${ours[@]}" | median); mp=$(printf '%s\n' "${openssh[@]}" | median)
printf 'median over %d runs, %d MiB incompressible: flocker relay %.1f MiB/s, OpenSSH pipe %.1f MiB/s, ratio %.2f (target ≥ 1.0)\n' "$RUNS" "$MIB" "$mo" "$mp" "$(echo "$mo / $mp" | bc -l)"
