#!/usr/bin/env bash
# Real-world Compose files (issue 15) against a real 2-node sandbox: the example stack (examples/compose-stack)
# validates with its warnings shown, deploys with depends_on ordering the starts on node1 and each service
# ready only once its health check passes, with every Compose key turned into its docker run flag (labels,
# hostname, cap_drop, stop signal and grace period, logging, health check), dotted environment names, the .env
# default and a normalised mountpoint; a second deploy changes nothing; a changed variable replaces only the
# service it reaches. Then: a port that accepts before the health check passes (readiness waits for healthy),
# with a managed volume mounted :ro beside a writable one, and a health check that never passes (the deploy
# fails, naming it unhealthy).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

NODES=(node1 node2)
section "sandbox with 2 nodes"
"$SANDBOX" up --nodes 2 >/dev/null || { fail "sandbox up"; finish; }
export FLOCKER_SSH_CONFIG="$SSH_CONFIG"
for n in "${NODES[@]}"; do "$SANDBOX" start "$n" >/dev/null; "$SANDBOX" heal "$n" >/dev/null; done
N1=$("$SANDBOX" addr node1)
N2=$("$SANDBOX" addr node2)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
reset_nodes "${NODES[@]}"
STACK="$ROOT/examples/compose-stack"
DEP="$STACK/deployment.yml"
APP="$STACK/docker-compose.yml"
# The suite's own environment must not reach the interpolation.
unset GREETING WEB_PORT COMPOSE_PROFILES

# inspect NODE APP FORMAT: the container's docker inspect FORMAT (which holds no single quote) on NODE.
inspect() { node "$1" "docker inspect --format '$3' flocker--$2" 2>&1; }
deploy() { out=$("$FLOCKER" "$@" 2>&1); rc=$?; }

section "validate: the stack is accepted, its warnings are shown"
out=$("$FLOCKER" validate "$DEP" "$APP" 2>&1); rc=$?
expect_rc "validate exits 0" 0 "$rc" "$out"
expect_contains "build beside image: warned, positioned" "docker-compose.yml:20:5: warning: services.web.build: \`build\` is ignored" "$out"
expect_contains "container_name: warned with what happens instead" "names the container \"flocker--cache\"" "$out"
expect_contains "networks: warned" "warning: services.web.networks: \`networks\` is ignored" "$out"
expect_contains "the docker run options are listed" "--hostname=web --cap-drop=NET_RAW --stop-signal=SIGTERM" "$out"
expect_not_contains "the debug profile is not enabled" "application debug" "$out"
out=$("$FLOCKER" validate --profile debug "$DEP" "$APP" 2>&1)
expect_contains "--profile debug enables it" "application debug" "$out"

section "deploy: cache first (depends_on on one node), each ready by its health check"
deploy "$DEP" "$APP" --dry-run
expect_contains "the dry run shows the warnings too" "warning: services.web.build" "$out"
order=$(grep -Eo 'start (web|cache)$' <<<"$out" | tr '\n' ' ')
expect_eq "start cache comes before start web, though web is written first" "start cache start web " "$order"
t0=$SECONDS
deploy "$DEP" "$APP"
expect_rc "deploy exits 0" 0 "$rc" "$out"
expect_contains "deploy prints the warnings" "warning: services.cache.container_name" "$out"
expect_eq "cache is healthy when the deploy returns" "healthy" "$(inspect node1 cache '{{.State.Health.Status}}')"
expect_eq "web is healthy when the deploy returns" "healthy" "$(inspect node1 web '{{.State.Health.Status}}')"
started_cache=$(inspect node1 cache '{{.State.StartedAt}}')
started_web=$(inspect node1 web '{{.State.StartedAt}}')
expect_eq "web started after cache" "true" "$([[ "$started_cache" < "$started_web" ]] && echo true || echo "$started_cache / $started_web")"
expect_eq "the .env default reaches the page, through the mesh on node2 too" "hello from .env|hello from .env" \
  "$(curl -s --max-time 5 "http://$N1:8080/")|$(curl -s --max-time 5 "http://$N2:8080/")"

section "every key became its docker run flag"
expect_eq "labels (ours kept)" "compose-stack web" \
  "$(inspect node1 web '{{index .Config.Labels "com.example.stack"}} {{index .Config.Labels "flocker.app"}}')"
expect_eq "hostname" "web" "$(inspect node1 web '{{.Config.Hostname}}')"
expect_eq "cap_drop (Docker's spelling)" "[CAP_NET_RAW]" "$(inspect node1 web '{{.HostConfig.CapDrop}}')"
expect_eq "stop_signal" "SIGTERM" "$(inspect node1 web '{{.Config.StopSignal}}')"
expect_eq "stop_grace_period 20s → StopTimeout 20" "20" "$(inspect node1 cache '{{.Config.StopTimeout}}')"
expect_eq "logging" "json-file 1m" "$(inspect node1 web '{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config "max-size"}}')"
expect_eq "healthcheck (the exec form as --health-cmd's shell form, interval)" "[CMD-SHELL redis-cli ping] 1s" \
  "$(inspect node1 cache '{{.Config.Healthcheck.Test}} {{.Config.Healthcheck.Interval}}')"
expect_contains "a dotted environment name reaches the container" "cache.url=redis://cache:6379" \
  "$(inspect node1 web '{{range .Config.Env}}{{println .}}{{end}}')"
expect_eq "the mountpoint /data/ is mounted at /data" "/data" \
  "$(inspect node1 cache '{{range .Mounts}}{{if eq .Destination "/data"}}{{.Destination}}{{end}}{{end}}')"
expect_eq "redis answers through node2's mesh" "PONG" "$(redis-cli -h "$N2" -p 6379 ping 2>&1)"

section "idempotent; a changed variable replaces only what it reaches"
deploy "$DEP" "$APP"
expect_contains "a second deploy changes nothing" "No changes" "$out"
web_id=$(inspect node1 web '{{.Id}}')
cache_id=$(inspect node1 cache '{{.Id}}')
out=$(GREETING="hello from the environment" "$FLOCKER" "$DEP" "$APP" 2>&1); rc=$?
expect_rc "deploy with GREETING set exits 0" 0 "$rc" "$out"
expect_eq "the environment wins over .env" "hello from the environment" "$(curl -s --max-time 5 "http://$N1:8080/")"
check_fails "web's container was replaced" test "$web_id" = "$(inspect node1 web '{{.Id}}')"
expect_eq "cache's was not" "$cache_id" "$(inspect node1 cache '{{.Id}}')"

section "readiness is the health check's, not the port's"
cat > "$W/health.yml" <<'EOF'
services:
  slow:
    image: busybox:latest
    # The port accepts at once; the health check passes 4 s later.
    command: ["sh", "-c", "httpd -p 8081 -h /tmp; sleep 4; touch /tmp/ready; exec sleep 86400"]
    ports: ["8081:8081"]
    volumes: ["seed:/seed:ro", "/scratch"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      retries: 30
  sick:
    image: busybox:latest
    command: ["sleep", "86400"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      retries: 2
volumes:
  seed:
EOF
printf 'version: 1\nnodes:\n  node1: []\n  node2: [slow]\n' > "$W/slow.yml"
printf 'version: 1\nnodes:\n  node1: []\n  node2: [sick]\n' > "$W/sick.yml"
t0=$SECONDS
deploy "$W/slow.yml" "$W/health.yml"
took=$((SECONDS - t0))
expect_rc "deploy of slow exits 0" 0 "$rc" "$out"
expect_eq "slow is healthy when the deploy returns" "healthy" "$(inspect node2 slow '{{.State.Health.Status}}')"
expect_eq "the deploy waited for the health check (at least 4 s)" "true" "$([ "$took" -ge 4 ] && echo true || echo "$took s")"
section "a volume mounted :ro is read-only in the container, the other one writable"
expect_eq "Docker mounts /seed read-only, /scratch read-write" "/scratch=true /seed=false " \
  "$(inspect node2 slow '{{range .Mounts}}{{.Destination}}={{.RW}} {{end}}' | tr ' ' '\n' | sort | grep . | tr '\n' ' ')"
check_fails "writing into /seed fails" node node2 docker exec flocker--slow touch /seed/x
check "writing into /scratch works" node node2 docker exec flocker--slow touch /scratch/x

section "a health check that never passes fails the start"
deploy "$W/sick.yml" "$W/health.yml"
expect_rc "a health check that never passes fails the deploy (exit 1)" 1 "$rc" "$out"
expect_contains "… saying so" "its health check reports it unhealthy" "$out"

reset_nodes "${NODES[@]}"
finish
