#!/usr/bin/env bash
# Installs the Debian packages that building, testing and the sandbox need. Idempotent and quick when
# everything is present: it asks dpkg first and runs apt-get only for what is missing.
set -euo pipefail

packages=(
  # build
  libyaml-dev libssh2-1-dev pkg-config
  # the sandbox's nodes (see docs/sandbox.md)
  openssh-server openssh-client zfs-fuse docker.io docker-registry busybox-static redis-server redis-tools socat
  iptables iproute2 util-linux procps psmisc kmod
  # the sandbox's postgres:15 and mariadb:10.11 images are made of these packages' files (docs/databases.md)
  postgresql-15 mariadb-server
  # their clients, for the tests: psql, pgbench, pg_amcheck (in postgresql-client-15 and postgresql-15, under
  # /usr/lib/postgresql/15/bin), mariadb, mariadb-check, mariadb-slap, mariadb-admin
  postgresql-client-15 mariadb-client
  # tests and benchmarks
  netcat-openbsd curl jq zstd lz4 bc time python3
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing Debian packages: ${missing[*]}" >&2
  echo "install-deps: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Never start services from package scripts: the sandbox starts its own daemons inside its nodes.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
