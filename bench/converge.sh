#!/usr/bin/env bash
# No-op converge: on 2, 4, 8 and 16 sandbox nodes (NODES), each running one application (with a volume and a
# published port, so discovery has containers, datasets and routes to read), time `flocker-deploy` on a cluster
# that already matches (median of RUNS runs) and count the SSH round trips (remote commands) per node from -v.
# From -v's timing and trace lines also the slowest node's connect (TCP, SSH handshake, authentication) and
# discovery command, medians. Prints a table and the growth ratios. Targets: ≤ 1 s at 8 nodes (issue 5);
# 16 nodes ≤ 2 × the 2-node time (issue 14).
# Uses its own sandbox instance (FLOCKER_SANDBOX_ID, default 3) and takes it down at the end.
source "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-7}
NODES=${NODES:-"2 4 8 16"}
need_binary "$FLOCKER"
W=$(mktemp -d)
trap 'rm -rf "$W"; "$SANDBOX" down >/dev/null 2>&1 || true' EXIT
"$SANDBOX" down >/dev/null 2>&1 || true
# busy_cs: CPU time (centiseconds) the whole machine has spent busy so far, from /proc/stat. Every node of the
# sandbox (its sshd, dockerd, zfs-fuse) shares this machine's cores, so this shows when the nodes' own work,
# not flocker-deploy, is what makes a run longer; "ours" is flocker-deploy's own CPU time (user + system).
busy_cs() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }

printf '%-6s %-11s %-9s %-17s %-22s %-9s %-14s %-14s\n' nodes "median (s)" "min (s)" "round trips/node" "machine CPU/run (s)" "ours (s)" \
  "connect (ms)" "discovery (ms)"
declare -A result
for n in $NODES; do
  "$SANDBOX" up --nodes "$n" >/dev/null
  eval "$("$SANDBOX" env)"
  { echo "version: 1"; echo "applications:"
    for i in $(seq 1 "$n"); do
      printf '  app%d:\n    image: busybox:latest\n    command: ["httpd", "-f", "-p", "80"]\n    ports: [{internal: 80, external: %d}]\n    volume: {mountpoint: /data}\n' "$i" $((8000 + i))
    done; } > "$W/app.yml"
  { echo "version: 1"; echo "nodes:"; for i in $(seq 1 "$n"); do echo "  node$i: [app$i]"; done; } > "$W/deploy.yml"
  "$FLOCKER" "$W/deploy.yml" "$W/app.yml" > "$W/first.out" 2>&1 || { cat "$W/first.out"; exit 1; }
  times=(); busy=(); own=(); conn=(); disc=()
  for _ in $(seq 1 "$RUNS"); do
    b0=$(busy_cs)
    s=$EPOCHREALTIME
    out=$(must /usr/bin/time -f '@@cpu %U %S' "$FLOCKER" "$W/deploy.yml" "$W/app.yml" -v)
    e=$EPOCHREALTIME
    b1=$(busy_cs)
    grep -q "No changes" <<<"$out" || { echo "converge: not a no-op at $n nodes:"; echo "$out"; exit 1; }
    times+=("$(echo "$e - $s" | bc -l)")
    busy+=("$(echo "($b1 - $b0) / 100" | bc -l)")
    own+=("$(awk '/^@@cpu /{print $2 + $3}' <<<"$out")")
    # The slowest node's connect and discovery in this run ("timing node1: connected in 23 ms",
    # "trace node1 (80 ms, exit 0): sh -c … flocker-discovery").
    conn+=("$(awk '/^timing .*: connected in [0-9]+ ms$/ {v=$(NF-1); if (v > m) m = v} END {print m + 0}' <<<"$out")")
    disc+=("$(awk '/^trace .*flocker-discovery/ {v=$3; sub(/^[(]/, "", v); if (v + 0 > m) m = v + 0} END {print m + 0}' <<<"$out")")
  done
  trips=$(grep -c '^trace ' <<<"$out")
  med=$(printf '%s\n' "${times[@]}" | median)
  min=$(printf '%s\n' "${times[@]}" | sort -n | head -n1)
  result[$n]=$med
  printf '%-6s %-11.3f %-9.3f %-17s %-22.2f %-9.2f %-14s %-14s\n' "$n" "$med" "$min" "$(echo "$trips / $n" | bc)" \
    "$(printf '%s\n' "${busy[@]}" | median)" "$(printf '%s\n' "${own[@]}" | median)" \
    "$(printf '%s\n' "${conn[@]}" | median)" "$(printf '%s\n' "${disc[@]}" | median)"
done
first=${NODES%% *}
for n in $NODES; do
  [ "$n" = "$first" ] && continue
  printf 'growth %s→%s nodes: %.2f×' "$first" "$n" "$(echo "${result[$n]} / ${result[$first]}" | bc -l)"
  case $n in 8) printf ' (target < 2×; %.3f s, target ≤ 1 s)' "${result[8]}" ;; 16) printf ' (target ≤ 2×)' ;; esac
  echo
done
printf 'this machine has %d cores (every node shares them); load average %s\n' "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
