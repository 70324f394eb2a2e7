#!/usr/bin/env bash
# make bench: every benchmark, one after another (each prints its own figures and ratios). Not part of
# make test: timings belong here, not in tests. Expects a release build (make bench builds one).
set -uo pipefail
cd "$(dirname "$0")"
status=0
for b in ssh-stream.sh converge.sh converge-ansible.sh move-downtime.sh mass-move.sh relay.sh replicas.sh clones.sh databases.sh; do
  echo "== bench/$b"
  ./"$b" || { echo "bench/$b failed" >&2; status=1; }
  echo
done
exit $status
