"""The functional mirror tasks' logic on synthetic traces (no rendering): rotations, grasp
and carry, pouring and spilling, turning a key, wiping, rolling a ball, holding a press in a
band, tracing a path, and where the objects are placed. Hand-computed expectations."""
from __future__ import annotations

import math

import numpy as np
import pytest

from vrgmi.mirror.floor import (BALL_RADIUS_M, PressHoldTask, RollBallTask, TracePathTask,
                                floor_path, press_bands)
from vrgmi.mirror.lower import PedalPlate
from vrgmi.mirror.objects import (CUP_HEIGHT_M, GLASS_HEIGHT_M, GRIP_ABOVE_RIM_M,
                                  KEY_PINCH_FROM_PALM_M, CupMoveTask, KeyTurnTask,
                                  MirrorTaskError, PourTask, WipeTask,
                                  relative_rotation, rotate, stain_cells, table_spots,
                                  tilt_deg, twist_deg)
from vrgmi.spatial import quat_from_axis_angle, quat_mul

RATE = 90.0
DT = 1.0 / RATE
IDENTITY = np.array([0.0, 0.0, 0.0, 1.0])
Y = np.array([0.0, 1.0, 0.0])
TORSO = np.array([0.0, -0.1, 1.05, 0.0, 0.0, 0.0, 1.0])


def _q(axis, deg):
    return quat_from_axis_angle(np.asarray(axis, dtype=float), math.radians(deg))


def test_rotation_helpers_hand_values():
    q = _q(Y, 40.0)
    assert tilt_deg(tuple(q)) == pytest.approx(40.0)
    assert twist_deg(tuple(q), Y) == pytest.approx(40.0)
    assert twist_deg(tuple(_q(Y, -70.0)), Y) == pytest.approx(-70.0)
    # a swing about another axis does not twist about Y; the relative rotation takes a
    # common reference out
    assert twist_deg(tuple(_q([1, 0, 0], 50.0)), Y) == pytest.approx(0.0, abs=1e-9)
    ref = _q([0, 0, 1], 30.0)
    rel = relative_rotation(quat_mul(q, ref), ref)
    assert rel == pytest.approx(tuple(q))


def _cup_task(**kw):
    spots = np.array([[-0.2, 0.35, 0.72], [-0.35, 0.40, 0.72]])
    return CupMoveTask(lambda i: spots, rate_hz=RATE, rest_s=0.0, trials=1, **kw), spots


def _feed(task, positions, rotations=None, t0=0.0):
    """Feed ``positions`` (n, 3) one per frame; returns (t, result or None)."""
    t, result = t0, None
    for k, p in enumerate(positions):
        rot = IDENTITY if rotations is None else rotations[k]
        result = task.update(t, np.asarray(p, dtype=float), rot)
        if result is not None:
            break
        t += DT
    return t, result


def _line(a, b, n):
    return np.linspace(a, b, n)


def test_cup_grasped_carried_and_placed_with_its_error():
    task, spots = _cup_task(place_radius_m=0.06, dwell_s=0.2)
    grip = spots[0] + (0, 0, 0.5 * CUP_HEIGHT_M + 0.5 * CUP_HEIGHT_M + GRIP_ABOVE_RIM_M)
    target_palm = spots[1] + (0.02, 0.0, CUP_HEIGHT_M + GRIP_ABOVE_RIM_M)   # 2 cm off centre
    path = np.vstack([_line(grip + (0, -0.2, 0.1), grip, 45), np.repeat([grip], 30, 0),
                      _line(grip, target_palm, 60), np.repeat([target_palm], 40, 0)])
    _, r = _feed(task, path)
    assert r is not None and r["success"] and r["outcome"] == "placed"
    inside = int(np.argmax(np.linalg.norm(path - grip, axis=1) <= 0.07))   # first frame near
    assert r["grasp_time_s"] == pytest.approx(inside * DT + 0.2, abs=2 * DT)
    assert r["placement_error_m"] == pytest.approx(0.02, abs=1e-6)
    assert r["score"] == pytest.approx(1 - 0.02 / 0.06, abs=1e-3) and r["peak_tilt_deg"] == 0.0


def test_a_cup_carried_tipped_over_is_not_set_down():
    task, spots = _cup_task(place_radius_m=0.06, dwell_s=0.2, time_limit_s=3.0)
    grip = spots[0] + (0, 0, CUP_HEIGHT_M + GRIP_ABOVE_RIM_M)
    over = spots[1] + (0, 0, CUP_HEIGHT_M + GRIP_ABOVE_RIM_M)
    path = np.vstack([np.repeat([grip], 30, 0), _line(grip, over, 30),
                      np.repeat([over], 300, 0)])
    tipped = [IDENTITY] * 40 + [_q(Y, 60.0)] * 320
    _, r = _feed(task, path, tipped)
    assert not r["success"] and r["outcome"] == "timeout" and r["score"] == 0.0
    assert r["peak_tilt_deg"] == pytest.approx(60.0, abs=0.1)


def test_untracked_palm_never_grasps():
    task, spots = _cup_task(time_limit_s=2.0)
    _, r = _feed(task, np.full((300, 3), np.nan))
    assert r["grasp_time_s"] is None and r["outcome"] == "timeout"


def test_pouring_counts_over_the_glass_and_spills_beside_it():
    spots = np.array([[-0.2, 0.35, 0.72], [-0.35, 0.40, 0.72]])
    task = PourTask(lambda i: spots, pour_deg=45.0, pour_s=0.5, dwell_s=0.1, rest_s=0.0,
                    trials=1, rate_hz=RATE)
    grip = spots[0] + (0, 0, CUP_HEIGHT_M + GRIP_ABOVE_RIM_M)
    lift = GLASS_HEIGHT_M + CUP_HEIGHT_M + GRIP_ABOVE_RIM_M + 0.05
    beside = spots[1] + (0.0, -0.2, lift)
    over = spots[1] + (0.0, 0.0, lift)
    # grasp 0.2 s; to beside; tip 30 frames there (spill); upright; over; tip until done.
    # Tipping swings the jug (hanging below the palm) about the palm: over the glass the
    # palm moves so that the jug's centre stays over it
    tip = _q(Y, 80.0)
    hang = np.array([0.0, 0.0, -(0.5 * CUP_HEIGHT_M + GRIP_ABOVE_RIM_M)])
    swing = rotate(tuple(tip), hang, np.zeros(3)) - hang
    path = np.vstack([np.repeat([grip], 18, 0), _line(grip, beside, 30),
                      np.repeat([beside], 30, 0), _line(beside, over, 20),
                      np.repeat([over - swing], 120, 0)])
    rot = ([IDENTITY] * 48 + [tip] * 30 + [IDENTITY] * 20 + [tip] * 120)
    _, r = _feed(task, path, rot)
    assert r["success"] and r["outcome"] == "poured"
    assert r["spilled_s"] == pytest.approx(30 * DT, abs=2 * DT)
    assert r["poured_s"] == pytest.approx(0.5, abs=DT)
    assert r["score"] == pytest.approx(1.0 - r["spilled_s"] / 0.5, abs=1e-3)


def test_key_turns_with_the_forearm_and_springs_back_when_let_go():
    spots = np.array([[-0.25, 0.40, 0.72]])
    task = KeyTurnTask(lambda i: spots, Y, turn_deg=60.0, hold_s=0.3, dwell_s=0.1,
                       time_limit_s=10.0, rest_s=0.0, trials=1, rate_hz=RATE)
    key = spots[0] + (0, 0, 0.16) - KEY_PINCH_FROM_PALM_M * Y     # the palm pinching the bow
    away = key + (0.0, -0.3, 0.0)
    n1, n2, n3 = 20, 30, 60
    path = np.vstack([np.repeat([key], n1 + n2, 0), np.repeat([away], 10, 0),
                      np.repeat([key], 20 + n3, 0)])
    rot = ([IDENTITY] * n1 + [_q(Y, 40.0)] * n2 + [_q(Y, 40.0)] * 10      # 40 deg, let go
           + [_q(Y, 40.0)] * 20 + [quat_mul(_q(Y, -65.0), _q(Y, 40.0))] * n3)
    t, r = _feed(task, path, rot)
    assert r["success"] and r["outcome"] == "turned"
    # re-grasped at 40 deg: the turn counts from there (-65), either way is fine
    assert r["peak_turn_deg"] == pytest.approx(65.0, abs=0.1) and r["score"] >= 1.0
    assert r["held_s"] == pytest.approx(0.3, abs=DT)


def test_wiping_cleans_the_cells_the_cloth_passes_down_on_the_table():
    cells = stain_cells(np.zeros(2), 0.10)
    assert len(cells) == pytest.approx(math.pi * 0.10 ** 2 / 0.02 ** 2, rel=0.1)
    spots = np.array([[-0.25, 0.40, 0.72]])
    task = WipeTask(lambda i: spots, stain_radius_m=0.10, cloth_radius_m=0.05,
                    clean_fraction=1.0, time_limit_s=30.0, rest_s=0.0, trials=1, rate_hz=RATE)
    c = spots[0]
    # in the air first: nothing cleaned; then rows 4 cm apart across the stain, on the table
    high = [c + (x, y, 0.2) for x in np.linspace(-0.12, 0.12, 20) for y in (-0.1, 0.0, 0.1)]
    rows = []
    for k, y in enumerate(np.arange(-0.10, 0.101, 0.04)):
        xs = np.linspace(-0.12, 0.12, 30)
        rows += [c + (x, y, 0.03) for x in (xs if k % 2 == 0 else xs[::-1])]
    _feed(task, high)
    assert task.cleaned_fraction == 0.0
    _, r = _feed(task, rows, t0=len(high) * DT)
    assert r["success"] and r["cleaned_fraction"] == 1.0 and r["score"] == 1.0
    assert 0.5 < r["contact_s"] <= (len(rows) - 1) * DT + 1e-9     # done before the last row


def _roll(task, feet):
    t, r = 0.0, None
    for f in feet:
        r = task.update(t, np.asarray(f, dtype=float))
        if r is not None:
            break
        t += DT
    return r


def test_the_ball_rolls_with_the_sole_on_it_and_not_when_the_foot_is_lifted():
    spots = np.array([[-0.2, 0.7, 0.0], [-0.35, 0.8, 0.0]])
    task = RollBallTask(lambda i: spots, target_radius_m=0.06, dwell_s=0.2,
                        time_limit_s=10.0, rest_s=0.0, trials=1, rate_hz=RATE)
    on = spots[0] + (0.0, -0.05, 2 * BALL_RADIUS_M)
    lifted = on + (0.0, 0.0, 0.3)
    move = spots[1] - spots[0]
    feet = ([lifted + 0.5 * move * s for s in np.linspace(0, 1, 20)]      # in the air: stays
            + [on] * 5 + [on + move * s for s in np.linspace(0, 1, 60)] + [on + move] * 30)
    r = _roll(task, feet)
    assert r["success"] and r["outcome"] == "rolled"
    # done 0.2 s after the ball reached the spot, still rolling toward its centre
    assert r["final_error_m"] < 0.01 and r["score"] == pytest.approx(
        1 - r["final_error_m"] / 0.06, abs=1e-3)
    assert np.linalg.norm(move[:2]) - 0.01 < r["ball_path_m"] <= np.linalg.norm(move[:2])
    assert np.array(r["ball_end"])[1] > spots[0][1] + 0.08          # it moved; in the air not


def test_press_held_in_the_band_with_an_overshoot_counted():
    plate = PedalPlate(np.array([-0.2, 0.6, 0.0]), Y, 0.18)
    task = PressHoldTask(lambda i: (10.0, 20.0), hold_s=0.5, time_limit_s=10.0, rest_s=0.0,
                         trials=1, rate_hz=RATE, rest_deg=20.0)
    task.place(plate)
    ball = np.array([-0.2, 0.7, 0.03])
    # plantarflexion p -> depression p + 20: 0 (rest), overshoot 25, back to 15 and hold
    plantar = [-20.0] * 10 + [5.0] * 20 + [-5.0] * 60
    t, r = 0.0, None
    for p in plantar:
        r = task.update(t, ball, p)
        if r is not None:
            break
        t += DT
    assert r["success"] and r["outcome"] == "held" and r["band_deg"] == [10.0, 20.0]
    assert r["overshoots"] == 1 and r["held_s"] == pytest.approx(0.5, abs=DT)
    assert r["score"] == pytest.approx(r["in_band_s"] / r["pressing_s"], abs=1e-3)
    assert 0.5 < r["score"] < 0.8          # 20 frames above the band, ~45 inside
    bands = press_bands(np.random.default_rng(3), 8.0)
    lo, hi = bands(0)
    assert hi - lo == pytest.approx(8.0) and 6.0 <= lo <= 21.0


def test_path_traced_in_order_and_a_parallel_line_strays():
    path = np.array([[0.0, 0.6, 0.0], [0.0, 0.7, 0.0], [0.05, 0.8, 0.0]])
    exact = TracePathTask(lambda i: path, tolerance_m=0.04, rest_s=0.0, trials=1,
                          rate_hz=RATE)
    walk = np.vstack([_line(path[0], path[1], 20), _line(path[1], path[2], 20)])
    r = _roll(exact, walk)
    assert r["success"] and r["waypoints_reached"] == 3
    # a point counts 4 cm before it is reached, so the foot is briefly off the next segment
    assert r["mean_deviation_m"] < 0.005 and r["score"] > 0.93
    # 3 cm beside a straight path all along: every point is passed (within 4 cm), and the
    # deviation is 3 cm (a little more just before each point, where the next segment
    # already counts)
    straight = np.array([[0.0, 0.6, 0.0], [0.0, 0.7, 0.0], [0.0, 0.8, 0.0]])
    off = TracePathTask(lambda i: straight, tolerance_m=0.04, rest_s=0.0, trials=1,
                        rate_hz=RATE)
    r = _roll(off, _line(straight[0], straight[2], 60) + (0.03, 0.0, 0.0))
    assert r["success"] and r["waypoints_reached"] == 3
    assert r["mean_deviation_m"] == pytest.approx(0.03, abs=0.002)
    assert r["score"] == pytest.approx(1 - r["mean_deviation_m"] / 0.08, abs=1e-3)
    # stopping halfway: two of three points
    half = TracePathTask(lambda i: straight, tolerance_m=0.04, time_limit_s=2.0, rest_s=0.0,
                         trials=1, rate_hz=RATE)
    r = _roll(half, list(_line(straight[0], straight[1], 20)) + [straight[1]] * 200)
    assert not r["success"] and r["outcome"] == "timeout" and r["waypoints_reached"] == 2
    assert r["score"] == pytest.approx(2 / 3 * (1 - r["mean_deviation_m"] / 0.08), abs=1e-3)


def test_table_spots_are_seeded_on_the_missing_side_within_reach():
    shoulder = np.array([-0.18, -0.1, 1.05])
    args = (shoulder, TORSO, 0, 0.657, 0.92, 2, 0.16, 0.72, 0.22, 0.05)
    a = table_spots(np.random.default_rng(5), *args)
    b = table_spots(np.random.default_rng(5), *args)
    c = table_spots(np.random.default_rng(6), *args)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    for spots in (a, c):
        assert np.all(spots[:, 0] <= -0.12) and np.all(spots[:, 2] == 0.72)
        assert np.all(spots[:, 1] >= 0.27) and np.linalg.norm(spots[0] - spots[1]) >= 0.16
        for p in spots:
            assert math.dist(p + (0, 0, 0.05), shoulder) <= 0.92 * 0.657 + 1e-9
    with pytest.raises(MirrorTaskError, match="no table spot") as err:
        table_spots(np.random.default_rng(5), shoulder, TORSO, 0, 0.3, 0.6, 1, 0.16, 0.72,
                    0.22, 0.05, tries=50)
    assert "\n" not in str(err.value)


def test_floor_path_sways_forward_on_the_missing_side():
    home = np.array([-0.09, 0.45, 0.0])
    path = floor_path(np.random.default_rng(2), home, TORSO, 0, 5, 0.2, 0.5)
    assert path.shape == (5, 3) and np.all(path[:, 2] == 0.0)
    assert np.all(np.diff(path[:, 1]) > 0.0)                    # always forward
    assert path[-1, 1] - path[0, 1] == pytest.approx(0.2)
    assert np.all(path[:, 0] <= -0.05)                          # out on the left
    with pytest.raises(MirrorTaskError):
        floor_path(np.random.default_rng(2), home, TORSO, 0, 1, 0.2, 0.5)
