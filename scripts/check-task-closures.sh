#!/usr/bin/env bash
# Rejects the code shape that Swift 6.3.1 miscompiles at -O: an escaping task closure (`addTask {`,
# `Task {`, `Task.detached {`, `async let x = {`) whose body is a do/catch that returns from both arms.
# The release build then reads a task result that was never written (SIGSEGV/SIGILL); the debug build is
# fine, so only this lint (and `make unit-release`) catch it. The way out: take the value from a function
# that does the do/catch (see Discovery.rediscoverResult and docs/architecture.md).
#
# usage: scripts/check-task-closures.sh [FILE...]   (default: every *.swift file git tracks or would track)
#        scripts/check-task-closures.sh --self-test
# Exits 1 and names the files when it finds the shape, 0 otherwise.
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"

# --self-test: the lint must still catch the shape that crashed the release build (DeployRun.lookAgain
# before commit 3f53589), and must pass the fixed version of it.
if [ "${1:-}" = "--self-test" ]; then
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
  cat > "$dir/Bad.swift" <<'SWIFT'
            group.addTask {
                do throws(RemoteError) {
                    return (node, .success(try await discovery.rediscover(host)))
                } catch {
                    return (node, .failure(error))
                }
            }
SWIFT
  cat > "$dir/Good.swift" <<'SWIFT'
            group.addTask { (node, await discovery.rediscoverResult(host)) }
SWIFT
  if "$self" "$dir/Bad.swift" >/dev/null 2>&1; then echo "check-task-closures: self-test: the bad shape was not caught" >&2; exit 1; fi
  "$self" "$dir/Good.swift" >/dev/null || { echo "check-task-closures: self-test: the fixed shape was rejected" >&2; exit 1; }
  echo "check-task-closures: self-test passed"
  exit 0
fi

files=()
if [ $# -gt 0 ]; then
  files=("$@")
else
  cd "$(dirname "$self")/.."
  while IFS= read -r f; do
    [ -f "$f" ] && files+=("$f")
  done < <(git ls-files --cached --others --exclude-standard '*.swift')
fi
[ ${#files[@]} -gt 0 ] || { echo "check-task-closures: no Swift files to check" >&2; exit 1; }

# The opening line may carry a capture list or a signature before `in` (`addTask { [host] in`).
# `[^{}]*` keeps each match inside one do body and one catch body: a body with nested braces is not
# looked into (a heuristic, like the compiler bug's known reproductions).
found=$(perl -0ne '
  while (/\b(?:addTask\w*|Task|async\s+let)\b[^\n]*\{(?:[^\n{}]*\bin\b)?\s*\n?\s*do\b(?:\s+throws\([^)]*\))?\s*\{[^{}]*\breturn\b[^{}]*\}\s*catch\b[^{}]*\{[^{}]*\breturn\b/g) {
    print "$ARGV\n"; last
  }' "${files[@]}")

if [ -n "$found" ]; then
  echo "check-task-closures: a task closure returns from both arms of a do/catch, which Swift 6.3.1" >&2
  echo "miscompiles at -O (the task's result is read but never written). Move the do/catch into a" >&2
  echo "function that returns the value (see docs/architecture.md, \"Sanitizers and the -O miscompile\"):" >&2
  sed 's/^/  /' <<<"$found" >&2
  exit 1
fi
echo "check-task-closures: no task closure returns from both arms of a do/catch (${#files[@]} files)"
