"""The controller-driven hand's thumb (no hand tracking: grip buttons curl the fingers) lies
where a relaxed thumb lies: beside the index near the plane of the palm when the hand is
open, over the curled fingers' middle phalanges in the fist, never hanging below the hand.
Posed through the arm solver the engine runs (ArmSolver.set_curls, solve), both sides."""
from __future__ import annotations

import numpy as np
import pytest

from vrgmi.body.skeleton import ARM_JOINT_NAMES
from vrgmi.ik import ArmSolver, warmup

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


@pytest.mark.parametrize("side", [0, 1])
def test_the_controller_hands_thumb_lies_at_the_palm_at_every_grip(side):
    warmup()
    arm = ArmSolver(0.30, 0.26, 0.19)
    arm.torso[:] = (0.0, 0.0, 0.9, 0.0, 0.0, 0.0, 1.0)
    x = 0.18 if side == 1 else -0.18
    arm.root[:] = (x, 0.0, 1.4)
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
