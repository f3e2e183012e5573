"""OpenXRSource against the scripted test runtime (pyopenxr's real loader, core validation
on, headless sessions): every controller profile drives the intact hand, buttons become
semantic input stamped on the display clock, hand tracking drives the fingers, a
residual-limb tracker moves the stump."""
from __future__ import annotations

import numpy as np
import pytest

from tests.xr_runtime.harness import validation_problems, xr_test_runtime
from vrgmi.core import CorePipeline, warmup
from vrgmi.input import InputQueue
from vrgmi.settings import load_settings
from vrgmi.tracking.frame import TRACKER_INDEX, TrackingFrame
from vrgmi.tracking.openxr import XrSession
from vrgmi.tracking.replay import Replay, ReplaySource, load_replay, save_replay
from vrgmi.tracking.scripted import make_scripted_replay
from vrgmi.tracking.xr_input import OpenXRSource
from vrgmi.tracking.xr_profiles import PROFILES

RATE = 90.0


def _replay(tmp_path, motion: str = "reach", **extra) -> tuple:
    replay = make_scripted_replay(motion, seconds=3.0, rate_hz=RATE, intact_side="right")
    if extra:
        replay = Replay.from_arrays({**replay.arrays(), **extra})
    path = tmp_path / f"{motion}.npz"
    save_replay(path, replay)
    return path, load_replay(path)


class Loop:
    """A headless session driven frame by frame; ``step`` returns the frame's XrTime."""

    def __init__(self, settings=None) -> None:
        self.xrs = XrSession("headless")
        self.xrs.create(None)
        self.inputs = InputQueue()
        self.source = OpenXRSource(self.xrs, self.inputs)
        self.frame = TrackingFrame()
        self.core = CorePipeline(settings, self.source) if settings else None

    def step(self) -> int:
        xrs = self.xrs
        while True:
            if "profile" in xrs.poll_events():
                self.source.update_profiles()
            if xrs.running:
                break
        t = int(xrs.wait_frame().predicted_display_time)
        xrs.begin_frame()
        if self.core is not None:
            self.core.step(xrs.to_seconds(t), 1.0 / RATE)
        else:
            self.source.poll(xrs.to_seconds(t), self.frame)
        xrs.end_frame(t, None)
        return t

    def close(self) -> None:
        self.source.close()
        self.xrs.destroy()


def _expected(replay: Replay, t_ns: int) -> TrackingFrame:
    """The replay sample the runtime plays at XrTime ``t_ns`` (engine space)."""
    out = TrackingFrame()
    ReplaySource(replay, loop=True, time_origin=0.0).poll((t_ns - 1_000_000_000) * 1e-9, out)
    return out


def _clean(rt) -> None:
    bad = validation_problems(rt.validation_messages())
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("api", ["1.1", "1.0"])
@pytest.mark.parametrize("profile", [p.path for p in PROFILES])
def test_every_controller_profile_drives_the_intact_hand(tmp_path, profile, api):
    """On OpenXR 1.1 all seven profiles are core; on 1.0 the hp and pico ones come with
    their extensions, which the backend enables because the runtime offers them."""
    path, replay = _replay(tmp_path)
    with xr_test_runtime(replay=path, profile=profile, api_version=api) as rt:
        loop = Loop()
        try:
            assert loop.xrs.api_minor == int(api[-1])
            assert {p.path for p in loop.source.profiles} == {p.path for p in PROFILES}
            for _ in range(12):
                t = loop.step()
            want = _expected(replay, t)
            assert loop.source.profile[1] == profile
            assert loop.frame.grip_valid[1]
            np.testing.assert_allclose(loop.frame.grip[1], want.grip[1], atol=1e-5)
            np.testing.assert_allclose(loop.frame.head, want.head, atol=1e-5)
            if "simple" not in profile:
                assert loop.frame.trigger[1] == pytest.approx(want.trigger[1], abs=1e-5)
        finally:
            loop.close()
        _clean(rt)


def test_on_openxr_1_0_without_their_extensions_hp_and_pico_are_not_suggested(tmp_path):
    path, _ = _replay(tmp_path)
    hp = "/interaction_profiles/hp/mixed_reality_controller"
    with xr_test_runtime(replay=path, profile=hp, api_version="1.0",
                         extensions=["XR_MND_headless", "XR_EXT_hand_tracking"]) as rt:
        loop = Loop()
        try:
            assert loop.xrs.api_minor == 0
            assert "XR_EXT_hp_mixed_reality_controller" not in loop.xrs.extensions
            assert {p.path.rsplit("/", 2)[1] for p in loop.source.profiles} == {
                "khr", "oculus", "valve", "htc", "microsoft"}
            for _ in range(6):
                loop.step()
            assert loop.source.profile[1] == ""       # the hp controller binds nothing
            assert not loop.frame.grip_valid[1]
            assert loop.frame.head_valid              # the headset still tracks
        finally:
            loop.close()
        _clean(rt)


def test_buttons_and_thumbstick_become_semantic_input_on_the_display_clock(tmp_path):
    path, _ = _replay(tmp_path)
    events = ("20 input /user/hand/right/input/thumbstick/x 1.0\n"
              "24 input /user/hand/right/input/thumbstick/x 0.0\n"
              "30 input /user/hand/right/input/a/click 1\n"
              "34 input /user/hand/left/input/y/click 1\n"
              "38 input /user/hand/left/input/menu/click 1\n"
              "42 input /user/hand/left/input/trigger/value 1.0\n")
    with xr_test_runtime(replay=path, events=events) as rt:
        loop = Loop()
        try:
            times = [loop.step() for _ in range(50)]
        finally:
            loop.close()
        _clean(rt)
    got = loop.inputs.drain(1e9)
    assert [(e.action, e.device) for e in got] == [
        ("right", "controller_right"), ("select", "controller_right"),
        ("back", "controller_left"), ("menu", "controller_left"),
        ("left", "controller_left")]
    # stamped with the runtime's lastChangeTime, on the display clock (frame 0 = 0 s)
    for event, frame in zip(got, (20, 30, 34, 38, 42)):
        assert event.t == pytest.approx((times[frame] - times[0]) * 1e-9, abs=2e-3)


def test_the_menu_button_gives_its_press_and_release_for_the_patient_hold(tmp_path):
    """The patient's hold (vrgmi.patient_controls) needs both edges of the menu button, each
    stamped with the runtime's lastChangeTime."""
    path, _ = _replay(tmp_path)
    events = ("10 input /user/hand/left/input/menu/click 1\n"
              "40 input /user/hand/left/input/menu/click 0\n")
    with xr_test_runtime(replay=path, events=events) as rt:
        loop = Loop()
        try:
            times = [loop.step() for _ in range(45)]
        finally:
            loop.close()
        _clean(rt)
    got = loop.inputs.drain(1e9)
    assert [(e.action, e.device) for e in got] == [("menu", "controller_left"),
                                                  ("menu_release", "controller_left")]
    held = got[1].t - got[0].t
    assert held == pytest.approx((times[40] - times[10]) * 1e-9, abs=2e-3)


def test_hand_tracking_drives_the_fingers(tmp_path):
    path, replay = _replay(tmp_path, "fist_open")
    settings = load_settings(overrides={"patient.amputation_side": "left",
                                        "patient.amputation_level": "transradial",
                                        "tracking.one_euro": "false"})
    warmup()
    with xr_test_runtime(replay=path) as rt:
        loop = Loop(settings)
        try:
            for _ in range(30):
                t = loop.step()
            want = _expected(replay, t)
            assert loop.core.hand_tracked
            np.testing.assert_allclose(loop.core.frame.hand_joints[1], want.hand_joints[1],
                                       atol=1e-5)
            # the intact wrist target is the tracked wrist joint (XR joint 1)
            np.testing.assert_allclose(loop.core.intact.target[:3], want.hand_joints[1, 1, :3],
                                       atol=1e-5)
        finally:
            loop.close()
        _clean(rt)


def test_a_residual_limb_tracker_moves_the_stump(tmp_path):
    base = make_scripted_replay("reach", seconds=3.0, rate_hz=RATE, intact_side="right")
    n = len(base.t)
    from vrgmi.spatial import engine_to_stage_pose
    wrist = np.tile([-0.25, 0.25, 0.85, 0.0, 0.0, 0.0, 1.0], (n, 1))
    wrist[n // 2:, 1] += 0.10                       # the stump moves 10 cm forward half-way
    arrays = {**base.arrays(), "tracker_left_wrist": wrist,
              "tracker_left_wrist_valid": np.ones(n, bool)}
    path = tmp_path / "stump.npz"
    save_replay(path, Replay.from_arrays(arrays))
    assert np.allclose(engine_to_stage_pose(wrist)[0, 1], 0.85)
    settings = load_settings(overrides={"patient.amputation_side": "left",
                                        "patient.amputation_level": "transradial",
                                        "tracking.one_euro": "false"})
    warmup()
    with xr_test_runtime(replay=path) as rt:
        loop = Loop(settings)
        try:
            for _ in range(20):
                loop.step()
            k = TRACKER_INDEX["left_wrist"]
            assert loop.core.frame.tracker_valid[k] and loop.core.residual_tracked
            before = loop.core.phantom.positions.copy()
            for _ in range(n // 2 + 10 - 20):
                loop.step()
            after = loop.core.phantom.positions.copy()
        finally:
            loop.close()
        _clean(rt)
    elbow = 2
    assert after[elbow] - before[elbow] == pytest.approx([0.0, 0.10, 0.0], abs=0.02)
