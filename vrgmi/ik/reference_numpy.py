"""The arm solve (fixed = 1: two-bone + swivel + wrist + five-finger hand) in plain NumPy with
rotation matrices, no Numba. Used only by the benchmark to show what Numba buys, and by the
tests as an independent check of the kernels (same algorithm, other arithmetic).
"""
from __future__ import annotations

import math

import numpy as np

from vrgmi.ik import kernels as K

_DOWN = np.array([0.0, 0.0, -1.0])
_X = np.array([1.0, 0.0, 0.0])
_Y = np.array([0.0, 1.0, 0.0])
_MIRROR = np.diag([-1.0, 1.0, 1.0])


def _qmat(q: np.ndarray) -> np.ndarray:
    x, y, z, w = q / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def _mat_q(m: np.ndarray) -> np.ndarray:
    """Unit quaternion of a rotation matrix (Shepperd's method)."""
    tr = np.trace(m)
    if tr > 0:
        s = math.sqrt(tr + 1.0) * 2
        q = np.array([m[2, 1] - m[1, 2], m[0, 2] - m[2, 0], m[1, 0] - m[0, 1], 0.25 * s * s]) / s
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
        q = np.array([0.25 * s * s, m[0, 1] + m[1, 0], m[0, 2] + m[2, 0], m[2, 1] - m[1, 2]]) / s
    elif m[1, 1] > m[2, 2]:
        s = math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
        q = np.array([m[0, 1] + m[1, 0], 0.25 * s * s, m[1, 2] + m[2, 1], m[0, 2] - m[2, 0]]) / s
    else:
        s = math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
        q = np.array([m[0, 2] + m[2, 0], m[1, 2] + m[2, 1], 0.25 * s * s, m[1, 0] - m[0, 1]]) / s
    return q / np.linalg.norm(q)


def _axis_angle(axis: np.ndarray, a: float) -> np.ndarray:
    x, y, z = axis
    c, s, t = math.cos(a), math.sin(a), 1.0 - math.cos(a)
    return np.array([[t * x * x + c, t * x * y - s * z, t * x * z + s * y],
                     [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
                     [t * x * z - s * y, t * y * z + s * x, t * z * z + c]])


def _rx(a: float) -> np.ndarray:
    return _axis_angle(_X, a)


def _ry(a: float) -> np.ndarray:
    return _axis_angle(_Y, a)


def _rz(a: float) -> np.ndarray:
    return _axis_angle(np.array([0.0, 0.0, 1.0]), a)


def _unit(v: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    return fallback if n < 1e-12 else v / n


def _clamp_angle(a: float, lo: float, hi: float) -> float:
    if lo <= a <= hi:
        return a
    wrap = lambda x: (x + math.pi) % (2 * math.pi) - math.pi  # noqa: E731
    return lo if abs(wrap(a - lo)) < abs(wrap(a - hi)) else hi


def _shortest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation matrix of the shortest rotation taking unit a to unit b."""
    c, w = np.cross(a, b), 1.0 + a @ b
    if w < 1e-12:
        return _axis_angle(_Y if abs(a[0]) > 0.9 else _X, math.pi)
    q = np.r_[c, w]
    return _qmat(q / np.linalg.norm(q))


def _direction(phi: float, theta: float) -> np.ndarray:
    return np.array([math.sin(theta) * math.cos(phi), math.sin(theta) * math.sin(phi),
                     -math.cos(theta)])


def _root_reference(h: np.ndarray, geom: np.ndarray) -> np.ndarray:
    ref = geom[K.G_TWIST_REF:K.G_TWIST_REF + 3]
    return _shortest(ref, h) @ _shortest(_DOWN, ref)


def _root_angles(h: np.ndarray, x: np.ndarray, geom: np.ndarray) -> tuple[float, float, float]:
    phi = math.atan2(h[1], h[0])
    theta = math.acos(np.clip(-h[2], -1.0, 1.0))
    ref = _root_reference(h, geom)
    return phi, theta, math.atan2(x @ ref[:, 1], x @ ref[:, 0])


def _pole_label(phi: float, theta: float, sinus: np.ndarray) -> float:
    if theta <= K.POLE_TOL:
        return 0.0
    up = np.nonzero(sinus[1] >= math.pi - 1e-12)[0]
    return float(sinus[0, up[0]]) if theta >= math.pi - K.POLE_TOL and len(up) else phi


def _violation(a: tuple[float, float, float], lim: np.ndarray, sinus: np.ndarray) -> float:
    over = a[1] - np.interp(_pole_label(a[0], a[1], sinus), sinus[0], sinus[1])
    return max(over, 0.0) + max(a[2] - lim[2, 1], 0.0) + max(lim[2, 0] - a[2], 0.0)


def _project_sinus(h: np.ndarray, bound: np.ndarray, sinus: np.ndarray) -> np.ndarray:
    a, b = bound, np.roll(bound, -1, axis=0)
    m = np.cross(a, b)
    mn = np.linalg.norm(m, axis=1)
    ok = mn >= 1e-12
    m = m[ok] / mn[ok, None]
    p = h - (m @ h)[:, None] * m
    p /= np.linalg.norm(p, axis=1)[:, None]
    on = ((np.cross(a[ok], p) * m).sum(1) >= 0) & ((np.cross(p, b[ok]) * m).sum(1) >= 0)
    cands = np.concatenate([bound, p[on]])
    bp = cands[np.argmax(cands @ h)]
    theta = math.acos(np.clip(-bp[2], -1, 1))
    phi = _pole_label(math.atan2(bp[1], bp[0]), theta, sinus)
    return _direction(phi, min(theta, np.interp(phi, sinus[0], sinus[1])))


def _swivel_frame(u: np.ndarray, geom: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    b, e1b, e2b = geom[K.G_SWIVEL_AXES:K.G_SWIVEL_AXES + 9].reshape(3, 3)
    c = b @ u
    if c < -1.0 + 1e-9:
        return e1b, -e2b
    v = np.cross(b, u)
    tr = lambda x: x * c + np.cross(v, x) + v * (v @ x) / (1.0 + c)  # noqa: E731
    return tr(e1b), tr(e2b)


def _search_swivel(violation, psi: float, mode: float, last: float) -> tuple[float, float]:
    """The kernels' swivel search (kernels._search_swivel) over ``violation(swivel)``."""
    step, tol = K.SWIVEL_STEP, K.LIMIT_TOL

    def bisect(good, bad):
        for _ in range(K.SWIVEL_BISECT):
            mid = 0.5 * (good + bad)
            good, bad = (mid, bad) if violation(mid) <= tol else (good, mid)
        return good

    fresh = mode == K.MODE_FRESH
    anchor = psi if fresh else last
    c = anchor if violation(anchor) <= tol else None
    for j in range(1, 19):
        if c is not None:
            break
        for sg in (1.0, -1.0):
            if violation(anchor + sg * j * step) <= tol:
                c = bisect(anchor + sg * j * step, anchor + sg * (j - 1) * step)
                break
    if c is None:
        reach = step if fresh else K.SWIVEL_RETURN
        lo, hi, g = anchor - reach, anchor + reach, 0.5 * (math.sqrt(5.0) - 1.0)
        for _ in range(K.SWIVEL_BISECT):
            a, b = hi - g * (hi - lo), lo + g * (hi - lo)
            lo, hi = (lo, b) if violation(a) < violation(b) else (a, hi)
        return 0.5 * (lo + hi), K.MODE_LEAST
    d = (psi - c + math.pi) % (2 * math.pi) - math.pi
    sg = 1.0 if d >= 0 else -1.0
    out = c + d
    for j in range(1, int(abs(d) / step) + 2):
        x = c + sg * min(j * step, abs(d))
        if violation(x) > tol:
            out = bisect(c + sg * (j - 1) * step, x)
            break
    move = (out - anchor + math.pi) % (2 * math.pi) - math.pi
    if not fresh and abs(move) > K.SWIVEL_RETURN:
        out = anchor + math.copysign(K.SWIVEL_RETURN, move)
    return out, K.MODE_SEARCHED


def _two_bone(S, T, geom, lim, sinus, bound, psi, mode, last):
    L1, L2, w = geom[K.G_L1], geom[K.G_L2], geom[K.G_SOFT]
    d = T - S
    dist = np.linalg.norm(d)
    u = _unit(d, geom[K.G_SWIVEL_AXES:K.G_SWIVEL_AXES + 3])
    full = L1 + L2
    if dist > full - w:
        dist = full - w + w * (1.0 - math.exp(-(dist - full + w) / w))
    dist = max(dist, geom[K.G_DMIN])
    flex = math.acos(np.clip((dist ** 2 - L1 ** 2 - L2 ** 2) / (2 * L1 * L2), -1, 1))
    ca = np.clip((L1 ** 2 + dist ** 2 - L2 ** 2) / (2 * L1 * dist), -1, 1)
    sa = math.sqrt(1 - ca * ca)
    e1, e2 = _swivel_frame(u, geom)

    def pose(p):
        n = e1 * math.cos(p) + e2 * math.sin(p)
        return u * ca + n * sa, K.HS_ARM * np.cross(n, u)

    def violation(p):
        return _violation(_root_angles(*pose(p), geom), lim, sinus)

    back = (psi - last + math.pi) % (2 * math.pi) - math.pi
    if mode > K.MODE_ASKED and abs(back) > K.SWIVEL_RETURN:
        psi = last + math.copysign(K.SWIVEL_RETURN, back)
    if violation(psi) > K.LIMIT_TOL:
        psi, _ = _search_swivel(violation, psi, mode, last)
        psi = (psi + math.pi) % (2 * math.pi) - math.pi
    h, x = pose(psi)
    phi, theta, tw = _root_angles(h, x, geom)
    clamped = _violation((phi, theta, tw), lim, sinus) > K.LIMIT_TOL
    if theta > np.interp(_pole_label(phi, theta, sinus), sinus[0], sinus[1]) + K.LIMIT_TOL:
        h = _project_sinus(h, bound, sinus)
        x = _unit(x - h * (x @ h), np.cross(h, _Y))
        phi, theta, tw = _root_angles(h, x, geom)
    phi = _pole_label(phi, theta, sinus)
    theta = min(theta, np.interp(phi, sinus[0], sinus[1]))
    tw = min(lim[2, 1], max(lim[2, 0], tw))
    return phi, theta, tw, flex, clamped


def _finger_root(geom, f, a0, a1):
    ray = _qmat(geom[K.G_RAYQ + 4 * f:K.G_RAYQ + 4 * f + 4])
    return ray @ _ry(a0) @ _rx(geom[K.G_ABD + f] * a1), ray


def _aim_root(geom, f, d, lim):
    r = K.FINGER_DOF0 + 4 * f
    dl = _qmat(geom[K.G_RAYQ + 4 * f:K.G_RAYQ + 4 * f + 4]).T @ d
    a0 = math.atan2(-dl[0], -dl[2])
    a1 = geom[K.G_ABD + f] * math.asin(np.clip(dl[1], -1, 1))
    if f == 0:
        fl = lim[r, 1] if a0 >= 0 else -lim[r, 0]
        al = lim[r + 1, 1] if a1 >= 0 else -lim[r + 1, 0]
        e = math.hypot(a0 / fl, a1 / al)
        return (a0 / e, a1 / e) if e > 1 else (a0, a1)
    return float(np.clip(a0, *lim[r])), float(np.clip(a1, *lim[r + 1]))


def _aim_hinge(P, d, lo, hi):
    dl = P.T @ d
    return _clamp_angle(math.atan2(-dl[0], -dl[2]), lo, hi)


def _retarget(geom, f, t, lim, ang):
    r = K.FINGER_DOF0 + 4 * f
    rest = geom[K.G_REST:K.G_REST + 78].reshape(26, 3)
    p0 = rest[K.FINGER_CHAINS[f, 0]]
    ln = geom[K.G_BONE + 3 * f:K.G_BONE + 3 * f + 3]
    ltrk = np.linalg.norm(np.diff(t, axis=0), axis=1).sum()
    if ltrk < 1e-6:
        ang[r:r + 4] = 0.0
        return
    T = p0 + (t[3] - t[0]) * ln.sum() / ltrk

    def forward(d0, q1, q2, directions):
        """One constrained pass from the root: bone i aims along d_i (directions) or at q_i."""
        a0, a1 = _aim_root(geom, f, _unit(d0, _DOWN), lim)
        F1 = _finger_root(geom, f, a0, a1)[0]
        p1 = p0 + ln[0] * (F1 @ _DOWN)
        a2 = _aim_hinge(F1, _unit(q1 if directions else q1 - p1, _DOWN), *lim[r + 2])
        F2 = F1 @ _ry(a2)
        p2 = p1 + ln[1] * (F2 @ _DOWN)
        a3 = _aim_hinge(F2, _unit(q2 if directions else q2 - p2, _DOWN), *lim[r + 3])
        return (a0, a1, a2, a3), p1, p2, p2 + ln[2] * (F2 @ _ry(a3) @ _DOWN)

    a, p1, p2, p3 = forward(t[1] - t[0], t[2] - t[1], t[3] - t[2], True)
    err, best = np.linalg.norm(p3 - T), a
    for _ in range(K.FABRIK_ITERATIONS):
        if err < K.FABRIK_TOLERANCE:
            break
        b2 = T + ln[2] * _unit(p2 - T, _DOWN)
        b1 = b2 + ln[1] * _unit(p1 - b2, _DOWN)
        a, p1, p2, p3 = forward(b1 - p0, b2, T, False)
        gain = err - np.linalg.norm(p3 - T)
        if gain > 0.0:
            best, err = a, err - gain
        if gain < K.FABRIK_MIN_GAIN:
            break
    ang[r:r + 4] = best


def _palm_frame(w, pi, pm, pr, pl):
    e1 = _unit((pi + pm + pr + pl) / 4 - w, _DOWN)
    v2 = pi - pl
    e2 = _unit(v2 - e1 * (v2 @ e1), _Y)
    return np.stack([e1, e2, np.cross(e1, e2)], axis=1)


def solve_arm_numpy(torso: np.ndarray, shoulder: np.ndarray, target: np.ndarray,
                    swivel: float, side: int, curls: np.ndarray, hand: np.ndarray | None,
                    geom: np.ndarray, lim: np.ndarray, sinus: np.ndarray, bound: np.ndarray,
                    state: tuple[float, float] = (K.MODE_FRESH, 0.0),
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Arm + hand solve with the whole root joint free (fixed = 1). ``hand`` (26, 7) world
    tracked joints, or None to use ``curls``; ``state`` the last frame's swivel search mode
    and swivel (see kernels._search_swivel). Returns positions (28, 3), rotations (28, 4),
    angles (27,) and the wrist error (m), as :meth:`ArmSolver.solve` writes them."""
    o, RT = torso[:3], _qmat(torso[3:])
    M = _MIRROR if side == 0 else np.eye(3)
    to_p = lambda p: M @ RT.T @ (p - o)  # noqa: E731
    S, T = to_p(shoulder), to_p(target[:3])
    Qt = M @ RT.T @ _qmat(target[3:]) @ M
    psi = geom[K.G_SWIVEL0] if math.isnan(swivel) else swivel
    L1, L2 = geom[K.G_L1], geom[K.G_L2]
    ang = np.zeros(len(lim))
    phi, theta, tw, flex, clamped = _two_bone(S, T, geom, lim, sinus, bound, psi, *state)
    Qu = _root_reference(_direction(phi, theta), geom) @ _rz(tw)
    E = S + L1 * (Qu @ _DOWN)
    if clamped:
        v = Qu.T @ (T - E)
        flex = _clamp_angle(K.HS_ARM * math.atan2(v[1], -v[2]), *lim[3])
    Qf0 = Qu @ _rx(K.HS_ARM * flex)
    m = Qf0.T @ Qt
    pron = _clamp_angle(math.atan2(m[1, 0], m[0, 0]), *lim[4])
    wflex = _clamp_angle(math.asin(np.clip(-m[2, 0], -1, 1)), *lim[5])
    dev = _clamp_angle(-math.atan2(m[2, 1], m[2, 2]), *lim[6])
    Qf = Qf0 @ _rz(pron)
    W = E + L2 * (Qf @ _DOWN)
    Qh = Qf @ _ry(wflex) @ _rx(-dev)
    ang[:7] = phi, theta, tw, flex, pron, wflex, dev
    rest = geom[K.G_REST:K.G_REST + 78].reshape(26, 3)
    if hand is not None:
        hp = np.array([to_p(p) for p in hand[:, :3]])
        R = _palm_frame(hp[1], hp[7], hp[12], hp[17], hp[22]) @ _palm_frame(
            rest[1], rest[7], rest[12], rest[17], rest[22]).T
        for f, chain in enumerate(K.FINGER_CHAINS):
            _retarget(geom, f, (hp[chain] - hp[1]) @ R, lim, ang)
    else:
        fist = geom[K.G_FIST:K.G_FIST + 20].reshape(5, 4)
        open_ = geom[K.G_OPEN:K.G_OPEN + 20].reshape(5, 4)
        ang[7:] = (open_ + np.clip(curls, 0, 1)[:, None] * (fist - open_)).ravel()
    pos = np.zeros((28, 3))
    rot = np.zeros((28, 3, 3))
    pos[:3], rot[:3] = (S, E, W), (Qu, Qf, Qh)
    pos[3], rot[3] = W + Qh @ rest[0], Qh
    for i in K.RIGID_METACARPALS:
        pos[i + 2], rot[i + 2] = W + Qh @ rest[i], Qh
    for f, c in enumerate(K.FINGER_CHAINS):
        r = K.FINGER_DOF0 + 4 * f
        F, ray = _finger_root(geom, f, ang[r], ang[r + 1])
        p = rest[c[0]].copy()
        pos[c[0] + 2] = W + Qh @ p
        for b in range(3):
            if b > 0:
                F = F @ _ry(ang[r + 1 + b])
            rot[c[b] + 2] = Qh @ F @ ray.T
            p = p + geom[K.G_BONE + 3 * f + b] * (F @ _DOWN)
            pos[c[b + 1] + 2] = W + Qh @ p
        rot[c[3] + 2] = Qh @ F @ ray.T
    world_p = o + (pos @ M.T) @ RT.T
    quats = np.array([_mat_q(RT @ M @ r @ M) for r in rot])
    quats *= np.where(quats[:, 3:] < 0, -1.0, 1.0)
    return world_p, quats, ang, float(np.linalg.norm(W - T))
