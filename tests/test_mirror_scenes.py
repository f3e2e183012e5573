"""The mirror scenes on the headless display, driven by a scripted patient (a pose source
that moves the intact limb so the mirrored limb does the task) and by replays of it."""
from __future__ import annotations

import math

import numpy as np
import pytest

from mirror_patient import (PALM_DOWN, RATE, SeatedPatient, mirror_point, run_frames,
                            visible_fraction)
from vrgmi.app import Engine
from vrgmi.ik.solver import ArmSolver
from vrgmi.mirror.lower import HEEL_FOOT_FRACTION, PEDAL_FROM_FOOT
from vrgmi.mirror.copy_pose import solve_pose
from vrgmi.scenes.ankle_circles import AnkleCircles
from vrgmi.scenes.bilateral import Bilateral
from vrgmi.scenes.copy_pose import CopyPose
from vrgmi.scenes.foot_targets import FootTargets
from vrgmi.scenes.pedal_press import PedalPress
from vrgmi.scenes.reach_targets import ReachTargets
from vrgmi.scenes.schema import SceneParamError
from vrgmi.settings import load_settings
from vrgmi.spatial import quat_from_axis_angle, quat_mul, quat_rotate
from vrgmi.tracking.record import Recorder
from vrgmi.tracking.replay import ReplaySource, load_replay
from vrgmi.tracking.scripted import ScriptedSource

MIRROR_Q = np.array([1.0, -1.0, -1.0, 1.0])
#: these tests measure the scored trials: no instruction screen, no practice trial
SCORED_ONLY = {"ui.instructions": False, "practice.mirror_trials": 0}


def _engine(display, scene, limb="arm", level=None, record=None):
    level = level or ("transradial" if limb == "arm" else "transtibial")
    settings = load_settings(overrides={"patient.amputation_level": level, **SCORED_ONLY})
    patient = SeatedPatient(limb)
    return Engine(settings, patient, display, scene=scene), patient


def _run(engine, seconds, start=0, recorder=None):
    return run_frames(engine, seconds, start, render_every=30, recorder=recorder)


def _reach_goal(engine, scene, patient):
    """The intact wrist goes where the mirrored palm lands on the current target."""
    core = engine.core

    def goal(t):
        task = scene.task
        if not task.active or task.current >= len(task.targets):
            return np.array([0.2, 0.2, 0.85]), PALM_DOWN
        palm_offset = core.intact.positions[3] - core.intact.positions[2]
        return mirror_point(engine, task.targets[task.current]) - palm_offset, PALM_DOWN
    return goal


def test_reach_targets_scripted_patient_hits_then_the_replay_scores_the_same(display, scene,
                                                                            tmp_path):
    rt = ReachTargets(trials=2, sequence_length=2, dwell_s=0.2, distance=0.55)
    engine, patient = _engine(display, rt)
    patient.goal = _reach_goal(engine, rt, patient)
    path = tmp_path / "reach.npz"
    with Recorder(path) as rec:
        _run(engine, 12.0, recorder=rec)
    trials = engine.events.of_kind("trial", "reach_targets")
    assert len(trials) == 2 and rt.finished
    for k, ev in enumerate(trials):
        d = ev.data
        assert d["index"] == k and d["task"] == "reach" and d["success"]
        assert d["targets_hit"] == 2 and len(d["target_positions"]) == 2
        assert d["path_length_m"] > 0.1 and d["smoothness_sparc"] < 0
        assert d["symmetry"] is None and 0.2 < d["time_s"] < 10.0
        # targets on the missing (left) side, above the table
        assert all(p[0] < 0.05 and p[2] > 0.72 for p in d["target_positions"])
    engine.close()
    assert engine.events.history[-1].data["summary"]["successes"] == 2
    # the recorded session replayed gives the same trials
    rt2 = ReachTargets(trials=2, sequence_length=2, dwell_s=0.2, distance=0.55)
    settings = load_settings(overrides={"patient.amputation_level": "transradial", **SCORED_ONLY})
    engine2 = Engine(settings, ReplaySource(load_replay(path), time_origin=0.0), display,
                     scene=rt2)
    _run(engine2, 12.0)
    replayed = engine2.events.of_kind("trial")
    assert [e.data["success"] for e in replayed] == [True, True]
    for a, b in zip(trials, replayed):
        assert a.data["target_positions"] == b.data["target_positions"]
        assert b.data["time_s"] == pytest.approx(a.data["time_s"], abs=0.05)
    engine2.close()


def test_reach_targets_time_out_when_the_patient_rests(display, scene):
    rt = ReachTargets(trials=1, time_limit_s=2.0)
    engine, _ = _engine(display, rt)
    _run(engine, 3.5)
    (ev,) = engine.events.of_kind("trial")
    assert not ev.data["success"] and ev.data["outcome"] == "timeout"
    assert ev.data["time_s"] == pytest.approx(2.0, abs=0.02)
    engine.close()


def test_copy_pose_matched_by_moving_the_intact_arm_into_the_mirror_pose(display, scene):
    cp = CopyPose(trials=2, pose_set="simple", hold_s=0.5)
    engine, patient = _engine(display, cp)
    core = engine.core
    solver = ArmSolver(core.lengths.upper_arm, core.lengths.forearm, core.lengths.hand)

    def goal(t):
        task = cp.task
        if not task.active:
            return None
        intact = solve_pose(task.target.pose, solver, core.torso.pose,
                            core.torso.shoulder(1).copy(), 1,
                            core.lengths.upper_arm + core.lengths.forearm)
        yaw = np.array([0.0, 0.0, core.torso.pose[5], core.torso.pose[6]])
        return intact.positions[2].copy(), quat_mul(yaw, task.target.pose.quat)
    patient.goal = goal
    _run(engine, 9.0)
    trials = engine.events.of_kind("trial", "copy_pose")
    assert len(trials) == 2
    for ev in trials:
        d = ev.data
        assert d["success"] and d["outcome"] == "matched", d
        assert d["joint_angle_error_deg"] <= 15.0 and d["pose"] in d["target_ids"]
        assert "shoulder_elevation" in d["joints_compared"]
    assert trials[0].data["pose"] != trials[1].data["pose"]
    engine.close()


def test_bilateral_symmetry_from_the_residual_tracker(display, scene):
    bl = Bilateral(trials=1, dwell_s=0.2, pace_s=1.5)
    engine, patient = _engine(display, bl)
    core = engine.core
    patient.goal = _reach_goal(engine, bl, patient)
    offset = core.layout.stump_end_offset

    def residual():
        """The residual forearm moves as the mirror image of the intact forearm."""
        elbow, wrist = core.intact.positions[1], core.intact.positions[2]
        if not np.all(np.isfinite(elbow)) or np.allclose(elbow, wrist):
            return None
        end = elbow + offset * (wrist - elbow) / np.linalg.norm(wrist - elbow)
        q = core.intact.rotations[1] * MIRROR_Q
        return np.concatenate([mirror_point(engine, end), q])
    patient.residual = residual
    _run(engine, 6.0)
    (ev,) = engine.events.of_kind("trial", "bilateral")
    d = ev.data
    assert d["success"] and d["residual_tracked_fraction"] > 0.9
    assert d["symmetry"] > 0.95
    # the residual follows one frame late through the tracker filter: close, not identical
    assert d["symmetry_detail"]["amplitude_ratio"] == pytest.approx(1.0, abs=0.25)
    assert d["pace_s"] == 1.5 and d["timing_error_s"] is not None
    engine.close()


def test_bilateral_without_a_residual_tracker_reports_no_symmetry(display, scene):
    bl = Bilateral(trials=1, dwell_s=0.2)
    engine, patient = _engine(display, bl)
    patient.goal = _reach_goal(engine, bl, patient)
    _run(engine, 6.0)
    (ev,) = engine.events.of_kind("trial", "bilateral")
    assert ev.data["success"] and ev.data["symmetry"] is None
    assert ev.data["symmetry_detail"] is None and ev.data["residual_tracked_fraction"] == 0.0
    engine.close()


def test_foot_targets_tapped_by_the_mirrored_foot(display, scene):
    ft = FootTargets(trials=2, dwell_s=0.1)
    engine, patient = _engine(display, ft, "leg")
    core = engine.core
    home = np.array([0.09, 0.32, 0.07])

    def goal(t):
        task = ft.task
        if not task.active or task.current >= len(task.targets):
            return home, np.array([0.0, 0.0, 0.0, 1.0])
        ankle_to_ball = core.intact.positions[4] - core.intact.positions[2]
        want = mirror_point(engine, task.targets[task.current]) - ankle_to_ball
        want[2] = core.lengths.ankle_height
        ball = core.intact.positions[4]
        if np.hypot(*(ball[:2] - mirror_point(engine, task.targets[task.current])[:2])) > 0.04:
            want[2] += 0.08                            # lift the foot while moving
        return want, np.array([0.0, 0.0, 0.0, 1.0])
    patient.goal = goal
    _run(engine, 9.0)
    trials = engine.events.of_kind("trial", "foot_targets")
    assert len(trials) == 2
    for ev in trials:
        assert ev.data["success"] and ev.data["task"] == "foot_tap"
        assert all(p[2] == 0.0 for p in ev.data["target_positions"])
    engine.close()


def test_ankle_circles_from_the_scripted_motion(display, scene):
    # the scripted leg is near full extension, so the phantom's ankle angles (and their
    # roundness, about 0.3) shift with the hip by millimetres: the bar is 0.25 here
    ac = AnkleCircles(trials=2, min_roundness=0.25)
    settings = load_settings(overrides={"patient.amputation_level": "transtibial", **SCORED_ONLY})
    engine = Engine(settings, ScriptedSource("ankle_circles", intact_side="right"), display,
                    scene=ac)
    _run(engine, 10.0)
    trials = engine.events.of_kind("trial", "ankle_circles")
    assert len(trials) == 2
    for ev in trials:
        d = ev.data
        assert d["success"] and d["outcome"] == "circle" and abs(d["circles"]) >= 0.9
        assert d["amplitude_deg"] > 8.0 and d["roundness"] > 0.25
        assert 1.5 < d["time_s"] < 3.5          # the scripted motion circles every 2.5 s
    engine.close()


def _pedal_goal(engine, pp, rest, press_deg=20.0, on_pedal=True):
    """The intact foot rests flat at ``rest`` between trials; in a trial it goes to where
    the mirrored heel lands behind the pedal with the toes up along it (or stays put),
    waits 0.8 s, then pushes the toes down ``press_deg`` about the heel."""
    core = engine.core
    foot, ankle_h = core.lengths.foot, core.lengths.ankle_height
    heel_to_ankle = np.array([0.0, HEEL_FOOT_FRACTION * foot, ankle_h])

    def goal(t):
        task = pp.task
        if not task.active or task.plate is None:
            return rest, np.array([0.0, 0.0, 0.0, 1.0])
        if on_pedal:
            plate = task.plate                           # its rear edge is this far ahead
            heel = mirror_point(engine, plate.hinge - (HEEL_FOOT_FRACTION + PEDAL_FROM_FOOT)
                           * foot * plate.forward)
            up = task.rest_deg
        else:
            heel, up = rest - heel_to_ankle, 0.0
        if t - task.onset >= 0.8:
            up -= press_deg
        q = quat_from_axis_angle(np.array([1.0, 0.0, 0.0]), math.radians(up))
        return heel + quat_rotate(q, heel_to_ankle), q
    return goal


def test_pedal_press_needs_the_mirrored_foot_on_the_pedal_and_a_hold(display, scene):
    pp = PedalPress(trials=1, press_deg=15.0, hold_s=0.5)
    engine, patient = _engine(display, pp, "leg")
    rest = np.array([0.09, 0.32, engine.core.lengths.ankle_height])
    patient.goal = _pedal_goal(engine, pp, rest)
    states = []
    n = int(4.0 * RATE)
    for i in range(n):
        engine.frame(i / RATE, 1 / RATE, render=(i % 30 == 0))
        states.append(pp.foot_state)
    # the pedal lies forward of the resting foot, in front of the knee
    plate = pp.task.plate
    assert plate.hinge[1] > engine.core.phantom.positions[1][1] + 0.2
    # away before the trial, on the pedal (not yet pressed) while the foot settles, then
    # pressed and held (t = 1.8 .. 2.3 s)
    assert states[90] == "away" and states[int(1.6 * RATE)] == "on"
    assert set(states[int(1.95 * RATE):int(2.25 * RATE)]) == {"pressed"}
    (ev,) = engine.events.of_kind("trial", "pedal_press")
    d = ev.data
    assert d["success"] and d["outcome"] == "held" and d["pedal_rest_deg"] == 20.0
    assert d["held_s"] == pytest.approx(0.5, abs=0.02)
    assert 0.0 < d["on_pedal_time_s"] <= d["press_time_s"] < d["time_s"]
    engine.close()


def test_pedal_pressed_beside_the_pedal_does_not_count(display, scene):
    pp = PedalPress(trials=1, press_deg=15.0, hold_s=0.5, time_limit_s=2.0)
    engine, patient = _engine(display, pp, "leg")
    rest = np.array([0.09, 0.32, engine.core.lengths.ankle_height])
    patient.goal = _pedal_goal(engine, pp, rest, on_pedal=False)
    _run(engine, 3.5)
    (ev,) = engine.events.of_kind("trial", "pedal_press")
    d = ev.data
    assert not d["success"] and d["outcome"] == "timeout"
    assert d["peak_plantarflexion_deg"] > 15.0          # pressed, but not on the pedal
    assert d["on_pedal_time_s"] is None and d["press_time_s"] is None
    engine.close()


def _leg_engine(display, scene_obj):
    """The scripted leg motion (its head pose: looking down at the feet)."""
    settings = load_settings(overrides={"patient.amputation_level": "transtibial", **SCORED_ONLY})
    return Engine(settings, ScriptedSource("foot_tap", intact_side="right"), display,
                  scene=scene_obj)


def test_pedal_is_seen_past_the_knees_and_hands(display, scene):
    pp = PedalPress(trials=1)
    engine = _leg_engine(display, pp)
    _run(engine, 0.5)
    assert pp.task.plate is not None
    assert visible_fraction(display.base, pp.pedal) > 0.7
    engine.close()


def test_foot_targets_are_seen_past_the_knees_and_hands(display, scene):
    ft = FootTargets(trials=3)
    engine = _leg_engine(display, ft)
    _run(engine, 1.5)                                    # the first trial is on
    assert ft.task.active
    marker = ft.markers[0]
    fractions = []
    for k in range(5):                                   # five more discs the scene would draw
        marker.place(ft.task.make_targets(k)[0])
        fractions.append(visible_fraction(display.base, marker.root))
    assert min(fractions) > 0.7, fractions
    engine.close()


def test_ankle_circle_guide_is_seen_past_the_knees(display, scene):
    ac = AnkleCircles(trials=1)
    settings = load_settings(overrides={"patient.amputation_level": "transtibial", **SCORED_ONLY})
    engine = Engine(settings, ScriptedSource("ankle_circles", intact_side="right"), display,
                    scene=ac)
    _run(engine, 1.5)
    assert visible_fraction(display.base, ac.guide) > 0.7
    engine.close()


def test_resting_hands_leave_the_knees_and_feet_in_view(display, scene):
    """Leg session: the resting hands lie beside the hips, behind the knees and outside
    the thighs; arm session: the resting legs keep their feet on the floor."""
    engine = _leg_engine(display, FootTargets(trials=1))
    _run(engine, 0.3)
    core = engine.core
    for side, solver in enumerate(engine.seated.solvers):
        wrist, hand = solver.positions[2], solver.positions[3]
        hip, knee = core.torso.hip(side), core.phantom.positions[1]
        assert max(wrist[1], hand[1]) < knee[1] - 0.15          # well behind the knees
        assert abs(wrist[0]) > abs(hip[0]) + 0.08               # outside the thigh
        assert hip[2] - 0.1 < wrist[2] < hip[2] + 0.15          # resting at the seat
    engine.close()
    arm = load_settings(overrides={"patient.amputation_level": "transradial", **SCORED_ONLY})
    engine = Engine(arm, ScriptedSource("reach", intact_side="right"), display,
                    scene=ReachTargets(trials=1))
    _run(engine, 0.3)
    for solver in engine.seated.solvers:
        assert solver.positions[4][2] == pytest.approx(0.03, abs=0.03)  # ball on the floor
    engine.close()


def test_scene_descriptions_and_wrong_limb(display, scene):
    for cls in (ReachTargets, CopyPose, Bilateral, FootTargets, AnkleCircles, PedalPress):
        info = cls.describe()
        assert info["phase"] == "mirror" and info["emits"] == ["trial", "block_finished"]
        assert {"index", "success", "time_s", "path_length_m", "symmetry"} <= set(
            info["trial_fields"])
        assert all(p["help"] for p in info["params"])
    with pytest.raises(SceneParamError, match="out of range"):
        ReachTargets(distance=2.0)
    settings = load_settings(overrides={"patient.amputation_level": "transtibial", **SCORED_ONLY})
    with pytest.raises(SceneParamError, match="arm task"):
        Engine(settings, SeatedPatient("leg"), display, scene=ReachTargets())
