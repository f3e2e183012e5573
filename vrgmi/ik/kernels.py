"""Numba kernels of the limb IK: analytic two-bone arm/leg, wrist/foot orientation, FABRIK
fingers, all in the canonical RIGHT-limb torso frame (see docs/ik.md).

Vectors and quaternions inside the kernels are tuples ((x, y, z) and (x, y, z, w)), so the
hot path allocates nothing; arrays are only read (inputs) or written in place (outputs).
Every bone frame is a delta rotation from the rest pose: identity = the rest pose of
``vrgmi/body/skeleton.py`` (limb hanging/pointing down, palm medial, toes forward).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from vrgmi.body.skeleton import rest_foot_positions, rest_hand_positions

# ---- status codes returned by the solve kernels (messages live in solver.py) ----
OK, BAD_INPUT, BAD_TORSO, BAD_TARGET, BAD_HAND, BAD_FIXED = 0, 1, 2, 3, 4, 5

# ---- inp layout: torso pose (7), root joint position (3), target pose (7) ----
I_TORSO, I_ROOT, I_TARGET, INPUT_SIZE = 0, 7, 10, 17

# ---- geometry layout (shared head; arm and leg tails) ----
G_L1, G_L2, G_SOFT, G_DMIN, G_SWIVEL0, G_TWIST_REF, G_SWIVEL_AXES = 0, 1, 2, 3, 4, 5, 8
G_REST = 17                                 # arm: 26 x 3 rest hand, leg: 4 x 3 rest foot
G_RAYQ = G_REST + 78                        # arm: 5 finger ray frames (quat)
G_BONE = G_RAYQ + 20                        # arm: 5 x 3 phalanx lengths
G_FIST = G_BONE + 15                        # arm: 5 x 4 fist angles (curl = 1)
G_ABD = G_FIST + 20                         # arm: 5 abduction signs
G_REFQ = G_ABD + 5                          # arm: rest frame of the palm reference points
G_OPEN = G_REFQ + 4                         # arm: 5 x 4 open-hand angles (curl = 0)
ARM_GEOM_SIZE = G_OPEN + 20
G_TOEFIST = G_REST + 12                     # leg: toe flexion at curl = 1
LEG_GEOM_SIZE = G_TOEFIST + 1

#: hand-joint indices of each finger chain: root joint, then the joints at the ends of
#: its three moving bones (thumb: CMC, MCP, IP, tip; fingers: MCP, PIP, DIP, tip)
FINGER_CHAINS = np.array([[2, 3, 4, 5], [7, 8, 9, 10], [12, 13, 14, 15], [17, 18, 19, 20],
                          [22, 23, 24, 25]], dtype=np.int64)
#: finger metacarpal joints rigid with the hand
RIGID_METACARPALS = np.array([6, 11, 16, 21], dtype=np.int64)
#: first finger DOF in ARM_DOF_NAMES; each finger has 4 (root flexion, root abduction, 2 hinges)
FINGER_DOF0 = 7
#: FABRIK: at most this many iterations; stop within TOLERANCE (m) of the tip target or when
#: an iteration brings the tip less than MIN_GAIN (m) closer (noisy tracked joints are no
#: exact hinge chain); the best iterate is kept
FABRIK_ITERATIONS, FABRIK_TOLERANCE, FABRIK_MIN_GAIN = 10, 1e-4, 5e-5
#: the swivel search when the asked swivel puts the root outside its limits: scan step and
#: bisection / golden-section count
SWIVEL_STEP, SWIVEL_BISECT = math.pi / 18.0, 30
#: per-side search state kept between frames (state[side] = mode, last swivel): no last
#: frame (a new session) / the asked swivel was valid / a valid swivel was searched / none
#: was valid (least violation)
MODE_FRESH, MODE_ASKED, MODE_SEARCHED, MODE_LEAST = -1.0, 0.0, 1.0, 2.0
#: once a limit forced the swivel off the asked one, the swivel moves by at most this much
#: (rad) per solve (~340 deg/s at 120 Hz), back to the asked one or on to a valid one
SWIVEL_RETURN = 0.05
#: a root angle this far (rad) past its limit is rounding, not a limit the pose runs into
LIMIT_TOL = 1e-9
#: elevations this close (rad) to straight up have no meaningful plane angle
POLE_TOL = 1e-7
#: elbow hinge about the upper arm's local +x, knee hinge about the thigh's local -x
HS_ARM, HS_LEG = 1.0, -1.0
#: swivel reference: the zero-swivel middle-joint direction is defined at the axis opposite
#: ``singular`` and carried to every other root -> end axis by the shortest rotation, so it
#: is singular only along ``singular``: the direction farthest (33 deg arm, 76 deg leg) from
#: every reachable wrist / ankle (sampled from in-limit poses). Zero swivel there points the
#: elbow down / the knee forward; positive swivel moves it laterally.
ARM_SWIVEL_SINGULAR, ARM_SWIVEL_ZERO = (-0.42, -0.90, -0.05), (0.0, 0.0, -1.0)
LEG_SWIVEL_SINGULAR, LEG_SWIVEL_ZERO = (-0.09, -0.17, 0.98), (0.0, 1.0, 0.0)
#: soft reach zone as a fraction of the full two-bone length
SOFT_FRACTION = 0.01
DEFAULT_ARM_SWIVEL = math.radians(20.0)
DEFAULT_LEG_SWIVEL = 0.0
#: the root twist is measured along the shortest path from the rest direction (down) to
#: this reference direction and on to the bone; it is singular only opposite the reference,
#: which for both limbs lies far outside the sinus (shoulder: back-medial-up; hip: up)
SHOULDER_TWIST_REF = (0.5, 0.5, -math.sqrt(0.5))
HIP_TWIST_REF = (0.0, 0.0, -1.0)

_DOWN = (0.0, 0.0, -1.0)


# ------------------------------------------------------------------ tuple math
@njit(cache=True)
def _add(a, b):
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


@njit(cache=True)
def _sub(a, b):
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


@njit(cache=True)
def _mul(a, s):
    return (a[0] * s, a[1] * s, a[2] * s)


@njit(cache=True)
def _dot(a, b):
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


@njit(cache=True)
def _cross(a, b):
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


@njit(cache=True)
def _norm(a):
    return math.sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2])


@njit(cache=True)
def _unit(a, fallback):
    n = _norm(a)
    if n < 1e-12:
        return fallback
    return (a[0] / n, a[1] / n, a[2] / n)


@njit(cache=True)
def _clip1(x):
    return min(1.0, max(-1.0, x))


@njit(cache=True)
def _qmul(a, b):
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (aw * bx + ax * bw + ay * bz - az * by, aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw, aw * bw - ax * bx - ay * by - az * bz)


@njit(cache=True)
def _qconj(q):
    return (-q[0], -q[1], -q[2], q[3])


@njit(cache=True)
def _qrot(q, v):
    qx, qy, qz, qw = q
    tx = 2.0 * (qy * v[2] - qz * v[1])
    ty = 2.0 * (qz * v[0] - qx * v[2])
    tz = 2.0 * (qx * v[1] - qy * v[0])
    return (v[0] + qw * tx + (qy * tz - qz * ty), v[1] + qw * ty + (qz * tx - qx * tz),
            v[2] + qw * tz + (qx * ty - qy * tx))


@njit(cache=True)
def _qunit(q):
    n = math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    return (q[0] / n, q[1] / n, q[2] / n, q[3] / n)


@njit(cache=True)
def _rx(a):
    return (math.sin(0.5 * a), 0.0, 0.0, math.cos(0.5 * a))


@njit(cache=True)
def _ry(a):
    return (0.0, math.sin(0.5 * a), 0.0, math.cos(0.5 * a))


@njit(cache=True)
def _rz(a):
    return (0.0, 0.0, math.sin(0.5 * a), math.cos(0.5 * a))


@njit(cache=True)
def _q_from_cols(X, Y, Z):
    """Quaternion of the rotation matrix with columns X, Y, Z (Shepperd)."""
    m00, m10, m20 = X
    m01, m11, m21 = Y
    m02, m12, m22 = Z
    tr = m00 + m11 + m22
    if tr > 0.0:
        s = math.sqrt(tr + 1.0) * 2.0
        q = ((m21 - m12) / s, (m02 - m20) / s, (m10 - m01) / s, 0.25 * s)
    elif m00 > m11 and m00 > m22:
        s = math.sqrt(1.0 + m00 - m11 - m22) * 2.0
        q = (0.25 * s, (m01 + m10) / s, (m02 + m20) / s, (m21 - m12) / s)
    elif m11 > m22:
        s = math.sqrt(1.0 + m11 - m00 - m22) * 2.0
        q = ((m01 + m10) / s, 0.25 * s, (m12 + m21) / s, (m02 - m20) / s)
    else:
        s = math.sqrt(1.0 + m22 - m00 - m11) * 2.0
        q = ((m02 + m20) / s, (m12 + m21) / s, 0.25 * s, (m10 - m01) / s)
    return _qunit(q)


@njit(cache=True)
def _qmat(q):
    """Rotation matrix entries (m00, m01, m02, m10, m11, m12, m20, m21, m22)."""
    x, y, z, w = q
    return (1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y - z * w), 2.0 * (x * z + y * w),
            2.0 * (x * y + z * w), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z - x * w),
            2.0 * (x * z - y * w), 2.0 * (y * z + x * w), 1.0 - 2.0 * (x * x + y * y))


@njit(cache=True)
def _wrap(a):
    return (a + math.pi) % (2.0 * math.pi) - math.pi


@njit(cache=True)
def _clamp_angle(a, lo, hi):
    """a inside [lo, hi], else the limit nearer to a around the circle."""
    if lo <= a <= hi:
        return a
    if abs(_wrap(a - lo)) < abs(_wrap(a - hi)):
        return lo
    return hi


# ------------------------------------------------------------------ array access
@njit(cache=True)
def _v3(a, i):
    return (a[i], a[i + 1], a[i + 2])


@njit(cache=True)
def _q4(a, i):
    return (a[i], a[i + 1], a[i + 2], a[i + 3])


@njit(cache=True)
def _finite(a, r0, r1, ncols):
    """All of a[r0:r1, :ncols] finite (a 2-D array)."""
    for i in range(r0, r1):
        for j in range(ncols):
            if not math.isfinite(a[i, j]):
                return False
    return True


# ------------------------------------------------------------------ canonical frame
@njit(cache=True)
def _to_canon_p(p, o, qt, side):
    v = _qrot(_qconj(qt), _sub(p, o))
    if side == 0:
        return (-v[0], v[1], v[2])
    return v


@njit(cache=True)
def _to_canon_q(q, qt, side):
    r = _qmul(_qconj(qt), q)
    if side == 0:
        return (r[0], -r[1], -r[2], r[3])
    return r


@njit(cache=True)
def _put_p(out, j, pc, o, qt, side):
    if side == 0:
        pc = (-pc[0], pc[1], pc[2])
    v = _add(o, _qrot(qt, pc))
    out[j, 0], out[j, 1], out[j, 2] = v


@njit(cache=True)
def _put_q(out, j, qc, qt, side):
    if side == 0:
        qc = (qc[0], -qc[1], -qc[2], qc[3])
    q = _qmul(qt, qc)
    s = 1.0 if q[3] >= 0.0 else -1.0
    out[j, 0], out[j, 1], out[j, 2], out[j, 3] = q[0] * s, q[1] * s, q[2] * s, q[3] * s


# ------------------------------------------------------------------ swing-twist root joint
@njit(cache=True)
def _shortest(a, b):
    """Shortest rotation taking unit a to unit b (a half turn about x or y when b = -a)."""
    c = _cross(a, b)
    w = 1.0 + _dot(a, b)
    if w < 1e-12:
        return (0.0, 1.0, 0.0, 0.0) if abs(a[0]) > 0.9 else (1.0, 0.0, 0.0, 0.0)
    return _qunit((c[0], c[1], c[2], w))


@njit(cache=True)
def _direction(phi, theta):
    st = math.sin(theta)
    return (st * math.cos(phi), st * math.sin(phi), -math.cos(theta))


@njit(cache=True)
def _root_reference(h, geom):
    """Zero-twist frame of a root bone pointing along h."""
    ref = _v3(geom, G_TWIST_REF)
    return _qmul(_shortest(ref, h), _shortest(_DOWN, ref))


@njit(cache=True)
def root_frame(phi, theta, twist, geom):
    """Delta rotation of the upper arm / thigh from its plane, elevation and twist."""
    return _qmul(_root_reference(_direction(phi, theta), geom), _rz(twist))


@njit(cache=True)
def _root_angles(h, X, geom):
    """(plane, elevation, twist) of a bone with direction h and local x axis X."""
    phi = math.atan2(h[1], h[0])
    theta = math.acos(_clip1(-h[2]))
    ref = _root_reference(h, geom)
    xs = _qrot(ref, (1.0, 0.0, 0.0))
    ys = _qrot(ref, (0.0, 1.0, 0.0))
    return phi, theta, math.atan2(_dot(X, ys), _dot(X, xs))


@njit(cache=True)
def sinus_max(sinus, phi):
    """Largest elevation in plane phi: linear interpolation of the sinus table (2, K)."""
    k = sinus.shape[1]
    for i in range(k - 1):
        if phi <= sinus[0, i + 1]:
            t = (phi - sinus[0, i]) / (sinus[0, i + 1] - sinus[0, i])
            return sinus[1, i] + t * (sinus[1, i + 1] - sinus[1, i])
    return sinus[1, k - 1]


@njit(cache=True)
def _pole_plane(sinus):
    """A plane whose elevation limit is straight up, or NaN when straight up is outside."""
    for i in range(sinus.shape[1]):
        if sinus[1, i] >= math.pi - 1e-12:
            return sinus[0, i]
    return math.nan


@njit(cache=True)
def _pole_label(phi, theta, sinus):
    """Straight down or up every plane is the same direction: name plane 0 down, and an
    allowed plane up."""
    if theta <= POLE_TOL:
        return 0.0
    if theta >= math.pi - POLE_TOL:
        p = _pole_plane(sinus)
        if not math.isnan(p):
            return p
    return phi


@njit(cache=True)
def _violation(phi, theta, twist, lim, sinus):
    """How far (rad) a root pose is outside its limits; <= LIMIT_TOL counts as inside."""
    over = theta - sinus_max(sinus, _pole_label(phi, theta, sinus))
    return max(over, 0.0) + max(twist - lim[2, 1], 0.0) + max(lim[2, 0] - twist, 0.0)


@njit(cache=True)
def _project_sinus(h, bound, sinus):
    """The allowed bone direction nearest to h: nearest point of the boundary loop."""
    n = bound.shape[0]
    best = -2.0
    bp = h
    for i in range(n):
        a = _v3(bound[i], 0)
        b = _v3(bound[(i + 1) % n], 0)
        d = _dot(h, a)
        if d > best:
            best, bp = d, a
        m = _cross(a, b)
        mn = _norm(m)
        if mn < 1e-12:
            continue
        m = _mul(m, 1.0 / mn)
        p = _sub(h, _mul(m, _dot(h, m)))
        pn = _norm(p)
        if pn < 1e-12:
            continue
        p = _mul(p, 1.0 / pn)
        if _dot(_cross(a, p), m) >= 0.0 and _dot(_cross(p, b), m) >= 0.0:
            d = _dot(h, p)
            if d > best:
                best, bp = d, p
    theta = math.acos(_clip1(-bp[2]))
    phi = _pole_label(math.atan2(bp[1], bp[0]), theta, sinus)
    return _direction(phi, min(theta, sinus_max(sinus, phi)))


@njit(cache=True)
def swivel_frame(u, geom):
    """(e1, e2) perpendicular to the root -> end axis u: the zero-swivel and +90 deg swivel
    directions of the middle joint (see ARM_SWIVEL_SINGULAR)."""
    b = _v3(geom, G_SWIVEL_AXES)
    e1b = _v3(geom, G_SWIVEL_AXES + 3)
    e2b = _v3(geom, G_SWIVEL_AXES + 6)
    c = _dot(b, u)
    if c < -1.0 + 1e-9:                     # u on the singular direction: a half turn
        return e1b, _mul(e2b, -1.0)
    v = _cross(b, u)
    k = 1.0 / (1.0 + c)
    e1 = _add(_add(_mul(e1b, c), _cross(v, e1b)), _mul(v, _dot(v, e1b) * k))
    e2 = _add(_add(_mul(e2b, c), _cross(v, e2b)), _mul(v, _dot(v, e2b) * k))
    return e1, e2


@njit(cache=True)
def _swivel_of(S, M, W, geom, fallback):
    """Swivel angle of the middle joint M about the axis S -> W."""
    u = _unit(_sub(W, S), _v3(geom, G_SWIVEL_AXES))
    e1, e2 = swivel_frame(u, geom)
    r = _sub(M, S)
    n = _sub(r, _mul(u, _dot(r, u)))
    if _norm(n) < 1e-9:
        return fallback
    return math.atan2(_dot(n, e2), _dot(n, e1))


@njit(cache=True)
def pose_swivel(inp, side, mid, end, geom):
    """Swivel of a world pose: middle joint ``mid`` and end joint ``end`` (3,) of a limb
    rooted at inp[I_ROOT], measured in the canonical frame of the torso inp[I_TORSO]."""
    o = _v3(inp, I_TORSO)
    qt = _qunit(_q4(inp, I_TORSO + 3))
    return _swivel_of(_to_canon_p(_v3(inp, I_ROOT), o, qt, side),
                      _to_canon_p(_v3(mid, 0), o, qt, side),
                      _to_canon_p(_v3(end, 0), o, qt, side), geom, math.nan)


@njit(cache=True)
def _swivel_pose(u, e1, e2, ca, sa, psi, hs):
    n = _add(_mul(e1, math.cos(psi)), _mul(e2, math.sin(psi)))
    h = _add(_mul(u, ca), _mul(n, sa))
    return h, _mul(_cross(n, u), hs)


@njit(cache=True)
def _swivel_violation(u, e1, e2, ca, sa, psi, hs, geom, lim, sinus):
    h, X = _swivel_pose(u, e1, e2, ca, sa, psi, hs)
    phi, theta, tw = _root_angles(h, X, geom)
    return _violation(phi, theta, tw, lim, sinus)


@njit(cache=True)
def _bisect_valid(u, e1, e2, ca, sa, hs, geom, lim, sinus, good, bad):
    """The limit boundary between a valid swivel ``good`` and an invalid one ``bad``."""
    for _ in range(SWIVEL_BISECT):
        mid = 0.5 * (good + bad)
        if _swivel_violation(u, e1, e2, ca, sa, mid, hs, geom, lim, sinus) <= LIMIT_TOL:
            good = mid
        else:
            bad = mid
    return good


@njit(cache=True)
def _nearest_valid(u, e1, e2, ca, sa, hs, geom, lim, sinus, anchor):
    """(valid swivel nearest to anchor, found); scanned in SWIVEL_STEP steps both ways."""
    if _swivel_violation(u, e1, e2, ca, sa, anchor, hs, geom, lim, sinus) <= LIMIT_TOL:
        return anchor, True
    for j in range(1, 19):
        for sg in (1.0, -1.0):
            c = anchor + sg * j * SWIVEL_STEP
            if _swivel_violation(u, e1, e2, ca, sa, c, hs, geom, lim, sinus) <= LIMIT_TOL:
                return _bisect_valid(u, e1, e2, ca, sa, hs, geom, lim, sinus, c,
                                     c - sg * SWIVEL_STEP), True
    return anchor, False


@njit(cache=True)
def _slide_toward(u, e1, e2, ca, sa, hs, geom, lim, sinus, c, psi):
    """From the valid swivel c toward psi as far as the limits allow (the same valid arc)."""
    d = _wrap(psi - c)
    sg = 1.0 if d >= 0.0 else -1.0
    n = int(abs(d) / SWIVEL_STEP) + 1
    for j in range(1, n + 1):
        x = c + sg * min(j * SWIVEL_STEP, abs(d))
        if _swivel_violation(u, e1, e2, ca, sa, x, hs, geom, lim, sinus) > LIMIT_TOL:
            return _bisect_valid(u, e1, e2, ca, sa, hs, geom, lim, sinus,
                                 c + sg * (j - 1) * SWIVEL_STEP, x)
    return c + d


@njit(cache=True)
def _least_violation(u, e1, e2, ca, sa, hs, geom, lim, sinus, lo, hi):
    """Golden-section minimum of the limit violation over swivels in [lo, hi]."""
    g = 0.5 * (math.sqrt(5.0) - 1.0)
    for _ in range(SWIVEL_BISECT):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        if (_swivel_violation(u, e1, e2, ca, sa, a, hs, geom, lim, sinus)
                < _swivel_violation(u, e1, e2, ca, sa, b, hs, geom, lim, sinus)):
            hi = b
        else:
            lo = a
    return 0.5 * (lo + hi)


@njit(cache=True)
def _search_swivel(u, e1, e2, ca, sa, psi, hs, geom, lim, sinus, mode, last):
    """Swivel to use when ``psi`` breaks a root limit. In a new session: the valid swivel
    nearest to psi. Otherwise coherent with the last frame: the valid arc nearest to last
    frame's swivel, followed toward psi, reached by moving at most SWIVEL_RETURN per solve.
    With none valid, the least-violating swivel near the anchor (within SWIVEL_RETURN of last
    frame's). Returns (swivel, mode)."""
    fresh = mode == MODE_FRESH
    anchor = psi if fresh else last
    c, found = _nearest_valid(u, e1, e2, ca, sa, hs, geom, lim, sinus, anchor)
    if not found:
        reach = SWIVEL_STEP if fresh else SWIVEL_RETURN
        return _wrap(_least_violation(u, e1, e2, ca, sa, hs, geom, lim, sinus,
                                      anchor - reach, anchor + reach)), MODE_LEAST
    c = _slide_toward(u, e1, e2, ca, sa, hs, geom, lim, sinus, c, psi)
    d = _wrap(c - anchor)
    if not fresh and abs(d) > SWIVEL_RETURN:
        c = anchor + (SWIVEL_RETURN if d > 0.0 else -SWIVEL_RETURN)
    return _wrap(c), MODE_SEARCHED


@njit(cache=True)
def _two_bone(S, T, geom, lim, sinus, bound, hs, psi, mode, last):
    """Full two-bone solve from the root joint: returns plane, elevation, twist, middle
    flexion (law of cosines), the swivel used, whether a root limit changed the pose, and
    the search mode (see _search_swivel; ``mode``, ``last``: last frame's)."""
    L1, L2 = geom[G_L1], geom[G_L2]
    d = _sub(T, S)
    dist = _norm(d)
    u = _unit(d, _v3(geom, G_SWIVEL_AXES))
    full, w = L1 + L2, geom[G_SOFT]
    if dist > full - w:                      # soft reach: never snaps straight
        dist = full - w + w * (1.0 - math.exp(-(dist - full + w) / w))
    dist = max(dist, geom[G_DMIN])
    flex = math.acos(_clip1((dist * dist - L1 * L1 - L2 * L2) / (2.0 * L1 * L2)))
    ca = _clip1((L1 * L1 + dist * dist - L2 * L2) / (2.0 * L1 * dist))
    sa = math.sqrt(1.0 - ca * ca)
    e1, e2 = swivel_frame(u, geom)
    mode_now = MODE_ASKED
    back = _wrap(psi - last)
    if mode > MODE_ASKED and abs(back) > SWIVEL_RETURN:
        psi = last + (SWIVEL_RETURN if back > 0.0 else -SWIVEL_RETURN)
        mode_now = MODE_SEARCHED
    if _swivel_violation(u, e1, e2, ca, sa, psi, hs, geom, lim, sinus) > LIMIT_TOL:
        psi, mode_now = _search_swivel(u, e1, e2, ca, sa, psi, hs, geom, lim, sinus, mode, last)
    h, X = _swivel_pose(u, e1, e2, ca, sa, psi, hs)
    phi, theta, tw = _root_angles(h, X, geom)
    clamped = _violation(phi, theta, tw, lim, sinus) > LIMIT_TOL
    if theta > sinus_max(sinus, _pole_label(phi, theta, sinus)) + LIMIT_TOL:
        h = _project_sinus(h, bound, sinus)
        X = _unit(_sub(X, _mul(h, _dot(X, h))), _cross(h, (0.0, 1.0, 0.0)))
        phi, theta, tw = _root_angles(h, X, geom)
    phi = _pole_label(phi, theta, sinus)
    theta = min(theta, sinus_max(sinus, phi))
    tw = min(lim[2, 1], max(lim[2, 0], tw))
    return phi, theta, tw, flex, psi, clamped, mode_now


@njit(cache=True)
def _aim_hinge(Q1, M, T, hs, lo, hi):
    """Hinge flexion at M (bone frame Q1 above it) that points the next bone at T."""
    v = _qrot(_qconj(Q1), _sub(T, M))
    return _clamp_angle(hs * math.atan2(v[1], -v[2]), lo, hi)


@njit(cache=True)
def _hinge_twist(N, hs):
    """(flexion, twist) of N = Rx(hs * flexion) * Rz(twist)."""
    m = _qmat(N)
    g = math.atan2(-m[5], m[8])
    return hs * g, math.atan2(m[3] * math.cos(g) + m[6] * math.sin(g), m[0])


@njit(cache=True)
def _swing_yx(M):
    """(b, c) of Ry(b) * Rx(c) pointing the bone (-z) where M points it (twist dropped)."""
    m = _qmat(M)
    return math.atan2(m[2], m[8]), math.asin(_clip1(-m[5]))


# ------------------------------------------------------------------ hand
@njit(cache=True)
def _finger_root_clamp(f, a0, a1, lim):
    r = FINGER_DOF0 + 4 * f
    if f == 0:                               # thumb CMC: elliptic cone
        fl = lim[r, 1] if a0 >= 0.0 else -lim[r, 0]
        al = lim[r + 1, 1] if a1 >= 0.0 else -lim[r + 1, 0]
        e = math.sqrt((a0 / fl) ** 2 + (a1 / al) ** 2)
        if e > 1.0:
            return a0 / e, a1 / e
        return a0, a1
    return (min(lim[r, 1], max(lim[r, 0], a0)), min(lim[r + 1, 1], max(lim[r + 1, 0], a1)))


@njit(cache=True)
def _aim_finger_root(geom, f, d, lim):
    """Constrained (flexion, abduction) of a finger's first moving joint toward d."""
    dl = _qrot(_qconj(_q4(geom, G_RAYQ + 4 * f)), d)
    s = geom[G_ABD + f]
    return _finger_root_clamp(f, math.atan2(-dl[0], -dl[2]), s * math.asin(_clip1(dl[1])), lim)


@njit(cache=True)
def _aim_finger_hinge(P, d, lo, hi):
    dl = _qrot(_qconj(P), d)
    return _clamp_angle(math.atan2(-dl[0], -dl[2]), lo, hi)


@njit(cache=True)
def _finger_root(geom, f, a0, a1):
    return _qmul(_q4(geom, G_RAYQ + 4 * f), _qmul(_ry(a0), _rx(geom[G_ABD + f] * a1)))


@njit(cache=True)
def _finger_link(P, p, d, lo, hi, length):
    """The finger hinge below frame P aimed along d: (angle, its frame, the next joint
    from the joint at p)."""
    a = _aim_finger_hinge(P, d, lo, hi)
    F = _qmul(P, _ry(a))
    return a, F, _add(p, _mul(_qrot(F, _DOWN), length))


@njit(cache=True)
def _finger_retarget(geom, f, t0, t1, t2, t3, lim, ang):
    """FABRIK of one finger (hand-local, patient proportions) toward the tracked tip
    scaled to the patient's finger, started from the tracked bone directions."""
    r = FINGER_DOF0 + 4 * f
    c = FINGER_CHAINS[f]
    p0 = _v3(geom, G_REST + 3 * c[0])
    l0, l1, l2 = geom[G_BONE + 3 * f], geom[G_BONE + 3 * f + 1], geom[G_BONE + 3 * f + 2]
    lo2, hi2, lo3, hi3 = lim[r + 2, 0], lim[r + 2, 1], lim[r + 3, 0], lim[r + 3, 1]
    ltrk = _norm(_sub(t1, t0)) + _norm(_sub(t2, t1)) + _norm(_sub(t3, t2))
    if ltrk < 1e-6:
        for i in range(4):
            ang[r + i] = 0.0
        return
    T = _add(p0, _mul(_sub(t3, t0), (l0 + l1 + l2) / ltrk))
    a0, a1 = _aim_finger_root(geom, f, _unit(_sub(t1, t0), _DOWN), lim)
    F1 = _finger_root(geom, f, a0, a1)
    p1 = _add(p0, _mul(_qrot(F1, _DOWN), l0))
    a2, F2, p2 = _finger_link(F1, p1, _unit(_sub(t2, t1), _DOWN), lo2, hi2, l1)
    a3, F3, p3 = _finger_link(F2, p2, _unit(_sub(t3, t2), _DOWN), lo3, hi3, l2)
    err = _norm(_sub(p3, T))
    best = (a0, a1, a2, a3)
    for _ in range(FABRIK_ITERATIONS):
        if err < FABRIK_TOLERANCE:
            break
        b2 = _add(T, _mul(_unit(_sub(p2, T), _DOWN), l2))        # backward pass
        b1 = _add(b2, _mul(_unit(_sub(p1, b2), _DOWN), l1))
        a0, a1 = _aim_finger_root(geom, f, _unit(_sub(b1, p0), _DOWN), lim)  # forward pass
        F1 = _finger_root(geom, f, a0, a1)
        p1 = _add(p0, _mul(_qrot(F1, _DOWN), l0))
        a2, F2, p2 = _finger_link(F1, p1, _unit(_sub(b2, p1), _DOWN), lo2, hi2, l1)
        a3, F3, p3 = _finger_link(F2, p2, _unit(_sub(T, p2), _DOWN), lo3, hi3, l2)
        e = _norm(_sub(p3, T))
        gain = err - e
        if gain > 0.0:
            best, err = (a0, a1, a2, a3), e
        if gain < FABRIK_MIN_GAIN:
            break
    ang[r], ang[r + 1], ang[r + 2], ang[r + 3] = best


@njit(cache=True)
def _palm_frame(p_wrist, p_index, p_middle, p_ring, p_little):
    """Orientation of the palm from the wrist and the four finger MCP joints."""
    m = _mul(_add(_add(p_index, p_middle), _add(p_ring, p_little)), 0.25)
    e1 = _unit(_sub(m, p_wrist), _DOWN)
    v2 = _sub(p_index, p_little)
    e2 = _unit(_sub(v2, _mul(e1, _dot(v2, e1))), (0.0, 1.0, 0.0))
    return _q_from_cols(e1, e2, _cross(e1, e2))


@njit(cache=True)
def _hand_angles(geom, hand, hand_valid, curls, o, qt, side, lim, ang):
    """Finger angles: retargeted from tracked joints (world, already mirrored) or curls."""
    if hand_valid:
        w = _to_canon_p(_v3(hand[1], 0), o, qt, side)
        q = _qmul(_palm_frame(w, _to_canon_p(_v3(hand[7], 0), o, qt, side),
                              _to_canon_p(_v3(hand[12], 0), o, qt, side),
                              _to_canon_p(_v3(hand[17], 0), o, qt, side),
                              _to_canon_p(_v3(hand[22], 0), o, qt, side)),
                  _qconj(_q4(geom, G_REFQ)))
        qi = _qconj(q)
        for f in range(5):
            c = FINGER_CHAINS[f]
            t0 = _qrot(qi, _sub(_to_canon_p(_v3(hand[c[0]], 0), o, qt, side), w))
            t1 = _qrot(qi, _sub(_to_canon_p(_v3(hand[c[1]], 0), o, qt, side), w))
            t2 = _qrot(qi, _sub(_to_canon_p(_v3(hand[c[2]], 0), o, qt, side), w))
            t3 = _qrot(qi, _sub(_to_canon_p(_v3(hand[c[3]], 0), o, qt, side), w))
            _finger_retarget(geom, f, t0, t1, t2, t3, lim, ang)
    else:
        for f in range(5):
            cf = min(1.0, max(0.0, curls[f]))
            for i in range(4):
                a0 = geom[G_OPEN + 4 * f + i]
                ang[FINGER_DOF0 + 4 * f + i] = a0 + cf * (geom[G_FIST + 4 * f + i] - a0)


@njit(cache=True)
def _put_hand(geom, W, Qh, ang, o, qt, side, pos, rot):
    """Write palm, metacarpals and the five finger chains (arm joints 3..27)."""
    _put_p(pos, 3, _add(W, _qrot(Qh, _v3(geom, G_REST))), o, qt, side)
    _put_q(rot, 3, Qh, qt, side)
    for i in RIGID_METACARPALS:
        _put_p(pos, i + 2, _add(W, _qrot(Qh, _v3(geom, G_REST + 3 * i))), o, qt, side)
        _put_q(rot, i + 2, Qh, qt, side)
    for f in range(5):
        r = FINGER_DOF0 + 4 * f
        c = FINGER_CHAINS[f]
        r0 = _qconj(_q4(geom, G_RAYQ + 4 * f))
        F = _finger_root(geom, f, ang[r], ang[r + 1])
        p = _v3(geom, G_REST + 3 * c[0])
        _put_p(pos, c[0] + 2, _add(W, _qrot(Qh, p)), o, qt, side)
        for b in range(3):
            if b > 0:
                F = _qmul(F, _ry(ang[r + 1 + b]))
            _put_q(rot, c[b] + 2, _qmul(Qh, _qmul(F, r0)), qt, side)
            p = _add(p, _mul(_qrot(F, _DOWN), geom[G_BONE + 3 * f + b]))
            _put_p(pos, c[b + 1] + 2, _add(W, _qrot(Qh, p)), o, qt, side)
        _put_q(rot, c[3] + 2, _qmul(Qh, _qmul(F, r0)), qt, side)


# ------------------------------------------------------------------ arm
@njit(cache=True)
def _forearm(Qu, flex, pron):
    return _qmul(Qu, _qmul(_rx(HS_ARM * flex), _rz(pron)))


@njit(cache=True)
def _hand(Qf, wflex, dev):
    return _qmul(Qf, _qmul(_ry(wflex), _rx(-dev)))


@njit(cache=True)
def _put_arm(geom, S, E, W, Qu, Qf, Qh, ang, o, qt, side, pos, rot):
    _put_p(pos, 0, S, o, qt, side)
    _put_p(pos, 1, E, o, qt, side)
    _put_p(pos, 2, W, o, qt, side)
    _put_q(rot, 0, Qu, qt, side)
    _put_q(rot, 1, Qf, qt, side)
    _put_q(rot, 2, Qh, qt, side)
    _put_hand(geom, W, Qh, ang, o, qt, side, pos, rot)


@njit(cache=True)
def _check_common(inp, k, fixed_pos, fixed_rot):
    for x in inp:
        if not math.isfinite(x):
            return BAD_INPUT
    qn = math.sqrt(inp[3] ** 2 + inp[4] ** 2 + inp[5] ** 2 + inp[6] ** 2)
    if not 0.5 < qn < 1.5:
        return BAD_TORSO
    qn = math.sqrt(inp[13] ** 2 + inp[14] ** 2 + inp[15] ** 2 + inp[16] ** 2)
    if not 0.5 < qn < 1.5:
        return BAD_TARGET
    if not (_finite(fixed_pos, 1, k, 3) and _finite(fixed_rot, 0, k - 1, 4)):
        return BAD_FIXED
    for j in range(k - 1):
        qn = math.sqrt(fixed_rot[j, 0] ** 2 + fixed_rot[j, 1] ** 2 + fixed_rot[j, 2] ** 2
                       + fixed_rot[j, 3] ** 2)
        if not 0.5 < qn < 1.5:
            return BAD_FIXED
    return OK


@njit(cache=True)
def _proximal(inp, fixed_pos, fixed_rot, geom, lim, sinus, bound, state, side, swivel, k, hs):
    """The part arm and leg share: inputs into the canonical right-limb frame, then the root
    bone (shoulder / hip) and the middle joint (elbow / knee) with its hinge angle, solved
    (k = 1) or given by the residual limb (k >= 2). ``hs`` is the hinge sign. Returns
    (o, qt, T, Qt, root, Qroot, mid, phi, theta, tw, hinge, psi); updates state[side]."""
    o = _v3(inp, I_TORSO)
    qt = _qunit(_q4(inp, I_TORSO + 3))
    T = _to_canon_p(_v3(inp, I_TARGET), o, qt, side)
    Qt = _to_canon_q(_qunit(_q4(inp, I_TARGET + 3)), qt, side)
    psi = geom[G_SWIVEL0] if math.isnan(swivel) else swivel
    R = _to_canon_p(_v3(inp, I_ROOT), o, qt, side)
    hinge = 0.0
    if k == 1:
        phi, theta, tw, hinge, psi, clamped, state[side, 0] = _two_bone(
            R, T, geom, lim, sinus, bound, hs, psi, state[side, 0], state[side, 1])
        state[side, 1] = psi
        Qr = root_frame(phi, theta, tw, geom)
        M = _add(R, _mul(_qrot(Qr, _DOWN), geom[G_L1]))
        if clamped:
            hinge = _aim_hinge(Qr, M, T, hs, lim[3, 0], lim[3, 1])
    else:
        M = _to_canon_p(_v3(fixed_pos[1], 0), o, qt, side)
        Qr = _to_canon_q(_qunit(_q4(fixed_rot[0], 0)), qt, side)
        phi, theta, tw = _root_angles(_qrot(Qr, _DOWN), _qrot(Qr, (1.0, 0.0, 0.0)), geom)
        phi = _pole_label(phi, theta, sinus)
        if k == 2:
            hinge = _aim_hinge(Qr, M, T, hs, lim[3, 0], lim[3, 1])
    return o, qt, T, Qt, R, Qr, M, phi, theta, tw, hinge, psi


@njit(cache=True)
def solve_arm(inp, hand, hand_valid, curls, fixed_pos, fixed_rot, geom, lim, sinus, bound,
              state, side, swivel, k, pos, rot, ang, info):
    """Solve one arm + hand; writes pos (28, 3), rot (28, 4), ang (27,), info [error, swivel]
    and state[side] (swivel search mode and swivel, kept for the next frame).
    Returns a status code (OK = 0)."""
    st = _check_common(inp, k, fixed_pos, fixed_rot)
    if st != OK:
        return st
    if hand_valid and not _finite(hand, 0, 26, 3):
        return BAD_HAND
    o, qt, T, Qt, S, Qu, E, phi, theta, tw, flex, psi = _proximal(
        inp, fixed_pos, fixed_rot, geom, lim, sinus, bound, state, side, swivel, k, HS_ARM)
    L2 = geom[G_L2]
    pron = wflex = dev = 0.0
    if k <= 2:
        Qf0 = _qmul(Qu, _rx(HS_ARM * flex))
        m = _qmat(_qmul(_qconj(Qf0), Qt))    # Rz(pron) Ry(flex) Rx(-dev)
        pron = _clamp_angle(math.atan2(m[3], m[0]), lim[4, 0], lim[4, 1])
        wflex = _clamp_angle(math.asin(_clip1(-m[6])), lim[5, 0], lim[5, 1])
        dev = _clamp_angle(-math.atan2(m[7], m[8]), lim[6, 0], lim[6, 1])
        Qf = _forearm(Qu, flex, pron)
        W = _add(E, _mul(_qrot(Qf, _DOWN), L2))
    else:
        W = _to_canon_p(_v3(fixed_pos[2], 0), o, qt, side)
        Qf = _to_canon_q(_qunit(_q4(fixed_rot[1], 0)), qt, side)
        flex, pron = _hinge_twist(_qmul(_qconj(Qu), Qf), HS_ARM)
        if k == 3:
            b, c = _swing_yx(_qmul(_qconj(Qf), Qt))
            wflex = _clamp_angle(b, lim[5, 0], lim[5, 1])
            dev = _clamp_angle(-c, lim[6, 0], lim[6, 1])
    if k <= 3:
        Qh = _hand(Qf, wflex, dev)
    else:
        Qh = _to_canon_q(_qunit(_q4(fixed_rot[2], 0)), qt, side)
        wflex, c = _swing_yx(_qmul(_qconj(Qf), Qh))
        dev = -c
    ang[0], ang[1], ang[2], ang[3], ang[4], ang[5], ang[6] = phi, theta, tw, flex, pron, wflex, dev
    _hand_angles(geom, hand, hand_valid, curls, o, qt, side, lim, ang)
    _put_arm(geom, S, E, W, Qu, Qf, Qh, ang, o, qt, side, pos, rot)
    for j in range(1, k):                    # the given joints stay exactly as given
        pos[j, 0], pos[j, 1], pos[j, 2] = fixed_pos[j, 0], fixed_pos[j, 1], fixed_pos[j, 2]
    info[0] = _norm(_sub(W, T))
    info[1] = _swivel_of(S, E, W, geom, psi)
    return OK


@njit(cache=True)
def arm_forward(inp, ang, geom, side, pos, rot):
    """Forward kinematics: the arm + hand pose of angles ``ang`` from the shoulder at
    inp[I_ROOT] (torso at inp[I_TORSO]); the same chain the solver writes."""
    o = _v3(inp, I_TORSO)
    qt = _qunit(_q4(inp, I_TORSO + 3))
    S = _to_canon_p(_v3(inp, I_ROOT), o, qt, side)
    Qu = root_frame(ang[0], ang[1], ang[2], geom)
    E = _add(S, _mul(_qrot(Qu, _DOWN), geom[G_L1]))
    Qf = _forearm(Qu, ang[3], ang[4])
    W = _add(E, _mul(_qrot(Qf, _DOWN), geom[G_L2]))
    Qh = _hand(Qf, ang[5], ang[6])
    _put_arm(geom, S, E, W, Qu, Qf, Qh, ang, o, qt, side, pos, rot)


# ------------------------------------------------------------------ leg
@njit(cache=True)
def _shank(Qt_, knee, krot):
    return _qmul(Qt_, _qmul(_rx(HS_LEG * knee), _rz(krot)))


@njit(cache=True)
def _foot(Qs, dorsi, inv):
    return _qmul(Qs, _qmul(_rx(dorsi), _ry(inv)))


@njit(cache=True)
def _knee_rotation_scale(knee):
    return min(1.0, max(0.0, knee / math.radians(90.0)))


@njit(cache=True)
def _put_leg(geom, H, K, A, Qth, Qs, Qf, toe, o, qt, side, pos, rot):
    heel, ball, tip = _v3(geom, G_REST + 3), _v3(geom, G_REST + 6), _v3(geom, G_REST + 9)
    Qtoe = _qmul(Qf, _rx(-toe))
    B = _add(A, _qrot(Qf, ball))
    _put_p(pos, 0, H, o, qt, side)
    _put_p(pos, 1, K, o, qt, side)
    _put_p(pos, 2, A, o, qt, side)
    _put_p(pos, 3, _add(A, _qrot(Qf, heel)), o, qt, side)
    _put_p(pos, 4, B, o, qt, side)
    _put_p(pos, 5, _add(B, _qrot(Qtoe, _sub(tip, ball))), o, qt, side)
    _put_q(rot, 0, Qth, qt, side)
    _put_q(rot, 1, Qs, qt, side)
    _put_q(rot, 2, Qf, qt, side)
    _put_q(rot, 3, Qf, qt, side)
    _put_q(rot, 4, Qtoe, qt, side)
    _put_q(rot, 5, Qtoe, qt, side)


@njit(cache=True)
def solve_leg(inp, toe_curl, fixed_pos, fixed_rot, geom, lim, sinus, bound, state, side,
              swivel, k, pos, rot, ang, info):
    """Solve one leg + foot; writes pos (6, 3), rot (6, 4), ang (8,), info [error, swivel]
    and state[side]. Returns a status code (OK = 0)."""
    st = _check_common(inp, k, fixed_pos, fixed_rot)
    if st != OK:
        return st
    o, qt, T, Qt, H, Qth, K, phi, theta, tw, knee, psi = _proximal(
        inp, fixed_pos, fixed_rot, geom, lim, sinus, bound, state, side, swivel, k, HS_LEG)
    L2 = geom[G_L2]
    krot = dorsi = inv = 0.0
    if k <= 2:
        Qs0 = _qmul(Qth, _rx(HS_LEG * knee))
        m = _qmat(_qmul(_qconj(Qs0), Qt))    # Rz(krot) Rx(dorsi) Ry(inv)
        s = _knee_rotation_scale(knee)
        krot = _clamp_angle(math.atan2(-m[1], m[4]), lim[4, 0] * s, lim[4, 1] * s)
        dorsi = _clamp_angle(math.asin(_clip1(m[7])), lim[5, 0], lim[5, 1])
        inv = _clamp_angle(math.atan2(-m[6], m[8]), lim[6, 0], lim[6, 1])
        Qs = _shank(Qth, knee, krot)
        A = _add(K, _mul(_qrot(Qs, _DOWN), L2))
    else:
        A = _to_canon_p(_v3(fixed_pos[2], 0), o, qt, side)
        Qs = _to_canon_q(_qunit(_q4(fixed_rot[1], 0)), qt, side)
        knee, krot = _hinge_twist(_qmul(_qconj(Qth), Qs), HS_LEG)
        if k == 3:
            m = _qmat(_qmul(_qconj(Qs), Qt))  # yaw dropped: Rx(dorsi) Ry(inv)
            dorsi = _clamp_angle(math.asin(_clip1(m[7])), lim[5, 0], lim[5, 1])
            inv = _clamp_angle(math.atan2(-m[6], m[8]), lim[6, 0], lim[6, 1])
    if k <= 3:
        Qf = _foot(Qs, dorsi, inv)
    else:
        Qf = _to_canon_q(_qunit(_q4(fixed_rot[2], 0)), qt, side)
        m = _qmat(_qmul(_qconj(Qs), Qf))
        dorsi, inv = math.asin(_clip1(m[7])), math.atan2(-m[6], m[8])
    toe = min(1.0, max(0.0, toe_curl[0])) * geom[G_TOEFIST]
    ang[0], ang[1], ang[2], ang[3], ang[4], ang[5], ang[6], ang[7] = (
        phi, theta, tw, knee, krot, dorsi, inv, toe)
    _put_leg(geom, H, K, A, Qth, Qs, Qf, toe, o, qt, side, pos, rot)
    for j in range(1, k):
        pos[j, 0], pos[j, 1], pos[j, 2] = fixed_pos[j, 0], fixed_pos[j, 1], fixed_pos[j, 2]
    info[0] = _norm(_sub(A, T))
    info[1] = _swivel_of(H, K, A, geom, psi)
    return OK


@njit(cache=True)
def leg_forward(inp, ang, geom, side, pos, rot):
    """Forward kinematics of the leg + foot from angles ``ang`` (hip at inp[I_ROOT])."""
    o = _v3(inp, I_TORSO)
    qt = _qunit(_q4(inp, I_TORSO + 3))
    H = _to_canon_p(_v3(inp, I_ROOT), o, qt, side)
    Qth = root_frame(ang[0], ang[1], ang[2], geom)
    K = _add(H, _mul(_qrot(Qth, _DOWN), geom[G_L1]))
    Qs = _shank(Qth, ang[3], ang[4])
    A = _add(K, _mul(_qrot(Qs, _DOWN), geom[G_L2]))
    Qf = _foot(Qs, ang[5], ang[6])
    _put_leg(geom, H, K, A, Qth, Qs, Qf, ang[7], o, qt, side, pos, rot)


# ------------------------------------------------------------------ geometry (setup, Python)
def _ray_frame(ray: np.ndarray, dorsal: np.ndarray) -> np.ndarray:
    x = dorsal - ray * (dorsal @ ray)
    x /= np.linalg.norm(x)
    z = -ray
    y = np.cross(z, x)
    return np.array(_q_from_cols(tuple(x), tuple(y), tuple(z)))


def _swivel_axes(singular: tuple, zero: tuple) -> np.ndarray:
    """(9,) reference axis b (opposite ``singular``), zero-swivel direction e1 (``zero`` made
    perpendicular to b) and the lateral +90 deg direction e2, for :func:`swivel_frame`."""
    b = -np.asarray(singular, dtype=np.float64)
    b /= np.linalg.norm(b)
    e1 = np.asarray(zero, dtype=np.float64) - b * (b @ np.asarray(zero))
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(b, e1)
    e2 *= 1.0 if e2[0] >= 0.0 else -1.0
    return np.concatenate([b, e1, e2])


def _reach_min(l1: float, l2: float, flex_max: float) -> float:
    return float(np.sqrt(l1 * l1 + l2 * l2 + 2.0 * l1 * l2 * np.cos(flex_max)))


def arm_geometry(upper_arm: float, forearm: float, hand_length: float,
                 lim: np.ndarray, fist_deg: np.ndarray, open_deg: np.ndarray) -> np.ndarray:
    """Flat geometry array of one arm for :func:`solve_arm` (canonical right hand); curls
    blend each finger's angles from ``open_deg`` (curl 0) to ``fist_deg`` (curl 1)."""
    g = np.zeros(ARM_GEOM_SIZE)
    g[G_L1], g[G_L2] = upper_arm, forearm
    g[G_SOFT] = SOFT_FRACTION * (upper_arm + forearm)
    g[G_DMIN] = _reach_min(upper_arm, forearm, lim[3, 1])
    g[G_SWIVEL0] = DEFAULT_ARM_SWIVEL
    g[G_TWIST_REF:G_TWIST_REF + 3] = SHOULDER_TWIST_REF
    g[G_SWIVEL_AXES:G_SWIVEL_AXES + 9] = _swivel_axes(ARM_SWIVEL_SINGULAR, ARM_SWIVEL_ZERO)
    rest = rest_hand_positions(hand_length)
    g[G_REST:G_REST + 78] = rest.ravel()
    for f, chain in enumerate(FINGER_CHAINS):
        pts = rest[chain]
        ray = (pts[1] - pts[0]) / np.linalg.norm(pts[1] - pts[0])
        dorsal = np.array([0.5, 1.0, 0.0]) if f == 0 else np.array([1.0, 0.0, 0.0])
        g[G_RAYQ + 4 * f:G_RAYQ + 4 * f + 4] = _ray_frame(ray, dorsal)
        g[G_BONE + 3 * f:G_BONE + 3 * f + 3] = np.linalg.norm(np.diff(pts, axis=0), axis=1)
        g[G_ABD + f] = -1.0 if f >= 3 else 1.0
    g[G_FIST:G_FIST + 20] = np.radians(fist_deg).ravel()
    g[G_OPEN:G_OPEN + 20] = np.radians(open_deg).ravel()
    g[G_REFQ:G_REFQ + 4] = _palm_frame(tuple(rest[1]), tuple(rest[7]), tuple(rest[12]),
                                       tuple(rest[17]), tuple(rest[22]))
    return g


def leg_geometry(thigh: float, shank: float, foot_length: float, ankle_height: float,
                 lim: np.ndarray, toe_fist_deg: float) -> np.ndarray:
    """Flat geometry array of one leg for :func:`solve_leg`."""
    g = np.zeros(LEG_GEOM_SIZE)
    g[G_L1], g[G_L2] = thigh, shank
    g[G_SOFT] = SOFT_FRACTION * (thigh + shank)
    g[G_DMIN] = _reach_min(thigh, shank, lim[3, 1])
    g[G_SWIVEL0] = DEFAULT_LEG_SWIVEL
    g[G_TWIST_REF:G_TWIST_REF + 3] = HIP_TWIST_REF
    g[G_SWIVEL_AXES:G_SWIVEL_AXES + 9] = _swivel_axes(LEG_SWIVEL_SINGULAR, LEG_SWIVEL_ZERO)
    g[G_REST:G_REST + 12] = rest_foot_positions(foot_length, ankle_height).ravel()
    g[G_TOEFIST] = np.radians(toe_fist_deg)
    return g
