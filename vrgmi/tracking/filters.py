"""Tracking filters, applied in place to a TrackingFrame once per frame.

Every pose channel (head, both grips, both aims, each hand's 26 joints as one block, each
tracker) goes through the same steps:

1. **Validity**: a pose that is NaN/inf, has a quaternion whose norm is off 1 by more than
   ``quat_tolerance``, or moved farther (or turned more) since its last good sample than
   ``max_speed_mps`` (``max_angular_speed_dps``) allows in the time between, is lost for this
   frame. Quaternions within tolerance are renormalised.
2. **Hold and fade**: a lost channel keeps its last output pose; after ``hold_s`` its
   ``visibility`` falls linearly to 0 over ``fade_s``. At visibility 0 its valid flag is False.
3. **Blend back**: when a lost channel comes back, its pose moves from the held pose to the
   live one over ``blend_s`` (position lerp, quaternion slerp) while visibility rises to 1
   at the same rate, so nothing jumps.
4. **Hand identity** (both hands' channels: grips, aims, hand joints): a runtime that swaps
   the two controllers (or hands) for a moment reports each at the other's place. An input
   that lands nearer the *other* hand's last accepted place than half the hands' separation,
   and more than that from its own, while the other hand is tracked and the hands were at
   least ``swap_min_separation_m`` apart, is an implausible identity: it is lost for this
   frame (held, then faded), never followed. A swap that lasts past ``swap_accept_s`` is
   taken as the runtime's word (the inputs are accepted and blended in as on a reacquire).
5. **One Euro smoothing** (Casiez, Roussel & Vogel 2012, CHI, "1 Euro filter"), optional: a
   low-pass whose cutoff is ``min_cutoff + beta * speed``; speed is the smoothed derivative
   in mm/s for positions and deg/s for orientations (one ``beta`` serves both), derivatives
   low-passed at ``d_cutoff``.

After ``apply`` a channel's valid flag means "the frame holds a usable pose" (live, blending
or held); ``*_visibility`` says how much of it to show and ``*_live`` whether this frame's
input was accepted. Trigger and squeeze values are cleaned to 0..1 (NaN -> 0).
All state is preallocated; ``apply`` allocates no arrays.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from numba import njit

from vrgmi.errors import VrgmiError
from vrgmi.spatial import qslerp_t
from vrgmi.tracking.frame import HAND_JOINT_COUNT, TRACKER_ROLES, TrackingFrame


class FilterSettingsError(VrgmiError, ValueError):
    """A filter setting is out of range (one line naming it)."""


_BOUNDS = {  # name: (lo, hi, meaning)
    "max_speed_mps": (1.0, 30.0, "m/s; faster moves are tracking glitches"),
    "max_angular_speed_dps": (90.0, 20000.0, "deg/s; faster turns are tracking glitches"),
    "quat_tolerance": (1e-6, 0.5, "allowed | |q| - 1 | of a tracked quaternion"),
    "hold_s": (0.0, 5.0, "seconds a lost pose is held"),
    "fade_s": (0.0, 5.0, "seconds a held pose takes to fade out"),
    "blend_s": (0.0, 2.0, "seconds to blend back on reacquire"),
    "min_cutoff": (0.01, 20.0, "One Euro minimum cutoff, Hz"),
    "beta": (0.0, 10.0, "One Euro speed coefficient, Hz per mm/s (and per deg/s)"),
    "d_cutoff": (0.01, 20.0, "One Euro derivative cutoff, Hz"),
    "swap_min_separation_m": (0.05, 1.0, "m; hands closer than this cannot be told apart"),
    "swap_accept_s": (0.1, 30.0, "seconds a suspected hand swap is refused"),
}


@dataclass(frozen=True)
class FilterSettings:
    """Filter parameters (validated on construction; see the module docstring)."""

    max_speed_mps: float = 10.0
    max_angular_speed_dps: float = 2000.0
    quat_tolerance: float = 0.01
    hold_s: float = 0.5
    fade_s: float = 0.5
    blend_s: float = 0.25
    smoothing: bool = True
    min_cutoff: float = 1.0
    beta: float = 0.05
    d_cutoff: float = 1.0
    swap_min_separation_m: float = 0.15
    swap_accept_s: float = 3.0

    def __post_init__(self) -> None:
        if not isinstance(self.smoothing, bool):
            raise FilterSettingsError(
                f"FilterSettings.smoothing = {self.smoothing!r} must be True or False")
        for f in fields(self):
            if f.name not in _BOUNDS:
                continue
            lo, hi, meaning = _BOUNDS[f.name]
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
                raise FilterSettingsError(f"FilterSettings.{f.name} = {v!r} is out of range "
                                          f"{lo:g}..{hi:g} ({meaning})")

    def params(self) -> np.ndarray:
        """The kernel's parameter vector (angular speed in rad/s)."""
        return np.array([self.max_speed_mps, math.radians(self.max_angular_speed_dps),
                         self.quat_tolerance, self.hold_s, self.fade_s, self.blend_s,
                         1.0 if self.smoothing else 0.0, self.min_cutoff, self.beta,
                         self.d_cutoff, self.swap_min_separation_m, self.swap_accept_s])


_HAS_OUT, _LIVE = 1, 2          # channel flags: ever accepted; accepted last frame


@njit(cache=True, inline="always")
def _alpha(cutoff, te):
    r = 2.0 * np.pi * cutoff * te
    return r / (r + 1.0)


@njit(cache=True, inline="always")
def _quat_angle(a, b):
    """Rotation angle (rad) between unit quaternions a and b (4-element views)."""
    d = abs(a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3])
    return 2.0 * np.arccos(min(d, 1.0))


@njit(cache=True)
def _slerp(a, b, t, out):
    """out = shortest-path slerp of unit quaternions a -> b (4-element views); out may
    alias a or b."""
    out[0], out[1], out[2], out[3] = qslerp_t(a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3], t)


@njit(cache=True)
def _interp_pose(a, b, t, out):
    """out = (lerp of positions, slerp of quaternions) of (7,) poses a -> b; may alias."""
    for k in range(3):
        out[k] = a[k] + t * (b[k] - a[k])
    _slerp(a[3:7], b[3:7], t, out[3:7])


@njit(cache=True)
def _accept(poses, c, ref, age, has_ref, prm):
    """Is channel c's input pose block finite, unit and humanly reachable? Renormalises."""
    m = poses.shape[1]
    for j in range(m):
        p = poses[c, j]
        for k in range(7):
            if not np.isfinite(p[k]):
                return False
        n = np.sqrt(p[3] * p[3] + p[4] * p[4] + p[5] * p[5] + p[6] * p[6])
        if abs(n - 1.0) > prm[2]:
            return False
    for j in range(m):
        p = poses[c, j]
        n = np.sqrt(p[3] * p[3] + p[4] * p[4] + p[5] * p[5] + p[6] * p[6])
        for k in range(3, 7):
            p[k] /= n
    if has_ref:
        max_d, max_a = prm[0] * age, prm[1] * age
        for j in range(m):
            p, r = poses[c, j], ref[c, j]
            dx, dy, dz = p[0] - r[0], p[1] - r[1], p[2] - r[2]
            if dx * dx + dy * dy + dz * dz > max_d * max_d:
                return False
            if _quat_angle(p[3:7], r[3:7]) > max_a:
                return False
    return True


@njit(cache=True, inline="always")
def _dist(a, b):
    """Distance between the positions of two poses (7-element views)."""
    dx, dy, dz = a[0] - b[0], a[1] - b[1], a[2] - b[2]
    return np.sqrt(dx * dx + dy * dy + dz * dz)


@njit(cache=True)
def _check_identity(poses, valid, ref, flags, dt, prm, swap_s):
    """Mark lost (``valid[c] = False``) each of two hand channels whose input sits at the
    other hand's last accepted place (module docstring, step 4); ``swap_s[0]`` counts how
    long a swap has been suspected, and past ``swap_accept_s`` nothing is refused."""
    if (flags[0] & _HAS_OUT) == 0 or (flags[1] & _HAS_OUT) == 0:
        swap_s[0] = 0.0
        return
    sep = _dist(ref[0, 0], ref[1, 0])
    if sep < prm[10]:
        swap_s[0] = 0.0
        return
    half = 0.5 * sep
    suspect0 = valid[0] and valid[1] and _dist(poses[0, 0], ref[1, 0]) < half \
        and _dist(poses[0, 0], ref[0, 0]) > half
    suspect1 = valid[0] and valid[1] and _dist(poses[1, 0], ref[0, 0]) < half \
        and _dist(poses[1, 0], ref[1, 0]) > half
    if not (suspect0 or suspect1):
        swap_s[0] = 0.0
        return
    swap_s[0] += dt
    if swap_s[0] > prm[11]:
        return                                 # a lasting swap: the runtime's identities
    if suspect0:
        valid[0] = False
    if suspect1:
        valid[1] = False


@njit(cache=True)
def _one_euro(raw, prev, te, sm, der, prm):
    """One Euro step for one pose: ``raw`` input, ``prev`` the previous raw input ``te``
    seconds earlier; updates the smoothed pose ``sm`` (7,) and the smoothed linear and
    angular velocity ``der`` (6,) (m/s, rad/s; world axes)."""
    a_d = _alpha(prm[9], te)
    for k in range(3):
        der[k] += a_d * ((raw[k] - prev[k]) / te - der[k])
    # rotation vector of raw * prev^-1, the turn since the previous sample
    ax, ay, az, aw = raw[3], raw[4], raw[5], raw[6]
    bx, by, bz, bw = -prev[3], -prev[4], -prev[5], prev[6]
    x = aw * bx + ax * bw + ay * bz - az * by
    y = aw * by - ax * bz + ay * bw + az * bx
    z = aw * bz + ax * by - ay * bx + az * bw
    w = aw * bw - ax * bx - ay * by - az * bz
    if w < 0.0:
        x, y, z, w = -x, -y, -z, -w
    n = np.sqrt(x * x + y * y + z * z)
    f = 2.0 * np.arctan2(n, w) / n if n > 1e-12 else 2.0
    der[3] += a_d * (x * f / te - der[3])
    der[4] += a_d * (y * f / te - der[4])
    der[5] += a_d * (z * f / te - der[5])
    speed_mm_s = 1000.0 * np.sqrt(der[0] * der[0] + der[1] * der[1] + der[2] * der[2])
    turn_deg_s = (180.0 / np.pi) * np.sqrt(der[3] * der[3] + der[4] * der[4] + der[5] * der[5])
    a_p = _alpha(prm[7] + prm[8] * speed_mm_s, te)
    a_q = _alpha(prm[7] + prm[8] * turn_deg_s, te)
    for k in range(3):
        sm[k] += a_p * (raw[k] - sm[k])
    _slerp(sm[3:7], raw[3:7], a_q, sm[3:7])


@njit(cache=True)
def _filter_channels(poses, valid, dt, prm, ref, out, frm, sm, der, age, blend, vis, flags,
                     live):
    """Filter C channels of M poses each: ``poses`` (C, M, 7) and ``valid`` (C,) in place."""
    hold, fade, blend_s = prm[3], prm[4], prm[5]
    for c in range(poses.shape[0]):
        te = age[c] + dt                       # seconds since the last accepted sample
        age[c] = te
        has_out = (flags[c] & _HAS_OUT) != 0
        ok = valid[c] and _accept(poses, c, ref, te, has_out, prm)
        if ok:
            was_live = (flags[c] & _LIVE) != 0
            for j in range(poses.shape[1]):
                if was_live and prm[6] > 0.0:
                    _one_euro(poses[c, j], ref[c, j], te, sm[c, j], der[c, j], prm)
                else:
                    sm[c, j, :] = poses[c, j]
                    der[c, j, :] = 0.0
            if not was_live:
                if has_out:
                    frm[c, :, :] = out[c]
                    blend[c] = 0.0
                else:
                    blend[c] = 1.0
            step = dt / blend_s if blend_s > 0.0 else 1.0
            blend[c] = min(1.0, blend[c] + step)
            vis[c] = min(1.0, vis[c] + step)
            for j in range(poses.shape[1]):
                if blend[c] >= 1.0:
                    out[c, j, :] = sm[c, j]
                else:
                    _interp_pose(frm[c, j], sm[c, j], blend[c], out[c, j])
            ref[c, :, :] = poses[c]
            age[c] = 0.0
            flags[c] = _HAS_OUT | _LIVE
            live[c] = True
        else:
            flags[c] = flags[c] & _HAS_OUT
            live[c] = False
            if has_out:
                if fade > 0.0:
                    target = 1.0 - (te - hold) / fade
                else:
                    target = 0.0 if te > hold else 1.0
                if target < 1e-9:                  # fully faded (also absorbs rounding in te)
                    target = 0.0
                vis[c] = min(vis[c], min(1.0, target))
        if has_out or ok:
            poses[c, :, :] = out[c]
        valid[c] = vis[c] > 0.0


@njit(cache=True)
def _clean_unit(a, b):
    """Clamp two (2,) value arrays to 0..1 in place, NaN -> 0."""
    for k in range(a.shape[0]):
        a[k] = min(1.0, max(0.0, a[k])) if np.isfinite(a[k]) else 0.0
        b[k] = min(1.0, max(0.0, b[k])) if np.isfinite(b[k]) else 0.0


class _Channels:
    """Preallocated state of C channels of M poses."""

    def __init__(self, c: int, m: int) -> None:
        self.ref = np.zeros((c, m, 7))
        self.out = np.zeros((c, m, 7))
        self.frm = np.zeros((c, m, 7))
        self.sm = np.zeros((c, m, 7))
        self.der = np.zeros((c, m, 6))
        self.age = np.zeros(c)
        self.blend = np.zeros(c)
        self.visibility = np.zeros(c)
        self.flags = np.zeros(c, dtype=np.uint8)
        self.live = np.zeros(c, dtype=np.bool_)
        self.state = (self.ref, self.out, self.frm, self.sm, self.der, self.age, self.blend,
                      self.visibility, self.flags, self.live)
        #: seconds a hand swap has been suspected (both hands' channels only)
        self.swap_s = np.zeros(1)

    def reset(self) -> None:
        for a in (*self.state, self.swap_s):
            a[...] = 0

    def check_identity(self, poses: np.ndarray, valid: np.ndarray, dt: float,
                       prm: np.ndarray) -> None:
        """Step 4 of the module docstring on a left/right pair of channels."""
        _check_identity(poses, valid, self.ref, self.flags, dt, prm, self.swap_s)


class PoseFilter:
    """Validity, hold/fade, blend-back and One Euro smoothing for every pose channel.

    Per-channel state is exposed read-only as arrays: ``grip_visibility`` (2,),
    ``aim_visibility`` (2,), ``hand_visibility`` (2,), ``tracker_visibility`` (R,),
    ``head_visibility`` (1,), and ``*_live`` (bool, input accepted this frame).
    """

    def __init__(self, settings: FilterSettings | None = None) -> None:
        self.settings = settings or FilterSettings()
        self._prm = self.settings.params()
        self._head = _Channels(1, 1)
        self._grip = _Channels(2, 1)
        self._aim = _Channels(2, 1)
        self._hand = _Channels(2, HAND_JOINT_COUNT)
        self._tracker = _Channels(len(TRACKER_ROLES), 1)
        self._head_valid = np.zeros(1, dtype=np.bool_)
        self.head_visibility = self._head.visibility
        self.grip_visibility = self._grip.visibility
        self.aim_visibility = self._aim.visibility
        self.hand_visibility = self._hand.visibility
        self.tracker_visibility = self._tracker.visibility
        self.head_live = self._head.live
        self.grip_live = self._grip.live
        self.aim_live = self._aim.live
        self.hand_live = self._hand.live
        self.tracker_live = self._tracker.live

    def reset(self) -> None:
        """Forget all history (every channel starts as never seen)."""
        for ch in (self._head, self._grip, self._aim, self._hand, self._tracker):
            ch.reset()

    def apply(self, frame: TrackingFrame, dt: float) -> None:
        """Filter ``frame`` in place; ``dt`` is the time since the previous frame (s)."""
        if not (dt > 0.0 and math.isfinite(dt)):
            raise FilterSettingsError(f"PoseFilter.apply: dt = {dt!r} must be a positive "
                                      "number of seconds")
        prm = self._prm
        self._head_valid[0] = frame.head_valid
        _filter_channels(frame.head.reshape(1, 1, 7), self._head_valid, dt, prm,
                         *self._head.state)
        frame.head_valid = bool(self._head_valid[0])
        grip, aim = frame.grip.reshape(2, 1, 7), frame.aim.reshape(2, 1, 7)
        self._grip.check_identity(grip, frame.grip_valid, dt, prm)
        self._aim.check_identity(aim, frame.aim_valid, dt, prm)
        self._hand.check_identity(frame.hand_joints, frame.hand_valid, dt, prm)
        _filter_channels(grip, frame.grip_valid, dt, prm, *self._grip.state)
        _filter_channels(aim, frame.aim_valid, dt, prm, *self._aim.state)
        _filter_channels(frame.hand_joints, frame.hand_valid, dt, prm, *self._hand.state)
        _filter_channels(frame.tracker.reshape(-1, 1, 7), frame.tracker_valid, dt, prm,
                         *self._tracker.state)
        _clean_unit(frame.trigger, frame.squeeze)


def warmup() -> None:
    """Compile (or load from the cache) the filter kernels before the first frame."""
    frame = TrackingFrame()
    frame.grip_valid[:] = True
    f = PoseFilter()
    for _ in range(3):
        f.apply(frame, 0.01)
