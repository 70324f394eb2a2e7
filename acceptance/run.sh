#!/usr/bin/env bash
# Runs every acceptance suite (acceptance/suites/*.sh) against the built binary and a real sandbox.
# Ends with a line "N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
passed=0
failed=0
shopt -s nullglob
for suite in "$here"/suites/*.sh; do
  out=$(mktemp)
  bash "$suite" 2>&1 | tee "$out"
  p=$(grep -Eo '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n1 | awk '{print $1}')
  f=$(grep -Eo '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n1 | awk '{print $3}')
  if [ -z "$p" ]; then
    echo "acceptance: suite $(basename "$suite") ended without a result line" >&2
    p=0; f=1
  fi
  passed=$((passed + p)); failed=$((failed + f))
  rm -f "$out"
done
# Leave no sandbox behind (suites bring it up as they need it).
"$here/../sandbox/flocker-sandbox" down >/dev/null 2>&1 || true
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
