"""Per-trial movement measures of an end effector (hand, foot) and of two limbs together.

Everything takes plain NumPy arrays sampled at known times, so the same functions score a
live trial, a replay and a hand-computed test case (docs/mirror-tasks.md has the formulas):

* :func:`path_length` - the distance travelled along a trace (m);
* :func:`movement_bounds` - start and end of the movement: the crossings of a fraction of
  the peak speed, extrapolated to where the speed leaves and returns to zero
  (:func:`extrapolated_bounds`), hence an unbiased movement time and the reaction time;
* :func:`sparc` - spectral arc length (Balasubramanian et al. 2012, 2015), the smoothness
  measure robust to tracking noise and independent of duration and amplitude;
* :func:`ldlj` - log dimensionless jerk, normalised by peak speed (Hogan & Sternad 2009;
  Balasubramanian et al. 2015);
* :func:`symmetry` - how a second limb's trajectory follows the first one's (correlation,
  amplitude ratio, RMS difference, lag);
* :func:`joint_angle_error` - mean and largest joint-angle difference between two poses.

No Panda3D; nothing here runs per frame (trials are scored once, when they end).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vrgmi.errors import VrgmiError


class MeasureError(VrgmiError, ValueError):
    """A measure was given unusable data (mismatched shapes, too few samples, bad rate)."""


def _points(points: np.ndarray, name: str = "points") -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    if p.ndim == 1:
        p = p[:, None]
    if p.ndim != 2:
        raise MeasureError(f"{name} must be (N, D) samples, got shape {np.shape(points)}")
    return p


def _times(t: np.ndarray, n: int) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    if t.shape != (n,):
        raise MeasureError(f"times must be ({n},) to match the samples, got {t.shape}")
    if n > 1 and not np.all(np.diff(t) > 0.0):
        raise MeasureError("times must be strictly increasing")
    return t


def path_length(points: np.ndarray) -> float:
    """Length (m) of the polyline through ``points`` (N, D); samples with a NaN (tracking
    lost) are skipped, so a gap counts as the straight line across it. 0 for N < 2."""
    p = _points(points)
    p = p[np.all(np.isfinite(p), axis=1)]
    if len(p) < 2:
        return 0.0
    return float(np.sum(np.linalg.norm(np.diff(p, axis=0), axis=1)))


def speed_profile(t: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Speed (N,) of a trace by central differences (one-sided at the ends)."""
    p = _points(points)
    t = _times(t, len(p))
    if len(p) < 2:
        return np.zeros(len(p))
    return np.linalg.norm(np.gradient(p, t, axis=0), axis=1)


#: fraction of a stroke's peak speed where its rising (falling) edge is timed a second time,
#: after the threshold: the steepest part of the bell, where noise moves the crossing least
#: (higher pairs of levels read 2-4 % shorter behind the tracking filters, whose lag grows as
#: the speed falls)
HALF_PEAK = 0.5


def min_jerk_phase(fraction: float) -> float:
    """Where (as a fraction of its duration) the speed of a minimum-jerk stroke first reaches
    ``fraction`` of its peak: speed / peak = 16 s^2 (1 - s)^2, so
    s = (1 - sqrt(1 - sqrt(fraction))) / 2 (0.0594 at 5 %, 0.2294 at 50 %)."""
    if not 0.0 <= fraction <= 1.0:
        raise MeasureError(f"speed fraction {fraction!r} must be in 0..1")
    return 0.5 * (1.0 - math.sqrt(1.0 - math.sqrt(fraction)))


def _crossing(t0: float, s0: float, t1: float, s1: float, level: float) -> float:
    """Time where the segment (t0, s0) -> (t1, s1) crosses ``level``."""
    if s1 == s0:
        return t1
    return t0 + (level - s0) / (s1 - s0) * (t1 - t0)


def _stroke_start(t: np.ndarray, v: np.ndarray, first: int, last: int, level: float) -> float:
    """Start of the stroke whose rising edge crosses ``level`` between samples ``first - 1``
    and ``first``; ``last`` is the movement's last supra-threshold sample."""
    on = _crossing(t[first - 1], v[first - 1], t[first], v[first], level)
    edge = v[first:last + 1]
    running = np.maximum.accumulate(edge)
    dip = np.flatnonzero(edge < HALF_PEAK * running)  # fell below half: past the first stroke
    peak = float(running[dip[0] - 1] if len(dip) else running[-1])
    half = HALF_PEAK * peak
    if level >= half:
        return on
    k = first + int(np.argmax(edge >= half))
    t_half = _crossing(t[k - 1], v[k - 1], t[k], v[k], half)
    s_on, s_half = min_jerk_phase(level / peak), min_jerk_phase(HALF_PEAK)
    duration = (t_half - on) / (s_half - s_on)
    return on - s_on * duration


def extrapolated_bounds(t: np.ndarray, speed: np.ndarray, first: int, last: int,
                        level: float) -> tuple[float, float]:
    """Start and end (s) of a movement whose speed is above ``level`` from sample ``first``
    to sample ``last``, corrected for what the threshold cuts off.

    A threshold misses the slow start and end of every movement: a minimum-jerk stroke
    (Flash & Hogan 1985) is below 5 % of its peak speed for 5.9 % of its duration at each
    end, so onset-to-offset at 5 % reads 0.881 of it, less when a floor lifts the threshold.
    Each edge is taken to be the start (end) of a minimum-jerk stroke: the first (last)
    stroke's peak is the largest speed before the speed falls below half of it, the edge is
    timed where it crosses ``level`` and half that peak, and the two crossings give the
    stroke's duration, hence where its speed left (returns to) zero. A movement under way at
    the first (last) sample keeps that sample as its start (end)."""
    t = np.asarray(t, dtype=np.float64)
    v = np.asarray(speed, dtype=np.float64)
    start = float(t[0]) if first == 0 else _stroke_start(t, v, first, last, level)
    n = len(v)
    if last == n - 1:
        end = float(t[-1])
    else:                                 # the falling edge is a rising edge backwards
        end = -_stroke_start(-t[::-1], v[::-1], n - 1 - last, n - 1 - first, level)
    return start, end


def movement_bounds(t: np.ndarray, speed: np.ndarray,
                    fraction: float = 0.05) -> tuple[float, float]:
    """(start, end) times of the movement: the first and last sample whose speed reaches
    ``fraction`` of the peak speed (a common 5 % criterion), extrapolated to where the speed
    leaves and returns to zero (:func:`extrapolated_bounds`). (nan, nan) when nothing moved."""
    if not 0.0 < fraction < 1.0:
        raise MeasureError(f"movement threshold fraction {fraction!r} must be in 0..1")
    v = np.nan_to_num(np.asarray(speed, dtype=np.float64), nan=0.0)
    t = _times(t, len(v))
    if len(v) == 0 or not np.any(v > 0.0):
        return math.nan, math.nan
    level = fraction * float(np.max(v))
    above = np.flatnonzero(v >= level)
    return extrapolated_bounds(t, v, int(above[0]), int(above[-1]), level)


def sparc(speed: np.ndarray, rate_hz: float, pad_level: int = 4, cutoff_hz: float = 10.0,
          amplitude_threshold: float = 0.05) -> float:
    """Spectral arc length of a speed profile sampled at ``rate_hz`` (<= 0; closer to 0 is
    smoother; a minimum-jerk reach gives -1.40).

    The speed's Fourier magnitude, zero-padded to ``2**(ceil(log2 N) + pad_level)`` points
    and normalised to 1 at 0 Hz, is cut at the last frequency below ``cutoff_hz`` where it is
    still above ``amplitude_threshold``; SPARC is minus the arc length of that curve with
    frequency normalised to 0..1 (Balasubramanian, Melendez-Calderon, Roby-Brami & Burdet
    2015, J NeuroEng Rehabil 12:112, with their recommended parameters). NaN when the
    profile is too short or never moves."""
    v = np.asarray(speed, dtype=np.float64)
    if v.ndim != 1:
        raise MeasureError("SPARC needs a 1-D speed profile")
    if not rate_hz > 0.0:
        raise MeasureError(f"SPARC sampling rate {rate_hz!r} must be positive")
    v = v[np.isfinite(v)]
    if len(v) < 4 or not np.any(v > 0.0):
        return math.nan
    nfft = int(2 ** (math.ceil(math.log2(len(v))) + pad_level))
    freq = np.arange(nfft) * (rate_hz / nfft)
    mag = np.abs(np.fft.fft(v, nfft))
    mag /= mag[0] if mag[0] > 0.0 else np.max(mag)
    keep = freq <= cutoff_hz
    freq, mag = freq[keep], mag[keep]
    above = np.flatnonzero(mag >= amplitude_threshold)
    freq, mag = freq[above[0]:above[-1] + 1], mag[above[0]:above[-1] + 1]
    if len(freq) < 2:
        return 0.0
    span = freq[-1] - freq[0]
    return float(-np.sum(np.sqrt((np.diff(freq) / span) ** 2 + np.diff(mag) ** 2)))


#: samples beyond each end of the movement over which jerk is still integrated: numerical
#: differentiation spreads the jump in jerk at a movement's start and end over the
#: neighbouring samples
JERK_MARGIN = 2


def ldlj(t: np.ndarray, velocity: np.ndarray,
         bounds: tuple[float, float] | None = None) -> float:
    """Log dimensionless jerk of a velocity trace (N, D) over the movement from
    ``bounds = (start, end)`` (default: the whole trace):
    ``-ln( (end - start)**3 / v_peak**2 * integral |d2v/dt2|**2 dt )`` (Hogan & Sternad 2009;
    Balasubramanian, Melendez-Calderon, Roby-Brami & Burdet 2015). Closer to 0 is smoother;
    a minimum-jerk movement gives -ln(720 / 1.875**2) = -ln(204.8) = -5.32, and only over
    its whole duration: cut at 5 % of the peak speed it reads -4.2, as the jerk is largest
    at the very start and end. Jerk is differentiated on the whole trace and integrated over
    the movement plus ``JERK_MARGIN`` samples each side. NaN when it never moves. Jerk
    amplifies noise: prefer :func:`sparc` on raw tracking."""
    v = _points(velocity, "velocity")
    t = _times(t, len(v))
    n = len(v)
    if n < 5:
        return math.nan
    if bounds is None:
        lo, hi, duration = 0, n - 1, float(t[-1] - t[0])
    else:
        start, end = bounds
        lo = max(int(np.searchsorted(t, start, "right")) - 1 - JERK_MARGIN, 0)
        hi = min(int(np.searchsorted(t, end, "left")) + JERK_MARGIN, n - 1)
        duration = float(end - start)
    jerk = np.gradient(np.gradient(v, t, axis=0), t, axis=0)[lo:hi + 1]
    peak = float(np.max(np.linalg.norm(v[lo:hi + 1], axis=1)))
    if peak <= 0.0 or hi - lo < 2 or not duration > 0.0:
        return math.nan
    squared = np.sum(jerk * jerk, axis=1)
    integral = float(np.sum(0.5 * (squared[1:] + squared[:-1]) * np.diff(t[lo:hi + 1])))
    dimensionless = duration ** 3 / peak ** 2 * integral
    return -math.log(dimensionless) if dimensionless > 0.0 else math.nan


@dataclass(frozen=True)
class Symmetry:
    """How a ``follower`` trajectory follows a ``reference`` one (both centred on their means).

    ``correlation``: sum(a . b) / sqrt(sum|a|^2 sum|b|^2), -1..1 (1 = same shape and
    direction); ``amplitude_ratio``: RMS size of the follower over the reference's;
    ``rms_difference_m``: RMS of |a - b|; ``lag_s``: the shift of the follower (positive =
    it comes later) within +-``max_lag_s`` that maximises the correlation, and
    ``lagged_correlation`` that maximum."""

    correlation: float
    amplitude_ratio: float
    rms_difference_m: float
    lag_s: float
    lagged_correlation: float

    def as_dict(self) -> dict[str, float]:
        """JSON-ready values, rounded."""
        return {"correlation": round(self.correlation, 4),
                "amplitude_ratio": round(self.amplitude_ratio, 4),
                "rms_difference_m": round(self.rms_difference_m, 4),
                "lag_s": round(self.lag_s, 4),
                "lagged_correlation": round(self.lagged_correlation, 4)}


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    den = math.sqrt(float(np.sum(a * a)) * float(np.sum(b * b)))
    return float(np.sum(a * b)) / den if den > 0.0 else math.nan


def symmetry(reference: np.ndarray, follower: np.ndarray, rate_hz: float,
             max_lag_s: float = 0.5) -> Symmetry:
    """Symmetry of two trajectories (N, D) sampled together at ``rate_hz``: for a bilateral
    task, the mirrored intact limb point and the tracked residual limb point (see
    docs/mirror-tasks.md). Rows with a NaN in either are dropped first."""
    a, b = _points(reference, "reference"), _points(follower, "follower")
    if a.shape != b.shape:
        raise MeasureError(f"symmetry needs two traces of one shape, got {a.shape} and "
                           f"{b.shape}")
    if not rate_hz > 0.0 or not max_lag_s >= 0.0:
        raise MeasureError("symmetry needs a positive rate and a non-negative max lag")
    ok = np.all(np.isfinite(a), axis=1) & np.all(np.isfinite(b), axis=1)
    a, b = a[ok], b[ok]
    if len(a) < 3:
        nan = math.nan
        return Symmetry(nan, nan, nan, nan, nan)
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    size_a = float(np.sum(a * a))
    ratio = math.sqrt(float(np.sum(b * b)) / size_a) if size_a > 0.0 else math.nan
    rms = math.sqrt(float(np.mean(np.sum((a - b) ** 2, axis=1))))
    corr = _correlation(a, b)
    best_lag, best = 0, corr
    max_lag = min(int(round(max_lag_s * rate_hz)), len(a) // 2)
    for k in range(-max_lag, max_lag + 1):
        if k == 0:
            continue
        c = _correlation(a[:len(a) - k], b[k:]) if k > 0 else _correlation(a[-k:], b[:k])
        if c > best:
            best_lag, best = k, c
    return Symmetry(corr, ratio, rms, best_lag / rate_hz, best)


def joint_angle_error(angles: np.ndarray, target: np.ndarray,
                      dofs: np.ndarray | list[int] | None = None) -> tuple[float, float]:
    """(mean, max) absolute difference in degrees between two joint-angle vectors (radians,
    a solver's ``angles``) over ``dofs`` (indices; default all). Differences are wrapped to
    -180..180 deg, so a plane angle of 179 vs -179 deg is 2 deg apart."""
    a = np.asarray(angles, dtype=np.float64)
    b = np.asarray(target, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise MeasureError(f"joint angles must be two vectors of one length, got {a.shape} "
                           f"and {b.shape}")
    idx = np.arange(len(a)) if dofs is None else np.asarray(dofs, dtype=np.int64)
    if len(idx) == 0 or np.any((idx < 0) | (idx >= len(a))):
        raise MeasureError(f"joint-angle indices must be some of 0..{len(a) - 1}")
    d = np.abs(np.degrees((a[idx] - b[idx] + np.pi) % (2.0 * np.pi) - np.pi))
    return float(np.mean(d)), float(np.max(d))


@dataclass(frozen=True)
class MovementSummary:
    """The movement figures of one trial's end-effector trace."""

    path_length_m: float
    movement_time_s: float       # start to end (movement_bounds: 5 % of peak, extrapolated)
    onset_s: float               # movement start, seconds after the trace began
    peak_speed_mps: float
    sparc: float
    ldlj: float

    def as_dict(self) -> dict[str, float]:
        """The trial-event fields (smoothness named by its metric), rounded."""
        return {"path_length_m": round(self.path_length_m, 4),
                "movement_time_s": round(self.movement_time_s, 3),
                "movement_onset_s": round(self.onset_s, 3),
                "peak_speed_mps": round(self.peak_speed_mps, 3),
                "smoothness_sparc": round(self.sparc, 3),
                "smoothness_ldlj": round(self.ldlj, 3)}


def summarize_movement(t: np.ndarray, points: np.ndarray, rate_hz: float) -> MovementSummary:
    """Path length, movement time, onset, peak speed, SPARC and LDLJ of one trace; the
    smoothness measures cover the whole movement, from its start to its end
    (:func:`movement_bounds`)."""
    p = _points(points)
    t = _times(t, len(p))
    ok = np.all(np.isfinite(p), axis=1)
    t, p = t[ok], p[ok]
    nan = math.nan
    if len(p) < 2:
        return MovementSummary(0.0, nan, nan, 0.0, nan, nan)
    speed = speed_profile(t, p)
    onset, offset = movement_bounds(t, speed)
    if onset != onset:
        return MovementSummary(path_length(p), 0.0, nan, 0.0, nan, nan)
    moving = (t >= onset) & (t <= offset)
    velocity = np.gradient(p, t, axis=0)
    return MovementSummary(path_length(p), offset - onset, onset - float(t[0]),
                           float(np.max(speed)), sparc(speed[moving], rate_hz),
                           ldlj(t, velocity, (onset, offset)))
