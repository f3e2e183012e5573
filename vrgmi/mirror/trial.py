"""What every mirror task shares: the trial cycle (rest, then a trial until it succeeds or
times out), the end-effector trace it is scored from, a hold timer, torso-frame helpers.

A task is stepped once per frame with the display time and the phantom limb's end effector
(NaN while the limb is not tracked, which never counts as a hit). When a trial ends,
``update`` returns its result: a JSON-ready dict with the common fields (``index``,
``task``, ``success``, ``time_s``, the movement summary of :mod:`vrgmi.measures.movement`,
``symmetry``) and the task's own.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, Callable, ClassVar

import numpy as np

from vrgmi.errors import VrgmiError
from vrgmi.measures.movement import summarize_movement

#: trace capacity: 60 s at 144 Hz, the longest trial at the fastest headset rate, with room
TRACE_CAPACITY = 10_000


class MirrorTaskError(VrgmiError, ValueError):
    """A mirror task was configured with an impossible value (one line)."""


def check_range(name: str, value: float, lo: float, hi: float) -> float:
    """``value`` as a float when ``lo <= value <= hi``, else a one-line MirrorTaskError."""
    v = float(value)
    if not lo <= v <= hi:
        raise MirrorTaskError(f"{name} = {value!r} is outside {lo:g}..{hi:g}")
    return v


class TraceBuffer:
    """Samples (time, D values) appended once per frame into preallocated arrays."""

    def __init__(self, dims: int = 3, capacity: int = TRACE_CAPACITY) -> None:
        self.t = np.zeros(capacity)
        self.values = np.zeros((capacity, dims))
        self.n = 0
        self.truncated = False

    def clear(self) -> None:
        """Start an empty trace (keeps the arrays)."""
        self.n = 0
        self.truncated = False

    def append(self, t: float, values: np.ndarray) -> None:
        """Add one sample; past the capacity the trace keeps its first samples."""
        if self.n >= len(self.t):
            self.truncated = True
            return
        self.t[self.n] = t
        self.values[self.n] = values
        self.n += 1

    def view(self) -> tuple[np.ndarray, np.ndarray]:
        """(t (n,), values (n, D)): views of the samples so far."""
        return self.t[:self.n], self.values[:self.n]


class HoldTimer:
    """True once a condition has held continuously for ``hold_s`` seconds."""

    def __init__(self, hold_s: float) -> None:
        self.hold_s = hold_s
        self.since = math.nan

    def reset(self) -> None:
        """Forget the current hold."""
        self.since = math.nan

    def update(self, t: float, inside: bool) -> bool:
        """Feed the condition at time ``t``; True when it has held for ``hold_s``."""
        if not inside:
            self.since = math.nan
            return False
        if self.since != self.since:
            self.since = t
        return t - self.since >= self.hold_s - 1e-9

    def held_s(self, t: float) -> float:
        """Seconds the condition has held at ``t`` (0 when not holding)."""
        return 0.0 if self.since != self.since else t - self.since


def yaw_axes(torso_pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The torso's (right, forward) unit axes in world space (the torso frame is yaw-only)."""
    qz, qw = float(torso_pose[5]), float(torso_pose[6])
    yaw = 2.0 * math.atan2(qz, qw)
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([c, s, 0.0]), np.array([-s, c, 0.0])


def lateral_sign(side: int) -> float:
    """+1 for the right side, -1 for the left: multiplies the torso's right axis to point
    away from the midline on ``side``."""
    return 1.0 if side == 1 else -1.0


def flat_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The horizontal (x, y) distance between two points (m)."""
    return math.hypot(float(a[0] - b[0]), float(a[1] - b[1]))


def trial_spots(make_spots: Callable[[int], np.ndarray], index: int, count: int, task: str,
                where: str) -> np.ndarray:
    """``make_spots(index)`` as a (``count``, 3) float array; a one-line MirrorTaskError
    naming the ``task`` and ``where`` the spots lie (table, floor) when it is not."""
    spots = np.asarray(make_spots(index), dtype=np.float64)
    if spots.shape != (count, 3):
        plural = "" if count == 1 else "s"
        raise MirrorTaskError(f"{task} needs {count} {where} spot{plural}, got {spots.shape}")
    return spots


def round_list(values: np.ndarray, digits: int = 4) -> list:
    """A JSON-ready nested list of rounded floats."""
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


def _clean(value: float, digits: int) -> float | None:
    return None if value != value or math.isinf(value) else round(float(value), digits)


class TrialTask(ABC):
    """The trial cycle: ``rest_s`` of rest, a trial, its result; ``trials`` times.

    Subclasses implement :meth:`_begin` (set up a trial at ``t``) and :meth:`_evaluate`
    (None while the trial runs, else ``(success, task-specific fields)``) and call
    :meth:`_step` from their ``update``. ``ready_to_start`` may hold the rest until the
    limb is back in a start position.
    """

    task: ClassVar[str] = ""

    def __init__(self, trials: int, rest_s: float, rate_hz: float) -> None:
        self.trials = int(check_range("trials", trials, 1, 1000))
        self.rest_s = check_range("rest_s", rest_s, 0.0, 30.0)
        self.rate_hz = check_range("rate_hz", rate_hz, 10.0, 1000.0)
        self.trace = TraceBuffer(3)
        self.results: list[dict[str, Any]] = []
        self.active = False
        self.onset = math.nan
        self._rest_end = math.nan

    @property
    def finished(self) -> bool:
        """True when every trial has been run."""
        return len(self.results) >= self.trials

    @property
    def index(self) -> int:
        """The number of the trial running or next to run (0-based)."""
        return len(self.results)

    def ready_to_start(self, t: float) -> bool:
        """Whether a trial may begin now (after the rest); default always."""
        return True

    @abstractmethod
    def _begin(self, t: float) -> None:
        """Set up the trial starting at ``t``."""

    @abstractmethod
    def _evaluate(self, t: float) -> tuple[bool, dict[str, Any]] | None:
        """None while the trial runs; ``(success, fields)`` when it has ended."""

    def _symmetry(self) -> dict[str, float] | None:
        """The trial's symmetry figures, None where the task cannot measure it."""
        return None

    def _step(self, t: float, effector: np.ndarray) -> dict[str, Any] | None:
        if self.finished:
            return None
        if not self.active:
            if self._rest_end != self._rest_end:
                self._rest_end = t + self.rest_s
            if t < self._rest_end or not self.ready_to_start(t):
                return None
            self.active = True
            self.onset = t
            self.trace.clear()
            self._begin(t)
        self.trace.append(t, effector)
        outcome = self._evaluate(t)
        if outcome is None:
            return None
        return self._finish(t, *outcome)

    def _finish(self, t: float, success: bool, fields: dict[str, Any]) -> dict[str, Any]:
        tt, pts = self.trace.view()
        movement = summarize_movement(tt, pts, self.rate_hz) if len(tt) else None
        sym = self._symmetry()
        result: dict[str, Any] = {"index": self.index, "task": self.task,
                                  "success": bool(success), "time_s": round(t - self.onset, 3)}
        if movement is not None:
            result.update({k: _clean(v, 4) for k, v in movement.as_dict().items()})
        result["symmetry"] = None if sym is None else _clean(sym["correlation"], 4)
        result["symmetry_detail"] = sym
        result.update(fields)
        self.results.append(result)
        self.active = False
        self._rest_end = math.nan
        return result

    def summary(self) -> dict[str, Any]:
        """Trials run, successes, success rate and the median time of the successes."""
        done = len(self.results)
        ok = [r for r in self.results if r["success"]]
        times = [r["time_s"] for r in ok]
        return {"trials": done, "successes": len(ok),
                "success_rate": round(len(ok) / done, 3) if done else None,
                "median_time_s": round(float(np.median(times)), 3) if times else None}
