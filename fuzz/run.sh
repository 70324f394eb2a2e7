#!/usr/bin/env bash
# fuzz/run.sh [TARGET [SECONDS]]: build a libFuzzer target and fuzz it for SECONDS (default 60).
# Without a TARGET, fuzzes every target in turn. Exits non-zero if the fuzzer found a crash.
#
#   fuzz/run.sh yaml 600      # ten minutes on the YAML parser
#
# Outputs (all git-ignored): fuzz/out/TARGET/ (binary, seeds, artifacts, last-run.log) and
# fuzz/corpus-TARGET/ (the growing corpus, kept between runs). See fuzz/README.md.
set -euo pipefail
shopt -s nullglob

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SWIFTC="${SWIFTC:-swiftc}"
ALL_TARGETS=(yaml manifest)

die() { echo "fuzz/run.sh: $*" >&2; exit 2; }

# A target is:
#   MODULES  "Name=glob..." library modules built in order, each able to import the earlier ones
#   ENTRY    globs of the entry sources (they define LLVMFuzzerTestOneInput and import the modules)
#   SEEDS    directories whose files (recursively) seed the corpus
#   LIBS     linker flags for system libraries
#   DICT     a libFuzzer dictionary, or empty
# Adding a target is one more case here (and its name in ALL_TARGETS).
configure() {
    MODULES=() ENTRY=() SEEDS=() LIBS=() DICT=""
    case "$1" in
    yaml)
        MODULES=("FlockerYAML=Sources/FlockerYAML/*.swift")
        ENTRY=("fuzz/yaml/*.swift")
        SEEDS=(Tests/FlockerYAMLTests/Fixtures)
        LIBS=(-lyaml)
        DICT=fuzz/yaml/yaml.dict
        ;;
    manifest)
        MODULES=("FlockerYAML=Sources/FlockerYAML/*.swift"
            "FlockerManifest=Sources/FlockerCore/Manifest/*.swift Sources/FlockerCore/Model/*.swift Sources/FlockerCore/Support/*.swift")
        ENTRY=("fuzz/manifest/*.swift")
        SEEDS=(fuzz/manifest/seeds Tests/FlockerCoreTests/Fixtures/manifests examples)
        LIBS=(-lyaml)
        DICT=fuzz/manifest/manifest.dict
        ;;
    *) return 1 ;;
    esac
}

# Expands the globs in "$@" into the array FILES, failing if they match nothing.
expand() {
    FILES=()
    local pattern
    for pattern in "$@"; do
        # shellcheck disable=SC2206  # the patterns are globs on purpose, and hold no spaces
        FILES+=($pattern)
    done
    [[ ${#FILES[@]} -gt 0 ]] || die "no files match: $*"
}

# Builds every module of the target, then the entry, into $out. Compiler output goes to
# $out/build.log (the linker warns about ASan's local symbols on every build), shown on failure.
build() {
    local target=$1 out=$2
    mkdir -p "$out/lib"
    : >"$out/build.log"
    build_steps "$target" "$out" >>"$out/build.log" 2>&1 || {
        cat "$out/build.log" >&2
        die "building $target failed"
    }
}

build_steps() {
    local target=$1 out=$2
    local common=(-sanitize=fuzzer,address -parse-as-library -swift-version 6 -O -g
        -I "$out/lib" -I Sources/CYAML -I Sources/CLibSSH2)
    local link=() spec name
    for spec in "${MODULES[@]}"; do
        name=${spec%%=*}
        # shellcheck disable=SC2086
        expand ${spec#*=}
        echo "fuzz/run.sh: building module $name (${#FILES[@]} files)"
        "$SWIFTC" "${common[@]}" -module-name "$name" -emit-module -emit-module-path "$out/lib/$name.swiftmodule" \
            -emit-library -static -o "$out/lib/lib$name.a" "${FILES[@]}"
        link=("-l$name" "${link[@]}")  # static archives: a module before the ones it imports
    done
    expand "${ENTRY[@]}"
    echo "fuzz/run.sh: linking fuzz-$target"
    "$SWIFTC" "${common[@]}" -module-name "Fuzz_$target" "${FILES[@]}" \
        -L "$out/lib" "${link[@]}" "${LIBS[@]}" -o "$out/fuzz-$target"
}

# Copies every seed file into one flat directory (libFuzzer reads it as a read-only corpus).
seed() {
    local dir=$1 source file
    rm -rf "$dir"
    mkdir -p "$dir"
    for source in "${SEEDS[@]}"; do
        [[ -d $source ]] || continue
        while IFS= read -r -d '' file; do
            cp "$file" "$dir/$(echo "$file" | tr '/' '_')"
        done < <(find "$source" -type f -print0)
    done
}

fuzz() {
    local target=$1 seconds=$2
    configure "$target" || die "unknown target '$target' (known: ${ALL_TARGETS[*]})"
    local out="fuzz/out/$target" corpus="fuzz/corpus-$target"
    echo "fuzz/run.sh: building $target (log: $out/build.log)" >&2
    build "$target" "$out"
    seed "$out/seeds"
    mkdir -p "$corpus" "$out/artifacts"
    local log="$out/last-run.log" before after status=0
    before=$(find "$out/artifacts" -type f | wc -l)
    local args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
        -max_len=16384 -artifact_prefix="$out/artifacts/")
    [[ -n $DICT ]] && args+=(-dict="$DICT")
    echo "fuzz/run.sh: fuzzing $target for ${seconds}s (log: $log)" >&2
    # libFuzzer honours -max_total_time; the timeout is a backstop against a hung process.
    # SWIFT_BACKTRACE=enable=no: Swift's own crash backtracer trips ASan; let libFuzzer report traps.
    local started=$EPOCHSECONDS
    SWIFT_BACKTRACE=enable=no timeout --kill-after=30 $((seconds + 120)) "$out/fuzz-$target" "${args[@]}" "$corpus" "$out/seeds" \
        >"$log" 2>&1 || status=$?
    local elapsed=$((EPOCHSECONDS - started))
    after=$(find "$out/artifacts" -type f | wc -l)
    local execs rate rss units
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    if [[ -z $execs ]]; then  # no final stats (it crashed): take the last progress line, "#1234 ..."
        execs=$(grep -oE '^#[0-9]+' "$log" | tail -n1 | tr -d '#')
    fi
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n1)
    units=$(find "$corpus" -type f | wc -l)
    echo "fuzz $target: ${execs:-0} executions in ${elapsed}s (${rate:-?}/s), $((after - before)) crashes," \
        "exit $status, corpus $units inputs, peak RSS ${rss:-?} MB"
    if ((after > before)); then
        echo "fuzz/run.sh: new artifacts in $out/artifacts (reproduce: $out/fuzz-$target FILE):" >&2
        find "$out/artifacts" -type f -newer "$out/seeds" >&2
        return 1
    fi
    ((status == 0)) || { echo "fuzz/run.sh: the fuzzer exited with status $status; see $log" >&2; return 1; }
}

seconds=${2:-60}
[[ $seconds =~ ^[0-9]+$ ]] || die "SECONDS must be a whole number, got '$seconds'"
if [[ $# -ge 1 ]]; then
    fuzz "$1" "$seconds"
else
    failed=0
    for target in "${ALL_TARGETS[@]}"; do fuzz "$target" "$seconds" || failed=1; done
    exit "$failed"
fi
