"""A shaped phantom in a study session on the desktop window (a real X server, Xvfb), through
`vrgmi session --desktop` with a program file and an input script: the mouse, moved through
the X server, raises the intact hand; the window, read from the X server's screen, draws
the phantom as a telescoped fist, its top far below where the plain mirror session draws the
open mirrored hand, and the rest of the window as the plain session does; Escape, sent as a key
through the X server, quits once the session is over; the events and the records keep the
shape, the allocation and the code (the code only, blinded)."""
from __future__ import annotations

import ctypes
import json
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vrgmi.export.study_export import study_rows
from vrgmi.records import open_database, queries
from vrgmi.records.programs import load_program
from vrgmi.study.allocation import StudyPlan, condition_codes

WINDOW = (640, 400)
SCREEN = (800, 480)
#: the mouse over the window's centre column, 0.6 of its half-height up: the intact hand
#: (and its mirror image) raised 15 cm into view
POINTER = (SCREEN[0] // 2, SCREEN[1] // 2 - int(0.6 * WINDOW[1] / 2))
#: the session's answers (display-clock seconds): pre NRS 2, the free mirror block runs
#: by itself, post NRS 1, the SSQ all "none"
SCRIPT = ([[1.0, "right"], [1.1, "right"], [1.3, "select"], [6.5, "right"], [6.7, "select"]]
          + [[8.0 + 0.2 * i + d, a] for i in range(16) for d, a in ((0, "right"), (0.1, "select"))])
PROGRAM = """patient = "p01"
phase = "mirror"
breathing_between_blocks = false

[[steps.mirror]]
scene = "free_mirror"
minutes = 0.1
"""
SHAPED = PROGRAM + """
[shaping]
posture = "clenched_fist"
telescoping = 0.3
steps = 4

[study]
conditions = ["delayed"]
seed = 5
delay_s = 0.3
"""


@pytest.fixture
def x_screen(tmp_path):
    """A fresh Xvfb whose screen is also a file (``-fbdir``): (DISPLAY, screen file)."""
    xvfb = shutil.which("Xvfb")
    assert xvfb, "Xvfb is missing: `make test` installs it (tools/system-deps.sh)"
    for number in range(110, 130):
        if not os.path.exists(f"/tmp/.X11-unix/X{number}") and \
                not os.path.exists(f"/tmp/.X{number}-lock"):
            break
    fb = tmp_path / "fb"
    fb.mkdir()
    proc = subprocess.Popen([xvfb, f":{number}", "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24",
                             "-nolisten", "tcp", "-fbdir", str(fb)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while not os.path.exists(f"/tmp/.X11-unix/X{number}") and time.time() < deadline:
        time.sleep(0.05)
    yield f":{number}", fb / "Xvfb_screen0"
    proc.terminate()
    proc.wait(timeout=10)


def read_screen(path: Path) -> np.ndarray:
    """The X screen as (h, w, 3) RGB from Xvfb's XWD screen file (24-bit, 32 bpp)."""
    b = path.read_bytes()
    h = struct.unpack(">25I", b[:100])
    size, width, height, bpl, ncolors = h[0], h[4], h[5], h[12], h[19]
    px = np.frombuffer(b, np.uint8, count=bpl * height, offset=size + 12 * ncolors)
    return px.reshape(height, bpl)[:, :width * 4].reshape(height, width, 4)[..., 2::-1].copy()


def x_input(display: str, pointer: tuple[int, int] | None = None,
            key: str | None = None) -> None:
    """Move the pointer (screen pixels) and / or press and release a key, through the X
    server (XTest); the key goes to the window under the pointer (Xvfb has no window
    manager: the focus follows the pointer)."""
    x11, xtst = ctypes.CDLL("libX11.so.6"), ctypes.CDLL("libXtst.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    dpy = ctypes.c_void_p(x11.XOpenDisplay(display.encode()))
    assert dpy.value, display
    if pointer is not None:
        xtst.XTestFakeMotionEvent(dpy, -1, *pointer, 0)
        x11.XFlush(dpy)
    if key is not None:
        code = x11.XKeysymToKeycode(dpy, ctypes.c_ulong(x11.XStringToKeysym(key.encode())))
        for down in (1, 0):
            xtst.XTestFakeKeyEvent(dpy, code, down, 0)
            x11.XFlush(dpy)
            time.sleep(0.1)
    x11.XCloseDisplay(dpy)


def _events(out: Path) -> list[dict]:
    logs = list(out.glob("events-*.jsonl"))
    if not logs:
        return []
    lines = logs[0].read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.endswith("}")]


def run_desktop_session(x_screen, tmp: Path, program: str) -> tuple[np.ndarray, list, Path]:
    """`vrgmi session --desktop` of ``program`` on the X server; the screen halfway through
    the free-mirror block, the events, the records' URL."""
    display, screen = x_screen
    tmp.mkdir()
    (tmp / "program.toml").write_text(program, encoding="utf-8")
    (tmp / "script.json").write_text(json.dumps(SCRIPT), encoding="utf-8")
    url = f"sqlite:///{tmp / 'r.sqlite'}"
    out = tmp / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vrgmi", "session", "--desktop", "--program", "program.toml",
         "--script", "script.json", "--block-seconds", "3", "--out", str(out),
         "--side", "left", "--level", "transradial", "--set", "patient.id=p01",
         "--set", f"data.database_url={url}", "--set", "companion.enabled=false",
         "--set", "safety.ssq_baseline=false", "--set", "ui.speak_instructions=false",
         "--set", f"display.width={WINDOW[0]}", "--set", f"display.height={WINDOW[1]}"],
        env=dict(os.environ, DISPLAY=display), cwd=tmp, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    shot, deadline, moved = None, time.time() + 240, False
    try:
        while time.time() < deadline and proc.poll() is None:
            kinds = {(e["kind"], e.get("scene")) for e in _events(out)}
            if kinds and not moved:              # the window is open: the hand up a little
                x_input(display, pointer=POINTER)
                moved = True
            if ("session_finished", "") in kinds:
                x_input(display, key="Escape")
                break
            if shot is None and ("scene_started", "free_mirror") in kinds:
                time.sleep(1.2)                         # the block runs 3 s
                screen_now = read_screen(screen)
                if ("scene_finished", "free_mirror") not in {   # still in the block
                        (e["kind"], e.get("scene")) for e in _events(out)}:
                    shot = screen_now
            time.sleep(0.1)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-2000:]
    assert "desktop window open" in err and "Traceback" not in err
    assert shot is not None, "no screen read during the free-mirror block"
    return shot, _events(out), url


def _skin(img: np.ndarray) -> np.ndarray:
    r, g, b = (img[..., k].astype(int) for k in range(3))
    return (r > g) & (g > b) & (r - b > 60)


def test_a_shaped_phantom_in_a_study_session_on_the_desktop(x_screen, tmp_path):
    plain, _, _ = run_desktop_session(x_screen, tmp_path / "plain", PROGRAM)
    shaped, events, url = run_desktop_session(x_screen, tmp_path / "shaped", SHAPED)
    window = np.argwhere(plain.sum(axis=2) > 0)
    (top, left), (bottom, right) = window.min(axis=0), window.max(axis=0) + 1
    assert (right - left, bottom - top) == WINDOW
    plain, shaped = plain[top:bottom, left:right], shaped[top:bottom, left:right]
    half = WINDOW[0] // 2
    changed = np.abs(plain.astype(int) - shaped.astype(int)).max(axis=2) > 24
    # the intact hand and the room (right half) are drawn the same; the phantom differs
    assert changed[:, half:].mean() < 0.002
    assert changed[:, :half].sum() > 400
    phantom_plain, phantom_shaped = _skin(plain[:, :half]), _skin(shaped[:, :half])
    assert phantom_shaped.sum() > 2000                  # the phantom is shown ...
    top_plain = np.argwhere(phantom_plain)[:, 0].min()
    top_shaped = np.argwhere(phantom_shaped)[:, 0].min()
    assert top_shaped > top_plain + 40                  # ... a fist, nearer the elbow

    code = condition_codes(StudyPlan(conditions=["delayed"], seed=5), "p01")["delayed"]
    kinds = [e["kind"] for e in events]
    assert kinds[-1] == "session_finished" and events[-1]["data"]["reason"] == "completed"
    (shape,) = [e["data"] for e in events if e["kind"] == "phantom_shaped"]
    assert shape["new"]["posture"] == "clenched_fist" and shape["new"]["telescoping"] == 0.3
    (cond,) = [e["data"] for e in events if e["kind"] == "study_condition"]
    assert cond == {"code": code, "index": 0}
    assert "shaping_decision" in kinds
    db = open_database(url)
    try:
        (session,) = queries.list_sessions(db, "p01")
        assert session["reason_ended"] == "completed" and "free_mirror" in session["scenes"]
        assert study_rows(db, "p01") == [{"session": session["id"], "index": 0, "code": code}]
        assert study_rows(db, "p01", unblinded=True)[0]["condition"] == "delayed"
        plan = load_program(db, "p01").shaping
        assert [s["session"] for s in plan.sessions] == [session["id"]]
    finally:
        db.close()
