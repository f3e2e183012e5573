"""The headset loop through the GLX graphics binding (XR_KHR_opengl_enable with
XrGraphicsBindingOpenGLXlibKHR) under a real X server (Xvfb), against the scripted test
runtime with the core validation layer on.

The rest of the OpenXR suite runs offscreen on EGL. Here the engine opens the desktop window
on Xvfb, so its OpenGL context is a GLX one and the session must be created with the Xlib
binding. Only one Panda3D display can exist per process (the suite's ``display`` fixture is
EGL), so each test runs the engine in a child process: ``vrgmi run`` itself, and a small
script that runs :class:`vrgmi.xr_app.XrRunner` and writes what the runtime received (both
eye images, the frame log, the validation layer's messages) for the test to check.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from test_desktop_window import x_display  # noqa: F401  (fixture: Xvfb)
from tests.eye_pixels import skin_near
from tests.xr_runtime.harness import validation_problems, xr_test_runtime
from vrgmi.events import read_events
from vrgmi.tracking.replay import save_replay
from vrgmi.tracking.scripted import make_scripted_replay

REPO = Path(__file__).resolve().parents[1]
VIEW = (128, 128)
FRAMES = 24

#: the child: the desktop window on $DISPLAY, the headset loop for FRAMES frames against the
#: test runtime; writes eyes.npz (both eye images, the frame log, where the limbs' joints
#: project in each eye on the last frame) and result.json (report, validation messages)
CHILD = r'''
import json, sys
from pathlib import Path
import numpy as np
from tests.eye_pixels import project_joints
from tests.xr_runtime.harness import xr_test_runtime
from vrgmi.core import warmup
from vrgmi.render.display import open_display
from vrgmi.settings import load_settings
from vrgmi.xr_app import XrRunner

replay, out, frames, w, h = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), *map(int, sys.argv[4:6])
warmup()
settings = load_settings(overrides={"patient.amputation_side": "left",
                                    "patient.amputation_level": "transradial",
                                    "display.mode": "desktop", "tracking.one_euro": "false"})
joints = {}

def project(runner, _t):
    joints.update(project_joints(runner))

with xr_test_runtime(replay=replay, view_size=(w, h)) as rt:
    display = open_display("desktop", size=(320, 240))
    try:
        runner = XrRunner(settings, display)
        try:
            report = runner.run(frames=frames, on_frame=project)
        finally:
            runner.engine.close()
        left, right = rt.last_image(0), rt.last_image(1)
        np.savez(out / "eyes.npz", left=left, right=right, log=rt.frame_log(), **joints)
        (out / "result.json").write_text(json.dumps({
            "display": display.mode.value, "binding": report["binding"],
            "fallback": report["fallback"], "frames": report["xr"]["frames"],
            "end_frames": rt.call_count("xrEndFrame"),
            "sessions": rt.call_count("xrCreateSession"),
            "validation": rt.validation_messages()}))
    finally:
        display.close()
'''


@pytest.fixture(scope="module")
def reach(tmp_path_factory):
    path = tmp_path_factory.mktemp("glx") / "reach.npz"
    save_replay(path, make_scripted_replay("reach", seconds=4.0, rate_hz=90.0,
                                           intact_side="right"))
    return path


def test_the_headset_loop_renders_both_eyes_through_the_glx_binding(x_display, reach,
                                                                   tmp_path):
    env = {**os.environ, "DISPLAY": x_display, "PYTHONPATH": str(REPO)}
    env.pop("WAYLAND_DISPLAY", None)
    res = subprocess.run([sys.executable, "-c", CHILD, str(reach), str(tmp_path), str(FRAMES),
                          str(VIEW[0]), str(VIEW[1])], env=env, capture_output=True, text=True,
                         timeout=300, cwd=REPO)
    assert res.returncode == 0, res.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["display"] == "desktop" and result["binding"] == "GLX"
    assert result["fallback"] is None and result["sessions"] == 1
    assert result["frames"] == FRAMES and result["end_frames"] >= FRAMES
    assert result["validation"], "the core validation layer did not run"
    bad = validation_problems(result["validation"])
    assert not bad, "\n".join(bad)

    data = np.load(tmp_path / "eyes.npz")
    log = data["log"]
    assert len(log) >= FRAMES and not np.isnan(log["left_pose"][-10:]).any()
    eyes = [data["left"], data["right"]]
    for eye, img in enumerate(eyes):
        assert img.shape == (VIEW[1], VIEW[0], 4)
        for limb in ("intact", "phantom"):          # the patient's hand and its mirror image
            inside, skin = skin_near(img, data[f"{limb}{eye}"])
            assert inside >= 10, f"the {limb} limb is not in eye {eye}'s view"
            assert skin >= 0.6 * inside, f"eye {eye} does not show the {limb} limb " \
                                         f"({skin} of {inside} joints on skin)"
    # two viewpoints 64 mm apart: similar pictures, not the same one
    assert 1.0 < np.abs(eyes[0].astype(int) - eyes[1]).mean() < 60.0


def test_vrgmi_run_opens_the_headset_session_with_the_glx_binding(x_display, reach, tmp_path):
    out = tmp_path / "out"
    with xr_test_runtime(replay=reach, view_size=VIEW) as rt:
        env = {**os.environ, "DISPLAY": x_display}
        env.pop("WAYLAND_DISPLAY", None)
        res = subprocess.run([sys.executable, "-m", "vrgmi", "run", "--seconds", "0.3",
                              "--set", f"data.out_dir={out}",
                              "--set", f"data.database_url=sqlite:///{tmp_path / 'r.sqlite'}",
                              "--set", "companion.port=0"], capture_output=True, text=True,
                             timeout=300, env=env, cwd=tmp_path)
        messages = rt.validation_messages()      # the child's layer wrote to our file
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    assert "GLX binding, desktop mirror" in res.stderr            # the session's start line
    found = re.search(r"headset session on 'vrgmi test runtime' \(GLX binding\): (\d+) frames",
                      res.stdout)
    assert found and int(found[1]) >= 20, res.stdout           # 0.3 s at 90 Hz: submitted
    bad = validation_problems(messages)
    assert messages and not bad, "\n".join(bad)
    (log,) = out.glob("events-*.jsonl")                          # a GMI session ran, recorded
    kinds = [e["kind"] for e in read_events(log)]
    assert kinds[0] == "session_started" and kinds[-1] == "session_finished"
    assert (out / "recording.npz").exists()
