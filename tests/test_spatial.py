"""Pose conventions: OpenXR stage <-> engine <-> Panda3D conversions and round trips."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from panda3d.core import LQuaternion, LVector3

from vrgmi.spatial import (
    engine_to_stage_point, engine_to_stage_pose, from_panda_quat, matrix_to_quat,
    quat_from_axis_angle, quat_mul, quat_rotate, quat_to_matrix, stage_to_engine_point,
    stage_to_engine_pose, to_panda_quat,
)

finite = st.floats(-10, 10, allow_nan=False)


def _unit(q):
    q = np.asarray(q, dtype=float)
    return q / np.linalg.norm(q)


def _pose(draw_vals):
    p = np.array(draw_vals[:3])
    q = _unit(draw_vals[3:])
    return np.concatenate([p, q])


pose_values = st.lists(finite, min_size=7, max_size=7).filter(
    lambda v: np.linalg.norm(v[3:]) > 1e-3)


def test_axes_map_as_documented():
    # OpenXR: +Y up, -Z forward, +X right. Engine: +Z up, +Y forward, +X right.
    assert np.allclose(stage_to_engine_point([0, 1, 0]), [0, 0, 1])     # up
    assert np.allclose(stage_to_engine_point([0, 0, -1]), [0, 1, 0])    # forward
    assert np.allclose(stage_to_engine_point([1, 0, 0]), [1, 0, 0])     # right
    p = np.array([0.3, -1.2, 2.5])
    assert np.allclose(engine_to_stage_point(stage_to_engine_point(p)), p)  # round trip


@settings(max_examples=200, deadline=None)
@given(pose_values)
def test_stage_engine_round_trip(vals):
    pose = _pose(vals)
    assert np.allclose(engine_to_stage_pose(stage_to_engine_pose(pose)), pose, atol=1e-12)
    assert np.allclose(stage_to_engine_pose(engine_to_stage_pose(pose)), pose, atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(pose_values, st.lists(finite, min_size=3, max_size=3))
def test_conversion_commutes_with_transforming_points(vals, local):
    """A point expressed in a pose's frame lands in the same place in either space."""
    pose, local = _pose(vals), np.array(local)
    world_stage = pose[:3] + quat_rotate(pose[3:], local)
    e = stage_to_engine_pose(pose)
    world_engine = e[:3] + quat_rotate(e[3:], stage_to_engine_point(local))
    assert np.allclose(stage_to_engine_point(world_stage), world_engine, atol=1e-9)


@settings(max_examples=200, deadline=None)
@given(pose_values, st.lists(finite, min_size=3, max_size=3))
def test_panda_quaternion_order_and_round_trip(vals, v):
    q = _pose(vals)[3:]
    pq = LQuaternion(*to_panda_quat(q))
    assert np.allclose(from_panda_quat((pq.get_r(), pq.get_i(), pq.get_j(), pq.get_k())), q)
    # Panda rotates vectors the same way as the engine's kernel
    rotated = pq.xform(LVector3(*v))
    assert np.allclose(list(rotated), quat_rotate(q, np.array(v)), atol=1e-4)


def test_quaternion_kernels_agree_with_matrices():
    rng = np.random.default_rng(3)
    for _ in range(100):
        a, b = _unit(rng.normal(size=4)), _unit(rng.normal(size=4))
        v = rng.normal(size=3)
        assert np.allclose(quat_to_matrix(quat_mul(a, b)), quat_to_matrix(a) @ quat_to_matrix(b))
        assert np.allclose(quat_to_matrix(a) @ v, quat_rotate(a, v))
        m = quat_to_matrix(a)
        assert np.allclose(quat_to_matrix(matrix_to_quat(m)), m)
    half_turn = quat_from_axis_angle(np.array([0.0, 0.0, 2.0]), np.pi / 2)
    assert np.allclose(quat_rotate(half_turn, np.array([1.0, 0, 0])), [0, 1, 0])
