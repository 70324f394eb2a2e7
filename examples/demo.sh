#!/usr/bin/env bash
# make demo: the redis tutorial, narrated. A two-node sandbox cluster on this machine, redis with its data in
# a ZFS volume on node1, keys written through node1, redis moved to node2 by switching deployment files, the
# keys read back through node1 (routing mesh) and node2. See docs/tutorial.md for the same story step by step.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
FLOCKER="${FLOCKER_BIN:-$ROOT/.build/release/flocker-deploy}"
SANDBOX="$ROOT/sandbox/flocker-sandbox"
EX=examples/redis

bold() { if [ -t 1 ]; then printf '\n\033[1m%s\033[0m\n' "$*"; else printf '\n== %s\n' "$*"; fi; }
say() { printf '   %s\n' "$*"; }
run() { printf '   $ %s\n' "$*"; "$@" 2>&1 | sed 's/^/     /'; }

[ -x "$FLOCKER" ] || { echo "demo: build first: make release (make demo does)" >&2; exit 1; }

bold "1. A cluster of two nodes on this machine"
say "Each node is its own network, mount and UTS namespace running sshd, zfs-fuse (pool 'flocker') and dockerd."
run "$SANDBOX" up --nodes 2
eval "$("$SANDBOX" env)"
say "flocker-deploy reaches the nodes through the sandbox's ssh_config: FLOCKER_SSH_CONFIG=$FLOCKER_SSH_CONFIG"
N1=$("$SANDBOX" addr node1); N2=$("$SANDBOX" addr node2)
say "node1 is $N1, node2 is $N2."

bold "2. The two files"
say "What runs (the application file, Flocker v1 format):"
sed 's/^/     | /' "$EX/application.yml"
say "Where it runs (the deployment file):"
sed 's/^/     | /' "$EX/deployment-node1.yml"
run "$FLOCKER" validate "$EX/deployment-node1.yml" "$EX/application.yml"

bold "3. Deploy redis on node1"
run "$FLOCKER" "$EX/deployment-node1.yml" "$EX/application.yml"
for _ in $(seq 1 50); do redis-cli -h "$N1" ping >/dev/null 2>&1 && break; sleep 0.1; done

bold "4. Write some keys through node1"
for city in paris tokyo lima; do
  run redis-cli -h "$N1" set "capital:$city" "written on node1 at $(date +%T)"
done
run redis-cli -h "$N1" set visits 42

bold "5. Move redis to node2: switch to the other deployment file"
say "The only difference is one line: redis is listed under node2 instead of node1."
diff "$EX/deployment-node1.yml" "$EX/deployment-node2.yml" | sed 's/^/     | /' || true
say "flocker-deploy copies the volume while redis runs, stops it, copies what changed, hands the volume over"
say "(node2 becomes the writable primary, node1 keeps a read-only copy), starts redis on node2, then"
say "switches every node's routing of port 6379."
run "$FLOCKER" "$EX/deployment-node2.yml" "$EX/application.yml"

bold "6. The keys moved with redis"
say "Through node1, whose port 6379 now forwards to node2:"
run redis-cli -h "$N1" get capital:tokyo
say "Through node2, where redis now runs:"
run redis-cli -h "$N2" get capital:lima
run redis-cli -h "$N2" get visits

bold "7. What runs where now"
run "$FLOCKER" status "$EX/deployment-node2.yml" "$EX/application.yml"

bold "Done"
# The hints name this instance: a second shell without FLOCKER_SANDBOX_ID would act on instance 0.
inst="FLOCKER_SANDBOX_ID=$FLOCKER_SANDBOX_ID"
say "In another shell, point it at this sandbox (instance $FLOCKER_SANDBOX_ID) first:"
say "  eval \"\$($inst $SANDBOX env)\""
say "Run the same command again: it prints 'No changes'. Move redis back with deployment-node1.yml:"
say "  $FLOCKER $EX/deployment-node1.yml $EX/application.yml"
say "Look inside a node:  $inst $SANDBOX ssh node2 docker ps"
say "Tear the sandbox down: $inst $SANDBOX down"
