#!/usr/bin/env bash
# Streams 1 GiB from a throwaway loopback sshd through one FlockerSSH exec channel and through OpenSSH's
# `ssh HOST cat /dev/zero | head -c 1G`, RUNS times each (interleaved), and prints the medians in MiB/s,
# the negotiated algorithms and the ratios. See bench/README.md.
#
# Environment: BYTES (default 1073741824), RUNS (default 3), and for tuning experiments
# FLOCKER_BENCH_CIPHER, FLOCKER_BENCH_MAC (libssh2 preference lists), FLOCKER_BENCH_WINDOW (bytes).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
BYTES=${BYTES:-1073741824}
RUNS=${RUNS:-3}

work=$(mktemp -d /tmp/flocker-bench-ssh.XXXXXX)
sshd_pid=""
cleanup() {
  if [ -n "$sshd_pid" ]; then
    kill "$sshd_pid" 2>/dev/null || true
    wait "$sshd_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "ssh-stream: building flocker-bench (release)" >&2
(cd "$root" && swift build -c release --static-swift-stdlib --product flocker-bench) >"$work/build.log" 2>&1 || {
  cat "$work/build.log" >&2
  exit 1
}
bench="$root/.build/release/flocker-bench"

# A throwaway sshd on a free loopback port, with fresh ed25519 host and user keys.
ssh-keygen -q -t ed25519 -N '' -C bench-host -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -C bench-user -f "$work/user_key"
cp "$work/user_key.pub" "$work/authorized_keys"
mkdir -p /run/sshd 2>/dev/null || true   # privilege-separation directory when running as root
user=$(id -un)
for attempt in 1 2 3 4 5; do
  port=$("$bench" free-port)
  cat >"$work/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
PidFile $work/sshd.pid
AuthorizedKeysFile $work/authorized_keys
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
CONF
  /usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
  sshd_pid=$!
  for _ in $(seq 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break 2; fi
    kill -0 "$sshd_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$sshd_pid" 2>/dev/null || true
  wait "$sshd_pid" 2>/dev/null || true
  sshd_pid=""
done
if [ -z "$sshd_pid" ]; then
  echo "ssh-stream: sshd did not start:" >&2
  cat "$work/sshd.log" >&2
  exit 1
fi
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$work/host_key.pub")" >"$work/known_hosts"
cat >"$work/ssh_config" <<CONF
Host bench
  HostName 127.0.0.1
  Port $port
  User $user
  IdentityFile $work/user_key
  IdentitiesOnly yes
  UserKnownHostsFile $work/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
  LogLevel ERROR
CONF

mib=$(echo "scale=1; $BYTES / 1048576" | bc)
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }

ours_args=(ssh-stream --host 127.0.0.1 --port "$port" --user "$user" --identity "$work/user_key"
  --known-hosts "$work/known_hosts" --bytes "$BYTES" --runs 1)
[ -n "${FLOCKER_BENCH_CIPHER:-}" ] && ours_args+=(--cipher "$FLOCKER_BENCH_CIPHER")
[ -n "${FLOCKER_BENCH_MAC:-}" ] && ours_args+=(--mac "$FLOCKER_BENCH_MAC")
[ -n "${FLOCKER_BENCH_WINDOW:-}" ] && ours_args+=(--window "$FLOCKER_BENCH_WINDOW")

# Each run prints "MiB/s CPU-seconds-per-GiB" (client side: our process; for OpenSSH, ssh plus head).
ours_run() {
  local out
  out=$("$bench" "${ours_args[@]}") || { echo "$out" >&2; exit 1; }
  ours_negotiated=$(echo "$out" | sed -n 's/^negotiated: //p')
  echo "$out" | sed -n 's/^run 1: .* = \([0-9.]*\) MiB\/s .* = \([0-9.]*\) s\/GiB)$/\1 \2/p'
}
openssh_run() {   # extra ssh options...
  local t real user sys
  # ssh ends by SIGPIPE once head has its bytes; the run counts only if head got all of them.
  t=$( { TIMEFORMAT='%3R %3U %3S'; time { { ssh -F "$work/ssh_config" "$@" bench 'cat /dev/zero' || true; } |
    head -c "$BYTES" | wc -c >"$work/got"; }; } 2>&1 )
  [ "$(cat "$work/got")" = "$BYTES" ] || { echo "ssh-stream: OpenSSH delivered $(cat "$work/got") of $BYTES bytes" >&2; exit 1; }
  read -r real user sys <<<"$t"
  echo "$(echo "scale=1; $BYTES / 1048576 / $real" | bc) $(echo "scale=3; ($user + $sys) * 1073741824 / $BYTES" | bc)"
}

# What each side negotiates.
openssh_algorithms=$(ssh -v -F "$work/ssh_config" bench true 2>&1 |
  sed -n 's/^debug1: kex: server->client cipher: \(.*\) MAC: \(.*\) compression.*/\1 \/ \2/p' | head -1)
ours_run >/dev/null
ours_cipher=$(echo "$ours_negotiated" | sed -n 's/.*cipher \([^/]*\)\/.*/\1/p')
ours_mac=$(echo "$ours_negotiated" | sed -n 's/.*MAC \([^/]*\)\/.*/\1/p')

ours=() ; openssh=() ; same=() ; ours_cpu=() ; openssh_cpu=() ; same_cpu=()
for i in $(seq "$RUNS"); do
  read -r r c <<<"$(ours_run)"; ours+=("$r"); ours_cpu+=("$c")
  read -r r c <<<"$(openssh_run)"; openssh+=("$r"); openssh_cpu+=("$c")
  read -r r c <<<"$(openssh_run -c "$ours_cipher" -m "$ours_mac")"; same+=("$r"); same_cpu+=("$c")
  echo "ssh-stream: run $i/$RUNS: FlockerSSH ${ours[-1]}, OpenSSH ${openssh[-1]}, OpenSSH same algorithms ${same[-1]} MiB/s" >&2
done
m_ours=$(median "${ours[@]}")
m_openssh=$(median "${openssh[@]}")
m_same=$(median "${same[@]}")

echo "ssh-stream: $mib MiB of /dev/zero from a loopback sshd ($(ssh -V 2>&1 | cut -d, -f1)), $RUNS runs each, median"
echo "  machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '  %-32s %-44s %8s MiB/s  client CPU %5s s/GiB  (runs: %s)\n' \
  "FlockerSSH (libssh2 $(pkg-config --modversion libssh2 2>/dev/null || echo '?'))" "$ours_cipher / $ours_mac" \
  "$m_ours" "$(median "${ours_cpu[@]}")" "${ours[*]}" \
  "OpenSSH ssh (defaults)" "$openssh_algorithms" "$m_openssh" "$(median "${openssh_cpu[@]}")" "${openssh[*]}" \
  "OpenSSH ssh (same algorithms)" "$ours_cipher / $ours_mac" "$m_same" "$(median "${same_cpu[@]}")" "${same[*]}"
echo "  FlockerSSH negotiated: $ours_negotiated"
printf '  ratio FlockerSSH / OpenSSH defaults:        %.2f\n' "$(echo "scale=4; $m_ours / $m_openssh" | bc)"
printf '  ratio FlockerSSH / OpenSSH same algorithms: %.2f\n' "$(echo "scale=4; $m_ours / $m_same" | bc)"
