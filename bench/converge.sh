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


printf '%-6s %-12s %-12s %-14s\n' nodes "median (s)" "min (s)" "round trips/node"
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
  times=()
  for _ in $(seq 1 "$RUNS"); do
    s=$EPOCHREALTIME
    out=$("$FLOCKER" "$W/deploy.yml" "$W/app.yml" -v 2>&1)
    e=$EPOCHREALTIME
    grep -q "No changes" <<<"$out" || { echo "converge: not a no-op at $n nodes:"; echo "$out"; exit 1; }
    times+=("$(echo "$e - $s" | bc -l)")
  done
  trips=$(grep -c '^trace ' <<<"$out")
  med=$(printf '%s\n' "${times[@]}" | median)
  min=$(printf '%s\n' "${times[@]}" | sort -n | head -n1)
  result[$n]=$med
  printf '%-6s %-12.3f %-12.3f %-14s\n' "$n" "$med" "$min" "$(echo "$trips / $n" | bc)"
done
printf 'growth 2→8 nodes: %.2f× (target < 2×); 8 nodes: %.3f s (target ≤ 1 s)\n' "$(echo "${result[8]} / ${result[2]}" | bc -l)" "${result[8]}"
