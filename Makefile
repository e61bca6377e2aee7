# ryll — common tasks. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
FUZZ_SECONDS ?= 10
FUZZ_TARGETS := link_reply message_header vmc_port mux_demux share_paths share_protect remembered_shares \
	windows_names usbredir usb_storage bitmap lz lz4 glz zlib_glz jpeg quic display_messages canvas_messages \
	cursor_messages headless_commands

.PHONY: help deps build test test-window lint fmt fuzz-build fuzz-smoke fuzz screenshot screenshot-usb bench \
	bench-quick bench-wan bench-wan-quick

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

deps: ## install the Debian packages the tests and demo need (tools/packages.txt); as root, only what is missing
	bash tools/deps.sh

build: ## release build of the ryll binary
	$(CARGO) build --release --bin ryll

# Tests that skip because a tool is missing write a line to $(TEST_SKIPS); `make test` fails naming them, so it
# never passes quietly on a machine without QEMU (ALLOW_SKIPS=1 lets such a run pass, still naming them).
TEST_SKIPS := $(CURDIR)/target/test-skips.txt
test: deps testvm ## unit tests, fake-server tests, real-QEMU tests (link, display, the input guest)
	@mkdir -p target && rm -f $(TEST_SKIPS)
	RYLL_TEST_SKIPS=$(TEST_SKIPS) $(CARGO) test --all-targets
	@bash tools/report-skips.sh $(TEST_SKIPS)

# The real window (release build) under Xvfb, driven by xdotool: one input guest boot (keys, mouse in both modes,
# the display area against QMP screendump) and one Xspice session (pointer, clicks, the X cursor). The tests are
# #[ignore]d in `make test`, which has no release build to drive.
test-window: deps testvm ## the real window under Xvfb driven by xdotool, against the input guest and Xspice
	$(CARGO) build --release --bin ryll
	@mkdir -p target && rm -f $(TEST_SKIPS)
	RYLL_TEST_SKIPS=$(TEST_SKIPS) RYLL_WINDOW_BIN=$(CURDIR)/target/release/ryll RYLL_VM_DIR=$(RYLL_VM_DIR) \
		$(CARGO) test --test window_qemu --test window_xspice -- --ignored --test-threads 1
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

# ryll against spice-gtk through an emulated link (examples/wan_relay.rs), one boot of the test VM; see
# docs/performance.md. The quick run (small sizes, one profile, no timing checks) is what .ci/run runs.
WAN_BENCH = python3 tests/vm/run_wan_bench.py --ryll target/release/ryll --relay target/release/examples/wan_relay \
	--vm-dir $(RYLL_VM_DIR)
bench-wan: deps testvm ## folder sharing through 20 Mbit/s, 100 Mbit/s and 1 Gbit/s links, ryll vs spice-gtk
	$(CARGO) build --release --bin ryll --example wan_relay
	$(WAN_BENCH) --write docs/performance.md $(WAN_ARGS)

bench-wan-quick: deps testvm ## smoke run of bench-wan: small sizes, one link profile, nothing written
	$(CARGO) build --release --bin ryll --example wan_relay
	$(WAN_BENCH) --quick $(WAN_ARGS)

SCREENSHOT ?= docs/images/ryll-folders.png
screenshot: deps testvm ## the window sharing a folder with the test VM, under Xvfb, as PNG $(SCREENSHOT)
	$(CARGO) build --release --bin ryll
	python3 tests/gui/screenshot.py --ryll target/release/ryll --vm-dir $(RYLL_VM_DIR) --out $(SCREENSHOT)

SCREENSHOT_USB ?= docs/images/ryll-usb.png
screenshot-usb: deps testvm ## the window's USB panel with a disk the test VM has mounted, as PNG $(SCREENSHOT_USB)
	$(CARGO) build --release --bin ryll
	python3 tests/gui/screenshot.py --usb --ryll target/release/ryll --vm-dir $(RYLL_VM_DIR) --out $(SCREENSHOT_USB)

fuzz-build: ## build the cargo-fuzz targets (plain build; no nightly needed)
	$(CARGO) build --manifest-path fuzz/Cargo.toml --bins

fuzz: ## every fuzz target for FUZZ_SECONDS each, 600 by default (off CI; needs cargo-fuzz); crashes in fuzz/artifacts
	$(MAKE) fuzz-smoke FUZZ_SECONDS=$(or $(filter-out 10,$(FUZZ_SECONDS)),600)

fuzz-smoke: ## run each fuzz target for FUZZ_SECONDS (needs cargo-fuzz)
	for t in $(FUZZ_TARGETS); do \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run --fuzz-dir fuzz $$t -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

-include tests/vm/vm.mk
