# ryll — common tasks. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
FUZZ_SECONDS ?= 10
FUZZ_TARGETS := link_reply message_header vmc_port mux_demux share_paths bitmap lz lz4 glz zlib_glz jpeg quic \
	display_messages canvas_messages

.PHONY: help deps build test lint fmt fuzz-build fuzz-smoke fuzz screenshot bench bench-quick

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

deps: ## install the Debian packages the tests and demo need (tools/packages.txt); as root, only what is missing
	bash tools/deps.sh

build: ## release build of the ryll binary
	$(CARGO) build --release --bin ryll

# Tests that skip because a tool is missing write a line to $(TEST_SKIPS); `make test` fails naming them, so it
# never passes quietly on a machine without QEMU (ALLOW_SKIPS=1 lets such a run pass, still naming them).
TEST_SKIPS := $(CURDIR)/target/test-skips.txt
test: deps ## unit tests, fake-server tests and real-QEMU link tests (no guest OS)
	@mkdir -p target && rm -f $(TEST_SKIPS)
	RYLL_TEST_SKIPS=$(TEST_SKIPS) $(CARGO) test --all-targets
	@bash tools/report-skips.sh $(TEST_SKIPS)

lint: deps ## rustfmt, clippy -D warnings and shellcheck, as pre-commit runs them
	pre-commit run --all-files

fmt: ## format the code
	$(CARGO) fmt

bench: ## the sharing path against its loopback ceiling (5 runs); writes docs/performance.md
	$(CARGO) build --release --bin ryll --example serve_share
	$(CARGO) bench --bench sharing -- --write docs/performance.md $(BENCH_ARGS)
	$(CARGO) bench --bench display -- --write docs/performance.md

bench-quick: ## smoke run of the benchmark (small sizes, one run); fails only if the benchmark breaks
	$(CARGO) build --release --bin ryll --example serve_share
	$(CARGO) bench --bench sharing -- --quick $(BENCH_ARGS)
	$(CARGO) bench --bench display -- --quick

SCREENSHOT ?= docs/images/ryll-folders.png
screenshot: deps testvm ## the window sharing a folder with the test VM, under Xvfb, as PNG $(SCREENSHOT)
	$(CARGO) build --release --bin ryll
	python3 tests/gui/screenshot.py --ryll target/release/ryll --vm-dir $(RYLL_VM_DIR) --out $(SCREENSHOT)

fuzz-build: ## build the cargo-fuzz targets (plain build; no nightly needed)
	$(CARGO) build --manifest-path fuzz/Cargo.toml --bins

fuzz: ## every fuzz target for FUZZ_SECONDS each, 600 by default (off CI; needs cargo-fuzz); crashes in fuzz/artifacts
	$(MAKE) fuzz-smoke FUZZ_SECONDS=$(or $(filter-out 10,$(FUZZ_SECONDS)),600)

fuzz-smoke: ## run each fuzz target for FUZZ_SECONDS (needs cargo-fuzz)
	for t in $(FUZZ_TARGETS); do \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run --fuzz-dir fuzz $$t -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

-include tests/vm/vm.mk
