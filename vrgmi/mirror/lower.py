"""Lower-limb mirror tasks: foot-tap targets on the floor, ankle circles, a pedal press.

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


def foot_home(hip: np.ndarray, torso_pose: np.ndarray, thigh: float, foot: float) -> np.ndarray:
    """Where the ball of a relaxed seated foot rests on the floor (3,), below its hip."""
    _, fwd = yaw_axes(torso_pose)
    home = hip + (HOME_THIGH_FRACTION * thigh + BALL_FOOT_FRACTION * foot) * fwd
    home[2] = 0.0
    return home


def foot_targets(rng: np.random.Generator, home: np.ndarray, torso_pose: np.ndarray,
                 side: int, distance_m: float, count: int, radius_m: float,
                 min_forward_m: float) -> np.ndarray:
    """``count`` floor targets (count, 3) ``distance_m`` (+-10 %) from ``home`` inside the
    fan toward the ``side`` foot's outside, no nearer the body than ``min_forward_m``
    (along the torso's forward axis from the torso origin), consecutive ones at least
    max(2.5 radii, 0.1 m) apart."""
    check_range("distance_m", distance_m, 0.05, 0.6)
    right, fwd = yaw_axes(torso_pose)
    lat = lateral_sign(side) * right
    gap = max(2.5 * radius_m, 0.10)
    out = np.zeros((count, 3))
    for i in range(count):
        for _ in range(500):
            az = math.radians(rng.uniform(*FOOT_AZIMUTH_DEG))
            p = home + distance_m * rng.uniform(0.9, 1.1) * (math.cos(az) * fwd
                                                              + math.sin(az) * lat)
            p[2] = 0.0
            if (p - torso_pose[:3]) @ fwd < min_forward_m or (
                    i and np.linalg.norm(p - out[i - 1]) < gap):
                continue
            out[i] = p
            break
        else:
            raise MirrorTaskError(f"no floor target {distance_m:g} m from the foot's home "
                                  "fits in front of the chair; choose a smaller distance")
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
    """Press a pedal under the phantom foot: plantarflex (toes down) at least ``press_deg``
    below flat and hold it ``hold_s``, within ``time_limit_s``; a trial starts only once the
    foot has come back up (less than half of ``press_deg``).

    Result fields: ``press_time_s`` (first reaching ``press_deg``), ``peak_plantarflexion_deg``,
    ``held_s``, ``press_deg``, ``hold_s``, ``outcome`` (``held`` | ``timeout``)."""

    task = "pedal_press"

    def __init__(self, press_deg: float, hold_s: float, time_limit_s: float, trials: int,
                 rest_s: float = 1.0, rate_hz: float = 90.0) -> None:
        super().__init__(trials, rest_s, rate_hz)
        self.press_deg = check_range("press_deg", press_deg, 3.0, 45.0)
        self.hold = HoldTimer(check_range("hold_s", hold_s, 0.0, 10.0))
        self.time_limit_s = check_range("time_limit_s", time_limit_s, 1.0, 120.0)
        self.plantarflexion = 0.0
        self.peak = -math.inf
        self.press_time = math.nan

    def update(self, t: float, effector: np.ndarray,
               plantarflexion_deg: float) -> dict[str, Any] | None:
        """One frame: the phantom ball of the foot and its plantarflexion (deg; NaN = lost)."""
        self.plantarflexion = plantarflexion_deg
        return self._step(t, effector)

    @property
    def pressed(self) -> bool:
        """Whether the pedal is down now."""
        return self.plantarflexion >= self.press_deg

    def ready_to_start(self, t: float) -> bool:
        return self.plantarflexion < 0.5 * self.press_deg

    def _begin(self, t: float) -> None:
        self.hold.reset()
        self.peak = -math.inf
        self.press_time = math.nan

    def _evaluate(self, t: float) -> tuple[bool, dict[str, Any]] | None:
        p = self.plantarflexion
        if p == p:
            self.peak = max(self.peak, p)
        if self.pressed and self.press_time != self.press_time:
            self.press_time = t - self.onset
        if self.hold.update(t, self.pressed):
            return True, self._fields(t, "held")
        if t - self.onset >= self.time_limit_s:
            return False, self._fields(t, "timeout")
        return None

    def _fields(self, t: float, outcome: str) -> dict[str, Any]:
        return {"target_ids": [f"pedal.{self.index}"],
                "press_time_s": None if self.press_time != self.press_time
                else round(self.press_time, 3),
                "peak_plantarflexion_deg": None if math.isinf(self.peak) else round(self.peak, 2),
                "held_s": round(self.hold.held_s(t), 3), "press_deg": self.press_deg,
                "hold_s": self.hold.hold_s, "outcome": outcome}


class FootTapTask(ReachTask):
    """Foot-tap targets: :class:`ReachTask` on the floor, hit when the phantom ball of the
    foot is within the radius horizontally and down on the floor (``FOREFOOT_CONTACT_Z``)."""

    task = "foot_tap"

    def __init__(self, make_targets, radius_m: float, dwell_s: float, time_limit_s: float,
                 trials: int, rest_s: float = 1.0, rate_hz: float = 90.0) -> None:
        super().__init__(make_targets, radius_m, dwell_s, time_limit_s, trials, rest_s,
                         rate_hz, contact_height=FOREFOOT_CONTACT_Z)
