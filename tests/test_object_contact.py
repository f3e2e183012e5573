"""The mirrored hand and foot hold and touch the functional tasks' objects at their
surface: a scripted patient does each task through the real engine as a person would
(reaching over an object and down onto it, the hand pre-shaped to grip it), and in every
frame no joint of the phantom hand (wrist, palm, every finger joint and tip) or foot is
more than a few millimetres inside an object's collision shape (cup, jug, glass, lock,
table top, ball, floor); a held cup rests against the hand."""
from __future__ import annotations

import math

import numpy as np

from functional_goals import ball_rolled_at, cushion_press_goal, wipe_spiral
from mirror_patient import RATE
from test_functional_mirror import _engine, _foot_goal, _hand_goal
from vrgmi.mirror.floor import BALL_RADIUS_M
from vrgmi.mirror.objects import (CUP_HEIGHT_M, CUP_RADIUS_M, GLASS_HEIGHT_M,
                                  GLASS_RADIUS_M, PALM_CLEARANCE_M)
from vrgmi.mirror.trial import yaw_axes
from vrgmi.render.environment import TABLE_TOP_Z
from vrgmi.scenes.cup_move import CupMove
from vrgmi.scenes.key_turn import BLADE_M, LOCK_SIZE_M, KeyTurn
from vrgmi.scenes.pour import Pour
from vrgmi.scenes.press_hold import PressHold
from vrgmi.scenes.roll_ball import RollBall
from vrgmi.scenes.trace_path import TracePath
from vrgmi.scenes.wipe_table import WipeTable

#: deepest (m) a joint may be inside an object (joints lie on the bones, under the skin)
MAX_DEPTH_M = 0.005


def _rotate_back(q, v: np.ndarray) -> np.ndarray:
    """``v`` (n, 3) turned by the inverse of the scalar-last quaternion ``q``."""
    u, w = -np.asarray(q[:3], dtype=np.float64), float(q[3])
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def cylinder_depth(points: np.ndarray, centre, rotation, radius: float,
                   height: float) -> float:
    """How deep (m, <= 0 outside) the deepest point is inside a cylinder of ``radius``
    and ``height`` centred on ``centre``, turned by ``rotation``."""
    local = _rotate_back(rotation, points - np.asarray(centre))
    depth = np.minimum(radius - np.hypot(local[:, 0], local[:, 1]),
                       0.5 * height - np.abs(local[:, 2]))
    return float(depth.max())


def box_depth(points: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """How deep (m, <= 0 outside) the deepest point is inside the box ``lo``..``hi``
    (coordinates already in the box's frame)."""
    return float(np.minimum(points - lo, hi - points).min(axis=1).max())


def hand_joints(engine) -> np.ndarray:
    """The phantom arm's wrist and hand joints (world, m)."""
    return engine.core.phantom.positions[2:]


def table_depth(points: np.ndarray) -> float:
    """How deep the deepest point is under the table top (within its footprint)."""
    over = (np.abs(points[:, 0]) < 0.6) & (points[:, 1] > 0.22) & (points[:, 1] < 0.92)
    return float((TABLE_TOP_Z - points[over, 2]).max()) if over.any() else -1.0


def from_above(engine, grasp_point, over_m: float = 0.08):
    """The palm goes over the grasp point first and then down onto it, as a hand reaches
    for a cup (never sweeping sideways through it)."""
    def palm_at(task):
        goal = grasp_point(task)
        palm = engine.core.phantom.positions[3]
        if np.hypot(*(palm - goal)[:2]) > 0.02 and palm[2] < goal[2] + over_m - 0.01:
            return goal + (0.0, 0.0, over_m) if np.hypot(*(palm - goal)[:2]) < 0.06 \
                else np.array([palm[0], palm[1], goal[2] + over_m])
        return goal if np.hypot(*(palm - goal)[:2]) <= 0.02 else goal + (0.0, 0.0, over_m)
    return palm_at


#: how far the patient's controller grip is pressed: the hand pre-shaped for a cup
PRESHAPE = 0.3


def run_measuring(engine, seconds: float, depth) -> float:
    """Run ``seconds`` of frames; the deepest ``depth(engine)`` of any frame."""
    worst = -math.inf
    for i in range(int(seconds * RATE)):
        engine.frame(i / RATE, 1 / RATE, render=(i % 45 == 0))
        if engine.scene.task.active and engine.core.phantom_visibility > 0.0:
            worst = max(worst, depth(engine))
    return worst


def test_the_cup_is_held_at_its_surface_and_set_down(display, scene):
    cm = CupMove(trials=2)
    engine, patient = _engine(display, cm, "arm")
    reach = from_above(engine, lambda task: task.grasp_point())
    patient.grip = lambda t: PRESHAPE

    def palm_at(t, task):
        if not task.item.held:
            return reach(task)
        return task.spots[1] + (0.0, 0.0, 0.5 * CUP_HEIGHT_M) - task.item.offset
    patient.goal = _hand_goal(engine, palm_at)
    rims = []

    def depth(e):
        p, item = hand_joints(e), cm.task.item
        if item.held:
            rims.append(e.core.phantom.positions[3][2] - item.centre[2] - 0.5 * CUP_HEIGHT_M)
        return max(cylinder_depth(p, item.centre, item.rotation, CUP_RADIUS_M, CUP_HEIGHT_M),
                   table_depth(p))
    worst = run_measuring(engine, 8.0, depth)
    assert len(cm.task.results) == 2 and all(r["success"] for r in cm.task.results)
    assert worst <= MAX_DEPTH_M, f"a hand joint {1000 * worst:.1f} mm inside the cup"
    # held, the rim rests under the palm (not hanging below the hand)
    assert np.median(rims) < PALM_CLEARANCE_M + 0.03
    engine.close()


def test_the_jug_is_held_and_tipped_without_the_hand_inside_it_or_the_glass(display, scene):
    pr = Pour(trials=1, pour_s=1.0, pour_deg=45.0)
    engine, patient = _engine(display, pr, "arm")
    lift = GLASS_HEIGHT_M + 0.5 * CUP_HEIGHT_M + 0.05
    reach = from_above(engine, lambda task: task.grasp_point())
    patient.grip = lambda t: PRESHAPE

    def palm_at(t, task):
        if not task.item.held:
            return reach(task)
        return task.spots[1] + (0.0, 0.0, lift) - task.item.offset

    def turn(t, task):
        return 70.0 if task.item.held and t - task.onset - task.grasp_time > 1.5 else 0.0
    patient.goal = _hand_goal(engine, palm_at, turn)

    def depth(e):
        p, task = hand_joints(e), pr.task
        glass = task.spots[1] + (0.0, 0.0, 0.5 * GLASS_HEIGHT_M)
        return max(cylinder_depth(p, task.item.centre, task.item.rotation, CUP_RADIUS_M,
                                  CUP_HEIGHT_M),
                   cylinder_depth(p, glass, (0.0, 0.0, 0.0, 1.0), GLASS_RADIUS_M,
                                  GLASS_HEIGHT_M),
                   table_depth(p))
    worst = run_measuring(engine, 7.0, depth)
    (d,) = [e.data for e in engine.events.of_kind("trial", "pour")]
    assert d["success"], d
    assert worst <= MAX_DEPTH_M, f"a hand joint {1000 * worst:.1f} mm inside the jug or glass"
    engine.close()


def test_the_key_is_pinched_in_front_of_the_lock_not_inside_it(display, scene):
    kt = KeyTurn(trials=1, turn_deg=60.0, hold_s=0.5)
    engine, patient = _engine(display, kt, "arm")

    def turn(t, task):
        return 80.0 if task.item.held and t - task.onset - task.grasp_time > 0.4 else 0.0
    patient.goal = _hand_goal(engine, lambda t, task: task.grasp_point(), turn)
    right, fwd = yaw_axes(engine.core.torso.pose)
    half_w, depth_m, height = 0.5 * LOCK_SIZE_M[0], LOCK_SIZE_M[1], LOCK_SIZE_M[2]

    def depth(e):
        p = hand_joints(e)
        origin = kt.task.spots[0] + BLADE_M * fwd          # the lock's front face, on the table
        rel = p - origin
        local = np.column_stack([rel @ right, rel @ fwd, rel[:, 2]])
        return max(box_depth(local, np.array([-half_w, 0.0, 0.0]),
                             np.array([half_w, depth_m, height])), table_depth(p))
    worst = run_measuring(engine, 4.0, depth)
    (d,) = [e.data for e in engine.events.of_kind("trial", "key_turn")]
    assert d["success"], d
    assert worst <= MAX_DEPTH_M, f"a hand joint {1000 * worst:.1f} mm inside the lock"
    engine.close()


def test_the_hand_wipes_on_the_table_not_through_it(display, scene):
    """The hand goes down until its lowest joint is just above the table top, and wipes
    there: that counts as on the table."""
    wt = WipeTable(trials=1, clean_fraction=0.9)
    engine, patient = _engine(display, wt, "arm")

    def palm_at(t, task):
        p = engine.core.phantom.positions
        down = TABLE_TOP_Z + 0.004 + p[3, 2] - p[2:, 2].min()      # lowest joint 4 mm up
        return wipe_spiral(np.array([task.spots[0][0], task.spots[0][1], down]), t, task)
    patient.goal = _hand_goal(engine, palm_at)
    worst = run_measuring(engine, 8.0, lambda e: table_depth(hand_joints(e)))
    (d,) = [e.data for e in engine.events.of_kind("trial", "wipe_table")]
    assert d["success"] and d["contact_s"] > 2.0, d
    assert worst <= MAX_DEPTH_M, f"a hand joint {1000 * worst:.1f} mm under the table top"
    engine.close()


def test_the_foot_rolls_the_ball_from_on_top_not_through_it(display, scene):
    rb = RollBall(trials=1)
    engine, patient = _engine(display, rb, "leg")
    patient.goal = _foot_goal(engine, ball_rolled_at)

    def depth(e):
        foot = e.core.phantom.positions[2:]                # ankle, heel, ball, toe tip
        d = np.linalg.norm(foot - rb.task.ball, axis=1)
        return max(float((BALL_RADIUS_M - d).max()), float((-foot[:, 2]).max()))
    worst = run_measuring(engine, 5.0, depth)
    (d,) = [e.data for e in engine.events.of_kind("trial", "roll_ball")]
    assert d["success"], d
    assert worst <= MAX_DEPTH_M, f"a foot joint {1000 * worst:.1f} mm inside the ball or floor"
    engine.close()


def _floor_depth(e) -> float:
    """How deep the deepest foot joint (ankle, heel, ball, toe tip) is under the floor."""
    return float((-e.core.phantom.positions[2:, 2]).max())


def test_the_foot_traces_the_path_on_the_floor_not_through_it(display, scene):
    tp = TracePath(trials=1, waypoints=5)
    engine, patient = _engine(display, tp, "leg")
    patient.goal = _foot_goal(engine, lambda t, task: task.path[
        min(task.current, len(task.path) - 1)] + (0.0, 0.0, 0.01))
    worst = run_measuring(engine, 4.0, _floor_depth)
    (d,) = [e.data for e in engine.events.of_kind("trial", "trace_path")]
    assert d["success"], d
    assert worst <= MAX_DEPTH_M, f"a foot joint {1000 * worst:.1f} mm under the floor"
    engine.close()


def test_the_foot_presses_the_cushion_from_on_top_not_through_it(display, scene):
    """The cushion tips down under the forefoot (to flat at most): no foot joint goes
    through its top or the floor while the press is held."""
    ph = PressHold(trials=1, hold_s=1.0, band_deg=8.0)
    engine, patient = _engine(display, ph, "leg")
    patient.goal = cushion_press_goal(engine, ph)

    def depth(e):
        task, p = ph.task, e.core.phantom.positions[2:]
        plate = task.plate
        down = task.depression
        down = min(max(down, 0.0), task.rest_deg) if task.on_pedal and down == down else 0.0
        tilt = math.radians(task.rest_deg - down)
        rel = p - plate.hinge
        along = rel @ np.array([plate.forward[0], plate.forward[1], 0.0])
        across = rel @ np.array([-plate.forward[1], plate.forward[0], 0.0])
        over = (along >= 0.0) & (along <= plate.length_m) \
            & (np.abs(across) <= 0.5 * plate.width_m)
        under_top = along * math.tan(tilt) - rel[:, 2]        # below the tipped top
        return max(float(under_top[over].max()) if over.any() else -1.0, _floor_depth(e))
    worst = run_measuring(engine, 4.0, depth)
    (d,) = [e.data for e in engine.events.of_kind("trial", "press_hold")]
    assert d["success"], d
    assert worst <= MAX_DEPTH_M, f"a foot joint {1000 * worst:.1f} mm in the cushion or floor"
    engine.close()
