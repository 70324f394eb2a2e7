#!/usr/bin/env bash
# Runs every acceptance suite (acceptance/suites/*.sh) against the built binary and real sandboxes.
# Ends with a line "N passed, N failed" and exits non-zero on any failure.
#
# The suites run in FLOCKER_ACCEPTANCE_LANES lanes (default 2), each lane on its own sandbox instance
# (FLOCKER_SANDBOX_ID and the next ones: separate bridges, subnets, namespaces and state folders), the longest
# suites first. Most of a suite's time is spent waiting on nodes (containers starting, transfers, timeouts), so
# two lanes take little more than half the time of one. A suite's output is printed whole when it ends.
# FLOCKER_ACCEPTANCE_LANES=1 runs them one after another, as before.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
base=${FLOCKER_SANDBOX_ID:-0}
lanes=${FLOCKER_ACCEPTANCE_LANES:-2}
shopt -s nullglob

# Wall time of each suite (seconds, from this script's own lines, two lanes on a loaded machine), for the order;
# a suite not listed counts as 200.
declare -A weight=([45-kill-points]=470 [40-faults]=420 [60-replicas]=200 [30-volumes]=175 [10-sandbox]=170
                   [20-deploy]=145 [70-clones]=175 [65-evacuate]=105 [50-hostile]=85 [75-compose]=130 [70-new-user]=45
                   [55-holds]=30 [58-pipelines]=60 [77-services]=110 [80-failover]=140 [85-databases]=215 [76-compose-folders]=90)
suites=()
for suite in "$here"/suites/*.sh; do suites+=("$suite"); done
mapfile -t ordered < <(for s in "${suites[@]}"; do n=$(basename "$s" .sh); echo "${weight[$n]:-200} $s"; done | sort -rn | cut -d' ' -f2-)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo 0 > "$work/next"
take() { # the index of the next suite to run, or nothing when none is left
  local i
  exec 9>"$work/lock"
  flock 9
  i=$(cat "$work/next")
  echo $((i + 1)) > "$work/next"
  flock -u 9
  [ "$i" -lt "${#ordered[@]}" ] && echo "$i"
}

lane() { # $1: sandbox instance of this lane
  local i suite name started
  while i=$(take); do
    suite=${ordered[$i]}
    name=$(basename "$suite" .sh)
    started=$SECONDS
    (unset FLOCKER_SANDBOX_DIR; FLOCKER_SANDBOX_ID=$1 bash "$suite") > "$work/$name.out" 2>&1
    echo "$((SECONDS - started))" > "$work/$name.time"
    ( flock 8; cat "$work/$name.out"; echo "acceptance: $name took $((SECONDS - started)) s (sandbox $1)" ) 8>"$work/print"
  done
}

# A second lane's sandbox is brought up before the first lane starts, so 10-sandbox (which picks a free
# instance for its own two-instance checks) never picks the other lane's.
if [ "$lanes" -gt 1 ]; then
  for ((k = 1; k < lanes; k++)); do
    (unset FLOCKER_SANDBOX_DIR; FLOCKER_SANDBOX_ID=$((base + k)) "$here/../sandbox/flocker-sandbox" up --nodes 3 >/dev/null 2>&1) || true
  done
fi
pids=()
for ((k = 0; k < lanes; k++)); do lane $((base + k)) & pids+=($!); done
wait "${pids[@]}"

passed=0
failed=0
times=""
for suite in "${suites[@]}"; do
  name=$(basename "$suite" .sh)
  out="$work/$name.out"
  p=$(grep -Eo '^[0-9]+ passed, [0-9]+ failed$' "$out" 2>/dev/null | tail -n1 | awk '{print $1}')
  f=$(grep -Eo '^[0-9]+ passed, [0-9]+ failed$' "$out" 2>/dev/null | tail -n1 | awk '{print $3}')
  if [ -z "$p" ]; then
    echo "acceptance: suite $name ended without a result line" >&2
    p=0; f=1
  fi
  passed=$((passed + p)); failed=$((failed + f))
  times="$times $name $(cat "$work/$name.time" 2>/dev/null || echo ?)s"
done
# Leave no sandbox behind (suites bring it up as they need it).
for ((k = 0; k < lanes; k++)); do
  (unset FLOCKER_SANDBOX_DIR; FLOCKER_SANDBOX_ID=$((base + k)) "$here/../sandbox/flocker-sandbox" down >/dev/null 2>&1) || true
done
echo "acceptance: wall time per suite:$times; all in $SECONDS s with $lanes lane(s)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
