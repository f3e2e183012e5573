"""Scripted motions of a seated patient's intact limb, for demos, tests and benchmarks.

The patient sits at the origin facing +y (engine space), eyes about 1.2 m above the floor
(scaled by height / 1.75 m), shoulders 0.25 m below the eyes and 0.19 m to each side. The
intact hand moves in front of the body within reach at human speeds (minimum-jerk reaches,
well under 2 m/s); the amputated side's controller is not tracked. Hand motions (``wave``,
``fist_open``, ``pinch``) also give the intact hand's 26 XR hand joints, with trigger = index
curl (or pinch) and squeeze = mean curl of the other three fingers. Leg motions
(``foot_tap``, ``ankle_circles``) move ``tracker_<intact>_foot`` (orientation: the foot's,
identity = flat, toes forward) and track no hand. The head sways a few millimetres and
looks down 20 deg (arm motions, at the hands) or 45 deg (leg motions, at the feet).

Every motion is periodic; one cycle is built vectorised and tiled, so a long replay is cheap
and :class:`ScriptedSource` (a looping replay of one cycle) matches
:func:`make_scripted_replay`. A ``seed`` varies amplitudes, centres and phases
deterministically. The left side is the right side mirrored across the body midline.
"""
from __future__ import annotations

import numpy as np

from vrgmi.body.hand import REST_WRIST_QUAT, grip_from_wrist, hand_joints_from_curl
from vrgmi.errors import VrgmiError
from vrgmi.tracking.frame import HAND_JOINT_COUNT, SIDES, TrackingFrame
from vrgmi.tracking.replay import Replay, ReplaySource


class SourceError(VrgmiError, ValueError):
    """A scripted or desktop source was asked for something invalid (unknown motion or side,
    a value out of range)."""


#: motion name -> nominal cycle length in seconds
MOTIONS: dict[str, float] = {
    "rest": 4.0, "reach": 9.0, "figure_eight": 6.0, "wave": 4.0, "fist_open": 3.0,
    "pinch": 2.5, "foot_tap": 2.0, "ankle_circles": 5.0,
}
HAND_MOTIONS = ("wave", "fist_open", "pinch")
LEG_MOTIONS = ("foot_tap", "ankle_circles")

_X, _Y, _Z = np.eye(3)
_D = np.pi / 180.0


# --- vectorised quaternion helpers (scalar-last, (..., 4)) ---

def _qaxis(axis: np.ndarray, angle: np.ndarray | float) -> np.ndarray:
    half = 0.5 * np.asarray(angle, dtype=np.float64)
    return np.concatenate([np.multiply.outer(np.sin(half), axis),
                           np.cos(half)[..., None]], axis=-1)


def _qmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ax, ay, az, aw = np.moveaxis(a, -1, 0)
    bx, by, bz, bw = np.moveaxis(b, -1, 0)
    return np.stack([aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw,
                     aw * bw - ax * bx - ay * by - az * bz], axis=-1)


def _qrot(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    u, w = q[..., :3], q[..., 3:]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def _min_jerk(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x ** 3 * (10.0 - 15.0 * x + 6.0 * x * x)


class SeatedBody:
    """Seated-patient landmarks (engine space, metres; RIGHT side) for a standing height."""

    def __init__(self, height_m: float) -> None:
        if not 1.2 <= height_m <= 2.2:
            raise SourceError(f"height_m {height_m!r} is outside 1.2..2.2")
        s = height_m / 1.75
        self.s = s
        self.head = np.array([0.0, 0.0, 1.2 * s])
        self.shoulder = np.array([0.19 * s, 0.0, 0.95 * s])   # right
        self.upper_arm = 0.186 * height_m                      # Winter 2009 segment fractions
        self.forearm = 0.146 * height_m
        self.hand = 0.108 * height_m
        self.foot = 0.152 * height_m
        self.ankle_height = 0.039 * height_m


# --- motions: right side, functions of the cycle phase u in [0, 1) ---
# arm motions return (wrist position (N,3), hand rotation from rest (N,4), curls (N,5) | None,
# pinch (N,) | None); leg motions return (foot tracker position (N,3), rotation (N,4)).

def _rest(u, b, v):
    n = len(u)
    pos = b.s * np.array([0.17, 0.30, 0.64]) + v["offset"]
    pos = np.tile(pos, (n, 1))
    pos[:, 2] += 0.003 * np.sin(2 * np.pi * u + v["phase"][0])      # breathing
    rot = _qmul(_qaxis(_Y, -90 * _D), _qaxis(_X, 80 * _D))          # forward, palm down
    return pos, np.tile(rot, (n, 1)), None, None


def _reach(u, b, v):
    s, a = b.s, v["amp"]
    start = s * np.array([0.20, 0.22, 0.80]) + v["offset"]
    targets = s * np.array([[0.20, 0.52, 0.95], [0.17, 0.48, 1.00], [0.35, 0.45, 0.90]])
    seg = np.minimum((3 * u).astype(int), 2)
    w = 3 * u - seg                                                 # 3 s per reach
    prof = np.where(w < 0.45, _min_jerk(w / 0.3333), _min_jerk((0.8 - w) / 0.3333))
    goal = start + a * (targets[seg] + v["offset"] - start)
    pos = start + prof[:, None] * (goal - start)
    d = goal - b.shoulder
    yaw = np.arctan2(-d[:, 0], d[:, 1]) * prof
    pitch = (60 + 30 * prof) * _D
    rot = _qmul(_qaxis(_Z, yaw), _qaxis(_X, pitch))
    return pos, rot, None, None


def _figure_eight(u, b, v):
    s, a = b.s, v["amp"]
    c = s * np.array([0.28, 0.40, 0.95]) + v["offset"]
    ph = 2 * np.pi * u
    pos = np.stack([c[0] + a * 0.15 * s * np.sin(ph),
                    c[1] + 0.02 * s * np.cos(ph),
                    c[2] + a * 0.08 * s * np.sin(2 * ph)], axis=-1)
    rot = _qmul(_qaxis(_Z, 0.25 * np.sin(ph)), _qaxis(_X, (90 + 10 * np.sin(2 * ph)) * _D))
    return pos, rot, None, None


def _wave(u, b, v):
    a = v["amp"]
    upper = np.array([0.70, 0.50, -0.50])
    elbow = b.shoulder + b.upper_arm * upper / np.linalg.norm(upper) + v["offset"]
    swing = _qaxis(_Y, a * 0.35 * np.sin(2 * np.pi * 5 * u))       # 1.25 Hz at 4 s
    pos = elbow + _qrot(swing, np.array([0.0, 0.0, b.forearm]))
    up_palm_forward = _qmul(_qaxis(_Z, -90 * _D), _qaxis(_X, 180 * _D))
    rot = _qmul(swing, up_palm_forward)
    curls = np.tile([0.10, 0.05, 0.05, 0.08, 0.10], (len(u), 1))
    curls += 0.05 * np.sin(2 * np.pi * 5 * u + v["phase"][1])[:, None]
    return pos, rot, curls, np.zeros(len(u))


def _hand_in_front(u, b, v):
    pos = np.tile(b.s * np.array([0.22, 0.36, 0.86]) + v["offset"], (len(u), 1))
    pos[:, 2] += 0.005 * np.sin(2 * np.pi * u + v["phase"][0])
    rot = np.tile(_qmul(_qaxis(_Y, -30 * _D), _qaxis(_X, 80 * _D)), (len(u), 1))
    return pos, rot


def _fist_open(u, b, v):
    pos, rot = _hand_in_front(u, b, v)
    c = v["amp"] * (0.5 - 0.5 * np.cos(2 * np.pi * u))
    return pos, rot, np.clip(np.repeat(c[:, None], 5, axis=1), 0, 1), np.zeros(len(u))


def _pinch(u, b, v):
    pos, rot = _hand_in_front(u, b, v)
    p = 0.5 - 0.5 * np.cos(2 * np.pi * u)
    curls = np.zeros((len(u), 5))
    curls[:, 2:] = 0.15 * p[:, None]
    return pos, rot, curls, p


#: how far (m at 1.75 m) the tapping foot's ankle is forward of the eyes: the feet forward
#: of the knees (knees bent about 45 deg), as a seated patient asked to watch the feet puts
#: them, so the eyes looking down see them past the knees (at 0.45 m, knees bent about 70
#: deg, the knees hid them)
FOOT_TAP_FORWARD_M = 0.56
#: how far (deg) each tap lifts the toes about the heel (off a pedal's 20 deg incline)
FOOT_TAP_LIFT_DEG = 25.0


def _foot_tap(u, b, v):
    ankle = np.array([0.15 * b.s, FOOT_TAP_FORWARD_M * b.s, b.ankle_height]) \
        + v["offset"] * [1, 1, 0]
    heel = ankle + np.array([0.0, -0.22 * b.foot, -b.ankle_height])
    tracker = ankle + np.array([0.0, 0.28 * b.foot, 0.0])
    lift = v["amp"] * FOOT_TAP_LIFT_DEG * _D * np.maximum(0.0, np.sin(2 * np.pi * 4 * u)) ** 2
    rot = _qaxis(_X, lift)                                          # toes up about the heel
    return heel + _qrot(rot, tracker - heel), rot


def _ankle_circles(u, b, v):
    ankle = b.s * np.array([0.15, 0.62, 0.16]) + v["offset"]
    ph = 2 * np.pi * 2 * u                                          # two circles a cycle
    rot = _qmul(_qaxis(_Z, v["amp"] * 15 * _D * np.cos(ph)),
                _qaxis(_X, v["amp"] * 20 * _D * np.sin(ph)))
    return ankle + _qrot(rot, np.array([0.0, 0.28 * b.foot, 0.0])), rot


_MOTION_FUNCS = {"rest": _rest, "reach": _reach, "figure_eight": _figure_eight, "wave": _wave,
                 "fist_open": _fist_open, "pinch": _pinch, "foot_tap": _foot_tap,
                 "ankle_circles": _ankle_circles}


def _head(u: np.ndarray, b: SeatedBody, v: dict, period: float, leg: bool) -> np.ndarray:
    def k(hz: float) -> float:                 # whole cycles per period, for a seamless loop
        return max(1.0, round(hz * period))

    ph = v["phase"]
    pos = b.head + np.stack([0.004 * np.sin(2 * np.pi * k(0.2) * u + ph[2]),
                             0.004 * np.sin(2 * np.pi * k(0.27) * u + ph[3]),
                             0.002 * np.sin(2 * np.pi * k(0.25) * u + ph[0])], axis=-1)
    pitch = (-45.0 if leg else -20.0) * _D + 0.017 * np.sin(2 * np.pi * k(0.27) * u + ph[1])
    yaw = 0.026 * np.sin(2 * np.pi * k(0.2) * u + ph[3])
    return np.concatenate([pos, _qmul(_qaxis(_Z, yaw), _qaxis(_X, pitch))], axis=-1)


def _mirror(poses: np.ndarray) -> np.ndarray:
    """Right -> left across the midline x = 0 (the seated torso faces +y at the origin)."""
    return poses * np.array([-1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0])


def check_side(intact_side: str) -> int:
    """The frame index (0 left, 1 right) of ``intact_side``, or SourceError."""
    if intact_side not in SIDES:
        raise SourceError(f"intact_side {intact_side!r} must be 'left' or 'right'")
    return SIDES.index(intact_side)


def _check(motion: str, intact_side: str, rate_hz: float, height_m: float) -> None:
    if motion not in MOTIONS:
        raise SourceError(f"unknown scripted motion {motion!r}; choose one of "
                          f"{', '.join(MOTIONS)}")
    check_side(intact_side)
    if not 10.0 <= rate_hz <= 1000.0:
        raise SourceError(f"rate_hz {rate_hz!r} is outside 10..1000")
    SeatedBody(height_m)


def cycle_samples(motion: str, rate_hz: float) -> int:
    """Samples in one cycle of ``motion`` at ``rate_hz`` (the cycle is this many / rate s)."""
    return max(2, round(MOTIONS[motion] * rate_hz))


def _cycle(motion: str, rate_hz: float, intact_side: str, seed: int,
           height_m: float) -> dict[str, np.ndarray]:
    """One cycle, file keys -> engine-space arrays (without 't')."""
    n = cycle_samples(motion, rate_hz)
    period = n / rate_hz
    rng = np.random.default_rng(seed)
    v = {"amp": 1.0 + rng.uniform(-0.1, 0.1), "offset": rng.uniform(-0.015, 0.015, 3),
         "phase": rng.uniform(0.0, 2 * np.pi, 4)}
    u = (np.arange(n) / n + rng.uniform(0.0, 1.0)) % 1.0
    b = SeatedBody(height_m)
    leg = motion in LEG_MOTIONS
    side = intact_side
    other = SIDES[1 - SIDES.index(side)]
    ident = np.tile([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0], (n, 1))
    out = {"head": _head(u, b, v, period, leg),
           f"{other}_grip": ident, f"{other}_valid": np.zeros(n, dtype=np.bool_)}
    mirror = _mirror if side == "left" else (lambda a: a)
    if leg:
        pos, rot = _MOTION_FUNCS[motion](u, b, v)
        out[f"{side}_grip"] = ident.copy()
        out[f"{side}_valid"] = np.zeros(n, dtype=np.bool_)
        out[f"tracker_{side}_foot"] = mirror(np.concatenate([pos, rot], axis=-1))
        out[f"tracker_{side}_foot_valid"] = np.ones(n, dtype=np.bool_)
        return out
    pos, rot, curls, pinch = _MOTION_FUNCS[motion](u, b, v)
    wrist = np.concatenate([pos, _qmul(rot, REST_WRIST_QUAT)], axis=-1)
    grip = np.empty((n, 7))
    for i in range(n):
        grip_from_wrist(wrist[i], 1, grip[i])
    out[f"{side}_grip"] = mirror(grip)
    out[f"{side}_valid"] = np.ones(n, dtype=np.bool_)
    out[f"{side}_trigger"] = np.zeros(n)
    out[f"{side}_squeeze"] = np.zeros(n)
    if curls is not None:
        joints = np.empty((n, HAND_JOINT_COUNT, 7))
        for i in range(n):
            hand_joints_from_curl(wrist[i], b.hand, curls[i], joints[i], float(pinch[i]))
        out[f"{side}_hand_joints"] = mirror(joints)
        out[f"{side}_hand_valid"] = np.ones(n, dtype=np.bool_)
        out[f"{side}_trigger"] = np.clip(np.maximum(curls[:, 1], pinch), 0.0, 1.0)
        out[f"{side}_squeeze"] = np.clip(curls[:, 2:].mean(axis=1), 0.0, 1.0)
    return out


def make_scripted_replay(motion: str, seconds: float, rate_hz: float = 90.0,
                         intact_side: str = "right", seed: int = 0,
                         height_m: float = 1.75) -> Replay:
    """A Replay (engine space) of ``seconds`` of ``motion`` sampled at ``rate_hz``, t from 0.

    One cycle is computed, then tiled: a 10-minute 120 Hz replay takes well under a second.
    """
    _check(motion, intact_side, rate_hz, height_m)
    if not 0.0 < seconds <= 24 * 3600.0:
        raise SourceError(f"seconds {seconds!r} is outside 0..86400")
    cycle = _cycle(motion, rate_hz, intact_side, seed, height_m)
    n = max(1, round(seconds * rate_hz))
    idx = np.arange(n) % cycle_samples(motion, rate_hz)
    arrays = {k: a[idx] for k, a in cycle.items()}
    arrays["t"] = np.arange(n) / rate_hz
    return Replay.from_arrays(arrays)


class ScriptedSource(ReplaySource):
    """A live-looking source playing a scripted motion, sampled and held at ``rate_hz``.

    Time starts at the first poll; the source ends (poll returns False) after
    ``duration_s``, or never when it is None.
    """

    def __init__(self, motion: str, intact_side: str = "right", rate_hz: float = 90.0,
                 duration_s: float | None = None, seed: int = 0,
                 height_m: float = 1.75) -> None:
        _check(motion, intact_side, rate_hz, height_m)
        if duration_s is not None and not 0.0 < duration_s <= 24 * 3600.0:
            raise SourceError(f"duration_s {duration_s!r} is outside 0..86400")
        cycle_s = cycle_samples(motion, rate_hz) / rate_hz
        super().__init__(make_scripted_replay(motion, cycle_s, rate_hz, intact_side, seed,
                                              height_m), loop=True)
        self.name = f"scripted:{motion}"
        self.motion = motion
        self.intact_side = intact_side
        self._end = duration_s

    @property
    def duration(self) -> float | None:
        return self._end

    def poll(self, display_time: float, frame: TrackingFrame) -> bool:
        super().poll(display_time, frame)
        return self._end is None or self._elapsed(display_time) < self._end
