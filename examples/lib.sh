# Shared by the example stacks' scripts (examples/*/run.sh): the release binary, the sandbox script, `run` (prints
# each command before running it) and `example_sandbox NODES TARGET`, which checks that the binary is built (by
# `make TARGET`), brings up a sandbox of NODES nodes and points flocker-deploy at it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
FLOCKER="${FLOCKER_BIN:-$PWD/.build/release/flocker-deploy}"
SANDBOX="$PWD/sandbox/flocker-sandbox"

run() { printf '\n$ %s\n' "$*"; "$@"; }

example_sandbox() {
  [ -x "$FLOCKER" ] || { echo "$2: build first: make release (make $2 does)" >&2; exit 1; }
  run "$SANDBOX" up --nodes "$1"
  eval "$("$SANDBOX" env)"
}
