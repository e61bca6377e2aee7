# End-to-end tests of ryll's WebDAV sharing against a throw-away QEMU guest.
# Included by the top-level Makefile; see tests/vm/README.md.
#   make testvm             build (or reuse) the guest image in $(RYLL_VM_DIR)
#   make test-qemu-webdav   build ryll (release) and run the end-to-end tests
#   make demo               boot the guest and let it use a folder shared by ryll
#   make test-kerbside      the same tests through the kerbside 0.8.0 SPICE proxy (both firewall modes, one boot)
#   make test-vm-display    ryll --screenshot against the guest's bochs, qxl and virtio-gpu KMS drivers vs screendump
#   make bench-first-frame  the first frame at 1920×1080: ryll --screenshot against spicy-screenshot (7 runs each)
#   make test-vm-usb        ryll's --usb-disk through usb-redir: reads, writes, read-only, reattach (one boot)
#   make bench-usb          the same, then sequential reads and writes against QEMU's own usb-storage (image copies)
#   make bench-desktop      ryll's window against spicy on one qxl guest: CPU idle, scrolling, animating; key to screen
# Extra harness options: make test-qemu-webdav E2E_ARGS='--keep -v'

RYLL_VM_DIR ?= target/testvm
E2E_PYTHON ?= python3
E2E_ARGS ?=
E2E_RUN = $(E2E_PYTHON) tests/vm/run_e2e.py --no-build --vm-dir $(RYLL_VM_DIR)

.PHONY: testvm test-qemu-webdav test-qemu-webdav-baseline demo test-kerbside test-vm-display bench-first-frame \
	test-vm-usb bench-usb bench-desktop bench-desktop-quick

testvm:
	RYLL_VM_DIR=$(RYLL_VM_DIR) bash tests/vm/build-image.sh

test-qemu-webdav: deps testvm
	cargo build --release --bin ryll
	$(E2E_RUN) --ryll target/release/ryll $(E2E_ARGS)

# The same tests with spice-gtk's own WebDAV server instead of ryll (needs the Debian
# packages python3-gi and gir1.2-spiceclientglib-2.0): a baseline for comparisons.
test-qemu-webdav-baseline: deps testvm
	$(E2E_RUN) --client-cmd '/usr/bin/python3 tests/vm/spice_gtk_client.py' $(E2E_ARGS)

# kerbside and kerbside-proxy come from PyPI into a venv under target/kerbside (kept as a cache); MariaDB, the
# daemon, its REST API and the proxy run privately on 127.0.0.1 for the run (tests/vm/kerbside_env.py).
# RYLL_BIN=target/debug/ryll skips the release build.
RYLL_BIN ?= target/release/ryll
test-kerbside: deps testvm
	$(if $(filter target/release/ryll,$(RYLL_BIN)),cargo build --release --bin ryll)
	$(E2E_RUN) --ryll $(RYLL_BIN) --kerbside $(E2E_ARGS)

demo: deps testvm
	cargo build --release --bin ryll
	$(E2E_RUN) --demo --ryll target/release/ryll $(E2E_ARGS)

# The guest's own display drivers under ryll --screenshot, compared with QMP screendump (tests/vm/run_display.py):
# one boot per device and per lossy mode, one ryll session per compression. DISPLAY_ARGS=--quick is CI's subset.
DISPLAY_ARGS ?=
test-vm-display: deps testvm
	$(if $(filter target/release/ryll,$(RYLL_BIN)),cargo build --release --bin ryll)
	$(E2E_PYTHON) tests/vm/run_display.py --vm-dir $(RYLL_VM_DIR) --ryll $(RYLL_BIN) $(DISPLAY_ARGS)

bench-first-frame: deps testvm
	$(if $(filter target/release/ryll,$(RYLL_BIN)),cargo build --release --bin ryll)
	$(E2E_PYTHON) tests/vm/run_display.py --vm-dir $(RYLL_VM_DIR) --ryll $(RYLL_BIN) --boots std-1080 \
		--first-frame-runs 7 $(DISPLAY_ARGS)

# ryll's virtual USB disk in the guest through QEMU's usb-redir (tests/vm/run_usb.py): one boot, a FAT image made on
# the host, read-write then read-only sessions of ryll against the same running guest.
USB_ARGS ?=
test-vm-usb: deps testvm
	$(if $(filter target/release/ryll,$(RYLL_BIN)),cargo build --release --bin ryll)
	$(E2E_PYTHON) tests/vm/run_usb.py --vm-dir $(RYLL_VM_DIR) --ryll $(RYLL_BIN) $(USB_ARGS)

bench-usb: deps testvm
	$(if $(filter target/release/ryll,$(RYLL_BIN)),cargo build --release --bin ryll)
	$(E2E_PYTHON) tests/vm/run_usb.py --vm-dir $(RYLL_VM_DIR) --ryll $(RYLL_BIN) --bench $(USB_ARGS)

# ryll's window against spice-gtk's spicy, each in its own Xvfb, taking turns on one qxl guest
# (tests/vm/run_display_bench.py): CPU while idle, scrolling and animating, and key press to screen.
# DESKTOP_ARGS=--quick is CI's smoke run (one turn each, short phases, no timing checks).
DESKTOP_ARGS ?=
bench-desktop: deps testvm
	$(if $(filter target/release/ryll,$(RYLL_BIN)),cargo build --release --bin ryll)
	$(E2E_PYTHON) tests/vm/run_display_bench.py --vm-dir $(RYLL_VM_DIR) --ryll $(RYLL_BIN) $(DESKTOP_ARGS)

bench-desktop-quick: deps testvm
	$(if $(filter target/release/ryll,$(RYLL_BIN)),cargo build --release --bin ryll)
	$(E2E_PYTHON) tests/vm/run_display_bench.py --vm-dir $(RYLL_VM_DIR) --ryll $(RYLL_BIN) --quick $(DESKTOP_ARGS)
