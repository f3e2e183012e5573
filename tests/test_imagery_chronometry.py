"""Mental chronometry on synthetic traces with hand-computed onsets, offsets and ratios."""
from __future__ import annotations

import numpy as np
import pytest

from vrgmi.imagery.chronometry import (OnlineMovementDetector, SpeedMeter, SpeedTrace,
                                       chronometry_ratio, imagined_duration, movement_bounds)

T = np.round(np.arange(0.0, 4.0, 0.01), 10)


def _triangle(t0: float, t_peak: float, t1: float, peak: float) -> np.ndarray:
    up = (T - t0) / (t_peak - t0) * peak
    down = (t1 - T) / (t1 - t_peak) * peak
    return np.clip(np.minimum(up, down), 0.0, None)


def test_triangle_onset_offset_at_five_percent_of_peak():
    # 0 -> 1 m/s over 1.0..1.5 s, back to 0 at 2.0 s: threshold 0.05 m/s is crossed
    # 0.05 * 0.5 s = 25 ms after 1.0 s and 25 ms before 2.0 s
    onset, offset = movement_bounds(T, _triangle(1.0, 1.5, 2.0, 1.0))
    assert onset == pytest.approx(1.025)
    assert offset == pytest.approx(1.975)
    assert offset - onset == pytest.approx(0.95)


def test_floor_threshold_for_a_slow_movement():
    # peak 0.2 m/s: 5 % is 0.01, below the 0.02 m/s floor; 0.02 is 10 % of the ramp
    onset, offset = movement_bounds(T, _triangle(1.0, 1.5, 2.0, 0.2))
    assert onset == pytest.approx(1.05)
    assert offset == pytest.approx(1.95)


def test_turnaround_gap_is_bridged_but_a_separate_movement_is_not():
    out_and_back = _triangle(1.0, 1.25, 1.5, 1.0) + _triangle(1.7, 1.95, 2.2, 0.8)
    onset, offset = movement_bounds(T, out_and_back)
    assert onset == pytest.approx(1.0125)          # 0.05 of a 0.25 s ramp to 1.0
    assert offset == pytest.approx(2.2 - 0.05 / 0.8 * 0.25)
    twitch_then_move = _triangle(0.2, 0.25, 0.3, 0.5) + _triangle(1.5, 2.0, 2.5, 1.0)
    onset, offset = movement_bounds(T, twitch_then_move)
    assert onset == pytest.approx(1.525) and offset == pytest.approx(2.475)


def test_no_movement_and_unfinished_movement_give_none():
    assert movement_bounds(T, _triangle(1.0, 1.5, 2.0, 0.05)) is None       # below 6 cm/s
    assert movement_bounds(T, np.zeros_like(T)) is None
    assert movement_bounds(T, _triangle(3.0, 3.9, 4.5, 1.0)) is None        # still moving
    assert movement_bounds(T[:1], np.ones(1)) is None


def test_movement_under_way_at_the_start_and_nan_samples():
    speed = _triangle(-0.5, 0.0, 0.5, 1.0)
    onset, offset = movement_bounds(T, speed)
    assert onset == 0.0 and offset == pytest.approx(0.475)
    speed = _triangle(1.0, 1.5, 2.0, 1.0)
    speed[250:255] = np.nan                       # a tracking glitch after the movement
    assert movement_bounds(T, speed)[1] == pytest.approx(1.975)
    with pytest.raises(ValueError):
        movement_bounds(T, speed[:10])


def test_imagined_duration_and_ratio():
    assert imagined_duration(10.25, 12.75) == pytest.approx(2.5)
    assert imagined_duration(None, 12.0) is None
    assert imagined_duration(12.0, None) is None
    assert imagined_duration(12.0, 11.0) is None
    assert imagined_duration(float("nan"), 1.0) is None
    assert chronometry_ratio(2.5, 2.0) == pytest.approx(1.25)
    assert chronometry_ratio(0.95, 0.95) == pytest.approx(1.0)
    assert chronometry_ratio(None, 2.0) is None
    assert chronometry_ratio(2.0, None) is None
    assert chronometry_ratio(2.0, 0.0) is None


def test_speed_meter_converges_and_resets_on_loss():
    meter = SpeedMeter(tau_s=0.03)
    pos = np.zeros(3)
    for i in range(60):                              # 0.5 m/s along x at 100 Hz
        pos[0] = 0.005 * i
        speed = meter.update(pos, 0.01)
    assert speed == pytest.approx(0.5, rel=1e-3)
    meter.update(pos, 0.01, valid=False)
    pos[0] += 1.0                                    # a jump across the loss is not speed
    assert meter.update(pos, 0.01) == pytest.approx(speed)
    pos[0] += np.nan
    assert meter.update(pos, 0.01) == pytest.approx(speed)


def test_online_detector_hysteresis_and_settling():
    d = OnlineMovementDetector(start_mps=0.06, stop_mps=0.03, settle_s=0.6)
    assert d.update(0.0, 0.05) == "waiting"          # below start
    assert d.update(0.1, 0.2) == "moving"
    assert d.update(0.2, 0.04) == "moving"           # between the thresholds: still moving
    assert d.update(0.3, 0.01) == "moving"           # still since 0.3
    assert d.update(0.8, 0.01) == "moving"
    assert d.update(0.85, 0.1) == "moving"           # moved again: the clock restarts
    assert d.update(0.9, 0.0) == "moving"
    assert d.update(1.49, float("nan")) == "moving"
    assert d.update(1.5, 0.0) == "done"
    d.reset()
    assert d.state == "waiting"
    with pytest.raises(ValueError):
        OnlineMovementDetector(start_mps=0.03, stop_mps=0.05)


def test_speed_trace_records_and_drops_past_capacity():
    trace = SpeedTrace(capacity=3)
    for i in range(5):
        trace.append(i * 0.1, 1.0)
    assert trace.n == 3 and list(trace.t[:3]) == [0.0, 0.1, 0.2]
    trace.clear()
    assert trace.n == 0 and trace.bounds() is None
