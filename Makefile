# flocker-deploy: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
SWIFT ?= swift
PREFIX ?= /usr/local
BIN := .build/release/flocker-deploy

.PHONY: all deps build release install test unit acceptance demo bench fuzz clean sandbox-up sandbox-down

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

## The binary users run, and the one the acceptance suites, the demo and the benchmarks drive.
release: deps
	$(SWIFT) build -c release

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

bench: deps release
	bench/run.sh

fuzz:
	fuzz/run.sh

sandbox-up: deps
	sandbox/flocker-sandbox up

sandbox-down:
	sandbox/flocker-sandbox down

clean:
	rm -rf .build
