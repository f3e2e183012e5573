"""Scripted motions: plausible seated-patient movement, hands, feet, determinism."""
from __future__ import annotations

import time

import numpy as np
import pytest

from vrgmi.body.hand import wrist_from_grip
from vrgmi.tracking.frame import HAND_JOINT_NAMES, TRACKER_INDEX, TrackingFrame
from vrgmi.tracking.scripted import (
    HAND_MOTIONS, LEG_MOTIONS, MOTIONS, ScriptedSource, SeatedBody, SourceError,
    cycle_samples, make_scripted_replay,
)

RATE = 90.0
J = {n: i for i, n in enumerate(HAND_JOINT_NAMES)}
ARM_MOTIONS = tuple(m for m in MOTIONS if m not in LEG_MOTIONS)


def _speeds(poses: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray]:
    v = np.linalg.norm(np.diff(poses[..., :3], axis=0), axis=-1) * rate
    d = np.abs(np.sum(poses[1:, ..., 3:] * poses[:-1, ..., 3:], axis=-1))
    w = 2.0 * np.arccos(np.minimum(d, 1.0)) * rate
    return v, w


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("motion", ARM_MOTIONS)
def test_arm_motions_are_plausible(motion, side):
    rep = make_scripted_replay(motion, 20.0, RATE, intact_side=side, seed=4)
    other = "left" if side == "right" else "right"
    s = 1.0 if side == "right" else -1.0
    body = SeatedBody(1.75)
    grip = getattr(rep, f"{side}_grip")
    assert getattr(rep, f"{side}_valid").all() and not getattr(rep, f"{other}_valid").any()
    assert getattr(rep, f"{other}_hand_joints") is None and not rep.trackers
    v, w = _speeds(grip, RATE)
    assert v.max() < 2.0 and np.degrees(w.max()) < 600.0            # human speeds
    wrist = np.array([wrist_from_grip(g, side, np.empty(7)) for g in grip])
    shoulder = body.shoulder * [s, 1.0, 1.0]
    reach = np.linalg.norm(wrist[:, :3] - shoulder, axis=1)
    assert reach.max() < body.upper_arm + body.forearm                 # within reach
    assert reach.min() > 0.15
    assert (grip[:, 1] > 0.05).all()                                   # in front of the body
    assert (grip[:, 2] > 0.55).all() and (grip[:, 2] < 1.3).all()
    assert (s * grip[:, 0] > -0.10).all()                              # its own side, roughly
    np.testing.assert_allclose(np.linalg.norm(grip[:, 3:], axis=1), 1.0, atol=1e-12)
    head = rep.head
    assert np.abs(head[:, 2] - 1.2).max() < 0.01 and np.abs(head[:, :2]).max() < 0.01
    hv, _ = _speeds(head, RATE)
    assert hv.max() < 0.05                                             # a tiny sway
    hand = getattr(rep, f"{side}_hand_joints")
    assert (hand is not None) == (motion in HAND_MOTIONS)
    if hand is not None:
        assert getattr(rep, f"{side}_hand_valid").all()
        np.testing.assert_allclose(hand[:, J["wrist"], :3], wrist[:, :3], atol=1e-9)
        jv, _ = _speeds(hand, RATE)
        assert jv.max() < 3.0


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("motion", LEG_MOTIONS)
def test_leg_motions_move_the_intact_foot_tracker(motion, side):
    rep = make_scripted_replay(motion, 10.0, RATE, intact_side=side, seed=1)
    assert not rep.left_valid.any() and not rep.right_valid.any()
    assert list(rep.trackers) == [f"{side}_foot"] and rep.tracker_valid[f"{side}_foot"].all()
    foot = rep.trackers[f"{side}_foot"]
    v, w = _speeds(foot, RATE)
    assert 0.02 < v.max() < 2.0 and np.degrees(w.max()) < 400.0
    assert np.ptp(foot[:, :3], axis=0).max() > 0.01                    # it really moves
    assert (foot[:, 2] > 0.0).all() and (foot[:, 1] > 0.2).all()       # above the floor, in front
    assert np.sign(foot[:, 0]).tolist() == [1.0 if side == "right" else -1.0] * len(foot)
    assert np.ptp(rep.head[:, :3], axis=0).max() < 0.012               # only a tiny sway


def test_foot_tap_lifts_the_toes_about_the_heel():
    rep = make_scripted_replay("foot_tap", 2.0, RATE)
    foot = rep.trackers["right_foot"]
    z_axis_of_toes = 2 * (foot[:, 4] * foot[:, 5] + foot[:, 3] * foot[:, 6])   # R[2, 1]
    assert z_axis_of_toes.min() > -1e-9 and z_axis_of_toes.max() > 0.2         # toes go up
    body = SeatedBody(1.75)
    heel_in_tracker = np.array([0.0, -0.5 * body.foot, -body.ankle_height])
    heel = foot[:, :3] + _rotate(foot[:, 3:], heel_in_tracker)
    assert np.ptp(heel, axis=0).max() < 1e-9                              # the heel stays put
    assert heel[0, 2] == pytest.approx(0.0, abs=1e-9)                       # on the floor


def _rotate(q, v):
    u, w = q[:, :3], q[:, 3:]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def test_fist_and_pinch_drive_fingers_trigger_and_squeeze():
    fist = make_scripted_replay("fist_open", 3.0, RATE)
    h = fist.right_hand_joints
    tip_to_wrist = np.linalg.norm(h[:, J["middle_tip"], :3] - h[:, J["wrist"], :3], axis=1)
    closed, opened = np.argmax(fist.right_trigger), np.argmin(fist.right_trigger)
    assert fist.right_trigger[closed] > 0.85 and fist.right_trigger[opened] < 0.05
    assert fist.right_squeeze[closed] > 0.85 and fist.right_squeeze[opened] < 0.05
    assert tip_to_wrist[closed] < 0.6 * tip_to_wrist[opened]
    corr = np.corrcoef(fist.right_trigger, -tip_to_wrist)[0, 1]
    assert corr > 0.95
    pinch = make_scripted_replay("pinch", 2.5, RATE)
    h = pinch.right_hand_joints
    gap = np.linalg.norm(h[:, J["thumb_tip"], :3] - h[:, J["index_tip"], :3], axis=1)
    assert gap[np.argmax(pinch.right_trigger)] < 0.005
    assert gap[np.argmin(pinch.right_trigger)] > 0.05
    assert pinch.right_squeeze.max() < 0.3


def test_left_is_the_mirror_of_right():
    for motion in ("reach", "pinch", "ankle_circles"):
        r = make_scripted_replay(motion, 3.0, RATE, intact_side="right", seed=9)
        l_ = make_scripted_replay(motion, 3.0, RATE, intact_side="left", seed=9)
        m = np.array([-1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0])
        if motion in LEG_MOTIONS:
            np.testing.assert_allclose(l_.trackers["left_foot"], r.trackers["right_foot"] * m)
        else:
            np.testing.assert_allclose(l_.left_grip, r.right_grip * m)
        if r.right_hand_joints is not None:
            np.testing.assert_allclose(l_.left_hand_joints, r.right_hand_joints * m)
        np.testing.assert_array_equal(l_.head, r.head)


def test_deterministic_for_a_seed():
    a = make_scripted_replay("figure_eight", 5.0, RATE, seed=3)
    b = make_scripted_replay("figure_eight", 5.0, RATE, seed=3)
    c = make_scripted_replay("figure_eight", 5.0, RATE, seed=4)
    for k, v in a.arrays().items():
        np.testing.assert_array_equal(v, b.arrays()[k])
    assert np.abs(a.right_grip - c.right_grip).max() > 0.01


def test_height_scales_the_body():
    tall = make_scripted_replay("reach", 2.0, RATE, height_m=2.0)
    short = make_scripted_replay("reach", 2.0, RATE, height_m=1.5)
    assert tall.head[0, 2] == pytest.approx(1.2 * 2.0 / 1.75, abs=0.01)
    assert short.head[0, 2] == pytest.approx(1.2 * 1.5 / 1.75, abs=0.01)


def test_scripted_source_loops_the_same_samples_and_ends():
    src = ScriptedSource("wave", rate_hz=RATE, duration_s=10.0, seed=2)
    rep = make_scripted_replay("wave", 10.0, RATE, seed=2)
    assert src.name == "scripted:wave" and src.duration == 10.0
    frame = TrackingFrame()
    n = cycle_samples("wave", RATE)
    for k in range(len(rep.t)):
        assert src.poll(50.0 + k / RATE, frame)
        np.testing.assert_array_equal(frame.grip[1], rep.right_grip[k])
        np.testing.assert_array_equal(frame.hand_joints[1], rep.right_hand_joints[k])
        assert frame.trigger[1] == rep.right_trigger[k]
    assert len(rep.t) > n                                  # it looped at least once
    assert not src.poll(50.0 + 10.0, frame)
    endless = ScriptedSource("foot_tap")
    assert endless.duration is None and endless.poll(0.0, frame) and endless.poll(1e5, frame)
    assert frame.tracker_valid[TRACKER_INDEX["right_foot"]] and not frame.grip_valid.any()


def test_ten_minute_replay_is_built_quickly():
    t0 = time.perf_counter()
    rep = make_scripted_replay("reach", 600.0, 120.0)
    elapsed = time.perf_counter() - t0
    assert len(rep.t) == 72000 and rep.t[-1] == pytest.approx(600.0 - 1 / 120.0)
    assert elapsed < 2.0


@pytest.mark.parametrize("kwargs,text", [
    ({"motion": "jump"}, "unknown scripted motion 'jump'"),
    ({"intact_side": "middle"}, "intact_side 'middle'"),
    ({"rate_hz": 5.0}, "rate_hz 5.0"),
    ({"height_m": 3.0}, "height_m 3.0"),
    ({"duration_s": -1.0}, "duration_s -1.0"),
])
def test_bad_requests_are_one_line(kwargs, text):
    args = {"motion": "reach"} | kwargs
    with pytest.raises(SourceError) as info:
        ScriptedSource(**args)
    assert text in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(SourceError, match="seconds"):
        make_scripted_replay("reach", 0.0)
