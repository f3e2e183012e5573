"""Swapped controllers (issue 15, finding 9): a runtime that swaps the two controllers for a
second, both still tracked, must never carry the phantom to the wrong hand: the filter
refuses the implausible identities (held, then faded) and recovers when they swap back."""
from __future__ import annotations

import numpy as np
import pytest

from vrgmi.core import CorePipeline
from vrgmi.settings import load_settings
from vrgmi.tracking.filters import FilterSettings, FilterSettingsError, PoseFilter
from vrgmi.tracking.frame import TrackingFrame
from vrgmi.tracking.replay import ReplaySource
from vrgmi.tracking.scripted import make_scripted_replay

RATE = 90.0
DT = 1.0 / RATE
LEFT = np.array([-0.25, 0.30, 0.80, 0.0, 0.0, 0.0, 1.0])
RIGHT = np.array([0.20, 0.40, 0.95, 0.0, 0.0, 0.0, 1.0])


def _step(flt: PoseFilter, left: np.ndarray, right: np.ndarray) -> TrackingFrame:
    f = TrackingFrame()
    f.grip[0], f.grip[1] = left, right
    f.grip_valid[:] = True
    flt.apply(f, DT)
    return f


def test_a_one_second_swap_is_held_and_faded_then_recovers():
    flt = PoseFilter(FilterSettings(smoothing=False))
    for _ in range(30):
        _step(flt, LEFT, RIGHT)
    outs, vis = [], []
    for _ in range(int(RATE)):                       # 1 s swapped, both tracked
        f = _step(flt, RIGHT, LEFT)
        outs.append(f.grip.copy())
        vis.append(flt.grip_visibility.copy())
    outs, vis = np.array(outs), np.array(vis)
    assert np.abs(outs[:, 1, :3] - RIGHT[:3]).max() < 1e-9   # the right hand held in place
    assert np.abs(outs[:, 0, :3] - LEFT[:3]).max() < 1e-9
    assert vis[40, 1] == 1.0 and vis[-1, 1] == 0.0            # hold (0.5 s), then fade
    assert not flt.grip_live.any()
    for _ in range(40):                                        # swapped back
        f = _step(flt, LEFT, RIGHT)
    assert flt.grip_live.all() and flt.grip_visibility.min() == 1.0
    np.testing.assert_allclose(f.grip[1], RIGHT)


def test_hands_together_and_a_lasting_swap_are_the_runtimes_word():
    flt = PoseFilter(FilterSettings(smoothing=False, swap_accept_s=0.5))
    for _ in range(30):
        _step(flt, LEFT, RIGHT)
    for _ in range(int(0.7 * RATE)):                           # longer than swap_accept_s
        f = _step(flt, RIGHT, LEFT)
    assert flt.grip_live.all()
    for _ in range(40):
        f = _step(flt, RIGHT, LEFT)
    np.testing.assert_allclose(f.grip[1], LEFT)                # blended in, not refused
    near = RIGHT.copy()
    near[0] -= 0.1                                             # hands 10 cm apart: no test
    flt = PoseFilter(FilterSettings(smoothing=False))
    for _ in range(30):
        _step(flt, near, RIGHT)
    _step(flt, RIGHT, near)
    assert flt.grip_live.all()
    with pytest.raises(FilterSettingsError):
        FilterSettings(swap_min_separation_m=0.0)


def test_a_replay_with_swapped_controllers_never_moves_the_phantom():
    """A right-handed reach with the residual side's controller resting on the left thigh;
    the runtime swaps the two for 1 s (both tracked): the phantom stays within a few cm,
    fades, and follows the intact hand again afterwards."""
    replay = make_scripted_replay("reach", 4.0, RATE, intact_side="right")
    n = len(replay.t)
    replay.left_grip[:] = replay.right_grip[0]
    replay.left_grip[:, :3] = [-0.2, 0.25, 0.65]               # resting on the left thigh
    replay.left_valid[:] = True
    a, b = 150, 150 + int(RATE)
    replay.left_grip[a:b], replay.right_grip[a:b] = (replay.right_grip[a:b].copy(),
                                                     replay.left_grip[a:b].copy())
    settings = load_settings(overrides={"patient.amputation_side": "left",
                                        "patient.amputation_level": "transradial"})
    pipe = CorePipeline(settings, ReplaySource(replay, time_origin=0.0))
    wrist, vis = [], []
    for i in range(n):
        pipe.step(float(replay.t[i]), DT)
        wrist.append(pipe.phantom.positions[2].copy())
        vis.append(pipe.phantom_visibility)
    wrist, vis = np.array(wrist), np.array(vis)
    moved = np.linalg.norm(wrist[a:b] - wrist[a - 1], axis=-1).max()
    assert moved < 0.03, f"the phantom moved {100 * moved:.1f} cm toward the wrong hand"
    assert vis[a + 40] == 1.0 and vis[b - 1] == 0.0            # held, then faded
    assert vis[b + 60:].min() == 1.0                           # recovered
    steps = np.linalg.norm(np.diff(wrist[b:], axis=0), axis=-1)
    assert steps.max() < 0.05                                  # blended back, no jump
