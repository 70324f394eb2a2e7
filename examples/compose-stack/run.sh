#!/usr/bin/env bash
# make compose-demo: the Compose stack of this folder in a 2-node sandbox: validate (with its warnings), deploy
# (cache first, each service ready once its health check passes), read the page and ping redis through both
# nodes' routing mesh. Leaves the stack running; `sandbox/flocker-sandbox down` ends it.
set -euo pipefail
cd "$(dirname "$0")/../.."
FLOCKER="${FLOCKER_BIN:-$PWD/.build/release/flocker-deploy}"
SANDBOX="$PWD/sandbox/flocker-sandbox"
EX=examples/compose-stack
[ -x "$FLOCKER" ] || { echo "compose-demo: build first: make release (make compose-demo does)" >&2; exit 1; }

run() { printf '\n$ %s\n' "$*"; "$@"; }
run "$SANDBOX" up --nodes 2
eval "$("$SANDBOX" env)"
N1=$("$SANDBOX" addr node1); N2=$("$SANDBOX" addr node2)
run "$FLOCKER" validate "$EX/deployment.yml" "$EX/docker-compose.yml"
run "$FLOCKER" "$EX/deployment.yml" "$EX/docker-compose.yml"
run curl -s "http://$N1:8080/"
run curl -s "http://$N2:8080/"
run redis-cli -h "$N2" -p 6379 ping
