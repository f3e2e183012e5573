"""Skin weights of the limbs: explicit joint handover zones (docs/limb-rigs.md, "Skin
weights"), computed on the rest-pose surface from the vrgmi skeleton.

MakeHuman's own weights blend each elbow, knee and knuckle over a wide band, and linear
blend skinning then pinches the outside of a fully bent joint to a third of its
thickness; these handovers keep it round (tests/test_assets.py bends every joint to its
limit). Which finger or toe a vertex of the palm or sole follows comes from MakeHuman's
weights (its finger and toe bones), so the split between digits follows the mesh.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vrgmi.assets import limb_mesh as lm
from vrgmi.body.skeleton import FINGERS

DORSAL = np.array([1.0, 0.0, 0.0])      # right hand at rest: back of the hand faces +x
DOWN = (0.0, 0.0, -1.0)


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def finger_joints(finger: str) -> list[str]:
    """The joints of one digit of the hand, base to tip."""
    if finger == "thumb":
        return [f"thumb_{j}" for j in ("metacarpal", "proximal", "distal", "tip")]
    return [f"{finger}_{j}" for j in ("metacarpal", "proximal", "intermediate", "distal", "tip")]


#: finger radii (m) at MCP, PIP, DIP and at the fingertip cap (index, middle, ring, little):
#: the tubes that share the palm's skin between the rays
FINGER_RADII = {
    "index": (0.0097, 0.0088, 0.0077, 0.0067),
    "middle": (0.0099, 0.0091, 0.0079, 0.0069),
    "ring": (0.0093, 0.0085, 0.0074, 0.0065),
    "little": (0.0081, 0.0074, 0.0065, 0.0058),
}
THUMB_RADII = (0.0140, 0.0115, 0.0105, 0.0088)       # CMC, MCP, IP, tip cap
#: the thumb's back (nail) faces this way (perpendicular to its axis after projection)
THUMB_NAIL_HINT = np.array([-0.35, 1.0, 0.45])


@dataclass(frozen=True)
class Digit:
    """One finger or the thumb: joint chain, radii at the joints, its back's direction."""
    name: str
    points: tuple[np.ndarray, ...]     # base joint ... distal joint, cap centre
    radii: tuple[float, ...]
    dorsal: np.ndarray                 # unit, perpendicular to the distal segment
    scale: tuple[float, float]         # cross-section (thickness along dorsal, width)


def hand_digits(rig) -> list[Digit]:
    """Fingers from the MCP outward and the thumb from the CMC outward."""
    out = []
    for finger in FINGERS:
        names = finger_joints(finger)
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


def arm_weights(rig, digits: list[Digit], p: np.ndarray) -> np.ndarray:
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
        full = finger_joints(d.name)
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


def leg_weights(rig, first: np.ndarray, last: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Dense (N, joints) skin weights of the leg (``first``, ``last``: the big and the
    little toe's metatarsophalangeal joints); rows sum to 1."""
    K, A = rig["knee"], rig["ankle"]
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


