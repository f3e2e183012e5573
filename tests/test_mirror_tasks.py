"""Mirror task logic on synthetic traces: hits, misses, timeouts, order, dwell, holds."""
from __future__ import annotations

import math

import numpy as np
import pytest

from vrgmi.ik.solver import ArmSolver
from vrgmi.mirror.bilateral import BilateralTask, residual_point_index
from vrgmi.mirror.copy_pose import POSES, CopyPoseTask, pose_sequence, solve_pose
from vrgmi.mirror.lower import (AnkleCircleTask, FootTapTask, PedalPlate, PedalTask,
                                circle_metrics, foot_angles, foot_home, foot_targets,
                                forward_ankle, in_view, pedal_plate, segment_distance,
                                sight_clearance)
from vrgmi.mirror.reach import ReachTask, arm_reach, reach_targets, seen_over
from vrgmi.mirror.trial import HoldTimer, MirrorTaskError
from vrgmi.render.environment import TABLE_TOP_X, TABLE_TOP_Y, TABLE_TOP_Z

RATE = 100.0
DT = 1 / RATE
TARGETS = np.array([[0.0, 0.5, 1.0], [0.2, 0.5, 1.0]])
FAR = np.array([1.0, 1.0, 1.0])


def _run(task, points, start=0.0, **extra):
    """Feed (n, 3) effector points at RATE from ``start``; return the results."""
    out = []
    for i, p in enumerate(points):
        r = task.update(start + i * DT, p, **extra)
        if r is not None:
            out.append(r)
    return out


def _reach(**kw):
    args = dict(radius_m=0.05, dwell_s=0.2, time_limit_s=2.0, trials=1, rest_s=0.0,
                rate_hz=RATE)
    args.update(kw)
    return ReachTask(lambda i: TARGETS, **args)


def test_hold_timer_needs_a_continuous_hold():
    h = HoldTimer(0.2)
    assert not h.update(0.0, True) and not h.update(0.1, True)
    assert not h.update(0.15, False) and not h.update(0.2, True)
    assert h.update(0.4, True) and h.held_s(0.4) == pytest.approx(0.2)


def test_targets_hit_in_order_with_dwell():
    # 0.3 s away, 0.3 s on target 0, 0.3 s on target 1
    pts = [FAR] * 30 + [TARGETS[0]] * 30 + [TARGETS[1]] * 30 + [FAR] * 10
    task = _reach()
    results = _run(task, pts)
    assert len(results) == 1
    r = results[0]
    assert r["success"] and r["outcome"] == "hit" and r["targets_hit"] == 2
    # a hit lands when the dwell (0.2 s) completes: 0.3 + 0.2 and 0.6 + 0.2
    assert r["hit_times_s"] == pytest.approx([0.5, 0.8])
    assert r["time_s"] == pytest.approx(0.8)
    assert r["target_positions"] == TARGETS.tolist()
    assert r["target_ids"] == ["0.0", "0.1"]
    # path: far -> target 0 (|(1,.5,0)| = 1.118) -> target 1 (0.2)
    assert r["path_length_m"] == pytest.approx(math.hypot(1.0, 0.5) + 0.2, abs=1e-3)
    assert r["symmetry"] is None and task.finished


def test_touching_the_second_target_first_does_not_count():
    pts = [TARGETS[1]] * 50 + [TARGETS[0]] * 25 + [TARGETS[1]] * 25
    r = _run(_reach(), pts)[0]
    assert r["success"] and r["hit_times_s"] == pytest.approx([0.7, 0.95])


def test_leaving_before_the_dwell_is_no_hit_and_the_time_limit_ends_the_trial():
    # on target 0 for 0.1 s at a time (dwell 0.2 s) until the 2 s limit
    pts = ([TARGETS[0]] * 10 + [FAR] * 10) * 12
    r = _run(_reach(), pts)[0]
    assert not r["success"] and r["outcome"] == "timeout" and r["targets_hit"] == 0
    assert r["time_s"] == pytest.approx(2.0)


def test_nan_effector_never_hits():
    pts = [np.full(3, np.nan)] * 250
    r = _run(_reach(), pts)[0]
    assert not r["success"] and r["path_length_m"] == 0.0


def test_rest_between_trials_and_summary():
    task = _reach(trials=2, rest_s=0.5, time_limit_s=1.0)
    results = _run(task, [FAR] * 400)
    assert [r["index"] for r in results] == [0, 1]
    # trial 0: rest 0.5 s then 1 s; trial 1 starts 0.5 s after it ended
    assert task.onset == pytest.approx(2.0, abs=DT + 1e-9)   # the rest starts a frame later
    assert task.summary() == {"trials": 2, "successes": 0, "success_rate": 0.0,
                              "median_time_s": None}


def test_bad_configuration_is_one_line():
    with pytest.raises(MirrorTaskError, match="radius_m"):
        _reach(radius_m=2.0)
    with pytest.raises(MirrorTaskError, match="trials"):
        _reach(trials=0)


def test_reach_targets_lie_in_the_phantom_workspace():
    rng = np.random.default_rng(3)
    shoulder = np.array([-0.18, -0.1, 1.03])
    torso = np.array([0.0, -0.1, 1.03, 0.0, 0.0, 0.0, 1.0])
    reach = arm_reach(0.3255, 0.2555, 0.189)
    pts = reach_targets(rng, shoulder, torso, 0, reach, 0.7, 50, 0.05, 0.85)
    d = np.linalg.norm(pts - shoulder, axis=1)
    assert np.all(np.abs(d / (0.7 * reach) - 1.0) <= 0.0501)
    assert np.all(pts[:, 2] >= 0.85) and np.all(pts[:, 1] > shoulder[1])
    # on the left (missing) side or only a little across the midline
    assert np.all(pts[:, 0] < 0.05)
    assert np.all(np.linalg.norm(np.diff(pts, axis=0), axis=1) >= 0.15 - 1e-9)
    with pytest.raises(MirrorTaskError, match="distance"):
        reach_targets(rng, shoulder, torso, 0, reach, 0.5, 1, 0.05, 2.0)


def _sight_on_table(p: np.ndarray, eye: np.ndarray) -> np.ndarray:
    """Where the line from ``eye`` through ``p`` meets the table top (x, y)."""
    k = (eye[2] - TABLE_TOP_Z) / (eye[2] - p[2])
    return eye[:2] + k * (p[:2] - eye[:2])


@pytest.mark.parametrize("distance", [0.5, 0.6, 0.8])
def test_reach_targets_are_seen_over_the_table_top(distance):
    """From the seated patient's eye each trial's whole target lies over the table top (its
    outline cast from the eye falls inside the top's edges) and below the eye (one floating
    beside the table read as a disc on the floor); the workspace rules still hold."""
    shoulder = np.array([-0.187, -0.101, 1.026])
    torso = np.array([-0.006, -0.105, 1.026, 0.0, 0.0, 0.0, 1.0])
    eye = np.array([0.0, 0.0, 1.2])
    reach, radius = arm_reach(0.3255, 0.2555, 0.189), 0.06
    table = (TABLE_TOP_X, TABLE_TOP_Y, TABLE_TOP_Z)
    pts = np.vstack([reach_targets(np.random.default_rng(seed), shoulder, torso, 0, reach,
                                   distance, 1, radius, TABLE_TOP_Z + 0.05 + radius, 0.155,
                                   table=table, eye=eye) for seed in range(20)])
    for p in pts:
        x, y = _sight_on_table(p, eye)
        cast = radius * (eye[2] - TABLE_TOP_Z) / (eye[2] - p[2])    # the outline's radius
        assert p[2] < eye[2] and p[2] >= TABLE_TOP_Z + 0.05 + radius
        assert TABLE_TOP_X[0] + cast <= x <= TABLE_TOP_X[1] - cast
        assert TABLE_TOP_Y[0] + cast <= y <= TABLE_TOP_Y[1] - cast
        assert abs(np.linalg.norm(p - shoulder) / (distance * reach) - 1.0) <= 0.0501
        assert (p - torso[:3])[0] <= -0.155
    # without the table the same fan puts targets where the eye sees them off the table
    free = reach_targets(np.random.default_rng(5), shoulder, torso, 0, reach, distance, 20,
                         radius, TABLE_TOP_Z + 0.05 + radius, 0.155)
    assert not all(seen_over(p, eye, table, radius) for p in free)
    # no place in the fan seen over the table (a table out of reach): the targets still come
    far = ((-0.6, 0.6), (2.0, 2.7), TABLE_TOP_Z)
    kept = reach_targets(np.random.default_rng(5), shoulder, torso, 0, reach, distance, 3,
                         radius, TABLE_TOP_Z + 0.05 + radius, 0.155, table=far, eye=eye)
    assert not any(seen_over(p, eye, far, radius) for p in kept)
    assert np.all(kept[:, 2] >= TABLE_TOP_Z + 0.05 + radius)


def test_foot_taps_need_the_foot_down_on_the_disc():
    disc = np.array([[0.0, 0.6, 0.0]])
    task = FootTapTask(lambda i: disc, 0.06, 0.1, 2.0, 1, rest_s=0.0, rate_hz=RATE)
    hover = disc[0] + [0.02, 0.0, 0.10]                 # above the disc: no tap
    down = disc[0] + [0.02, 0.0, 0.03]
    r = _run(task, [hover] * 50 + [down] * 20)[0]
    assert r["success"] and r["task"] == "foot_tap" and r["hit_times_s"] == pytest.approx([0.6])


def test_foot_targets_and_home():
    torso = np.array([0.0, -0.1, 1.05, 0.0, 0.0, 0.0, 1.0])
    hip = np.array([-0.085, -0.1, 0.55])
    home = foot_home(hip, torso, 0.43, 0.27)
    assert home == pytest.approx([-0.085, -0.1 + 0.97 * 0.43 + 0.5 * 0.27, 0.0])
    pts = foot_targets(np.random.default_rng(0), home, torso, 0, 0.2, 20, 0.06, 0.5)
    assert np.all(pts[:, 2] == 0.0) and np.all(pts[:, 1] - torso[1] >= 0.5)
    assert np.all(np.abs(np.linalg.norm(pts - home, axis=1) / 0.2 - 1) <= 0.1001)
    # with the eye and the legs: every target's sight line clears the legs
    eye = np.array([0.0, 0.0, 1.2])
    legs = np.array([[hip, [-0.1, 0.32, 0.5]], [[-0.1, 0.32, 0.5], [-0.15, 0.42, 0.07]]])
    seen = foot_targets(np.random.default_rng(0), home, torso, 0, 0.3, 20, 0.06, 0.5,
                        eye, legs)
    assert all(in_view(eye, p, legs, 0.06) for p in seen)
    # none can be seen (a leg over the whole fan): the best one is still given
    wall = np.array([[[-2.0, 0.6, 0.3], [2.0, 0.6, 0.3]]])
    assert foot_targets(np.random.default_rng(0), home, torso, 0, 0.2, 2, 0.06, 0.5,
                        eye, wall).shape == (2, 3)


def test_foot_angles_of_turned_and_lifted_feet():
    torso = np.array([0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
    up20 = np.array([math.sin(math.radians(10)), 0.0, 0.0, math.cos(math.radians(10))])
    assert foot_angles(up20, torso) == pytest.approx((0.0, 20.0))
    right30 = np.array([0.0, 0.0, -math.sin(math.radians(15)), math.cos(math.radians(15))])
    assert foot_angles(right30, torso) == pytest.approx((30.0, 0.0))


def test_circle_metrics_of_a_circle_and_an_ellipse():
    a = np.linspace(0, 2 * np.pi, 361)
    circle = np.stack([10 + 12 * np.cos(a), 5 + 12 * np.sin(a)], axis=1)
    m = circle_metrics(circle[:-1])
    assert m["amplitude_deg"] == pytest.approx(12.0) and m["roundness"] == pytest.approx(1.0)
    assert m["circles"] == pytest.approx(359 / 360, abs=1e-9)
    ellipse = np.stack([20 * np.cos(a), -15 * np.sin(a)], axis=1)[:-1]   # clockwise
    e = circle_metrics(ellipse)
    assert e["roundness"] == pytest.approx(0.75, abs=1e-3) and e["circles"] < -0.99


def _circle_task(direction="either", amp=12.0, **kw):
    task = AnkleCircleTask(8.0, 0.5, 10.0, 1, direction, rest_s=0.0, rate_hz=RATE)
    out = []
    for i in range(1100):
        t = i * DT
        ph = 2 * np.pi * t / 4.0                            # one circle in 4 s
        r = task.update(t, np.zeros(3), amp * np.cos(ph), amp * np.sin(ph))
        if r is not None:
            out.append(r)
    return out


def test_ankle_circle_completes_after_one_turn():
    r = _circle_task()[0]
    assert r["success"] and r["outcome"] == "circle"
    assert r["time_s"] == pytest.approx(4.0, abs=0.25)
    assert r["amplitude_deg"] == pytest.approx(12.0, abs=0.5) and r["roundness"] > 0.9


def test_ankle_circle_direction_size_and_timeout():
    r = _circle_task("clockwise")[0]                  # the circle runs counterclockwise
    assert not r["success"] and r["outcome"] == "timeout" and r["circles"] > 2.0
    small = _circle_task(amp=4.0)[0]
    assert not small["success"] and small["outcome"] == "too_small"


ON = np.array([0.0, 0.7, 0.03])
BESIDE = np.array([0.15, 0.7, 0.03])


def _flat_pedal(**kw) -> PedalPlate:
    return PedalPlate(np.array([0.0, 0.6, 0.0]), np.array([0.0, 1.0, 0.0]), 0.2, **kw)


def test_pedal_press_needs_a_hold_and_a_release_between_trials():
    task = PedalTask(15.0, 0.5, 3.0, 2, rest_s=0.0, rate_hz=RATE, rest_deg=0.0)
    task.place(_flat_pedal())
    angles = [0.0] * 20 + [20.0] * 20 + [5.0] * 10 + [20.0] * 60 + [20.0] * 50 + [0.0] * 10 \
        + [18.0] * 60
    results = []
    for i, a in enumerate(angles):
        r = task.update(i * DT, ON, a)
        if r is not None:
            results.append(r)
    first = results[0]
    # pressed at 0.2 s, released at 0.4 s (0.2 s < hold), pressed again 0.5 s, held 0.5 s
    assert first["success"] and first["press_time_s"] == pytest.approx(0.2)
    assert first["on_pedal_time_s"] == 0.0
    assert first["time_s"] == pytest.approx(1.0) and first["peak_plantarflexion_deg"] == 20.0
    # the second trial waits for the foot to come up (at 1.6 s), then a press at 1.7 s
    second = results[1]
    assert second["success"] and second["time_s"] == pytest.approx(0.6)
    assert task.finished


def test_pedal_press_counts_only_with_the_ball_of_the_foot_on_the_pedal():
    # the pedal rests inclined 20 deg toes-up: 15 deg down from there is 5 deg toes-up
    task = PedalTask(15.0, 0.2, 2.0, 1, rest_s=0.0, rate_hz=RATE, rest_deg=20.0)
    task.place(_flat_pedal())
    # beside the pedal (0.15 m off its centre line: 0.055 + 0.04 allowed) nothing counts
    feed = [(BESIDE, -5.0)] * 50 + [(ON, -20.0)] * 30 + [(ON, -5.0)] * 30
    out = [task.update(i * DT, p, a) for i, (p, a) in enumerate(feed)]
    (r,) = [x for x in out if x is not None]
    assert r["success"] and r["on_pedal_time_s"] == pytest.approx(0.5)
    assert r["press_time_s"] == pytest.approx(0.8) and r["time_s"] == pytest.approx(1.0)
    assert r["pedal_rest_deg"] == 20.0
    unplaced = PedalTask(15.0, 0.2, 2.0, 1, rest_s=0.0, rate_hz=RATE)  # no pedal yet
    assert all(unplaced.update(i * DT, ON, 30.0) is None for i in range(150))
    assert not unplaced.on_pedal and unplaced.press_time != unplaced.press_time


def test_pedal_plate_footprint_and_tolerance():
    plate = _flat_pedal(width_m=0.1, tolerance_m=0.02, max_ball_z=0.1)
    assert plate.contains(np.array([0.0, 0.6, 0.0]))                   # the rear edge
    assert plate.contains(np.array([0.069, 0.81, 0.05]))               # corner + margin
    assert not plate.contains(np.array([0.071, 0.7, 0.0]))             # 0.05 + 0.02 out
    assert not plate.contains(np.array([0.0, 0.83, 0.0]))              # past the front
    assert not plate.contains(np.array([0.0, 0.7, 0.11]))              # lifted off
    assert not plate.contains(np.full(3, np.nan))
    # turned 90 deg (forward = +x): along x, across y
    side = PedalPlate(np.zeros(3), np.array([1.0, 0.0, 0.0]), 0.2, 0.1, 0.0)
    assert side.contains(np.array([0.15, 0.04, 0.0]))
    assert not side.contains(np.array([0.04, 0.15, 0.0]))


def test_forward_ankle_and_pedal_placement():
    torso = np.array([0.0, -0.1, 1.05, 0.0, 0.0, 0.0, 1.0])
    hip = np.array([-0.085, -0.1, 0.55])
    # knee flexed 60 deg: hip-ankle = 2 * 0.4 * cos(30) = 0.6928 (law of cosines), drop
    # 0.55 - 0.07 = 0.48 -> ahead sqrt(0.6928^2 - 0.48^2) = 0.4996
    ankle = forward_ankle(hip, torso, 0.4, 0.4, 0.07, 60.0)
    assert ankle == pytest.approx([-0.085, -0.1 + 0.4996, 0.07], abs=1e-4)
    plate = pedal_plate(hip, torso, 0.4, 0.4, 0.26, 0.07)
    base = forward_ankle(hip, torso, 0.4, 0.4, 0.07)
    assert plate.hinge == pytest.approx([-0.085, base[1] + 0.25 * 0.26, 0.0])
    assert plate.length_m == pytest.approx(0.7 * 0.26)
    # a leg hiding the pedal from the eye: the knee straightens, the pedal moves forward
    eye = np.array([0.0, 0.0, 1.2])
    legs = np.array([[hip, [-0.1, 0.32, 0.5]], [[-0.1, 0.32, 0.5], [-0.12, 0.42, 0.07]]])
    seen = pedal_plate(hip, torso, 0.4, 0.4, 0.26, 0.07, eye=eye, legs=legs)
    assert seen.hinge[1] > plate.hinge[1] + 0.02
    with pytest.raises(MirrorTaskError, match="knee_flexion_deg"):
        forward_ankle(hip, torso, 0.4, 0.4, 0.07, 170.0)


def test_sight_lines_past_the_legs():
    # crossing segments 0.3 apart; parallel ones; a point and a segment
    assert segment_distance(np.array([-1.0, 0, 0]), np.array([1.0, 0, 0]),
                            np.array([0, -1.0, 0.3]), np.array([0, 1.0, 0.3])) == \
        pytest.approx(0.3)
    assert segment_distance(np.zeros(3), np.array([1.0, 0, 0]), np.array([2.0, 0, 0]),
                            np.array([3.0, 0, 0])) == pytest.approx(1.0)
    assert segment_distance(np.zeros(3), np.zeros(3), np.array([1.0, -1, 0]),
                            np.array([1.0, 1, 0])) == pytest.approx(1.0)
    eye = np.array([0.0, 0.0, 1.2])
    knee = np.array([[[-0.1, 0.0, 0.5], [-0.1, 0.4, 0.5]]])             # a thigh at 0.5 m
    behind = np.array([-0.2, 0.6, 0.0])                                  # in line: hidden
    assert sight_clearance(eye, behind, knee) < 0.02
    assert not in_view(eye, behind, knee, 0.05)
    far = np.array([-0.45, 0.5, 0.0])                                    # well outside it
    assert in_view(eye, far, knee, 0.05)
    assert sight_clearance(eye, far, np.full((1, 2, 3), np.nan)) == math.inf


def test_bilateral_symmetry_with_and_without_a_residual_tracker():
    target = np.array([[0.0, 0.5, 1.0]])
    t = np.arange(0, 2.0, DT)
    path = np.stack([0 * t, 0.5 * np.minimum(t / 1.5, 1.0), 1.0 + 0 * t], axis=1)
    residual = path[:, :] * [1, 0.5, 1]               # moves along, half as far
    for tracked in (True, False):
        task = BilateralTask(lambda i: target, 0.05, 0.1, 5.0, 1, pace_s=1.5, rest_s=0.0,
                             rate_hz=RATE)
        result = None
        for k in range(len(t)):
            r = task.update(t[k], path[k], path[k], path[k] if tracked else None,
                            residual[k] if tracked else None)
            result = r or result
        assert result["success"]
        if tracked:
            assert result["symmetry"] == pytest.approx(1.0)
            assert result["symmetry_detail"]["amplitude_ratio"] == pytest.approx(0.5, abs=0.02)
            assert result["residual_tracked_fraction"] > 0.95
        else:
            assert result["symmetry"] is None and result["residual_tracked_fraction"] == 0.0
        # within 5 cm of (0, .5, 1) from t = 1.35 s, plus the 0.1 s dwell
        assert result["timing_error_s"] == pytest.approx(1.45 - 1.5, abs=0.011)
    assert [residual_point_index(s) for s in (0, 1, 2)] == [1, 2, 2]


def test_bilateral_needs_both_hands_on_the_target():
    target = np.array([[0.0, 0.5, 1.0]])
    task = BilateralTask(lambda i: target, 0.05, 0.1, 1.0, 1, pace_s=1.0, rest_s=0.0,
                         rate_hz=RATE)
    res = None
    for k in range(120):
        res = task.update(k * DT, target[0], target[0] + [0.2, 0, 0]) or res
    assert res is not None and not res["success"]


def test_copy_pose_targets_are_exact_ik_poses_and_matching_needs_a_hold():
    solver = ArmSolver(0.3255, 0.2555, 0.189)
    torso = np.array([0.0, -0.1, 1.03, 0.0, 0.0, 0.0, 1.0])
    shoulder = np.array([-0.18, -0.1, 1.03])
    target = solve_pose(POSES["elbow_bent"], solver, torso, shoulder, 0, 0.581)
    assert 0 not in target.dofs                # shoulder elevation < 25 deg: no plane
    assert target.positions[0] == pytest.approx(shoulder)
    wrist_goal = shoulder + np.array([-0.03, 0.44, -0.56]) * 0.581
    assert np.linalg.norm(target.positions[2] - wrist_goal) < 0.01
    fist = solve_pose(POSES["fist_bent"], solver, torso, shoulder, 0, 0.581)
    assert len(fist.dofs) > len(target.dofs)
    task = CopyPoseTask(lambda i: target, 10.0, 0.5, 3.0, 1, rest_s=0.0, rate_hz=RATE)
    off = target.angles.copy()
    off[3] += math.radians(60.0)               # elbow 60 deg off: mean error 60/6 = 10
    near = target.angles.copy()
    near[3] += math.radians(30.0)              # mean 5 deg
    res = None
    for k in range(200):
        angles = off if k < 50 else near
        res = task.update(k * DT, np.zeros(3), angles) or res
    assert res["success"] and res["outcome"] == "matched"
    assert res["time_s"] == pytest.approx(1.0)
    assert res["joint_angle_error_deg"] == pytest.approx(30.0 / len(target.dofs), abs=1e-6)
    assert res["joint_angle_error_max_deg"] == pytest.approx(30.0, abs=1e-6)


def test_pose_sequence_never_repeats_back_to_back():
    seq = pose_sequence("simple", 40, np.random.default_rng(5))
    assert len(seq) == 40 and all(a.name != b.name for a, b in zip(seq, seq[1:]))
    with pytest.raises(MirrorTaskError, match="pose set"):
        pose_sequence("hard", 3, np.random.default_rng(0))
