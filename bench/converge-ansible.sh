#!/usr/bin/env bash
# No-op converge against Ansible (issue 14's baseline). On 2 sandbox nodes, each running one application with a
# volume and a published port (deployed by flocker-deploy), in one run and interleaved:
#   - flocker-deploy DEPLOYMENT APPLICATION on the converged cluster (a fresh SSH connection per node each run);
#   - ansible-playbook with one community.docker.docker_container task against node1, and against both nodes,
#     with pipelining and Ansible's default ControlPersist (so its SSH connections are reused between runs:
#     the warm case, in Ansible's favour), gather_facts off. The task describes a twin of each node's
#     application container (same image, command, volume, restart policy and as many labels; its own name
#     and port), which Ansible's first run creates: a container docker run made never compares equal for
#     Ansible (it normalises a bind's mode and a port's address its own way), so its no-op is on its own.
# Medians of RUNS (default 7) after one warm-up each; every timed run's exit status is checked, Ansible's recap
# must say changed=0 on every host and flocker-deploy must say "No changes". Prints both and the ratio
# Ansible (1 node) / flocker-deploy (2 nodes). Target (issue 14): ≥ 10×.
#
# Ansible comes from PyPI, installed by this script into a venv of its own under BENCH_CACHE (default
# /var/tmp/flocker-bench, kept between runs): the `ansible` package, which bundles community.docker (Python 3.11
# here: ansible 12.x, the last release for it). The node side needs the Docker SDK for Python: a venv made from
# the machine's /usr/bin/python3 (which every sandbox node sees, as it sees the host's /usr) is copied into each
# node's own folder, which the node sees as /.sandbox.
# Uses its own sandbox instance (FLOCKER_SANDBOX_ID, default 3) and takes it down at the end.
source "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-7}
ANSIBLE_VERSION=${ANSIBLE_VERSION:-12.3.0}
DOCKER_SDK_VERSION=${DOCKER_SDK_VERSION:-7.1.0}
BENCH_CACHE=${BENCH_CACHE:-/var/tmp/flocker-bench}
need_binary "$FLOCKER"
W=$(mktemp -d)
cleanup() {
  # Ansible's ControlPersist masters are ssh processes this script started: end them by their sockets.
  local s
  for s in "$W"/cp/*; do [ -S "$s" ] && ssh -o ControlPath="$s" -O exit placeholder >/dev/null 2>&1; done
  rm -rf "$W"
  [ -n "${KEEP:-}" ] || "$SANDBOX" down >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Ansible keeps its files under $W (not in ~/.ansible), its ControlPersist sockets too.
mkdir -p "$W/cp" "$W/home" "$W/tmp"
export ANSIBLE_PIPELINING=True ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=False
export ANSIBLE_HOME="$W/home" ANSIBLE_LOCAL_TEMP="$W/tmp" ANSIBLE_REMOTE_TEMP=/tmp/.ansible-bench
export ANSIBLE_SSH_CONTROL_PATH_DIR="$W/cp"
export ANSIBLE_INVENTORY="$W/inventory.yml" ANSIBLE_PYTHON_INTERPRETER=auto_silent
unset ANSIBLE_CONFIG

# --- Ansible, from PyPI, into a venv of its own (made once, reused while the versions match).
PY=/usr/bin/python3
AVENV=$BENCH_CACHE/ansible-$ANSIBLE_VERSION
if ! [ -e "$AVENV/.installed" ]; then
  echo "installing ansible $ANSIBLE_VERSION from PyPI into $AVENV (once)…" >&2
  rm -rf "$AVENV"; mkdir -p "$BENCH_CACHE"
  "$PY" -m venv "$AVENV"
  "$AVENV/bin/pip" install -q "ansible==$ANSIBLE_VERSION" >&2
  touch "$AVENV/.installed"
fi
NVENV=$BENCH_CACHE/node-python-docker-$DOCKER_SDK_VERSION
if ! [ -e "$NVENV/.installed" ]; then
  echo "installing the Docker SDK for Python $DOCKER_SDK_VERSION into $NVENV (once)…" >&2
  rm -rf "$NVENV"; mkdir -p "$BENCH_CACHE"
  "$PY" -m venv --without-pip "$NVENV"
  "$AVENV/bin/pip" install -q --target "$NVENV/lib/python3.11/site-packages" "docker==$DOCKER_SDK_VERSION" >&2
  touch "$NVENV/.installed"
fi
ANSIBLE_CORE=$("$AVENV/bin/ansible" --version | awk 'NR == 1')
CDOCKER=$("$AVENV/bin/ansible-galaxy" collection list community.docker 2>/dev/null | awk '$1 == "community.docker" {print $2; exit}')
[ -n "$CDOCKER" ] || { echo "converge-ansible: the ansible package has no community.docker collection" >&2; exit 1; }

# --- The cluster: 2 nodes, app1 on node1 and app2 on node2, each with a volume and a published port.
"$SANDBOX" down >/dev/null 2>&1 || true
"$SANDBOX" up --nodes 2 >/dev/null
eval "$("$SANDBOX" env)"
{ echo "version: 1"; echo "applications:"
  for i in 1 2; do
    printf '  app%d:\n    image: busybox:latest\n    command: ["httpd", "-f", "-p", "80"]\n    ports: [{internal: 80, external: %d}]\n    volume: {mountpoint: /data}\n' "$i" $((8000 + i))
  done; } > "$W/app.yml"
printf 'version: 1\nnodes:\n  node1: [app1]\n  node2: [app2]\n' > "$W/deploy.yml"
must "$FLOCKER" "$W/deploy.yml" "$W/app.yml" > "$W/first.out"

# --- Ansible's side: the node-side Python, an inventory, and a playbook describing the very containers
# flocker-deploy started (labels, mount source and restart policy read back from docker inspect).
S=(ssh -F "$FLOCKER_SSH_CONFIG" -o BatchMode=yes)
export ANSIBLE_SSH_COMMON_ARGS="-F $FLOCKER_SSH_CONFIG"
: > "$W/inventory.yml"
{ echo "all:"; echo "  hosts:"; } >> "$W/inventory.yml"
for i in 1 2; do
  rm -rf "$FLOCKER_SANDBOX_DIR/nodes/node$i/ansible-python"
  cp -a "$NVENV" "$FLOCKER_SANDBOX_DIR/nodes/node$i/ansible-python"
  must "${S[@]}" "node$i" /.sandbox/ansible-python/bin/python3 -c "'import docker'" > /dev/null
  insp=$(must "${S[@]}" "node$i" docker inspect --format \
    "'{{index .Config.Labels \"flocker.config-hash\"}} {{index .Config.Labels \"flocker.restart\"}} {{.HostConfig.RestartPolicy.Name}} {{range .Mounts}}{{.Source}}{{end}}'" "flocker--app$i")
  read -r hash restart policy source <<<"$insp"
  [ -n "$source" ] || { echo "converge-ansible: app$i has no volume mount on node$i: $insp" >&2; exit 1; }
  cat >> "$W/inventory.yml" <<EOF
    node$i:
      ansible_python_interpreter: /.sandbox/ansible-python/bin/python3
      app: app$i
      ext_port: $((8100 + i))
      config_hash: "$hash"
      restart_label: "$restart"
      restart_policy: "$policy"
      mount_source: "$source"
EOF
done
cat > "$W/noop.yml" <<'EOF'
- hosts: all
  gather_facts: false
  tasks:
    - name: the application's twin container, with the options flocker-deploy gives the application's own
      community.docker.docker_container:
        name: "ansible-twin-{{ app }}"
        image: busybox:latest
        command: ["httpd", "-f", "-p", "80"]
        published_ports: ["{{ ext_port }}:80"]
        default_host_ip: ""
        volumes: ["{{ mount_source }}:/data"]
        labels:
          bench.app: "{{ app }}"
          bench.config-hash: "{{ config_hash }}"
          bench.restart: "{{ restart_label }}"
        restart_policy: "{{ restart_policy }}"
        state: started
EOF

# ansible_noop LIMIT: one ansible-playbook run; stops the benchmark unless it exits 0 with changed=0 and ok=1
# on every host it ran on.
ansible_noop() {
  local out hosts=$1
  out=$(must "$AVENV/bin/ansible-playbook" ${ANSIBLE_DIFF:+--diff} --limit "$hosts" "$W/noop.yml")
  local h
  for h in ${hosts//,/ }; do
    grep -Eq "^$h +: ok=1 +changed=0 +unreachable=0 +failed=0" <<<"$out" ||
      { echo "converge-ansible: not a no-op for Ansible on $h:" >&2; echo "$out" >&2; exit 1; }
  done
}
flocker_noop() {
  local out
  out=$(must "$FLOCKER" "$W/deploy.yml" "$W/app.yml")
  grep -q "No changes" <<<"$out" || { echo "converge-ansible: not a no-op for flocker-deploy:" >&2; echo "$out" >&2; exit 1; }
}
# timed CMD…: prints the seconds CMD took (it stops the benchmark itself on failure).
timed() { local s=$EPOCHREALTIME; "$@"; echo "$EPOCHREALTIME - $s" | bc -l; }

# Ansible's first run creates the twins; then one warm-up of each (Ansible's ControlPersist masters are open
# from then on; the page cache is warm).
must "$AVENV/bin/ansible-playbook" "$W/noop.yml" > "$W/create.out"
ansible_noop node1,node2; flocker_noop
a1=(); a2=(); f2=()
for _ in $(seq 1 "$RUNS"); do
  a1+=("$(timed ansible_noop node1)")
  f2+=("$(timed flocker_noop)")
  a2+=("$(timed ansible_noop node1,node2)")
done
ma1=$(printf '%s\n' "${a1[@]}" | median); ma2=$(printf '%s\n' "${a2[@]}" | median); mf2=$(printf '%s\n' "${f2[@]}" | median)
printf 'no-op converge, medians of %d interleaved runs (every run exit 0; Ansible changed=0, flocker-deploy "No changes"):\n' "$RUNS"
printf '  %-62s %7.3f s  (min %.3f)\n' "ansible-playbook, docker_container, pipelining, 1 node" "$ma1" "$(printf '%s\n' "${a1[@]}" | sort -n | head -n1)"
printf '  %-62s %7.3f s  (min %.3f)\n' "ansible-playbook, docker_container, pipelining, 2 nodes" "$ma2" "$(printf '%s\n' "${a2[@]}" | sort -n | head -n1)"
printf '  %-62s %7.3f s  (min %.3f)\n' "flocker-deploy, 2 nodes" "$mf2" "$(printf '%s\n' "${f2[@]}" | sort -n | head -n1)"
printf 'ratio Ansible 1 node / flocker-deploy 2 nodes: %.1f× (target ≥ 10×); Ansible 2 nodes / flocker-deploy 2 nodes: %.1f×\n' \
  "$(echo "$ma1 / $mf2" | bc -l)" "$(echo "$ma2 / $mf2" | bc -l)"
printf '(%s, community.docker %s, Docker SDK for Python %s on the nodes; this machine has %d cores, load average %s)\n' \
  "$ANSIBLE_CORE" "$CDOCKER" "$DOCKER_SDK_VERSION" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
