"""Pose conventions and conversions (math core: NumPy/Numba only, no rendering imports).

One pose type everywhere: ``(7,) float64 = [px, py, pz, qx, qy, qz, qw]``, metres,
unit quaternion with the scalar last.

Spaces
------
* **Engine space** (everything inside vrgmi): right-handed, +X right, +Y forward,
  +Z up, metres.  It is the same axes as Panda3D, so the render layer needs no axis swap.
* **OpenXR stage space** (replays, the runtime): right-handed, +X right, +Y up,
  -Z forward.  ``engine = (x, -z, y)`` of stage, a proper rotation of +90 deg about X,
  so quaternion vector parts map the same way as positions.
* **Panda3D** ``LQuaternion`` stores ``(w, x, y, z)``: use :func:`to_panda_quat`.
"""
from __future__ import annotations

import numpy as np
from numba import njit

IDENTITY_POSE = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
IDENTITY_QUAT = np.array([0.0, 0.0, 0.0, 1.0])


def _stage_to_engine_vec(v: np.ndarray) -> np.ndarray:
    out = np.empty_like(v)
    out[..., 0] = v[..., 0]
    out[..., 1] = -v[..., 2]
    out[..., 2] = v[..., 1]
    return out


def _engine_to_stage_vec(v: np.ndarray) -> np.ndarray:
    out = np.empty_like(v)
    out[..., 0] = v[..., 0]
    out[..., 1] = v[..., 2]
    out[..., 2] = -v[..., 1]
    return out


def stage_to_engine_pose(pose: np.ndarray) -> np.ndarray:
    """Convert poses ``(..., 7)`` from OpenXR stage space to engine space."""
    pose = np.asarray(pose, dtype=np.float64)
    out = np.empty_like(pose)
    out[..., 0:3] = _stage_to_engine_vec(pose[..., 0:3])
    out[..., 3:6] = _stage_to_engine_vec(pose[..., 3:6])
    out[..., 6] = pose[..., 6]
    return out


def engine_to_stage_pose(pose: np.ndarray) -> np.ndarray:
    """Convert poses ``(..., 7)`` from engine space to OpenXR stage space."""
    pose = np.asarray(pose, dtype=np.float64)
    out = np.empty_like(pose)
    out[..., 0:3] = _engine_to_stage_vec(pose[..., 0:3])
    out[..., 3:6] = _engine_to_stage_vec(pose[..., 3:6])
    out[..., 6] = pose[..., 6]
    return out


def stage_to_engine_point(p: np.ndarray) -> np.ndarray:
    """Convert points ``(..., 3)`` from OpenXR stage space to engine space."""
    return _stage_to_engine_vec(np.asarray(p, dtype=np.float64))


def engine_to_stage_point(p: np.ndarray) -> np.ndarray:
    """Convert points ``(..., 3)`` from engine space to OpenXR stage space."""
    return _engine_to_stage_vec(np.asarray(p, dtype=np.float64))


def to_panda_quat(q: np.ndarray) -> tuple[float, float, float, float]:
    """Engine quaternion (x, y, z, w) -> Panda3D LQuaternion argument order (w, x, y, z)."""
    return (float(q[3]), float(q[0]), float(q[1]), float(q[2]))


def from_panda_quat(wxyz) -> np.ndarray:
    """Panda3D (w, x, y, z) -> engine quaternion (x, y, z, w)."""
    w, x, y, z = (float(c) for c in wxyz)
    return np.array([x, y, z, w])


# --- quaternion kernels (scalar-last), usable from NumPy code and from @njit code ---

@njit(cache=True, fastmath=False)
def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a*b (apply b first, then a)."""
    ax, ay, az, aw = a[0], a[1], a[2], a[3]
    bx, by, bz, bw = b[0], b[1], b[2], b[3]
    out = np.empty(4)
    out[0] = aw * bx + ax * bw + ay * bz - az * by
    out[1] = aw * by - ax * bz + ay * bw + az * bx
    out[2] = aw * bz + ax * by - ay * bx + az * bw
    out[3] = aw * bw - ax * bx - ay * by - az * bz
    return out


@njit(cache=True)
def quat_conj(q: np.ndarray) -> np.ndarray:
    """Conjugate (the inverse of a unit quaternion)."""
    return np.array([-q[0], -q[1], -q[2], q[3]])


@njit(cache=True)
def quat_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vector v (3,) by unit quaternion q."""
    qx, qy, qz, qw = q[0], q[1], q[2], q[3]
    tx = 2.0 * (qy * v[2] - qz * v[1])
    ty = 2.0 * (qz * v[0] - qx * v[2])
    tz = 2.0 * (qx * v[1] - qy * v[0])
    out = np.empty(3)
    out[0] = v[0] + qw * tx + (qy * tz - qz * ty)
    out[1] = v[1] + qw * ty + (qz * tx - qx * tz)
    out[2] = v[2] + qw * tz + (qx * ty - qy * tx)
    return out


@njit(cache=True)
def quat_normalize(q: np.ndarray) -> np.ndarray:
    """Unit quaternion with non-negative w (a canonical sign)."""
    n = np.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    if n < 1e-12:
        return np.array([0.0, 0.0, 0.0, 1.0])
    s = 1.0 / n if q[3] >= 0.0 else -1.0 / n
    return np.array([q[0] * s, q[1] * s, q[2] * s, q[3] * s])


@njit(cache=True)
def quat_from_axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    """Quaternion for a right-handed rotation of ``angle`` radians about ``axis``."""
    n = np.sqrt(axis[0] ** 2 + axis[1] ** 2 + axis[2] ** 2)
    if n < 1e-12:
        return np.array([0.0, 0.0, 0.0, 1.0])
    s = np.sin(0.5 * angle) / n
    return np.array([axis[0] * s, axis[1] * s, axis[2] * s, np.cos(0.5 * angle)])


@njit(cache=True)
def quat_slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Shortest-path spherical interpolation from a (t=0) to b (t=1)."""
    d = a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3]
    bb = b.copy()
    if d < 0.0:
        d = -d
        bb = -bb
    if d > 0.9995:
        out = a + t * (bb - a)
        return out / np.sqrt(np.sum(out * out))
    th = np.arccos(d)
    s = np.sin(th)
    return (np.sin((1.0 - t) * th) / s) * a + (np.sin(t * th) / s) * bb


@njit(cache=True)
def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """3x3 rotation matrix (column vectors are the rotated basis axes)."""
    x, y, z, w = q[0], q[1], q[2], q[3]
    m = np.empty((3, 3))
    m[0, 0] = 1 - 2 * (y * y + z * z)
    m[0, 1] = 2 * (x * y - z * w)
    m[0, 2] = 2 * (x * z + y * w)
    m[1, 0] = 2 * (x * y + z * w)
    m[1, 1] = 1 - 2 * (x * x + z * z)
    m[1, 2] = 2 * (y * z - x * w)
    m[2, 0] = 2 * (x * z - y * w)
    m[2, 1] = 2 * (y * z + x * w)
    m[2, 2] = 1 - 2 * (x * x + y * y)
    return m


@njit(cache=True)
def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """Unit quaternion (w >= 0) from a 3x3 rotation matrix (Shepperd's method)."""
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    q = np.empty(4)
    if tr > 0.0:
        s = np.sqrt(tr + 1.0) * 2.0
        q[3] = 0.25 * s
        q[0] = (m[2, 1] - m[1, 2]) / s
        q[1] = (m[0, 2] - m[2, 0]) / s
        q[2] = (m[1, 0] - m[0, 1]) / s
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2.0
        q[3] = (m[2, 1] - m[1, 2]) / s
        q[0] = 0.25 * s
        q[1] = (m[0, 1] + m[1, 0]) / s
        q[2] = (m[0, 2] + m[2, 0]) / s
    elif m[1, 1] > m[2, 2]:
        s = np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2.0
        q[3] = (m[0, 2] - m[2, 0]) / s
        q[0] = (m[0, 1] + m[1, 0]) / s
        q[1] = 0.25 * s
        q[2] = (m[1, 2] + m[2, 1]) / s
    else:
        s = np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2.0
        q[3] = (m[1, 0] - m[0, 1]) / s
        q[0] = (m[0, 2] + m[2, 0]) / s
        q[1] = (m[1, 2] + m[2, 1]) / s
        q[2] = 0.25 * s
    return quat_normalize(q)


def quats_to_matrices(q: np.ndarray) -> np.ndarray:
    """Vectorised quat_to_matrix for ``(..., 4)`` arrays (not for the hot path)."""
    q = np.asarray(q, dtype=np.float64)
    x, y, z, w = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    m = np.empty(q.shape[:-1] + (3, 3))
    m[..., 0, 0] = 1 - 2 * (y * y + z * z)
    m[..., 0, 1] = 2 * (x * y - z * w)
    m[..., 0, 2] = 2 * (x * z + y * w)
    m[..., 1, 0] = 2 * (x * y + z * w)
    m[..., 1, 1] = 1 - 2 * (x * x + z * z)
    m[..., 1, 2] = 2 * (y * z - x * w)
    m[..., 2, 0] = 2 * (x * z - y * w)
    m[..., 2, 1] = 2 * (y * z + x * w)
    m[..., 2, 2] = 1 - 2 * (x * x + y * y)
    return m


# --- allocation-free quaternion kernels on scalars (tuples live on the stack) ---


@njit(cache=True, inline="always")
def qmul_t(ax, ay, az, aw, bx, by, bz, bw):
    """Hamilton product a*b of two scalar-last quaternions given as scalars -> 4-tuple."""
    return (aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz)


@njit(cache=True, inline="always")
def qrot_t(qx, qy, qz, qw, vx, vy, vz):
    """Rotate vector v by unit quaternion q (scalars) -> 3-tuple."""
    tx = 2.0 * (qy * vz - qz * vy)
    ty = 2.0 * (qz * vx - qx * vz)
    tz = 2.0 * (qx * vy - qy * vx)
    return (vx + qw * tx + (qy * tz - qz * ty),
            vy + qw * ty + (qz * tx - qx * tz),
            vz + qw * tz + (qx * ty - qy * tx))


@njit(cache=True, inline="always")
def qslerp_t(ax, ay, az, aw, bx, by, bz, bw, t):
    """Shortest-path slerp a -> b of scalar quaternions (t in 0..1) -> unit 4-tuple."""
    d = ax * bx + ay * by + az * bz + aw * bw
    if d < 0.0:
        d, bx, by, bz, bw = -d, -bx, -by, -bz, -bw
    if d > 0.9995:
        wa, wb = 1.0 - t, t
    else:
        th = np.arccos(d)
        s = np.sin(th)
        wa, wb = np.sin((1.0 - t) * th) / s, np.sin(t * th) / s
    x, y, z, w = wa * ax + wb * bx, wa * ay + wb * by, wa * az + wb * bz, wa * aw + wb * bw
    n = 1.0 / np.sqrt(x * x + y * y + z * z + w * w)
    return x * n, y * n, z * n, w * n
