"""The therapist's patient controls on a running engine: skin tone, torso calibration, and a
change of side, amputation level or height without leaking a node."""
from __future__ import annotations

import numpy as np
import pytest

from vrgmi.app import CALIBRATION_S, THERAPIST_EYE, THERAPIST_LOOK, Engine, EngineError
from vrgmi.body.anthropometry import SegmentLengths
from vrgmi.body.hand import grip_from_wrist
from vrgmi.body.skeleton import ARM_JOINT_NAMES, LEG_JOINT_NAMES
from vrgmi.errors import SettingsError, VrgmiError
from vrgmi.render.display import grab_rgba
from vrgmi.render.skin import skin_tone
from vrgmi.scenes.free_mirror import FreeMirror
from vrgmi.settings import load_settings
from vrgmi.tracking.frame import PoseSource, TrackingFrame
from vrgmi.tracking.scripted import ScriptedSource

RATE = 90.0


class SittingStill(PoseSource):
    """A patient sitting upright and still, looking ahead, both arms hanging: the grips
    where wrists hang ``ua + fa`` below shoulders ``shoulder_lat`` m beside the midline."""

    name = "still"

    def __init__(self, height_m: float = 1.75, shoulder_lat: float = 0.18) -> None:
        L = SegmentLengths.from_height(height_m)
        self.head = np.array([0.0, 0.0, L.eye_height_seated, 0.0, 0.0, 0.0, 1.0])
        self.grips = np.zeros((2, 7))
        for side, x in ((0, -shoulder_lat), (1, shoulder_lat)):
            wrist = np.array([x, -0.02, L.shoulder_height_seated - L.upper_arm - L.forearm,
                              0.0, 0.0, 0.0, 1.0])
            grip_from_wrist(wrist, side, self.grips[side])

    def poll(self, display_time: float, frame: TrackingFrame) -> bool:
        frame.t = display_time
        frame.head[:] = self.head
        frame.head_valid = True
        frame.grip[:] = self.grips
        frame.grip_valid[:] = True
        return True


def _engine(display, source=None, **overrides):
    settings = load_settings(overrides={"patient.amputation_side": "left",
                                        "patient.amputation_level": "transradial",
                                        **{f"patient.{k}": v for k, v in overrides.items()}})
    return Engine(settings, source or ScriptedSource("reach", intact_side="right"), display)


def _run(engine, start, frames, render=False):
    for i in range(start, start + frames):
        engine.frame(i / RATE, 1 / RATE, render=render)
    return start + frames


def _nodes(engine) -> int:
    return len(engine.world.find_all_matches("**"))


def _limbs(engine):
    return (engine.intact_rig, engine.phantom_rig, *engine.seated.rigs)


@pytest.fixture
def made(display, scene):
    engines = []
    yield engines
    for engine in engines:
        engine.close()


def _therapist_view(engine, rigs):
    """Pixels of ``rigs`` alone (room and the other limbs hidden), from the therapist's eye."""
    others = [r for r in _limbs(engine) if r not in rigs]
    cam = engine.display.base.camera
    saved = cam.get_transform()
    engine.room.root.hide()
    for rig in others:
        rig.root.hide()
    cam.set_pos(*THERAPIST_EYE)
    cam.look_at(*THERAPIST_LOOK)
    try:
        img = grab_rgba(engine.display.base)[..., :3].astype(float)
    finally:
        cam.set_transform(saved)
        engine.room.root.show()
        for rig in others:
            rig.root.show()
    return img[img.max(axis=-1) > 8]


def test_skin_tone_recolours_every_limb_on_screen(display, made):
    engine = _engine(display, skin_tone="I")
    made.append(engine)
    _run(engine, 0, 120)
    groups = {"mirrored": (engine.intact_rig, engine.phantom_rig), "resting": engine.seated.rigs}
    before = {k: _therapist_view(engine, rigs) for k, rigs in groups.items()}
    assert engine.set_skin_tone("VI") == skin_tone("VI")
    after = {k: _therapist_view(engine, rigs) for k, rigs in groups.items()}
    for k in groups:
        assert len(before[k]) > 300 and len(after[k]) > 300     # the limbs are in view
        light, dark = before[k].mean(axis=0), after[k].mean(axis=0)
        assert light.mean() > dark.mean() * 1.6      # type VI is drawn much darker than I
        assert dark[0] > dark[1] > dark[2]           # and still skin: red > green > blue
    assert engine.settings.patient.skin_tone == "VI"


def test_a_bad_skin_tone_is_one_line_and_changes_nothing(display, made):
    engine = _engine(display, skin_tone="III")
    made.append(engine)
    for bad in ("purple", "#12345", 7):
        with pytest.raises(VrgmiError) as err:
            engine.set_skin_tone(bad)
        assert "\n" not in str(err.value) and "skin" in str(err.value)
    assert engine.settings.patient.skin_tone == "III"


def test_set_patient_rebuilds_the_limbs_without_leaking_nodes(display, made):
    engine = _engine(display)
    made.append(engine)
    t = _run(engine, 0, 30, render=True)
    start, source, room, display_before = _nodes(engine), engine.core.source, engine.room, \
        engine.display
    torso = engine.core.torso
    assert engine.set_patient(side="right", scene=FreeMirror()) == {"side": ("left", "right")}
    t = _run(engine, t, 30, render=True)
    core = engine.core
    assert (core.amputated, core.intact_side, core.limb) == (1, 0, "arm")
    assert (engine.intact_rig.side, engine.phantom_rig.side) == (0, 1)
    assert engine.intact_rig.joint_names == engine.phantom_rig.joint_names
    assert set(engine.intact_rig.joint_names) >= set(ARM_JOINT_NAMES)
    assert core.torso is torso                    # same height: the calibration stays
    assert _nodes(engine) == start
    changes = engine.set_patient(level="transtibial", scene=FreeMirror())
    assert changes == {"level": ("transradial", "transtibial")}
    t = _run(engine, t, 30, render=True)
    assert engine.core.limb == "leg" and engine.seated.limb == "arm"
    assert set(engine.intact_rig.joint_names) >= set(LEG_JOINT_NAMES)
    assert engine.scene.ctx.intact_rig is engine.intact_rig     # the scene sees the new limb
    assert engine.settings.patient.amputation_level == "transtibial"
    changes = engine.set_patient(side="left", level="transradial", height_m=1.6)
    assert changes == {"side": ("right", "left"), "level": ("transtibial", "transradial"),
                       "height_m": (1.75, 1.6)}
    assert engine.scene is None                   # none given: none runs, frames go on
    t = _run(engine, t, 10, render=True)
    engine.set_scene(FreeMirror())
    engine.set_patient(height_m=1.75)
    engine.set_scene(FreeMirror())
    _run(engine, t, 10, render=True)
    assert engine.core.torso is not torso         # a new height: a new torso model
    assert engine.core.source is source and engine.room is room
    assert engine.display is display_before
    assert _nodes(engine) == start                # back where it began: nothing left behind


@pytest.mark.parametrize("args, message", [
    ({"side": "middle"}, "patient.amputation_side = 'middle' is not one of left, right"),
    ({"level": "nose"}, "patient.amputation_level = 'nose' is not one of"),
    ({"height_m": 5.0}, "patient.height_m = 5.0 is out of range 1.2..2.2"),
    ({"height_m": "tall"}, "patient.height_m = 'tall' must be a number"),
    ({}, "set_patient: give side, level or height_m"),
])
def test_bad_patient_values_are_one_line_and_change_nothing(display, made, args, message):
    engine = _engine(display)
    made.append(engine)
    core, rig, nodes = engine.core, engine.intact_rig, _nodes(engine)
    with pytest.raises((SettingsError, EngineError)) as err:
        engine.set_patient(**args)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert engine.core is core and engine.intact_rig is rig and _nodes(engine) == nodes
    assert engine.scene is not None
    _run(engine, 0, 3)


def test_calibrate_seated_arms_down(display, made):
    engine = _engine(display, SittingStill(shoulder_lat=0.18))
    made.append(engine)
    results = []
    message = engine.calibrate(on_done=results.append)
    assert "arms hanging" in message and engine.calibrating
    engine.paused = True                       # held frames do not count
    t = _run(engine, 0, 200)
    assert engine.calibrating and not results
    engine.paused = False
    _run(engine, t, round(CALIBRATION_S * RATE))
    (result,) = results
    assert result.ok and result is engine.calibration and not engine.calibrating
    assert engine.core.torso.calibrated
    # each controller puts its shoulder 0.18 m beside the midline: 0.36 m apart
    assert result.shoulder_spacing_m == pytest.approx(0.36, abs=0.005)
    assert result.yaw_deg == pytest.approx(0.0, abs=0.5)


def test_calibration_that_fails_says_why_in_one_line(display, made):
    engine = _engine(display)               # reaching forward: no arm hangs
    made.append(engine)
    engine.calibrate()
    _run(engine, 0, round(CALIBRATION_S * RATE))
    result = engine.calibration
    assert not result.ok and result.message.startswith("calibration failed: the right "
                                                       "controller puts the shoulder")
    assert "\n" not in result.message
    with pytest.raises(EngineError, match="posture 'standing' is not arms_down or "
                                          "hands_on_knees"):
        engine.calibrate(posture="standing")
    with pytest.raises(EngineError, match="seconds = 60 must be 0.2..5"):
        engine.calibrate(seconds=60)


def test_a_patient_change_cancels_a_running_calibration(display, made):
    engine = _engine(display)
    made.append(engine)
    results = []
    engine.calibrate(on_done=results.append)
    _run(engine, 0, 20)
    engine.set_patient(level="transtibial", scene=FreeMirror())
    assert not engine.calibrating and not results[0].ok
    assert "cancelled" in results[0].message
    assert "hands resting on the knees" in engine.calibrate()   # legs: hands on the knees
