"""Study conditions (docs/study-conditions.md): delayed mirror to one frame, frozen and
replayed phantoms, imagery without a phantom, the seeded randomisation schedule and its
codes."""
from __future__ import annotations

import math

import numpy as np
import pytest

from vrgmi.app import scripted_source
from vrgmi.core import CorePipeline, warmup
from vrgmi.phantom_setup import replay_motion
from vrgmi.settings import load_settings
from vrgmi.study.allocation import (CODE_ALPHABET, StudyPlan, allocate, check_study,
                                    condition_codes, schedule)
from vrgmi.study.conditions import CONDITIONS, ConditionError, to_local_kernel

RATE = 90.0


def _core(motion="reach", level="transradial"):
    settings = load_settings(None, {"patient.amputation_level": level,
                                    "tracking.scripted_motion": motion})
    warmup()
    return CorePipeline(settings, scripted_source(settings)), settings


def _effector(core):
    return core.phantom.positions[core.effector_index].copy()


@pytest.mark.parametrize("delay_s", [0.5, 0.23])
def test_delayed_mirror_is_accurate_to_one_frame(delay_s):
    mirror, _ = _core()
    delayed, settings = _core()
    delayed.condition.set("delayed", delay_s, settings.study.max_delay_s, RATE)
    late = math.ceil(delay_s * RATE - 1e-6)      # the newest frame at least delay_s old
    assert 0.0 <= late / RATE - delay_s < 1 / RATE
    targets, effectors = [], []
    for i in range(200):
        mirror.step(i / RATE, 1 / RATE)
        delayed.step(i / RATE, 1 / RATE)
        targets.append(mirror.phantom.target.copy())
        effectors.append(_effector(mirror))
        if i >= late:
            # the newest frame at least delay_s old: exactly `late` frames back
            assert np.array_equal(delayed.phantom.target, targets[i - late])
            assert np.linalg.norm(_effector(delayed) - effectors[i - late]) < 1e-3
    moved = max(np.linalg.norm(effectors[i] - effectors[i - late]) for i in range(late, 200))
    assert moved > 0.01                          # the delay is visible in this motion


@pytest.mark.parametrize("level, motion", [("transradial", "reach"),
                                           ("transtibial", "foot_tap")])
def test_frozen_stays_frozen_while_the_intact_limb_moves(level, motion):
    core, _ = _core(motion, level)
    core.condition.set("frozen")
    core.step(0.0, 1 / RATE)
    held = core.phantom.positions.copy()
    path = 0.0
    for i in range(1, 300):
        before = core.intact.positions[-1].copy()
        core.step(i / RATE, 1 / RATE)
        path += np.linalg.norm(core.intact.positions[-1] - before)
        assert np.allclose(core.phantom.positions, held, atol=1e-12)
    assert path > 0.2


@pytest.mark.parametrize("level, moving, still", [("transradial", "reach", "rest"),
                                                  ("transtibial", "foot_tap", "rest")])
def test_replay_follows_the_recording_not_the_intact_limb(level, moving, still):
    reach, settings = _core(moving, level)
    rest, _ = _core(still, level)
    motion = replay_motion(settings)
    for core in (reach, rest):
        core.condition.set("replay", motion=motion)
    local = np.zeros(7)
    for i in range(0, 400):
        t = i / RATE
        reach.step(t, 1 / RATE)
        rest.step(t, 1 / RATE)
        k = int(np.searchsorted(motion.t, t % motion.duration, side="right")) - 1
        for core in (reach, rest):          # whatever the intact arm does
            to_local_kernel(core.phantom.target, core.torso.pose, local)
            assert np.allclose(local, motion.local[k], atol=1e-9)
            assert core.phantom.error < 0.02
    assert np.ptp(motion.local, axis=0).max() > 0.1     # it moves (or turns, ankle circles)


def test_imagery_hides_the_phantom_and_unknown_conditions_are_refused():
    core, _ = _core()
    core.condition.set("imagery")
    core.step(0.0, 1 / RATE)
    assert core.condition.shown is False
    for bad, text in ((("nope",), "not one of"), (("delayed", 5.0), "delay"),
                      (("replay",), "recorded motion")):
        with pytest.raises(ConditionError, match=text) as err:
            core.condition.set(*bad)
        assert "\n" not in str(err.value)


def test_the_schedule_is_balanced_seeded_and_per_patient():
    plan = StudyPlan(conditions=["mirror", "delayed", "frozen"], block_size=6, seed=7)
    check_study(plan)
    a = schedule(plan, "P01", 24)
    assert a == schedule(plan, "P01", 24)
    assert a != schedule(plan, "P02", 24)
    for b in range(4):
        block = a[6 * b:6 * b + 6]
        assert sorted(block) == sorted(["mirror", "delayed", "frozen"] * 2)
    codes = condition_codes(plan, "P01")
    assert len(set(codes.values())) == 3
    for code in codes.values():
        assert len(code) == 4 and set(code) <= set(CODE_ALPHABET)
        assert not any(name[:3].upper() in code for name in CONDITIONS)
    entry = allocate(plan, "P01", "s1")
    assert entry["condition"] == a[0] and entry["code"] == codes[a[0]]
    assert plan.allocations == [entry]
    for bad in (StudyPlan(conditions=["mirror", "mirror"]), StudyPlan(conditions=["x"]),
                StudyPlan(block_size=3), StudyPlan(delay_s=9.0)):
        with pytest.raises(ValueError):
            check_study(bad)
