"""A shaped phantom and the study conditions in the headset, against the scripted OpenXR test
runtime (pyopenxr's loader, core validation on and clean), through XrRunner and the
SessionRunner: every frame's solved phantom is checked against a plain mirror core fed the
runtime's controller pose at that frame's predicted display time.

* shaped (clenched fist, telescoped forearm, schedule step 1 of 4): the arm's joints and
  proximal angles are the mirror's, the hand's angles the mirror's moved 3/4 of the way to
  the fist, the forearm as long as the telescoping says, and the rig draws it that long;
* delayed mirror (study.delay_s): the phantom's target is the mirror's of exactly
  ceil(delay * rate) frames earlier (and not one frame more or less);
* frozen: the phantom does not move while the intact hand does;
* the events and the program keep the allocation; the companion's status and the events
  name only the condition's code."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.embodiment_patient import EmbodimentPatient
from tests.test_embodiment_xr import Presses
from tests.xr_runtime.harness import validation_problems, xr_test_runtime
from vrgmi.companion.live import dumps
from vrgmi.body.shaping import posture_vector, telescoped_length
from vrgmi.core import CorePipeline, warmup
from vrgmi.events import read_events
from vrgmi.program import Program, SceneStep
from vrgmi.session import SessionRunner
from vrgmi.settings import load_settings
from vrgmi.shaping import ShapingPlan
from vrgmi.study.allocation import StudyPlan, condition_codes, schedule
from vrgmi.tracking.replay import ReplaySource, load_replay, save_replay
from vrgmi.tracking.scripted import make_scripted_replay
from vrgmi.xr_app import XrRunner

RATE = 30.0
VIEW = (64, 64)
DELAY_S = 0.3
#: positions located through OpenXR are float32: metres / radians agree to this
TOL = 5e-5


@pytest.fixture(scope="module")
def reach(tmp_path_factory):
    path = tmp_path_factory.mktemp("xr-study") / "reach.npz"
    save_replay(path, make_scripted_replay("reach", seconds=6.0, rate_hz=RATE,
                                           intact_side="right"))
    warmup()
    return path


def _settings():
    return load_settings(overrides={
        "patient.amputation_side": "left", "patient.amputation_level": "transradial",
        "display.mode": "headless", "tracking.one_euro": "false",
        "safety.ssq_baseline": "false", "ui.speak_instructions": "false",
        "mirror.midline_clearance_m": 0})


def _session(display, rt, settings, program, out_dir):
    """One headset session of ``program`` (a short free-mirror block) with a quick patient;
    per stepped frame: predicted time, the phantom's target, joints and angles, the intact
    wrist, the rig's forearm scale; and every companion status published."""
    presses = Presses(rt)
    patient = EmbodimentPatient(presses.press, read_s=0.5, think_s=0.2)
    frames, statuses = [], []

    def hook(runner, t_ns):
        session, core = runner.session, runner.engine.core
        presses.frame()
        patient(session, session.t)
        if core.frame.t != (frames[-1]["core_t"] if frames else 0.0):     # stepped
            frames.append({"t_ns": t_ns, "core_t": core.frame.t,
                           "target": core.phantom.target.copy(),
                           "joints": core.phantom.positions.copy(),
                           "angles": core.phantom.angles.copy(),
                           "intact": core.intact.positions[-1].copy(),
                           "scale": runner.engine.phantom_rig.segment_scale,
                           "shown": runner.engine.phantom_rig.shown})
        statuses.append(session.board.status()[1])

    runner = XrRunner(settings, display, out_dir, session=lambda engine: SessionRunner(
        engine, program, out_dir, max_block_s=2.0))
    try:
        report = runner.run(frames=900, on_frame=hook)
    finally:
        runner.engine.close()
    assert report["fallback"] is None and report["session"]["reason"] == "completed"
    return runner, frames, statuses


def _mirror(settings, replay_path, frames):
    """A plain mirror core fed the replay at each frame's predicted display time (how the
    runtime samples it): its phantom target, joints and angles per frame."""
    core = CorePipeline(settings, ReplaySource(load_replay(replay_path), loop=True,
                                               time_origin=0.0))
    out = []
    for f in frames:
        core.step((f["t_ns"] - 1_000_000_000) * 1e-9, 1.0 / RATE)
        out.append({"target": core.phantom.target.copy(),
                    "joints": core.phantom.positions.copy(),
                    "angles": core.phantom.angles.copy()})
    return out


def _program(**plans):
    return Program("p01", phase="mirror", steps={"mirror": [SceneStep("free_mirror", 0.1)]},
                   **plans)


def _blinded(statuses, names):
    """No companion status (as the companion sends it) names a condition or its delay."""
    for s in statuses:
        text = dumps(s)
        assert not [n for n in (*names, "delay_s") if n in text], text[:300]


def test_a_shaped_phantom_in_the_headset(display, reach, tmp_path):
    settings = _settings()
    plan = ShapingPlan(posture="clenched_fist", telescoping=0.8, steps=4, step=1)
    with xr_test_runtime(replay=reach, view_size=VIEW, rate_hz=RATE) as rt:
        runner, frames, statuses = _session(display, rt, settings, _program(shaping=plan),
                                            tmp_path)
        bad = validation_problems(rt.validation_messages())
    assert not bad, "\n".join(bad)
    core = runner.engine.core
    w, tele = 0.75, 0.6
    names, first = core.joint_names, core.shaper.first
    fist = posture_vector("arm", "clenched_fist")
    forearm = telescoped_length(core.layout, core.lengths.limb("arm"), tele)
    assert forearm < core.lengths.limb("arm")[1] - 0.05
    elbow, wrist = names.index("elbow"), names.index("wrist")
    ref = _mirror(settings, reach, frames)
    assert len(frames) > 150
    for f, m in zip(frames, ref):
        for name in ("shoulder", "elbow"):
            k = names.index(name)
            assert np.linalg.norm(f["joints"][k] - m["joints"][k]) < TOL
        assert np.abs(f["angles"][:first] - m["angles"][:first]).max() < TOL
        shaped = m["angles"][first:] + w * (fist[first:] - m["angles"][first:])
        assert np.abs(f["angles"][first:] - shaped).max() < TOL
        assert abs(np.linalg.norm(f["joints"][wrist] - f["joints"][elbow]) - forearm) < 1e-6
        assert f["scale"] == pytest.approx(forearm / core.lengths.limb("arm")[1])
    moved = max(np.linalg.norm(f["joints"][wrist] - frames[0]["joints"][wrist])
                for f in frames)
    assert moved > 0.1                            # the shaped phantom follows the reach
    events = list(read_events(runner.session.log_path))
    (shaped_ev,) = [e["data"] for e in events if e["kind"] == "phantom_shaped"]
    assert shaped_ev["by"] == "schedule" and shaped_ev["step"] == 1
    assert shaped_ev["new"]["posture"] == "clenched_fist"
    assert (shaped_ev["new"]["weight"], shaped_ev["new"]["telescoping"]) == (w, tele)
    assert [e["data"]["step"] for e in events if e["kind"] == "shaping_decision"] == [1]
    assert statuses[-1]["phantom"]["posture"] == "clenched_fist"
    assert statuses[-1]["phantom"]["study_code"] == ""


def test_delayed_and_frozen_conditions_in_the_headset(display, reach, tmp_path):
    settings = _settings()
    study = StudyPlan(conditions=["delayed", "frozen"], seed=11, delay_s=DELAY_S)
    order = schedule(study, "p01", 2)
    codes = condition_codes(study, "p01")
    late = math.ceil(DELAY_S * RATE - 1e-9)
    program = _program(study=study)
    seen = {}
    with xr_test_runtime(replay=reach, view_size=VIEW, rate_hz=RATE) as rt:
        for i, condition in enumerate(order):
            runner, frames, statuses = _session(display, rt, settings, program,
                                                tmp_path / f"s{i}")
            program = runner.session.program          # with this session's allocation
            seen[condition] = (runner, frames, statuses)
        bad = validation_problems(rt.validation_messages())
    assert not bad, "\n".join(bad)
    assert [a["condition"] for a in program.study.allocations] == order
    assert [a["code"] for a in program.study.allocations] == [codes[c] for c in order]

    for condition, (runner, frames, statuses) in seen.items():
        code = codes[condition]
        events = list(read_events(runner.session.log_path))
        (ev,) = [e["data"] for e in events if e["kind"] == "study_condition"]
        assert ev["code"] == code and condition not in json.dumps(ev)
        published = [s for s in statuses if s.get("phantom")]
        assert len(published) > 100
        assert all(s["phantom"]["study_code"] == code for s in published)
        _blinded(statuses, study.conditions)
        assert all(f["shown"] for f in frames)

    _, frames, _ = seen["delayed"]
    ref = _mirror(settings, reach, frames)
    err = {lag: [float(np.linalg.norm(frames[i]["target"][:3] - ref[i - lag]["target"][:3]))
                 for i in range(late + 1, len(frames))] for lag in (late - 1, late, late + 1)}
    assert len(err[late]) > 150
    assert max(err[late]) < TOL                    # exactly `late` frames behind
    assert max(err[late - 1]) > 20 * TOL and max(err[late + 1]) > 20 * TOL
    joints = [float(np.abs(frames[i]["joints"] - ref[i - late]["joints"]).max())
              for i in range(late + 1, len(frames))]
    assert max(joints) < 1e-3

    _, frames, _ = seen["frozen"]
    held = frames[0]["joints"]
    assert max(float(np.abs(f["joints"] - held).max()) for f in frames) < 1e-6
    travel = max(np.linalg.norm(f["intact"] - frames[0]["intact"]) for f in frames)
    assert travel > 0.1                           # while the intact hand reaches
