#!/usr/bin/env bash
# What a new user trips over (issue 16), against a real 2-node sandbox: every --json output is one contract
# (JSON lines for a run, also for invalid manifests; snake_case keys; "schema": 1; lock status --json; a full
# copy's progress carries its expected size); command-line values out of range are refused, usage errors exit 2
# as documented; a node where a step failed still loses the routes of applications that are gone; and, last,
# docs/tutorial.md runs as written and prints what it shows (acceptance/tutorial.py).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

sandbox_up node1 node2
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
reset_nodes node1 node2
EX="$ROOT/examples/redis"

# json_lines FILE: passes when every line of FILE is one JSON object with "schema": 1 (prints the events).
json_lines() {
  python3 - "$1" <<'PY'
import json, sys
events = []
for n, line in enumerate(open(sys.argv[1]).read().split("\n")[:-1], 1):
    o = json.loads(line)
    assert isinstance(o, dict), "line %d is not an object" % n
    assert o.get("schema") == 1, "line %d has no schema 1: %s" % (n, line)
    events.append(o["event"])
print(" ".join(events))
PY
}
# snake_case FILE: passes when no key of the JSON in FILE (one object, or JSON lines) has a capital letter.
snake_case() {
  python3 - "$1" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
try:
    values = [json.loads(text)]
except ValueError:
    values = [json.loads(l) for l in text.split("\n") if l]
bad = set()
def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            if k != k.lower() or " " in k: bad.add(k)
            walk(x)
    elif isinstance(v, list):
        for x in v: walk(x)
for v in values: walk(v)
assert not bad, "keys not in snake_case: %s" % sorted(bad)
PY
}

section "JSON: one contract"
printf 'version: 1\nnodes:\n  node1: [redis]\n  node2: []\n' > "$W/dep.yml"
printf 'version: 1\napplications:\n  redis:\n    image: redis:7\n    ports: nope\n' > "$W/bad.yml"
"$FLOCKER" "$W/dep.yml" "$W/bad.yml" --json > "$W/out" 2> "$W/err"; rc=$?
expect_rc "a deploy of invalid manifests exits 2" 2 "$rc" "$(cat "$W/err")"
expect_eq "its --json output is one line" 1 "$(wc -l < "$W/out")"
check "that line is an error event with schema 1" json_lines "$W/out"
expect_eq "the error carries each error's position" "error bad.yml 5" \
  "$(python3 -c 'import json,sys,os; o=json.load(open(sys.argv[1])); e=o["errors"][0]; print(o["event"], os.path.basename(e["file"]), e["line"])' "$W/out" 2>&1)"
"$FLOCKER" validate "$EX/deployment-node1.yml" "$EX/application.yml" --json > "$W/validate.json"
check "validate --json: keys in snake_case" snake_case "$W/validate.json"
expect_eq "validate --json: schema 1 first" '"schema":1,' "$(sed -n 2p "$W/validate.json" | tr -d ' ')"
"$FLOCKER" lock status "$EX/deployment-node1.yml" --json > "$W/lock.json"; rc=$?
expect_rc "lock status --json exits 0 when nothing is locked" 0 "$rc" "$(cat "$W/lock.json")"
expect_eq "lock status --json: one object, every node not locked" "1 False node1,node2 False,False" \
  "$(python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); print(o["schema"], o["locked"], ",".join(n["node"] for n in o["nodes"]), ",".join(str(n["locked"]) for n in o["nodes"]))' "$W/lock.json" 2>&1)"
check "lock status --json: keys in snake_case" snake_case "$W/lock.json"

"$FLOCKER" "$EX/deployment-node1.yml" "$EX/application.yml" --json > "$W/d1" 2> "$W/e1"; rc=$?
expect_rc "deploy --json of redis on node1" 0 "$rc" "$(cat "$W/d1" "$W/e1")"
check "every line is a JSON object with schema 1" json_lines "$W/d1"
check "deploy --json: keys in snake_case" snake_case "$W/d1"
redis-cli -h "$("$SANDBOX" addr node1)" set k v >/dev/null 2>&1
"$FLOCKER" "$EX/deployment-node2.yml" "$EX/application.yml" --json > "$W/d2" 2> "$W/e2"; rc=$?
expect_rc "deploy --json moving redis to node2" 0 "$rc" "$(cat "$W/d2" "$W/e2")"
check "every line of the move is a JSON object with schema 1" json_lines "$W/d2"
expect_eq "the full copy's progress carries its expected size (not 0)" "yes" \
  "$(python3 -c '
import json, sys
ps = [json.loads(l) for l in open(sys.argv[1]) if "\"progress\"" in l]
full = [p for p in ps if p["step"]["action"] == "pre-copy" and p["round"] == 1]
print("yes" if full and all(p.get("expected_bytes", 0) > 0 for p in full) else "no: %s" % full)' "$W/d2" 2>&1)"

section "no silent surprises with data: a renamed volume"
# redis runs on node2 with its data in redis/default (the move above); this application file calls the volume "data".
cat > "$W/renamed.yml" <<'YAML'
version: 1
applications:
  redis:
    image: redis:7
    ports:
      - {internal: 6379, external: 6379}
    volumes:
      - {name: data, mountpoint: /data}
YAML
before=$(node node2 docker inspect --format '{{.Id}}' flocker--redis 2>/dev/null)
out=$("$FLOCKER" "$EX/deployment-node2.yml" "$W/renamed.yml" 2>&1); rc=$?
expect_rc "a deploy that would leave redis/default's data unused refuses (exit 5)" 5 "$rc" "$out"
expect_contains "it says which data, and how to go on" 'redis: its volume "default"' "$out"
expect_contains "and names --accept-unused" "run again with --accept-unused" "$out"
expect_eq "nothing changed: the same redis container runs" "$before true" \
  "$(node node2 "docker inspect --format '{{.Id}} {{.State.Running}}' flocker--redis" 2>/dev/null)"
out=$("$FLOCKER" "$EX/deployment-node2.yml" "$W/renamed.yml" --dry-run --yes 2>&1); rc=$?
expect_rc "with --yes the plan goes on" 0 "$rc" "$out"
expect_contains "and its plan says the volume is left unused (kept)" "note: volume redis/default on node2 is left unused (kept" "$out"
out=$("$FLOCKER" status "$EX/deployment-node2.yml" "$W/renamed.yml" 2>&1)
expect_contains "status lists the volume as unused, with its size" "redis/default on node2, " "$out"
expect_contains "and how to remove it" "zfs destroy -r flocker/redis.default" "$out"

section "command line"
out=$("$FLOCKER" "$EX/deployment-node1.yml" "$EX/application.yml" --lock-expiry 5 2>&1); rc=$?
expect_rc "--lock-expiry below the minimum is refused (exit 2)" 2 "$rc" "$out"
expect_contains "and the message names the minimum" "the minimum is 30 seconds" "$out"
out=$("$FLOCKER" validate "$EX/deployment-node1.yml" 2>&1); rc=$?
expect_rc "a usage error (a missing argument) exits 2" 2 "$rc" "$out"
expect_not_contains "configuration.md no longer promises 64 for usage errors" "64 for a usage error" "$(cat "$ROOT/docs/configuration.md")"

section "a failed step on a node does not keep the routes of applications that are gone"
reset_nodes node1 node2
cat > "$W/web.yml" <<'YAML'
version: 1
applications:
  old:
    image: busybox:latest
    command: ["sh", "-c", "echo old > /tmp/index.html && exec httpd -f -p 8080 -h /tmp"]
    ports:
      - {internal: 8080, external: 9000}
  crash:
    image: busybox:latest
    command: ["sh", "-c", "echo crashing; exit 1"]
    ports:
      - {internal: 8080, external: 9001}
YAML
printf 'version: 1\nnodes:\n  node1: []\n  node2: [old]\n' > "$W/dep-old.yml"
printf 'version: 1\nnodes:\n  node1: [crash]\n  node2: []\n' > "$W/dep-crash.yml"
out=$("$FLOCKER" "$W/dep-old.yml" "$W/web.yml" 2>&1); rc=$?
expect_rc "old runs on node2, node1 forwards 9000 to it" 0 "$rc" "$out"
expect_eq "node1 has old's DNAT" 1 "$(node node1 iptables-save -t nat | grep -c 'flocker-deploy:dnat:old:9000')"
out=$("$FLOCKER" "$W/dep-crash.yml" "$W/web.yml" --ready-timeout 5 2>&1); rc=$?
expect_rc "a deploy whose new application crashes on node1 fails" 1 "$rc" "$out"
expect_eq "node1 no longer forwards 9000 to the removed old" 0 "$(node node1 iptables-save -t nat | grep -c 'flocker-deploy:dnat:old:')"
# old's route steps are old's own pipeline's: crash failing on node1 does not hold them up.
expect_contains "old's route step on node1 ran (its own, not held up by crash's failure)" "node1  routes: remove 9000 → " "$out"
expect_eq "no route for crash, which did not start" 0 "$(node node2 iptables-save -t nat | grep -c 'flocker-deploy:dnat:crash:')"
reset_nodes node1 node2

section "docs/tutorial.md runs as written"
# As a new user's sandbox: nothing deployed, and no image pulled yet (the plan then pulls it).
reset_nodes node1 node2
for n in node1 node2; do node "$n" docker rmi -f redis:7 >/dev/null 2>&1; done
mkdir -p "$W/tutorial"
alias_bin=$(dirname "$FLOCKER")
while IFS= read -r line; do
  case "$line" in
    PASS\ *) pass "${line#PASS }" ;;
    FAIL\ *) rest=${line#FAIL }; fail "${rest%%$'\t'*}" "${rest#*$'\t'}" ;;
    *) printf '        %s\n' "$line" ;;
  esac
done < <(PATH="$alias_bin:$PATH" python3 "$ROOT/acceptance/tutorial.py" "$ROOT/docs/tutorial.md" "$W/tutorial" 2>&1)
finish
