#!/usr/bin/env python3
"""Generate the rigged glTF limb models ``models/limbs/arm_right.glb`` and ``leg_right.glb``.

    python tools/make_limbs.py            # (re)write the models
    python tools/make_limbs.py --check    # regenerate in memory, fail if the files differ

The shapes are signed distance fields of rounded cones and ellipsoids (muscles, bones,
pads, nails) sized for a 1.75 m adult, meshed by marching cubes and decimated; skin
weights come from explicit joint handover zones (see docs/limb-rigs.md). Output is
deterministic: the same library versions give the same bytes on every run. Needs
scikit-image and pymeshlab (generation only; the engine loads the .glb files).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vrgmi.assets import limb_mesh as lm  # noqa: E402
from vrgmi.assets.gltf_writer import SkinnedMesh, skinned_mesh_glb  # noqa: E402
from vrgmi.body.skeleton import FINGERS, rest_foot_positions, rest_hand_positions  # noqa: E402
from vrgmi.spatial import engine_to_stage_point  # noqa: E402
from vrgmi.tracking.frame import HAND_JOINT_NAMES  # noqa: E402

HEIGHT = 1.75
#: segment lengths as fractions of body height (Winter 2009, Biomechanics and Motor
#: Control of Human Movement, 4th ed., Fig. 4.1)
UPPER_ARM, FOREARM, THIGH, SHANK = 0.186, 0.146, 0.245, 0.246
HAND_LENGTH, FOOT_LENGTH, ANKLE_HEIGHT = 0.108 * HEIGHT, 0.152 * HEIGHT, 0.039 * HEIGHT
MODELS = ROOT / "models" / "limbs"
#: marching-cubes lattice spacing (m) and triangle budget per limb
LATTICE = {"arm": 0.0009, "leg": 0.0012}
TRIANGLES = {"arm": 36000, "leg": 30000}

Cone, Ellipsoid, Union = lm.Cone, lm.Ellipsoid, lm.Union
DORSAL = np.array([1.0, 0.0, 0.0])      # right hand at rest: back of the hand faces +x


@dataclass(frozen=True)
class Rig:
    """Joint names, parents (-1 = root) and bind-pose positions (limb-local engine axes)."""
    names: tuple[str, ...]
    parents: tuple[int, ...]
    positions: np.ndarray

    def __getitem__(self, name: str) -> np.ndarray:
        return self.positions[self.names.index(name)]

    def index(self, name: str) -> int:
        return self.names.index(name)


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def _finger_joints(finger: str) -> list[str]:
    if finger == "thumb":
        return [f"thumb_{j}" for j in ("metacarpal", "proximal", "distal", "tip")]
    return [f"{finger}_{j}" for j in ("metacarpal", "proximal", "intermediate", "distal", "tip")]


def arm_rig() -> Rig:
    """Shoulder at the origin, arm hanging down (-z), palm medial (-x), thumb forward."""
    elbow = np.array([0.0, 0.0, -UPPER_ARM * HEIGHT])
    wrist = elbow + [0.0, 0.0, -FOREARM * HEIGHT]
    names = ["shoulder", "elbow", "forearm_twist", "wrist", "palm"]
    parents = [-1, 0, 1, 2, 3]
    pos = [np.zeros(3), elbow, 0.5 * (elbow + wrist), wrist]
    hand = dict(zip(HAND_JOINT_NAMES, rest_hand_positions(HAND_LENGTH) + wrist))
    pos.append(hand["palm"])
    for finger in FINGERS:
        for k, joint in enumerate(_finger_joints(finger)):
            parents.append(3 if k == 0 else len(names) - 1)
            names.append(joint)
            pos.append(hand[joint])
    return Rig(tuple(names), tuple(parents), np.array(pos))


def leg_rig() -> Rig:
    """Hip at the origin, leg straight down (-z), foot flat, toes forward (+y)."""
    knee = np.array([0.0, 0.0, -THIGH * HEIGHT])
    ankle = knee + [0.0, 0.0, -SHANK * HEIGHT]
    foot = rest_foot_positions(FOOT_LENGTH, ANKLE_HEIGHT) + ankle
    return Rig(("hip", "knee", "ankle", "heel", "ball", "toe_tip"), (-1, 0, 1, 2, 2, 4),
               np.array([np.zeros(3), knee, ankle, foot[1], foot[2], foot[3]]))


# ---------------------------------------------------------------- arm shape

#: finger radii (m) at MCP, PIP, DIP and at the fingertip cap (index, middle, ring, little)
FINGER_RADII = {
    "index": (0.0097, 0.0088, 0.0077, 0.0067),
    "middle": (0.0099, 0.0091, 0.0079, 0.0069),
    "ring": (0.0093, 0.0085, 0.0074, 0.0065),
    "little": (0.0081, 0.0074, 0.0065, 0.0058),
}
THUMB_RADII = (0.0124, 0.0107, 0.0100, 0.0084)       # CMC, MCP, IP, tip cap
#: the thumb's nail faces this way (perpendicular to its axis after projection)
THUMB_NAIL_HINT = np.array([-0.35, 1.0, 0.45])


@dataclass(frozen=True)
class Digit:
    """One finger, thumb or toe: joint chain, radii at the joints, nail direction."""
    name: str
    points: tuple[np.ndarray, ...]     # base joint ... distal joint, cap centre
    radii: tuple[float, ...]
    dorsal: np.ndarray                 # unit, perpendicular to the distal segment
    scale: tuple[float, float]         # cross-section (thickness along dorsal, width)

    @property
    def direction(self) -> np.ndarray:
        return _unit(self.points[-1] - self.points[-2])


def hand_digits(rig: Rig) -> list[Digit]:
    """Fingers from the MCP outward and the thumb from the CMC outward."""
    out = []
    for finger in FINGERS:
        names = _finger_joints(finger)
        if finger == "thumb":
            pts = [rig[n] for n in names]
            radii = THUMB_RADII
            axis = _unit(pts[-1] - pts[-2])
            dorsal = _unit(THUMB_NAIL_HINT - np.dot(THUMB_NAIL_HINT, axis) * axis)
            scale = (0.9, 1.08)
        else:
            pts = [rig[n] for n in names[1:]]
            radii = FINGER_RADII[finger]
            axis = _unit(pts[-1] - pts[-2])
            dorsal = _unit(DORSAL - np.dot(DORSAL, axis) * axis)
            scale = (0.92, 1.06)
        tip = pts[-1] - axis * radii[-1] * scale[0]
        out.append(Digit(finger, tuple(pts[:-1]) + (tip,), radii, dorsal, scale))
    return out


def digit_shape(d: Digit, pad: float, joint_bulge: float) -> lm.Node:
    """Phalanges as elliptical rounded cones, knuckle bulges, a fingertip pad and a nail."""
    parts = []
    n = len(d.points)
    for i in range(n - 1):
        parts.append(Cone(d.points[i], d.points[i + 1], d.radii[i], d.radii[i + 1],
                          side=d.dorsal, scale=d.scale))
    for i in range(1, n - 1):   # joints a little wider than the shafts
        r = d.radii[i] * joint_bulge
        axis = _unit(d.points[i + 1] - d.points[i])
        parts.append(Ellipsoid(d.points[i] + d.dorsal * 0.08 * r,
                               (r * d.scale[0], r * d.scale[1] * 1.04, r * 0.9),
                               lm._frame(axis, d.dorsal)))
    a, b = d.points[-2], d.points[-1]
    axis = _unit(b - a)
    length = np.linalg.norm(b - a)
    r = d.radii[-1]
    palmar = -d.dorsal
    parts.append(Ellipsoid(a + (b - a) * 0.62 + palmar * r * pad, (r * 0.8, r * 1.0, length * 0.55),
                           lm._frame(axis, d.dorsal)))
    body = Union(parts, k=0.003)
    return Union([body, nail_shape(d)], k=0.0006)


def nail_frame(d: Digit) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Nail centre on the distal segment's axis, its frame and half length / half width."""
    a, b = d.points[-2], d.points[-1]
    length = np.linalg.norm(b - a) + d.radii[-1] * d.scale[0]
    axis = _unit(b - a)
    center = a + axis * (0.62 * length)
    return center, lm._frame(axis, d.dorsal), 0.34 * length, 0.78 * d.radii[-2] * d.scale[1]


def nail_shape(d: Digit) -> lm.Node:
    """A plate 0.45 mm proud of the distal segment's dorsal surface."""
    center, frame, half_len, half_w = nail_frame(d)
    distal = Cone(d.points[-2], d.points[-1], d.radii[-2], d.radii[-1], side=d.dorsal,
                  scale=d.scale)
    footprint = Ellipsoid(center, (0.05, half_w, half_len), frame)
    dorsal_half = lm.HalfSpace(center, -d.dorsal)
    return lm.Intersect([lm.Offset(distal, 0.00045), footprint, dorsal_half], k=0.0006)


def nail_mask(digits: list[Digit], verts: np.ndarray) -> np.ndarray:
    """1 on the nails, 0 elsewhere, smooth over ~0.6 mm at the nail edges."""
    mask = np.zeros(len(verts))
    for d in digits:
        center, frame, half_len, half_w = nail_frame(d)
        q = (verts - center) @ frame
        ell = np.sqrt((q[:, 1] / half_w) ** 2 + (q[:, 2] / half_len) ** 2)
        inside = lm.smoothstep((1.0 - ell) * min(half_w, half_len) / 0.0006 + 0.5)
        dorsal = lm.smoothstep(q[:, 0] / (0.4 * d.radii[-1]))
        mask = np.maximum(mask, inside * dorsal)
    return mask


def arm_shape(rig: Rig) -> tuple[lm.Node, list[Digit]]:
    """The right arm's signed distance field and its digits."""
    E, W = rig["elbow"], rig["wrist"]
    v = lambda x, y, z: np.array([x, y, z], dtype=np.float64)  # noqa: E731
    upper = Union([
        Ellipsoid(v(0.004, -0.002, -0.022), (0.046, 0.050, 0.056)),            # shoulder cap
        Cone(v(0.010, 0.000, -0.025), v(0.023, 0.002, -0.150), 0.043, 0.016),  # deltoid
        Cone(v(0, 0, -0.030), v(0, 0, -0.290), 0.039, 0.032),                  # humerus & brachialis
        Ellipsoid(v(-0.002, 0.015, -0.190), (0.029, 0.026, 0.085)),            # biceps
        Ellipsoid(v(0.002, -0.017, -0.150), (0.032, 0.028, 0.100)),            # triceps
    ], k=0.03)
    elbow = Union([
        Cone(E + v(0, 0, 0.040), E + v(0, 0, -0.045), 0.032, 0.034, scale=(1.1, 0.95)),
        Ellipsoid(E + v(-0.029, -0.004, 0.003), (0.011, 0.011, 0.014)),        # medial epicondyle
        Ellipsoid(E + v(0.026, -0.002, 0.005), (0.009, 0.010, 0.012)),         # lateral epicondyle
        Ellipsoid(E + v(0.0, -0.024, 0.008), (0.013, 0.010, 0.018)),           # olecranon
    ], k=0.012)
    forearm = Union([
        Cone(E + v(0, 0, -0.020), E + v(0, 0, -0.150), 0.036, 0.026, scale=(0.95, 1.05)),
        Ellipsoid(E + v(-0.013, -0.006, -0.075), (0.026, 0.028, 0.075)),      # flexors
        Ellipsoid(E + v(0.009, 0.017, -0.060), (0.025, 0.024, 0.070)),        # brachioradialis
        Cone(E + v(0, 0, -0.130), W + v(0, 0, 0.008), 0.024, 0.0195, scale=(0.9, 1.38)),
        Ellipsoid(W + v(0.009, -0.021, 0.014), (0.007, 0.007, 0.008)),        # ulnar head
    ], k=0.02)
    arm = Union([upper, elbow, forearm], k=0.03)

    digits = hand_digits(rig)
    palm_parts = [
        Cone(W + v(0, 0, 0.012), W + v(-0.003, 0, -0.022), 0.020, 0.0195, scale=(0.88, 1.4)),
        Ellipsoid(rig["palm"] + v(-0.004, -0.002, 0.0), (0.0125, 0.034, 0.036)),
        Ellipsoid(W + v(-0.016, -0.029, -0.046), (0.011, 0.013, 0.033)),      # hypothenar
    ]
    for finger in FINGERS[1:]:
        cmc, mcp = rig[f"{finger}_metacarpal"], rig[f"{finger}_proximal"]
        r = FINGER_RADII[finger][0]
        palm_parts.append(Cone(cmc + v(-0.004, 0, 0), mcp + v(-0.003, 0, 0.002), r * 1.12, r * 1.05,
                               scale=(1.15, 0.98)))
        palm_parts.append(Ellipsoid(mcp + v(0.002, 0, 0.003), (r * 0.88, r * 0.98, r * 0.9)))
    thumb_cmc, thumb_mcp = rig["thumb_metacarpal"], rig["thumb_proximal"]
    thenar_axis = _unit(thumb_mcp - thumb_cmc)
    palm_parts.append(Ellipsoid(0.55 * (thumb_cmc + thumb_mcp) + v(0.006, -0.010, 0.002),
                                (0.013, 0.016, 0.028), lm._frame(thenar_axis, DORSAL)))
    palm = Union(palm_parts, k=0.012)
    fingers = Union([digit_shape(d, pad=0.22, joint_bulge=1.05) for d in digits[1:]], k=0.0)
    hand = Union([palm, digit_shape(digits[0], pad=0.25, joint_bulge=1.03), fingers], k=0.009)
    return Union([arm, hand], k=0.015), digits


# ---------------------------------------------------------------- leg shape

#: toes: (name, MTP, interphalangeal joint, cap centre, radii) relative to the ankle
TOES = (
    ("big", (-0.024, 0.148, -0.045), (-0.023, 0.180, -0.051), (-0.021, 0.1965, -0.0555),
     (0.0125, 0.0117, 0.0105)),
    ("second", (-0.002, 0.145, -0.049), (0.000, 0.169, -0.052), (0.002, 0.191, -0.0612),
     (0.0078, 0.0072, 0.0066)),
    ("third", (0.0135, 0.137, -0.050), (0.0155, 0.159, -0.053), (0.0175, 0.179, -0.0617),
     (0.0074, 0.0069, 0.0063)),
    ("fourth", (0.0265, 0.127, -0.051), (0.0285, 0.147, -0.054), (0.0305, 0.165, -0.0620),
     (0.0071, 0.0066, 0.0060)),
    ("little", (0.0385, 0.115, -0.052), (0.0405, 0.132, -0.055), (0.0425, 0.148, -0.0622),
     (0.0066, 0.0060, 0.0056)),
)


def toe_digits(rig: Rig) -> list[Digit]:
    """The toes as digits (dorsal = up)."""
    ankle = rig["ankle"]
    out = []
    for name, mtp, ip, cap, radii in TOES:
        pts = tuple(ankle + np.asarray(p) for p in (mtp, ip, cap))
        axis = _unit(pts[-1] - pts[-2])
        up = np.array([0.0, 0.0, 1.0])
        out.append(Digit(name, pts, radii, _unit(up - np.dot(up, axis) * axis), (0.88, 1.05)))
    return out


def leg_shape(rig: Rig) -> tuple[lm.Node, list[Digit]]:
    """The right leg's signed distance field and its toes."""
    K, A = rig["knee"], rig["ankle"]
    sole = rig["heel"][2]
    v = lambda x, y, z: np.array([x, y, z], dtype=np.float64)  # noqa: E731
    thigh = Union([
        Ellipsoid(v(0.022, -0.012, -0.050), (0.082, 0.092, 0.095)),             # hip & buttock
        Cone(v(0.020, -0.006, -0.070), v(0.002, 0.0, -0.380), 0.080, 0.051),    # femur & adductors
        Ellipsoid(v(0.008, 0.026, -0.220), (0.060, 0.047, 0.170)),              # quadriceps
        Ellipsoid(v(-0.031, 0.018, -0.345), (0.031, 0.031, 0.060)),             # vastus medialis
        Ellipsoid(v(0.004, -0.030, -0.230), (0.056, 0.045, 0.160)),             # hamstrings
    ], k=0.04)
    knee = Union([
        Cone(K + v(0, 0, 0.055), K + v(0, 0, -0.045), 0.049, 0.045, scale=(1.1, 0.95)),
        Ellipsoid(K + v(0, 0.041, 0.024), (0.022, 0.014, 0.026)),               # patella
        Ellipsoid(K + v(0, 0.035, -0.034), (0.012, 0.010, 0.022)),              # patellar tendon
        Ellipsoid(K + v(-0.042, -0.004, 0.008), (0.020, 0.025, 0.028)),          # medial condyle
        Ellipsoid(K + v(0.040, -0.006, 0.008), (0.018, 0.022, 0.026)),           # lateral condyle
    ], k=0.015)
    shank = Union([
        Cone(K + v(0, 0.004, -0.030), A + v(0, 0, 0.040), 0.043, 0.025),        # tibia & fibula
        Ellipsoid(K + v(-0.018, -0.030, -0.130), (0.032, 0.036, 0.095)),        # gastrocnemius medial
        Ellipsoid(K + v(0.019, -0.026, -0.115), (0.027, 0.030, 0.085)),          # gastrocnemius lateral
        Ellipsoid(K + v(0.000, -0.018, -0.210), (0.040, 0.035, 0.120)),          # soleus
        Cone(K + v(0, -0.026, -0.290), A + v(0, -0.036, -0.016), 0.013, 0.012, scale=(1.2, 0.8)),
        Cone(A + v(0, 0, 0.060), A + v(0, 0, -0.010), 0.026, 0.026, scale=(1.2, 1.0)),
        Ellipsoid(A + v(-0.025, 0.004, 0.003), (0.010, 0.012, 0.014)),           # medial malleolus
        Ellipsoid(A + v(0.027, -0.008, -0.008), (0.010, 0.012, 0.014)),          # lateral malleolus
    ], k=0.02)
    mtp_angle = np.arctan2(TOES[-1][1][1] - TOES[0][1][1], TOES[-1][1][0] - TOES[0][1][0])
    mtp_axes = np.array([[np.cos(mtp_angle), -np.sin(mtp_angle), 0.0],
                         [np.sin(mtp_angle), np.cos(mtp_angle), 0.0], [0.0, 0.0, 1.0]])
    foot_body = Union([
        Ellipsoid(A + v(0.001, -0.030, -0.043), (0.031, 0.030, 0.028)),          # heel
        Cone(A + v(0, -0.005, -0.038), A + v(0.004, 0.115, -0.048), 0.030, 0.020,
             side=(1, 0, 0), scale=(1.45, 0.9)),                                  # midfoot
        Ellipsoid(A + v(-0.006, 0.040, -0.025), (0.033, 0.055, 0.030)),          # instep
        Ellipsoid(A + v(0.006, 0.128, -0.053), (0.050, 0.026, 0.016), mtp_axes),  # metatarsal heads
        Cone(A + v(0.020, -0.020, -0.056), A + v(0.036, 0.112, -0.056), 0.013, 0.011),  # lateral border
        Ellipsoid(A + v(-0.024, 0.138, -0.047), (0.015, 0.020, 0.018)),          # 1st metatarsal head
    ], k=0.02)
    arch = Ellipsoid(A + v(-0.036, 0.045, -0.074), (0.022, 0.050, 0.016))
    toes = toe_digits(rig)
    toe_shapes = Union([digit_shape(t, pad=0.18, joint_bulge=1.03) for t in toes], k=0.0)
    foot = Union([lm.Subtract(foot_body, arch, k=0.008), toe_shapes], k=0.006)
    foot = lm.Intersect([foot, lm.HalfSpace(v(0, 0, sole), v(0, 0, -1))], k=0.004)
    return Union([Union([thigh, knee, shank], k=0.03), foot], k=0.012), toes
