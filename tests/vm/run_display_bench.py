#!/usr/bin/env python3
"""The desktop benchmark: ryll's window against spice-gtk's `spicy`, on one booted test VM, in one run.

One boot of the bundled Linux guest on `-vga qxl` (qxl KMS, 1024×768, `image-compression=auto_glz`,
`streaming-video=filter`: QEMU's usual settings). Each client runs in its own Xvfb, in turns (ryll, spicy, spicy,
ryll, ...), and in each turn:
  idle      the guest shows a still screen for --idle seconds;
  scroll    the guest prints lines on its console for --seconds seconds (the whole screen scrolls);
  animate   the guest redraws a 1024×256 picture band for --seconds seconds, alternately mirrored (a moving
            image: an MJPEG stream under streaming-video=filter);
  keys      input to screen: a key pressed in the client's window with xdotool; the guest fills a block of its
            screen when its keyboard reports the press; the time until the block's colour shows on the Xvfb
            screen (polled with XGetImage), --keys presses.
  share     (ryll's turns) sharing alongside the display: the guest GETs a --get-mib MiB file of random bytes from
            ryll's share, alone and while it redraws its picture band about ten times a second (a video),
            alternately, --gets times each.
A third client, `ryll-headless`, is ryll without its window (`--commands`: the display channel linked and every
frame decoded onto the surface, nothing shown): the display pipeline alone, with the idle, scroll, animate and
share phases (no keys: nothing is shown to press them in).
CPU is the client's user+system time (/proc/PID/stat, every thread) and, beside it, its Xvfb's (where spicy's GTK
drawing ends up; ryll draws with OpenGL in its own process). Prints each turn and the medians as ryll/spicy ratios.
See tests/vm/README.md ("Desktop benchmark").
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_display import DisplayGuest, guest_kernel, pictures_initrd  # noqa: E402
from run_e2e import REPO, Results, log, stop_process  # noqa: E402

SCREEN = (1600, 1024)
# Both clients' windows: the guest's 1024×768 screen fits beside ryll's Folders panel.
WINDOW = (1600, 1000)
TICKS = os.sysconf("SC_CLK_TCK")


class XImage(ctypes.Structure):
    _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int), ("xoffset", ctypes.c_int),
                ("format", ctypes.c_int), ("data", ctypes.c_void_p), ("byte_order", ctypes.c_int),
                ("bitmap_unit", ctypes.c_int), ("bitmap_bit_order", ctypes.c_int), ("bitmap_pad", ctypes.c_int),
                ("depth", ctypes.c_int), ("bytes_per_line", ctypes.c_int), ("bits_per_pixel", ctypes.c_int)]


class Screen:
    """Reads pixels of an X screen (XGetImage on the root window, 32-bit BGRX at depth 24)."""

    def __init__(self, display: str) -> None:
        self.x = ctypes.cdll.LoadLibrary("libX11.so.6")
        self.x.XOpenDisplay.restype = ctypes.c_void_p
        self.x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self.x.XDefaultRootWindow.restype = ctypes.c_ulong
        self.x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        self.x.XGetImage.restype = ctypes.POINTER(XImage)
        self.x.XGetImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_ulong, ctypes.c_int]
        self.x.XDestroyImage.argtypes = [ctypes.POINTER(XImage)]
        self.x.XCloseDisplay.argtypes = [ctypes.c_void_p]
        self.dpy = self.x.XOpenDisplay(display.encode())
        if not self.dpy:
            raise RuntimeError(f"cannot open X display {display}")
        self.root = self.x.XDefaultRootWindow(self.dpy)

    def grab(self, x: int, y: int, w: int, h: int) -> bytes:
        """The area as rows of 4-byte pixels (B, G, R, X), w * 4 bytes a row."""
        img = self.x.XGetImage(self.dpy, self.root, x, y, w, h, 0xFFFFFFFF, 2)  # ZPixmap
        if not img:
            raise RuntimeError("XGetImage failed")
        i = img.contents
        raw = ctypes.string_at(i.data, i.bytes_per_line * h)
        self.x.XDestroyImage(img)
        return b"".join(raw[r * i.bytes_per_line:r * i.bytes_per_line + w * 4] for r in range(h))

    def close(self) -> None:
        self.x.XCloseDisplay(self.dpy)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Client:
    """One client in its own Xvfb."""

    def __init__(self, name: str, args: argparse.Namespace, port: int, work: Path) -> None:
        self.name, self.work = name, work
        read_fd, write_fd = os.pipe()
        self.xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten",
             "tcp"], pass_fds=(write_fd,), stdout=open(work / f"xvfb-{name}.log", "wb"), stderr=subprocess.STDOUT,
            start_new_session=True)
        os.close(write_fd)
        with os.fdopen(read_fd) as f:
            self.display = ":" + f.readline().strip()
        env = dict(os.environ, DISPLAY=self.display, RYLL_LOG=os.environ.get("RYLL_LOG", "ryll=info"))
        for k in ("WAYLAND_DISPLAY", "RYLL_PASSWORD", "SPICE_PROXY"):
            env.pop(k, None)
        ryll = [str(args.ryll), "--direct", f"127.0.0.1:{port}", "--no-remember", "--share-dir", str(args.share),
                "--share-dir-ro"]
        cmd = {"ryll": ryll, "ryll-headless": ryll + ["--commands"]}.get(name, ["spicy", "-h", "127.0.0.1", "-p",
                                                                             str(port)])
        self.log_path = work / f"{name}.log"
        # ryll-headless reads commands from its standard input: a pipe kept open until it stops.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if name == "ryll-headless" else subprocess.DEVNULL,
                                     stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        self.screen = Screen(self.display)

    def xdotool(self, *a: str) -> str:
        out = subprocess.run(["xdotool", *a], env=dict(os.environ, DISPLAY=self.display), capture_output=True,
                             text=True, timeout=30, check=False)
        return out.stdout.strip()

    def window(self, timeout: float) -> str:
        """The client's largest mapped window (spicy has a small one besides its main window)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}); see {self.log_path}")
            best = ("", 0)
            for wid in self.xdotool("search", "--onlyvisible", "--pid", str(self.proc.pid), "").split():
                geo = self.xdotool("getwindowgeometry", "--shell", wid)
                kv = dict(ln.split("=", 1) for ln in geo.splitlines() if "=" in ln)
                size = (int(kv.get("WIDTH", 0)), int(kv.get("HEIGHT", 0)))
                area = size[0] * size[1]
                # Only named top-level windows: the search also lists unnamed helper windows (one as big as
                # the screen).
                if self.xdotool("getwindowname", wid) and size != SCREEN and area > best[1]:
                    best = (wid, area)
            if best[1] > 200 * 200:
                return best[0]
            time.sleep(0.5)
        raise RuntimeError(f"{self.name}: no window after {timeout:.0f} s")

    def place(self) -> str:
        """Moves the window to the top left corner at WINDOW's size, gives it the keyboard with a click in its middle
        (which also grabs the pointer in server mouse mode, as a user's first click does); returns its id."""
        wid = self.window(60)
        self.xdotool("windowmove", "--sync", wid, "0", "0")
        self.xdotool("windowsize", "--sync", wid, str(WINDOW[0]), str(WINDOW[1]))
        time.sleep(1.0)
        self.xdotool("windowfocus", "--sync", wid)
        self.xdotool("mousemove", "--sync", str(WINDOW[0] // 3), str(WINDOW[1] // 2))
        self.xdotool("click", "1")
        return wid

    def cpu(self) -> tuple[float, float]:
        return cpu_seconds(self.proc.pid), cpu_seconds(self.xvfb.pid)

    def stop(self) -> None:
        self.screen.close()
        if self.proc.stdin:
            self.proc.stdin.close()
        stop_process(self.proc, grace=10.0)
        stop_process(self.xvfb, grace=5.0)


def run_phase(guest: DisplayGuest, client: Client, command: str, done: str,
              timeout: float) -> tuple[float, float, int]:
    """CPU seconds of the client, of the client with its Xvfb, and the guest's work: lines scrolled or frames drawn
    (the guest draws as fast as it can, so turns differ in how much there was to show)."""
    before = client.cpu()
    work = 0
    if command.startswith("idle "):
        time.sleep(float(command.split()[1]))
    else:
        guest.send(command)
        line = guest.wait_line(done, timeout)
        if not line or line.startswith("DISPLAY ERROR"):
            raise RuntimeError(f"the guest did not finish {command!r}: {line}")
        m = re.search(r"\((\d+) (?:lines|frames)\)", line)
        work = int(m.group(1)) if m else 0
    after = client.cpu()
    return after[0] - before[0], after[1] - before[1], work


def probe_point(before: bytes, after: bytes) -> tuple[int, int] | None:
    """The middle of the pixels that turned pure green or red between two full-screen grabs."""
    w = SCREEN[0]
    hits = [i // 4 for i in range(0, len(after), 4) if after[i:i + 4] != before[i:i + 4]
            and after[i:i + 3] in (b"\x00\xff\x00", b"\x00\x00\xff")]
    if len(hits) < 100:
        return None
    mid = hits[len(hits) // 2]
    return mid % w, mid // w


def key_latency(guest: DisplayGuest, client: Client, presses: int, timeout: float) -> list[float]:
    """Milliseconds from each key press to its colour on the screen (the first press finds the block)."""
    guest.send(f"keys {presses + 1}")
    line = guest.wait_line("DISPLAY KEYS READY", timeout)
    if not line or line.startswith("DISPLAY ERROR"):
        raise RuntimeError(f"the guest's key watch did not start: {line}")
    full = (0, 0, SCREEN[0], SCREEN[1])
    before = client.screen.grab(*full)
    client.xdotool("key", "a")
    deadline = time.monotonic() + timeout
    point = None
    while point is None and time.monotonic() < deadline:
        time.sleep(0.5)
        point = probe_point(before, client.screen.grab(*full))
    if point is None:
        shot = client.work / f"no-block-{client.name}.png"
        subprocess.run(["import", "-display", client.display, "-window", "root", str(shot)], check=False)
        raise RuntimeError(f"{client.name}: the guest's block never showed on the screen (see {shot})")
    times = []
    for _ in range(presses):
        time.sleep(0.6)
        old = client.screen.grab(point[0], point[1], 1, 1)
        start = time.monotonic()
        client.xdotool("key", "a")
        while (now := time.monotonic()) - start < 10:
            if client.screen.grab(point[0], point[1], 1, 1) != old:
                times.append((now - start) * 1000)
                break
            time.sleep(0.001)
    guest.wait_line("DISPLAY KEYS", timeout)
    return times


def shared_gets(args: argparse.Namespace, guest: DisplayGuest) -> list[tuple[float, float]]:
    """(seconds alone, seconds beside the video) of each pair of GETs of the big file."""
    def get(video: bool) -> float:
        guest.send("get big.bin video" if video else "get big.bin")
        line = guest.wait_line("DISPLAY GET", 900) or ""
        parts = line.split()
        if len(parts) != 5 or parts[3] != "200" or int(parts[4]) != args.get_mib << 20:
            raise RuntimeError(f"the guest's GET failed: {line!r}")
        return float(parts[2])

    return [(get(False), get(True)) for _ in range(args.gets)]


def turn(args: argparse.Namespace, guest: DisplayGuest, name: str, work: Path) -> dict[str, object]:
    client = Client(name, args, guest.port, work)
    try:
        time.sleep(2.0)  # linked
        if name != "ryll-headless":
            client.place()
        time.sleep(args.settle)  # first frame drawn, the view laid out in its new size
        out: dict[str, object] = {}
        out["idle"] = run_phase(guest, client, f"idle {args.idle}", "", 0)
        out["scroll"] = run_phase(guest, client, f"scroll {args.seconds}", "DISPLAY SCROLLED", args.seconds + 120)
        out["animate"] = run_phase(guest, client, f"animate-for {args.seconds}", "DISPLAY ANIMATED",
                                   args.seconds + 120)
        guest.send("draw")
        guest.wait_line("DISPLAY DRAWN", 60)
        out["keys"] = key_latency(guest, client, args.keys, 60) if name != "ryll-headless" else []
        if name.startswith("ryll"):
            out["share"] = shared_gets(args, guest)
        return out
    finally:
        client.stop()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ryll", type=Path, required=True)
    ap.add_argument("--vm-dir", type=Path, default=Path(os.environ.get("RYLL_VM_DIR", REPO / "target" / "testvm")))
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--rounds", type=int, default=2, help="turns per client (alternating)")
    ap.add_argument("--seconds", type=int, default=30, help="length of the scroll and of the animation")
    ap.add_argument("--idle", type=int, default=10, help="length of the idle phase")
    ap.add_argument("--keys", type=int, default=15, help="timed key presses per turn")
    ap.add_argument("--settle", type=float, default=8.0, help="seconds after the window appears before measuring")
    ap.add_argument("--get-mib", type=int, default=1024, help="size of the file the guest GETs from the share")
    ap.add_argument("--gets", type=int, default=2, help="GETs alone and beside the video, each, per ryll turn")
    ap.add_argument("--clients", default="ryll,spicy,ryll-headless",
                    help="comma-separated, of ryll, spicy, ryll-headless (the first two are compared)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: one turn each, 5 s phases, 5 presses, one 64 MiB GET each way")
    ap.add_argument("--guest-timeout", type=int, default=3600)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds, args.idle, args.keys, args.get_mib, args.gets = 1, 5, 5, 5, 64, 1
    args.ryll = args.ryll.resolve()
    for tool in ("Xvfb", "xdotool", "spicy"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: run make deps")
    args.kernel = guest_kernel(args.vm_dir)
    work = Path(tempfile.mkdtemp(prefix="display-bench-", dir=args.vm_dir))
    args.initrd = work / "initrd-display.cpio"
    pictures_initrd(args.vm_dir, args.initrd)
    args.share = work / "share"
    args.share.mkdir()
    with open(args.share / "big.bin", "wb") as f:
        for _ in range(args.get_mib):
            f.write(os.urandom(1 << 20))
    results = Results()
    start = time.monotonic()
    guest = DisplayGuest(args, work, "bench", "qxl", "image-compression=auto_glz,streaming-video=filter")
    order = args.clients.split(",")
    turns: dict[str, list[dict[str, object]]] = {name: [] for name in order}
    try:
        line = guest.wait_line("DISPLAY WAITING", 180)
        if not results.ok("boot", bool(line) and line.startswith("DISPLAY WAITING"), str(line)):
            return 1
        guest.send("draw")
        guest.wait_line("DISPLAY DRAWN", 60)
        for r in range(args.rounds):
            for name in order if r % 2 == 0 else order[::-1]:
                got = turn(args, guest, name, work)
                turns[name].append(got)
                keys = got["keys"]
                results.add(f"{name}.turn{len(turns[name])}", "INFO", ", ".join(
                    f"{k} {got[k][0]:.2f}+{got[k][1]:.2f} s" + (f" ({got[k][2]})" if got[k][2] else "")
                    for k in ("idle", "scroll", "animate")) +
                    (f"; keys {len(keys)} of {args.keys}, median {statistics.median(keys):.0f} ms" if keys else ""))
    except RuntimeError as e:
        results.add("run", "FAIL", str(e))
        results.print_table("desktop benchmark: ryll's window against spicy")
        return 1
    finally:
        guest.stop()
        args.initrd.unlink(missing_ok=True)
        (args.share / "big.bin").unlink(missing_ok=True)
        log(f"logs in {work}")
    summarise(args, turns, results)
    results.add("host.wall_time", "INFO", f"{time.monotonic() - start:.0f} s")
    results.print_table("desktop benchmark: ryll's window against spicy")
    return 0 if results.counts()[1] == 0 else 1


def summarise(args: argparse.Namespace, turns: dict[str, list[dict[str, object]]], results: Results) -> None:
    med = {}
    for name, got in turns.items():
        for phase in ("idle", "scroll", "animate"):
            med[name, phase] = (statistics.median(t[phase][0] for t in got),
                                statistics.median(t[phase][0] + t[phase][1] for t in got))
            med[name, phase, "work"] = statistics.median(t[phase][0] / t[phase][2] if t[phase][2] else 0.0
                                                         for t in got)
        if name == "ryll-headless":
            continue
        keys = [k for t in got for k in t["keys"]]
        med[name, "keys"] = statistics.median(keys) if keys else float("nan")
        results.ok(f"{name}.keys_seen", len(keys) >= len(got) * args.keys * 0.8,
                   f"{len(keys)} of {len(got) * args.keys} presses showed on the screen")
    if "spicy" in turns:
        for name in (n for n in ("ryll", "ryll-headless") if n in turns):
            for phase in ("idle", "scroll", "animate"):
                (r, rx), (s, sx) = med[name, phase], med["spicy", phase]
                ratio = f"{r / s:.2f}×" if s > 0 else "n/a"
                ratio_x = f"{rx / sx:.2f}×" if sx > 0 else "n/a"
                what = "ryll" if name == "ryll" else "ryll headless"
                results.add(f"cpu.{phase}" + ("" if name == "ryll" else ".headless"), "INFO",
                            f"{what} {r:.2f} s, spicy {s:.2f} s: {ratio} (with each one's Xvfb: {rx:.2f} s against "
                            f"{sx:.2f} s, {ratio_x})")
                rw, sw = med[name, phase, "work"], med["spicy", phase, "work"]
                if rw > 0 and sw > 0:
                    unit = "line" if phase == "scroll" else "frame"
                    results.add(f"cpu.{phase}.per_{unit}" + ("" if name == "ryll" else ".headless"), "INFO",
                                f"{what} {rw * 1000:.2f} ms, spicy {sw * 1000:.2f} ms per {unit} the guest drew: "
                                f"{rw / sw:.2f}×")
    if "ryll" in turns and "spicy" in turns:
        r, s = med["ryll", "keys"], med["spicy", "keys"]
        results.add("input_to_screen", "INFO", f"median ryll {r:.0f} ms, spicy {s:.0f} ms: {r / s:.2f}×")
    for name in (n for n in ("ryll", "ryll-headless") if n in turns):
        pairs = [p for t in turns[name] for p in t["share"]]
        alone, video = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
        mib = args.get_mib
        results.add("share_beside_video" + ("" if name == "ryll" else ".headless"), "INFO",
                    f"{name}: GET of {mib} MiB: {mib / alone:.1f} MiB/s alone, {mib / video:.1f} MiB/s beside the "
                    f"video: {alone / video:.2f}× of its figure alone (median of {len(pairs)})")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
