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
THUMB_RADII = (0.0140, 0.0115, 0.0105, 0.0088)       # CMC, MCP, IP, tip cap
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
            scale = (0.88, 1.1)
        else:
            pts = [rig[n] for n in names[1:]]
            radii = FINGER_RADII[finger]
            axis = _unit(pts[-1] - pts[-2])
            dorsal = _unit(DORSAL - np.dot(DORSAL, axis) * axis)
            scale = (0.92, 1.06)
        tip = pts[-1] - axis * radii[-1] * scale[0]
        out.append(Digit(finger, tuple(pts[:-1]) + (tip,), radii, dorsal, scale))
    return out


def digit_shape(d: Digit, pad: float) -> lm.Node:
    """Phalanges as elliptical rounded cones, slightly wider joints, a pad and a nail."""
    shafts = [Cone(d.points[i], d.points[i + 1], d.radii[i], d.radii[i + 1], side=d.dorsal,
                   scale=d.scale) for i in range(len(d.points) - 1)]
    parts = [Union(shafts)]
    for i in range(1, len(d.points) - 1):   # interphalangeal joints: a little wider
        r = d.radii[i]
        axis = _unit(d.points[i + 1] - d.points[i])
        parts.append(Ellipsoid(d.points[i] + d.dorsal * 0.05 * r,
                               (r * d.scale[0], r * d.scale[1] * 1.05, r * 1.6),
                               lm.axis_frame(axis, d.dorsal)))
    a, b = d.points[-2], d.points[-1]
    r = d.radii[-1]
    parts.append(Ellipsoid(a + (b - a) * 0.6 - d.dorsal * r * pad,
                           (r * 0.8, r * 0.95, np.linalg.norm(b - a) * 0.55),
                           lm.axis_frame(b - a, d.dorsal)))       # finger pad
    return Union([Union(parts, k=0.002), nail_shape(d)], k=0.0006)


def nail_frame(d: Digit) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Nail centre on the distal segment's axis, its frame and half length / half width."""
    a, b = d.points[-2], d.points[-1]
    length = np.linalg.norm(b - a) + d.radii[-1] * d.scale[0]
    axis = _unit(b - a)
    center = a + axis * (0.62 * length)
    return center, lm.axis_frame(axis, d.dorsal), 0.34 * length, 0.78 * d.radii[-2] * d.scale[1]


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
        Ellipsoid(v(0.008, -0.002, -0.032), (0.046, 0.049, 0.066)),            # shoulder cap
        Cone(v(0.012, 0.000, -0.040), v(0.025, 0.004, -0.165), 0.045, 0.020),  # deltoid
        Cone(v(0, 0, -0.030), E, 0.038, 0.031, scale=(1.06, 0.96)),           # humerus
        Ellipsoid(v(-0.003, 0.020, -0.200), (0.028, 0.025, 0.088)),            # biceps
        Ellipsoid(v(0.004, -0.021, -0.145), (0.032, 0.026, 0.095)),            # triceps
        Ellipsoid(v(0.012, 0.006, -0.255), (0.024, 0.022, 0.050)),             # brachialis
    ], k=0.026)
    elbow = Union([
        Ellipsoid(E + v(-0.028, -0.004, 0.003), (0.010, 0.010, 0.013)),        # medial epicondyle
        Ellipsoid(E + v(0.025, -0.002, 0.005), (0.008, 0.009, 0.011)),         # lateral epicondyle
        Ellipsoid(E + v(0.0, -0.023, 0.008), (0.012, 0.009, 0.016)),           # olecranon
    ], k=0.012)
    forearm = Union([
        Cone(E + v(0, 0, 0.010), E + v(0, 0, -0.170), 0.032, 0.026, scale=(1.0, 1.03)),
        Ellipsoid(E + v(-0.014, -0.004, -0.085), (0.025, 0.027, 0.100)),      # flexors
        Ellipsoid(E + v(0.014, 0.000, -0.095), (0.021, 0.024, 0.100)),        # extensors
        Union([Cone(E + v(0.020, 0.004, 0.055), E + v(0.008, 0.019, -0.060), 0.012, 0.024),
               Cone(E + v(0.008, 0.019, -0.060), E + v(0.002, 0.018, -0.170), 0.024, 0.011)],
              k=0.006),
        # brachioradialis
        Cone(E + v(0, 0, -0.140), W + v(0, 0, 0.008), 0.0245, 0.0205, scale=(0.9, 1.38)),
        Ellipsoid(W + v(0.009, -0.021, 0.014), (0.007, 0.007, 0.008)),        # ulnar head
    ], k=0.022)
    arm = Union([upper, elbow, forearm], k=0.025)

    digits = hand_digits(rig)
    mcps = np.array([rig[f"{f}_proximal"] for f in FINGERS[1:]])
    knuckle_line = lm.axis_frame(np.cross(DORSAL, mcps[-1] - mcps[0]), DORSAL)
    thumb_cmc, thumb_mcp = rig["thumb_metacarpal"], rig["thumb_proximal"]
    thenar_center = 0.6 * (thumb_cmc + 0.5 * (thumb_mcp - thumb_cmc)) + 0.4 * rig["palm"]
    palm_parts = [
        Ellipsoid(W + v(-0.002, 0.0, -0.012), (0.0175, 0.028, 0.030)),         # carpus
        Ellipsoid(rig["palm"] + v(-0.004, -0.002, 0.002), (0.0125, 0.035, 0.038)),
        Ellipsoid(mcps.mean(axis=0) + v(-0.007, 0.0, -0.002), (0.009, 0.038, 0.012),
                  knuckle_line),                                               # distal palm pad
        Ellipsoid(thenar_center + v(-0.005, 0.002, 0.0), (0.013, 0.020, 0.032),
                  lm.axis_frame(thumb_mcp - thumb_cmc, DORSAL)),                   # thenar
        Ellipsoid(0.5 * (thumb_cmc + thumb_mcp) * 0.5 + 0.5 * rig["index_metacarpal"] * 0.5
                  + 0.25 * rig["index_proximal"] + v(0.002, 0.0, 0.0), (0.009, 0.012, 0.022),
                  lm.axis_frame(thumb_mcp - rig["index_metacarpal"], DORSAL)),    # first interosseous
        Ellipsoid(W + v(-0.014, -0.029, -0.048), (0.011, 0.013, 0.034)),      # hypothenar
    ]
    for finger in FINGERS[1:]:
        cmc, mcp = rig[f"{finger}_metacarpal"], rig[f"{finger}_proximal"]
        r = FINGER_RADII[finger][0]
        palm_parts.append(Cone(cmc + v(-0.004, 0, 0), mcp + v(-0.003, 0, 0.002), r * 1.12,
                               r * 1.05, scale=(1.15, 0.98)))                  # metacarpal
        palm_parts.append(Ellipsoid(mcp + v(0.002, 0, 0.003), (r * 0.88, r * 0.98, r * 0.9)))
    palm = Union(palm_parts, k=0.012)
    fingers = Union([digit_shape(d, pad=0.22) for d in digits[1:]], k=0.0015)
    hand = Union([palm, digit_shape(digits[0], pad=0.25), fingers], k=0.01)
    return Union([arm, hand], k=0.015), digits


# ---------------------------------------------------------------- leg shape

#: toes: (name, MTP, interphalangeal joint, cap centre, radii) relative to the ankle
TOES = (
    ("big", (-0.028, 0.146, -0.046), (-0.027, 0.178, -0.050), (-0.023, 0.1955, -0.0555),
     (0.0130, 0.0120, 0.0108)),
    ("second", (-0.003, 0.142, -0.048), (-0.002, 0.164, -0.042), (0.000, 0.186, -0.0600),
     (0.0085, 0.0078, 0.0072)),
    ("third", (0.0135, 0.134, -0.050), (0.0145, 0.154, -0.044), (0.0165, 0.173, -0.0605),
     (0.0081, 0.0075, 0.0069)),
    ("fourth", (0.0275, 0.124, -0.051), (0.0290, 0.142, -0.045), (0.031, 0.159, -0.0608),
     (0.0077, 0.0071, 0.0066)),
    ("little", (0.040, 0.112, -0.052), (0.0415, 0.127, -0.047), (0.0445, 0.142, -0.0610),
     (0.0072, 0.0066, 0.0062)),
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
        Ellipsoid(v(0.020, -0.012, -0.065), (0.080, 0.088, 0.100)),             # hip & buttock
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
        Cone(K + v(0, 0.004, -0.030), A + v(0, 0, -0.010), 0.043, 0.0245, scale=(1.08, 1.0)),
        Ellipsoid(K + v(-0.018, -0.031, -0.130), (0.034, 0.038, 0.095)),        # gastrocnemius medial
        Ellipsoid(K + v(0.019, -0.027, -0.115), (0.029, 0.032, 0.085)),          # gastrocnemius lateral
        Ellipsoid(K + v(0.000, -0.018, -0.210), (0.040, 0.035, 0.120)),          # soleus
        Cone(K + v(0, -0.026, -0.290), A + v(0, -0.036, -0.016), 0.013, 0.012, scale=(1.2, 0.8)),
        Ellipsoid(A + v(-0.025, 0.004, 0.003), (0.010, 0.012, 0.014)),           # medial malleolus
        Ellipsoid(A + v(0.027, -0.008, -0.008), (0.010, 0.012, 0.014)),          # lateral malleolus
    ], k=0.02)
    mtp_angle = np.arctan2(TOES[-1][1][1] - TOES[0][1][1], TOES[-1][1][0] - TOES[0][1][0])
    mtp_axes = np.array([[np.cos(mtp_angle), -np.sin(mtp_angle), 0.0],
                         [np.sin(mtp_angle), np.cos(mtp_angle), 0.0], [0.0, 0.0, 1.0]])
    foot_body = Union([
        Ellipsoid(A + v(0.000, -0.028, -0.042), (0.032, 0.031, 0.027)),          # heel
        Ellipsoid(A + v(0.000, -0.005, -0.030), (0.030, 0.035, 0.035)),          # talus & calcaneus
        Cone(A + v(0.002, 0.0, -0.040), A + v(0.008, 0.125, -0.050), 0.028, 0.018,
             side=(1, 0, 0), scale=(1.55, 0.85)),                                 # midfoot
        Ellipsoid(A + v(-0.004, 0.040, -0.038), (0.034, 0.065, 0.025)),          # instep
        Ellipsoid(A + v(0.008, 0.130, -0.052), (0.050, 0.025, 0.016), mtp_axes),  # metatarsal heads
        Cone(A + v(0.024, -0.020, -0.057), A + v(0.042, 0.112, -0.057), 0.012, 0.011),  # lateral border
        Cone(A + v(-0.018, 0.020, -0.035), A + v(-0.027, 0.135, -0.049), 0.016, 0.015),  # 1st ray
        Ellipsoid(A + v(-0.028, 0.138, -0.049), (0.016, 0.020, 0.018)),          # 1st metatarsal head
        Ellipsoid(A + v(0.019, 0.141, -0.054), (0.028, 0.013, 0.011), mtp_axes),  # webs of toes 2-5
    ], k=0.02)
    arch = Ellipsoid(A + v(-0.040, 0.050, -0.075), (0.024, 0.055, 0.020))
    toes = toe_digits(rig)
    toe_shapes = Union([digit_shape(t, pad=0.18) for t in toes], k=0.0015)
    foot = Union([lm.Subtract(foot_body, arch, k=0.01), toe_shapes], k=0.006)
    foot = lm.Intersect([foot, lm.HalfSpace(v(0, 0, sole), v(0, 0, -1))], k=0.008)
    return Union([Union([thigh, knee, shank], k=0.03), foot], k=0.012), toes


# ---------------------------------------------------------------- skin weights

DOWN = (0.0, 0.0, -1.0)


def _polyline_distance(p: np.ndarray, pts: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Distance from points to a tube along the polyline ``pts`` with radii at its points."""
    best = np.full(len(p), np.inf)
    for a, b, ra, rb in zip(pts[:-1], pts[1:], radii[:-1], radii[1:]):
        ab = b - a
        t = np.clip((p - a) @ ab / (ab @ ab), 0.0, 1.0)
        d = np.linalg.norm(p - (a + t[:, None] * ab), axis=1) - (ra + t * (rb - ra))
        best = np.minimum(best, d)
    return best


def _membership(p: np.ndarray, tubes: list[tuple[np.ndarray, np.ndarray]],
                bases: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Soft assignment (N, len(tubes)) of points to digits: smooth across the palm or sole
    (temperature 6 mm), all-or-nothing on a free digit (distal to its base joint)."""
    d = np.stack([_polyline_distance(p, pts, r) for pts, r in tubes], axis=1)
    nearest = d.argmin(axis=1)
    u = np.einsum("ij,ij->i", p - bases[nearest], axes[nearest])
    tau = 0.006 - 0.0057 * lm.smoothstep((u + 0.004) / 0.02)
    m = np.exp(-(d - d.min(axis=1, keepdims=True)) / tau[:, None])
    return m / m.sum(axis=1, keepdims=True)


def _chain(p: np.ndarray, blends: list[lm.JointBlend]) -> np.ndarray:
    """Weights (N, len(blends) + 1) along a serial chain: bone 0 before the first joint's
    handover, bone i after the i-th."""
    out = np.zeros((len(p), len(blends) + 1))
    rest = np.ones(len(p))
    for i, blend in enumerate(blends):
        a = blend.child_weight(p)
        out[:, i] = rest * (1.0 - a)
        rest = rest * a
    out[:, -1] = rest
    return out


def _hinge(center, axis, inner, shift_outer, width, outer_width=None, side_shift=0.0):
    """A one-way hinge (flexes toward ``inner``): the outer handover is moved by
    ``shift_outer`` along the bone so the outside of the bent joint stays round."""
    return lm.JointBlend(tuple(center), tuple(axis), tuple(inner), 0.0, width, shift_outer,
                         outer_width or width, side_shift, width)


def _both_ways(center, axis, inner, shift, width, side_shift=None, side_width=None):
    """A joint that bends both ways (wrist, ankle, toes): a symmetric handover."""
    return lm.JointBlend(tuple(center), tuple(axis), tuple(inner), shift, width, shift, width,
                         shift if side_shift is None else side_shift,
                         width if side_width is None else side_width)


def arm_weights(rig: Rig, digits: list[Digit], p: np.ndarray) -> np.ndarray:
    """Dense (N, joints) skin weights of the arm; rows sum to 1."""
    E, T, W = rig["elbow"], rig["forearm_twist"], rig["wrist"]
    w = np.zeros((len(p), len(rig.names)))
    a_e = _hinge(E, DOWN, (0, 1, 0), shift_outer=-0.06, width=0.015, outer_width=0.025,
                 side_shift=-0.02).child_weight(p)
    s = -p[:, 2]
    a_t = lm.smoothstep((s + E[2] + 0.02) / (E[2] - T[2] - 0.02))
    a_w = _both_ways(W, DOWN, (-1, 0, 0), 0.004, 0.014).child_weight(p)
    w[:, rig.index("shoulder")] = 1.0 - a_e
    w[:, rig.index("elbow")] = a_e * (1.0 - a_t) * (1.0 - a_w)
    w[:, rig.index("forearm_twist")] = a_e * a_t * (1.0 - a_w)

    tubes, bases, axes, chains = [], [], [], []
    for d in digits:
        thumb = d.name == "thumb"
        full = _finger_joints(d.name)
        J = [rig[n] for n in full]
        dirs = [_unit(b - a) for a, b in zip(J[:-1], J[1:])]
        tubes.append((np.array(list(d.points) if thumb else [J[0]] + list(d.points)),
                      np.array(list(d.radii) if thumb else [1.1 * d.radii[0]] + list(d.radii))))
        bases.append(J[1])
        axes.append(dirs[1])
        blends = [_both_ways(J[0] + dirs[0] * (0.004 if thumb else 0.012), dirs[0], -d.dorsal,
                             0.0, 0.014 if thumb else 0.012)]
        for i in range(1, len(full) - 1):        # MCP, then PIP / DIP (thumb: IP)
            r = d.radii[i] if thumb else d.radii[i - 1]
            axis = _unit(dirs[i - 1] + dirs[i])
            if i == 1:
                blends.append(_hinge(J[i], axis, -d.dorsal, shift_outer=0.5 * r, width=0.8 * r,
                                     outer_width=0.6 * r, side_shift=0.3 * r))
            else:
                blends.append(_hinge(J[i], axis, -d.dorsal, shift_outer=0.45 * r, width=0.5 * r,
                                     outer_width=0.45 * r, side_shift=0.2 * r))
        chains.append((["wrist"] + full[:-1], blends))
    member = _membership(p, tubes, np.array(bases), np.array(axes))
    hand = np.zeros_like(w)
    for f, (bones, blends) in enumerate(chains):
        cw = _chain(p, blends)
        for i, bone in enumerate(bones):
            hand[:, rig.index(bone)] += member[:, f] * cw[:, i]
    return w + (a_e * a_w)[:, None] * hand


def leg_weights(rig: Rig, toes: list[Digit], p: np.ndarray) -> np.ndarray:
    """Dense (N, joints) skin weights of the leg; rows sum to 1."""
    K, A = rig["knee"], rig["ankle"]
    first, last = toes[0].points[0], toes[-1].points[0]
    forward = _unit(np.cross((0.0, 0.0, 1.0), last - first))
    cw = _chain(p, [
        _hinge(K, DOWN, (0, -1, 0), shift_outer=-0.065, width=0.02, outer_width=0.03,
               side_shift=-0.02),
        _both_ways(A, DOWN, (0, 1, 0), 0.005, 0.02, side_shift=0.018, side_width=0.012),
        _both_ways(first, forward, (0, 0, -1), 0.015, 0.02),
    ])
    w = np.zeros((len(p), len(rig.names)))
    for i, bone in enumerate(("hip", "knee", "ankle", "ball")):
        w[:, rig.index(bone)] = cw[:, i]
    return w


# ---------------------------------------------------------------- build


@dataclass(frozen=True)
class Limb:
    """Everything needed to build one limb model."""
    kind: str
    rig: Rig
    shape: lm.Node
    digits: list[Digit]
    distal: float        # z below which the hand / foot starts (finer triangles)
    joint_z: float       # z of the elbow / knee (finer triangles)


def limb(kind: str) -> Limb:
    """The arm or leg definition."""
    if kind == "arm":
        rig = arm_rig()
        shape, digits = arm_shape(rig)
        return Limb(kind, rig, shape, digits, rig["wrist"][2] + 0.02, rig["elbow"][2])
    if kind == "leg":
        rig = leg_rig()
        shape, digits = leg_shape(rig)
        return Limb(kind, rig, shape, digits, rig["ankle"][2] + 0.03, rig["knee"][2])
    raise SystemExit(f"unknown limb {kind!r}: expected 'arm' or 'leg'")


def build_mesh(lb: Limb) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices, triangles and unit normals of the limb surface (limb-local engine axes)."""
    values, grid = lm.sample_sdf(lb.shape, LATTICE[lb.kind])
    verts, faces = lm.largest_component(*lm.marching_cubes(values, grid))
    z = verts[:, 2]
    importance = (0.15 + 0.85 * lm.smoothstep((lb.distal - z) / 0.03)
                  + 0.35 * np.exp(-((z - lb.joint_z) / 0.05) ** 2))
    verts, faces = lm.decimate(verts, faces, TRIANGLES[lb.kind], importance)
    verts = lm.relax(lb.shape, verts, faces, iterations=3)
    return verts, faces, lm.vertex_normals(lb.shape, verts, faces)


def limb_parameter(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Distance along the surface from the root (the part above the root joint), 0..1."""
    from scipy.sparse.csgraph import dijkstra

    adj = lm.vertex_neighbours(faces, len(verts)).tocoo()
    length = np.linalg.norm(verts[adj.row] - verts[adj.col], axis=1)
    from scipy.sparse import coo_matrix
    graph = coo_matrix((length, (adj.row, adj.col)), shape=adj.shape).tocsr()
    seeds = np.flatnonzero(verts[:, 2] >= 0.0)
    dist = dijkstra(graph, directed=False, indices=seeds, min_only=True)
    return dist / dist.max()


def build(kind: str) -> bytes:
    """The .glb bytes of the right arm or leg."""
    lb = limb(kind)
    verts, faces, normals = build_mesh(lb)
    weights = (arm_weights if kind == "arm" else leg_weights)(lb.rig, lb.digits, verts)
    joints, w4 = lm.limit_influences(weights)
    nails = nail_mask(lb.digits, verts)
    colors = np.ones((len(verts), 4))
    colors[:, 1] -= 0.12 * nails
    colors[:, 2] -= 0.14 * nails
    texcoords = np.column_stack([limb_parameter(verts, faces), nails])
    mesh = SkinnedMesh(
        name=f"{kind}_right",
        positions=engine_to_stage_point(verts), normals=engine_to_stage_point(normals),
        indices=faces, joints=joints, weights=w4,
        joint_names=lb.rig.names, joint_parents=lb.rig.parents,
        joint_positions=engine_to_stage_point(lb.rig.positions),
        texcoords=texcoords, colors=colors,
        extras={"vrgmi": {
            "limb": kind, "side": "right", "body_height_m": HEIGHT,
            "segment_fractions_of_height": (
                {"upper_arm": UPPER_ARM, "forearm": FOREARM, "hand": 0.108} if kind == "arm"
                else {"thigh": THIGH, "shank": SHANK, "foot": 0.152, "ankle_height": 0.039}),
            "texcoord_0": "u: distance along the surface from the root, 0..1; v: nail mask",
            "docs": "docs/limb-rigs.md"}})
    return skinned_mesh_glb(mesh)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="regenerate in memory and fail if the committed files differ")
    ap.add_argument("--out", type=Path, default=MODELS, help="output folder (default models/limbs)")
    ap.add_argument("limbs", nargs="*", default=["arm", "leg"], help="arm, leg (default both)")
    args = ap.parse_args(argv)
    status = 0
    for kind in args.limbs:
        data = build(kind)
        path = args.out / f"{kind}_right.glb"
        if args.check:
            same = path.is_file() and path.read_bytes() == data
            print(f"{path}: {'up to date' if same else 'DIFFERS from the generator output'}")
            status |= 0 if same else 1
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            print(f"wrote {path} ({len(data) / 1e6:.2f} MB)")
    return status


if __name__ == "__main__":
    sys.exit(main())
