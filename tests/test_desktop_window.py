"""`vrgmi run` on a machine with a display opens the desktop window (here a real X server,
Xvfb, installed by `make test`) with the mouse-driven intact hand, and quits cleanly."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest


@pytest.fixture
def x_display():
    xvfb = shutil.which("Xvfb")
    assert xvfb, "Xvfb is missing: `make test` installs it (tools/system-deps.sh)"
    for number in range(90, 110):
        if not os.path.exists(f"/tmp/.X11-unix/X{number}") and \
                not os.path.exists(f"/tmp/.X{number}-lock"):
            break
    proc = subprocess.Popen([xvfb, f":{number}", "-screen", "0", "1280x800x24",
                             "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while not os.path.exists(f"/tmp/.X11-unix/X{number}") and time.time() < deadline:
        time.sleep(0.05)
    yield f":{number}"
    proc.terminate()
    proc.wait(timeout=10)


def test_run_opens_the_desktop_window(x_display, tmp_path):
    env = dict(os.environ, DISPLAY=x_display)
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "vrgmi", "run", "--seconds", "2",
                          "--set", f"data.out_dir={out}",
                          "--set", f"data.database_url=sqlite:///{tmp_path / 'r.sqlite'}",
                          "--set", "companion.port=0"],
                         env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "desktop window open" in res.stderr
    assert "companion: pairing token" in res.stderr
    assert "Traceback" not in res.stderr
    assert len(list(out.glob("events-*.jsonl"))) == 1      # a real session, recorded
    assert not (out / "report.json").exists()              # not the headless demo


def test_run_without_display_writes_the_headless_demo(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "vrgmi", "run", "--seconds", "3",
                          "--set", f"data.out_dir={out}"],
                         env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "headless demo" in res.stderr and "Traceback" not in res.stderr
    report = json.loads((out / "report.json").read_text())
    assert list(report["sessions"]) == ["laterality", "imagery", "mirror"]
    assert all(s["reason"] == "completed" for s in report["sessions"].values())
    for phase, scene in [("laterality", "laterality"), ("imagery", "imagery"),
                         ("mirror", "copy_pose")]:
        assert list((out / phase).glob(f"*-{scene}.png")), phase
        assert len(list((out / phase).glob("events-*.jsonl"))) == 1
    assert (out / "records.sqlite").is_file()
    assert (out / "progress-report.pdf").read_bytes()[:5] == b"%PDF-"
