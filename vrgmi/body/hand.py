"""Hand forward kinematics from curl values, and the controller grip <-> wrist transform.

Joint orientations follow the XR_EXT_hand_tracking convention carried into engine space the
way :func:`vrgmi.spatial.stage_to_engine_pose` carries every OpenXR pose: the spec's joint
axes (-Z distal along the bone, +Y out of the back of the hand / the nail, +X = Y x Z) are
stage-local, and the conversion relabels local axes as it relabels world axes
(``engine = (x, -z, y)``). In an engine-space pose, therefore, local **+Y points distally**
along the bone, local **+Z out of the dorsum**, local +X = Y x Z (toward the little finger
on a right hand, toward the thumb on a left hand). ``engine_to_stage_pose`` gives back the
spec's axes exactly.

The OpenXR grip pose (spec: -Z through the tube of the closed non-thumb fingers from the
little finger to the thumb, +X normal to the palm and to the user's right for both hands)
reads, in engine space: local +Y from the little finger to the thumb, +X to the user's
right (out of the back of the right hand, out of the palm of the left), +Z = X x Y (toward
the wrist). In the rest pose (arm hanging, thumb forward) both grips are the identity.

Everything here is a RIGHT hand; a left hand is the mirror image (``vrgmi.body.mirror``).
The kernels are ``@njit(cache=True)`` and write into caller-provided arrays, allocating
nothing per call.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from vrgmi.body.skeleton import FINGERS, BodyModelError, rest_hand_positions, side_index
from vrgmi.spatial import matrix_to_quat, qmul_t, qrot_t, qslerp_t
from vrgmi.tracking.frame import HAND_JOINT_COUNT, HAND_JOINT_NAMES

# --- rest geometry, in the wrist joint's local frame, per metre of hand length ---

_J = {n: i for i, n in enumerate(HAND_JOINT_NAMES)}
#: joint indices of each finger's chain, base to tip (the thumb has 4 joints, padded with -1)
_CHAINS = np.array([[_J[n] for n in HAND_JOINT_NAMES if n.startswith(f)] + [-1] * (f == "thumb")
                    for f in FINGERS], dtype=np.int64)

#: RIGHT wrist joint axes in the rest pose (torso facing +y), columns = local X, Y, Z:
#: X toward the little finger (-y), Y distal (-z), Z dorsal (+x)
_REST_WRIST_M = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


#: engine-space orientation of the RIGHT wrist joint in the rest pose, torso facing +y
REST_WRIST_QUAT = matrix_to_quat(_REST_WRIST_M)
#: the LEFT wrist joint in the rest pose (the mirror image), torso facing +y
LEFT_REST_WRIST_QUAT = REST_WRIST_QUAT * np.array([1.0, -1.0, -1.0, 1.0])

#: thumb nail normal at rest (torso axes): the relaxed thumb is pronated ~90 deg relative
#: to the fingers, its nail facing forward-lateral
_THUMB_NAIL_REST = np.array([1.0, 1.0, 0.0])


def _rest_model() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit-hand-length rest positions (26,3) and orientations (26,4) in the wrist frame,
    and the bone lengths (5,4) per metre of hand length."""
    pos_torso = rest_hand_positions(0.2) / 0.2
    pos = pos_torso @ _REST_WRIST_M            # rows: R^T p
    quat = np.zeros((HAND_JOINT_COUNT, 4))
    quat[:, 3] = 1.0
    bones = np.zeros((5, 4))
    for f in range(5):
        chain = [j for j in _CHAINS[f] if j >= 0]
        d = pos_torso[chain[1]] - pos_torso[chain[0]]
        d /= np.linalg.norm(d)
        up = _THUMB_NAIL_REST if f == 0 else np.array([1.0, 0.0, 0.0])
        z = up - d * (up @ d)
        z /= np.linalg.norm(z)
        m_torso = np.column_stack([np.cross(d, z), d, z])
        q = matrix_to_quat(np.ascontiguousarray(_REST_WRIST_M.T @ m_torso))
        for j in chain:
            quat[j] = q
        for k in range(len(chain) - 1):
            bones[f, k] = np.linalg.norm(pos_torso[chain[k + 1]] - pos_torso[chain[k]])
    quat[_J["palm"]] = quat[_J["middle_metacarpal"]]
    return pos, quat, bones


_REST_POS, _REST_QUAT, _BONES = _rest_model()

_D = np.pi / 180.0
#: finger angles of a natural fist (curl 1), degrees -> radians, per finger [CMC flexion,
#: CMC roll, MCP, PIP, DIP]: MCP ~85, PIP ~100, DIP ~70 deg (the thumb row is solved below)
FIST_ANGLES = np.array([
    [0.0, 0.0, 0.0, 0.0, 0.0],
    [0.0, 0.0, 85.0, 100.0, 70.0],
    [0.0, 0.0, 85.0, 100.0, 70.0],
    [0.0, 0.0, 85.0, 100.0, 70.0],
    [0.0, 0.0, 85.0, 100.0, 70.0],
]) * _D
#: thumb templates [CMC flexion, CMC roll (pronation), MCP, IP, -]: the MCP/IP pair is scaled
#: and a swing at the CMC added (solved once, at import) so the tip lands on its target
_FIST_THUMB_TEMPLATE = np.array([20.0, -60.0, 50.0, 60.0, 0.0]) * _D
_PINCH_THUMB_TEMPLATE = np.array([10.0, -60.0, 20.0, 30.0, 0.0]) * _D
#: index angles of the tip-to-tip pinch ("O" shape)
PINCH_INDEX_ANGLES = np.array([0.0, 0.0, 50.0, 65.0, 30.0]) * _D
#: the open hand's relaxed thumb: tip beside the index, near the plane of the palm (the rest
#: thumb ray hangs 6.4 cm palmar of it), per metre of hand length in the wrist frame; where
#: the arm solver's open hand (vrgmi.ik.solver.OPEN_DEG) puts it (tests/test_thumb_rest.py)
_OPEN_THUMB_TIP = np.array([-0.437, 0.577, -0.121])
_OPEN_THUMB_TEMPLATE = np.array([0.0, 0.0, 0.0, 5.0, 0.0]) * _D
#: in the fist the thumb tip rests on the middle phalanges of the index and middle fingers,
#: this far (per metre of hand length) palmar of their axes (two finger radii)
_FIST_THUMB_CLEARANCE = 0.10




@njit(cache=True)
def _finger_chain(f, a_open, a_curl, curl, a_pinch, p, sx, sy, sz, sw, wp, wq, scale, out):
    """Pose finger ``f`` with angles ``(1 - p) * (a_open + curl * (a_curl - a_open)) + p *
    a_pinch`` ((5,) each: CMC flexion, CMC roll, MCP, PIP, DIP) and a swing quaternion
    (sx..sw) about its base joint; writes world joint poses into ``out`` for the wrist pose
    ``wp`` (3,) / ``wq`` (4,) and a hand length ``scale`` (metres)."""
    j0 = _CHAINS[f, 0]
    px, py, pz = _REST_POS[j0, 0], _REST_POS[j0, 1], _REST_POS[j0, 2]
    r = _REST_QUAT[j0]
    qx, qy, qz, qw = qmul_t(sx, sy, sz, sw, r[0], r[1], r[2], r[3])
    # CMC roll about the bone axis (local +Y), then flexion about local -X at each joint
    h = 0.5 * ((1.0 - p) * (a_open[1] + curl * (a_curl[1] - a_open[1])) + p * a_pinch[1])
    qx, qy, qz, qw = qmul_t(qx, qy, qz, qw, 0.0, np.sin(h), 0.0, np.cos(h))
    n = 4 if f == 0 else 5
    for k in range(n):
        j = _CHAINS[f, k]
        if k < n - 1:
            i = 0 if k == 0 else k + 1
            h = -0.5 * ((1.0 - p) * (a_open[i] + curl * (a_curl[i] - a_open[i]))
                        + p * a_pinch[i])
            qx, qy, qz, qw = qmul_t(qx, qy, qz, qw, np.sin(h), 0.0, 0.0, np.cos(h))
        wx, wy, wz = qrot_t(wq[0], wq[1], wq[2], wq[3], px * scale, py * scale, pz * scale)
        out[j, 0] = wp[0] + wx
        out[j, 1] = wp[1] + wy
        out[j, 2] = wp[2] + wz
        ox, oy, oz, ow = qmul_t(wq[0], wq[1], wq[2], wq[3], qx, qy, qz, qw)
        out[j, 3] = ox
        out[j, 4] = oy
        out[j, 5] = oz
        out[j, 6] = ow
        if k < n - 1:
            bx, by, bz = qrot_t(qx, qy, qz, qw, 0.0, _BONES[f, k], 0.0)
            px += bx
            py += by
            pz += bz


_ZERO5 = np.zeros(5)
_ORIGIN = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])


def _unit_hand(f: int, angles: np.ndarray, swing=(0.0, 0.0, 0.0, 1.0)) -> np.ndarray:
    """Joint poses (26, 7) of finger ``f`` posed by ``angles`` in the unit-length wrist frame
    (import-time helper)."""
    buf = np.zeros((HAND_JOINT_COUNT, 7))
    _finger_chain(f, _ZERO5, _ZERO5, 0.0, angles, 1.0, *swing, _ORIGIN[:3], _ORIGIN[3:], 1.0,
                  buf)
    return buf


def _solve_thumb(target: np.ndarray, template: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Thumb angles (5,) and CMC swing (4,) putting the thumb tip on ``target`` (unit-length
    wrist frame): the MCP/IP flexion of ``template`` is scaled until the CMC-to-tip distance
    matches, then the chain is swung about the CMC onto the target."""
    base = _REST_POS[_J["thumb_metacarpal"]]
    want = np.linalg.norm(target - base)
    angles = template.copy()

    def reach(s: float) -> np.ndarray:
        angles[2:4] = s * template[2:4]
        return _unit_hand(0, angles)[_J["thumb_tip"], :3] - base

    lo, hi = 0.0, 2.0                          # more flexion, shorter reach
    if not np.linalg.norm(reach(hi)) < want < np.linalg.norm(reach(lo)):
        raise RuntimeError("thumb template cannot reach its target")  # a constants bug
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if np.linalg.norm(reach(mid)) > want else (lo, mid)
    have = reach(0.5 * (lo + hi))
    have /= np.linalg.norm(have)
    goal = (target - base) / want
    c = np.cross(have, goal)
    swing = np.array([c[0], c[1], c[2], 1.0 + have @ goal])
    return angles.copy(), swing / np.linalg.norm(swing)


def _fist_thumb_target() -> np.ndarray:
    fist = np.zeros((HAND_JOINT_COUNT, 7))
    for f in (1, 2):
        fist += _unit_hand(f, FIST_ANGLES[f])
    mid = 0.25 * (fist[_J["index_intermediate"], :3] + fist[_J["index_distal"], :3]
                  + fist[_J["middle_intermediate"], :3] + fist[_J["middle_distal"], :3])
    return mid - np.array([0.0, 0.0, _FIST_THUMB_CLEARANCE])     # wrist-local -Z: palmar


FIST_ANGLES[0], _FIST_SWING = _solve_thumb(_fist_thumb_target(), _FIST_THUMB_TEMPLATE)
#: thumb angles of the open hand (solved: the tip on the relaxed thumb's place)
OPEN_THUMB_ANGLES, _OPEN_SWING = _solve_thumb(_OPEN_THUMB_TIP, _OPEN_THUMB_TEMPLATE)
#: thumb angles of the pinch (solved: the thumb tip meets the index tip)
PINCH_THUMB_ANGLES, _PINCH_SWING = _solve_thumb(
    _unit_hand(1, PINCH_INDEX_ANGLES)[_J["index_tip"], :3], _PINCH_THUMB_TEMPLATE)


@njit(cache=True)
def hand_joints_kernel(wrist_pose, hand_length, curls, pinch, out):
    """njit core of :func:`hand_joints_from_curl` (no checks; ``out`` is (26, 7))."""
    wp = wrist_pose[0:3]
    wq = wrist_pose[3:7]
    p = min(max(pinch, 0.0), 1.0)
    c = min(max(curls[0], 0.0), 1.0)
    os_, fs, ps = _OPEN_SWING, _FIST_SWING, _PINCH_SWING
    sx, sy, sz, sw = qslerp_t(os_[0], os_[1], os_[2], os_[3], fs[0], fs[1], fs[2], fs[3], c)
    sx, sy, sz, sw = qslerp_t(sx, sy, sz, sw, ps[0], ps[1], ps[2], ps[3], p)
    _finger_chain(0, OPEN_THUMB_ANGLES, FIST_ANGLES[0], c, PINCH_THUMB_ANGLES, p, sx, sy, sz,
                  sw, wp, wq, hand_length, out)
    for f in range(1, 5):
        _finger_chain(f, _ZERO5, FIST_ANGLES[f], min(max(curls[f], 0.0), 1.0),
                      PINCH_INDEX_ANGLES,
                      p if f == 1 else 0.0, 0.0, 0.0, 0.0, 1.0, wp, wq, hand_length, out)
    for j in range(2):                       # palm (fixed to the wrist), wrist itself
        rp, rq = _REST_POS[j], _REST_QUAT[j]
        x, y, z = qrot_t(wq[0], wq[1], wq[2], wq[3],
                         rp[0] * hand_length, rp[1] * hand_length, rp[2] * hand_length)
        out[j, 0] = wp[0] + x
        out[j, 1] = wp[1] + y
        out[j, 2] = wp[2] + z
        ox, oy, oz, ow = qmul_t(wq[0], wq[1], wq[2], wq[3], rq[0], rq[1], rq[2], rq[3])
        out[j, 3] = ox
        out[j, 4] = oy
        out[j, 5] = oz
        out[j, 6] = ow


def hand_joints_from_curl(wrist_pose: np.ndarray, hand_length: float, curls: np.ndarray,
                          out: np.ndarray, pinch: float = 0.0) -> np.ndarray:
    """The 26 XR_EXT_hand_tracking joint poses (26, 7) of a RIGHT hand, engine space.

    ``wrist_pose``: the wrist joint pose (7,) (axes as in this module's docstring; the rest
    pose has orientation :data:`REST_WRIST_QUAT`). ``curls`` (5,) thumb..little in 0..1:
    0 = the open rest hand of ``rest_hand_positions`` with the thumb relaxed beside the index
    (near the palm's plane, as the arm solver's open hand), 1 = a natural fist (MCP 85, PIP 100,
    DIP 70 deg; thumb folded across). ``pinch`` 0..1 blends the thumb and index from their
    curl pose to a pinch in which the two tips meet exactly (pinch 1 overrides their curls).
    Fills and returns ``out``; allocates nothing.
    """
    if not 0.10 <= hand_length <= 0.30:
        raise BodyModelError(f"hand_length {hand_length!r} m is outside 0.10..0.30")
    if curls.shape != (5,):
        raise BodyModelError(f"curls must have shape (5,), got {curls.shape}")
    if out.shape != (HAND_JOINT_COUNT, 7):
        raise BodyModelError(f"out must have shape (26, 7), got {out.shape}")
    hand_joints_kernel(wrist_pose, float(hand_length), curls, float(pinch), out)
    return out


# --- controller grip <-> wrist ---

def wrist_in_grip(proximal: float = 0.085, dorsal: float = 0.02) -> np.ndarray:
    """The RIGHT wrist joint pose (7,) in the grip pose's frame (engine-space local axes).

    The grip origin sits in the closed fist (palm centroid / inside the handle); the wrist
    joint centre is ``proximal`` metres back toward the forearm (grip +Z) and ``dorsal``
    metres toward the back of the hand (grip +X): about 8.7 cm in all by default.
    """
    if not 0.03 <= proximal <= 0.15 or not -0.05 <= dorsal <= 0.06:
        raise BodyModelError(
            f"grip offset proximal={proximal!r} m, dorsal={dorsal!r} m is outside "
            "0.03..0.15 / -0.05..0.06")
    return np.array([dorsal, 0.0, proximal, *REST_WRIST_QUAT])


#: default :func:`wrist_in_grip` offset
WRIST_IN_GRIP = wrist_in_grip()


@njit(cache=True)
def _grip_wrist_kernel(pose, side, offset, inverse, out):
    ox, oy, oz = offset[0], offset[1], offset[2]
    qx, qy, qz, qw = offset[3], offset[4], offset[5], offset[6]
    if side == 0:                              # mirror the right offset across local x
        ox, qy, qz = -ox, -qy, -qz
    if inverse:                                # grip = wrist * offset^-1
        qx, qy, qz = -qx, -qy, -qz
        ox, oy, oz = qrot_t(qx, qy, qz, qw, -ox, -oy, -oz)
    px, py, pz = qrot_t(pose[3], pose[4], pose[5], pose[6], ox, oy, oz)
    rx, ry, rz, rw = qmul_t(pose[3], pose[4], pose[5], pose[6], qx, qy, qz, qw)
    out[0] = pose[0] + px
    out[1] = pose[1] + py
    out[2] = pose[2] + pz
    out[3] = rx
    out[4] = ry
    out[5] = rz
    out[6] = rw


def wrist_from_grip(grip_pose: np.ndarray, side: int | str, out: np.ndarray,
                    offset: np.ndarray = WRIST_IN_GRIP) -> np.ndarray:
    """Wrist joint pose (7,) of ``side`` (0/'left', 1/'right') from its controller grip
    pose; ``offset`` is the RIGHT hand's :func:`wrist_in_grip` (the left is its mirror)."""
    _grip_wrist_kernel(grip_pose, side_index(side), offset, False, out)
    return out


def grip_from_wrist(wrist_pose: np.ndarray, side: int | str, out: np.ndarray,
                    offset: np.ndarray = WRIST_IN_GRIP) -> np.ndarray:
    """Inverse of :func:`wrist_from_grip`: the grip pose (7,) that holds this wrist."""
    _grip_wrist_kernel(wrist_pose, side_index(side), offset, True, out)
    return out
