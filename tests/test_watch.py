"""Is the patient watching the phantom? The view-angle kernel, the WatchMeter, ``watch_share``
on mirror trials and ``block_finished`` in a simulated session looking at and away from the
phantom, the live status, and the gentle look-away cue (docs/mirror-tasks.md)."""
from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

from vrgmi.app import Engine
from vrgmi.body.view import view_angle_kernel
from vrgmi.control import EngineStatus
from vrgmi.mirror.watch import WatchMeter
from vrgmi.scenes.reach_targets import ReachTargets
from vrgmi.settings import load_settings
from vrgmi.spatial import quat_from_axis_angle, quat_mul
from vrgmi.tracking.replay import Replay, ReplaySource
from vrgmi.tracking.scripted import make_scripted_replay

RATE = 90.0
DT = 1.0 / RATE


def _head_quat(yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """Turned ``yaw_deg`` to the left (about +z), then pitched ``pitch_deg`` up (about +x)."""
    return quat_mul(quat_from_axis_angle(np.array([0.0, 0.0, 1.0]), math.radians(yaw_deg)),
                    quat_from_axis_angle(np.array([1.0, 0.0, 0.0]), math.radians(pitch_deg)))


def test_view_angle_of_a_point_from_the_head():
    head = np.array([0.0, 0.0, 1.2, 0.0, 0.0, 0.0, 1.0])          # facing +y
    assert view_angle_kernel(head, np.array([0.0, 1.0, 1.2])) == pytest.approx(0.0, abs=1e-7)
    assert view_angle_kernel(head, np.array([1.0, 0.0, 1.2])) == pytest.approx(math.pi / 2)
    head[3:] = _head_quat(0.0, -30.0)                               # looking 30 deg down
    down = np.array([0.0, math.cos(math.radians(30)), 1.2 - math.sin(math.radians(30))])
    assert view_angle_kernel(head, down) == pytest.approx(0.0, abs=1e-7)
    assert math.isnan(view_angle_kernel(head, head[:3].copy()))


def test_watch_meter_adds_up_trials_blocks_and_the_time_looking_away():
    meter = WatchMeter(cue_after_s=2.0)
    for _ in range(90):                                   # 1 s watched, in the trial
        meter.update(DT, 10.0, True, True)
    for _ in range(90):                                   # 1 s away, in the trial
        meter.update(DT, 50.0, False, True)
    for _ in range(45):                                   # no head pose: counts for nothing
        meter.update(DT, math.nan, False, True)
    assert meter.trial_share == pytest.approx(0.5) and meter.away_s == pytest.approx(1.0)
    assert not meter.cue_due and not meter.watching
    assert meter.end_trial() == pytest.approx(0.5) and meter.trial_share is None
    for _ in range(90):                                   # 1 s more away, resting
        meter.update(DT, 60.0, False, False)
    assert meter.cue_due and meter.trial_share is None
    assert meter.block_share == pytest.approx(1 / 3, abs=1e-3)
    meter.update(DT, 5.0, True, False)                    # looking back resets the clock
    assert meter.away_s == 0.0 and not meter.cue_due and meter.watching
    off = WatchMeter(0.0)
    for _ in range(900):
        off.update(DT, 90.0, False, False)
    assert not off.cue_due and off.block_share == 0.0
    figures = meter.block_figures()
    assert set(figures) == {"watch_share", "watched_s", "watch_measured_s"}
    assert figures["watch_measured_s"] == pytest.approx(3.01, abs=0.01)


#: the head turns from straight ahead to where the patient then looks at this time (s)
TURN_S = 0.3


def _resting_patient(head_yaw_deg: float, head_pitch_deg: float) -> Replay:
    """The scripted resting patient (intact right hand on the lap), facing forward at the
    start (where the body frame is set) and from ``TURN_S`` on looking as given."""
    arrays = {k: np.array(v, copy=True)
              for k, v in make_scripted_replay("rest", 12.0, RATE, "right").arrays().items()}
    arrays["head"][:, 3:] = _head_quat(0.0, -20.0)
    arrays["head"][arrays["t"] >= TURN_S, 3:] = _head_quat(head_yaw_deg, head_pitch_deg)
    return Replay.from_arrays(arrays)


#: looking at the phantom (left) hand on the lap, and away (to the right, above the table)
AT_PHANTOM = (30.0, -58.0)
AWAY = (-30.0, 0.0)


def _session(display, head, look_cue_s=0.0, seconds=7.0, trials=2):
    """A reach-targets block on the resting patient (each trial times out after 2 s), the
    cue's visibility per frame; the engine is closed (the block ends) before returning."""
    settings = load_settings(overrides={
        "patient.amputation_side": "left", "patient.amputation_level": "transradial",
        "mirror.look_cue_s": look_cue_s, "ui.instructions": False,
        "practice.mirror_trials": 0})
    scene = ReachTargets(trials=trials, time_limit_s=2.0)
    engine = Engine(settings, ReplaySource(_resting_patient(*head), time_origin=0.0), display,
                    scene=scene)
    shown = []
    try:
        for i in range(int(seconds * RATE)):
            engine.frame(i * DT, DT, render=False)
            cue = scene.look_cue
            shown.append(cue is not None and cue.visible)
        assert display.base.camera.find("**/look-cue").is_empty() == (look_cue_s == 0.0)
    finally:
        engine.close()
    assert display.base.camera.find("**/look-cue").is_empty()        # removed with the scene
    return engine, np.array(shown)


@pytest.mark.parametrize("head, lo, hi", [(AT_PHANTOM, 0.95, 1.0), (AWAY, 0.0, 0.05)])
def test_watch_share_on_trials_and_the_block(display, scene, head, lo, hi):
    engine, _ = _session(display, head)
    trials = engine.events.of_kind("trial", "reach_targets")
    assert len(trials) == 2
    for ev in trials:
        assert lo <= ev.data["watch_share"] <= hi, ev.data["watch_share"]
    (block,) = engine.events.of_kind("block_finished", "reach_targets")
    assert lo - TURN_S / 7.0 <= block.data["watch_share"] <= hi    # the block began before
    assert block.data["watch_measured_s"] == pytest.approx(6.0, abs=0.1)   # 1 + 2 + 1 + 2 s
    assert block.data["trials"] == 2
    finished = engine.events.of_kind("scene_finished", "reach_targets")[-1]
    assert finished.data["summary"]["watch_share"] == block.data["watch_share"]


def test_the_look_away_cue_appears_after_n_seconds_only_when_enabled(display, scene):
    _, away = _session(display, AWAY, look_cue_s=2.0, seconds=4.0)
    first = int(np.argmax(away))
    # straight ahead (the first TURN_S) is already away from the phantom on the lap
    assert away.any() and first * DT == pytest.approx(2.0, abs=2 * DT)
    assert away[first:].all()
    _, watching = _session(display, AT_PHANTOM, look_cue_s=2.0, seconds=4.0)
    assert not watching.any()
    _, disabled = _session(display, AWAY, look_cue_s=0.0, seconds=4.0)
    assert not disabled.any()


def test_the_live_status_carries_the_watch_share():
    status = EngineStatus(watch_share=0.82, watching=False).as_dict()
    assert status["watch_share"] == 0.82 and status["watching"] is False
    assert EngineStatus().as_dict()["watch_share"] is None


def test_the_records_reports_and_csv_carry_the_watch_share(tmp_path):
    from records_data import fill_history
    from vrgmi.export import plots
    from vrgmi.export.csv_export import trials_csv
    from vrgmi.records import RecordSink, open_database
    from vrgmi.records import queries as q

    db = open_database(f"sqlite:///{tmp_path / 'records.sqlite3'}")
    try:
        sink = RecordSink(db)
        fill_history(sink, "P01", 8)                  # mirror trials from session 7 on
        sink.close()
        mirror = q.progress(db, "P01")["mirror"]
        assert [round(m["watch_share"], 3) for m in mirror] == [0.9, 0.95]
        assert plots.render("mirror_watch", q.progress(db, "P01")).startswith(b"\x89PNG")
        rows = list(csv.DictReader(io.StringIO(trials_csv(db, "P01"))))
        shares = [r["watch_share"] for r in rows if r["scene"] == "mirror_reach"]
        assert shares == ["0.9"] * 5 + ["0.95"] * 5
        assert all(r["watch_share"] == "" for r in rows if r["scene"] != "mirror_reach")
    finally:
        db.close()


@pytest.mark.parametrize("head, watching", [(AT_PHANTOM, True), (AWAY, False)])
def test_the_session_publishes_the_watch_share_live(display, scene, tmp_path, head, watching):
    """The companion's status (EngineStatus) carries the running block's share and whether
    the patient watches the phantom now; outside a mirror task both are None."""
    from vrgmi.control import Command
    from vrgmi.program import Program, SceneStep
    from vrgmi.session import SessionRunner

    settings = load_settings(overrides={
        "patient.amputation_side": "left", "ui.instructions": False,
        "practice.mirror_trials": 0, "safety.ssq_baseline": False})
    engine = Engine(settings, ReplaySource(_resting_patient(*head), time_origin=0.0), display)
    program = Program("p01", phase="mirror", steps={"mirror": [SceneStep("reach_targets", 1.0)]})
    runner = SessionRunner(engine, program, tmp_path, registry={"reach_targets": ReachTargets})
    try:
        start = int(2 * TURN_S * RATE)                  # the head has turned by then
        for i in range(start):
            runner.step(i * DT, DT, render=False)
        assert runner.board.status()[1]["watch_share"] is None      # the pain rating first
        runner.commands.put(Command("switch_scene", {"scene": "reach_targets"}))
        for i in range(start, start + int(3.0 * RATE)):
            runner.step(i * DT, DT, render=False)
        status = runner.board.status()[1]
        assert status["scene"] == "reach_targets" and status["watching"] is watching
        assert status["watch_share"] == (1.0 if watching else 0.0)
    finally:
        runner.close()
        engine.close()
