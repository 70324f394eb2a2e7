#!/usr/bin/env bash
# No-op converge: on 2, 4 and 8 sandbox nodes, each running one application (with a volume and a published
# port, so discovery has containers, datasets and routes to read), time `flocker-deploy` on a cluster that
# already matches (median of RUNS runs) and count the SSH round trips (remote commands) per node from -v.
# Prints a table and the 2→8 growth ratio. Targets (issue 5): ≤ 1 s at 8 nodes; < 2× growth from 2 to 8.
# Uses its own sandbox instance (FLOCKER_SANDBOX_ID, default 3) and takes it down at the end.
source "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-7}
need_binary "$FLOCKER"
W=$(mktemp -d)
trap 'rm -rf "$W"; "$SANDBOX" down >/dev/null 2>&1 || true' EXIT
"$SANDBOX" down >/dev/null 2>&1 || true
# busy_cs: CPU time (centiseconds) the whole machine has spent busy so far, from /proc/stat. Every node of the
# sandbox (its sshd, dockerd, zfs-fuse) shares this machine's cores, so this shows when the nodes' own work,
# not flocker-deploy, is what makes a run longer; "ours" is flocker-deploy's own CPU time (user + system).
busy_cs() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }

printf '%-6s %-11s %-9s %-17s %-22s %-9s\n' nodes "median (s)" "min (s)" "round trips/node" "machine CPU/run (s)" "ours (s)"
declare -A result
for n in 2 4 8; do
  "$SANDBOX" up --nodes "$n" >/dev/null
  eval "$("$SANDBOX" env)"
  { echo "version: 1"; echo "applications:"
    for i in $(seq 1 "$n"); do
      printf '  app%d:\n    image: busybox:latest\n    command: ["httpd", "-f", "-p", "80"]\n    ports: [{internal: 80, external: %d}]\n    volume: {mountpoint: /data}\n' "$i" $((8000 + i))
    done; } > "$W/app.yml"
  { echo "version: 1"; echo "nodes:"; for i in $(seq 1 "$n"); do echo "  node$i: [app$i]"; done; } > "$W/deploy.yml"
  "$FLOCKER" "$W/deploy.yml" "$W/app.yml" > "$W/first.out" 2>&1 || { cat "$W/first.out"; exit 1; }
  times=(); busy=(); own=()
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
  done
  trips=$(grep -c '^trace ' <<<"$out")
  med=$(printf '%s\n' "${times[@]}" | median)
  min=$(printf '%s\n' "${times[@]}" | sort -n | head -n1)
  result[$n]=$med
  printf '%-6s %-11.3f %-9.3f %-17s %-22.2f %-9.2f\n' "$n" "$med" "$min" "$(echo "$trips / $n" | bc)" \
    "$(printf '%s\n' "${busy[@]}" | median)" "$(printf '%s\n' "${own[@]}" | median)"
done
printf 'growth 2→8 nodes: %.2f× (target < 2×); 8 nodes: %.3f s (target ≤ 1 s); this machine has %d cores\n' \
  "$(echo "${result[8]} / ${result[2]}" | bc -l)" "${result[8]}" "$(nproc)"
