# flocker-deploy: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
SWIFT ?= swift
PREFIX ?= /usr/local
BIN := .build/release/flocker-deploy

.PHONY: all deps build release install test unit acceptance demo compose-demo services-demo postgres-demo bench fuzz fuzz-smoke clean sandbox-up sandbox-down

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

## The binary users run, and the one the acceptance suites, the demo and the benchmarks drive. The Swift
## runtime and Foundation are linked in (--static-swift-stdlib): the binary runs where no Swift is installed,
## and starts in about 8 ms instead of 15 (no shared Swift libraries to load and relocate; bench/README.md).
RELEASE_FLAGS := -c release --static-swift-stdlib
release: deps
	$(SWIFT) build $(RELEASE_FLAGS)

## make install: the release build into $(PREFIX)/bin (default /usr/local/bin).
install: release
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/flocker-deploy

## make test: THE test command. Installs what it needs, builds, runs every test.
test: deps build release
	$(SWIFT) test
	acceptance/run.sh

unit: deps
	$(SWIFT) test

acceptance: deps release
	acceptance/run.sh

## make demo: the redis tutorial in the sandbox, narrated (see docs/tutorial.md).
demo: deps release
	examples/demo.sh

## make compose-demo: a multi-service Compose stack (examples/compose-stack) deployed in the sandbox.
compose-demo: deps release
	examples/compose-stack/run.sh

## make services-demo: Compose services reaching each other by name across nodes (examples/compose-services).
services-demo: deps release
	examples/compose-services/run.sh

## make postgres-demo: PostgreSQL moved between two nodes with its data (examples/postgres, docs/databases.md).
postgres-demo: deps release
	examples/postgres/run.sh

bench: deps release
	bench/run.sh

## make fuzz-smoke: every fuzz target for 60 s with a fixed seed (CI runs it: repeatable, so a finding shows up
## here first); a crash fails it and prints the reproducer. make fuzz: the same with a random seed and the corpus
## kept between runs. The driver is built in .build-fuzz (fuzz/README.md). `fuzz/run.sh TARGET SECONDS` runs one
## target longer.
fuzz-smoke: deps
	FUZZ_SEED=1 fuzz/run.sh all 60

fuzz: deps
	fuzz/run.sh all 60

sandbox-up: deps
	sandbox/flocker-sandbox up

sandbox-down:
	sandbox/flocker-sandbox down

clean:
	rm -rf .build .build-asan .build-tsan .build-release .build-fuzz

## make sanitize: the unit tests (the SSH ones against a loopback sshd included) under AddressSanitizer,
## under ThreadSanitizer and in release mode (Swift 6.3.1 at -O has miscompiled code here before), after the
## lint for that miscompile's known shape. Each build has its own scratch folder, so none clobbers .build;
## they run one after another. See docs/architecture.md, "Sanitizers and the -O miscompile".
.PHONY: sanitize lint-task-closures unit-asan unit-tsan unit-release
SANITIZER_FILES := $(CURDIR)/Tests/sanitizers

sanitize: deps
	@start=$$SECONDS; for t in lint-task-closures unit-asan unit-tsan unit-release; do \
	  s=$$SECONDS; $(MAKE) --no-print-directory $$t || exit 1; echo "sanitize: $$t took $$((SECONDS - s)) s"; \
	done; echo "sanitize: all clean in $$((SECONDS - start)) s"

lint-task-closures:
	scripts/check-task-closures.sh --self-test
	scripts/check-task-closures.sh

# The tests are all Swift Testing: --disable-xctest skips XCTest's empty pass, whose own bookkeeping (368 bytes
# allocated in XCTMain) LeakSanitizer reports. The check below keeps that from hiding XCTest tests added later.
no-xctest = @! grep -rlq --include='*.swift' '^import XCTest' Tests || \
	{ echo "XCTest tests exist now: drop --disable-xctest from the sanitizer runs" >&2; exit 1; }

# Leak checking stays on; the suppressions are leaks in the toolchain's Foundation and in libssh2, each with
# its evidence in the file.
unit-asan: deps
	$(no-xctest)
	LSAN_OPTIONS=suppressions=$(SANITIZER_FILES)/lsan-suppressions.txt:print_suppressions=1 \
	  $(SWIFT) test --sanitize=address --disable-xctest --scratch-path .build-asan

# The suppressions are ThreadSanitizer's false positives on a contended Synchronization.Mutex (see the file).
unit-tsan: deps
	$(no-xctest)
	TSAN_OPTIONS="suppressions=$(SANITIZER_FILES)/tsan-suppressions.txt print_suppressions=1" \
	  $(SWIFT) test --sanitize=thread --disable-xctest --scratch-path .build-tsan

unit-release: deps
	$(SWIFT) test -c release --scratch-path .build-release
