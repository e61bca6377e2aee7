#!/usr/bin/env python3
"""Screenshot of the ryll window sharing a folder with the bundled test VM (or, with --usb, its USB panel).

Starts Xvfb, boots the test guest (tests/vm) in its e2e mode, where the guest's spice-webdavd opens the WebDAV
port and polls the share once a second while it waits for a phase that never comes, starts the real ryll window
sharing two named folders (--share), waits until ryll logs that the guest opened the port and the guest has made a
few requests, checks that the window is mapped, and saves the screen as a PNG. Fails if any step does not happen in
time.

With --usb, the guest boots in its USB mode instead (tests/vm/run_usb.py: qemu-xhci and usb-redir), ryll's window
gets a FAT image with --usb-disk (its USB panel opens), and the shot is taken once the guest has mounted the disk
and read a file from it.

  python3 tests/gui/screenshot.py --ryll target/release/ryll --out docs/images/ryll-folders.png
  python3 tests/gui/screenshot.py --ryll target/release/ryll --usb --out docs/images/ryll-usb.png
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 1100, 720
PORT_OPEN = "the guest's spice-webdavd opened the port"
FIRST_FRAME = "first full frame"


def log(msg: str) -> None:
    print(f"screenshot: {msg}", flush=True)


def load_harness(name: str = "run_e2e"):
    """A harness of tests/vm: run_e2e (its guest, KVM probe and console parsing) or run_usb (the USB guest)."""
    path = REPO / "tests" / "vm" / f"{name}.py"
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def start_xvfb(work: Path) -> tuple[subprocess.Popen, str]:
    """Xvfb on a free display number (-displayfd); returns the process and the DISPLAY value."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{WIDTH}x{HEIGHT}x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=open(work / "xvfb.log", "wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        number = f.readline().strip()
    if not number:
        raise SystemExit(f"Xvfb did not start (see {work / 'xvfb.log'})")
    return proc, f":{number}"


def window_mapped(display: str, title: str) -> bool:
    out = subprocess.run(["xwininfo", "-root", "-tree"], env=dict(os.environ, DISPLAY=display),
                         capture_output=True, text=True, check=False).stdout
    return any(f'"{title}"' in line for line in out.splitlines())


def stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, grace: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=grace)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ryll", type=Path, required=True, help="the ryll binary (with the window)")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "ryll-folders.png")
    ap.add_argument("--share", type=Path, default=REPO / "tests" / "vm" / "demo-share")
    ap.add_argument("--vm-dir", type=Path, default=Path(os.environ.get("RYLL_VM_DIR", REPO / "target" / "testvm")))
    ap.add_argument("--requests", type=int, default=4, help="guest requests to wait for before the shot")
    ap.add_argument("--timeout", type=float, default=300.0, help="limit for the whole run, seconds")
    ap.add_argument("--usb", action="store_true", help="show the USB panel with a disk the guest has mounted")
    args = ap.parse_args(argv)
    for tool in ("Xvfb", "xwininfo", "import"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: apt-get install xvfb x11-utils imagemagick")
    if args.usb:
        return usb_shot(args)

    e2e = load_harness()
    e2e_args = e2e.parse_args(["--ryll", str(args.ryll), "--no-build", "--vm-dir", str(args.vm_dir),
                               "--phase-wait", str(int(args.timeout)), "--timeout", str(int(args.timeout) + 60),
                               "--vga", "std"])
    work = Path(tempfile.mkdtemp(prefix="screenshot-"))
    deadline = time.monotonic() + args.timeout
    xvfb = ryll = None
    run = e2e.Run(e2e_args)
    status = 1
    try:
        xvfb, display = start_xvfb(work)
        log(f"Xvfb on {display}")
        if not run.boot("e2e"):
            raise SystemExit("the test guest did not boot")
        ryll_log = work / "ryll.log"
        # Copies at a fixed, neutral path: the picture shows no path of the machine it was taken on. Two named shares,
        # one read-only, so the panel shows its share list.
        share = Path("/tmp/ryll-screenshot/Documents")
        shutil.rmtree(share.parent, ignore_errors=True)
        shutil.copytree(args.share, share)
        pictures = share.parent / "Pictures"
        pictures.mkdir()
        for name in ("holiday.jpg", "scan.png"):
            (pictures / name).write_bytes(bytes(1024))
        cmd = [str(args.ryll.resolve()), "--direct", f"127.0.0.1:{run.guest.port}", "--no-remember",
               "--share", f"Documents={share}", "--share", f"Pictures={pictures}:ro"]
        log(f"starting {' '.join(cmd)}")
        env = dict(os.environ, DISPLAY=display, RYLL_LOG="ryll=debug,dav_server=warn,hyper=warn")
        env.pop("WAYLAND_DISPLAY", None)
        ryll = subprocess.Popen(cmd, stdout=open(ryll_log, "wb"), stderr=subprocess.STDOUT, env=env, cwd=REPO,
                                start_new_session=True)

        def requests_seen() -> int:
            return ryll_log.read_text(errors="replace").count("webdav request")

        while True:
            run.pump()
            text = ryll_log.read_text(errors="replace")
            desktop = FIRST_FRAME in text
            if PORT_OPEN in text and desktop and requests_seen() >= args.requests and window_mapped(display, "ryll"):
                break
            if ryll.poll() is not None:
                raise SystemExit(f"ryll exited with status {ryll.returncode}:\n{text[-2000:]}")
            if not run.guest.alive():
                raise SystemExit("QEMU exited before the screenshot")
            if time.monotonic() > deadline:
                why = "no window" if not window_mapped(display, "ryll") else "the guest did not use the share"
                raise SystemExit(f"timed out ({why}); ryll log:\n{text[-2000:]}")
            time.sleep(0.5)
        shoot(display, args.out, f"after {requests_seen()} guest requests")
        status = 0
    finally:
        stop(ryll, signal.SIGINT)
        run.cleanup(status)
        stop(xvfb)
        shutil.rmtree(work, ignore_errors=True)
    return status


def shoot(display: str, out: Path, what: str) -> None:
    """Saves the screen of `display` as `out`, after the window's next once-a-second repaint."""
    time.sleep(1.5)
    out.parent.mkdir(parents=True, exist_ok=True)
    # A palette PNG keeps the committed file small; the UI uses few colours.
    subprocess.run(["import", "-display", display, "-window", "root", "-strip", "-colors", "256", f"PNG8:{out}"],
                   check=True)
    log(f"saved {out} ({out.stat().st_size // 1024} KiB) {what}")


def usb_shot(args: argparse.Namespace) -> int:
    """The window with ryll's USB disk mounted in the guest: the USB panel's device, counters and status."""
    usb = load_harness("run_usb")
    uargs = usb.parse_args(["--ryll", str(args.ryll), "--vm-dir", str(args.vm_dir)])
    work = Path(tempfile.mkdtemp(prefix="screenshot-usb-"))
    # At a fixed, neutral path: the picture shows no path of the machine it was taken on.
    image = Path("/tmp/ryll-screenshot/stick.img")
    shutil.rmtree(image.parent, ignore_errors=True)
    image.parent.mkdir(parents=True)
    usb.make_image(image)
    xvfb = ryll = guest = None
    status = 1
    try:
        xvfb, display = start_xvfb(work)
        guest = usb.UsbGuest(uargs, work, "shot", usb.USB_REDIR)
        if guest.line("USB WAITING", args.timeout) != "USB WAITING":
            raise SystemExit("the USB test guest did not boot")
        cmd = [str(args.ryll.resolve()), "--direct", f"127.0.0.1:{guest.port}", "--no-remember", "--usb-disk",
               str(image)]
        log(f"starting {' '.join(cmd)}")
        env = dict(os.environ, DISPLAY=display, RYLL_LOG="ryll=info")
        env.pop("WAYLAND_DISPLAY", None)
        ryll_log = work / "ryll.log"
        ryll = subprocess.Popen(cmd, stdout=open(ryll_log, "wb"), stderr=subprocess.STDOUT, env=env, cwd=REPO,
                                start_new_session=True)
        steps = [("wait-disk", "USB DISK"), ("mount", "USB MOUNTED"), ("cat hello.txt", "USB CAT"),
                 ("write notes.txt", "USB WROTE")]
        for command, prefix in steps:
            answer = guest.ask(command, prefix, args.timeout)
            if not answer or not answer.startswith(prefix) or ryll.poll() is not None:
                text = ryll_log.read_text(errors="replace")
                raise SystemExit(f"guest step {command!r}: {answer!r}; ryll log:\n{text[-2000:]}")
        if not window_mapped(display, "ryll"):
            raise SystemExit("the ryll window is not mapped")
        shoot(display, args.out, "with the disk mounted in the guest")
        guest.ask("umount", "USB UMOUNTED", 60)
        status = 0
    finally:
        stop(ryll, signal.SIGINT)
        if guest is not None:
            guest.stop()
        stop(xvfb)
        shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
