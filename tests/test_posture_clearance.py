"""No posture tangles the fingers: every named hand posture, posed by the arm solver's
forward kinematics as the laterality pictures and the imagery scene pose it, keeps every two
finger segments of different fingers at least their two radii apart (capsules that may
touch, never interpenetrate). The radii are measured on the limb model the pictures show.
A rotation or a view turns the hand rigidly, and a left hand is the mirrored right one, so
the posture's own geometry decides every picture of it."""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from vrgmi.assets.gltf_writer import read_skinned_mesh
from vrgmi.body.anthropometry import SegmentLengths
from vrgmi.body.postures import HAND_POSTURES, hand_posture
from vrgmi.ik.limits import ARM_DOF_NAMES
from vrgmi.ik.solver import ArmSolver

MODEL = Path(__file__).resolve().parent.parent / "models" / "limbs" / "arm_right.glb"
FINGERS = ("thumb", "index", "middle", "ring", "little")


def _chain(finger: str) -> list[str]:
    bones = (("metacarpal", "proximal", "distal", "tip") if finger == "thumb"
             else ("proximal", "intermediate", "distal", "tip"))
    return [f"{finger}_{b}" for b in bones]


#: the finger segments: (finger, base joint, end joint); the thumb's metacarpal is one, the
#: other metacarpals lie inside the palm
SEGMENTS = [(f, a, b) for f in FINGERS for a, b in zip(_chain(f)[:-1], _chain(f)[1:])]


def segment_distance(p1, q1, p2, q2) -> float:
    """Shortest distance between segments p1q1 and p2q2 (clamped closest points)."""
    d1, d2, r = q1 - p1, q2 - p2, p1 - p2
    a, e, f = d1 @ d1, d2 @ d2, d2 @ r
    c, b = d1 @ r, d1 @ d2
    denom = a * e - b * b
    s = np.clip((b * f - c * e) / denom, 0.0, 1.0) if denom > 1e-12 else 0.0
    t = (b * s + f) / e
    if t < 0.0:
        t, s = 0.0, np.clip(-c / a, 0.0, 1.0)
    elif t > 1.0:
        t, s = 1.0, np.clip((b - c) / a, 0.0, 1.0)
    return float(np.linalg.norm(p1 + s * d1 - (p2 + t * d2)))


@pytest.fixture(scope="module")
def radii() -> dict[str, float]:
    """Per finger segment (by its base joint): the model's radius per metre of hand length,
    the median distance from the bone axis of the vertices that bone moves most, over the
    segment's middle half."""
    mesh = read_skinned_mesh(MODEL.read_bytes())
    joint = {n: i for i, n in enumerate(mesh.joint_names)}
    at = mesh.joint_positions
    owner = mesh.joints[np.arange(len(mesh.joints)), np.argmax(mesh.weights, axis=1)]
    hand = np.linalg.norm(at[joint["middle_tip"]] - at[joint["wrist"]])
    out = {}
    for _, a, b in SEGMENTS:
        start, axis = at[joint[a]], at[joint[b]] - at[joint[a]]
        points = mesh.positions[owner == joint[a]]
        t = (points - start) @ axis / (axis @ axis)
        middle = (t > 0.25) & (t < 0.75)
        assert middle.sum() >= 20, a
        off = points[middle] - start - t[middle, None] * axis
        out[a] = float(np.median(np.linalg.norm(off, axis=1)) / hand)
    return out


def clearances(angles: np.ndarray, side: int, radii: dict[str, float]) -> dict:
    """(segment, segment) -> distance minus the two radii (m), for segments of different
    fingers of the hand posed by ``angles``."""
    lengths = SegmentLengths.from_height(1.75)
    arm = ArmSolver(lengths.upper_arm, lengths.forearm, lengths.hand)
    arm.forward(angles, side)
    at = {n: arm.positions[i] for i, n in enumerate(arm.joint_names)}
    out = {}
    for (f1, a1, b1), (f2, a2, b2) in itertools.combinations(SEGMENTS, 2):
        if f1 != f2:
            d = segment_distance(at[a1], at[b1], at[a2], at[b2])
            out[(a1, a2)] = d - (radii[a1] + radii[a2]) * lengths.hand
    return out


def test_segment_distance():
    o, x, y = np.zeros(3), np.array([1.0, 0, 0]), np.array([0, 1.0, 0])
    assert segment_distance(o, x, o + [0, 0, 2.0], x + [0, 0, 2.0]) == pytest.approx(2.0)
    assert segment_distance(o, x, y * 0.5 + [0.5, 0, 1.0], -y * 0.5 + [0.5, 0, 1.0]) \
        == pytest.approx(1.0)
    assert segment_distance(o, x, x * 3.0, x * 4.0) == pytest.approx(2.0)


@pytest.mark.parametrize("side", [0, 1])
@pytest.mark.parametrize("posture", HAND_POSTURES)
def test_no_two_finger_segments_come_closer_than_their_radii(posture, side, radii):
    gaps = clearances(hand_posture(posture), side, radii)
    worst = min(gaps, key=gaps.get)
    print(f"{posture} ({'left' if side == 0 else 'right'}): tightest {worst} "
          f"{gaps[worst] * 1000:+.1f} mm")
    assert gaps[worst] >= 0.0, f"{posture}: {worst} overlap by {-gaps[worst] * 1000:.1f} mm"


def test_the_check_finds_fingers_that_pass_through_each_other(radii):
    """A tip-to-tip pinch (the thumb's tip on the index's, as the postures had it) puts the
    two fingertips inside each other."""
    angles = np.array(hand_posture("pinch"))
    for dof, deg in {"thumb_cmc_flexion": 10.0, "thumb_cmc_abduction": -10.0,
                     "thumb_mcp_flexion": 35.0, "thumb_ip_flexion": 5.0}.items():
        angles[ARM_DOF_NAMES.index(dof)] = np.radians(deg)
    gaps = clearances(angles, 1, radii)
    assert gaps[("thumb_distal", "index_distal")] < -0.005
