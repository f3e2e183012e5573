"""Named hand and foot postures as joint angles the limb solvers' forward kinematics take.

A posture is the full degree-of-freedom vector of a limb (``ARM_DOF_NAMES`` or
``LEG_DOF_NAMES`` order, radians): the proximal joints stay at the rest pose (arm hanging,
leg straight) and only the hand / foot joints move. Pose a rig with it::

    arm.forward(hand_posture("point"), side)        # ArmSolver
    rig.apply(arm.positions, arm.rotations, 1.0)    # LimbRig

Angles are in degrees in the tables below, with the conventions of :mod:`vrgmi.ik.limits`
(flexion positive; thumb CMC angles relative to the model's rest thumb ray). Every value is
inside the joint limits there. ``pinch`` and ``ok`` bring the thumb's and the index's
fingertip pads together, the tips 15 mm apart for a 19 cm hand (the two distal segments'
radii on the limb model; found once by search over the thumb's four angles). No two finger
segments of any posture come closer than their radii (tests/test_posture_clearance.py).
No Panda3D here: the laterality and imagery scenes both import these.
"""
from __future__ import annotations

import numpy as np

from vrgmi.errors import VrgmiError
from vrgmi.ik.limits import ARM_DOF_NAMES, ARM_ROM, LEG_DOF_NAMES, LEG_ROM


class PostureError(VrgmiError, ValueError):
    """An unknown posture or limb was asked for."""


_FIST_FINGER = (85.0, 0.0, 95.0, 60.0)          # MCP, MCP abduction, PIP, DIP
_FIST_THUMB = (12.0, 20.0, 45.0, 60.0)          # CMC flexion, CMC abduction, MCP, IP
_PINCH_INDEX = (45.0, 0.0, 60.0, 30.0)
_PINCH_THUMB = (10.5, -1.5, 30.0, 15.0)
_RELAXED_FINGER = (30.0, 0.0, 40.0, 20.0)
_GRASP_FINGER = (50.0, 0.0, 55.0, 25.0)          # round a cup or a ball
_GRASP_THUMB = (5.0, 35.0, 20.0, 15.0)


def _hand(thumb: tuple, index: tuple, middle: tuple, ring: tuple, little: tuple) -> dict:
    out = dict(zip(("thumb_cmc_flexion", "thumb_cmc_abduction", "thumb_mcp_flexion",
                    "thumb_ip_flexion"), thumb))
    for finger, angles in zip(("index", "middle", "ring", "little"),
                              (index, middle, ring, little)):
        out.update(zip((f"{finger}_mcp_flexion", f"{finger}_mcp_abduction",
                        f"{finger}_pip_flexion", f"{finger}_dip_flexion"), angles))
    return out


_ZERO4 = (0.0, 0.0, 0.0, 0.0)

#: hand postures: DOF name -> degrees (unlisted DOFs 0 = the open rest hand)
HAND_POSTURE_DEG: dict[str, dict[str, float]] = {
    "open": {},
    "spread": _hand((-20.0, 0.0, 0.0, 0.0), (0.0, 15.0, 0.0, 0.0), (0.0, 5.0, 0.0, 0.0),
                    (0.0, 12.0, 0.0, 0.0), (0.0, 20.0, 0.0, 0.0)),
    "fist": _hand(_FIST_THUMB, *[_FIST_FINGER] * 4),
    "point": _hand(_FIST_THUMB, _ZERO4, *[_FIST_FINGER] * 3),
    "pinch": _hand(_PINCH_THUMB, _PINCH_INDEX, *[_RELAXED_FINGER] * 3),
    "ok": _hand(_PINCH_THUMB, _PINCH_INDEX, (0.0, 5.0, 0.0, 0.0), (0.0, 10.0, 0.0, 0.0),
                (0.0, 18.0, 0.0, 0.0)),
    "thumbs_up": _hand((-20.0, -20.0, 0.0, 0.0), *[_FIST_FINGER] * 4),
    "peace": _hand(_FIST_THUMB, (0.0, 12.0, 0.0, 0.0), (0.0, -10.0, 0.0, 0.0),
                   _FIST_FINGER, _FIST_FINGER),
    "grasp": _hand(_GRASP_THUMB, *[_GRASP_FINGER] * 4),
}
#: foot postures: DOF name -> degrees
FOOT_POSTURE_DEG: dict[str, dict[str, float]] = {
    "neutral": {},
    "toes_up": {"ankle_dorsiflexion": 15.0, "toe_flexion": -35.0},
    "pointed": {"ankle_dorsiflexion": -40.0, "toe_flexion": 20.0},
    "inverted": {"ankle_dorsiflexion": -10.0, "subtalar_inversion": 25.0},
    "toes_curled": {"toe_flexion": 35.0},
}
HAND_POSTURES: tuple[str, ...] = tuple(HAND_POSTURE_DEG)
FOOT_POSTURES: tuple[str, ...] = tuple(FOOT_POSTURE_DEG)
#: the posture each context object is held (hand) or touched (foot) with
CONTEXT_POSTURES: dict[str, str] = {"cup": "grasp", "ball": "grasp", "pen": "pinch"}


def _build(table: dict[str, dict[str, float]], names: tuple[str, ...],
           rom: tuple) -> dict[str, np.ndarray]:
    limits = {row[0]: (row[1], row[2]) for row in rom}
    out = {}
    for posture, angles in table.items():
        vec = np.zeros(len(names))
        for dof, deg in angles.items():
            lo, hi = limits[dof]
            if not lo <= deg <= hi:   # a table bug, caught at import
                raise RuntimeError(f"posture {posture}: {dof} {deg} outside {lo}..{hi}")
            vec[names.index(dof)] = np.radians(deg)
        vec.setflags(write=False)
        out[posture] = vec
    return out


_HAND = _build(HAND_POSTURE_DEG, ARM_DOF_NAMES, ARM_ROM)
_FOOT = _build(FOOT_POSTURE_DEG, LEG_DOF_NAMES, LEG_ROM)


def hand_posture(name: str) -> np.ndarray:
    """Arm DOF angles (27,) radians, read-only, of the named hand posture."""
    try:
        return _HAND[name]
    except KeyError:
        raise PostureError(f"hand posture {name!r} is not one of "
                           f"{', '.join(HAND_POSTURES)}") from None


def foot_posture(name: str) -> np.ndarray:
    """Leg DOF angles (8,) radians, read-only, of the named foot posture."""
    try:
        return _FOOT[name]
    except KeyError:
        raise PostureError(f"foot posture {name!r} is not one of "
                           f"{', '.join(FOOT_POSTURES)}") from None


def posture_angles(limb: str, name: str) -> np.ndarray:
    """The DOF angles of posture ``name`` for ``limb`` ``"hand"`` or ``"foot"``."""
    if limb == "hand":
        return hand_posture(name)
    if limb == "foot":
        return foot_posture(name)
    raise PostureError(f"posture limb {limb!r} is not 'hand' or 'foot'")
