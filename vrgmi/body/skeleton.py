"""Canonical joint names and the rest-pose geometry of the hand and foot (right side).

Rest pose, in torso axes (x right, y forward, z up): the right arm hangs straight down,
palm facing the body (-x), thumb forward (+y), fingers extended downward; the right leg
points straight down, foot flat, toes forward (+y). Left limbs are the mirror image.

Hand proportions are fractions of hand length (wrist crease to middle fingertip) after
Buchholz, Armstrong & Goldstein 1992, "Anthropometric data for describing the kinematics
of the human hand", Ergonomics 35(3):261-273. Foot landmarks are fractions of foot length.
"""
from __future__ import annotations

import numpy as np

from vrgmi.errors import VrgmiError
from vrgmi.tracking.frame import HAND_JOINT_NAMES, SIDES


class BodyModelError(VrgmiError, ValueError):
    """A body-model input is wrong (unknown level or side, a length out of range ...)."""


def side_index(side: int | str) -> int:
    """0 for 'left' / 0, 1 for 'right' / 1 (the TrackingFrame's index)."""
    if isinstance(side, str) and side in SIDES:
        return SIDES.index(side)
    if not isinstance(side, str) and side in (0, 1):
        return int(side)
    raise BodyModelError(f"side {side!r} is not one of 'left', 'right', 0, 1")


ARM_JOINT_NAMES: tuple[str, ...] = ("shoulder", "elbow", "wrist") + tuple(
    n for n in HAND_JOINT_NAMES if n != "wrist"
)
LEG_JOINT_NAMES: tuple[str, ...] = ("hip", "knee", "ankle", "heel", "ball", "toe_tip")

FINGERS = ("thumb", "index", "middle", "ring", "little")

#: segment lengths per finger as fractions of hand length:
#: metacarpal, proximal phalanx, middle phalanx (0 for the thumb), distal phalanx
FINGER_BONE_FRACTIONS = np.array([
    [0.251, 0.196, 0.000, 0.158],  # thumb: CMC->MCP, MCP->IP, (none), IP->tip
    [0.374, 0.265, 0.143, 0.097],
    [0.373, 0.277, 0.170, 0.108],
    [0.336, 0.259, 0.165, 0.107],
    [0.295, 0.206, 0.117, 0.093],
])

#: metacarpal base (CMC) offsets from the wrist as fractions of hand length, in the
#: right hand's rest axes: (dorsal(+x) / palmar(-x), radial(+y, thumb side), distal(-z))
_CMC_OFFSETS = np.array([
    [-0.055, 0.130, -0.060],   # thumb CMC sits palmar and radial
    [0.000, 0.110, -0.070],
    [0.005, 0.020, -0.075],
    [0.000, -0.070, -0.070],
    [-0.010, -0.150, -0.060],
])
#: unit direction of each metacarpal in rest axes (x dorsal, y radial, z down)
_RAY_DIRECTIONS = np.array([
    [-0.45, 0.55, -0.70],      # thumb points forward-down, out of the palm plane
    [0.0, 0.05, -1.0],
    [0.0, 0.0, -1.0],
    [0.0, -0.05, -1.0],
    [0.0, -0.10, -1.0],
])


def rest_hand_positions(hand_length: float) -> np.ndarray:
    """(26, 3) XR_EXT_hand_tracking joint positions of a RIGHT hand in rest pose, metres,
    relative to the wrist joint, in torso axes (x right = dorsal, y forward, z up)."""
    if not (0.10 <= hand_length <= 0.30):
        raise BodyModelError(f"hand_length {hand_length!r} m is outside 0.10..0.30")
    out = np.zeros((26, 3))
    idx = {n: i for i, n in enumerate(HAND_JOINT_NAMES)}
    dirs = _RAY_DIRECTIONS / np.linalg.norm(_RAY_DIRECTIONS, axis=1, keepdims=True)
    for f, name in enumerate(FINGERS):
        base = _CMC_OFFSETS[f] * hand_length
        segs = [s for s in FINGER_BONE_FRACTIONS[f] if s > 0.0]
        joints = (["metacarpal", "proximal", "distal", "tip"] if name == "thumb"
                  else ["metacarpal", "proximal", "intermediate", "distal", "tip"])
        p = base.copy()
        out[idx[f"{name}_{joints[0]}"]] = p
        for seg, joint in zip(segs, joints[1:]):
            p = p + dirs[f] * seg * hand_length
            out[idx[f"{name}_{joint}"]] = p
    out[idx["palm"]] = 0.5 * out[idx["middle_proximal"]]
    return out


def rest_foot_positions(foot_length: float, ankle_height: float) -> np.ndarray:
    """(4, 3) rest positions of ankle, heel, ball, toe_tip of a RIGHT foot relative to
    the ankle joint, metres, torso axes (toes toward +y, sole at z = -ankle_height)."""
    if not (0.15 <= foot_length <= 0.40):
        raise BodyModelError(f"foot_length {foot_length!r} m is outside 0.15..0.40")
    if not (0.03 <= ankle_height <= 0.15):
        raise BodyModelError(f"ankle_height {ankle_height!r} m is outside 0.03..0.15")
    return np.array([
        [0.0, 0.0, 0.0],
        [0.0, -0.22 * foot_length, -ankle_height],
        [0.0, 0.50 * foot_length, -ankle_height],
        [0.0, 0.78 * foot_length, -0.85 * ankle_height],
    ])
