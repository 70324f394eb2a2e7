#!/usr/bin/env bash
# make compose-demo: the Compose stack of this folder in a 2-node sandbox: validate (with its warnings), deploy
# (cache first, each service ready once its health check passes), read the page and ping redis through both
# nodes' routing mesh. Leaves the stack running; `sandbox/flocker-sandbox down` ends it.
source "$(dirname "$0")/../lib.sh"
EX=examples/compose-stack
example_sandbox 2 compose-demo
N1=$("$SANDBOX" addr node1); N2=$("$SANDBOX" addr node2)
run "$FLOCKER" validate "$EX/deployment.yml" "$EX/docker-compose.yml"
run "$FLOCKER" "$EX/deployment.yml" "$EX/docker-compose.yml"
run curl -s "http://$N1:8080/"
run curl -s "http://$N2:8080/"
run redis-cli -h "$N2" -p 6379 ping
