"""The weighted up-down staircase and its difficulty map."""
from __future__ import annotations

import math

import numpy as np
import pytest

from vrgmi.laterality.staircase import DifficultyMap, StaircaseError, WeightedUpDown


def test_steps_follow_the_weighted_rule():
    s = WeightedUpDown(target=0.8, step_up=0.025, level=0.5)
    assert s.step_down == pytest.approx(0.1)             # 0.025 * 0.8 / 0.2
    assert s.update(True) == pytest.approx(0.525)
    assert s.update(False) == pytest.approx(0.425)
    assert s.update(False) == pytest.approx(0.325)
    assert s.reversals == 1
    assert s.history == pytest.approx([0.5, 0.525, 0.425])


def test_level_is_bounded():
    s = WeightedUpDown(level=0.01)
    s.update(False)
    assert s.level == 0.0
    s = WeightedUpDown(level=0.999)
    s.update(True)
    assert s.level == 1.0


@pytest.mark.parametrize("kwargs", [{"target": 0.5}, {"target": 1.0}, {"step_up": 0.0},
                                    {"level": 1.5}])
def test_bad_settings_are_one_line_errors(kwargs):
    with pytest.raises(StaircaseError) as err:
        WeightedUpDown(**kwargs)
    assert "\n" not in str(err.value)


def _observer(level: float) -> float:
    """A simulated patient: 100 % at the easiest level falling to chance (50 %)."""
    return 0.5 + 0.5 / (1.0 + math.exp((level - 0.6) / 0.08))


#: the level where the observer is right 80 % of the time: 0.6 + 0.08 * ln(2/3)
LEVEL_80 = 0.6 + 0.08 * math.log(2.0 / 3.0)


@pytest.mark.parametrize("target", [0.8, 0.7])
def test_staircase_converges_on_the_target_accuracy(target):
    accuracies, levels = [], []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        s = WeightedUpDown(target=target)
        answers = []
        for _ in range(800):                          # the default (small) step
            correct = bool(rng.random() < _observer(s.level))
            answers.append(correct)
            s.update(correct)
        last = answers[-400:]
        accuracies.append(sum(last) / len(last))
        levels.append(np.mean(s.history[-400:]))
        assert abs(accuracies[-1] - target) < 0.08           # every run near the target
    assert abs(np.mean(accuracies) - target) < 0.02          # and on it on average
    if target == 0.8:
        assert abs(np.mean(levels) - LEVEL_80) < 0.04


def test_difficulty_map_widens_rotation_then_shortens_exposure():
    m = DifficultyMap(rotation_easy_deg=30.0, rotation_hard_deg=180.0, exposure_easy_ms=0.0,
                      exposure_hard_ms=500.0, time_limit_ms=5000.0)
    assert (m.rotation_max_deg(0.0), m.exposure_ms(0.0)) == (30.0, 0.0)
    assert (m.rotation_max_deg(0.25), m.exposure_ms(0.25)) == (105.0, 0.0)
    assert (m.rotation_max_deg(0.5), m.exposure_ms(0.5)) == (180.0, 0.0)
    # past the split the exposure ramps from the time limit (0 = until the answer)
    assert m.exposure_ms(0.75) == pytest.approx(2750.0)
    assert m.exposure_ms(1.0) == pytest.approx(500.0)
    levels = np.linspace(0.0, 1.0, 41)
    rot = [m.rotation_max_deg(v) for v in levels]
    exp = [m.exposure_ms(v) or 5000.0 for v in levels]
    assert all(np.diff(rot) >= 0) and all(np.diff(exp) <= 0)


def test_difficulty_map_rejects_a_falling_range():
    with pytest.raises(StaircaseError):
        DifficultyMap(rotation_easy_deg=90.0, rotation_hard_deg=45.0)
    with pytest.raises(StaircaseError):
        DifficultyMap(exposure_easy_ms=400.0, exposure_hard_ms=800.0)
