# VirtLab. On a fresh machine: `make demo` runs the main job, `make test` runs the tests;
# both install what is missing first (scripts/setup).
SWIFT ?= swift
RELEASE_BIN = .build/release/virtlab

.PHONY: setup build release demo test bench format lint clean

setup:
	@scripts/setup

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release --product virtlab

# The main job. For now: the versions, and a real Z3 run of bit-vector identities
# (two proofs and a refutation with its counterexample).
demo: release
	$(RELEASE_BIN) version
	@echo
	@echo "== models/smt/identities.smt2 (unsat = holds for all x; sat = refuted)"
	$(RELEASE_BIN) smt models/smt/identities.smt2

# Debug build (-Onone), as `swift test` does: see docs/testing.md for what that means.
test: setup
	$(SWIFT) test

bench: setup
	$(SWIFT) build -c release --product virtlab-bench
	.build/release/virtlab-bench

format:
	$(SWIFT) format format --in-place --recursive Sources Tests Package.swift

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift

clean:
	rm -rf .build out
