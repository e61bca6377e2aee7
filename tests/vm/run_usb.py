#!/usr/bin/env python3
"""ryll's virtual USB disk (`--usb-disk`) in the bundled Linux test VM, through QEMU's usb-redir device.

One boot with `qemu-xhci` and a `spicevmc` usbredir chardev. The host makes a 16 MiB FAT image holding a known
file. ryll attaches it read-write: the guest finds the disk, its bytes match the image (sha256 of a region), it
mounts the file system, reads the file, writes another and unmounts; ryll is stopped (the guest sees the disk
go), and the new file is in the image. ryll attaches it again, read-only, to the same running guest: the disk
shows write-protected, a raw write fails, and the image is byte-for-byte unchanged. Then one ryll with
`--commands` and no disk attaches it, the guest writes a file, ryll detaches it (the file is in the image while
ryll still runs) and attaches it again read-only. The disk is a USB 3 SuperSpeed device throughout. With
`--bench`, sequential reads and writes through ryll's device are timed against QEMU's own `usb-storage` on a
copy of the image (a second boot).

See tests/vm/README.md ("USB"). Prints one line per check and `N passed, N failed`; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_e2e import REPO, Results, SerialLog, free_port, log, stop_process  # noqa: E402

IMAGE_MIB = 16
# QEMU's usbredir channel and its usb-redir device on the guest's xHCI controller.
USB_REDIR = ["-chardev", "spicevmc,name=usbredir,id=usbredir1", "-device", "usb-redir,chardev=usbredir1,bus=xhci.0"]
NOISE_MIB = 14
HELLO = b"hello from the host, through ryll's USB disk\n"
WRITTEN = b"written by the guest\n"


def make_image(path: Path) -> None:
    """A FAT image of IMAGE_MIB MiB holding HELLO as hello.txt and NOISE_MIB MiB of random bytes as noise.bin, so a
    raw read moves data LZ4 cannot shrink (mkfs.vfat and mcopy, from dosfstools and mtools)."""
    path.unlink(missing_ok=True)
    subprocess.run(["mkfs.vfat", "-C", "-n", "RYLLUSB", str(path), str(IMAGE_MIB * 1024)], check=True,
                   stdout=subprocess.DEVNULL)
    hello, noise = path.with_name("hello.txt"), path.with_name("noise.bin")
    hello.write_bytes(HELLO)
    noise.write_bytes(os.urandom(NOISE_MIB * 1024 * 1024))
    subprocess.run(["mcopy", "-i", str(path), str(hello), str(noise), "::"], check=True)


def image_file(path: Path, name: str) -> bytes | None:
    """A file of the FAT image, or None."""
    r = subprocess.run(["mtype", "-i", str(path), f"::{name}"], capture_output=True, check=False)
    return r.stdout if r.returncode == 0 else None


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class UsbGuest:
    def __init__(self, args: argparse.Namespace, run_dir: Path, name: str, usb: list[str]) -> None:
        self.args, self.dir, self.name = args, run_dir / name, name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.ctl_path = self.dir / "ctl.sock"
        self.serial = SerialLog(self.dir / "console.log")
        append = f"console=ttyS0 quiet panic=1 ryll.mode=usb ryll.timeout={args.guest_timeout}"
        cmd = [args.qemu, "-nodefaults", "-no-user-config", "-name", f"ryll-usb-{name}",
               "-accel", "tcg,thread=multi", "-cpu", "max", "-m", "1024", "-smp", "2",
               "-display", "none", "-monitor", "none", "-no-reboot", "-vga", "none",
               "-kernel", str(args.kernel), "-initrd", str(args.initrd), "-append", append,
               "-serial", f"file:{self.dir / 'console.log'}", "-serial", f"file:{self.dir / 'guest-debug.log'}",
               "-spice", f"port={self.port},addr=127.0.0.1,disable-ticketing=on",
               "-device", "virtio-serial-pci",
               "-chardev", f"socket,id=ctl,path={self.ctl_path},server=on,wait=off",
               "-device", "virtserialport,chardev=ctl,name=ryll.ctl",
               "-device", "qemu-xhci,id=xhci"] + usb
        (self.dir / "qemu.cmd").write_text(shlex.join(cmd) + "\n")
        log(f"{name}: starting QEMU, SPICE on 127.0.0.1:{self.port}")
        with open(self.dir / "qemu.log", "wb") as qlog:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=qlog, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.ctl.connect(str(self.ctl_path))
                break
            except OSError:
                self.ctl.close()
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"{name}: QEMU's control socket never opened") from None
                time.sleep(0.1)

    def line(self, prefix: str, timeout: float) -> str | None:
        """The next console line starting with `prefix` (or USB ERROR), or None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            for ln in self.serial.poll():
                if self.args.verbose:
                    log(f"{self.name} guest: {ln}")
                if ln.startswith(prefix) or ln.startswith("USB ERROR"):
                    return ln
            time.sleep(0.1)
        return None

    def ask(self, command: str, prefix: str, timeout: float = 120.0) -> str | None:
        self.ctl.sendall(command.encode() + b"\n")
        return self.line(prefix, timeout)

    def stop(self) -> None:
        try:
            self.ctl.sendall(b"quit\n")
        except OSError:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        stop_process(self.proc, signal.SIGTERM, 5.0)
        self.ctl.close()


class Ryll:
    """One ryll process serving the disk on the guest's usbredir channel."""

    def __init__(self, args: argparse.Namespace, guest: UsbGuest, image: Path, read_only: bool, name: str) -> None:
        cmd = [str(args.ryll), "--direct", f"127.0.0.1:{guest.port}", "--headless", "--usb-disk", str(image)]
        cmd += (["--usb-disk-ro"] if read_only else []) + args.ryll_arg
        self.log_path = guest.dir / f"ryll-{name}.log"
        log(f"starting {shlex.join(cmd)}")
        env = dict(os.environ, RYLL_LOG=os.environ.get("RYLL_LOG", "ryll=info"))
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         env=env, start_new_session=True, cwd=REPO)

    def stop(self) -> int | None:
        return stop_process(self.proc, signal.SIGINT, 20.0)

    def said(self, text: str) -> bool:
        return text in self.log_path.read_text(errors="replace")


class RyllCommands:
    """One ryll process with no disk on the command line, driven through --commands on its standard input."""

    def __init__(self, args: argparse.Namespace, guest: UsbGuest) -> None:
        cmd = [str(args.ryll), "--direct", f"127.0.0.1:{guest.port}", "--commands"] + args.ryll_arg
        self.log_path = guest.dir / "ryll-commands.log"
        log(f"starting {shlex.join(cmd)}")
        env = dict(os.environ, RYLL_LOG=os.environ.get("RYLL_LOG", "ryll=info"))
        with open(self.log_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env,
                                         start_new_session=True, cwd=REPO, text=True, bufsize=1)

    def ask(self, command: str) -> str:
        """Sends one command; its one-line answer."""
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        log(f"ryll {command!r}: {answer!r}")
        return answer

    def until(self, command: str, want: str, timeout: float) -> str:
        """Asks `command` until its answer holds `want` or `timeout` seconds pass; the last answer."""
        end = time.monotonic() + timeout
        answer = self.ask(command)
        while want not in answer and time.monotonic() < end:
            time.sleep(0.2)
            answer = self.ask(command)
        return answer

    def quit(self) -> int | None:
        try:
            self.ask("quit")
            return self.proc.wait(20)
        except (OSError, subprocess.TimeoutExpired, AssertionError):
            return stop_process(self.proc, signal.SIGINT, 20.0)


def runtime(args: argparse.Namespace, guest: UsbGuest, image: Path, results: Results) -> None:
    """Attach, detach and attach again in one ryll process, with the guest running throughout."""
    ryll = RyllCommands(args, guest)
    try:
        linked = ryll.until("usb-status", "usb 0 linked", 60)
        results.ok("usb.runtime.linked_without_disk", "usb 0 linked no-disk" in linked, linked)
        got = ryll.ask(f"usb-attach 0 {image}")
        results.ok("usb.runtime.attach_asked", got.startswith("ok attaching"), got)
        disk = disk_line(guest.ask("wait-disk", "USB DISK", 120))
        results.ok("usb.runtime.attached", disk.get("ro") == "0", str(disk))
        results.ok("usb.runtime.mount", (guest.ask("mount", "USB MOUNTED") or "").startswith("USB MOUNTED rw"), "")
        results.ok("usb.runtime.write", guest.ask("write runtime.txt", "USB WROTE") == "USB WROTE status=0", "")
        guest.ask("umount", "USB UMOUNTED")
        got = ryll.ask("usb-detach 0")
        results.ok("usb.runtime.detach_asked", got == "ok detaching channel 0", got)
        results.ok("usb.runtime.gone", guest.ask("wait-gone", "USB GONE", 60) == "USB GONE", "")
        status = ryll.until("usb-status", "no-disk", 20)
        in_image = image_file(image, "runtime.txt")
        results.ok("usb.runtime.flushed_at_detach", "no-disk" in status and in_image == WRITTEN,
                   f"ryll still running; runtime.txt: {in_image!r}; {status}")
        got = ryll.ask(f"usb-attach 0 {image} ro")
        disk = disk_line(guest.ask("wait-disk", "USB DISK", 120))
        results.ok("usb.runtime.reattached_ro", got.startswith("ok") and disk.get("ro") == "1", f"{got}; {disk}")
        results.ok("usb.runtime.ro_mount", (guest.ask("mount", "USB MOUNTED") or "").startswith("USB MOUNTED ro"),
                   "")
        got = guest.ask("cat runtime.txt", "USB CAT")
        results.ok("usb.runtime.ro_read", got == f"USB CAT {sha(WRITTEN)}", str(got))
        guest.ask("umount", "USB UMOUNTED")
        got = ryll.ask("usb-attach 0 /nonexistent.img")
        results.ok("usb.runtime.bad_path_named", got.startswith("error: /nonexistent.img"), got)
    finally:
        status = ryll.quit()
    results.ok("usb.runtime.quit", status == 0, f"exit status {status}")
    results.ok("usb.runtime.gone_at_quit", guest.ask("wait-gone", "USB GONE", 60) == "USB GONE", "")


def disk_line(line: str | None) -> dict[str, str]:
    """USB DISK sda blocks=N ro=R as a dict."""
    if not line or not line.startswith("USB DISK"):
        return {}
    return dict(w.split("=", 1) for w in line.split()[3:] if "=" in w)


def scenario(args: argparse.Namespace, run_dir: Path, results: Results) -> None:
    image = run_dir / "stick.img"
    make_image(image)
    guest = UsbGuest(args, run_dir, "redir", USB_REDIR)
    try:
        ready = guest.line("USB WAITING", args.boot_timeout)
        if not results.ok("usb.boot", ready == "USB WAITING", str(ready)):
            return
        blocks = IMAGE_MIB * 2048
        rw = Ryll(args, guest, image, False, "rw")
        disk = disk_line(guest.ask("wait-disk", "USB DISK", 180))
        results.ok("usb.rw.disk_seen", disk.get("blocks") == str(blocks) and disk.get("ro") == "0", str(disk))
        if not disk:
            rw.stop()
            return
        want = sha(image.read_bytes()[:1024 * 512])
        got = guest.ask("sha 0 1024", "USB SHA")
        results.ok("usb.rw.bytes_match", got == f"USB SHA {want}", f"first 512 KiB: {got}")
        results.ok("usb.rw.mount", (guest.ask("mount", "USB MOUNTED") or "").startswith("USB MOUNTED rw"), "")
        got = guest.ask("cat hello.txt", "USB CAT")
        results.ok("usb.rw.read_file", got == f"USB CAT {sha(HELLO)}", str(got))
        results.ok("usb.rw.write_file", guest.ask("write guest.txt", "USB WROTE") == "USB WROTE status=0", "")
        results.ok("usb.rw.umount", guest.ask("umount", "USB UMOUNTED") == "USB UMOUNTED status=0", "")
        status = rw.stop()
        results.ok("usb.rw.ryll_exit", status == 0, f"exit status {status}")
        results.ok("usb.rw.detached", guest.ask("wait-gone", "USB GONE", 60) == "USB GONE", "")
        results.ok("usb.rw.write_in_image", image_file(image, "guest.txt") == WRITTEN,
                   "guest.txt holds what the guest wrote" if image_file(image, "guest.txt") == WRITTEN else
                   f"guest.txt: {image_file(image, 'guest.txt')!r}")

        before = sha(image.read_bytes())
        ro = Ryll(args, guest, image, True, "ro")
        disk = disk_line(guest.ask("wait-disk", "USB DISK", 180))
        results.ok("usb.reattach_same_guest", bool(disk), "the disk came back without a guest restart")
        results.ok("usb.ro.write_protected", disk.get("ro") == "1", str(disk))
        got = guest.ask("raw-write", "USB RAWWRITE")
        results.ok("usb.ro.raw_write_fails", bool(got) and got != "USB RAWWRITE status=0", str(got))
        results.ok("usb.ro.mount", (guest.ask("mount", "USB MOUNTED") or "").startswith("USB MOUNTED ro"), "")
        got = guest.ask("cat guest.txt", "USB CAT")
        results.ok("usb.ro.read_file", got == f"USB CAT {sha(WRITTEN)}", str(got))
        guest.ask("umount", "USB UMOUNTED")
        status = ro.stop()
        results.ok("usb.ro.ryll_exit", status == 0, f"exit status {status}")
        results.ok("usb.ro.image_unchanged", sha(image.read_bytes()) == before, "sha256 of the whole image")
        if not guest.ask("wait-gone", "USB GONE", 60):
            return
        runtime(args, guest, image, results)
    finally:
        guest.stop()
    if args.bench:
        bench(args, run_dir, image, results)


def alternating(args: argparse.Namespace, guest: UsbGuest, command: str, prefix: str,
                ok: Callable[[dict[str, str]], bool]) -> dict[str, list[int]]:
    """`--bench-runs` runs of `command VENDOR` on each disk, alternating (ABBA); each disk's times in ms."""
    times: dict[str, list[int]] = {"ryll": [], "QEMU": []}
    for i in range(args.bench_runs):
        for vendor in (("ryll", "QEMU") if i % 2 == 0 else ("QEMU", "ryll")):
            got = guest.ask(f"{command} {vendor}", prefix, 300) or ""
            fields = dict(w.split("=", 1) for w in got.split()[2:] if "=" in w)
            if ok(fields):
                times[vendor].append(int(fields["ms"]))
    return times


def report(results: Results, name: str, what: str, times: dict[str, list[int]], runs: int) -> None:
    """The medians of `times` and ryll's throughput relative to QEMU's usb-storage."""
    med = {v: sorted(t)[len(t) // 2] for v, t in times.items() if t}
    if not results.ok(f"usb.bench.{name}s", len(med) == 2, str(times)):
        return
    ratio = med["QEMU"] / med["ryll"]
    results.add(f"usb.bench.{name}", "INFO",
                f"{what}: ryll {med['ryll']} ms, QEMU usb-storage {med['QEMU']} ms (medians of {runs}: {times}); "
                f"ryll's throughput {ratio:.2f}x QEMU's")


def bench(args: argparse.Namespace, run_dir: Path, image: Path, results: Results) -> None:
    """One boot with two copies of the image, one on ryll's disk (through usb-redir) and one on QEMU's own
    usb-storage, both on the guest's xHCI. `--bench-runs` alternating reads of the whole disk (page cache dropped
    first), then alternating writes of its second half (with fsync); the medians and their ratios."""
    ours, theirs = run_dir / "bench-ryll.img", run_dir / "bench-qemu.img"
    shutil.copyfile(image, ours)
    shutil.copyfile(image, theirs)
    usb = USB_REDIR + ["-drive", f"if=none,id=stick,format=raw,file={theirs}",
                       "-device", "usb-storage,drive=stick,bus=xhci.0"]
    guest = UsbGuest(args, run_dir, "bench", usb)
    try:
        if not results.ok("usb.bench.boot", guest.line("USB WAITING", args.boot_timeout) == "USB WAITING", ""):
            return
        ryll = Ryll(args, guest, ours, False, "bench")
        seen = [disk_line(guest.ask(f"wait-disk {v}", "USB DISK", 180)) for v in ("ryll", "QEMU")]
        if not results.ok("usb.bench.both_disks", all(seen), str(seen)):
            ryll.stop()
            return
        size = str(IMAGE_MIB * 1024 * 1024)
        reads = alternating(args, guest, f"dd-read {IMAGE_MIB}", "USB DDREAD", lambda f: f.get("bytes") == size)
        half = IMAGE_MIB // 2
        writes = alternating(args, guest, f"dd-write {half}", "USB DDWRITE", lambda f: f.get("status") == "0")
        ryll.stop()
        report(results, "read", f"read {IMAGE_MIB} MiB", reads, args.bench_runs)
        report(results, "write", f"write {half} MiB + fsync", writes, args.bench_runs)
        same = ours.read_bytes()[half << 20:] == theirs.read_bytes()[half << 20:]
        results.ok("usb.bench.writes_landed", same, "both images hold the same written half")
    finally:
        guest.stop()


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The harness's options, with the guest kernel and initramfs found in --vm-dir."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ryll", type=Path, required=True)
    ap.add_argument("--vm-dir", type=Path, default=Path(os.environ.get("RYLL_VM_DIR", REPO / "target" / "testvm")))
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--boot-timeout", type=float, default=180.0)
    ap.add_argument("--guest-timeout", type=int, default=900)
    ap.add_argument("--bench", action="store_true", help="also time a sequential read against QEMU's usb-storage")
    ap.add_argument("--bench-runs", type=int, default=5, help="reads of each disk in the benchmark")
    ap.add_argument("--ryll-arg", action="append", default=[], help="extra argument for ryll (repeatable), e.g. "
                    "--ryll-arg=--capture=DIR")
    ap.add_argument("--keep", action="store_true", help="keep the run directory")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    args.ryll = args.ryll.resolve()
    args.kernel = next((args.vm_dir / k for k in ("vmlinux", "bzImage") if (args.vm_dir / k).is_file()), None)
    args.initrd = args.vm_dir / "initramfs.cpio"
    if args.kernel is None or not args.initrd.is_file():
        raise SystemExit(f"no guest kernel or initramfs in {args.vm_dir}: run make testvm")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    run_dir = Path(tempfile.mkdtemp(prefix="usb-", dir=args.vm_dir))
    results = Results()
    start = time.monotonic()
    try:
        scenario(args, run_dir, results)
    finally:
        last = args.vm_dir / "last-usb-run"
        subprocess.run(["rm", "-rf", str(last)], check=False)
        if args.keep:
            log(f"kept {run_dir}")
        else:
            run_dir.rename(last)
            log(f"logs in {last}")
    results.add("host.wall_time", "INFO", f"{time.monotonic() - start:.0f} s")
    results.print_table("USB disk tests in the Linux guest")
    return 0 if results.counts()[1] == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
