# Shared helpers for the shell-driven acceptance suites. Source it from acceptance/suites/*.sh.
# Each suite ends with `finish`, which prints "N passed, N failed" and exits non-zero on any failure.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SANDBOX="$ROOT/sandbox/flocker-sandbox"
# The release binary: what users run (make install builds the same). FLOCKER_BIN overrides it.
FLOCKER="${FLOCKER_BIN:-$ROOT/.build/release/flocker-deploy}"
export FLOCKER_SANDBOX_DIR="${FLOCKER_SANDBOX_DIR:-/var/tmp/flocker-sandbox$([ "${FLOCKER_SANDBOX_ID:-0}" = 0 ] || echo "-$FLOCKER_SANDBOX_ID")}"
SSH_CONFIG="$FLOCKER_SANDBOX_DIR/ssh_config"

_passed=0
_failed=0
_suite=$(basename "${0%.sh}")

# pass NAME / fail NAME [DETAIL...]: record one result.
pass() { _passed=$((_passed + 1)); printf '  ok    %s\n' "$1"; }
fail() {
  _failed=$((_failed + 1)); printf '  FAIL  %s\n' "$1"
  shift; [ $# -gt 0 ] && printf '        %s\n' "$@"
  return 0
}

# check NAME CMD...: passes when CMD exits 0; on failure shows its output.
check() {
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "command: $*" "$(printf '%s' "$out" | tail -n 15)"; fi
}

# check_fails NAME CMD...: passes when CMD exits non-zero.
check_fails() {
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then fail "$name" "expected failure, got success: $*" "$(printf '%s' "$out" | tail -n 15)"; else pass "$name"; fi
}

# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected: $2" "actual:   $3"; fi
}

# expect_rc NAME EXPECTED_RC ACTUAL_RC OUTPUT: an exit code, showing the command's output when it differs.
expect_rc() {
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected exit $2, got $3; output:" "$(printf '%s' "$4" | tail -n 25)"; fi
}

# expect_contains NAME NEEDLE HAYSTACK
expect_contains() {
  case "$3" in *"$2"*) pass "$1" ;; *) fail "$1" "expected to contain: $2" "actual: $(printf '%s' "$3" | tail -n 15)" ;; esac
}

# expect_match NAME REGEX HAYSTACK: a line of HAYSTACK matches the extended regular expression REGEX.
expect_match() {
  if printf '%s\n' "$3" | grep -qE -- "$2"; then pass "$1"; else fail "$1" "expected a line matching: $2" "actual: $(printf '%s' "$3" | tail -n 15)"; fi
}

# expect_not_contains NAME NEEDLE HAYSTACK
expect_not_contains() {
  case "$3" in *"$2"*) fail "$1" "expected not to contain: $2" "actual: $(printf '%s' "$3" | tail -n 15)" ;; *) pass "$1" ;; esac
}

# node NODE CMD...: run a command on a sandbox node through the generated ssh_config (strict host keys).
node() { local n=$1; shift; ssh -F "$SSH_CONFIG" -o BatchMode=yes -o StrictHostKeyChecking=yes "$n" "$@"; }

# reset_nodes NODE...: remove everything flocker-deploy manages on these nodes (containers, datasets, routing
# rules, service addresses and routes, lock, audit log), so a suite starts from an empty cluster. zfs-fuse may call a dataset busy for a moment after its
# container went: the destroy is retried.
reset_nodes() {
  local n
  for n in "$@"; do
    node "$n" 'docker rm -f $(docker ps -aq --filter label=flocker.app) $(docker ps -aq --filter label=flocker.clone) >/dev/null 2>&1; sleep 0.5
      for d in $(zfs list -H -o name -r flocker | grep "^flocker/" | sort -r); do zfs destroy -f -r "$d" || { sleep 1; zfs destroy -f -r "$d"; }; done
      rm -rf /var/lib/flocker-deploy/lock /var/lib/flocker-deploy/lock.* /var/lib/flocker-deploy/lock-app-* /var/lib/flocker-deploy/audit.log
      for t in nat filter; do iptables-save -t $t | grep -F flocker-deploy: | sed "s/^-A/-D/" | while read -r r; do echo "*$t"; echo "$r"; echo COMMIT; done | iptables-restore --noflush; done
      for a in $(ip -4 -o addr show dev lo | awk "\$4 ~ /^10[.]233[.]/ {print \$4}"); do ip addr del "$a" dev lo; done
      for r in $(ip -4 route show | awk "/^10[.]233[.]/ {print \$1}"); do ip route del "$r"; done' >/dev/null 2>&1
  done
}

# sandbox_up NODE...: a sandbox of that many nodes, every one of them started and healed (a node stopped or cut
# by an interrupted earlier run comes back first); exports FLOCKER_SSH_CONFIG. Ends the suite when `up` fails.
sandbox_up() {
  local n
  section "sandbox with $# nodes"
  "$SANDBOX" up --nodes $# >/dev/null || { fail "sandbox up"; finish; }
  export FLOCKER_SSH_CONFIG="$SSH_CONFIG"
  for n in "$@"; do "$SANDBOX" start "$n" >/dev/null; "$SANDBOX" heal "$n" >/dev/null; done
}

# fault_cleanup: for suites that stop nodes and run clients in the background: makes the work folder $W and the
# list BG (pids of background jobs); at exit, the jobs are resumed (a FLOCKER_TEST_HOLD pause) and killed, every
# node of NODES is started again, and $W is removed.
fault_cleanup() {
  W=$(mktemp -d)
  BG=()
  trap _fault_cleanup_exit EXIT
}
_fault_cleanup_exit() {
  local p n
  for p in "${BG[@]}"; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
  for n in "${NODES[@]}"; do "$SANDBOX" start "$n" >/dev/null 2>&1; done
  rm -rf "$W"
}

# retry SECONDS CMD...: re-run CMD until it succeeds or SECONDS pass (for services that take a moment).
retry() {
  local secs=$1; shift
  local end=$((SECONDS + secs))
  while true; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    [ $SECONDS -ge $end ] && return 1
    sleep 0.2
  done
}

section() { printf '\n== %s: %s\n' "$_suite" "$*"; }

finish() {
  echo "$_passed passed, $_failed failed"
  [ "$_failed" -eq 0 ]
  exit $?
}
