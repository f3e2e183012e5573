"""The controller-driven hand's thumb (no hand tracking: grip buttons curl the fingers) lies
where a relaxed thumb lies: beside the index near the plane of the palm when the hand is
open, over the curled fingers' middle phalanges in the fist, never hanging below the hand.
Posed through the arm solver the engine runs (ArmSolver.set_curls, solve), both sides; the
scripted hands' 26 joints (vrgmi.body.hand, curl 0) put the thumb in the same place, and the
solver's retargeting of them keeps it there."""
from __future__ import annotations

import numpy as np
import pytest

from vrgmi.body.hand import REST_WRIST_QUAT, hand_joints_from_curl
from vrgmi.body.skeleton import ARM_JOINT_NAMES
from vrgmi.ik import ArmSolver, warmup
from vrgmi.ik.solver import HAND_FROM_ARM

J = {n: i for i, n in enumerate(ARM_JOINT_NAMES)}
#: the open thumb tip lies at most this far (m) from the palm's plane (it hung 6.4 cm palmar)
OPEN_THUMB_FROM_PALM_M = 0.03
#: at any grip the thumb tip is at most this far (m) palmar of the index and middle fingers'
#: deepest joint (a thumb and a finger radius, with room; the old fist's thumb hung 4 cm)
THUMB_BELOW_FINGERS_M = 0.03
GRIPS = np.linspace(0.0, 1.0, 21)


def palmar_depths(arm: ArmSolver, side: int) -> tuple[float, float]:
    """The thumb tip's and the deepest index/middle joint's distance (m) on the palmar side
    of the palm's plane (wrist, index and little knuckles)."""
    p = arm.positions
    w = p[J["wrist"]]
    n = np.cross(p[J["index_proximal"]] - w, p[J["little_proximal"]] - w)
    n *= (1.0 if side == 1 else -1.0) / np.linalg.norm(n)       # a left hand is mirrored
    fingers = [J[f"{f}_{b}"] for f in ("index", "middle")
               for b in ("intermediate", "distal", "tip")]
    return float((p[J["thumb_tip"]] - w) @ n), float(((p[fingers] - w) @ n).max())


def seated_arm(side: int) -> tuple[ArmSolver, float]:
    """An arm solver of a 19 cm hand, the shoulder at (x, 0, 1.4); returns it and x."""
    warmup()
    arm = ArmSolver(0.30, 0.26, 0.19)
    arm.torso[:] = (0.0, 0.0, 0.9, 0.0, 0.0, 0.0, 1.0)
    x = 0.18 if side == 1 else -0.18
    arm.root[:] = (x, 0.0, 1.4)
    return arm, x


@pytest.mark.parametrize("side", [0, 1])
def test_the_controller_hands_thumb_lies_at_the_palm_at_every_grip(side):
    arm, x = seated_arm(side)
    # the forearm forward, palm down (as over a table): 90 deg about the forearm axis
    arm.target[:3] = (x, 0.40, 1.05)
    s = np.sqrt(0.5)
    arm.target[3:] = (0.0, s if side == 1 else -s, 0.0, s)
    depths = []
    for grip in GRIPS:
        arm.set_curls(float(grip), float(grip))
        arm.solve(side)
        depths.append(palmar_depths(arm, side))
    thumb, fingers = np.array(depths).T
    assert thumb[0] > 0.0                                  # palmar of the bones, not dorsal
    assert abs(thumb[0]) < OPEN_THUMB_FROM_PALM_M
    assert np.all(thumb - np.maximum(fingers, 0.0) < THUMB_BELOW_FINGERS_M)
    assert np.all(np.diff(thumb) > -1e-3)                  # it folds in as the grip closes


def test_scripted_hand_joints_put_the_thumb_where_the_solver_does():
    arm, _ = seated_arm(1)
    arm.set_curls(0.0)
    arm.target[:3], arm.target[3:] = (0.18, 0.0, 0.85), (0.0, 0.0, 0.0, 1.0)   # arm hanging
    arm.solve(1)
    open_tip = arm.positions[J["thumb_tip"]].copy()
    wrist = np.r_[arm.positions[J["wrist"]], REST_WRIST_QUAT]
    joints = hand_joints_from_curl(wrist, 0.19, np.zeros(5), np.zeros((26, 7)))
    assert np.linalg.norm(joints[5, :3] - open_tip) < 0.005        # XR joint 5: thumb_tip
    # the tracked path: the solver retargets those joints and the thumb stays at the palm
    arm.hand_joints[:] = joints
    arm.solve(1, hand_tracked=True)
    thumb, _ = palmar_depths(arm, 1)
    assert 0.0 < thumb < OPEN_THUMB_FROM_PALM_M
    assert np.linalg.norm(arm.positions[HAND_FROM_ARM[5]] - open_tip) < 0.01
