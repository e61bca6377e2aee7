"""Sessions of tests/vm/run_display.py that drive ryll through `--commands` (`screenshot PATH [DISPLAY]`).

`live-stream`: ryll's screen checked *while* an MJPEG stream plays. The guest redraws its picture band with the
same picture over and over (`repeat-for`), so spice-server makes it an MJPEG stream although the screen's content
stays what the still screen shows. ryll runs headless with `--commands` (the display channel linked, decoded on its
own task); twice during the stream the harness asks it for `screenshot PATH` and takes a QMP screendump: each must
be within run_display's lossy tolerance of the screendump (the band arrives as JPEG frames: never exact), and
ryll's count of video frames drawn must have grown between the two (the stream was running at both moments).

`second-display`: the second monitor (display channel 1 of a hot-plugged qxl), pixel for pixel.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from run_e2e import Results, stop_process

# How long the guest repeats the band, and when the two screenshots are taken (seconds after it starts: the
# server needs a few frames to decide that the area is a video, and spice-server's TCG guest draws ~10 a second).
REPEAT_SECONDS = 14
SHOT_TIMES = (5.0, 9.0)


class CommandsRyll:
    """`ryll --direct ... --commands` on the guest: one command line in, one answer line out; stderr to a log."""

    def __init__(self, args, guest, step, env: dict[str, str]) -> None:
        self.log_path = guest.dir / f"ryll-{step.name}.log"
        self.timeout = args.session_timeout
        cmd = [str(args.ryll), "--direct", f"127.0.0.1:{guest.port}", "--commands"]
        with open(self.log_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env,
                                         text=True, start_new_session=True)

    def wait_log(self, text: bytes) -> bool:
        """Until ryll logs `text`; false if it exits or the session timeout passes first."""
        deadline = time.monotonic() + self.timeout
        while text not in self.log_path.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True

    def ask(self, line: str) -> str:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def refusals(self) -> int:
        return Path(self.log_path).read_text("utf-8", "replace").count("refused")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ask("quit")
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        stop_process(self.proc)


def live_stream(args, guest, step, results: Results, compare, env: dict[str, str]) -> None:
    check = f"{guest.name}.{step.name}"
    guest.send("draw")
    if not (line := guest.wait_line("DISPLAY DRAWN", args.session_timeout)) or line.startswith("DISPLAY ERROR"):
        results.add(check, "FAIL", f"the guest did not draw its still screen: {line}")
        return
    ryll = CommandsRyll(args, guest, step, env)
    try:
        if not ryll.wait_log(b"first full frame"):
            results.add(check, "FAIL", f"ryll had no first frame (exit {ryll.proc.returncode}); see {ryll.log_path}")
            return
        guest.send(f"repeat-for {REPEAT_SECONDS}")
        start = time.monotonic()
        frames = []
        for i, at in enumerate(SHOT_TIMES):
            time.sleep(max(0.0, start + at - time.monotonic()))
            shot, dump = guest.dir / f"ryll-{step.name}-{i}.png", guest.dir / f"screendump-{step.name}-{i}.png"
            answer = ryll.ask(f"screenshot {shot}")
            guest.screendump(dump)
            m = re.match(r"ok wrote .* (\d+) video frames\)$", answer)
            if not m:
                results.add(f"{check}.{i}", "FAIL", f"ryll answered {answer!r}; see {ryll.log_path}")
                return
            frames.append(int(m.group(1)))
            ok, detail = compare(shot, dump, True)
            results.ok(f"{check}.{i}", ok and " 0 pixels differ" not in detail,
                       f"{at:.0f} s into the stream, {frames[-1]} video frames drawn: {detail}")
        results.ok(f"{check}.playing", frames[1] > frames[0] > 0,
                   f"video frames drawn at the two screenshots: {frames[0]}, {frames[1]}")
        line = guest.wait_line("DISPLAY ANIMATED", args.session_timeout)
        results.ok(f"{check}.guest", bool(line) and not str(line).startswith("DISPLAY ERROR"), str(line))
        refused = ryll.refusals()
        results.ok(f"{check}.refused", refused == 0, f"{refused} refusals logged")
    finally:
        ryll.close()


def second_display(args, guest, step, results: Results, compare, env: dict[str, str]) -> None:
    """After the hot-plug session (a second qxl, display channel 1): the guest draws its band on the second
    framebuffer; `screenshot PATH 1` must equal QMP `screendump device=qxl1` pixel for pixel, and `screenshot PATH`
    (display 0) the first screen's screendump."""
    check = f"{guest.name}.{step.name}"
    ryll = CommandsRyll(args, guest, step, env)
    try:
        if not ryll.wait_log(b"display 2:1 (display): screen is"):
            results.add(check, "FAIL", f"ryll has no display channel 1 (exit {ryll.proc.returncode}); see "
                        f"{ryll.log_path}")
            return
        guest.send("draw-fb1")
        if not (line := guest.wait_line("DISPLAY FB1 DRAWN", args.session_timeout)) or "ERROR" in line:
            results.add(check, "FAIL", f"the guest did not draw on its second screen: {line}")
            return
        time.sleep(3.0)  # the draws reach ryll
        for display, device in ((1, "qxl1"), (0, "")):
            shot = guest.dir / f"ryll-{step.name}-{display}.png"
            dump = guest.dir / f"screendump-{step.name}-{display}.png"
            answer = ryll.ask(f"screenshot {shot} {display}")
            extra = f',"device":"{device}"' if device else ""
            guest.qmp(f'{{"execute":"screendump","arguments":{{"filename":"{dump}","format":"png"{extra}}}}}')
            if not answer.startswith("ok wrote"):
                results.add(f"{check}.{display}", "FAIL", f"ryll answered {answer!r}; see {ryll.log_path}")
                continue
            ok, detail = compare(shot, dump, False)
            if display == 1:
                # Not two black screens: the band's rows (512-767) hold the pictures.
                from run_display import read_png
                drawn = any(any(row) for row in read_png(shot)[2][512:768])
                ok, detail = ok and drawn, detail + ("" if drawn else "; but the band is not there (all black)")
            results.ok(f"{check}.{display}", ok, f"display channel {display} against screendump "
                       f"{device or 'of the first device'}: {detail}")
    finally:
        ryll.close()
