#!/usr/bin/env python3
"""ryll's --screenshot against the bundled Linux test VM's own display drivers, checked against QMP screendump.

One boot per display device (`-vga std` with the bochs DRM driver, `-vga qxl` with the qxl DRM driver: KMS
DRAW_COPY with clip rects, `-device virtio-vga` with virtio-gpu), and one for the lossy modes (qxl with
`jpeg-wan-compression=always`). In each boot, one ryll session per compression ryll can ask for: ryll links, the
guest draws its screen while ryll watches (console text, a photo-like and a text-like picture), ryll's PNG is
compared with QEMU's screendump, pixel for pixel (or within the stated tolerance for the lossy boot).

See tests/vm/README.md ("Display"). Prints one line per check and `N passed, N failed`; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import shlex
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_e2e import REPO, Results, SerialLog, free_port, log, stop_process  # noqa: E402
from cut_proxy import DISPLAY, CutProxy  # noqa: E402
from live_stream import live_stream, second_display  # noqa: E402

WIDTH, HEIGHT, BAND_ROWS = 1024, 768, 256
STREAM_FRAMES, STREAM_LEAD, STREAM = 60, 2.0, "stream"
PREFERENCES = ["none", "off", "auto-glz", "auto-lz", "quic", "glz", "lz", "lz4"]
# The lossy boot's tolerance. A pixel is "off" when one of its channels differs from the screendump by more than
# LOSSY_NEAR levels; at most LOSSY_OFF_SHARE of the pixels may be off, the mean absolute channel difference must be
# at most LOSSY_MAE and the PSNR at least LOSSY_PSNR dB. spice-server's JPEG (quality 85, chroma subsampled)
# gives about 2-5 % off pixels, a mean difference of 1-3 and 29-33 dB on this screen: coloured console text on
# black is where it loses most (single pixels differ by up to ~140 at glyph edges), the photo loses little.
LOSSY_NEAR, LOSSY_OFF_SHARE, LOSSY_MAE, LOSSY_PSNR = 24, 0.08, 4.0, 27.0


# ------------------------------------------------------------------------------------------
# The pictures and the extra initramfs that carries them


def photo(w: int, h: int, mirror: bool) -> list[tuple[int, int, int]]:
    """A photo-like picture: smooth gradients, soft discs and mild noise (QUIC/JPEG material)."""
    rnd = random.Random(12)
    out = []
    for y in range(h):
        for x0 in range(w):
            x = w - 1 - x0 if mirror else x0
            r = (x * 255 // (w - 1) + (y * 3) // 4) % 256
            g = (y * 255 // (h - 1) + (x * x) // (4 * w)) % 256
            dx, dy = x - w // 3, y - h // 2
            b = max(0, 255 - (dx * dx + dy * dy) // 40)
            n = rnd.randint(-6, 6)
            out.append(tuple(min(255, max(0, c + n)) for c in (r, g, b)))
    return out


def text_like(w: int, h: int) -> list[tuple[int, int, int]]:
    """A text-like picture: rows of blocky glyphs in three inks on white (GLZ/LZ material)."""
    rnd = random.Random(34)
    inks = [(0, 0, 0), (20, 40, 160), (170, 20, 20)]
    out = [(255, 255, 255)] * (w * h)
    for row in range(h // 12):
        ink = inks[row % 3]
        x = 4
        while x + 6 < w:
            glyph = rnd.getrandbits(35)
            if glyph % 7 == 0:  # a space
                x += 7
                continue
            for gy in range(7):
                for gx in range(5):
                    if glyph >> (gy * 5 + gx) & 1:
                        out[(row * 12 + 2 + gy) * w + x + gx] = ink
            x += 7
    return out


def band(mirror: bool) -> bytes:
    """1024×256 XRGB8888 (little-endian B, G, R, X): the photo on the left, the text-like picture on the right."""
    half = WIDTH // 2
    left, right = photo(half, BAND_ROWS, mirror), text_like(half, BAND_ROWS)
    rows = bytearray()
    for y in range(BAND_ROWS):
        for r, g, b in left[y * half:(y + 1) * half] + right[y * half:(y + 1) * half]:
            rows += bytes((b, g, r, 0))
    return bytes(rows)


def newc(files: dict[str, bytes], dirs: list[str]) -> bytes:
    """A cpio archive in the newc format (the kernel unpacks archives appended to the initramfs)."""
    out = bytearray()

    def entry(ino: int, name: str, mode: int, data: bytes) -> None:
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
        out.extend(b"070701" + b"".join(b"%08X" % f for f in fields) + name.encode() + b"\0")
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))

    ino = 900000
    for d in dirs:
        entry(ino, d, 0o40755, b"")
        ino += 1
    for name, data in files.items():
        entry(ino, name, 0o100644, data)
        ino += 1
    entry(0, "TRAILER!!!", 0, b"")
    out.extend(b"\0" * (-len(out) % 512))
    return bytes(out)


def guest_kernel(vm_dir: Path) -> Path:
    """The test VM's kernel in vm_dir, or exit naming make testvm."""
    kernel = next((vm_dir / k for k in ("vmlinux", "bzImage") if (vm_dir / k).is_file()), None)
    if kernel is None:
        raise SystemExit(f"no guest kernel in {vm_dir}: run make testvm")
    return kernel


def pictures_initrd(vm_dir: Path, out: Path) -> tuple[bytes, bytes]:
    still, mirrored = band(False), band(True)
    # block.raw: 100 full rows of red, then 100 of green (the benchmark's key-to-screen block).
    block = bytes((0, 0, 255, 0)) * (WIDTH * 100) + bytes((0, 255, 0, 0)) * (WIDTH * 100)
    extra = newc({"ryll/display/band.raw": still, "ryll/display/frames.raw": mirrored + still,
                  "ryll/display/block.raw": block}, ["ryll/display"])
    base = (vm_dir / "initramfs.cpio").read_bytes()
    out.write_bytes(base + b"\0" * (-len(base) % 4) + extra)
    return still, mirrored


# ------------------------------------------------------------------------------------------
# PNG reading (8-bit RGB/RGBA, as ryll and QEMU write them)


def read_png(path: Path) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB bytes)."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    pos, idat, w = 8, bytearray(), 0
    h = depth = ctype = interlace = 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    channels = {2: 3, 6: 4}.get(ctype)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"{path}: unsupported PNG (depth {depth}, colour type {ctype}, interlace {interlace})")
    raw, stride, bpp = zlib.decompress(bytes(idat)), w * channels, channels
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        prev = line
        rows.append(bytes(line) if channels == 3 else bytes(v for i, v in enumerate(line) if i % 4 != 3))
    return w, h, rows


def compare(shot: Path, dump: Path, lossy: bool) -> tuple[bool, str]:
    (w1, h1, a), (w2, h2, b) = read_png(shot), read_png(dump)
    if (w1, h1) != (w2, h2):
        return False, f"ryll {w1}×{h1}, screendump {w2}×{h2}"
    differ = worst = off = abs_sum = sq_sum = 0
    first = None
    for y, (ra, rb) in enumerate(zip(a, b)):
        if ra == rb:
            continue
        for x in range(w1):
            pa, pb = ra[3 * x:3 * x + 3], rb[3 * x:3 * x + 3]
            if pa != pb:
                diffs = [abs(p - q) for p, q in zip(pa, pb)]
                d = max(diffs)
                differ += 1
                worst = max(worst, d)
                off += d > LOSSY_NEAR
                abs_sum += sum(diffs)
                sq_sum += sum(v * v for v in diffs)
                if first is None:
                    first = f"first at ({x},{y}): ryll {pa.hex()} screendump {pb.hex()}"
    total = w1 * h1
    detail = f"{w1}×{h1}, {differ} pixels differ"
    if not lossy:
        return differ == 0, detail + (f", largest channel difference {worst}; {first}" if first else "")
    mae = abs_sum / (3 * total)
    psnr = 10 * math.log10(255 * 255 * 3 * total / sq_sum) if sq_sum else math.inf
    detail += (f", {off} ({100 * off / total:.1f} %) by more than {LOSSY_NEAR}, mean difference {mae:.2f}, "
               f"PSNR {psnr:.1f} dB, largest {worst}")
    return off <= LOSSY_OFF_SHARE * total and mae <= LOSSY_MAE and psnr >= LOSSY_PSNR, detail


# ------------------------------------------------------------------------------------------
# The guest


class DisplayGuest:
    def __init__(self, args: argparse.Namespace, run_dir: Path, name: str, device: str, spice_extra: str,
                 size: tuple[int, int] = (WIDTH, HEIGHT)) -> None:
        self.args, self.dir, self.name = args, run_dir / name, name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.qmp_path, self.ctl_path = self.dir / "qmp.sock", self.dir / "ctl.sock"
        self.serial = SerialLog(self.dir / "console.log")
        self.lines: list[str] = []
        append = (f"console=ttyS0 quiet panic=1 ryll.mode=display ryll.timeout={args.guest_timeout} "
                  f"video={size[0]}x{size[1]} ryll.size={size[0]}x{size[1]} vt.global_cursor_default=0 consoleblank=0")
        cmd = [args.qemu, "-nodefaults", "-no-user-config", "-name", f"ryll-display-{name}",
               "-accel", "tcg,thread=multi", "-cpu", "max", "-m", "1024", "-smp", "2",
               "-display", "none", "-monitor", "none", "-no-reboot",
               "-kernel", str(args.kernel), "-initrd", str(args.initrd), "-append", append,
               "-serial", f"file:{self.dir / 'console.log'}", "-serial", f"file:{self.dir / 'guest-debug.log'}",
               "-spice", f"port={self.port},addr=127.0.0.1,disable-ticketing=on,{spice_extra}",
               "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
               "-device", "virtio-serial-pci",
               "-chardev", "spiceport,name=org.spice-space.webdav.0,id=webdav0",
               "-device", "virtserialport,chardev=webdav0,name=org.spice-space.webdav.0",
               "-chardev", f"socket,id=ctl,path={self.ctl_path},server=on,wait=off",
               "-device", "virtserialport,chardev=ctl,name=ryll.ctl"]
        cmd += ["-device", "virtio-vga"] if device == "virtio" else ["-vga", device]
        (self.dir / "qemu.cmd").write_text(shlex.join(cmd) + "\n")
        log(f"{name}: starting QEMU, SPICE on 127.0.0.1:{self.port}")
        with open(self.dir / "qemu.log", "wb") as qlog:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=qlog, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.ctl = self._connect(self.ctl_path)

    def _connect(self, path: Path) -> socket.socket:
        deadline = time.monotonic() + 30
        while True:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(str(path))
                return s
            except OSError:
                s.close()
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name}: QEMU's socket {path.name} never opened")
                time.sleep(0.1)

    def wait_line(self, prefix: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            for ln in self.serial.poll():
                self.lines.append(ln)
                if self.args.verbose:
                    log(f"{self.name} guest: {ln}")
                if ln.startswith("DISPLAY ERROR"):
                    return ln
                if ln.startswith(prefix):
                    return ln
            time.sleep(0.2)
        return None

    def send(self, command: str) -> None:
        self.ctl.sendall(command.encode() + b"\n")

    def screendump(self, path: Path) -> None:
        self.qmp(f'{{"execute":"screendump","arguments":{{"filename":"{path}","format":"png"}}}}')

    def qmp(self, command: str) -> None:
        s = self._connect(self.qmp_path)
        s.settimeout(60)
        f = s.makefile("rwb")
        f.readline()
        for c in ('{"execute":"qmp_capabilities"}', command):
            f.write(c.encode() + b"\n")
            f.flush()
            while True:
                ln = f.readline()
                if not ln or b'"error"' in ln:
                    raise RuntimeError(f"QMP: {ln!r}")
                if b'"return"' in ln:
                    break
        s.close()

    def stop(self) -> None:
        try:
            self.send("quit")
        except OSError:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        stop_process(self.proc, signal.SIGTERM, 5.0)
        self.ctl.close()


# ------------------------------------------------------------------------------------------
# One ryll session: link, let the guest draw, wait for the PNG, compare


class Step:
    """One ryll session: guest commands sent before ryll starts (and how long to let them run), guest commands
    sent once ryll has its first frame and the line that says they are done, the image kind ryll must have seen."""

    def __init__(self, name: str, pref: str, before: tuple[str, ...] = (), lead: float = 0.0,
                 after: tuple[str, ...] = ("draw",), done: str = "DISPLAY DRAWN", expect: str = "",
                 qmp: str = "", logged: str = "", cut: str | float | None = None,
                 after_cut: tuple[str, ...] = (), live: str = "") -> None:
        self.name, self.pref, self.before, self.lead = name, pref, before, lead
        self.after, self.done, self.expect = after, done, expect
        # A QMP command run once ryll has its first frame, and the line ryll must then log before the guest draws.
        self.qmp, self.logged = qmp, logged
        # A session relayed by CutProxy whose display connection is reset once the guest said `cut` (a line) or
        # `cut` seconds after the `after` commands; once ryll has linked the channel again, the guest runs
        # `after_cut` and the session goes on to `done`.
        self.cut, self.after_cut = cut, after_cut
        # A live_stream.py session instead (screenshots taken on demand with --commands): "stream" or "second".
        self.live = live


def session(args: argparse.Namespace, guest: DisplayGuest, step: Step, results: Results, lossy: bool) -> None:
    check = f"{guest.name}.{step.name}"
    shot, dump = guest.dir / f"ryll-{step.name}.png", guest.dir / f"screendump-{step.name}.png"
    proxy = CutProxy(guest.port) if step.cut is not None else None
    port = proxy.port if proxy else guest.port
    cmd = [str(args.ryll), "--direct", f"127.0.0.1:{port}", "--screenshot", str(shot),
           "--settle-ms", "3000" if proxy is None else "6000", "--screenshot-timeout", str(args.session_timeout)]
    if step.pref != "none":
        cmd += ["--image-compression", step.pref]
    env = {k: v for k, v in os.environ.items() if k not in ("RYLL_PASSWORD", "SPICE_PROXY")}
    env["RYLL_LOG"] = "ryll=debug"
    if step.live:
        run = live_stream if step.live == "stream" else second_display
        return run(args, guest, step, results, compare, env)
    for c in step.before:
        guest.send(c)
    time.sleep(step.lead)
    err_path = guest.dir / f"ryll-{step.name}.log"
    with open(err_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    try:
        watch(args, guest, step, results, lossy, proc, err_path, check, shot, dump, proxy)
    finally:
        if proc.poll() is None:
            stop_process(proc)
        if proxy:
            proxy.close()


def watch(args: argparse.Namespace, guest: DisplayGuest, step: Step, results: Results, lossy: bool,
          proc: subprocess.Popen, err_path: Path, check: str, shot: Path, dump: Path,
          proxy: CutProxy | None) -> None:
    deadline = time.monotonic() + args.session_timeout
    while b"first full frame" not in err_path.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            results.add(check, "FAIL", f"ryll had no first frame (exit {proc.returncode}); see {err_path}")
            return
        time.sleep(0.2)
    if step.qmp:
        guest.qmp(step.qmp)
        while step.logged.encode() not in err_path.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_process(proc)
                results.add(check, "FAIL", f"ryll never logged {step.logged!r}; see {err_path}")
                return
            time.sleep(0.2)
        results.add(f"{check}.logged", "PASS", step.logged)
    for c in step.after:
        guest.send(c)
    if proxy:
        if not cut_display(args, guest, step, results, proc, err_path, check, proxy):
            stop_process(proc)
            return
        for c in step.after_cut:
            guest.send(c)
    if not (line := guest.wait_line(step.done, args.session_timeout)) or line.startswith("DISPLAY ERROR"):
        stop_process(proc)
        results.add(check, "FAIL", f"the guest did not finish ({step.done}): {line}")
        return
    try:
        status = proc.wait(timeout=max(deadline - time.monotonic(), 5))
    except subprocess.TimeoutExpired:
        status = stop_process(proc)
    log_text = err_path.read_text("utf-8", "replace")
    if status != 0 or not shot.exists():
        results.add(check, "FAIL", f"ryll exit {status}; see {err_path}")
        return
    guest.screendump(dump)
    ok, detail = compare(shot, dump, lossy)
    # The image counts are logged when the decoding thread ends, which a short session may exit before; the
    # screenshot line's video frame count and, for JPEG, pixels that differ at all are the sure signs.
    images = next((ln.split("images in all: ", 1)[1] for ln in log_text.splitlines() if "images in all: " in ln), "")
    frames = re.search(r"screenshot: wrote .*?(\d+) video frames", log_text)
    refused = log_text.count("refused")
    if step.expect == STREAM and not frames:
        ok, detail = False, detail + f"; ryll drew no video frames ({images})"
    elif step.expect == "JPEG" and (" 0 pixels differ" in detail or (images and "JPEG" not in images)):
        ok, detail = False, detail + f"; no JPEG decoded ({images})"
    if frames:
        images += f" ({frames.group(1)} video frames drawn)"
    results.ok(check, ok and refused == 0, detail + (f"; {refused} refusals logged" if refused else ""))
    results.add(f"{check}.images", "INFO", images)


def cut_display(args: argparse.Namespace, guest: DisplayGuest, step: Step, results: Results,
                proc: subprocess.Popen, err_path: Path, check: str, proxy: CutProxy) -> bool:
    """Resets ryll's display connection at the step's moment; true once ryll has linked the channel again."""
    if isinstance(step.cut, str):
        if not (line := guest.wait_line(step.cut, args.session_timeout)) or line.startswith("DISPLAY ERROR"):
            results.add(check, "FAIL", f"the guest did not finish ({step.cut}) before the cut: {line}")
            return False
    else:
        time.sleep(step.cut or 0.0)
    if proc.poll() is not None:
        results.add(check, "FAIL", f"ryll exited (status {proc.returncode}) before the cut; see {err_path}")
        return False
    cut_at = time.monotonic()
    if (n := proxy.cut(DISPLAY)) != 1:
        results.add(check, "FAIL", f"{n} display connections to cut, want 1")
        return False
    deadline = cut_at + 30
    while proxy.links(DISPLAY) < 2 or b"relinking" not in err_path.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            results.add(f"{check}.relinked", "FAIL", f"ryll did not link the display channel again; see {err_path}")
            return False
        time.sleep(0.05)
    results.add(f"{check}.relinked", "PASS",
                f"display connection reset; ryll linked it again {time.monotonic() - cut_at:.2f} s later")
    return True


def boot(args: argparse.Namespace, run_dir: Path, results: Results, name: str, device: str, spice: str,
         steps: list[Step], lossy: bool = False) -> None:
    guest = DisplayGuest(args, run_dir, name, device, spice, SIZES.get(name, (WIDTH, HEIGHT)))
    try:
        line = guest.wait_line("DISPLAY WAITING", args.boot_timeout)
        fb = next((ln for ln in guest.lines if ln.startswith("DISPLAY FB")), "")
        if not results.ok(f"{name}.boot", bool(line) and line.startswith("DISPLAY WAITING"), fb or str(line)):
            return
        for step in steps:
            session(args, guest, step, results, lossy)
        if args.first_frame_runs and name in SIZES:
            first_frame(args, guest, results)
    finally:
        guest.stop()


def first_frame(args: argparse.Namespace, guest: "DisplayGuest", results: Results) -> None:
    """The time from start to a written first frame: `ryll --screenshot --settle-ms 0` against spice-gtk's
    `spicy-screenshot` on the same settled screen, alternating, median of `--first-frame-runs` runs each."""
    env = {k: v for k, v in os.environ.items() if k not in ("RYLL_PASSWORD", "SPICE_PROXY")}
    clients = {
        "ryll": [str(args.ryll), "--direct", f"127.0.0.1:{guest.port}", "--screenshot", str(guest.dir / "ff.png"),
                 "--settle-ms", "0"],
        "spicy": ["spicy-screenshot", "-h", "127.0.0.1", "-p", str(guest.port), "-o", str(guest.dir / "ff.ppm")],
    }
    times: dict[str, list[float]] = {k: [] for k in clients}
    for _ in range(args.first_frame_runs):
        for name, cmd in clients.items():
            start = time.monotonic()
            done = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, env=env, timeout=120, check=False)
            times[name].append(time.monotonic() - start)
            if done.returncode != 0:
                results.add(f"{guest.name}.first_frame.{name}", "FAIL", f"exit {done.returncode}")
                return
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    w, h = SIZES[guest.name]
    results.add(f"{guest.name}.first_frame", "INFO",
                f"{w}×{h}: ryll {med['ryll']:.2f} s, spicy-screenshot {med['spicy']:.2f} s, ratio "
                f"{med['ryll'] / med['spicy']:.2f} (median of {args.first_frame_runs})")


def still(prefs: list[str], expect: str = "") -> list[Step]:
    return [Step(p, p, expect=expect) for p in prefs]


# The band redrawn over and over becomes an MJPEG stream under streaming-video=all (a still screen drawn once never
# does); once it stops, the server sends the area again losslessly, so the settled screenshot equals the
# screendump. "stream": ryll linked before the guest animates; "mid-stream": ryll links while the stream runs.
STREAMS = [
    Step("stream", "none", after=("draw", f"animate {STREAM_FRAMES}"), done="DISPLAY ANIMATED",
         expect=STREAM),
    Step("mid-stream", "none", before=(f"animate {3 * STREAM_FRAMES}",), lead=STREAM_LEAD, after=(),
         done="DISPLAY ANIMATED", expect=STREAM),
    # "live-stream": screenshots on demand while the stream plays, within the lossy tolerance (live_stream.py).
    Step("live-stream", "none", live="stream"),
]
# ryll's own session relinking its display channel (the connection reset by CutProxy), with GLZ asked for so the
# server's dictionary and ryll's must agree across the relink: "relink" after the still screen is drawn (then it is
# drawn again: the same pictures as new GLZ images), "relink-stream" in the middle of an MJPEG stream.
RELINKS = [
    Step("relink", "glz", cut="DISPLAY DRAWN", after_cut=("draw",)),
    Step("relink-stream", "glz", after=("draw", f"animate {3 * STREAM_FRAMES}"), cut=STREAM_LEAD + 3.0,
         done="DISPLAY ANIMATED", expect=STREAM),
]
# "hotplug" (last: the second qxl stays): a qxl added with QMP device_add while ryll is linked; ryll must link its
# display channel and get the 1024×768 surface the guest's qxl driver sets on it.
HOTPLUG = Step("hotplug", "none", qmp='{"execute":"device_add","arguments":{"driver":"qxl","id":"qxl1"}}',
               logged="display 2:1 (display): screen is 1024×768")
# "second-display" (after hotplug): the guest draws on the second qxl's framebuffer; ryll's display channel 1 must
# equal QMP screendump of that device.
SECOND = Step("second-display", "none", live="second")

# Boots at another size than 1024×768.
SIZES = {"std-1080": (1920, 1080)}
# name: (device, SPICE options, sessions, lossy)
BOOTS = {
    # A full-HD screen: the first frame's size in the benchmark, and pixel-exact like the others.
    "std-1080": ("std", "image-compression=auto_glz", still(["none", "lz4"]), False),
    "std": ("std", "image-compression=auto_glz", still(PREFERENCES), False),
    "qxl": ("qxl", "image-compression=auto_glz,streaming-video=all", still(PREFERENCES) + STREAMS + RELINKS +
            [HOTPLUG, SECOND],
            False),
    "virtio": ("virtio", "image-compression=auto_glz", still(PREFERENCES), False),
    # Under auto-glz the server picks JPEG or GLZ by how gradual each strip looks (which strips the driver's
    # damage merges varies with load), under quic every lossy-allowed image is JPEG.
    "qxl-jpeg": ("qxl", "image-compression=auto_glz,jpeg-wan-compression=always",
                 still(["none", "auto-glz"]) + still(["quic"], expect="JPEG"), True),
}
# --quick (CI): the sessions run of each boot.
QUICK = {
    "std": ("none", "lz4"),
    "qxl": ("none", "off", "quic", "glz", "lz", "lz4", "stream", "mid-stream", "live-stream", "relink", "relink-stream",
            "hotplug", "second-display"),
    "virtio": ("none", "lz4"),
    "qxl-jpeg": ("none", "quic"),
}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ryll", type=Path, required=True)
    ap.add_argument("--vm-dir", type=Path, default=Path(os.environ.get("RYLL_VM_DIR", REPO / "target" / "testvm")))
    ap.add_argument("--boots", default=",".join(BOOTS), help=f"comma-separated, of {','.join(BOOTS)}")
    ap.add_argument("--prefs", help="comma-separated session names (default: all of each boot)")
    ap.add_argument("--quick", action="store_true", help="the CI subset (QUICK): most compressions, the streams and "
                    "the hot-plug on qxl, two sessions on each other boot")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--boot-timeout", type=float, default=180.0)
    ap.add_argument("--session-timeout", type=int, default=180)
    ap.add_argument("--guest-timeout", type=int, default=1200)
    ap.add_argument("--keep", action="store_true", help="keep the run directory")
    ap.add_argument("--first-frame-runs", type=int, default=0,
                    help="after the sessions of each boot in SIZES, time N first frames against spicy-screenshot")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    args.ryll = args.ryll.resolve()
    args.kernel = guest_kernel(args.vm_dir)
    run_dir = Path(tempfile.mkdtemp(prefix="display-", dir=args.vm_dir))
    args.initrd = run_dir / "initrd-display.cpio"
    pictures_initrd(args.vm_dir, args.initrd)
    results = Results()
    start = time.monotonic()
    try:
        names = args.boots.split(",")
        if args.quick and args.boots == ap.get_default("boots"):
            names = [n for n in names if n in QUICK]
        for name in names:
            device, spice, steps, lossy = BOOTS[name]
            if args.prefs:
                steps = [s for s in steps if s.name in args.prefs.split(",")]
            elif args.quick:
                steps = [s for s in steps if s.name in QUICK[name]]
            boot(args, run_dir, results, name, device, spice, steps, lossy)
    finally:
        args.initrd.unlink(missing_ok=True)
        last = args.vm_dir / "last-display-run"
        subprocess.run(["rm", "-rf", str(last)], check=False)
        if args.keep:
            log(f"kept {run_dir}")
        else:
            run_dir.rename(last)
            log(f"logs and pictures in {last}")
    results.add("host.wall_time", "INFO", f"{time.monotonic() - start:.0f} s")
    results.print_table("display tests in the Linux guest")
    return 0 if results.counts()[1] == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
