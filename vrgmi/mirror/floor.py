"""Functional foot tasks on the floor, done with the mirrored foot (mirror levels 3-4,
docs/mirror-tasks.md "Functional tasks"): roll a ball to a spot, press a cushion to a target
pressure band and hold it, trace a path with the toes. No Panda3D.

Each task is stepped once per frame with the phantom ball of the foot (NaN while the intact
foot is not tracked); the press also takes the foot's plantarflexion. Positions are drawn
from the scene's seeded generator where the seated patient sees them past the knees
(:func:`vrgmi.mirror.lower.foot_targets`, :func:`vrgmi.mirror.lower.in_view`). Every
result has a ``score`` in 0..1, defined per task below.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from vrgmi.mirror.lower import PedalTask, in_view
from vrgmi.mirror.trial import (HoldTimer, MirrorTaskError, TrialTask, check_range,
                                flat_distance, lateral_sign, round_list, trial_spots, yaw_axes)

#: the ball: radius (m); the sole is on it when the ball of the foot is within the radius
#: plus BALL_REACH_M of its centre (horizontally) and at most BALL_TOP_MARGIN_M above its top
BALL_RADIUS_M = 0.08
BALL_REACH_M = 0.05
BALL_TOP_MARGIN_M = 0.06
#: a foot joint (they lie on the sole) pushing into the ball rolls it away: the ball keeps
#: this far (m) clear of every one
BALL_FOOT_CLEARANCE_M = 0.004
#: a path point is passed when the ball of the foot is within the tolerance horizontally
#: and at most this high (m): the toes slide along the floor
PATH_CONTACT_Z = 0.08


class RollBallTask(TrialTask):
    """Roll the ball under the mirrored foot onto the target spot.

    Spots per trial (``make_spots(index) -> (2, 3)``): the ball's start, the target. While
    the sole is on the ball (:data:`BALL_REACH_M`, :data:`BALL_TOP_MARGIN_M`) the ball
    rolls with the foot's horizontal movement, and given the foot's joints it rolls away
    from any that pushes into it (the foot never goes through it). Done when the ball's
    centre stays within ``target_radius_m`` of the target for ``dwell_s``. ``score``:
    1 - final distance / radius (0 when not there). Fields: ``final_error_m``,
    ``ball_path_m``, ``contact_s``, ``outcome`` (``rolled`` | ``timeout``)."""

    task = "roll_ball"

    def __init__(self, make_spots: Callable[[int], np.ndarray], target_radius_m: float = 0.08,
                 dwell_s: float = 0.3, time_limit_s: float = 20.0, trials: int = 6,
                 rest_s: float = 1.0, rate_hz: float = 90.0) -> None:
        super().__init__(trials, rest_s, rate_hz)
        self.make_spots = make_spots
        self.target_radius_m = check_range("target_radius_m", target_radius_m, 0.03, 0.2)
        self.dwell = HoldTimer(check_range("dwell_s", dwell_s, 0.0, 5.0))
        self.time_limit_s = check_range("time_limit_s", time_limit_s, 2.0, 180.0)
        self.spots = np.zeros((2, 3))
        self.ball = np.zeros(3)
        self.foot = np.full(3, np.nan)
        self.on_ball = False
        self.contact_s = 0.0
        self.ball_path = 0.0
        self._prev = np.full(3, np.nan)
        self._last_t = math.nan
        self._joints: np.ndarray | None = None

    def update(self, t: float, ball_of_foot: np.ndarray,
               foot_joints: np.ndarray | None = None) -> dict[str, Any] | None:
        """One frame: the phantom ball of the foot (3,) (NaN = lost) and, when known, the
        foot's joints (k, 3)."""
        self.foot[:] = ball_of_foot
        self._joints = foot_joints
        return self._step(t, ball_of_foot)

    def _push_clear(self, joints: np.ndarray) -> None:
        """Roll the ball horizontally away from every foot joint inside it (plus the
        clearance), adding the way to its path."""
        reach = BALL_RADIUS_M + BALL_FOOT_CLEARANCE_M
        ball = self.ball
        for j in range(len(joints)):
            dx, dy = ball[0] - joints[j, 0], ball[1] - joints[j, 1]
            dz = ball[2] - joints[j, 2]
            if dx != dx or abs(dz) >= reach or dx * dx + dy * dy + dz * dz >= reach * reach:
                continue
            apart = math.hypot(dx, dy)
            need = math.sqrt(reach * reach - dz * dz) - apart
            if apart < 1e-9:
                continue
            ball[0] += need * dx / apart
            ball[1] += need * dy / apart
            self.ball_path += need

    def _begin(self, t: float) -> None:
        self.spots = spots = trial_spots(self.make_spots, self.index, 2, self.task, "floor")
        self.ball[:] = spots[0]
        self.ball[2] = BALL_RADIUS_M
        self.contact_s = self.ball_path = 0.0
        self._prev[:] = np.nan
        self._last_t = t
        self.dwell.reset()

    def _evaluate(self, t: float) -> tuple[bool, dict[str, Any]] | None:
        dt, self._last_t = t - self._last_t, t
        f = self.foot
        self.on_ball = bool(f[0] == f[0]
                            and flat_distance(f, self.ball) <= BALL_RADIUS_M + BALL_REACH_M
                            and f[2] <= 2.0 * BALL_RADIUS_M + BALL_TOP_MARGIN_M)
        if self.on_ball:
            self.contact_s += dt
            if self._prev[0] == self._prev[0]:
                dx, dy = f[0] - self._prev[0], f[1] - self._prev[1]
                self.ball[0] += dx
                self.ball[1] += dy
                self.ball_path += math.hypot(dx, dy)
            self._prev[:] = f
        else:
            self._prev[:] = np.nan
        if self._joints is not None:
            self._push_clear(self._joints)
        if self.dwell.update(t, flat_distance(self.ball, self.spots[1]) <= self.target_radius_m):
            return True, self._fields("rolled")
        if t - self.onset >= self.time_limit_s:
            return False, self._fields("timeout")
        return None

    def _fields(self, outcome: str) -> dict[str, Any]:
        error = flat_distance(self.ball, self.spots[1])
        score = 1.0 - error / self.target_radius_m if outcome == "rolled" else 0.0
        return {"target_ids": [f"{self.index}.ball", f"{self.index}.spot"],
                "spots": round_list(self.spots), "ball_end": round_list(self.ball),
                "final_error_m": round(error, 4), "ball_path_m": round(self.ball_path, 4),
                "contact_s": round(self.contact_s, 3), "target_radius_m": self.target_radius_m,
                "outcome": outcome, "score": round(min(1.0, max(0.0, score)), 3)}


class PressHoldTask(PedalTask):
    """Press a soft cushion under the mirrored forefoot into a target band and hold it
    there: graded control of the push, not just a press (a :class:`PedalTask` whose press
    must stay within ``band`` degrees of toes-down, drawn per trial).

    ``bands(index) -> (lo_deg, hi_deg)`` gives each trial's band of ``depression`` (toes
    down from the cushion's rest incline). Done when the foot holds the press inside the
    band for ``hold_s``. ``score``: the share of the pressing time (the depression at least
    half the band's lower edge) spent inside the band. Fields: ``band_deg``,
    ``in_band_s``, ``pressing_s``, ``overshoots`` (entries above the band),
    ``held_s``, ``outcome`` (``held`` | ``timeout``)."""

    task = "press_hold"

    def __init__(self, bands: Callable[[int], tuple[float, float]], hold_s: float = 2.0,
                 time_limit_s: float = 15.0, trials: int = 6, rest_s: float = 1.0,
                 rate_hz: float = 90.0, rest_deg: float = 20.0) -> None:
        super().__init__(5.0, hold_s, time_limit_s, trials, rest_s, rate_hz, rest_deg)
        self.bands = bands
        self.band = (0.0, 0.0)
        self.in_band_s = 0.0
        self.pressing_s = 0.0
        self.overshoots = 0
        self._above = False
        self._last_t = math.nan

    @property
    def in_band(self) -> bool:
        """Whether the foot is on the cushion with the press inside the band now."""
        d = self.depression
        return self.on_pedal and self.band[0] <= d <= self.band[1]

    def ready_to_start(self, t: float) -> bool:
        return not (self.on_pedal and self.depression >= 0.5 * self.band_lo_next)

    @property
    def band_lo_next(self) -> float:
        """The lower edge of the band in force (the next one between trials)."""
        return self.band[0] if self.band[1] > 0.0 else 5.0

    def _begin(self, t: float) -> None:
        super()._begin(t)
        lo, hi = (float(v) for v in self.bands(self.index))
        if not 0.0 < lo < hi <= 45.0:
            raise MirrorTaskError(f"press band {lo:g}..{hi:g} deg must rise within 0..45")
        self.band = (lo, hi)
        self.press_deg = lo
        self.in_band_s = self.pressing_s = 0.0
        self.overshoots = 0
        self._above = False
        self._last_t = t

    def _evaluate(self, t: float) -> tuple[bool, dict[str, Any]] | None:
        dt, self._last_t = t - self._last_t, t
        d = self.depression
        if d == d:
            self.peak = max(self.peak, self.plantarflexion)
        if self.on_pedal and self.on_time != self.on_time:
            self.on_time = t - self.onset
        if self.in_band and self.press_time != self.press_time:
            self.press_time = t - self.onset
        if self.on_pedal and d == d:
            if d >= 0.5 * self.band[0]:
                self.pressing_s += dt
            if self.in_band:
                self.in_band_s += dt
            above = d > self.band[1]
            self.overshoots += above and not self._above
            self._above = above
        if self.hold.update(t, self.in_band):
            return True, self._band_fields(t, "held")
        if t - self.onset >= self.time_limit_s:
            return False, self._band_fields(t, "timeout")
        return None

    def _band_fields(self, t: float, outcome: str) -> dict[str, Any]:
        out = self._fields(t, outcome)
        share = self.in_band_s / self.pressing_s if self.pressing_s > 0.0 else 0.0
        out.update(target_ids=[f"cushion.{self.index}"],
                   band_deg=[round(self.band[0], 1), round(self.band[1], 1)],
                   in_band_s=round(self.in_band_s, 3), pressing_s=round(self.pressing_s, 3),
                   overshoots=int(self.overshoots), score=round(min(1.0, share), 3))
        return out


def press_bands(rng: np.random.Generator,
                width_deg: float) -> Callable[[int], tuple[float, float]]:
    """Seeded bands of ``width_deg`` centred at 10-25 deg of press, one per trial."""
    check_range("width_deg", width_deg, 2.0, 16.0)

    def band(_index: int) -> tuple[float, float]:
        centre = float(rng.uniform(10.0, 25.0))
        return centre - 0.5 * width_deg, centre + 0.5 * width_deg
    return band


def floor_path(rng: np.random.Generator, home: np.ndarray, torso_pose: np.ndarray, side: int,
               waypoints: int, length_m: float, min_forward_m: float,
               eye: np.ndarray | None = None, legs: np.ndarray | None = None,
               tolerance_m: float = 0.05, tries: int = 200) -> np.ndarray:
    """A gently curving path of ``waypoints`` points (k, 3) on the floor: from 0.15-0.18 m
    ahead of the resting foot ``home`` (past the knees) forward ``length_m``, swaying
    sideways (a seeded sine of 0.04-0.10 m amplitude) on the ``side`` of the midline, no
    nearer the body than ``min_forward_m``. Given the ``eye`` and the seated ``legs`` every point is
    :func:`vrgmi.mirror.lower.in_view`; the candidate seen best is kept otherwise."""
    if not 2 <= waypoints <= 12:
        raise MirrorTaskError(f"a path needs 2-12 waypoints, got {waypoints}")
    check_range("length_m", length_m, 0.1, 0.6)
    right, fwd = yaw_axes(torso_pose)
    lat = lateral_sign(side) * right
    s = np.linspace(0.0, 1.0, waypoints)
    sighted = eye is not None and legs is not None and bool(np.all(np.isfinite(eye)))
    best, best_seen = None, -1
    for _ in range(tries):
        amp = rng.uniform(0.04, 0.10)
        phase = rng.uniform(0.0, 2.0 * math.pi)
        start = home + rng.uniform(0.15, 0.18) * fwd
        pts = start + np.outer(s * length_m, fwd) + np.outer(
            amp * (np.sin(2.0 * math.pi * s + phase) - math.sin(phase)), lat)
        pts[:, 2] = 0.0
        ahead = (pts - torso_pose[:3]) @ fwd
        out_side = (pts - torso_pose[:3]) @ lat
        if np.any(ahead < min_forward_m) or np.any(out_side < 0.05):
            continue
        seen = sum(in_view(eye, p, legs, tolerance_m) for p in pts) if sighted else waypoints
        if seen > best_seen:
            best, best_seen = pts, seen
        if seen == waypoints:
            break
    if best is None:
        raise MirrorTaskError(f"no floor path {length_m:g} m long fits in front of the chair; "
                              "choose a shorter one")
    return best


def _segment_distance_2d(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ax, ay = float(b[0] - a[0]), float(b[1] - a[1])
    px, py = float(p[0] - a[0]), float(p[1] - a[1])
    den = ax * ax + ay * ay
    u = 0.0 if den <= 1e-12 else min(1.0, max(0.0, (px * ax + py * ay) / den))
    return math.hypot(px - u * ax, py - u * ay)


class TracePathTask(TrialTask):
    """Trace a path on the floor with the mirrored foot, point by point, in order.

    ``make_path(index) -> (k, 3)`` gives each trial's waypoints. A waypoint is passed when
    the ball of the foot comes within ``tolerance_m`` of it (horizontally) low on the floor
    (:data:`PATH_CONTACT_Z`). From the first waypoint on, the foot's distance from the
    path segment it is on is averaged (``mean_deviation_m``). Done at the last waypoint.
    ``score``: the share of the path done, less a penalty for straying (x (1 - mean
    deviation / (2 x tolerance)), at least 0). Fields: ``waypoints_reached``,
    ``mean_deviation_m``, ``outcome`` (``traced`` | ``timeout``)."""

    task = "trace_path"

    def __init__(self, make_path: Callable[[int], np.ndarray], tolerance_m: float = 0.05,
                 time_limit_s: float = 25.0, trials: int = 5, rest_s: float = 1.0,
                 rate_hz: float = 90.0) -> None:
        super().__init__(trials, rest_s, rate_hz)
        self.make_path = make_path
        self.tolerance_m = check_range("tolerance_m", tolerance_m, 0.02, 0.15)
        self.time_limit_s = check_range("time_limit_s", time_limit_s, 2.0, 180.0)
        self.path = np.zeros((0, 3))
        self.current = 0
        self.foot = np.full(3, np.nan)
        self._dev_sum = 0.0
        self._dev_n = 0

    def update(self, t: float, ball_of_foot: np.ndarray) -> dict[str, Any] | None:
        """One frame: the phantom ball of the foot (3,) (NaN = lost)."""
        self.foot[:] = ball_of_foot
        return self._step(t, ball_of_foot)

    def _begin(self, t: float) -> None:
        path = np.asarray(self.make_path(self.index), dtype=np.float64)
        if path.ndim != 2 or path.shape[1] != 3 or len(path) < 2:
            raise MirrorTaskError(f"a path must be (k >= 2, 3) points, got {path.shape}")
        self.path = path
        self.current = 0
        self._dev_sum, self._dev_n = 0.0, 0

    def _evaluate(self, t: float) -> tuple[bool, dict[str, Any]] | None:
        f = self.foot
        if f[0] == f[0]:
            low = f[2] <= PATH_CONTACT_Z
            if self.current > 0 and low:
                self._dev_sum += _segment_distance_2d(f, self.path[self.current - 1],
                                                      self.path[self.current])
                self._dev_n += 1
            if low and flat_distance(f, self.path[self.current]) <= self.tolerance_m:
                self.current += 1
                if self.current == len(self.path):
                    return True, self._fields("traced")
        if t - self.onset >= self.time_limit_s:
            return False, self._fields("timeout")
        return None

    @property
    def mean_deviation(self) -> float | None:
        """Mean distance (m) of the foot from the path so far, None before the start."""
        return self._dev_sum / self._dev_n if self._dev_n else None

    def _fields(self, outcome: str) -> dict[str, Any]:
        dev = self.mean_deviation
        done = self.current / len(self.path)
        score = done * max(0.0, 1.0 - (dev or 0.0) / (2.0 * self.tolerance_m))
        return {"target_ids": [f"{self.index}.{k}" for k in range(len(self.path))],
                "path": round_list(self.path), "waypoints_reached": self.current,
                "mean_deviation_m": None if dev is None else round(dev, 4),
                "tolerance_m": self.tolerance_m, "outcome": outcome,
                "score": round(score, 3)}

