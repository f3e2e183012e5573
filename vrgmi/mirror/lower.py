"""Lower-limb mirror tasks: foot-tap targets on the floor, ankle circles, a pedal press.

What the task shows must be in view from the seated eye: a seated patient's knees hide the
floor just in front of them, so the pedal (and the ankle-circle guide) sit where the foot is
with the knee a little straighter than at rest (:func:`forward_ankle`), and floor targets
whose line of sight from the eye passes through a leg are redrawn (:func:`in_view`).

The foot's direction (where the toes point) is read from the phantom foot's world delta
rotation (identity = flat, toes forward) in the torso frame (:func:`foot_angles`):
``toe_right_deg`` (toes turned to the patient's right), ``toe_up_deg`` (toes up,
dorsiflexion of the foot against the floor; toes down = plantarflexion). Foot taps reuse
:class:`vrgmi.mirror.reach.ReachTask` with a floor contact test on the ball of the foot.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from vrgmi.mirror.reach import ReachTask
from vrgmi.mirror.trial import (HoldTimer, MirrorTaskError, TraceBuffer, TrialTask,
                                check_range, lateral_sign, yaw_axes)
from vrgmi.spatial import quat_rotate

#: the ball joint is on the sole: a ball no higher than this (m) is a forefoot on the floor
FOREFOOT_CONTACT_Z = 0.04
#: the seated foot's home: the ankle this fraction of the thigh in front of the hip (as the
#: engine's resting legs), the ball 0.5 foot lengths in front of the ankle (skeleton.py)
HOME_THIGH_FRACTION = 0.97
BALL_FOOT_FRACTION = 0.50
#: the fan of foot targets around home (degrees from straight ahead toward the phantom's
#: side; negative = toward the midline)
FOOT_AZIMUTH_DEG = (-30.0, 90.0)
#: the ankle-circle path's heading is measured over steps of at least this (degrees)
STEP_DEG = 0.5
#: the forward foot (pedal, ankle-circle guide): the knee this much flexed with the sole flat
#: on the floor, straighter than a relaxed seat (about 70 deg), so the foot is seen past the
#: knee from the seated eye; the pedal may go as far as MIN_KNEE_FLEXION_DEG to be in view
FORWARD_KNEE_FLEXION_DEG = 35.0
MIN_KNEE_FLEXION_DEG = 10.0
#: the heel and toe tip along the sole from the ankle, in foot lengths (vrgmi.body.skeleton)
HEEL_FOOT_FRACTION = 0.22
TOE_FOOT_FRACTION = 0.78
#: the pedal: a plate under the ball of the foot and the toes (from / to this many foot
#: lengths ahead of the ankle; the ball is at 0.5), inclined toes-up about the heel at rest
#: like a car's accelerator, the heel on the floor behind it. A foot put forward has its
#: shank sloping forward, so a flat sole already uses much of the ankle's 50 deg of
#: plantarflexion (AAOS, vrgmi/ik/limits.py): the press starts from the incline.
PEDAL_FROM_FOOT = 0.25
PEDAL_TO_FOOT = 0.95
PEDAL_REST_DEG = 20.0
#: plate width (m); the ball of the foot counts as on it within this margin (m) of the
#: outline, and no higher than this (m) above the floor (the foot not lifted off)
PEDAL_WIDTH_M = 0.11
PEDAL_TOLERANCE_M = 0.04
PEDAL_MAX_BALL_Z = 0.15
#: sight lines: a target is in view when its sight line from the eye passes at least this
#: (m) plus half its radius from the axis of every seated thigh and shank (calibrated on
#: renders of the seated patient's view: floor discs so placed show >= 85 % of their pixels)
LEG_RADIUS_M = 0.065


def foot_home(hip: np.ndarray, torso_pose: np.ndarray, thigh: float, foot: float) -> np.ndarray:
    """Where the ball of a relaxed seated foot rests on the floor (3,), below its hip."""
    _, fwd = yaw_axes(torso_pose)
    home = hip + (HOME_THIGH_FRACTION * thigh + BALL_FOOT_FRACTION * foot) * fwd
    home[2] = 0.0
    return home


def forward_ankle(hip: np.ndarray, torso_pose: np.ndarray, thigh: float, shank: float,
                  ankle_height: float,
                  knee_flexion_deg: float = FORWARD_KNEE_FLEXION_DEG) -> np.ndarray:
    """The ankle (3,) of a foot put forward, sole flat on the floor, straight ahead of its
    hip, with the knee flexed ``knee_flexion_deg`` (hip-ankle distance by the law of
    cosines; a hip too low for that bend puts the ankle straight in front of it)."""
    _, fwd = yaw_axes(torso_pose)
    k = math.radians(check_range("knee_flexion_deg", knee_flexion_deg, 0.0, 150.0))
    reach_sq = thigh * thigh + shank * shank + 2.0 * thigh * shank * math.cos(k)
    drop = max(float(hip[2]) - ankle_height, 0.0)
    ankle = hip + math.sqrt(max(reach_sq - drop * drop, 0.0)) * fwd
    ankle[2] = ankle_height
    return ankle


class PedalPlate:
    """The pedal's footprint on the floor: a plate ``length_m`` x ``width_m`` from its rear
    edge ``hinge`` along ``forward``. The ball of the foot is on it when, seen from
    above, it lies inside the outline grown by ``tolerance_m``, no higher than
    ``max_ball_z`` (O(1), no allocation)."""

    def __init__(self, hinge: np.ndarray, forward: np.ndarray, length_m: float,
                 width_m: float = PEDAL_WIDTH_M, tolerance_m: float = PEDAL_TOLERANCE_M,
                 max_ball_z: float = PEDAL_MAX_BALL_Z) -> None:
        self.hinge = np.array(hinge, dtype=np.float64)
        f = np.array(forward, dtype=np.float64)
        f[2] = 0.0
        self.forward = f / np.linalg.norm(f)
        self.length_m = check_range("length_m", length_m, 0.05, 0.6)
        self.width_m = check_range("width_m", width_m, 0.03, 0.4)
        self.tolerance_m = check_range("tolerance_m", tolerance_m, 0.0, 0.2)
        self.max_ball_z = check_range("max_ball_z", max_ball_z, 0.0, 0.5)

    def contains(self, ball: np.ndarray) -> bool:
        """Whether the ball of the foot ``ball`` (3,) is on the pedal (False for NaN)."""
        dx, dy = float(ball[0] - self.hinge[0]), float(ball[1] - self.hinge[1])
        along = dx * self.forward[0] + dy * self.forward[1]
        across = dy * self.forward[0] - dx * self.forward[1]
        tol = self.tolerance_m
        return bool(-tol <= along <= self.length_m + tol
                    and abs(across) <= 0.5 * self.width_m + tol
                    and ball[2] <= self.max_ball_z)


def pedal_plate(hip: np.ndarray, torso_pose: np.ndarray, thigh: float, shank: float,
                foot: float, ankle_height: float, tolerance_m: float = PEDAL_TOLERANCE_M,
                eye: np.ndarray | None = None, legs: np.ndarray | None = None) -> PedalPlate:
    """The pedal under the forefoot of the forward foot (:func:`forward_ankle`, knee flexed
    :data:`FORWARD_KNEE_FLEXION_DEG`). Given the ``eye`` and the seated ``legs``
    (k, 2, 3) the knee straightens in 5 deg steps (to :data:`MIN_KNEE_FLEXION_DEG`) until
    the inclined plate's centre is :func:`in_view`."""
    _, fwd = yaw_axes(torso_pose)
    length = (PEDAL_TO_FOOT - PEDAL_FROM_FOOT) * foot
    middle = (HEEL_FOOT_FRACTION + 0.5 * (PEDAL_FROM_FOOT + PEDAL_TO_FOOT)) * foot
    rise = middle * math.sin(math.radians(PEDAL_REST_DEG))
    sighted = eye is not None and legs is not None and bool(np.all(np.isfinite(eye)))
    flexion = FORWARD_KNEE_FLEXION_DEG
    while True:
        hinge = forward_ankle(hip, torso_pose, thigh, shank, ankle_height, flexion) \
            + PEDAL_FROM_FOOT * foot * fwd
        hinge[2] = 0.0
        centre = hinge + 0.5 * length * fwd
        centre[2] = rise
        if (not sighted or flexion <= MIN_KNEE_FLEXION_DEG
                or in_view(eye, centre, legs, 0.5 * length)):
            return PedalPlate(hinge, fwd, length, tolerance_m=tolerance_m)
        flexion = max(flexion - 5.0, MIN_KNEE_FLEXION_DEG)


def segment_distance(p0: np.ndarray, p1: np.ndarray, q0: np.ndarray,
                     q1: np.ndarray) -> float:
    """The shortest distance (m) between the segments p0-p1 and q0-q1 (3-D)."""
    d1, d2, r = p1 - p0, q1 - q0, p0 - q0
    a, e, f = float(d1 @ d1), float(d2 @ d2), float(d2 @ r)
    if a <= 1e-12 and e <= 1e-12:
        return float(np.linalg.norm(r))
    if a <= 1e-12:
        s, t = 0.0, min(max(f / e, 0.0), 1.0)
    else:
        c = float(d1 @ r)
        if e <= 1e-12:
            s, t = min(max(-c / a, 0.0), 1.0), 0.0
        else:
            b = float(d1 @ d2)
            den = a * e - b * b
            s = min(max((b * f - c * e) / den, 0.0), 1.0) if den > 1e-12 else 0.0
            t = (b * s + f) / e
            if t < 0.0:
                s, t = min(max(-c / a, 0.0), 1.0), 0.0
            elif t > 1.0:
                s, t = min(max((b - c) / a, 0.0), 1.0), 1.0
    return float(np.linalg.norm(p0 + s * d1 - (q0 + t * d2)))


def sight_clearance(eye: np.ndarray, point: np.ndarray, legs: np.ndarray) -> float:
    """How far (m) the sight line from ``eye`` to ``point`` passes from the nearest leg
    segment (``legs`` (k, 2, 3): hip-knee, knee-ankle, ...); inf without legs."""
    best = math.inf
    for a, b in legs:
        if np.all(np.isfinite(a)) and np.all(np.isfinite(b)):
            best = min(best, segment_distance(eye, point, a, b))
    return best


def in_view(eye: np.ndarray, point: np.ndarray, legs: np.ndarray, radius_m: float) -> bool:
    """Whether a target of ``radius_m`` at ``point`` is seen from ``eye`` past the seated
    legs: its sight line clears every leg capsule (:data:`LEG_RADIUS_M`) by half its
    radius, so most of it shows."""
    return sight_clearance(eye, point, legs) >= LEG_RADIUS_M + 0.5 * radius_m


def foot_targets(rng: np.random.Generator, home: np.ndarray, torso_pose: np.ndarray,
                 side: int, distance_m: float, count: int, radius_m: float,
                 min_forward_m: float, eye: np.ndarray | None = None,
                 legs: np.ndarray | None = None, min_lateral_m: float = 0.0,
                 tries: int = 500) -> np.ndarray:
    """``count`` floor targets (count, 3) ``distance_m`` (+-10 %) from ``home`` inside the
    fan toward the ``side`` foot's outside, no nearer the body than ``min_forward_m``
    (along the torso's forward axis from the torso origin), consecutive ones at least
    max(2.5 radii, 0.1 m) apart, at least ``min_lateral_m`` from the body midline on the
    ``side`` (the feet need not cross). Given the ``eye`` and the seated ``legs`` (k, 2, 3) the
    targets must also be :func:`in_view`; where none is, the one seen best is taken."""
    check_range("distance_m", distance_m, 0.05, 0.6)
    right, fwd = yaw_axes(torso_pose)
    lat = lateral_sign(side) * right
    gap = max(2.5 * radius_m, 0.10)
    sighted = eye is not None and legs is not None and bool(np.all(np.isfinite(eye)))
    need = LEG_RADIUS_M + 0.5 * radius_m
    out = np.zeros((count, 3))
    best = np.zeros(3)
    for i in range(count):
        best_clear = -math.inf
        for _ in range(tries):
            az = math.radians(rng.uniform(*FOOT_AZIMUTH_DEG))
            p = home + distance_m * rng.uniform(0.9, 1.1) * (math.cos(az) * fwd
                                                              + math.sin(az) * lat)
            p[2] = 0.0
            if (p - torso_pose[:3]) @ fwd < min_forward_m or (
                    (p - torso_pose[:3]) @ lat < min_lateral_m) or (
                    i and np.linalg.norm(p - out[i - 1]) < gap):
                continue
            clear = sight_clearance(eye, p, legs) if sighted else math.inf
            if clear > best_clear:
                best_clear, best[:] = clear, p
            if clear >= need:
                break
        if best_clear == -math.inf:
            raise MirrorTaskError(f"no floor target {distance_m:g} m from the foot's home "
                                  "fits in front of the chair; choose a smaller distance")
        out[i] = best
    return out


def foot_angles(foot_rotation: np.ndarray, torso_pose: np.ndarray) -> tuple[float, float]:
    """(toe_right_deg, toe_up_deg) of a foot whose world delta rotation from rest is
    ``foot_rotation`` (4,), in the torso frame."""
    toe = quat_rotate(np.asarray(foot_rotation, dtype=np.float64), np.array([0.0, 1.0, 0.0]))
    right, fwd = yaw_axes(torso_pose)
    x, y, z = float(toe @ right), float(toe @ fwd), float(toe[2])
    return math.degrees(math.atan2(x, y)), math.degrees(math.atan2(z, math.hypot(x, y)))


def circle_metrics(points: np.ndarray) -> dict[str, float]:
    """Shape of a closed-ish 2-D trajectory (N, 2) in degrees about its mean: ``circles``
    (signed turns swept, + = counterclockwise as the patient sees the toes),
    ``completeness`` (|turns| capped at 1), ``amplitude_deg`` (mean radius), ``roundness``
    (smallest / largest radius: 1 for a circle, b/a for an ellipse)."""
    p = np.asarray(points, dtype=np.float64)
    p = p[np.all(np.isfinite(p), axis=1)]
    if len(p) < 3:
        return {"circles": 0.0, "completeness": 0.0, "amplitude_deg": 0.0, "roundness": 0.0}
    d = p - p.mean(axis=0)
    r = np.hypot(d[:, 0], d[:, 1])
    theta = np.unwrap(np.arctan2(d[:, 1], d[:, 0]))
    turns = float(theta[-1] - theta[0]) / (2.0 * math.pi)
    return {"circles": turns, "completeness": min(abs(turns), 1.0),
            "amplitude_deg": float(r.mean()),
            "roundness": float(r.min() / r.max()) if r.max() > 0.0 else 0.0}


class AnkleCircleTask(TrialTask):
    """One ankle circle per trial: the toes trace a full turn (in ``direction``:
    ``either`` | ``clockwise`` | ``counterclockwise`` as the patient sees the foot) of at least
    ``min_amplitude_deg`` mean radius and ``min_roundness``, within ``time_limit_s``.

    Online, the turn is the heading change of the toe-angle path (steps of ``STEP_DEG``, so
    slow drift and tracking jitter do not turn it; O(1) per frame): a closed loop turns its
    heading by one full turn whatever its centre. When that reaches a full turn the trial
    is scored by :func:`circle_metrics` over the whole trial. Result fields: ``circles``, ``completeness``, ``amplitude_deg``,
    ``roundness``, ``direction``, ``outcome`` (``circle`` | ``too_small`` | ``timeout``)."""

    task = "ankle_circles"
    DIRECTIONS = ("either", "counterclockwise", "clockwise")

    def __init__(self, min_amplitude_deg: float, min_roundness: float, time_limit_s: float,
                 trials: int, direction: str = "either", rest_s: float = 1.0,
                 rate_hz: float = 90.0) -> None:
        super().__init__(trials, rest_s, rate_hz)
        if direction not in self.DIRECTIONS:
            raise MirrorTaskError(f"direction {direction!r} is not one of "
                                  f"{', '.join(self.DIRECTIONS)}")
        self.direction = direction
        self.min_amplitude_deg = check_range("min_amplitude_deg", min_amplitude_deg, 1.0, 45.0)
        self.min_roundness = check_range("min_roundness", min_roundness, 0.0, 1.0)
        self.time_limit_s = check_range("time_limit_s", time_limit_s, 1.0, 120.0)
        self.angles = TraceBuffer(2)
        self.turns = 0.0
        self._prev = np.zeros(2)
        self._have_prev = False
        self._heading = math.nan
        self._now = np.zeros(2)

    def update(self, t: float, effector: np.ndarray, toe_right_deg: float,
               toe_up_deg: float) -> dict[str, Any] | None:
        """One frame: the phantom ball of the foot (trace) and the toe angles (NaN = lost)."""
        self._now[0], self._now[1] = toe_right_deg, toe_up_deg
        return self._step(t, effector)

    def _begin(self, t: float) -> None:
        self.angles.clear()
        self.turns = 0.0
        self._have_prev = False
        self._heading = math.nan

    def _evaluate(self, t: float) -> tuple[bool, dict[str, Any]] | None:
        now = self._now
        if now[0] == now[0] and now[1] == now[1]:
            self.angles.append(t, now)
            if not self._have_prev:
                self._prev[:] = now
                self._have_prev = True
            elif math.hypot(now[0] - self._prev[0], now[1] - self._prev[1]) >= STEP_DEG:
                heading = math.atan2(now[1] - self._prev[1], now[0] - self._prev[0])
                if self._heading == self._heading:
                    turn = (heading - self._heading + math.pi) % (2.0 * math.pi) - math.pi
                    self.turns += turn / (2.0 * math.pi)
                self._heading = heading
                self._prev[:] = now
        wanted = {"either": abs(self.turns), "counterclockwise": self.turns,
                  "clockwise": -self.turns}[self.direction]
        if wanted >= 1.0:
            m = circle_metrics(self.angles.view()[1])
            ok = m["amplitude_deg"] >= self.min_amplitude_deg and m["roundness"] >= self.min_roundness
            return ok, self._fields(m, "circle" if ok else "too_small")
        if t - self.onset >= self.time_limit_s:
            return False, self._fields(circle_metrics(self.angles.view()[1]), "timeout")
        return None

    def _fields(self, m: dict[str, float], outcome: str) -> dict[str, Any]:
        # turns and completeness: the heading count that decided the trial
        return {"target_ids": [f"circle.{self.index}"],
                "circles": round(self.turns, 3), "completeness": round(min(abs(self.turns), 1.0), 3),
                "amplitude_deg": round(m["amplitude_deg"], 2),
                "roundness": round(m["roundness"], 3), "direction": self.direction,
                "outcome": outcome}


class PedalTask(TrialTask):
    """Press a pedal with the phantom foot: the ball of the foot on the pedal
    (:class:`PedalPlate`, set with :meth:`place`; none placed = never on it) and the toes
    pushed at least ``press_deg`` down from the pedal's toes-up incline ``rest_deg``
    (``depression`` = plantarflexion against flat + ``rest_deg``), held ``hold_s``, within
    ``time_limit_s``. Pressing beside the pedal does not count; a trial starts only once
    the pedal is not held down (the foot off it, or back up past half of ``press_deg``).

    Result fields: ``on_pedal_time_s`` (the foot first on the pedal), ``press_time_s``
    (first pressed on it), ``peak_plantarflexion_deg``, ``held_s``,
    ``press_deg``, ``hold_s``, ``outcome`` (``held`` | ``timeout``)."""

    task = "pedal_press"

    def __init__(self, press_deg: float, hold_s: float, time_limit_s: float, trials: int,
                 rest_s: float = 1.0, rate_hz: float = 90.0,
                 rest_deg: float = PEDAL_REST_DEG) -> None:
        super().__init__(trials, rest_s, rate_hz)
        self.press_deg = check_range("press_deg", press_deg, 3.0, 45.0)
        self.rest_deg = check_range("rest_deg", rest_deg, 0.0, 45.0)
        self.hold = HoldTimer(check_range("hold_s", hold_s, 0.0, 10.0))
        self.time_limit_s = check_range("time_limit_s", time_limit_s, 1.0, 120.0)
        self.plantarflexion = 0.0
        self.plate: PedalPlate | None = None
        self.on_pedal = False
        self.peak = -math.inf
        self.press_time = math.nan
        self.on_time = math.nan

    def place(self, plate: PedalPlate) -> None:
        """Put the pedal down (the scene does once the torso is known)."""
        self.plate = plate

    def update(self, t: float, effector: np.ndarray,
               plantarflexion_deg: float) -> dict[str, Any] | None:
        """One frame: the phantom ball of the foot and its plantarflexion (deg; NaN = lost)."""
        self.plantarflexion = plantarflexion_deg
        self.on_pedal = self.plate is not None and self.plate.contains(effector)
        return self._step(t, effector)

    @property
    def depression(self) -> float:
        """How far (deg) the toes are down from the pedal's rest incline (NaN = lost)."""
        return self.plantarflexion + self.rest_deg

    @property
    def pressed(self) -> bool:
        """Whether the foot is on the pedal and has it down now."""
        return self.on_pedal and self.depression >= self.press_deg

    def ready_to_start(self, t: float) -> bool:
        return not (self.on_pedal and self.depression >= 0.5 * self.press_deg)

    def _begin(self, t: float) -> None:
        self.hold.reset()
        self.peak = -math.inf
        self.press_time = math.nan
        self.on_time = math.nan

    def _evaluate(self, t: float) -> tuple[bool, dict[str, Any]] | None:
        p = self.plantarflexion
        if p == p:
            self.peak = max(self.peak, p)
        if self.on_pedal and self.on_time != self.on_time:
            self.on_time = t - self.onset
        if self.pressed and self.press_time != self.press_time:
            self.press_time = t - self.onset
        if self.hold.update(t, self.pressed):
            return True, self._fields(t, "held")
        if t - self.onset >= self.time_limit_s:
            return False, self._fields(t, "timeout")
        return None

    def _fields(self, t: float, outcome: str) -> dict[str, Any]:
        return {"target_ids": [f"pedal.{self.index}"],
                "on_pedal_time_s": None if self.on_time != self.on_time
                else round(self.on_time, 3),
                "press_time_s": None if self.press_time != self.press_time
                else round(self.press_time, 3),
                "peak_plantarflexion_deg": None if math.isinf(self.peak) else round(self.peak, 2),
                "held_s": round(self.hold.held_s(t), 3), "press_deg": self.press_deg,
                "pedal_rest_deg": self.rest_deg, "hold_s": self.hold.hold_s,
                "outcome": outcome}


class FootTapTask(ReachTask):
    """Foot-tap targets: :class:`ReachTask` on the floor, hit when the phantom ball of the
    foot is within the radius horizontally and down on the floor (``FOREFOOT_CONTACT_Z``)."""

    task = "foot_tap"

    def __init__(self, make_targets, radius_m: float, dwell_s: float, time_limit_s: float,
                 trials: int, rest_s: float = 1.0, rate_hz: float = 90.0) -> None:
        super().__init__(make_targets, radius_m, dwell_s, time_limit_s, trials, rest_s,
                         rate_hz, contact_height=FOREFOOT_CONTACT_Z)
