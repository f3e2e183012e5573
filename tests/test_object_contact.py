"""The mirrored hand touches the functional tasks' objects at their surface: a scripted
patient does the task through the real engine, and in every frame no joint of the phantom
hand (wrist, palm, every finger joint and tip) is more than a few millimetres inside an
object's collision shape (the lock, the table top)."""
from __future__ import annotations

import math

import numpy as np

from mirror_patient import RATE
from test_functional_mirror import _engine, _hand_goal
from vrgmi.mirror.trial import yaw_axes
from vrgmi.render.environment import TABLE_TOP_Z
from vrgmi.scenes.key_turn import BLADE_M, LOCK_SIZE_M, KeyTurn

#: deepest (m) a joint may be inside an object (joints lie on the bones, under the skin)
MAX_DEPTH_M = 0.005


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


def run_measuring(engine, seconds: float, depth) -> float:
    """Run ``seconds`` of frames; the deepest ``depth(engine)`` of any frame."""
    worst = -math.inf
    for i in range(int(seconds * RATE)):
        engine.frame(i / RATE, 1 / RATE, render=(i % 45 == 0))
        if engine.scene.task.active and engine.core.phantom_visibility > 0.0:
            worst = max(worst, depth(engine))
    return worst


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
