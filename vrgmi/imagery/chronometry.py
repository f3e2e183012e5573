"""Mental chronometry: executed duration from a speed trace, imagined duration from two
marks, and their ratio (imagined / executed; near 1 = good imagery, CLINICAL.md "Explicit
imagery measures"). No Panda3D here.

Executed duration, offline on the trace of one execution (:func:`movement_bounds`):
the threshold is ``fraction`` (default 5 %) of the peak speed, but never below ``floor_mps``
(tracking jitter); the movement is the supra-threshold stretch that holds the peak, where
stretches separated by less than ``merge_gap_s`` (a turnaround, e.g. the top of a raise) are
one movement. A threshold cuts off the slow start and end of every movement (0.881 of a
minimum-jerk movement at 5 %, less under the floor), which made perfect imagery read a
ratio of 1.13-1.5; so each edge is extrapolated to where the speed leaves (returns to) zero,
taking it to be the start (end) of a minimum-jerk stroke timed at the threshold and at half
the stroke's peak (:func:`vrgmi.measures.movement.extrapolated_bounds`; docs/imagery.md).
A trace whose peak stays below ``min_peak_mps`` holds no movement: None, never a made-up
number.

Online, during the execute phase (:class:`OnlineMovementDetector`), a fixed threshold with
hysteresis decides when the patient has started (speed above ``start_mps``) and finished
(below ``stop_mps`` for ``settle_s``), so the trial can move on; the duration itself is then
measured offline on the recorded trace.
"""
from __future__ import annotations

import math

import numpy as np

from vrgmi.measures.movement import extrapolated_bounds

#: defaults (docs/imagery.md): 5 % of peak speed is a common onset/offset criterion in
#: reaching kinematics (then extrapolated to zero speed); the floors sit above the jitter
#: of filtered tracking
ONSET_FRACTION = 0.05
FLOOR_MPS = 0.02
MIN_PEAK_MPS = 0.06
MERGE_GAP_S = 0.6
START_MPS = 0.06
STOP_MPS = 0.03
SETTLE_S = 0.6


def movement_bounds(t: np.ndarray, speed: np.ndarray, fraction: float = ONSET_FRACTION,
                    floor_mps: float = FLOOR_MPS, min_peak_mps: float = MIN_PEAK_MPS,
                    merge_gap_s: float = MERGE_GAP_S) -> tuple[float, float] | None:
    """(start, end) times of the movement in a speed trace, or None when there is none.

    ``t`` (N,) increasing seconds, ``speed`` (N,) m/s; non-finite speeds count as still.
    A movement already under way at the first sample starts there; one still under way at
    the last sample has no end (None).
    """
    t = np.asarray(t, dtype=np.float64)
    s = np.nan_to_num(np.asarray(speed, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if t.shape != s.shape or t.ndim != 1:
        raise ValueError("movement_bounds: t and speed must be 1-D arrays of one length")
    n = len(s)
    if n < 2:
        return None
    peak_i = int(np.argmax(s))
    peak = float(s[peak_i])
    if peak < min_peak_mps:
        return None
    level = max(fraction * peak, floor_mps)
    above = s > level
    # walk out from the peak, bridging sub-threshold gaps shorter than merge_gap_s
    first = peak_i
    i = peak_i - 1
    while i >= 0:
        if above[i]:
            first = i
        elif t[first] - t[i] >= merge_gap_s:
            break
        i -= 1
    last = peak_i
    i = peak_i + 1
    while i < n:
        if above[i]:
            last = i
        elif t[i] - t[last] >= merge_gap_s:
            break
        i += 1
    if last == n - 1:
        return None                      # still moving when the trace ended
    return extrapolated_bounds(t, s, first, last, level)


def imagined_duration(start: float | None, end: float | None) -> float | None:
    """``end - start`` (s) of the two marks, or None when either is missing or out of order."""
    if start is None or end is None or not (math.isfinite(start) and math.isfinite(end)):
        return None
    return end - start if end > start else None


def chronometry_ratio(imagined_s: float | None, executed_s: float | None) -> float | None:
    """imagined / executed, or None when either is missing or not positive."""
    if imagined_s is None or executed_s is None or imagined_s <= 0.0 or executed_s <= 0.0:
        return None
    return imagined_s / executed_s


class SpeedMeter:
    """Speed (m/s) of one tracked point from its positions frame by frame, low-passed with
    time constant ``tau_s`` (default 30 ms) so single-frame jitter does not read as motion."""

    def __init__(self, tau_s: float = 0.03) -> None:
        self.tau_s = tau_s
        self._last = np.zeros(3)
        self._has_last = False
        self.speed = 0.0

    def reset(self) -> None:
        """Forget the last position (tracking was lost, or a new trial)."""
        self._has_last = False
        self.speed = 0.0

    def update(self, position: np.ndarray, dt: float, valid: bool = True) -> float:
        """Feed this frame's position; returns the smoothed speed (0 until two valid frames)."""
        if not valid or dt <= 0.0 or not np.all(np.isfinite(position)):
            self._has_last = False
            return self.speed
        if self._has_last:
            d = position - self._last
            raw = math.sqrt(float(d @ d)) / dt
            a = 1.0 - math.exp(-dt / self.tau_s)
            self.speed += a * (raw - self.speed)
        self._last[:] = position
        self._has_last = True
        return self.speed


class SpeedTrace:
    """A preallocated (t, speed) recording of one execution; extra samples are dropped."""

    def __init__(self, capacity: int = 20000) -> None:
        self.t = np.zeros(capacity)
        self.speed = np.zeros(capacity)
        self.n = 0

    def clear(self) -> None:
        """Start a new recording."""
        self.n = 0

    def append(self, t: float, speed: float) -> None:
        """Record one sample (ignored once full)."""
        if self.n < len(self.t):
            self.t[self.n] = t
            self.speed[self.n] = speed
            self.n += 1

    def bounds(self) -> tuple[float, float] | None:
        """:func:`movement_bounds` of what was recorded."""
        return movement_bounds(self.t[:self.n], self.speed[:self.n])


class OnlineMovementDetector:
    """Frame-by-frame: ``waiting`` -> ``moving`` (speed above ``start_mps``) -> ``done``
    (below ``stop_mps`` for ``settle_s``). Hysteresis keeps jitter from ending a movement."""

    def __init__(self, start_mps: float = START_MPS, stop_mps: float = STOP_MPS,
                 settle_s: float = SETTLE_S) -> None:
        if not 0.0 < stop_mps < start_mps:
            raise ValueError("OnlineMovementDetector: need 0 < stop_mps < start_mps")
        self.start_mps, self.stop_mps, self.settle_s = start_mps, stop_mps, settle_s
        self.state = "waiting"
        self._still_since: float | None = None

    def reset(self) -> None:
        """Wait for a new movement."""
        self.state = "waiting"
        self._still_since = None

    def update(self, t: float, speed: float) -> str:
        """Feed one frame's speed; returns the state."""
        if not math.isfinite(speed):
            speed = 0.0
        if self.state == "waiting":
            if speed > self.start_mps:
                self.state = "moving"
        elif self.state == "moving":
            if speed < self.stop_mps:
                if self._still_since is None:
                    self._still_since = t
                elif t - self._still_since >= self.settle_s:
                    self.state = "done"
            else:
                self._still_since = None
        return self.state
