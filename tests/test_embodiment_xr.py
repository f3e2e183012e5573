"""The embodiment measures in the headset, against the scripted OpenXR test runtime (pyopenxr's
loader, core validation on and clean): a mirror session whose block is the touch task, with
the drift task around it and the questionnaire after it, answered with the thumbstick and A;
the therapist's brush (the left controller) stroking the intact hand is drawn on the phantom
in the frame whose predicted display time located it; the haptic pulse reaches the runtime
(xrApplyHapticFeedback through the action set's haptic output)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.embodiment_patient import ANSWERS, EmbodimentPatient
from tests.xr_runtime.harness import validation_problems, xr_test_runtime
from vrgmi.body.mirror import mirror_points
from vrgmi.core import warmup
from vrgmi.events import read_events
from vrgmi.program import Program, SceneStep
from vrgmi.session import SessionRunner
from vrgmi.settings import load_settings
from vrgmi.tracking.frame import TrackingFrame
from vrgmi.tracking.replay import Replay, ReplaySource, load_replay, save_replay
from vrgmi.tracking.scripted import make_scripted_replay
from vrgmi.xr_app import XrRunner

RATE = 30.0
VIEW = (96, 96)
A_BUTTON = "/user/hand/right/input/a/click"
STICK_X = "/user/hand/right/input/thumbstick/x"
DIRECTIVES = {"select": [f"input {A_BUTTON} 1", f"input {A_BUTTON} 0"],
              "right": [f"input {STICK_X} 1.0", f"input {STICK_X} 0.0"],
              "left": [f"input {STICK_X} -1.0", f"input {STICK_X} 0.0"]}
#: the brush (left controller) rises this high above the intact hand and comes back down
#: every :data:`STROKE_PERIOD_S`
LIFT_M, STROKE_PERIOD_S = 0.35, 1.2


@pytest.fixture(scope="module")
def brush_replay(tmp_path_factory):
    """The reach motion of the intact right hand, and the left controller as the therapist's
    brush, moving continuously between 2 cm and 37 cm above the right hand's grip."""
    path = tmp_path_factory.mktemp("xr-emb") / "brush.npz"
    base = make_scripted_replay("reach", seconds=9.0, rate_hz=90.0, intact_side="right")
    arrays = base.arrays()
    lift = 0.02 + LIFT_M * (0.5 - 0.5 * np.cos(2 * np.pi * arrays["t"] / STROKE_PERIOD_S))
    left = arrays["right_grip"].copy()
    left[:, 2] += lift
    left[:, 3:] = (0.0, 0.0, 0.0, 1.0)
    arrays["left_grip"], arrays["left_valid"] = left, np.ones_like(arrays["right_valid"])
    arrays.pop("left_aim", None)
    save_replay(path, Replay.from_arrays(arrays))
    warmup()
    return path


class Presses:
    """The patient's semantic presses as runtime directives, one per frame."""

    def __init__(self, rt) -> None:
        self.rt, self.todo = rt, []

    def press(self, action: str) -> None:
        self.todo += DIRECTIVES[action]

    def frame(self) -> None:
        if self.todo:
            self.rt.inject(self.todo.pop(0))


def test_a_headset_session_runs_the_measures_and_the_touch_task(display, brush_replay,
                                                                 tmp_path):
    settings = load_settings(overrides={
        "patient.amputation_side": "left", "patient.amputation_level": "transradial",
        "display.mode": "headless", "tracking.one_euro": "false",
        "safety.ssq_baseline": "false", "ui.speak_instructions": "false",
        "embodiment.drift_every": 1, "embodiment.questionnaire_every": 1,
        "embodiment.drift_trials": 1, "embodiment.touch_haptic": "true",
        "embodiment.touch_brush": "controller", "mirror.midline_clearance_m": 0})
    program = Program("p01", phase="mirror", steps={"mirror": [SceneStep("touch_phantom",
                                                                         0.1)]})
    replay, expected = load_replay(brush_replay), TrackingFrame()
    source = ReplaySource(replay, loop=True, time_origin=0.0)
    checked = []
    with xr_test_runtime(replay=brush_replay, view_size=VIEW, rate_hz=RATE) as rt:
        presses = Presses(rt)
        patient = EmbodimentPatient(presses.press, read_s=1.2, think_s=0.3, point_s=0.8)

        def hook(runner, t_ns):
            session = runner.session
            presses.frame()
            patient(session, session.t)
            scene = session.scene.inner if session.scene is not None else None
            if scene is not None and scene.name == "touch_phantom" and scene.shown is not None \
                    and scene.shown["surface"] == "intact" and scene.shown["touching"]:
                # the brush drawn in this frame is the left grip located at this frame's
                # predicted display time, mirrored onto the phantom
                source.poll((t_ns - 1_000_000_000) * 1e-9, expected)
                felt = mirror_points(expected.grip[0][None, :3], runner.engine.core.torso.pose,
                                     np.zeros((1, 3)))[0]
                checked.append(float(np.linalg.norm(scene.drawn_at - felt)))

        runner = XrRunner(settings, display, tmp_path, session=lambda engine: SessionRunner(
            engine, program, tmp_path, max_block_s=4.0))
        try:
            report = runner.run(frames=3000, on_frame=hook)
        finally:
            runner.engine.close()
        haptics = rt.call_count("xrApplyHapticFeedback")
        bad = validation_problems(rt.validation_messages())
    assert not bad, "\n".join(bad)
    print("headset frames:", report["xr"]["frames"])
    assert report["fallback"] is None and report["session"]["reason"] == "completed"
    events = list(read_events(runner.session.log_path))
    started = [e["scene"] for e in events if e["kind"] == "scene_started"]
    assert started == ["pain_nrs", "proprioceptive_drift", "touch_phantom",
                       "proprioceptive_drift", "embodiment", "pain_nrs", "ssq"]
    pointings = [e["data"] for e in events if e["kind"] == "trial"]
    assert [(p["moment"], p["timeout"]) for p in pointings] == [("pre", False),
                                                                ("post", False)]
    assert all(p["error_cm"] >= 0.0 and len(p["felt"]) == 3 for p in pointings)
    (q,) = [e["data"] for e in events if e["kind"] == "questionnaire"
            and e["data"]["instrument"] == "embodiment"]
    assert [a["value"] for a in q["answers"]] == list(ANSWERS)
    strokes = [e["data"] for e in events if e["kind"] == "stroke"]
    assert len(strokes) >= 2 and all(s["delay_s"] == 0.0 for s in strokes)
    assert all(s["drawn_start"] == s["t_start"] for s in strokes)
    assert haptics == sum(s["haptic"] for s in strokes) >= 2
    assert len(checked) >= 10 and max(checked) < 0.002
