"""Mirroring across the torso's sagittal plane: property tests for any torso yaw."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vrgmi.body.hand import (
    LEFT_REST_WRIST_QUAT, REST_WRIST_QUAT, hand_joints_from_curl, wrist_from_grip,
)
from vrgmi.body.mirror import (
    mirror_hand_inputs, mirror_hand_joints, mirror_points, mirror_pose, mirror_poses,
    mirror_rotations,
)
from vrgmi.body.skeleton import BodyModelError
from vrgmi.spatial import quat_mul, quat_rotate
from vrgmi.tracking.frame import HAND_JOINT_NAMES, TrackingFrame

J = {n: i for i, n in enumerate(HAND_JOINT_NAMES)}
unit = st.floats(-1.0, 1.0)
quats = st.tuples(unit, unit, unit, unit).filter(lambda q: np.linalg.norm(q) > 0.2).map(
    lambda q: np.array(q) / np.linalg.norm(q))
coord = st.floats(-3.0, 3.0)
points = st.tuples(coord, coord, coord).map(np.array)
poses = st.tuples(points, quats).map(np.concatenate)
yaws = st.floats(-np.pi, np.pi)


def torso(yaw: float, origin=(0.4, -1.3, 1.1)) -> np.ndarray:
    return np.array([*origin, 0.0, 0.0, np.sin(0.5 * yaw), np.cos(0.5 * yaw)])


def right_axis(t: np.ndarray) -> np.ndarray:
    return quat_rotate(np.ascontiguousarray(t[3:]), np.array([1.0, 0.0, 0.0]))


def rot(q: np.ndarray, v) -> np.ndarray:
    return quat_rotate(np.ascontiguousarray(q), np.asarray(v, float))


def same_rotation(a: np.ndarray, b: np.ndarray) -> bool:
    return abs(abs(a @ b) - 1.0) < 1e-9


@settings(max_examples=100, deadline=None)
@given(poses, yaws)
def test_mirroring_twice_is_the_identity(p, yaw):
    t = torso(yaw)
    once = mirror_pose(p, t, np.zeros(7))
    twice = mirror_pose(once, t, np.zeros(7))
    np.testing.assert_allclose(twice[:3], p[:3], atol=1e-9)
    assert same_rotation(twice[3:], p[3:])
    q = p[3:].reshape(1, 4)
    back = mirror_rotations(mirror_rotations(q, t, np.zeros((1, 4))), t, np.zeros((1, 4)))
    assert same_rotation(back[0], q[0])


@settings(max_examples=100, deadline=None)
@given(st.lists(points, min_size=3, max_size=3), yaws)
def test_distances_are_kept_and_handedness_flips(pts, yaw):
    pts = np.array(pts)
    t = torso(yaw)
    m = mirror_points(pts, t, np.zeros((3, 3)))
    for i, j in ((0, 1), (1, 2), (0, 2)):
        assert np.linalg.norm(m[i] - m[j]) == pytest.approx(np.linalg.norm(pts[i] - pts[j]),
                                                           abs=1e-9)
    origin = t[:3]
    volume = np.linalg.det(pts - origin)
    assert np.linalg.det(m - origin) == pytest.approx(-volume, abs=1e-8)
    # points reflect through the sagittal plane: the midpoint lies on it
    n = right_axis(t)
    np.testing.assert_allclose((0.5 * (m + pts) - origin) @ n, 0.0, atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(poses, yaws)
def test_pose_positions_match_point_mirroring_and_frames_stay_proper(p, yaw):
    t = torso(yaw)
    m = mirror_pose(p, t, np.zeros(7))
    np.testing.assert_allclose(m[:3], mirror_points(p[None, :3], t, np.zeros((1, 3)))[0],
                               atol=1e-9)
    assert np.linalg.norm(m[3:]) == pytest.approx(1.0)
    # local y and z axes are mirrored, local x is mirrored then flipped
    n = right_axis(t)
    for v, sign in (([1, 0, 0], 1.0), ([0, 1, 0], -1.0), ([0, 0, 1], -1.0)):
        assert rot(m[3:], v) @ n == pytest.approx(sign * (rot(p[3:], v) @ n), abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(poses, yaws)
def test_a_mirrored_right_grip_is_a_valid_left_grip(grip, yaw):
    t = torso(yaw)
    left = mirror_pose(grip, t, np.zeros(7))
    n = right_axis(t)
    # +X keeps pointing to the user's right; the handle (+Y) and +Z mirror
    assert rot(left[3:], [1, 0, 0]) @ n == pytest.approx(rot(grip[3:], [1, 0, 0]) @ n)
    # and the wrist the left grip holds is the mirror of the right wrist
    w_right = wrist_from_grip(grip, "right", np.zeros(7))
    w_left = wrist_from_grip(left, "left", np.zeros(7))
    expected = mirror_pose(w_right, t, np.zeros(7))
    np.testing.assert_allclose(w_left[:3], expected[:3], atol=1e-9)
    assert same_rotation(w_left[3:], expected[3:])


@settings(max_examples=50, deadline=None)
@given(yaws, quats)
def test_rest_and_delta_rotations_mirror_consistently(yaw, delta):
    t = torso(yaw)
    spin = t[3:]
    right_rest = quat_mul(spin, REST_WRIST_QUAT)
    left_rest = quat_mul(spin, LEFT_REST_WRIST_QUAT)
    assert same_rotation(mirror_pose(np.r_[t[:3], right_rest], t, np.zeros(7))[3:], left_rest)
    # rest-relative deltas: mirror(D) applied to the left rest = mirror(D applied to right rest)
    d_world = quat_mul(quat_mul(spin, delta), np.array([-spin[0], -spin[1], -spin[2], spin[3]]))
    d_left = mirror_rotations(d_world[None], t, np.zeros((1, 4)))[0]
    posed = mirror_pose(np.r_[t[:3], quat_mul(d_world, right_rest)], t, np.zeros(7))
    assert same_rotation(quat_mul(d_left, left_rest), posed[3:])


@settings(max_examples=30, deadline=None)
@given(yaws, st.lists(st.floats(0, 1), min_size=5, max_size=5), st.floats(0, 1))
def test_mirrored_right_hand_joints_are_a_left_hand(yaw, curls, pinch):
    t = torso(yaw)
    spin = t[3:]
    wrist = np.r_[t[:3] + rot(spin, [0.2, 0.0, -0.5]), quat_mul(spin, REST_WRIST_QUAT)]
    right = hand_joints_from_curl(wrist, 0.19, np.array(curls), np.zeros((26, 7)), pinch)
    left = mirror_hand_joints(right, t, np.zeros((26, 7)))
    n = right_axis(t)
    fwd = rot(spin, [0, 1, 0])
    # a left hand hanging at the left side: thumb still forward, back of hand to the left
    assert (left[:, :3] - t[:3]) @ n == pytest.approx(-((right[:, :3] - t[:3]) @ n))
    assert (left[J["thumb_tip"], :3] - left[J["little_tip"], :3]) @ fwd > 0.04
    assert rot(left[J["wrist"], 3:], [0, 0, 1]) @ n == pytest.approx(-1.0)   # dorsum: left
    # local +Y still runs distally along each bone
    for a, b in ((J["index_proximal"], J["index_intermediate"]),
                 (J["thumb_proximal"], J["thumb_distal"])):
        d = left[b, :3] - left[a, :3]
        np.testing.assert_allclose(rot(left[a, 3:], [0, 1, 0]), d / np.linalg.norm(d),
                                   atol=1e-9)
    # XR left hand: local +X = Y x Z points toward the thumb (radial)
    radial = left[J["index_metacarpal"], :3] - left[J["little_metacarpal"], :3]
    assert rot(left[J["middle_metacarpal"], 3:], [1, 0, 0]) @ radial > 0


def test_hand_inputs_mirror_into_the_other_side_in_place():
    f = TrackingFrame()
    f.grip[1] = [0.3, 0.4, 0.9, 0.0, 0.0, 0.0, 1.0]
    f.aim[1] = [0.3, 0.5, 0.9, 0.0, 0.0, 0.0, 1.0]
    f.hand_joints[1, :, 0] = 0.25
    f.grip_valid[1] = f.aim_valid[1] = f.hand_valid[1] = True
    f.trigger[1], f.squeeze[1] = 0.7, 0.2
    mirror_hand_inputs(f, "right", torso(0.0, (0.0, 0.0, 1.0)), f)
    np.testing.assert_allclose(f.grip[0], [-0.3, 0.4, 0.9, 0.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(f.hand_joints[0, :, 0], -0.25)
    assert f.grip_valid[0] and f.aim_valid[0] and f.hand_valid[0]
    assert (f.trigger[0], f.squeeze[0]) == (0.7, 0.2)
    np.testing.assert_allclose(f.grip[1, :3], [0.3, 0.4, 0.9])     # source untouched


def test_shapes_are_checked_with_one_line():
    with pytest.raises(BodyModelError, match=r"^joints must have shape \(26, 7\), got \(5, 7\)$"):
        mirror_hand_joints(np.zeros((5, 7)), torso(0.0), np.zeros((5, 7)))
    with pytest.raises(BodyModelError, match=r"points must have shape \(N, 3\)"):
        mirror_points(np.zeros(3), torso(0.0), np.zeros(3))
    with pytest.raises(BodyModelError, match=r"poses must have shape \(N, 7\)"):
        mirror_poses(np.zeros((2, 6)), torso(0.0), np.zeros((2, 6)))
