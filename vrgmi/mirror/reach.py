"""Reach targets in the mirrored limb's workspace, and touching them in order with a dwell.

Targets are generated around the phantom's shoulder in the torso frame (azimuth from
straight ahead toward the phantom's side, elevation from horizontal, distance as a fraction
of the arm's reach), kept above ``min_z`` (the table) and apart from each other. The same
:class:`ReachTask` scores foot taps on the floor (``contact_height``: the effector must be
within the radius horizontally and at most that high), see :mod:`vrgmi.mirror.lower`.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from vrgmi.mirror.trial import (HoldTimer, MirrorTaskError, TrialTask, check_range,
                                lateral_sign, round_list, yaw_axes)

#: workspace fan of the arm targets (degrees): azimuth from straight ahead toward the
#: phantom's side (negative = across toward the midline), elevation from horizontal
AZIMUTH_DEG = (-20.0, 50.0)
ELEVATION_DEG = (-25.0, 20.0)


def arm_reach(upper_arm: float, forearm: float, hand: float) -> float:
    """Shoulder-to-palm reach (m) of the straight arm: the palm centre sits about 0.4 hand
    lengths beyond the wrist (vrgmi.body.skeleton proportions)."""
    return upper_arm + forearm + 0.4 * hand


def reach_targets(rng: np.random.Generator, shoulder: np.ndarray, torso_pose: np.ndarray,
                  side: int, reach_m: float, distance: float, count: int, radius_m: float,
                  min_z: float, min_lateral_m: float = 0.0, tries: int = 500,
                  table: tuple[tuple[float, float], tuple[float, float], float] | None = None,
                  eye: np.ndarray | None = None) -> np.ndarray:
    """``count`` target centres (count, 3) for the ``side`` limb's palm: each at
    ``distance`` x ``reach_m`` (+-5 %) from the shoulder inside the workspace fan, at least
    ``min_z`` high and ``min_lateral_m`` from the body midline on the ``side`` (so the
    limbs need not cross: docs/mirror-tasks.md, "The midline"), consecutive ones at least
    max(3 radii, 0.12 m) apart. Given a ``table`` top ((x0, x1), (y0, y1), height) and the
    patient's ``eye`` (3,), the whole target is also seen over the table: below the eye,
    and its outline seen from the eye falls on the top inside its edges (a target floating
    beside or in front of the table reads as one on the floor). Where no place in the fan
    is seen over the table (a short reach, a large target; in a sequence, none far enough
    from the previous target), that rule is dropped for the target rather than failing."""
    check_range("distance", distance, 0.2, 1.0)
    if count < 1:
        raise MirrorTaskError(f"a target sequence needs at least 1 target, got {count}")
    right, fwd = yaw_axes(torso_pose)
    lat = lateral_sign(side) * right
    up = np.array([0.0, 0.0, 1.0])
    gap = max(3.0 * radius_m, 0.12)
    out = np.zeros((count, 3))
    rules = (True, False) if table is not None and eye is not None else (False,)
    for i in range(count):
        for over_table in rules:
            found = False
            for _ in range(tries):
                az = math.radians(rng.uniform(*AZIMUTH_DEG))
                el = math.radians(rng.uniform(*ELEVATION_DEG))
                d = distance * reach_m * rng.uniform(0.95, 1.05)
                p = shoulder + d * (math.cos(el) * (math.cos(az) * fwd + math.sin(az) * lat)
                                    + math.sin(el) * up)
                if p[2] < min_z or (p - torso_pose[:3]) @ lat < min_lateral_m or (
                        i and np.linalg.norm(p - out[i - 1]) < gap) or (
                        over_table and not seen_over(p, eye, table, radius_m)):
                    continue
                out[i] = p
                found = True
                break
            if found:
                break
        else:
            raise MirrorTaskError(f"no reachable target {distance:g} of the reach away stays "
                                  f"above {min_z:.2f} m on its own side of the midline; "
                                  "choose a larger distance")
    return out


def seen_over(p: np.ndarray, eye: np.ndarray,
              table: tuple[tuple[float, float], tuple[float, float], float],
              radius: float = 0.0) -> bool:
    """Whether a ball of ``radius`` at ``p``, seen from ``eye``, lies over the ``table`` top
    ((x0, x1), (y0, y1), height): above the top and below the eye, and its outline cast
    from the eye onto the top (the sight line through the centre, the radius scaled alike)
    inside every edge."""
    (x0, x1), (y0, y1), z = table
    drop = eye[2] - p[2]
    if drop <= 0.0 or p[2] < z:
        return False
    k = (eye[2] - z) / drop
    x, y, margin = eye[0] + k * (p[0] - eye[0]), eye[1] + k * (p[1] - eye[1]), k * radius
    return x0 + margin <= x <= x1 - margin and y0 + margin <= y <= y1 - margin


class ReachTask(TrialTask):
    """A sequence of targets per trial, touched in order; each must be reached within
    ``time_limit_s`` of becoming current and held for ``dwell_s``.

    ``make_targets(trial_index)`` gives each trial's target centres (k, 3). Hit test: the
    effector within ``radius_m`` of the current target (3-D), or with ``contact_height``
    set, within the radius horizontally and no higher than ``contact_height`` (a tap on
    the floor). Result fields: ``target_ids``, ``target_positions``, ``targets_hit``,
    ``hit_times_s``, ``outcome`` (``hit`` | ``timeout``) and ``dwell_s`` / ``radius_m``."""

    task = "reach"

    def __init__(self, make_targets: Callable[[int], np.ndarray], radius_m: float,
                 dwell_s: float, time_limit_s: float, trials: int, rest_s: float = 1.0,
                 rate_hz: float = 90.0, contact_height: float | None = None) -> None:
        super().__init__(trials, rest_s, rate_hz)
        self.make_targets = make_targets
        self.radius_m = check_range("radius_m", radius_m, 0.01, 0.5)
        self.dwell = HoldTimer(check_range("dwell_s", dwell_s, 0.0, 5.0))
        self.time_limit_s = check_range("time_limit_s", time_limit_s, 0.5, 120.0)
        self.contact_height = contact_height
        self.targets = np.zeros((0, 3))
        self.current = 0
        self.hit_times: list[float] = []
        self._current_since = math.nan
        self._effector = np.zeros(3)

    def update(self, t: float, effector: np.ndarray) -> dict[str, Any] | None:
        """One frame: ``effector`` (3,) is the phantom palm / foot (NaN when not tracked)."""
        self._effector[:] = effector
        return self._step(t, effector)

    def _begin(self, t: float) -> None:
        targets = np.asarray(self.make_targets(self.index), dtype=np.float64)
        if targets.ndim != 2 or targets.shape[1] != 3 or len(targets) == 0:
            raise MirrorTaskError(f"targets must be (k, 3) positions, got {targets.shape}")
        self.targets = targets
        self.current = 0
        self.hit_times = []
        self._current_since = t
        self.dwell.reset()

    def inside(self, effector: np.ndarray, target: np.ndarray) -> bool:
        """Whether ``effector`` is on ``target`` (False for NaN)."""
        d = effector - target
        if self.contact_height is None:
            return bool(d @ d <= self.radius_m ** 2)
        horizontal = d[0] * d[0] + d[1] * d[1]
        return bool(horizontal <= self.radius_m ** 2 and effector[2] <= self.contact_height)

    def _evaluate(self, t: float) -> tuple[bool, dict[str, Any]] | None:
        if self.dwell.update(t, self.inside(self._effector, self.targets[self.current])):
            self.hit_times.append(t - self.onset)
            self.current += 1
            self.dwell.reset()
            self._current_since = t
            if self.current == len(self.targets):
                return True, self._fields("hit")
        elif t - self._current_since >= self.time_limit_s:
            return False, self._fields("timeout")
        return None

    def _fields(self, outcome: str) -> dict[str, Any]:
        return {"target_ids": [f"{self.index}.{k}" for k in range(len(self.targets))],
                "target_positions": round_list(self.targets),
                "targets_hit": self.current, "hit_times_s": [round(h, 3) for h in self.hit_times],
                "outcome": outcome, "radius_m": self.radius_m, "dwell_s": self.dwell.hold_s}
