#!/usr/bin/env bash
# fuzz/run.sh [TARGET|all [SECONDS]]: build the libFuzzer driver and fuzz TARGET for SECONDS (default 60).
# FUZZ_SEED=N: a repeatable run (fixed random seed, fresh corpus from the seed files), as CI's smoke runs it.
# Without a TARGET (or with `all`), fuzzes every target in turn. Exits non-zero if the fuzzer found a crash.
#
#   fuzz/run.sh discovery 600      # ten minutes on what nodes send back
#
# The driver is the package's own `flocker-fuzz` product (fuzz/Driver, checks in fuzz/Checks), built by SwiftPM
# from the package's modules in .build-fuzz/. Outputs (all git-ignored): fuzz/out/TARGET/ (seeds, artifacts,
# last-run.log) and fuzz/corpus-TARGET/ (the growing corpus, kept between runs). See fuzz/README.md.
set -euo pipefail
shopt -s nullglob

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SWIFT="${SWIFT:-swift}"
SCRATCH=${FUZZ_SCRATCH:-.build-fuzz}  # where the driver is built (FUZZ_SCRATCH: another folder, e.g. to time a clean build)
DRIVER=$SCRATCH/release/flocker-fuzz

die() { echo "fuzz/run.sh: $*" >&2; exit 2; }

# Seed folders beyond the target's own fuzz/TARGET/seeds and fuzz/TARGET/regressions.
extra_seeds() {
    case "$1" in
    yaml) echo Tests/FlockerYAMLTests/Fixtures ;;
    manifest) echo Tests/FlockerCoreTests/Fixtures/manifests examples ;;
    esac
}

# Builds .build-fuzz/release/flocker-fuzz: every Swift module it needs (FlockerCore, its dependencies, the checks)
# with coverage instrumentation for libFuzzer and AddressSanitizer, linked with libFuzzer's runtime without its
# `main` (fuzz/Driver/main.swift is the main, and calls LLVMFuzzerRunDriver). Not `-sanitize=fuzzer`: that links
# libFuzzer's own `main` whole-archive, which clashes with the `main` SwiftPM gives every executable.
# The output goes to fuzz/out/build.log (the linker warns about ASan's local symbols), shown on failure.
build() {
    local swiftc runtime
    swiftc=$(command -v "${SWIFTC:-swiftc}") || die "swiftc not found"
    runtime=("$(dirname "$(readlink -f "$swiftc")")"/../lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-"$(uname -m)".a)
    [[ ${#runtime[@]} -ge 1 && -f ${runtime[0]} ]] || die "libFuzzer's runtime (libclang_rt.fuzzer_no_main) not found"
    mkdir -p fuzz/out
    echo "fuzz/run.sh: building flocker-fuzz in $SCRATCH (log: fuzz/out/build.log)" >&2
    local started=$EPOCHSECONDS
    FLOCKER_FUZZ=1 "$SWIFT" build --scratch-path "$SCRATCH" -c release --product flocker-fuzz \
        -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table \
        -Xlinker "${runtime[0]}" -Xlinker -lstdc++ >fuzz/out/build.log 2>&1 || {
        grep -vE "Cannot export local symbol|^\[[0-9]+/[0-9]+\] (Compiling|Write)" fuzz/out/build.log >&2
        die "building flocker-fuzz failed"
    }
    echo "fuzz/run.sh: built in $((EPOCHSECONDS - started))s" >&2
}

# Copies every seed file into one flat directory (libFuzzer reads it as a read-only corpus).
seed() {
    local target=$1 dir=$2 source file
    rm -rf "$dir"
    mkdir -p "$dir"
    # shellcheck disable=SC2046  # the folder names hold no spaces
    for source in "fuzz/$target/seeds" "fuzz/$target/regressions" $(extra_seeds "$target"); do
        [[ -d $source ]] || continue
        while IFS= read -r -d '' file; do
            cp "$file" "$dir/$(echo "$file" | tr '/' '_')"
        done < <(find "$source" -type f -print0)
    done
}

# Prints what a CI log needs to reproduce a finding: the input (hex, then base64), then the fuzzer's report, and
# last what kind of finding it is (a CI log may keep only its end).
show() {
    local target=$1 log=$2 file
    for file in "${@:3}"; do
        echo "fuzz/run.sh: reproducer $file ($(wc -c <"$file") bytes); as hex (first 1 KiB):" >&2
        od -A d -t x1z -v "$file" | head -n 64 >&2
        echo "fuzz/run.sh: as base64:" >&2
        base64 -w 100 "$file" >&2
    done
    echo "fuzz/run.sh: the fuzzer's report (end of $log):" >&2
    grep -v "^#[0-9]" "$log" | tail -n 60 >&2
    echo "fuzz/run.sh: what it found: $(grep -m 3 -E "ERROR|SUMMARY|Fatal error|deadly signal|ALARM|FuzzFailure|check failed" "$log" | tr '\n' ' ' | cut -c 1-400)" >&2
    if (($# > 2)); then
        echo "fuzz/run.sh: to reproduce: base64 -d > input <<<'...'; $DRIVER $target input" >&2
        echo "fuzz/run.sh: keep it as a regression: cp it to fuzz/$target/regressions/ (FuzzRegressionTests replays it)" >&2
    fi
}

fuzz() {
    local target=$1 seconds=$2
    local out="fuzz/out/$target" corpus="fuzz/corpus-$target"
    # FUZZ_SEED: a repeatable run (CI's smoke): libFuzzer's random seed fixed, and a fresh corpus grown from the
    # seed files only, so that the same code explores the same inputs in the same order wherever it runs.
    if [[ -n ${FUZZ_SEED:-} ]]; then corpus="$out/corpus-seeded"; rm -rf "$corpus"; fi
    seed "$target" "$out/seeds"
    mkdir -p "$corpus" "$out/artifacts"
    local log="$out/last-run.log" status=0
    local args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
        -max_len=16384 -artifact_prefix="$out/artifacts/")
    [[ -n ${FUZZ_SEED:-} ]] && args+=(-seed="$FUZZ_SEED")
    [[ -f fuzz/$target/$target.dict ]] && args+=(-dict="fuzz/$target/$target.dict")
    echo "fuzz/run.sh: fuzzing $target for ${seconds}s (log: $log)" >&2
    # libFuzzer honours -max_total_time; the timeout is a backstop against a hung process.
    # SWIFT_BACKTRACE=enable=no: Swift's own crash backtracer trips ASan; let libFuzzer report traps.
    local started=$EPOCHSECONDS marker="$out/.started"
    touch "$marker"
    SWIFT_BACKTRACE=enable=no timeout --kill-after=30 $((seconds + 120)) "$DRIVER" "$target" "${args[@]}" \
        "$corpus" "$out/seeds" >"$log" 2>&1 || status=$?
    local elapsed=$((EPOCHSECONDS - started))
    local found=()
    while IFS= read -r -d '' file; do found+=("$file"); done < <(find "$out/artifacts" -type f -newer "$marker" -print0)
    local execs rate rss units
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    if [[ -z $execs ]]; then  # no final stats (it crashed): take the last progress line, "#1234 ..."
        execs=$(grep -oE '^#[0-9]+' "$log" | tail -n1 | tr -d '#')
    fi
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n1)
    units=$(find "$corpus" -type f | wc -l)
    echo "fuzz $target: ${execs:-0} executions in ${elapsed}s (${rate:-?}/s), ${#found[@]} crashes," \
        "exit $status, corpus $units inputs, peak RSS ${rss:-?} MB"
    if ((${#found[@]} > 0)); then
        show "$target" "$log" "${found[@]}"
        return 1
    fi
    ((status == 0)) || {
        show "$target" "$log"
        echo "fuzz/run.sh: the fuzzer exited with status $status; see $log" >&2
        return 1
    }
}

target=${1:-all}
seconds=${2:-60}
[[ $seconds =~ ^[0-9]+$ ]] || die "SECONDS must be a whole number, got '$seconds'"
build
mapfile -t targets < <("$DRIVER" --list)
if [[ $target == all ]]; then
    failed=0
    for t in "${targets[@]}"; do fuzz "$t" "$seconds" || failed=1; done
    exit "$failed"
fi
[[ " ${targets[*]} " == *" $target "* ]] || die "unknown target '$target' (known: ${targets[*]})"
fuzz "$target" "$seconds"
