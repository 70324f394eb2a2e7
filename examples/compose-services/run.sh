#!/usr/bin/env bash
# make services-demo: the stack of this folder in a 3-node sandbox. web (node2) counts visits in db (node1),
# which it reaches by name; then db moves to node3 with its data, and web, not restarted, keeps counting.
# Leaves the stack running; `sandbox/flocker-sandbox down` ends it.
source "$(dirname "$0")/../lib.sh"
EX=examples/compose-services
example_sandbox 3 services-demo
N1=$("$SANDBOX" addr node1)
run "$FLOCKER" "$EX/deployment.yml" "$EX/docker-compose.yml"
run curl -s "http://$N1:8080/cgi-bin/hits"
run curl -s "http://$N1:8080/cgi-bin/hits"
run "$FLOCKER" "$EX/deployment-db-node3.yml" "$EX/docker-compose.yml"
run curl -s "http://$N1:8080/cgi-bin/hits"
run "$SANDBOX" ssh node2 docker exec flocker--web cat /etc/hosts
