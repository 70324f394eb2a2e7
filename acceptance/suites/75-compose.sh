#!/usr/bin/env bash
# Real-world Compose files (issue 15) against a real 2-node sandbox: the example stack (examples/compose-stack)
# validates with its warnings shown, deploys with depends_on ordering the starts on node1 and each service
# ready only once its health check passes, with every Compose key turned into its docker run flag (labels,
# hostname, cap_drop, stop signal and grace period, logging, health check), dotted environment names, the .env
# default and a normalised mountpoint; a second deploy changes nothing; a changed variable replaces only the
# service it reaches. Then: a port that accepts before the health check passes (readiness waits for healthy),
# with a managed volume mounted :ro beside a writable one, and a health check that never passes (the deploy
# fails, naming it unhealthy). Last, config files and secrets (examples/compose-files): uploaded to the node,
# mounted read-only, changed → uploaded again and the container replaced, unchanged → nothing sent, moved and
# removed with the app, the secret in no output and no audit log; and the files that are refused.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

NODES=(node1 node2)
sandbox_up "${NODES[@]}"
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

section "config files and secrets: uploaded to the node that runs the service, mounted read-only"
F="$W/files"
cp -r "$ROOT/examples/compose-files" "$F"
SECRET1="acceptance-secret-$RANDOM-one"
SECRET2="acceptance-secret-$RANDOM-two"
printf '%s\n' "$SECRET1" > "$F/secrets/api_key.txt"
FD="$F/deployment.yml"; FA="$F/docker-compose.yml"
everything=""   # every output of the section, searched for the secret at the end
run() { out=$("$FLOCKER" "$@" 2>&1); rc=$?; everything+="$out"$'\n'; }
files_on() { node "$1" 'ls -A /var/lib/flocker-deploy/files/web 2>/dev/null | tr "\n" " "' | sed 's/ $//'; }
unset RELEASE
t0=$SECONDS
run validate "$FD" "$FA"
expect_rc "validate exits 0" 0 "$rc" "$out"
expect_contains "validate lists the secret by name, mode 0400" "secret api_key -> /run/secrets/api_key (" "$out"
run validate --json "$FD" "$FA"
expect_contains "validate --json lists the files" '"kind":"secret"' "$(tr -d ' \n' <<<"$out")"
run "$FD" "$FA" --dry-run --json
expect_contains "the plan uploads the files ahead of the start" '"action":"upload-files"' "$(tr -d ' \n' <<<"$out")"
run "$FD" "$FA" -v
expect_rc "deploy (-v) exits 0" 0 "$rc" "$out"
expect_contains "the upload sent the files" "sent 2 files, 1 config, 1 secret" "$out"
expect_eq "the configuration file steers httpd (its home is /www), through both nodes" \
  "hello from an uploaded folder|a page below it" \
  "$(curl -s --max-time 5 "http://$N1:8080/")|$(curl -s --max-time 5 "http://$N2:8080/docs/page.txt")"
expect_eq "the secret is readable in the container" "$SECRET1" "$(node node1 docker exec flocker--web cat /run/secrets/api_key)"
expect_eq "the config is at its target" "served by flocker-deploy" "$(node node1 docker exec flocker--web cat /etc/banner)"
set1=$(files_on node1)
expect_eq "the secret is mode 0400 on the node, the folder 0555, the files' folder root-only" "400 555 700" \
  "$(node node1 "cd /var/lib/flocker-deploy/files/web/$set1 && stat -c %a 3 1 . | tr '\n' ' '" | sed 's/ $//')"
expect_eq "every upload is mounted read-only" "/etc/banner=false /etc/httpd.conf=false /run/secrets/api_key=false /www=false " \
  "$(inspect node1 web '{{range .Mounts}}{{.Destination}}={{.RW}} {{end}}' | tr ' ' '\n' | sort | grep . | tr '\n' ' ')"
check_fails "writing into the uploaded folder fails" node node1 docker exec flocker--web touch /www/x
run "$FD" "$FA"
expect_contains "unchanged: a second deploy changes nothing" "No changes" "$out"
web_id=$(inspect node1 web '{{.Id}}')
out=$(RELEASE=2 "$FLOCKER" "$FD" "$FA" 2>&1); rc=$?; everything+="$out"$'\n'
expect_rc "a changed variable, files unchanged: deploy exits 0" 0 "$rc" "$out"
expect_contains "… the files are not sent again" "already there: nothing sent" "$out"
web_id=$(inspect node1 web '{{.Id}}')
echo "hello, changed" > "$F/site/www/index.html"
printf '%s\n' "$SECRET2" > "$F/secrets/api_key.txt"
out=$(RELEASE=2 "$FLOCKER" "$FD" "$FA" 2>&1); rc=$?; everything+="$out"$'\n'
expect_rc "changed files: deploy exits 0" 0 "$rc" "$out"
expect_contains "… uploaded again" "sent 2 files, 1 config, 1 secret" "$out"
check_fails "… and the container replaced" test "$web_id" = "$(inspect node1 web '{{.Id}}')"
expect_eq "the changed page is served" "hello, changed" "$(curl -s --max-time 5 "http://$N1:8080/")"
expect_eq "the changed secret is in the container" "$SECRET2" "$(node node1 docker exec flocker--web cat /run/secrets/api_key)"
set2=$(files_on node1)
expect_eq "only the new set of files is left on the node" "1" "$(wc -w <<<"$set2" | tr -d ' ')"
check_fails "… a different one" test "$set1" = "$set2"
printf 'version: 1\nnodes:\n  node1: []\n  node2: [web]\n' > "$F/node2.yml"
out=$(RELEASE=2 "$FLOCKER" "$F/node2.yml" "$FA" 2>&1); rc=$?; everything+="$out"$'\n'
expect_rc "move web to node2: deploy exits 0" 0 "$rc" "$out"
expect_eq "the secret moved with it" "$SECRET2" "$(node node2 docker exec flocker--web cat /run/secrets/api_key)"
expect_eq "node1's files of web are gone" "gone" "$(node node1 'test -e /var/lib/flocker-deploy/files/web || echo gone')"
printf 'version: 1\nnodes:\n  node1: []\n  node2: []\n' > "$F/none.yml"
run "$F/none.yml" "$FA"
expect_rc "web placed on no node: deploy exits 0" 0 "$rc" "$out"
expect_eq "its files are removed with it" "gone" "$(node node2 'test -e /var/lib/flocker-deploy/files/web || echo gone')"
audit=$(node node1 cat /var/lib/flocker-deploy/audit.log; node node2 cat /var/lib/flocker-deploy/audit.log)
expect_contains "the outputs and audit logs were captured" "secret api_key|upload web's" "$(grep -o "secret api_key" <<<"$everything" | head -1)|$(grep -o "upload web's" <<<"$audit" | head -1)"
expect_not_contains "no output (validate, --json, --dry-run, -v, deploy) shows the secret" "acceptance-secret-" "$everything"
expect_not_contains "… nor the nodes' audit logs" "acceptance-secret-" "$audit"

section "files that cannot be uploaded: positioned errors, nothing changed"
printf 'x' > "$W/outside.txt"
head -c $((1024 * 1024 + 1)) /dev/zero > "$F/big.bin"
printf '%s\n' 'services:' '  bad:' '    image: busybox:latest' '    volumes:' \
  '      - ./missing.conf:/etc/missing.conf:ro' '      - ../outside.txt:/etc/outside.txt:ro' \
  '      - /srv/www:/www' '      - ./big.bin:/big.bin:ro' '    secrets: [nope]' > "$F/bad.yml"
printf 'version: 1\nnodes:\n  node1: [bad]\n  node2: []\n' > "$F/bad-dep.yml"
run "$F/bad-dep.yml" "$F/bad.yml"
expect_rc "a deploy with bad files exits 2" 2 "$rc" "$out"
expect_contains "a missing file" "bad.yml:5:9: error: services.bad.volumes[0]: \"./missing.conf\" does not exist beside the Compose file" "$out"
expect_contains "a path outside the Compose file's folder" "bad.yml:6:9: error: services.bad.volumes[1]: \"../outside.txt\" is outside the Compose file's folder" "$out"
expect_contains "a host path" "bad.yml:7:9: error: services.bad.volumes[2]: a host directory cannot be mounted" "$out"
expect_contains "a file over 1 MiB" "bad.yml:8:9: error: services.bad.volumes[3]: \"./big.bin\" holds 1048577 bytes: a file uploaded to the nodes may hold at most 1 MiB" "$out"
expect_contains "an undeclared secret" "bad.yml:9:15: error: services.bad.secrets[0]: unknown secret \"nope\"" "$out"
expect_eq "nothing was started" "" "$(node node1 docker ps -aq --filter label=flocker.app=bad)"
echo "  (config files and secrets: $((SECONDS - t0)) s)"

reset_nodes "${NODES[@]}"
finish
