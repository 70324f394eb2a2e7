#!/usr/bin/env bash
# Hostile input (issue 7). Shell metacharacters, quotes, globs, `~`, leading `-`, line breaks, NUL, non-UTF-8,
# very long values, deep nesting, alias bombs and a 10 MB manifest, in every string field of both formats and of
# the deployment file. Each input is either refused with a positioned `FILE:LINE:COL: error:` (exit 2) before any
# node is contacted, or, where it is valid, carried literally into the container (checked with docker inspect)
# and never executed: no marker file /tmp/flocker-pwned-* appears on a node, in a container or on this machine.
# Never a crash: no exit status of 128 or more, no "Fatal error". Prints validate's peak memory on 10 MB.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
VALUES="$ROOT/acceptance/fixtures/hostile-values.json"   # hostile strings, used as values and command words

section "sandbox with 2 nodes"
"$SANDBOX" up --nodes 2 >/dev/null || { fail "sandbox up"; finish; }
export FLOCKER_SSH_CONFIG="$SSH_CONFIG"
N1=$("$SANDBOX" addr node1)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
SUITE_START=$SECONDS

reset_nodes node1 node2
rm -f /tmp/flocker-pwned-*
node node1 'rm -f /tmp/flocker-pwned-*'; node node2 'rm -f /tmp/flocker-pwned-*'

# Nodes that do not exist: two addresses of this sandbox's subnet where no node is (nothing leaves the sandbox's
# bridge). A run that contacted them would fail with exit 3 and print trace lines with -v; a refused manifest
# must exit 2 with neither.
PREFIX=${N1%.*}
cat > "$W/ghost_config" <<EOF
Host ghost1
  HostName $PREFIX.250
  User root
  ConnectTimeout 2
  IdentityFile $FLOCKER_SANDBOX_DIR/id_ed25519
  UserKnownHostsFile $FLOCKER_SANDBOX_DIR/known_hosts
  StrictHostKeyChecking yes
Host ghost2
  HostName $PREFIX.251
  User root
  ConnectTimeout 2
  IdentityFile $FLOCKER_SANDBOX_DIR/id_ed25519
  UserKnownHostsFile $FLOCKER_SANDBOX_DIR/known_hosts
  StrictHostKeyChecking yes
EOF
printf 'version: 1\nnodes:\n  ghost1: [web]\n  ghost2: []\n' > "$W/ghost.yml"
printf 'version: 1\nnodes:\n  ghost1: [web]\n  ghost2: []\n' > "$W/ghost-web.yml"

# no_crash LABEL RC OUTPUT: the binary did not crash.
no_crash() {
  if [ "$2" -ge 128 ] && [ "$2" != 130 ]; then fail "$1: no crash" "exit status $2" "$(printf '%s' "$3" | tail -n 5)"
  elif grep -q 'Fatal error' <<<"$3"; then fail "$1: no crash" "$(printf '%s' "$3" | grep 'Fatal error' | head -n 3)"
  else pass "$1: no crash"; fi
}

# refused LABEL DEPLOYMENT APPLICATION [NEEDLE]: validate and deploy (-v, against the ghost nodes) both exit 2 with
# a positioned error (containing NEEDLE), contact nothing (no trace line) and do not crash.
refused() {
  local label=$1 dep=$2 app=$3 needle=${4:-} why="" v rc_v d rc_d
  v=$("$FLOCKER" validate "$dep" "$app" 2>&1); rc_v=$?
  d=$(FLOCKER_SSH_CONFIG="$W/ghost_config" "$FLOCKER" "$dep" "$app" -v --connect-timeout 2 2>&1); rc_d=$?
  [ "$rc_v" = 2 ] || why="$why validate exited $rc_v;"
  [ "$rc_d" = 2 ] || why="$why deploy exited $rc_d;"
  grep -Eq '^[^ ]+\.yml:[0-9]+:[0-9]+: error: ' <<<"$v" || why="$why validate printed no FILE:LINE:COL: error:;"
  grep -Eq '^[^ ]+\.yml:[0-9]+:[0-9]+: error: ' <<<"$d" || why="$why deploy printed no FILE:LINE:COL: error:;"
  grep -q '^trace ' <<<"$d" && why="$why deploy contacted a node (trace lines);"
  [ -z "$needle" ] || case $v in *"$needle"*) ;; *) why="$why the error does not say: $needle;" ;; esac
  if [ "$rc_v" -ge 128 ] || [ "$rc_d" -ge 128 ] || grep -q 'Fatal error' <<<"$v"$'\n'"$d"; then why="$why CRASH;"; fi
  local at
  at=$(printf '%s\n' "$v" | grep -F -- "${needle:-error:}" | grep -Eo '[^/]+\.yml:[0-9]+:[0-9]+' | head -n 1)
  if [ -z "$why" ]; then pass "$label: refused at $at (exit 2, nothing contacted)"
  else fail "$label: refused with a positioned error, exit 2, nothing contacted" "$why" "$(printf '%s' "$v" | head -n 4 | cut -c1-300)"; fi
}

# same_json LABEL EXPECTED ACTUAL: two JSON arrays are equal; on failure shows the first differing element.
same_json() {
  if [ "$(jq -n --argjson a "$2" --argjson b "$3" '$a == $b' 2>/dev/null)" = true ]; then pass "$1"
  else fail "$1" "$(jq -rn --argjson a "$2" --argjson b "${3:-null}" 'if ($b | type) != "array" then "actual: \($b)" else [range(0; [$a, $b] | map(length) | max) | select($a[.] != $b[.]) | "[\(.)] expected \($a[.] | tojson), found \($b[.] | tojson)"] | first end' 2>&1 | cut -c1-300)"; fi
}

# inspect NODE CONTAINER TEMPLATE: docker inspect on a node (the template quoted for the node's shell).
inspect() { node "$1" "docker inspect --format $(printf '%q' "$3") $2" 2>/dev/null; }

# app NAME CONTENT: writes $W/NAME.yml (printf %b: \n, \t, \xHH and \0NNN are interpreted).
app() { printf '%b' "$2" > "$W/$1.yml"; }
V1='version: 1\napplications:\n  web:\n    image: busybox:latest\n'
CO='services:\n  web:\n    image: busybox:latest\n'

section "the ghost nodes would be noticed"
app valid "$V1"
out=$(FLOCKER_SSH_CONFIG="$W/ghost_config" "$FLOCKER" "$W/ghost.yml" "$W/valid.yml" -v --connect-timeout 2 2>&1); rc=$?
expect_eq "a valid manifest against the ghost nodes: exit 3 (contacted, unreachable)" 3 "$rc"
expect_contains "… and -v shows the attempt" "ghost1" "$out"

section "refused: names, images, keys and typed values with shell metacharacters (Flocker v1)"
app v1-name 'version: 1\napplications:\n  "web$(touch /tmp/flocker-pwned-name)":\n    image: busybox\n'
refused "application name with \$(…)" "$W/ghost.yml" "$W/v1-name.yml" 'application name "web$(touch /tmp/flocker-pwned-name)" is not allowed'
app v1-name2 'version: 1\napplications:\n  "-web":\n    image: busybox\n  "w;x": {image: busybox}\n  "w|x": {image: busybox}\n  "w&&x": {image: busybox}\n  "w`id`": {image: busybox}\n  "*": {image: busybox}\n  "~": {image: busybox}\n  "w x": {image: busybox}\n  "w\\nx": {image: busybox}\n'
refused "application names with - ; | && backticks * ~ space newline" "$W/ghost.yml" "$W/v1-name2.yml" 'application name "-web" is not allowed'
for img in 'busybox; touch /tmp/flocker-pwned-image' '$(touch /tmp/flocker-pwned-image)' '`id`' '-v' '--privileged' 'busybox && id' 'busybox|id' '*' '~/x' "busy'box" 'busybox:latest\\nid'; do
  app v1-image "${V1%image: busybox:latest\\n}image: \"$img\"\n"
  refused "image \"$img\"" "$W/ghost.yml" "$W/v1-image.yml" 'invalid image reference'
done
app v1-envkey "${V1}    environment:\n      \"A\$(touch /tmp/flocker-pwned-key)\": v\n      \"-A\": v\n      \"A;B\": v\n      \"A B\": v\n      \"A=B\": v\n"
refused "environment names with \$(…) - ; space =" "$W/ghost.yml" "$W/v1-envkey.yml" 'environment variable name "A$(touch /tmp/flocker-pwned-key)" is not allowed'
app v1-envnl "${V1}    environment:\n      A: \"one\\\\ntwo \$(touch /tmp/flocker-pwned-nl)\"\n"
refused "environment value with a line break" "$W/ghost.yml" "$W/v1-envnl.yml" 'the value contains a line break'
app v1-envcr "${V1}    environment:\n      A: \"one\\\\rtwo\"\n"
refused "environment value with a carriage return" "$W/ghost.yml" "$W/v1-envcr.yml" 'the value contains a line break'
app v1-envnul "${V1}    environment:\n      A: \"a\\\\0b\"\n"
refused "environment value with an escaped NUL" "$W/ghost.yml" "$W/v1-envnul.yml" 'NUL'
app v1-cmdnul "${V1}    command: [\"sh\", \"a\\\\0b\"]\n"
refused "command word with an escaped NUL" "$W/ghost.yml" "$W/v1-cmdnul.yml" 'a command word cannot contain a NUL character'
for mp in 'data;x' '-x' '~/x' '/a:/b' '/a,b' '/data/../etc' '/' '/a\\nb' '/a\\tb' '$(touch /tmp/flocker-pwned-mp)'; do
  app v1-mount "${V1}    volume:\n      mountpoint: \"$mp\"\n"
  refused "mountpoint \"$mp\"" "$W/ghost.yml" "$W/v1-mount.yml" 'mountpoint'
done
app v1-volname "${V1}    volumes:\n      - {name: \"v\$(touch /tmp/flocker-pwned-vol)\", mountpoint: /a}\n      - {name: \"-v\", mountpoint: /b}\n      - {name: \"v;w\", mountpoint: /c}\n"
refused "volume names with \$(…) - ;" "$W/ghost.yml" "$W/v1-volname.yml" 'volume name "v$(touch /tmp/flocker-pwned-vol)" is not allowed'
app v1-alias "${V1}    ports: [{internal: 80, external: 8080}]\n    links:\n      - {local_port: 1, remote_port: 8080, alias: \"db;touch /tmp/flocker-pwned-alias\"}\n      - {local_port: 2, remote_port: 8080, alias: \"-db\"}\n      - {local_port: 3, remote_port: 8080, alias: \"\$(x)\"}\n"
refused "link aliases with ; - \$(…)" "$W/ghost.yml" "$W/v1-alias.yml" 'link alias "db;touch /tmp/flocker-pwned-alias" is not allowed'
app v1-ports "${V1}    ports:\n      - {internal: \"80; rm -rf /\", external: \"\$(touch /tmp/flocker-pwned-port)\"}\n      - {internal: \"80\", external: '8080'}\n    links:\n      - {local_port: \"\`id\`\", remote_port: \"-1\", alias: db}\n"
refused "ports and link ports given as strings" "$W/ghost.yml" "$W/v1-ports.yml" 'expected an integer from 1 to 65535, found the string "80; rm -rf /"'
app v1-sizes "${V1}    volume: {mountpoint: /d, maximum_size: \"1G; rm -rf /\"}\n    mem_limit: \"\$(touch /tmp/flocker-pwned-mem)\"\n    cpu_shares: \"512 && id\"\n    restart_policy: {name: \"always; reboot\", maximum_retry_count: \"\`id\`\"}\n"
refused "sizes, limits and restart policy with metacharacters" "$W/ghost.yml" "$W/v1-sizes.yml" 'found the string "1G; rm -rf /"'
app v1-version "version: \"1; touch /tmp/flocker-pwned-version\"\napplications:\n  web: {image: busybox}\n"
refused "version as a string with ;" "$W/ghost.yml" "$W/v1-version.yml" 'unsupported version'
app v1-cmdquote "${V1}    command: \"sh -c 'unclosed \$(touch /tmp/flocker-pwned-quote)\"\n"
refused "command string with an unclosed quote" "$W/ghost.yml" "$W/v1-cmdquote.yml" 'unclosed'

section "refused: the same in Compose files"
app c-name "services:\n  \"web\$(touch /tmp/flocker-pwned-cname)\":\n    image: busybox\n  \"-svc\": {image: busybox}\n"
refused "service names with \$(…) and -" "$W/ghost.yml" "$W/c-name.yml" 'service name "web$(touch /tmp/flocker-pwned-cname)" is not allowed'
app c-image "services:\n  web:\n    image: \"busybox;touch /tmp/flocker-pwned-cimage\"\n"
refused "image with ;" "$W/ghost.yml" "$W/c-image.yml" 'invalid image reference'
app c-ports "${CO}    ports: [\"8080:80; rm -rf /\", \"\$(touch /tmp/flocker-pwned-cport):80\", \"-1:80\", {target: \"80;x\", published: \"\`id\`\"}]\n"
refused "ports, short and long form" "$W/ghost.yml" "$W/c-ports.yml" 'services.web.ports[0]'
app c-volumes "${CO}    volumes: [\"v\$(touch /tmp/flocker-pwned-cvol):/data\", \"/a:/b;c\", \"~/x:/y\", {type: volume, source: \"-v\", target: /z}]\n"
refused "volumes with \$(…), host paths, ~ and -" "$W/ghost.yml" "$W/c-volumes.yml" 'volume name "v$(touch /tmp/flocker-pwned-cvol)" is not allowed'
app c-topvol "${CO}    volumes: [\"data:/d\"]\nvolumes:\n  \"data;touch /tmp/flocker-pwned-topvol\":\n"
refused "top-level volume name with ;" "$W/ghost.yml" "$W/c-topvol.yml" 'volume name "data;touch /tmp/flocker-pwned-topvol" is not allowed'
app c-links "services:\n  db:\n    image: redis:7\n    ports: [\"6379:6379\"]\n  web:\n    image: busybox\n    links: [\"db:al\$(touch /tmp/flocker-pwned-clink)\", \"db;x\", \"-db\"]\n"
refused "links with \$(…) ; -" "$W/ghost.yml" "$W/c-links.yml" 'link alias "al$(touch /tmp/flocker-pwned-clink)" is not allowed'
app c-env "${CO}    environment:\n      - \"A\$(touch /tmp/flocker-pwned-cenv)=1\"\n      - \"B;=2\"\n      - \"-C=3\"\n      - \"D=two\\\\nlines\"\n"
refused "environment list: names with \$(…) ; -, a value with a line break" "$W/ghost.yml" "$W/c-env.yml" 'environment variable name "A$(touch /tmp/flocker-pwned-cenv)" is not allowed'
app c-misc "${CO}    environment: {\"A\$(touch /tmp/flocker-pwned-cenvmap)\": 1}\n    restart: \"always; touch /tmp/flocker-pwned-crestart\"\n    mem_limit: \"1g && id\"\n    cpu_shares: \"\$(id)\"\n    command: \"sh -c 'unclosed\"\n"
refused "environment mapping name, restart, mem_limit, cpu_shares, an unclosed command quote" "$W/ghost.yml" "$W/c-misc.yml" 'found the string "always; touch /tmp/flocker-pwned-crestart"'

section "refused: the deployment file"
app ok "$V1"
printf 'version: 1\nnodes:\n  "ghost1;touch /tmp/flocker-pwned-node": [web]\n  "$(touch /tmp/flocker-pwned-node2)": []\n  "-oProxyCommand=touch /tmp/flocker-pwned-proxy": []\n  "root@ghost1": []\n  "ghost1:22": []\n  "`id`": []\n  "*": []\n  "~": []\n  "a b": []\n' > "$W/dep-nodes.yml"
refused "node names with ; \$(…) -o user@ :port backticks * ~ space" "$W/dep-nodes.yml" "$W/ok.yml" 'node name "ghost1;touch /tmp/flocker-pwned-node" is not allowed'
printf 'version: 1\nnodes:\n  ghost1: ["web; touch /tmp/flocker-pwned-list", "$(id)"]\n' > "$W/dep-apps.yml"
refused "application names in a node's list" "$W/dep-apps.yml" "$W/ok.yml" 'unknown application "web; touch /tmp/flocker-pwned-list"'
printf 'version: "1 && id"\nnodes:\n  ghost1: [web]\n' > "$W/dep-version.yml"
refused "deployment version with &&" "$W/dep-version.yml" "$W/ok.yml" 'version'

section "refused: YAML-level attacks"
python3 -c "print('version: 1\napplications: ' + '[' * 10000 + ']' * 10000)" > "$W/deep.yml"
refused "10,000 nested [" "$W/ghost.yml" "$W/deep.yml" 'nesting deeper than'
python3 -c "print('version: 1\napplications:\n  web:\n    image: busybox\n    environment: ' + '{a: ' * 10000 + '1' + '}' * 10000)" > "$W/deep-map.yml"
refused "10,000 nested {" "$W/ghost.yml" "$W/deep-map.yml" 'nesting deeper than'
{ echo 'version: 1'; echo 'x-a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'
  p=a; for q in b c d e f g h i; do printf 'x-%s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n' $q $q $p $p $p $p $p $p $p $p $p; p=$q; done
  printf 'applications:\n  web:\n    image: busybox\n    command: *i\n'; } > "$W/bomb.yml"
refused "billion laughs (9 levels of 9 aliases)" "$W/ghost.yml" "$W/bomb.yml" 'alias bomb'
{ printf 'services:\n  web:\n    image: busybox\n    x-a: &a [x, x, x, x, x, x, x, x, x, x]\n'
  p=a; for q in b c d e f g h; do printf '    x-%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n' $q $q $p $p $p $p $p $p $p $p $p $p; p=$q; done
  printf '    environment: *h\n'; } > "$W/bomb-compose.yml"
refused "alias bomb in a Compose file" "$W/ghost.yml" "$W/bomb-compose.yml" 'alias bomb'
app nonutf8 "${V1}    environment:\n      A: \"caf\xe9 \xff\xfe\"\n"
refused "non-UTF-8 bytes in a value" "$W/ghost.yml" "$W/nonutf8.yml" 'invalid UTF-8'
app nonutf8-key "version: 1\napplications:\n  w\xc3\x28b:\n    image: busybox\n"
refused "non-UTF-8 bytes in a key" "$W/ghost.yml" "$W/nonutf8-key.yml" 'invalid UTF-8'
app nul "${V1}    environment:\n      A: \"a\0b\"\n"
refused "a raw NUL byte in a value" "$W/ghost.yml" "$W/nul.yml" 'NUL byte is not allowed'
app nul-only '\0\0\0\0'
refused "a file of NUL bytes" "$W/ghost.yml" "$W/nul-only.yml" 'NUL byte is not allowed'
app utf16 '\xff\xfev\x00e\x00r\x00'
refused "a UTF-16 file" "$W/ghost.yml" "$W/utf16.yml"
app tag "${V1%image: busybox:latest\\n}image: !!python/object/apply:os.system [\"touch /tmp/flocker-pwned-tag\"]\n"
refused "a !!python/object tag" "$W/ghost.yml" "$W/tag.yml" 'is not supported'
python3 -c "print('version: 1\napplications:\n  ' + 'a' * 100000 + ':\n    image: busybox')" > "$W/longkey.yml"
refused "a 100 KB key" "$W/ghost.yml" "$W/longkey.yml"
printf 'version: 1\nnodes:\n  ghost1: [web]\n\xc0\xaf\n' > "$W/dep-nonutf8.yml"
refused "non-UTF-8 (overlong /) in the deployment file" "$W/dep-nonutf8.yml" "$W/ok.yml" 'invalid UTF-8'

section "refused: values too long for the node"
big=$(head -c 76800 /dev/urandom | base64 -w0)   # 102,400 bytes
app env100k "${V1}    environment:\n      BIG: \"$big\"\n"
refused "a 100 KB environment value" "$W/ghost.yml" "$W/env100k.yml" 'the value is too long'
app cenv100k "${CO}    environment:\n      - \"BIG=$big\"\n"
refused "a 100 KB environment value (Compose list)" "$W/ghost.yml" "$W/cenv100k.yml" 'the value is too long'
long=$(for i in $(seq 1 1000); do printf '"word-%d-$(touch /tmp/flocker-pwned-long)-%s", ' "$i" "$(printf '%040d' "$i")"; done)
app cmd1000long "${V1}    command: [${long%, }]\n"
refused "a 1,000-word command of 70-byte words (80 KB once quoted)" "$W/ghost.yml" "$W/cmd1000long.yml" 'one SSH request carries'

# deploy_values TITLE DEPLOYMENT APPLICATION NODE APP PREFIX CHECK: deploys (exit 0, no crash), then checks that
# every value of $VALUES is in APP's container environment as PREFIX<index>=value, byte for byte.
deploy_values() {
  local title=$1 dep=$2 app_file=$3 n=$4 app=$5 prefix=$6 what=$7 env_json missing
  out=$("$FLOCKER" "$dep" "$app_file" 2>&1); rc=$?
  expect_eq "$title exits 0" 0 "$rc"
  [ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 15 | sed 's/^/        | /'
  no_crash "$title" "$rc" "$out"
  env_json=$(inspect "$n" "flocker--$app" '{{json .Config.Env}}')
  missing=$(jq -n --argjson env "${env_json:-[]}" --slurpfile v "$VALUES" --arg p "$prefix" '[$v[0] | to_entries[] | "\($p)\(.key)=\(.value)"] - $env')
  expect_eq "$what" "[]" "$(printf '%s' "$missing" | jq -c . | cut -c1-300)"
}

section "carried literally: every valid hostile value reaches the container as written (Flocker v1)"
SCRIPT="trap 'exit 0' TERM; sleep 100000 & wait"
WEIRD_MOUNT="/data/\$(touch /tmp/flocker-pwned-mount) \`touch /tmp/flocker-pwned-mount2\`; a|b&&c'\"*~ -x"
fits=$(head -c 45000 /dev/urandom | base64 -w0)   # 60,000 bytes: fits Docker's env-file line
{
  echo 'version: 1'
  echo 'x-note: "$(touch /tmp/flocker-pwned-xnote) extension fields are ignored"'
  echo 'applications:'
  echo '  hv1:'
  echo '    image: busybox:latest'
  jq -r --arg s "$SCRIPT" '"    command: " + (["sh", "-c", $s] + . + ["multi\nline $(touch /tmp/flocker-pwned-multiline)"] | tojson)' "$VALUES"
  echo '    environment:'
  jq -r 'to_entries[] | "      H\(.key): \(.value | tojson)"' "$VALUES"
  echo "      FITS: \"$fits\""
  echo "    volume: {mountpoint: $(jq -rn --arg m "$WEIRD_MOUNT" '$m | tojson')}"
  echo '    x-hostile: "`touch /tmp/flocker-pwned-xapp`"'
  echo '  hw:'
  echo '    image: busybox:latest'
  jq -rn --arg s "$SCRIPT" '"    command: " + (["sh", "-c", $s] + [range(1; 1001) | "w\(.);$(x)|*"] | tojson)'
} > "$W/hv1.yml"
printf 'version: 1\nnodes:\n  node1: [hv1, hw]\n' > "$W/dep-node1.yml"
out=$("$FLOCKER" validate "$W/dep-node1.yml" "$W/hv1.yml" 2>&1); rc=$?
expect_eq "validate accepts the hostile values" 0 "$rc"
deploy_values "deploy of hostile values" "$W/dep-node1.yml" "$W/hv1.yml" node1 hv1 H \
  "every hostile environment value is in the container, byte for byte ($(jq length "$VALUES") values)"
in_container=$(node node1 "docker exec flocker--hv1 sh -c 'printf %s \"\$H0|\$H7|\$H25|\$H26\"'")
expect_eq "… as the container's processes see them" "$(jq -r '"\(.[0])|\(.[7])|\(.[25])|\(.[26])"' "$VALUES")" "$in_container"
expect_eq "a 60,000-byte value arrives whole" "${#fits}" "$(node node1 'docker exec flocker--hv1 sh -c "printf %s \"\$FITS\" | wc -c"' | tr -d ' ')"
cmd_json=$(inspect node1 flocker--hv1 '{{json .Config.Cmd}}')
expected_cmd=$(jq -c --arg s "$SCRIPT" '["sh", "-c", $s] + . + ["multi\nline $(touch /tmp/flocker-pwned-multiline)"]' "$VALUES")
same_json "every command word is an argument of its own, as written (one with a line break)" "$expected_cmd" "${cmd_json:-null}"
expect_eq "the mountpoint is the container path, as written" "$WEIRD_MOUNT" "$(inspect node1 flocker--hv1 '{{range .Mounts}}{{.Destination}}{{end}}')"
w_json=$(inspect node1 flocker--hw '{{json .Config.Cmd}}')
same_json "a 1,000-word command arrives word for word" "$(jq -cn --arg s "$SCRIPT" '["sh", "-c", $s] + [range(1; 1001) | "w\(.);$(x)|*"]')" "${w_json:-null}"
expect_not_contains "environment values are not on the container's command line" "H0=" "$(inspect node1 flocker--hv1 '{{json .Args}}')"
check_fails "no environment file is left on the node" node node1 'ls /var/lib/flocker-deploy/env/*.env'
out=$("$FLOCKER" "$W/dep-node1.yml" "$W/hv1.yml" 2>&1)
expect_contains "a re-run finds nothing to change (the hash sees the same values)" "No changes" "$out"

# A trailing slash is accepted, as Flocker 0.4's own example wrote it, and normalised.
app v1-mount "${V1}    volume:\n      mountpoint: \"/data/\"\n"
out=$("$FLOCKER" validate "$W/ghost.yml" "$W/v1-mount.yml" 2>&1); rc=$?
expect_rc "mountpoint \"/data/\" (Flocker 0.4's way): accepted" 0 "$rc" "$out"

section "carried literally: Compose (list environment, command string, named volume)"
# Compose interpolates $NAME and ${NAME} from the environment, and $$ is a literal $ (as in Compose itself):
# every $ of a value meant literally is written $$, and must arrive as one $, never expanded on a node.
{
  echo 'x-top: "$(touch /tmp/flocker-pwned-ctop)"'
  echo 'name: "$(touch /tmp/flocker-pwned-cname) accepted and ignored"'
  echo 'version: "`touch /tmp/flocker-pwned-cversion`"'
  echo 'services:'
  echo '  hc:'
  echo '    image: busybox:latest'
  # A command string is split as POSIX shlex would, without any expansion.
  echo '    command: |-'
  echo "      sh -c 'trap \"exit 0\" TERM; sleep 100000 & wait' '\$\$(touch /tmp/flocker-pwned-c1)' \"\`touch /tmp/flocker-pwned-c2\`\" \\; \\| '&&' '*' '~' -x \"it's\" 'say \"hi\"' \\\$\$HOME"
  echo '    environment:'
  jq -r 'to_entries[] | "      - \("C\(.key)=\(.value | gsub("\\$"; "$$"))" | tojson)"' "$VALUES"
  echo "    volumes: [$(jq -rn --arg m "hcdata:/srv/\$\$(touch /tmp/flocker-pwned-cmount) \`id\` ;|&*~" '$m | tojson')]"
  echo '    x-hostile: "`touch /tmp/flocker-pwned-cx`"'
  echo 'volumes:'
  echo '  hcdata: {}'
} > "$W/hc.yml"
printf 'version: 1\nnodes:\n  node2: [hc]\n' > "$W/dep-node2.yml"
deploy_values "deploy of the Compose file" "$W/dep-node2.yml" "$W/hc.yml" node2 hc C \
  "every NAME=value of the list is in the container (split at the first =)"
expect_eq "the command string was split into words, nothing expanded" \
  '["sh","-c","trap \"exit 0\" TERM; sleep 100000 & wait","$(touch /tmp/flocker-pwned-c1)","`touch /tmp/flocker-pwned-c2`",";","|","&&","*","~","-x","it'"'"'s","say \"hi\"","$HOME"]' \
  "$(inspect node2 flocker--hc '{{json .Config.Cmd}}' | jq -c .)"
expect_eq "the named volume's mountpoint, as written" "/srv/\$(touch /tmp/flocker-pwned-cmount) \`id\` ;|&*~" "$(inspect node2 flocker--hc '{{range .Mounts}}{{.Destination}}{{end}}')"

section "file names are data too"
D="$W/dir \$(touch flocker-pwned-path) ;|&\`id\` *"
mkdir -p "$D"
cp "$W/ok.yml" "$D/-app;'q'.yml"
printf 'version: 1\nnodes:\n  ghost1: [web]\n' > "$D/--dep.yml"
out=$(cd "$D" && "$FLOCKER" validate -- --dep.yml "-app;'q'.yml" 2>&1); rc=$?
expect_eq "validate reads files named with metacharacters and a leading - (after --)" 0 "$rc"
expect_contains "… and names them as given" "application file: -app;'q'.yml (Flocker v1)" "$out"
check_fails "… creating nothing" test -e "$D/flocker-pwned-path"

section "never executed"
expect_eq "no marker file on node1" "" "$(node node1 'ls /tmp/flocker-pwned-* 2>/dev/null')"
expect_eq "no marker file on node2" "" "$(node node2 'ls /tmp/flocker-pwned-* 2>/dev/null')"
expect_eq "no marker file inside the containers" "" "$(node node1 'docker exec flocker--hv1 ls /tmp/ 2>/dev/null; docker exec flocker--hw ls /tmp/ 2>/dev/null'; node node2 'docker exec flocker--hc ls /tmp 2>/dev/null')"
expect_eq "no marker file on this machine" "" "$(ls /tmp/flocker-pwned-* 2>/dev/null)"

section "a 10 MB manifest"
# 33,100 applications, each with an image, a hostile command and environment, a memory limit.
awk 'BEGIN { print "version: 1"; print "applications:"
  for (i = 0; i < 33100; i++) printf "  app%d:\n    image: registry.example.com:5000/team/app%d:1.%d\n    command: [\"sh\", \"-c\", \"exec httpd -f -p 8080 # $(touch /tmp/flocker-pwned-10mb) `id` ; | && * ~\"]\n    environment:\n      GREETING: \"hello from app %d $(touch /tmp/flocker-pwned-10mb)\"\n      MODE: production\n    mem_limit: 64M\n", i, i, i, i }' > "$W/10mb.yml"
printf 'version: 1\nnodes:\n  ghost1: [app1, app33099]\n  ghost2: [app2]\n' > "$W/dep-10mb.yml"
size=$(stat -c %s "$W/10mb.yml")
check "the manifest is about 10 MB ($size bytes)" test "$size" -ge 10000000
[ -x /usr/bin/time ] || apt-get install -y -q time >/dev/null 2>&1
if [ -x /usr/bin/time ]; then
  /usr/bin/time -v "$FLOCKER" validate "$W/dep-10mb.yml" "$W/10mb.yml" > "$W/10mb.out" 2> "$W/10mb.time"; rc=$?
  expect_eq "validate of 10 MB exits 0" 0 "$rc"
  expect_contains "… and sees every application" "ok: 33100 applications on 2 nodes" "$(tail -n 1 "$W/10mb.out")"
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$W/10mb.time")
  secs=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$W/10mb.time")
  echo "  info  validate of a $((size / 1000000)) MB manifest: peak memory $((rss / 1024)) MiB (max RSS ${rss} KB), ${secs} wall clock"
  check "validate's peak memory on 10 MB stays under 1 GiB ($((rss / 1024)) MiB)" test "${rss:-9999999}" -lt 1048576
  # The same size with an error in every application: 33,100 positioned errors, no crash.
  sed 's/^    image: registry.example.com:5000\/team\/app\([0-9]*\):1\./    image: Team\/App\1:1./' "$W/10mb.yml" > "$W/10mb-bad.yml"
  /usr/bin/time -v "$FLOCKER" validate "$W/dep-10mb.yml" "$W/10mb-bad.yml" > /dev/null 2> "$W/10mb-bad.err"; rc=$?
  expect_eq "10 MB with 33,100 errors: exit 2" 2 "$rc"
  expect_eq "… every error positioned" 33100 "$(grep -cE '10mb-bad\.yml:[0-9]+:[0-9]+: error: ' "$W/10mb-bad.err")"
  rss2=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$W/10mb-bad.err")
  echo "  info  validate of the same with 33,100 errors: peak memory $((rss2 / 1024)) MiB"
  check "… under 1 GiB too" test "${rss2:-9999999}" -lt 1048576
else
  fail "/usr/bin/time is needed to measure validate's peak memory (apt-get install time)"
fi

reset_nodes node1 node2
echo "  info  suite time: $((SECONDS - SUITE_START)) s"
finish
