#!/usr/bin/env bash
# make postgres-demo: PostgreSQL in a 2-node sandbox (examples/postgres): deploy it on node1, write rows, move it
# to node2 with its data, read them back through node1's address (the routing mesh), and show that the new node
# started the moved data directory as it was (no second initialisation). Leaves it running on node2;
# `sandbox/flocker-sandbox down` ends it. See docs/databases.md.
source "$(dirname "$0")/../lib.sh"
EX=examples/postgres
example_sandbox 2 postgres-demo
N1=$("$SANDBOX" addr node1)
export PGUSER=postgres PGPASSWORD=flocker PGDATABASE=app
run "$FLOCKER" "$EX/deployment-node1.yml" "$EX/application.yml"
run psql -h "$N1" -X -c "CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, item text, at timestamptz DEFAULT now())" \
  -c "INSERT INTO orders (item) SELECT 'item ' || g FROM generate_series(1, 1000) g"
run "$FLOCKER" "$EX/deployment-node2.yml" "$EX/application.yml"
run psql -h "$N1" -X -c "SELECT count(*), max(at) FROM orders"
run "$SANDBOX" ssh node2 "docker logs flocker--pg 2>&1 | grep -E 'entrypoint:|database system'"
