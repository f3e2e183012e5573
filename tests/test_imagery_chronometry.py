"""Mental chronometry: executed durations of minimum-jerk movements (exact, noisy, slow,
out-and-back, through the tracking pipeline), imagined durations and ratios."""
from __future__ import annotations

import numpy as np
import pytest

from vrgmi.imagery.chronometry import (OnlineMovementDetector, SpeedMeter, SpeedTrace,
                                       chronometry_ratio, imagined_duration, movement_bounds)
from vrgmi.core import CorePipeline, warmup
from vrgmi.measures.movement import min_jerk_phase
from vrgmi.settings import load_settings
from vrgmi.tracking.replay import Replay, ReplaySource
from vrgmi.tracking.scripted import make_scripted_replay

T = np.round(np.arange(0.0, 6.0, 1 / 90.0), 10)          # 90 Hz, a headset's rate


def _bell(start: float, duration: float, amplitude: float) -> np.ndarray:
    """Speed (m/s) of a minimum-jerk stroke of ``amplitude`` m over ``start`` + ``duration``:
    (A / D) 30 s^2 (1 - s)^2, peak 1.875 A / D at mid-stroke."""
    s = np.clip((T - start) / duration, 0.0, 1.0)
    return amplitude / duration * 30.0 * s ** 2 * (1.0 - s) ** 2


def _reach_speed(duration: float, amplitude: float, noise_m: float, seed: int) -> np.ndarray:
    """A minimum-jerk reach from 1.0 s, positions with white tracking noise, timed by the
    scene's SpeedMeter frame by frame (its 30 ms low-pass included)."""
    s = np.clip((T - 1.0) / duration, 0.0, 1.0)
    x = amplitude * s ** 3 * (10.0 - 15.0 * s + 6.0 * s * s)
    pos = np.stack([x, 0.0 * x, 0.0 * x], axis=1)
    pos += np.random.default_rng(seed).normal(0.0, noise_m, pos.shape)
    meter = SpeedMeter()
    return np.array([meter.update(p, 1 / 90.0) for p in pos])


def test_a_threshold_alone_measures_0881_of_a_minimum_jerk_movement():
    assert min_jerk_phase(0.05) == pytest.approx(0.0594, abs=1e-4)
    assert min_jerk_phase(0.5) == pytest.approx(0.2294, abs=1e-4)
    assert 1.0 - 2.0 * min_jerk_phase(0.05) == pytest.approx(0.881, abs=1e-3)


@pytest.mark.parametrize("duration", [0.6, 1.0, 2.0, 4.0])
@pytest.mark.parametrize("amplitude", [0.15, 0.3])
def test_exact_minimum_jerk_start_and_end_are_recovered(duration, amplitude):
    start, end = movement_bounds(T, _bell(1.0, duration, amplitude))
    assert start == pytest.approx(1.0, abs=0.004)
    assert end == pytest.approx(1.0 + duration, abs=0.004)


@pytest.mark.parametrize("duration", [1.0, 2.0, 3.0, 4.0])
@pytest.mark.parametrize("amplitude", [0.15, 0.4])
def test_perfect_imagery_reads_a_ratio_within_3_percent_of_one(duration, amplitude):
    # 0.02 mm position noise and the speed meter; a threshold alone read 1.12-1.35 here
    for seed in range(3):
        bounds = movement_bounds(T, _reach_speed(duration, amplitude, 2e-5, seed))
        ratio = chronometry_ratio(duration, bounds[1] - bounds[0])
        assert ratio == pytest.approx(1.0, abs=0.03)


def test_slow_movement_under_the_floor_is_still_timed_whole():
    # 3 s, 10 cm: peak 0.0625 m/s, so the 0.02 m/s floor is 32 % of the peak (a threshold
    # alone measured 0.66 of the movement: ratio 1.5)
    start, end = movement_bounds(T, _bell(1.0, 3.0, 0.1))
    assert end - start == pytest.approx(3.0, rel=0.01)


def test_turnaround_gap_is_bridged_but_a_separate_movement_is_not():
    # raise 1.0 s, 0.3 s still at the top, lower 1.2 s: one movement of 2.5 s
    out_and_back = _bell(1.0, 1.0, 0.3) + _bell(2.3, 1.2, 0.3)
    start, end = movement_bounds(T, out_and_back)
    assert start == pytest.approx(1.0, abs=0.005) and end == pytest.approx(3.5, abs=0.005)
    twitch_then_move = _bell(0.2, 0.1, 0.01) + _bell(1.5, 1.0, 0.3)
    start, end = movement_bounds(T, twitch_then_move)
    assert start == pytest.approx(1.5, abs=0.005) and end == pytest.approx(2.5, abs=0.005)


def test_no_movement_and_unfinished_movement_give_none():
    assert movement_bounds(T, _bell(1.0, 1.0, 0.03)) is None       # peak below 6 cm/s
    assert movement_bounds(T, np.zeros_like(T)) is None
    assert movement_bounds(T, _bell(5.5, 1.0, 0.3)) is None        # still moving at the end
    assert movement_bounds(T[:1], np.ones(1)) is None


def test_movement_under_way_at_the_start_and_nan_samples():
    start, end = movement_bounds(T, _bell(-0.5, 1.0, 0.3))
    assert start == 0.0 and end == pytest.approx(0.5, abs=0.005)
    speed = _bell(1.0, 1.0, 0.3)
    speed[300:305] = np.nan                       # a tracking glitch after the movement
    assert movement_bounds(T, speed)[1] == pytest.approx(2.0, abs=0.005)
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


def _recorded_reach(duration: float, lift_m: float) -> Replay:
    """A recording of the intact right hand at rest, lifted ``lift_m`` upward by a
    minimum-jerk movement over 2.0 s .. 2.0 + ``duration`` (the filters settled), then at
    rest again."""
    seconds = duration + 5.0
    arrays = {k: np.array(v) for k, v in
              make_scripted_replay("rest", seconds, 90.0, "right").arrays().items()}
    s = np.clip((arrays["t"] - 2.0) / duration, 0.0, 1.0)
    arrays["right_grip"][:, 2] += lift_m * s ** 3 * (10 - 15 * s + 6 * s * s)
    return Replay.from_arrays(arrays)


@pytest.mark.parametrize("duration", [1.0, 2.0, 3.0])
def test_recorded_movement_through_the_tracking_pipeline(duration):
    # what the imagery scene times: the IK-solved intact wrist after the tracking filters
    # (One Euro), through the SpeedMeter, frame by frame at 90 Hz; a threshold alone read
    # a ratio of 1.14-1.31 for these
    warmup()
    settings = load_settings(None, ["patient.amputation_level=transradial"])
    core = CorePipeline(settings, ReplaySource(_recorded_reach(duration, 0.2)))
    wrist = core.joint_names.index("wrist")
    meter, trace = SpeedMeter(), SpeedTrace()
    for i in range(int((duration + 5.0) * 90.0) - 1):
        core.step(i / 90.0, 1 / 90.0)
        trace.append(i / 90.0, meter.update(core.intact.positions[wrist], 1 / 90.0))
    start, end = trace.bounds()
    assert chronometry_ratio(duration, end - start) == pytest.approx(1.0, abs=0.03)
    assert start == pytest.approx(2.0, abs=0.1)
