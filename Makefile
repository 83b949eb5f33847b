# VirtLab. On a fresh machine: `make demo` runs the main job, `make test` runs the tests;
# both install what is missing first (scripts/setup).
SWIFT ?= swift
RELEASE_BIN = .build/release/virtlab

.PHONY: setup build release demo test bench difftest fuzz format lint clean catalogue

setup:
	@scripts/setup

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release --product virtlab

# The main job. For now: the versions, a nasm guest run natively on the engine, a guest kernel
# under trap-and-emulate compared with its native run, and a real Z3 run of bit-vector
# identities (two proofs and a refutation with its counterexample).
demo: release
	$(RELEASE_BIN) version
	@echo
	@echo "== models/guests/mix.asm on the engine"
	$(RELEASE_BIN) run mix --stats
	@echo
	@echo "== models/guests/syscall.asm under trap-and-emulate (ring 1, shadow paging), compared with native"
	$(RELEASE_BIN) run syscall --mode trap --compare
	@echo
	@echo "== models/smt/identities.smt2 (unsat = holds for all x; sat = refuted)"
	$(RELEASE_BIN) smt models/smt/identities.smt2

# The Popek–Goldberg catalogue (docs/catalogue.md, .json): regenerate after a semantics change;
# `make test` fails while the committed one differs from what the semantics give.
catalogue: release
	$(RELEASE_BIN) verify pg --config ring1 --catalogue docs/catalogue > /dev/null; test $$? -le 1

# Debug build (-Onone), as `swift test` does: see docs/testing.md for what that means.
test: setup
	$(SWIFT) test

# The peer, unicorn 2.1.4 from PyPI, lives in a virtualenv of its own (.venv-bench).
BENCH_PYTHON = .venv-bench/bin/python
$(BENCH_PYTHON):
	python3 -m venv .venv-bench
	.venv-bench/bin/pip install --quiet unicorn==2.1.4

bench: setup $(BENCH_PYTHON)
	$(SWIFT) build -c release --product virtlab-bench
	VIRTLAB_PYTHON=$(BENCH_PYTHON) .build/release/virtlab-bench

# The differential test at scale: N seeded cases against unicorn, in release.
N ?= 1000000
difftest: setup
	$(SWIFT) build -c release --product virtlab-difftest
	.build/release/virtlab-difftest $(SCOPE) $(N)

# libFuzzer on decode + execute, in its own build folder (see docs/testing.md).
FUZZ_SECONDS ?= 60
fuzz: setup
	$(SWIFT) build -c release --product virtlab-fuzz --scratch-path .build-fuzz \
	  -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZ -Xswiftc -use-ld=lld
	mkdir -p out/fuzz-corpus
	SWIFT_BACKTRACE=enable=no .build-fuzz/release/virtlab-fuzz -max_total_time=$(FUZZ_SECONDS) \
	  -max_len=64 out/fuzz-corpus

format:
	$(SWIFT) format format --in-place --recursive Sources Tests Package.swift

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift

clean:
	rm -rf .build out
