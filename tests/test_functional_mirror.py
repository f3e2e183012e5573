"""The functional mirror tasks with objects (cup, jug, key, stain; ball, cushion, floor path)
through the real engine on the headless display: a scripted patient moves the intact hand
or foot so that the mirrored one does the task, and each trial must complete with a score
that matches what was done."""
from __future__ import annotations

import math

import numpy as np
import pytest

from functional_goals import ball_rolled_at, cushion_press_goal, wipe_spiral
from mirror_patient import (FLAT, PALM_DOWN, SeatedPatient, mirror_point, run_frames,
                            visible_fraction)
from vrgmi.app import Engine
from vrgmi.mirror.objects import CUP_HEIGHT_M, GLASS_HEIGHT_M
from vrgmi.render.environment import TABLE_TOP_Z
from vrgmi.scenes.cup_move import CupMove
from vrgmi.scenes.key_turn import KeyTurn
from vrgmi.scenes.pour import Pour
from vrgmi.scenes.press_hold import PressHold
from vrgmi.scenes.roll_ball import RollBall
from vrgmi.scenes.trace_path import TracePath
from vrgmi.scenes.wipe_table import WipeTable
from vrgmi.settings import load_settings
from vrgmi.spatial import quat_from_axis_angle, quat_mul
from vrgmi.tracking.scripted import ScriptedSource

FORWARD = np.array([0.0, 1.0, 0.0])


def _patient(limb: str) -> SeatedPatient:
    """The patient of these tasks: looking further down at the table (40 deg), a quicker
    hand (tau 0.12 s) that turns at most 180 deg/s (a wrist turning the key or the jug)."""
    return SeatedPatient(limb, arm_pitch_deg=-40.0, tau_s=0.12, turn_deg_s=180.0)


def _engine(display, scene, limb):
    level = "transradial" if limb == "arm" else "transtibial"
    settings = load_settings(overrides={"patient.amputation_level": level,
                                        "ui.instructions": False,
                                        "practice.mirror_trials": 0})
    patient = _patient(limb)
    return Engine(settings, patient, display, scene=scene), patient


def _run(engine, seconds, start=0):
    return run_frames(engine, seconds, start, render_every=45)


def _hand_goal(engine, palm_at, turn=None):
    """The intact wrist placed so the mirrored palm lands on ``palm_at(t, task)`` (3,) with
    the intact hand turned ``turn(t, task)`` degrees about the forward axis."""
    core = engine.core

    def goal(t):
        task = engine.scene.task
        if not task.active:
            return np.array([0.2, 0.2, 0.85]), PALM_DOWN
        offset = core.intact.positions[3] - core.intact.positions[2]
        deg = 0.0 if turn is None else turn(t, task)
        rot = quat_mul(quat_from_axis_angle(FORWARD, math.radians(deg)), PALM_DOWN)
        return mirror_point(engine, palm_at(t, task)) - offset, rot
    return goal


def _trials(engine, name):
    return [e.data for e in engine.events.of_kind("trial", name)]


def test_cup_is_grasped_carried_and_set_down_on_its_spot(display, scene):
    cm = CupMove(trials=2)
    engine, patient = _engine(display, cm, "arm")

    def palm_at(t, task):
        if not task.item.held:
            return task.grasp_point()
        return task.spots[1] + (0.0, 0.0, 0.5 * CUP_HEIGHT_M) - task.item.offset
    patient.goal = _hand_goal(engine, palm_at)
    _run(engine, 7.0)
    trials = _trials(engine, "cup_move")
    assert len(trials) == 2 and cm.finished
    for d in trials:
        assert d["task"] == "cup_move" and d["success"] and d["outcome"] == "placed", d
        assert 0.0 < d["grasp_time_s"] < d["time_s"] < 10.0
        assert d["placement_error_m"] < d["place_radius_m"] and d["score"] > 0.5
        assert d["peak_tilt_deg"] < 10.0 and d["path_length_m"] > 0.2
        cup, spot = np.array(d["spots"])
        # both on the table, on the missing (left) side, apart
        assert cup[2] == spot[2] == pytest.approx(TABLE_TOP_Z)
        assert cup[0] < -0.02 and spot[0] < -0.02 and np.linalg.norm(cup - spot) >= 0.16
    assert trials[0]["spots"] != trials[1]["spots"]            # a fresh draw each trial
    engine.close()


def test_cup_left_where_it_stands_times_out_with_no_score(display, scene):
    cm = CupMove(trials=1, time_limit_s=5.0)
    engine, _ = _engine(display, cm, "arm")
    _run(engine, 6.5)
    (d,) = _trials(engine, "cup_move")
    assert not d["success"] and d["outcome"] == "timeout" and d["score"] == 0.0
    assert d["grasp_time_s"] is None
    engine.close()


def test_pour_over_the_glass_fills_it_and_beside_it_spills(display, scene):
    pr = Pour(trials=2, pour_s=1.0, pour_deg=45.0)
    engine, patient = _engine(display, pr, "arm")
    lift = GLASS_HEIGHT_M + 0.5 * CUP_HEIGHT_M + 0.05
    tipping = {}

    def jug_at(t, task):
        """Where the jug's centre should be: over the glass (the second one: first 0.16 m
        nearer the patient, tipped there too early, for 1.5 s)."""
        early = task.index == 1 and t - task.onset - task.grasp_time < 2.5
        return task.spots[1] + (0.0, -0.16 if early else 0.0, lift)

    def palm_at(t, task):
        if not task.item.held:
            return task.grasp_point()
        return jug_at(t, task) - (task.item.centre - task.palm)   # the hand carries the jug

    def turn(t, task):
        if not task.item.held:
            tipping.clear()
            return 0.0
        since = t - task.onset - task.grasp_time
        there = np.linalg.norm((task.item.centre - jug_at(t, task))[:2]) < 0.03
        if there and since > 1.0:
            tipping[task.index] = True
        return 70.0 if tipping.get(task.index) else 0.0
    patient.goal = _hand_goal(engine, palm_at, turn)
    _run(engine, 14.0)
    first, second = _trials(engine, "pour")
    for d in (first, second):
        assert d["success"] and d["outcome"] == "poured", d
        assert d["poured_s"] == pytest.approx(1.0, abs=0.02) and d["peak_tilt_deg"] > 45.0
    assert first["spilled_s"] == 0.0 and first["score"] == pytest.approx(1.0)
    assert second["spilled_s"] > 0.2 and second["score"] < first["score"] - 0.2
    engine.close()


def test_key_is_turned_by_turning_the_forearm_and_held(display, scene):
    kt = KeyTurn(trials=2, turn_deg=60.0, hold_s=0.5)
    engine, patient = _engine(display, kt, "arm")

    def turn(t, task):
        return 80.0 if task.item.held and t - task.onset - task.grasp_time > 0.4 else 0.0
    patient.goal = _hand_goal(engine, lambda t, task: task.grasp_point(), turn)
    _run(engine, 7.0)
    trials = _trials(engine, "key_turn")
    assert len(trials) == 2
    for d in trials:
        assert d["success"] and d["outcome"] == "turned", d
        assert 60.0 <= d["peak_turn_deg"] < 100.0 and d["score"] >= 1.0
        assert d["held_s"] == pytest.approx(0.5, abs=0.02)
    engine.close()


def test_key_grasped_but_not_turned_scores_the_part_turned(display, scene):
    kt = KeyTurn(trials=1, turn_deg=90.0, time_limit_s=6.0)
    engine, patient = _engine(display, kt, "arm")
    patient.goal = _hand_goal(engine, lambda t, task: task.grasp_point(),
                              lambda t, task: 45.0 if task.item.held else 0.0)
    _run(engine, 7.5)
    (d,) = _trials(engine, "key_turn")
    assert not d["success"] and d["outcome"] == "timeout"
    assert d["score"] == pytest.approx(d["peak_turn_deg"] / 90.0, abs=0.01)
    assert 0.35 < d["score"] < 0.65
    engine.close()


def test_stain_is_wiped_clean_by_the_hand_down_on_the_table(display, scene):
    wt = WipeTable(trials=1, clean_fraction=0.9)
    engine, patient = _engine(display, wt, "arm")

    def palm_at(t, task):
        return wipe_spiral(task.spots[0] + (0.0, 0.0, 0.03), t, task)
    patient.goal = _hand_goal(engine, palm_at)
    _run(engine, 8.0)
    (d,) = _trials(engine, "wipe_table")
    assert d["success"] and d["outcome"] == "clean", d
    assert d["cleaned_fraction"] >= 0.9 and d["score"] == d["cleaned_fraction"]
    assert d["contact_s"] > 2.0
    assert sum(b.is_hidden() for b in wt.blots) >= 0.9 * len(wt.blots) or wt.task.finished
    engine.close()


def _foot_goal(engine, ball_at, up_deg=None):
    """The intact ankle placed so the mirrored ball of the foot lands on ``ball_at(t, task)``
    with the foot flat (or toes up ``up_deg(t, task)`` about the heel)."""
    core = engine.core

    def goal(t):
        task = engine.scene.task
        rest = np.array([0.09, 0.32, core.lengths.ankle_height])
        if not task.active:
            return rest, FLAT
        want = ball_at(t, task)
        if want is None:
            return rest, FLAT
        ankle_to_ball = core.intact.positions[4] - core.intact.positions[2]
        return mirror_point(engine, want) - ankle_to_ball, FLAT
    return goal


def test_ball_is_rolled_under_the_foot_onto_the_spot(display, scene):
    rb = RollBall(trials=2)
    engine, patient = _engine(display, rb, "leg")
    patient.goal = _foot_goal(engine, ball_rolled_at)
    _run(engine, 7.0)
    trials = _trials(engine, "roll_ball")
    assert len(trials) == 2
    for d in trials:
        assert d["success"] and d["outcome"] == "rolled", d
        start, spot = np.array(d["spots"])
        assert d["ball_path_m"] >= 0.8 * np.linalg.norm((spot - start)[:2])
        assert d["final_error_m"] <= d["target_radius_m"] and d["score"] > 0.0
        assert d["contact_s"] > 0.3 and start[2] == spot[2] == 0.0
    engine.close()


def test_cushion_pressed_into_the_band_and_held(display, scene):
    ph = PressHold(trials=2, hold_s=1.0, band_deg=8.0)
    engine, patient = _engine(display, ph, "leg")
    patient.goal = cushion_press_goal(engine, ph)
    _run(engine, 7.0)
    trials = _trials(engine, "press_hold")
    assert len(trials) == 2
    for d in trials:
        assert d["success"] and d["outcome"] == "held", d
        lo, hi = d["band_deg"]
        assert hi - lo == pytest.approx(8.0, abs=0.1) and 6.0 <= lo and hi <= 29.0
        assert d["held_s"] == pytest.approx(1.0, abs=0.02) and d["overshoots"] == 0
        assert d["in_band_s"] >= 1.0 and d["score"] > 0.5
    assert trials[0]["band_deg"] != trials[1]["band_deg"]      # each trial its own band
    engine.close()


def test_path_is_traced_on_the_floor_point_by_point(display, scene):
    tp = TracePath(trials=2, waypoints=5)
    engine, patient = _engine(display, tp, "leg")

    def ball_at(t, task):
        return task.path[min(task.current, len(task.path) - 1)] + (0.0, 0.0, 0.01)
    patient.goal = _foot_goal(engine, ball_at)
    _run(engine, 6.0)
    trials = _trials(engine, "trace_path")
    assert len(trials) == 2
    for d in trials:
        assert d["success"] and d["outcome"] == "traced", d
        assert d["waypoints_reached"] == 5 and len(d["path"]) == 5
        assert d["mean_deviation_m"] < d["tolerance_m"] and d["score"] > 0.5
        path = np.array(d["path"])
        assert np.all(path[:, 2] == 0.0) and np.all(path[:, 0] < 0.0)   # the missing side
    engine.close()


def test_functional_scenes_describe_their_fields_and_refuse_the_other_limb(display, scene):
    from vrgmi.scenes.schema import SceneParamError
    for cls in (CupMove, Pour, KeyTurn, WipeTable, RollBall, PressHold, TracePath):
        info = cls.describe()
        assert info["phase"] == "mirror" and "trial" in info["emits"]
        assert {"index", "success", "time_s", "score", "spots"} <= set(info["trial_fields"])
        assert all(p["help"] for p in info["params"])
    settings = load_settings(overrides={"patient.amputation_level": "transtibial"})
    with pytest.raises(SceneParamError, match="arm task"):
        Engine(settings, _patient("leg"), display, scene=CupMove())


@pytest.mark.parametrize("cls, node, foot_shown", [(RollBall, "ball", True),
                                                   (TracePath, "path_root", False),
                                                   (PressHold, "gauge", True)])
def test_floor_objects_are_seen_past_the_knees(display, scene, cls, node, foot_shown):
    """The seated patient (the scripted foot-tap motion, looking down at the feet) sees
    the ball and the gauge past the knees and the moving mirrored foot, and the path past
    the knees (the mirrored foot, which traces it, covers part of it by design)."""
    task_scene = cls(trials=2)
    settings = load_settings(overrides={"patient.amputation_level": "transtibial",
                                        "ui.instructions": False,
                                        "practice.mirror_trials": 0})
    engine = Engine(settings, ScriptedSource("foot_tap", intact_side="right"), display,
                    scene=task_scene)
    _run(engine, 1.5)
    assert task_scene.task.active
    if not foot_shown:
        engine.phantom_rig.root.hide()
    assert visible_fraction(display.base, getattr(task_scene, node)) > 0.8
    engine.close()
