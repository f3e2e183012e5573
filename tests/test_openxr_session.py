"""The headset loop against the scripted test runtime (EGL, offscreen; pyopenxr's real
loader; core validation on and clean): it begins, renders both eyes and ends; it adds no
latency; focus loss pauses; loss tears down and reconnects; a vanished runtime falls back
with the recording kept; recentring; `vrgmi doctor` and `vrgmi run` against the runtime."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from panda3d.core import Point2, Point3

from tests.xr_runtime.harness import validation_problems, xr_test_runtime
from vrgmi.bench import added_latency_frames
from vrgmi.core import warmup
from vrgmi.events import read_events
from vrgmi.records import open_database, queries
from vrgmi.settings import load_settings
from vrgmi.spatial import stage_to_engine_pose
from vrgmi.tracking.frame import TrackingFrame
from vrgmi.tracking.replay import ReplaySource, load_replay, save_replay
from vrgmi.tracking.scripted import make_scripted_replay
from vrgmi.tracking.xr_input import OpenXRSource
from vrgmi.xr_app import XrRunner

VIEW = (96, 96)


@pytest.fixture(scope="module")
def reach(tmp_path_factory):
    path = tmp_path_factory.mktemp("xr") / "reach.npz"
    save_replay(path, make_scripted_replay("reach", seconds=4.0, rate_hz=90.0,
                                           intact_side="right"))
    warmup()
    return path


@pytest.fixture
def settings():
    return load_settings(overrides={"patient.amputation_side": "left",
                                    "patient.amputation_level": "transradial",
                                    "display.mode": "headless", "tracking.one_euro": "false",
                                    "safety.ssq_baseline": "false"})


def _clean(rt) -> None:
    bad = validation_problems(rt.validation_messages())
    assert not bad, "\n".join(bad)


def _run(display, settings, rt, frames, hook=None, out_dir=None):
    runner = XrRunner(settings, display, out_dir)
    try:
        report = runner.run(frames=frames, on_frame=hook)
    finally:
        runner.engine.close()
    return runner, report


def _skin(px: np.ndarray) -> bool:
    r, g, b = (int(v) for v in px[:3])
    return r > g > b and r - b > 45


def test_a_session_begins_renders_both_eyes_and_ends(display, settings, reach):
    seen = {}

    def hook(runner, _t):        # where the intact hand's joints land in each eye
        eyes = runner.link.eyes
        for i, cam in enumerate(eyes.cameras):
            pts = []
            for p in runner.engine.core.intact.positions:
                out = Point2()
                if eyes.lenses[i].project(cam.get_relative_point(display.base.render,
                                                                 Point3(*p)), out):
                    pts.append(((out[0] + 1) / 2 * VIEW[0], (1 - out[1]) / 2 * VIEW[1]))
            seen[i] = np.array(pts)

    with xr_test_runtime(replay=reach, view_size=VIEW) as rt:
        runner, report = _run(display, settings, rt, 20, hook)
        images = [rt.last_image(0), rt.last_image(1)]
        assert rt.call_count("xrBeginSession") == 1 and rt.call_count("xrEndSession") == 1
        assert rt.call_count("xrDestroySession") == 1
        log = rt.frame_log()
        _clean(rt)
    assert report["xr"]["frames"] == 20 and report["fallback"] is None
    assert not np.isnan(log["left_pose"][-10:]).any()
    for eye in (0, 1):
        img, pts = images[eye], seen[eye]
        assert img is not None and img.shape == (VIEW[1], VIEW[0], 4)
        inside = [(int(x), int(y)) for x, y in pts if 0 <= x < VIEW[0] and 0 <= y < VIEW[1]]
        assert len(inside) >= 10, f"the intact hand is not in eye {eye}'s view"
        skin = sum(any(_skin(img[min(max(y + dy, 0), VIEW[1] - 1),
                                 min(max(x + dx, 0), VIEW[0] - 1)])
                       for dx in (-1, 0, 1) for dy in (-1, 0, 1)) for x, y in inside)
        assert skin >= 0.6 * len(inside), f"eye {eye} does not show the hand"
    # two viewpoints 64 mm apart: a near hand lands further right in the left eye
    disparity = seen[0][:, 0].mean() - seen[1][:, 0].mean()
    assert disparity > 2.0
    assert 1.0 < np.abs(images[0].astype(int) - images[1]).mean() < 60.0


def test_frame_k_uses_the_poses_of_frame_k_predicted_display_time(display, settings, reach,
                                                                  monkeypatch):
    used = []
    poll = OpenXRSource.poll

    def spy(self, display_time, frame):
        alive = poll(self, display_time, frame)
        used.append((self.located_ns, frame.grip[1].copy(), bool(frame.grip_valid[1])))
        return alive

    monkeypatch.setattr(OpenXRSource, "poll", spy)
    heads = {}
    with xr_test_runtime(replay=reach, view_size=VIEW) as rt:
        runner, report = _run(display, settings, rt, 30,
                              lambda _r, t: heads.__setitem__(t, rt.head_pose_at(t)))
        log = rt.frame_log()
        assert added_latency_frames(log, heads.__getitem__) == 0
        for row in log[~np.isnan(log["left_pose"][:, 0])]:
            mid = (row["left_pose"][:3] + row["right_pose"][:3]) / 2
            head = heads[int(row["predicted_ns"])]
            np.testing.assert_allclose(mid, head[:3], atol=1e-5)
            assert abs(abs(float(np.dot(row["left_pose"][3:], head[3:]))) - 1) < 1e-6
        _clean(rt)
    assert list(log["predicted_ns"]) == runner.stats.predicted_ns
    assert report["xr"]["pose_time_mismatch_ns"] == 0
    replay, expected = load_replay(reach), TrackingFrame()
    source = ReplaySource(replay, loop=True, time_origin=0.0)
    # polled from the first FOCUSED frame on (before it the engine is paused), each frame
    # at its own predicted display time
    predicted = runner.stats.predicted_ns
    assert len(used) >= 25 and [u[0] for u in used] == predicted[len(predicted) - len(used):]
    for t, grip, valid in used:
        source.poll((t - 1_000_000_000) * 1e-9, expected)
        assert valid
        np.testing.assert_allclose(grip, expected.grip[1], atol=1e-5)


def test_losing_focus_pauses_the_scene_and_holds_the_limb(display, settings, reach):
    states = []

    def hook(runner, _t):
        states.append((runner.engine.held, runner.engine.core.intact.positions.copy()))

    events = "10 state VISIBLE\n22 state FOCUSED\n"
    with xr_test_runtime(replay=reach, view_size=VIEW, events=events) as rt:
        _run(display, settings, rt, 32, hook)
        log = rt.frame_log()
        _clean(rt)
    paused = [p for p, _ in states]
    assert not any(paused[4:9]) and all(paused[11:21]) and not any(paused[24:])
    held = [pos for _, pos in states[11:21]]
    assert all(np.array_equal(held[0], pos) for pos in held)      # the limb holds
    assert not np.array_equal(states[-1][1], states[0][1])          # and moves again
    assert not np.isnan(log["left_pose"][11:21]).any()              # eyes still submitted


@pytest.mark.parametrize("loss", ["loss_pending", "instance_loss"])
def test_a_lost_session_is_torn_down_and_a_restart_works(display, settings, reach, loss):
    with xr_test_runtime(replay=reach, view_size=VIEW, events=f"12 {loss}\n") as rt:
        runner, report = _run(display, settings, rt, 30)
        lost = report["xr"]["lost"]
        assert rt.call_count("xrDestroyInstance") == lost + 1
        assert rt.call_count("xrBeginSession") == lost + 1
        _clean(rt)
    assert lost >= 1 and report["xr"]["reconnects"] == lost
    assert report["fallback"] is None and report["xr"]["frames"] == 30
    assert runner.t > 0.3      # the display clock went on across the restart


def test_a_runtime_that_vanishes_falls_back_and_keeps_the_recording(display, settings, reach,
                                                                    tmp_path):
    with xr_test_runtime(replay=reach, view_size=VIEW, events="15 vanish\n") as rt:
        runner, report = _run(display, settings, rt, 40, out_dir=tmp_path)
        assert rt.call_count("xrCreateInstance") == 1     # every reconnection was refused
        heads = [rt.head_pose_at(t) for t in runner.stats.predicted_ns]   # after teardown
        _clean(rt)
    assert report["fallback"] and "\n" not in report["fallback"]
    assert report["xr"]["frames"] == 15                   # frame 15's xrWaitFrame failed
    assert report["xr"]["lost"] == 1 and report["xr"]["reconnects"] == 0
    recording = load_replay(tmp_path / "recording.npz")
    # Frames 0-2 are held (no focus yet: the FOCUSED event that frame 2's xrWaitFrame queues
    # is polled before frame 3); every later frame is kept: 3-14 from the headset, then the
    # fallback's 15-39 on the same display clock, without a gap at the vanish.
    np.testing.assert_allclose(recording.t, np.arange(3, 40) / 90.0, atol=1e-9)
    np.testing.assert_allclose(recording.head[:12], stage_to_engine_pose(np.array(heads[3:])),
                               atol=1e-5)                 # the headset part is the headset's
    assert recording.right_valid[:12].all()


def test_the_runtime_asking_to_exit_ends_the_run(display, settings, reach):
    with xr_test_runtime(replay=reach, view_size=VIEW, events="15 exit\n") as rt:
        _runner, report = _run(display, settings, rt, 200)
        assert rt.call_count("xrEndSession") == 1
        _clean(rt)
    assert 14 <= report["xr"]["frames"] <= 20 and report["fallback"] is None


def test_recentre_makes_the_head_the_origin_looking_forward(display, settings, reach):
    heads = []

    def hook(runner, _t):
        if len(heads) == 5:
            runner.request_recenter()
        heads.append(runner.engine.core.frame.head.copy())

    with xr_test_runtime(replay=reach, view_size=VIEW) as rt:
        _run(display, settings, rt, 9, hook)
        _clean(rt)
    assert np.hypot(*heads[4][:2]) > 0.05 or abs(heads[4][2]) > 0.5
    head = heads[7]
    assert np.hypot(head[0], head[1]) < 0.03                 # above the origin
    q = head[3:]
    fwd = (2 * (q[0] * q[1] - q[3] * q[2]), 1 - 2 * (q[0] ** 2 + q[2] ** 2))  # +Y, on the floor
    assert abs(np.arctan2(fwd[0], fwd[1])) < np.radians(3)   # looking along +Y ("forward")


def test_doctor_names_the_runtime_and_its_extensions():
    from vrgmi.doctor import check_openxr
    with xr_test_runtime() as rt:
        finding = check_openxr()
        _clean(rt)
    assert finding.ok
    assert "vrgmi test runtime" in finding.text
    for ext in ("XR_KHR_opengl_enable", "XR_MNDX_egl_enable", "XR_EXT_hand_tracking",
                "XR_HTCX_vive_tracker_interaction"):
        assert ext in finding.text


def test_vrgmi_run_uses_the_headset_when_a_runtime_answers(reach, tmp_path):
    with xr_test_runtime(replay=reach, view_size=VIEW) as rt:
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        res = subprocess.run([sys.executable, "-m", "vrgmi", "run", "--seconds", "0.2",
                              "--set", f"data.out_dir={tmp_path}",
                              "--set", f"data.database_url=sqlite:///{tmp_path / 'r.sqlite'}",
                              "--set", "companion.port=0"], capture_output=True,
                             text=True, timeout=600, env=env)
        _clean(rt)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert "headset session on 'vrgmi test runtime'" in res.stdout
    assert "companion: pairing token" in res.stderr         # the therapist can pair
    assert (tmp_path / "recording.npz").exists()
    (log,) = tmp_path.glob("events-*.jsonl")                # a GMI session ran, recorded
    kinds = [e["kind"] for e in read_events(log)]
    assert kinds[0] == "session_started" and kinds[-1] == "session_finished"
    db = open_database(f"sqlite:///{tmp_path / 'r.sqlite'}")
    try:
        assert [s["id"] for s in queries.list_sessions(db, "demo")] == [log.stem[7:]]
    finally:
        db.close()


A_BUTTON = "input /user/hand/right/input/a/click"          # right A: "select"
STICK_X = "input /user/hand/right/input/thumbstick/x"      # right / left
PRESS = [f"{A_BUTTON} 1", f"{A_BUTTON} 0"]
FLICK_RIGHT = [f"{STICK_X} 1.0", f"{STICK_X} 0.0"]
FLICK_LEFT = [f"{STICK_X} -1.0", f"{STICK_X} 0.0"]


class HeadsetPatient:
    """Answers each block through the controllers: on each new block, that block's script of
    runtime directives is played, one per frame (None: a frame without one). In free mirror
    the patient lifts the headset for 20 frames (focus lost, then back)."""

    SCRIPTS = {("pain_nrs", "pre"): FLICK_LEFT * 4 + PRESS,           # (none) 10 -> 7, confirm
               ("free_mirror", "main"): [None] * 5 + ["state VISIBLE"] + [None] * 19
               + ["state FOCUSED"],
               ("pain_nrs", "post"): FLICK_RIGHT * 6 + PRESS,          # (none) 0 -> 5
               ("ssq", "post"): (FLICK_RIGHT + PRESS) * 16}            # "none" for all 16

    def __init__(self, rt) -> None:
        self.rt, self.block, self.todo = rt, None, []

    def __call__(self, runner: XrRunner, _t: int) -> None:
        session = runner.session
        if session.current is not self.block:
            self.block = session.current
            key = (self.block.scene, self.block.part) if self.block else None
            self.todo = list(self.SCRIPTS.get(key, []))
        if self.todo and (directive := self.todo.pop(0)) is not None:
            self.rt.inject(directive)


def test_a_headset_run_drives_a_whole_session(display, settings, reach, tmp_path):
    from vrgmi.events import read_events
    from vrgmi.program import Program, SceneStep
    from vrgmi.session import SessionRunner

    program = Program("p01", phase="mirror", steps={"mirror": [SceneStep("free_mirror", 0.1)]})
    rate = 30.0          # a slow headset: the same session in a third of the frames
    with xr_test_runtime(replay=reach, view_size=VIEW, rate_hz=rate) as rt:
        runner = XrRunner(settings, display, tmp_path, session=lambda engine: SessionRunner(
            engine, program, tmp_path, max_block_s=0.3))
        try:
            report = runner.run(frames=3000, on_frame=HeadsetPatient(rt))
        finally:
            runner.engine.close()
        assert rt.call_count("xrRequestExitSession") == 1 and rt.call_count("xrEndSession") == 1
        _clean(rt)
    summary = report["session"]
    assert report["fallback"] is None and report["xr"]["frames"] < 200   # it ended by itself
    assert summary["reason"] == "completed" and summary["phase"] == "mirror"
    assert (summary["nrs_pre"], summary["nrs_post"], summary["ssq_total"]) == (7, 5, 0.0)
    events = list(read_events(runner.session.log_path))
    kinds = [(e["kind"], e["scene"]) for e in events if e["kind"].startswith(("session_",
                                                                               "scene_"))]
    assert kinds == [("session_started", ""),
                     ("scene_started", "pain_nrs"), ("scene_finished", "pain_nrs"),
                     ("scene_started", "free_mirror"), ("session_paused", ""),
                     ("session_resumed", ""), ("scene_finished", "free_mirror"),
                     ("scene_started", "pain_nrs"), ("scene_finished", "pain_nrs"),
                     ("scene_started", "ssq"), ("scene_finished", "ssq"),
                     ("session_finished", "")]
    by_kind = {e["kind"]: e for e in events}
    assert by_kind["session_paused"]["data"] == {"reason": "headset focus lost"}
    assert events[0]["t"] == pytest.approx(3 / rate)      # from the first focused frame
    # the block clock stood still while the headset was off: 0.3 s of mirror + ~20 frames
    mirror = [e["t"] for e in events if e["scene"] == "free_mirror"
              and e["kind"] in ("scene_started", "scene_finished")]
    away = by_kind["session_resumed"]["t"] - by_kind["session_paused"]["t"]
    assert away == pytest.approx(20 / rate, abs=1.5 / rate)
    assert mirror[1] - mirror[0] == pytest.approx(0.3 + away, abs=1.5 / rate)


def test_a_session_goes_on_after_the_runtime_vanishes_and_its_events_are_written(
        display, settings, reach, tmp_path):
    from vrgmi.events import read_events
    from vrgmi.program import Program, SceneStep
    from vrgmi.session import SessionRunner

    program = Program("p01", phase="mirror", steps={"mirror": [SceneStep("free_mirror", 0.1)]})
    with xr_test_runtime(replay=reach, view_size=VIEW, events="15 vanish\n") as rt:
        runner = XrRunner(settings, display, tmp_path, session=lambda engine: SessionRunner(
            engine, program, tmp_path, max_block_s=0.3))
        try:
            report = runner.run(frames=40)
        finally:
            runner.engine.close()
        _clean(rt)
    assert report["fallback"] and report["xr"]["frames"] == 15
    summary = report["session"]
    # stepped from the first focused frame (3) through the fallback's last (39), then closed
    assert summary["reason"] == "stopped"
    assert summary["minutes"] == round((39 - 3) / 90.0 / 60.0, 3)
    kinds = [(e["kind"], e["scene"]) for e in read_events(runner.session.log_path)]
    assert kinds == [("session_started", ""), ("scene_started", "pain_nrs"), ("recenter", ""),
                     ("scene_finished", "pain_nrs"), ("progression", ""),
                     ("session_finished", "")]
