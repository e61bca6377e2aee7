#!/usr/bin/env python3
"""End-to-end test of ryll's WebDAV folder sharing against a real QEMU guest.

The guest (tests/vm/build-image.sh, scripts in tests/vm/guest/) runs spice-webdavd and
drives WebDAV clients (curl, davfs2, litmus) at http://127.0.0.1:9843/, which spice-webdavd
tunnels over the SPICE WebDAV channel to ryll, which serves a directory of this host.

Host and guest coordinate through the share itself: the host writes `_phase.txt` into the
directory it is about to share; the guest polls it, runs that phase's checks and prints
`PHASE <name> DONE` on its serial console, which the host follows. Phases:
  rw       share A read-write: PROPFIND, GET, PUT (64 MiB, Expect: 100-continue), MKCOL,
           COPY, MOVE, DELETE, 8 parallel GETs, davfs2, litmus
  ro       share B with --share-dir-ro: reads work, every change is refused, B unchanged
  restart  share A again after ryll was stopped with the guest running: a GET works

Usage:
  run_e2e.py --ryll target/release/ryll [--vm-dir target/testvm] [--keep]
  run_e2e.py --ryll target/release/ryll --demo
  run_e2e.py --client-cmd '/usr/bin/python3 tests/vm/spice_gtk_client.py'   (baseline)
  run_e2e.py --ryll target/release/ryll --kerbside    (through the kerbside proxy, tests/vm/kerbside_env.py)

With --kerbside, QEMU gets a SPICE password and ryll connects with the console.vv that kerbside's REST API
hands out. One boot serves both firewall modes: enforce first (kerbside 0.8.0 ends the WebDAV channel at
PORT_INIT; ryll must say so once, keep the session and not relink in a tight loop), then warn, in which the
phases above run through the proxy.

Python 3.11, standard library only. Exit status 0 only when every check passed.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[2]
VM_SRC = REPO / "tests" / "vm"
PORT_NAME = "org.spice-space.webdav.0"
PHASES = ("rw", "ro", "restart")
SPICE_TICKET = "ryll-e2e-ticket"
# What ryll says when a proxy ends the WebDAV channel at PORT_INIT (event_log::PROXY_FILTER_DIAGNOSIS).
PORT_INIT_DIAGNOSIS = "a SPICE proxy in between may be filtering port-channel messages"
LITMUS_SUITES = ("basic", "copymove", "props", "locks", "http")
MIB = 1024 * 1024


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ------------------------------------------------------------------------------------------
# Results


@dataclasses.dataclass
class Check:
    name: str
    status: str  # PASS, FAIL, XFAIL (known failure), INFO (not counted)
    detail: str = ""


class Results:
    def __init__(self) -> None:
        self.checks: list[Check] = []

    def add(self, name: str, status: str, detail: str = "") -> None:
        self.checks.append(Check(name, status, detail))
        if status == "FAIL":
            log(f"FAIL {name}: {detail}")

    def ok(self, name: str, cond: bool, detail: str = "") -> bool:
        self.add(name, "PASS" if cond else "FAIL", detail)
        return cond

    def counts(self) -> tuple[int, int]:
        passed = sum(c.status in ("PASS", "XFAIL") for c in self.checks)
        failed = sum(c.status == "FAIL" for c in self.checks)
        return passed, failed

    def print_table(self, title: str) -> None:
        width = max([len(c.name) for c in self.checks] + [10])
        print(f"\n{title}")
        print(f"{'check':<{width}}  result  detail")
        print(f"{'-' * width}  ------  ------")
        for c in self.checks:
            detail = c.detail if len(c.detail) <= 90 else c.detail[:87] + "..."
            print(f"{c.name:<{width}}  {c.status:<6}  {detail}")
        passed, failed = self.counts()
        print(f"\n{passed} passed, {failed} failed", flush=True)


# ------------------------------------------------------------------------------------------
# Processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_group(proc: subprocess.Popen, sig: int) -> None:
    """Signal the process group of a process we started in its own session."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_process(proc: subprocess.Popen, first: int = signal.SIGINT, grace: float = 20.0) -> int | None:
    """SIGINT (or `first`), then SIGTERM, then SIGKILL; returns the first exit status seen."""
    if proc.poll() is not None:
        kill_group(proc, signal.SIGKILL)  # leftovers of the group, if any
        return proc.returncode
    status = None
    for sig, wait in ((first, grace), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        kill_group(proc, sig)
        try:
            status = proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            log(f"pid {proc.pid} still running after {signal.Signals(sig).name}")
    kill_group(proc, signal.SIGKILL)
    return status


class SerialLog:
    """Follows a file that QEMU writes a serial port to, line by line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pos = 0
        self.partial = b""

    def poll(self) -> list[str]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return []
        self.pos += len(data)
        data = self.partial + data
        *lines, self.partial = data.split(b"\n")
        return [ln.decode("utf-8", "replace").replace("\r", "") for ln in lines]


class Guest:
    """A QEMU process running the test guest."""

    def __init__(self, args: argparse.Namespace, run_dir: Path, mode: str, timeout: int) -> None:
        self.args = args
        self.run_dir = run_dir
        self.mode = mode
        self.timeout = timeout
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.console = run_dir / "console.log"
        self.debug = run_dir / "guest-debug.log"
        self.accel = ""
        self.serial: SerialLog | None = None

    def kernel(self) -> Path:
        for name in ("vmlinux", "bzImage"):
            if (self.args.vm_dir / name).is_file():
                return self.args.vm_dir / name
        raise SystemExit(f"no vmlinux or bzImage in {self.args.vm_dir}: run tests/vm/build-image.sh")

    def command(self, accel: str) -> list[str]:
        append = (
            f"console=ttyS0 quiet panic=1 ryll.mode={self.mode} ryll.timeout={self.timeout} "
            f"ryll.phasewait={self.args.phase_wait}"
        )
        cmd = [self.args.qemu, "-nodefaults", "-no-user-config", "-name", "ryll-testvm"]
        if accel == "kvm":
            cmd += ["-accel", "kvm"]
        else:
            cmd += ["-accel", "tcg,thread=multi", "-cpu", "max"]
        cmd += [
            "-m", str(self.args.memory), "-smp", "2",
            "-display", "none", "-monitor", "none", "-no-reboot",
            "-kernel", str(self.kernel()),
            "-initrd", str(self.args.vm_dir / "initramfs.cpio"),
            "-append", append,
            "-serial", f"file:{self.console}",
            "-serial", f"file:{self.debug}",
            "-spice", f"port={self.port},addr=127.0.0.1," + (
                "password-secret=spicepw" if self.args.kerbside else "disable-ticketing=on"),
            "-device", "virtio-serial-pci",
            "-chardev", f"spiceport,name={PORT_NAME},id=webdav0",
            "-device", f"virtserialport,chardev=webdav0,name={PORT_NAME}",
        ]
        if self.args.kerbside:
            cmd += ["-object", f"secret,id=spicepw,data={SPICE_TICKET}"]
        if self.args.vga != "none":
            cmd += ["-vga", self.args.vga]
        return cmd

    def start(self, accel: str) -> None:
        for f in (self.console, self.debug):
            f.unlink(missing_ok=True)
        self.accel = accel
        self.serial = SerialLog(self.console)
        cmd = self.command(accel)
        (self.run_dir / f"qemu-{accel}.cmd").write_text(shlex.join(cmd) + "\n")
        log(f"starting QEMU ({accel}), SPICE on 127.0.0.1:{self.port}")
        with open(self.run_dir / f"qemu-{accel}.log", "wb") as qemu_log:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=qemu_log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        status = stop_process(self.proc, signal.SIGTERM, 5.0)
        return status


class Client:
    """The SPICE client under test (ryll, or --client-cmd), one process per phase."""

    def __init__(self, args: argparse.Namespace, run_dir: Path, port: int) -> None:
        self.args = args
        self.run_dir = run_dir
        self.port = port
        self.proc: subprocess.Popen | None = None
        self.name = ""
        self.started = 0.0
        # With --kerbside: fetches a fresh console.vv (ryll deletes it: delete-this-file=1) and returns its path.
        self.vv_source: Callable[[str], Path] | None = None

    def command(self, share: Path, ro: bool) -> list[str]:
        addr = f"127.0.0.1:{self.port}"
        source = [str(self.vv_source(self.name))] if self.vv_source else ["--direct", addr]
        std = source + ["--headless", "--share-dir", str(share)] + (["--share-dir-ro"] if ro else [])
        std += self.args.client_arg
        if not self.args.client_cmd:
            return [str(self.args.ryll)] + std
        template = self.args.client_cmd
        if "{" not in template:
            return shlex.split(template) + std
        values = {"addr": addr, "host": "127.0.0.1", "port": str(self.port), "share": str(share)}
        out = []
        for word in shlex.split(template):
            if word == "{ro}":
                out += ["--share-dir-ro"] if ro else []
            else:
                out.append(word.format(**values, ro="--share-dir-ro" if ro else ""))
        return out

    def start(self, name: str, share: Path, ro: bool) -> None:
        self.name = name
        self.started = time.monotonic()
        cmd = self.command(share, ro)
        log(f"starting client for phase {name}: {shlex.join(cmd)}")
        env = dict(os.environ)
        env.setdefault("RUST_BACKTRACE", "1")
        with open(self.run_dir / f"client-{name}.log", "wb") as out:
            out.write(f"$ {shlex.join(cmd)}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                start_new_session=True, cwd=REPO,
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        status = stop_process(self.proc, signal.SIGINT, 20.0)
        log(f"client for phase {self.name} stopped, exit status {status}")
        self.proc = None
        return status


# ------------------------------------------------------------------------------------------
# Share trees


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MIB), b""):
            h.update(chunk)
    return h.hexdigest()


def read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def write_files(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    lines = [f"{hashlib.sha256(data).hexdigest()}  {rel}\n" for rel, data in sorted(files.items())]
    (root / "MANIFEST.sha256").write_text("".join(lines), encoding="utf-8")


def share_a_files() -> dict[str, bytes]:
    files = {
        "hello.txt": b"Hello from the ryll host.\n",
        "notes with spaces.txt": b"A name with spaces.\n" * 3,
        "caf\u00e9 menu.txt": "Caf\u00e9 au lait, cr\u00e8me br\u00fbl\u00e9e.\n".encode(),
        "100% done.txt": b"A name with a percent sign.\n",
        "sub dir/inner.txt": b"inside a directory with a space\n",
        "sub dir/deeper/leaf.txt": b"two levels down\n",
        "data/one-mib.bin": os.urandom(MIB),
        "data/eight-mib.bin": os.urandom(8 * MIB),
        "to-copy.txt": b"copy me\n",
        "to-move.txt": b"move me\n",
        "to-delete.txt": b"delete me\n",
        "davfs-remove-me.txt": b"davfs2 removes me\n",
    }
    for i in range(1, 9):
        files[f"parallel/p{i}.bin"] = os.urandom(256 * 1024 * i)
    return files


def share_b_files() -> dict[str, bytes]:
    return {
        "readme.txt": b"This share is read-only.\n",
        "sub/inner.txt": b"read-only inner file\n",
        "sub/nested/deep.txt": b"read-only, two levels down\n",
        "blob.bin": os.urandom(64 * 1024),
    }


def tree_digest(root: Path) -> tuple[str, int]:
    """Hash names, types, modes, sizes, mtimes and contents of a tree (the root included)."""
    h = hashlib.sha256()
    count = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in [""] + sorted(dirnames + filenames):
            p = Path(dirpath) / name if name else Path(dirpath)
            st = p.lstat()
            rel = os.path.relpath(p, root)
            h.update(f"{rel}\0{st.st_mode:o}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
            if stat.S_ISREG(st.st_mode):
                h.update(sha256_file(p).encode())
            elif stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(p).encode())
            count += 1
    return h.hexdigest(), count


# ------------------------------------------------------------------------------------------
# The run


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.results = Results()
        self.deadline = time.monotonic() + args.timeout
        self.run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=args.vm_dir))
        self.guest: Guest | None = None
        self.client: Client | None = None
        self.lines: list[str] = []
        self.uploads: dict[str, str] = {}
        self.litmus: dict[str, tuple[int, int]] = {}
        self.litmus_fails: dict[str, list[str]] = {}
        self.litmus_skipped: dict[str, int] = {}
        self.phase_done: set[str] = set()
        self.phase_abort: set[str] = set()
        self.guest_results: list[Check] = []
        self.demo_lines: list[str] = []
        self.guest_done = False
        self.kerbside = None

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    # -- console parsing ---------------------------------------------------------------------
    def handle(self, line: str) -> None:
        self.lines.append(line)
        if self.args.verbose:
            print(f"    guest| {line}", flush=True)
        words = line.split(" ", 3)
        kind = words[0]
        if kind == "RESULT" and len(words) >= 3:
            detail = words[3] if len(words) > 3 else ""
            if words[2] not in ("PASS", "FAIL"):
                detail = f"unparseable result line: {line}"
            self.results.add(f"guest.{words[1]}", "PASS" if words[2] == "PASS" else "FAIL", detail)
        elif kind == "UPLOAD" and len(words) >= 3:
            name, _, digest = line[len("UPLOAD ") :].rpartition(" ")
            self.uploads[name] = digest
        elif kind == "LITMUS" and len(words) >= 4:
            self.litmus[words[1]] = (int(words[2]), int(words[3]))
        elif kind == "LITMUS_SKIP" and len(words) >= 3:
            self.litmus_skipped[words[1]] = int(words[2])
        elif kind == "LITMUS_FAIL" and len(words) >= 3:
            self.litmus_fails.setdefault(words[1], []).append(" ".join(words[2:]))
        elif kind == "PHASE" and len(words) >= 3 and words[2] == "DONE":
            self.phase_done.add(words[1])
            log(f"guest finished phase {words[1]}")
        elif kind == "PHASE" and len(words) >= 3 and words[2] == "ABORT":
            self.phase_abort.add(words[1])
            log(f"guest gave up on phase {words[1]}")
        elif kind == "PHASE" and len(words) >= 3 and words[2] == "START":
            log(f"guest started phase {words[1]}")
        elif kind == "WATCHDOG":
            self.results.add("guest.watchdog", "FAIL", line)
        elif kind == "GUEST":
            if len(words) > 1 and words[1] == "DONE":
                self.guest_done = True
            if len(words) > 1 and words[1] in ("ERROR", "WARN"):
                self.results.add("guest.setup", "FAIL", line)
            elif not self.args.verbose:
                log(f"guest: {line}")
        elif kind == "DEMO":
            self.demo_lines.append(line)
            if line.startswith("DEMO |"):
                print(line[len("DEMO |") :], flush=True)

    def pump(self) -> None:
        if self.guest and self.guest.serial:
            for line in self.guest.serial.poll():
                self.handle(line)

    def wait_until(self, cond, timeout: float, what: str, watch_client: bool = True) -> str | None:
        """Poll the console until cond() is true. Returns None, or why it gave up."""
        end = time.monotonic() + min(timeout, max(self.remaining(), 0))
        while True:
            self.pump()
            if cond():
                return None
            if self.guest and not self.guest.alive():
                self.pump()
                return None if cond() else f"QEMU exited (status {self.guest.proc.returncode}) before {what}"
            if watch_client and self.client and self.client.proc and not self.client.alive():
                self.pump()
                if cond():
                    return None
                return f"client exited (status {self.client.proc.returncode}) before {what}"
            if time.monotonic() >= end:
                return f"timed out waiting for {what}"
            time.sleep(0.2)

    # -- boot ----------------------------------------------------------------------------------
    def boot(self, mode: str) -> bool:
        guest_timeout = max(int(self.remaining()) - 30, 60)
        self.guest = Guest(self.args, self.run_dir, mode, guest_timeout)

        def booted() -> bool:
            return any(ln.startswith("GUEST BOOT") for ln in self.lines)

        accel = self.args.accel
        if accel == "auto":
            accel = "kvm" if os.access("/dev/kvm", os.R_OK | os.W_OK) else "tcg"
            if accel == "kvm":
                self.guest.start("kvm")
                why = self.wait_until(booted, self.args.kvm_probe, "the guest to boot under KVM")
                if why is None:
                    self.results.add("host.accel", "INFO", "kvm")
                    return self.results.ok("host.guest_boot", True, "accel=kvm")
                log(f"KVM probe failed ({why}); falling back to TCG")
                self.guest.stop()
                self.guest.console.replace(self.run_dir / "console-kvm-probe.log")
                self.lines.clear()
                accel = "tcg"
        self.guest.start(accel)
        why = self.wait_until(booted, self.args.boot_timeout, f"the guest to boot under {accel}")
        self.results.add("host.accel", "INFO", accel)
        return self.results.ok("host.guest_boot", why is None, why or f"accel={accel}")

    def start_client(self, phase: str, share: Path, ro: bool) -> None:
        assert self.guest is not None
        if self.client is None:
            self.client = Client(self.args, self.run_dir, self.guest.port)
        self.client.start(phase, share, ro)

    def stop_client(self, phase: str) -> None:
        if self.client is None or self.client.proc is None:
            return
        exited_early = not self.client.alive()
        status = self.client.stop()
        detail = f"exit status {status}" + (" (had exited on its own)" if exited_early else " after SIGINT")
        if self.args.client_cmd:
            self.results.add(f"host.{phase}.client_exit", "INFO", detail)
        else:
            self.results.ok(f"host.{phase}.client_exit", status == 0 and not exited_early, detail)

    def finish_guest(self) -> None:
        """Wait for the guest to power off by itself, then make sure QEMU is gone."""
        if self.guest is None:
            return
        # A guest that finished its scenario powers off within seconds; one that did not
        # (a phase failed on the host side) is still waiting, so do not wait long for it.
        finished = self.guest_done or self.phase_done >= set(PHASES) or self.args.demo
        why = self.wait_until(lambda: not self.guest.alive(), min(90 if finished else 5, max(self.remaining(), 5)),
                              "the guest to power off", watch_client=False)
        self.pump()
        if why is not None:
            if finished:
                self.results.add("host.guest_poweroff", "FAIL", why)
            else:
                self.results.add("host.guest_poweroff", "INFO", "scenario unfinished; QEMU stopped")
            self.guest.stop()
        else:
            status = self.guest.proc.returncode
            self.results.ok("host.guest_poweroff", self.guest_done and status == 0,
                            f"QEMU exit status {status}, guest done={self.guest_done}")

    # -- e2e -----------------------------------------------------------------------------------
    def e2e(self) -> int:
        share_a = self.run_dir / "share-a"
        share_b = self.run_dir / "share-b"
        files_a = share_a_files()
        files_b = share_b_files()
        write_files(share_a, files_a)
        write_files(share_b, files_b)
        (share_b / "sub" / "inner.txt").chmod(0o640)
        log(f"run directory {self.run_dir}")
        if not self.boot("e2e"):
            return self.report()
        if self.args.kerbside and not self.through_kerbside(share_a):
            self.finish_guest()
            return self.report()
        phase_timeouts = {"rw": self.args.rw_timeout, "ro": 300, "restart": 300}
        for phase in PHASES:
            share = share_b if phase == "ro" else share_a
            (share / "_phase.txt").write_text(phase + "\n")
            before = tree_digest(share_b) if phase == "ro" else None
            self.start_client(phase, share, phase == "ro")

            def ended(phase: str = phase) -> bool:
                return phase in self.phase_done or phase in self.phase_abort

            why = self.wait_until(ended, phase_timeouts[phase], f"phase {phase}")
            if why is None and phase in self.phase_abort:
                why = "the guest gave up waiting for this phase"
            self.results.ok(f"host.{phase}.phase_done", why is None, why or "")
            if phase == "rw" and why is None and self.args.kerbside:
                self.reshare_after_token_expiry()
            self.stop_client(phase)
            if phase == "rw" and why is None:
                self.verify_rw(share_a, files_a)
            elif phase == "ro" and before is not None:
                after = tree_digest(share_b)
                self.results.ok("host.ro.tree_unchanged", before == after,
                                f"{before[1]} entries" if before == after else
                                f"before {before[0][:12]} ({before[1]}), after {after[0][:12]} ({after[1]})")
            if why is not None:
                break
        self.finish_guest()
        self.litmus_table()
        return self.report()

    # -- kerbside ------------------------------------------------------------------------------
    def through_kerbside(self, share: Path) -> bool:
        """Sets kerbside up in front of the guest, checks enforce mode, and leaves it in warn mode for the phases."""
        import kerbside_env as kerbside  # tests/vm/kerbside_env.py

        assert self.guest is not None
        r = self.results
        k = kerbside.Kerbside(self.args.kerbside_venv, self.run_dir / "kerbside", self.guest.port, SPICE_TICKET, log)
        self.kerbside = k
        try:
            k.setup()
            k.start_daemon("enforce")
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            return r.ok("host.kerbside.setup", False, str(e))
        r.ok("host.kerbside.setup", True, f"kerbside {kerbside.VERSION}, MariaDB, static source, demo token")

        def fetch(name: str) -> Path:
            vv = self.run_dir / f"console-{name}.vv"
            text = k.console_vv(vv)
            if name == "enforce":
                r.ok("host.kerbside.console_vv", "tls-port=" in text and "password=" in text and "ca=" in text,
                     f"{len(text)} bytes from the REST API")
            return vv

        self.client = Client(self.args, self.run_dir, self.guest.port)
        self.client.vv_source = fetch
        self.client.start("enforce", share, False)
        client_log = self.run_dir / "client-enforce.log"

        def said() -> bool:
            return PORT_INIT_DIAGNOSIS in (read_or_none(client_log) or b"").decode(errors="replace")

        why = self.wait_until(said, 60, "ryll's diagnosis of the WebDAV channel closed at PORT_INIT")
        r.ok("host.enforce.diagnosis", why is None, why or "ryll named the cause (a proxy filtering port messages)")
        # The session must stay, and the channel must not be relinked in a tight loop.
        time.sleep(self.args.enforce_watch)
        text = (read_or_none(client_log) or b"").decode(errors="replace")
        links = text.count("channel linked: 11:0")
        delays = [int(w.split(" ms", 1)[0]) for w in text.split("relinking in ")[1:] if w.split(" ms", 1)[0].isdigit()]
        r.ok("host.enforce.session_kept", self.client.alive(), "ryll still running" if self.client.alive() else "")
        # The relink backoff (200 ms doubling) allows about 7 links in the first 12 s; a tight loop makes hundreds.
        r.ok("host.enforce.no_tight_loop", links <= 8 and delays == sorted(delays),
             f"{links} WebDAV links, relink delays {delays} ms")
        r.ok("host.enforce.said_once", text.count(PORT_INIT_DIAGNOSIS) == 1,
             f"diagnosis printed {text.count(PORT_INIT_DIAGNOSIS)} times")
        self.stop_client("enforce")
        try:
            k.start_daemon("warn")
        except (RuntimeError, OSError) as e:
            return r.ok("host.kerbside.warn_mode", False, str(e))
        return True

    def reshare_after_token_expiry(self) -> None:
        """Stops and starts the share in the rw client (SIGUSR1 twice) once kerbside's console token (one minute) has
        expired: that must need no new WebDAV link, which kerbside would refuse now (PERMISSION_DENIED)."""
        assert self.client is not None and self.client.proc is not None
        r = self.results
        path = self.run_dir / "client-rw.log"

        def text() -> str:
            return (read_or_none(path) or b"").decode(errors="replace")

        wait = 65 - (time.monotonic() - self.client.started)
        if wait > 0:
            time.sleep(wait)
        age = time.monotonic() - self.client.started
        before = text()
        links = before.count("channel linked: 11:0")
        for what, line in (("stop", "INFO sharing stopped"), ("start", "INFO sharing /")):
            count = text().count(line)
            self.client.proc.send_signal(signal.SIGUSR1)
            why = self.wait_until(lambda: text().count(line) > count, 15, f"the share to {what}")
            if why is not None:
                r.add("host.rw.reshare_no_relink", "FAIL", why)
                return
        time.sleep(3)
        after = text()[len(before):]
        relinked = after.count("channel linked: 11:0") + after.count("webdav) closed") + after.count("PERMISSION")
        r.ok("host.rw.reshare_no_relink", relinked == 0 and text().count("channel linked: 11:0") == links,
             f"share stopped and started {age:.0f} s into the session (token expired), no new link"
             if relinked == 0 else f"the WebDAV channel was relinked or refused: {after[-300:]!r}")

    def verify_rw(self, a: Path, files: dict[str, bytes]) -> None:
        r = self.results
        if not self.uploads:
            r.add("host.rw.uploads", "FAIL", "the guest reported no uploads")
        for name, digest in sorted(self.uploads.items()):
            p = a / name
            got = sha256_file(p) if p.is_file() else "missing"
            r.ok(f"host.rw.upload[{name}]", got == digest, f"sha256 {got[:16]}" if got != digest else "sha256 ok")
        r.ok("host.rw.mkcol", (a / "new-folder").is_dir())
        r.ok("host.rw.copy", read_or_none(a / "new-folder" / "copied.txt") == files["to-copy.txt"]
             and read_or_none(a / "to-copy.txt") == files["to-copy.txt"])
        r.ok("host.rw.move", not (a / "to-move.txt").exists()
             and read_or_none(a / "new-folder" / "moved.txt") == files["to-move.txt"])
        r.ok("host.rw.delete", not (a / "to-delete.txt").exists())
        r.ok("host.rw.put_small", read_or_none(a / "sub dir" / "from guest.txt") == b"written by the guest\n")
        r.ok("host.rw.davfs_mkdir", (a / "davfs-dir").is_dir())
        r.ok("host.rw.davfs_mv", read_or_none(a / "davfs-dir" / "davfs-moved.txt") == b"moved by davfs\n"
             and not (a / "davfs-b.txt").exists())
        r.ok("host.rw.davfs_rm", not (a / "davfs-temp.txt").exists() and not (a / "davfs-remove-me.txt").exists())
        changed = {"to-move.txt", "to-delete.txt", "davfs-remove-me.txt"}
        bad = [n for n, d in files.items() if n not in changed and read_or_none(a / n) != d]
        r.ok("host.rw.originals_intact", not bad, ", ".join(bad) or f"{len(files) - len(changed)} files")
        expected_top = {n.split("/")[0] for n in files} | {
            "MANIFEST.sha256", "_phase.txt", "new-folder", "davfs-dir", "litmus", *self.uploads,
        }
        extra = sorted(set(os.listdir(a)) - expected_top - changed)
        if extra:
            r.add("host.rw.unexpected_entries", "INFO", ", ".join(extra))

    def litmus_table(self) -> None:
        if "rw" not in self.phase_done and not self.litmus:
            return
        known = load_known_failures(self.args.litmus_known_failures)
        for suite in LITMUS_SUITES:
            if suite not in self.litmus:
                self.results.add(f"litmus.{suite}", "FAIL", "no result")
                continue
            passed, failed = self.litmus[suite]
            fails = self.litmus_fails.get(suite, [])
            names = [f.split(" ", 1)[0] for f in fails]
            detail = f"{passed} passed, {failed} failed"
            if self.litmus_skipped.get(suite):
                detail += f", {self.litmus_skipped[suite]} skipped"
            if fails:
                counted = {n: names.count(n) for n in names}
                detail += ": " + ", ".join(n if c == 1 else f"{n} x{c}" for n, c in counted.items())
            if failed == 0:
                status = "PASS"
            elif len(names) == failed and all(f"{suite}:{n}" in known for n in names):
                status = "XFAIL"
            else:
                status = "FAIL"
            self.results.add(f"litmus.{suite}", status, detail)

    # -- demo ----------------------------------------------------------------------------------
    def demo(self) -> int:
        share = self.args.demo_share
        hello = share / "hello-from-guest.txt"
        hello.unlink(missing_ok=True)
        log(f"demo: sharing {share} read-write")
        if not self.boot("demo"):
            return self.report()
        self.start_client("demo", share, False)

        def done() -> bool:
            return any(ln.startswith(("DEMO DONE", "DEMO FAILED")) for ln in self.lines)

        why = self.wait_until(done, 300, "the demo")
        self.results.ok("host.demo.guest_done", why is None and any(ln == "DEMO DONE" for ln in self.lines),
                        why or "")
        self.stop_client("demo")
        self.finish_guest()
        if hello.is_file():
            text = hello.read_text(errors="replace")
            print(f"\nhost: {hello.relative_to(REPO)} arrived on the host ({len(text)} bytes):")
            for line in text.splitlines():
                print(f"    {line}")
            hello.unlink()
            print(f"host: removed {hello.relative_to(REPO)}\n", flush=True)
            self.results.add("host.demo.file_arrived", "PASS", str(hello.name))
        else:
            self.results.add("host.demo.file_arrived", "FAIL", f"{hello} is missing")
        return self.report()

    # -- end -----------------------------------------------------------------------------------
    def report(self) -> int:
        passed, failed = self.results.counts()
        title = "ryll end-to-end results" if not self.args.demo else "ryll demo"
        self.results.print_table(title)
        if self.litmus_fails:
            print("litmus failures:")
            for suite, fails in self.litmus_fails.items():
                for f in fails:
                    print(f"  {suite}: {f}")
            print(flush=True)
        return 0 if failed == 0 and passed > 0 else 1

    def cleanup(self, status: int) -> None:
        if self.client is not None:
            self.client.stop()
        if self.kerbside is not None:
            self.kerbside.stop()
        if self.guest is not None and self.guest.alive():
            self.guest.stop()
        if self.args.keep:
            log(f"kept {self.run_dir} (console.log, guest-debug.log, client-*.log, shares)")
            return
        last = self.args.vm_dir / "last-run"
        shutil.rmtree(last, ignore_errors=True)
        last.mkdir(parents=True)
        for f in self.run_dir.iterdir():
            if f.is_file():
                shutil.copy2(f, last / f.name)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        log(f"logs in {last} ({'failed' if status else 'passed'}; --keep keeps the shares too)")


def load_known_failures(path: Path | None) -> set[str]:
    if path is None or not path.is_file():
        return set()
    out = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.add(line)
    return out


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog="See tests/vm/README.md.")
    ap.add_argument("--ryll", type=Path, help="the ryll binary to test")
    ap.add_argument("--client-cmd", help="use another SPICE client: a command prefix given ryll's arguments, or "
                    "a template with {addr} {host} {port} {share} {ro}")
    ap.add_argument("--client-arg", action="append", default=[], help="extra argument for the client (repeatable)")
    ap.add_argument("--vm-dir", type=Path, default=Path(os.environ.get("RYLL_VM_DIR", REPO / "target" / "testvm")))
    ap.add_argument("--keep", action="store_true", help="keep the run directory (shares and logs)")
    ap.add_argument("--demo", action="store_true", help="run the demo instead of the tests")
    ap.add_argument("--demo-share", type=Path, default=VM_SRC / "demo-share")
    ap.add_argument("--no-build", action="store_true", help="do not run build-image.sh first")
    ap.add_argument("--accel", choices=("auto", "kvm", "tcg"), default="auto")
    ap.add_argument("--kvm-probe", type=float, default=15.0, help="seconds for a KVM boot before using TCG")
    ap.add_argument("--boot-timeout", type=float, default=120.0)
    ap.add_argument("--timeout", type=int, default=900, help="limit for the whole run, seconds")
    ap.add_argument("--rw-timeout", type=float, default=600.0, help="limit for the rw phase, seconds")
    ap.add_argument("--phase-wait", type=int, default=300, help="how long the guest waits for a phase")
    ap.add_argument("--memory", type=int, default=1536, help="guest RAM in MiB")
    ap.add_argument("--vga", default="none", help="QEMU -vga type (default: no display device)")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--litmus-known-failures", type=Path, default=VM_SRC / "litmus-known-failures.txt")
    ap.add_argument("-v", "--verbose", action="store_true", help="echo every guest console line")
    ap.add_argument("--kerbside", action="store_true", help="connect through kerbside (tests/vm/kerbside_env.py)")
    ap.add_argument("--kerbside-venv", type=Path, default=REPO / "target" / "kerbside" / "venv",
                    help="where kerbside is installed (a cache; created when missing)")
    ap.add_argument("--enforce-watch", type=float, default=12.0,
                    help="seconds to watch ryll after the enforce-mode diagnosis")
    args = ap.parse_args(argv)
    if not args.ryll and not args.client_cmd:
        ap.error("give --ryll PATH (or --client-cmd)")
    if args.ryll:
        args.ryll = args.ryll.resolve()
        if not os.access(args.ryll, os.X_OK):
            ap.error(f"{args.ryll} is not an executable")
    args.vm_dir = args.vm_dir.resolve()
    args.demo_share = args.demo_share.resolve()
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    args.vm_dir.mkdir(parents=True, exist_ok=True)
    if not args.no_build:
        env = dict(os.environ, RYLL_VM_DIR=str(args.vm_dir))
        subprocess.run(["bash", str(VM_SRC / "build-image.sh")], check=True, env=env, timeout=1800)

    def on_term(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    run = Run(args)
    status = 1
    try:
        status = run.demo() if args.demo else run.e2e()
    except KeyboardInterrupt:
        log("interrupted")
        status = 130
    finally:
        run.cleanup(status)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
