"""Mirroring across the body's sagittal plane, done in the torso frame.

A pose is expressed in torso-local coordinates (x = the body's right axis, origin on the
midline), mirrored there with ``p -> (-x, y, z)`` and ``q (x, y, z, w) -> (x, -y, -z, w)``,
and transformed back. In world terms a rotation R becomes ``M R M_x``: the reflection M
across the sagittal plane on the left, a flip of the local x axis on the right, so the
result is again a proper rotation. That maps a right limb pose, a right controller grip
(its +X still points to the user's right), right XR hand joints (local +X toward the little
finger becomes +X toward the thumb) and right rest-relative delta rotations (for which the
same quaternion formula gives ``M D M``) to the matching left ones, for any torso yaw.

Kernels are ``@njit(cache=True)``, read all inputs before writing, so ``out`` may be the
input itself, and allocate nothing.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from vrgmi.spatial import qmul_t, qrot_t
from vrgmi.body.skeleton import BodyModelError, side_index
from vrgmi.tracking.frame import TrackingFrame


@njit(cache=True)
def _mirror_pose_row(pose, torso, out):
    tx, ty, tz, tw = torso[3], torso[4], torso[5], torso[6]
    # to torso-local: conj(t) * (p - origin), conj(t) * q
    lx, ly, lz = qrot_t(-tx, -ty, -tz, tw,
                        pose[0] - torso[0], pose[1] - torso[1], pose[2] - torso[2])
    qx, qy, qz, qw = qmul_t(-tx, -ty, -tz, tw, pose[3], pose[4], pose[5], pose[6])
    # mirror, then back to world
    wx, wy, wz = qrot_t(tx, ty, tz, tw, -lx, ly, lz)
    rx, ry, rz, rw = qmul_t(tx, ty, tz, tw, qx, -qy, -qz, qw)
    out[0] = torso[0] + wx
    out[1] = torso[1] + wy
    out[2] = torso[2] + wz
    out[3] = rx
    out[4] = ry
    out[5] = rz
    out[6] = rw


@njit(cache=True)
def mirror_poses_kernel(poses, torso, out):
    """Mirror (N, 7) poses across the sagittal plane of ``torso`` (7,) into ``out``."""
    for i in range(poses.shape[0]):
        _mirror_pose_row(poses[i], torso, out[i])


@njit(cache=True)
def mirror_points_kernel(points, torso, out):
    """Mirror (N, 3) points across the sagittal plane of ``torso`` (7,) into ``out``."""
    tx, ty, tz, tw = torso[3], torso[4], torso[5], torso[6]
    # the right axis of the torso in world: a point moves by -2 (d . r) r
    rx, ry, rz = qrot_t(tx, ty, tz, tw, 1.0, 0.0, 0.0)
    for i in range(points.shape[0]):
        d = ((points[i, 0] - torso[0]) * rx + (points[i, 1] - torso[1]) * ry
             + (points[i, 2] - torso[2]) * rz)
        out[i, 0] = points[i, 0] - 2.0 * d * rx
        out[i, 1] = points[i, 1] - 2.0 * d * ry
        out[i, 2] = points[i, 2] - 2.0 * d * rz


@njit(cache=True)
def mirror_rotations_kernel(quats, torso, out):
    """Mirror (N, 4) world delta rotations (from the rest pose) into ``out``: M D M."""
    tx, ty, tz, tw = torso[3], torso[4], torso[5], torso[6]
    for i in range(quats.shape[0]):
        # local = conj(t) q t; mirror; world = t local conj(t)
        ax, ay, az, aw = qmul_t(-tx, -ty, -tz, tw, quats[i, 0], quats[i, 1], quats[i, 2],
                                quats[i, 3])
        ax, ay, az, aw = qmul_t(ax, ay, az, aw, tx, ty, tz, tw)
        ax, ay, az, aw = qmul_t(tx, ty, tz, tw, ax, -ay, -az, aw)
        ax, ay, az, aw = qmul_t(ax, ay, az, aw, -tx, -ty, -tz, tw)
        out[i, 0] = ax
        out[i, 1] = ay
        out[i, 2] = az
        out[i, 3] = aw


@njit(cache=True)
def keep_clear_kernel(intact_points, torso, phantom_side, clearance, target):
    """Keep the mirrored limb on its own side of the midline, clear of the intact limb.

    ``intact_points`` (N, 3) are the intact limb's joints, ``target`` (7,) the mirrored
    wrist / ankle target (shifted in place), ``phantom_side`` +1 when the phantom is on the
    torso's right, -1 on its left. With ``u`` the distance from the sagittal plane toward
    the phantom's side and ``m`` the intact limb's largest ``u``, the phantom (the mirror
    image) reaches in to ``u = -m``; it must stay at ``u >= clearance + max(m, 0)``: at the
    midline's clearance (a mirror box's glass), and ``clearance`` beyond an intact limb
    that itself crossed the midline. The target moves out sideways by what is missing
    (its orientation is kept). Returns the shift (m); 0 when ``clearance <= 0``.
    """
    if clearance <= 0.0:
        return 0.0
    tx, ty, tz, tw = torso[3], torso[4], torso[5], torso[6]
    rx, ry, rz = qrot_t(tx, ty, tz, tw, 1.0, 0.0, 0.0)
    rx *= phantom_side
    ry *= phantom_side
    rz *= phantom_side
    m = -np.inf
    for i in range(intact_points.shape[0]):
        u = ((intact_points[i, 0] - torso[0]) * rx + (intact_points[i, 1] - torso[1]) * ry
             + (intact_points[i, 2] - torso[2]) * rz)
        if u > m:
            m = u
    shift = clearance + m + max(m, 0.0)
    if not shift > 0.0:             # also False for NaN (no finite intact joint)
        return 0.0
    target[0] += shift * rx
    target[1] += shift * ry
    target[2] += shift * rz
    return shift


def _check(name: str, arr: np.ndarray, shape: tuple) -> None:
    if arr.ndim != len(shape) or any(s not in (-1, a) for s, a in zip(shape, arr.shape)):
        want = "(" + ", ".join("N" if s == -1 else str(s) for s in shape) + ")"
        raise BodyModelError(f"{name} must have shape {want}, got {arr.shape}")


def mirror_pose(pose: np.ndarray, torso_pose: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Mirror one pose (7,) across the sagittal plane of ``torso_pose``; returns ``out``."""
    _check("pose", pose, (7,))
    _mirror_pose_row(pose, torso_pose, out)
    return out


def mirror_poses(poses: np.ndarray, torso_pose: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Mirror (N, 7) poses; returns ``out``."""
    _check("poses", poses, (-1, 7))
    mirror_poses_kernel(poses, torso_pose, out)
    return out


def mirror_points(points: np.ndarray, torso_pose: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Mirror (N, 3) points; returns ``out``."""
    _check("points", points, (-1, 3))
    mirror_points_kernel(points, torso_pose, out)
    return out


def mirror_rotations(quats: np.ndarray, torso_pose: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Mirror (N, 4) world delta rotations from the rest pose; returns ``out``."""
    _check("quats", quats, (-1, 4))
    mirror_rotations_kernel(quats, torso_pose, out)
    return out


def mirror_hand_joints(joints: np.ndarray, torso_pose: np.ndarray,
                       out: np.ndarray) -> np.ndarray:
    """Mirror the 26 XR hand joint poses (26, 7) of one hand into the other's; same joint
    order, so right-hand joints become valid left-hand joints. Returns ``out``."""
    _check("joints", joints, (26, 7))
    mirror_poses_kernel(joints, torso_pose, out)
    return out


def mirror_hand_inputs(src: TrackingFrame, from_side: int | str, torso_pose: np.ndarray,
                       dst: TrackingFrame) -> None:
    """Write the mirror image of ``src``'s ``from_side`` hand (grip, aim, 26 joints, their
    validity) into the other side of ``dst``; trigger and squeeze values copy across.
    ``dst`` may be ``src``."""
    s = side_index(from_side)
    o = 1 - s
    _mirror_pose_row(src.grip[s], torso_pose, dst.grip[o])
    _mirror_pose_row(src.aim[s], torso_pose, dst.aim[o])
    mirror_poses_kernel(src.hand_joints[s], torso_pose, dst.hand_joints[o])
    dst.grip_valid[o] = src.grip_valid[s]
    dst.aim_valid[o] = src.aim_valid[s]
    dst.hand_valid[o] = src.hand_valid[s]
    dst.trigger[o] = src.trigger[s]
    dst.squeeze[o] = src.squeeze[s]
