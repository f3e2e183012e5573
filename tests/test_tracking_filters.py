"""PoseFilter: glitch rejection, hold/fade on loss, blend back on reacquire, One Euro."""
from __future__ import annotations

import dataclasses
import math
import tracemalloc

import numpy as np
import pytest

from vrgmi.tracking.filters import FilterSettings, FilterSettingsError, PoseFilter
from vrgmi.tracking.frame import TRACKER_INDEX, TrackingFrame
from vrgmi.tracking.replay import ReplaySource
from vrgmi.tracking.scripted import MOTIONS, make_scripted_replay

DT = 1.0 / 90.0
RAW = FilterSettings(smoothing=False)
POSE = np.array([0.2, 0.4, 0.9, 0.0, 0.0, 0.0, 1.0])


def _quat(axis, angle):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    return np.concatenate([axis * math.sin(angle / 2), [math.cos(angle / 2)]])


def _frame(pose=POSE, valid=True) -> TrackingFrame:
    f = TrackingFrame()
    f.grip[1] = pose
    f.grip_valid[1] = valid
    return f


def _step(flt, pose, valid=True, dt=DT):
    """One frame with the right grip at ``pose``; returns the filtered frame."""
    f = _frame(pose, valid)
    flt.apply(f, dt)
    return f


def _settle(flt, pose=POSE, frames=60):
    for _ in range(frames):
        f = _step(flt, pose)
    return f


def _angle(a, b):
    return 2 * math.acos(min(1.0, abs(float(np.dot(a, b)))))


def test_nan_pose_is_invalid_and_held():
    flt = PoseFilter(RAW)
    _settle(flt)
    bad = POSE.copy()
    bad[1] = np.nan
    f = _step(flt, bad)
    assert not flt.grip_live[1]
    assert f.grip_valid[1] and flt.grip_visibility[1] == 1.0    # held, still shown
    np.testing.assert_array_equal(f.grip[1], POSE)
    inf = POSE.copy()
    inf[5] = np.inf
    f = _step(flt, inf)
    assert not flt.grip_live[1]
    np.testing.assert_array_equal(f.grip[1], POSE)


def test_non_unit_quaternion_rejected_small_error_renormalised():
    flt = PoseFilter(RAW)
    _settle(flt)
    off = POSE.copy()
    off[3:] = [0.0, 0.0, 0.0, 1.2]
    _step(flt, off)
    assert not flt.grip_live[1]
    near = POSE.copy()
    near[3:] = _quat([0, 0, 1], 0.05) * 1.004          # within the 0.01 tolerance
    for _ in range(40):
        f = _step(flt, near)
    assert flt.grip_live[1]
    assert np.linalg.norm(f.grip[1, 3:]) == pytest.approx(1.0, abs=1e-12)


def test_one_metre_jump_in_one_frame_is_rejected():
    flt = PoseFilter(RAW)
    _settle(flt)
    jump = POSE.copy()
    jump[0] += 1.0
    f = _step(flt, jump)
    assert not flt.grip_live[1]
    np.testing.assert_array_equal(f.grip[1], POSE)
    f = _step(flt, POSE)                                 # the glitch is over
    assert flt.grip_live[1]
    np.testing.assert_allclose(f.grip[1], POSE, atol=1e-12)


def test_fast_but_human_move_is_accepted():
    flt = PoseFilter(RAW)
    _settle(flt)
    p = POSE.copy()
    for _ in range(30):                                  # 5 m/s, under the 10 m/s limit
        p[1] += 5.0 * DT
        f = _step(flt, p)
        assert flt.grip_live[1]
    np.testing.assert_allclose(f.grip[1], p, atol=1e-12)


def test_orientation_flip_in_one_frame_is_rejected():
    flt = PoseFilter(RAW)
    _settle(flt)
    flip = POSE.copy()
    flip[3:] = _quat([0, 1, 0], math.pi)
    _step(flt, flip)
    assert not flt.grip_live[1]
    same = POSE.copy()
    same[3:] = -POSE[3:]                                 # q and -q are the same rotation
    _step(flt, same)
    assert flt.grip_live[1]


def test_jump_after_a_long_loss_is_accepted():
    flt = PoseFilter(RAW)
    _settle(flt)
    for _ in range(30):
        _step(flt, POSE, valid=False)
    moved = POSE.copy()
    moved[0] += 1.0                                      # 1 m in 0.34 s: 3 m/s, humanly possible
    _step(flt, moved)
    assert flt.grip_live[1]


def test_loss_hold_fade_then_reacquire_blends_without_jump():
    s = RAW
    flt = PoseFilter(s)
    _settle(flt)
    held = POSE.copy()
    t, vis = 0.0, []
    while t < s.hold_s + s.fade_s + 0.2:                 # lost
        f = _step(flt, POSE, valid=False)
        t += DT
        vis.append(flt.grip_visibility[1])
        np.testing.assert_array_equal(f.grip[1], held)   # always the held pose
        if t <= s.hold_s:
            assert vis[-1] == 1.0 and f.grip_valid[1]
        elif t < s.hold_s + s.fade_s - 1e-9:
            assert vis[-1] == pytest.approx(1.0 - (t - s.hold_s) / s.fade_s)
            assert f.grip_valid[1]
        else:
            assert vis[-1] == 0.0 and not f.grip_valid[1]
    assert np.all(np.diff(vis) <= 0.0)
    # reacquire somewhere else (0.3 m away, turned 60 deg), then keep moving slowly
    live = POSE.copy()
    live[:3] += [0.3, 0.0, 0.0]
    live[3:] = _quat([0, 0, 1], math.radians(60))
    gap = np.linalg.norm(live[:3] - held[:3])
    prev, steps, angles = held.copy(), [], []
    for k in range(60):
        live[1] += 0.2 * DT                              # 0.2 m/s
        f = _step(flt, live)
        assert flt.grip_live[1] and f.grip_valid[1]
        steps.append(np.linalg.norm(f.grip[1, :3] - prev[:3]))
        angles.append(_angle(f.grip[1, 3:], prev[3:]))
        prev = f.grip[1].copy()
        if k == 0:
            assert flt.grip_visibility[1] == pytest.approx(DT / s.blend_s)
    bound = gap * DT / s.blend_s + 0.2 * DT + 1e-9       # blend rate + the live motion
    assert max(steps) <= bound
    assert max(angles) <= math.radians(60) * DT / s.blend_s + 1e-9
    assert flt.grip_visibility[1] == 1.0
    np.testing.assert_allclose(f.grip[1], live, atol=1e-12)   # blend finished: live pose


def test_short_glitch_does_not_move_or_dim_the_pose():
    flt = PoseFilter(RAW)
    _settle(flt)
    for _ in range(3):
        f = _step(flt, POSE, valid=False)
    f = _step(flt, POSE)
    assert flt.grip_visibility[1] == 1.0
    np.testing.assert_allclose(f.grip[1], POSE, atol=1e-12)


def test_never_seen_channel_stays_invalid_and_first_sight_fades_in():
    flt = PoseFilter(RAW)
    f = _step(flt, POSE, valid=False)
    assert not f.grip_valid[1] and flt.grip_visibility[1] == 0.0
    f = _step(flt, POSE)
    assert f.grip_valid[1] and 0.0 < flt.grip_visibility[1] < 1.0
    np.testing.assert_allclose(f.grip[1], POSE)          # no held pose to blend from
    assert not f.grip_valid[0]


def test_hand_joints_are_one_block():
    rep = make_scripted_replay("fist_open", 2.0, 90.0)
    src = ReplaySource(rep, time_origin=0.0)
    flt = PoseFilter(RAW)
    f = TrackingFrame()
    for k in range(30):
        src.poll(k * DT, f)
        flt.apply(f, DT)
    held = f.hand_joints[1].copy()
    src.poll(30 * DT, f)
    f.hand_joints[1, 13, 0] = np.nan                      # one joint glitches
    flt.apply(f, DT)
    assert not flt.hand_live[1] and f.hand_valid[1]
    np.testing.assert_array_equal(f.hand_joints[1], held)
    src.poll(31 * DT, f)
    flt.apply(f, DT)
    assert flt.hand_live[1]


def test_head_and_trackers_are_filtered_too():
    flt = PoseFilter(RAW)
    f = TrackingFrame()
    k = TRACKER_INDEX["right_foot"]
    for _ in range(40):
        f.head[:] = POSE
        f.head_valid = True
        f.tracker[k] = POSE
        f.tracker_valid[k] = True
        flt.apply(f, DT)
    f.head[:] = np.nan
    f.tracker[k, 2] += 2.0
    flt.apply(f, DT)
    assert f.head_valid and not flt.head_live[0]
    np.testing.assert_array_equal(f.head, POSE)
    assert not flt.tracker_live[k] and flt.tracker_visibility[k] == 1.0
    np.testing.assert_array_equal(f.tracker[k], POSE)


def test_trigger_and_squeeze_cleaned():
    flt = PoseFilter(RAW)
    f = TrackingFrame()
    f.trigger[:] = [np.nan, 1.3]
    f.squeeze[:] = [-0.2, 0.4]
    flt.apply(f, DT)
    np.testing.assert_array_equal(f.trigger, [0.0, 1.0])
    np.testing.assert_array_equal(f.squeeze, [0.0, 0.4])


def test_one_euro_reduces_jitter_on_a_still_pose():
    rng = np.random.default_rng(0)
    flt = PoseFilter(FilterSettings())
    raw_p, out_p, raw_a, out_a = [], [], [], []
    for k in range(900):
        p = POSE.copy()
        p[:3] += rng.normal(0.0, 0.001, 3)               # 1 mm noise
        p[3:] = _quat(rng.normal(size=3), math.radians(0.5) * abs(rng.normal()))
        f = _step(flt, p)
        if k >= 90:
            raw_p.append(p[:3])
            out_p.append(f.grip[1, :3].copy())
            raw_a.append(_angle(p[3:], POSE[3:]))
            out_a.append(_angle(f.grip[1, 3:], POSE[3:]))
    raw_sd = np.std(raw_p, axis=0).mean()
    out_sd = np.std(out_p, axis=0).mean()
    assert out_sd < raw_sd / 3
    assert np.mean(out_a) < np.mean(raw_a) / 3


def test_one_euro_lags_little_on_a_fast_move():
    flt = PoseFilter(FilterSettings())
    _settle(flt)
    p = POSE.copy()
    lag = []
    for k in range(90):                                   # 1 m/s along y
        p[1] += DT
        f = _step(flt, p)
        if k >= 20:
            lag.append(p[1] - f.grip[1, 1])
    assert max(lag) < 0.01                                # under 1 cm behind at 1 m/s
    flt = PoseFilter(FilterSettings())
    _settle(flt)
    q = POSE.copy()
    turn = []
    for k in range(90):                                   # 180 deg/s about z
        q[3:] = _quat([0, 0, 1], math.radians(2.0 * (k + 1)))
        f = _step(flt, q)
        if k >= 20:
            turn.append(_angle(q[3:], f.grip[1, 3:]))
    assert math.degrees(max(turn)) < 5.0


def test_scripted_motions_pass_through_without_rejections():
    for motion in MOTIONS:
        rep = make_scripted_replay(motion, 6.0, 90.0, seed=2)
        src = ReplaySource(rep, time_origin=0.0)
        flt = PoseFilter()
        f = TrackingFrame()
        for k in range(len(rep.t)):
            src.poll(k * DT, f)
            flt.apply(f, DT)
            assert flt.head_live[0]
            assert np.array_equal(flt.grip_live, rep.right_valid[k] * np.array([False, True]))
            assert flt.hand_live[1] == (rep.right_hand_valid is not None)
            assert flt.tracker_live[TRACKER_INDEX["right_foot"]] == bool(rep.trackers)


def test_apply_allocates_no_arrays():
    rep = make_scripted_replay("wave", 5.0, 90.0)
    src = ReplaySource(rep, time_origin=0.0)
    flt = PoseFilter()
    f = TrackingFrame()
    for k in range(20):
        src.poll(k * DT, f)
        flt.apply(f, DT)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for k in range(20, 400):
        src.poll(k * DT, f)
        flt.apply(f, DT)
    cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert cur - base < 512 and peak - base < 2048


@pytest.mark.parametrize("field,value", [("hold_s", -1.0), ("fade_s", 6.0), ("blend_s", 3.0),
                                         ("max_speed_mps", 0.0), ("beta", float("nan")),
                                         ("min_cutoff", "fast"), ("smoothing", 1)])
def test_settings_out_of_range_is_one_line(field, value):
    with pytest.raises(FilterSettingsError) as info:
        FilterSettings(**{field: value})
    msg = str(info.value)
    assert msg.startswith(f"FilterSettings.{field} = ") and "\n" not in msg


def test_settings_are_frozen_and_dt_checked():
    s = FilterSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.hold_s = 1.0
    with pytest.raises(FilterSettingsError, match="dt"):
        PoseFilter().apply(TrackingFrame(), 0.0)


def test_reset_forgets_history():
    flt = PoseFilter(RAW)
    _settle(flt)
    flt.reset()
    f = _step(flt, POSE, valid=False)
    assert not f.grip_valid[1] and flt.grip_visibility[1] == 0.0
