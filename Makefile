# flocker-deploy: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
SWIFT ?= swift
BIN := .build/debug/flocker-deploy

.PHONY: all deps build test unit acceptance demo bench fuzz clean sandbox-up sandbox-down

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

## make test: THE test command. Installs what it needs, builds, runs every test.
test: deps build
	$(SWIFT) test
	acceptance/run.sh

unit: deps
	$(SWIFT) test

acceptance: deps build
	acceptance/run.sh

## make demo: the redis tutorial in the sandbox, narrated (see docs/tutorial.md).
demo: deps build
	examples/demo.sh

bench: deps
	$(SWIFT) build -c release
	bench/run.sh

fuzz:
	fuzz/run.sh

sandbox-up: deps
	sandbox/flocker-sandbox up

sandbox-down:
	sandbox/flocker-sandbox down

clean:
	rm -rf .build
