# Shared preamble of the sandbox benchmarks (converge, move-downtime, relay): source it first thing.
# Works from the repository root, on its own sandbox instance (FLOCKER_SANDBOX_ID, default 3, so a bench never
# touches the instance the acceptance suites or a user's tutorial use), with the release binaries.
set -euo pipefail
# A failure inside $(…) stops the benchmark too: no figure is ever taken from a run that failed.
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
ROOT=$PWD
export FLOCKER_SANDBOX_ID=${FLOCKER_SANDBOX_ID:-3}
SANDBOX="$ROOT/sandbox/flocker-sandbox"
# Exported: acceptance/lib.sh (which move-downtime sources for reset_nodes) takes the binary from FLOCKER_BIN.
export FLOCKER_BIN=${FLOCKER_BIN:-$ROOT/.build/release/flocker-deploy}
FLOCKER=$FLOCKER_BIN
BENCH=${FLOCKER_BENCH_BIN:-$ROOT/.build/release/flocker-bench}

# need_binary PATH: stop with a hint when the release build is missing.
need_binary() { [ -x "$1" ] || { echo "$(basename "$0" .sh): build first: make release" >&2; exit 1; }; }

# median: the median of the numbers on standard input, one a line.
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# timed CMD…: runs CMD, printing its output only when it fails; stops the benchmark loudly on a non-zero exit
# (every timed run's exit status is checked, so a crash at the end of a run cannot pass as a figure).
must() {
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  if [ "$rc" -ne 0 ]; then
    printf '%s: FAILED (exit %d): %s\n%s\n' "$(basename "$0" .sh)" "$rc" "$*" "$out" >&2
    exit 1
  fi
  printf '%s' "$out"
}
