"""What the patient and the therapist see of the limbs, measured in the rendered pictures:
the feet past the knees from the seated patient's eye (the scripted foot-tap motion), and
the parts of a limb picked out by the skin shader's stump blend (rest-pose distance from
the limb root)."""
from __future__ import annotations

import numpy as np
import pytest

from mirror_patient import run_frames
from test_gaze_stable import looking_at_the_phantom
from vrgmi.app import Engine
from vrgmi.render.display import grab_rgba
from vrgmi.render.rig import MODEL_HEIGHT
from vrgmi.scenes.foot_targets import FootTargets
from vrgmi.settings import load_settings
from vrgmi.scenes.reach_targets import ReachTargets
from vrgmi.tracking.replay import ReplaySource
from vrgmi.tracking.scripted import ScriptedSource

_BLEND = ("stump_distance", "stump_blend_width", "residual_alpha", "phantom_alpha")


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a - b).sum(axis=-1) > 12


def part_mask(engine, rigs, distance: float, far: bool = True
              ) -> tuple[np.ndarray, np.ndarray]:
    """(seen, whole): the pixels of the parts of ``rigs`` more (``far``) or less than
    ``distance`` (model metres along the rest-pose limb) from their roots that the full
    picture shows, and all their pixels drawn with nothing in front. The skin shader's
    stump blend hides either part: a pixel is seen where hiding the part changes the
    picture; its whole silhouette is drawn without depth test (nothing occludes it) with
    the rest of the limb hidden."""
    base = engine.display.base
    on = (0.0, 1.0) if far else (1.0, 0.0)
    saved = [{k: rig.character.get_shader_input(k) for k in _BLEND} for rig in rigs]

    def shot(near: float, far: float) -> np.ndarray:
        for rig in rigs:
            c = rig.character
            c.set_shader_input("stump_distance", distance)
            c.set_shader_input("stump_blend_width", 0.0)
            c.set_shader_input("residual_alpha", near)
            c.set_shader_input("phantom_alpha", far)
        return grab_rgba(base)[..., :3].astype(np.int32)

    try:
        seen = _changed(shot(1.0, 1.0), shot(1.0 - on[0], 1.0 - on[1]))
        for rig in rigs:
            rig.character.set_depth_test(False)
        whole = _changed(shot(*on), shot(0.0, 0.0))
    finally:
        for rig, inputs in zip(rigs, saved):
            rig.character.clear_depth_test()
            for value in inputs.values():
                rig.character.set_shader_input(value)
    return seen & whole, whole


def feet_seen(engine) -> tuple[float, int]:
    """(the share of the feet's pixels the patient sees, the feet's pixel count): the foot
    is the leg beyond 2 cm above the ankle joint along the rest-pose leg."""
    L = engine.core.lengths
    scale = engine.settings.patient.height_m / MODEL_HEIGHT
    seen, whole = part_mask(engine, (engine.intact_rig, engine.phantom_rig),
                              (L.thigh + L.shank) / scale - 0.02)
    return float(seen.sum()) / max(1.0, float(whole.sum())), int(whole.sum())


@pytest.mark.parametrize("side", ["left", "right"])
def test_the_seated_patient_sees_the_feet_past_the_knees_while_tapping(display, scene, side):
    """The scripted foot-tap motion (the default leg motion of demos and headless sessions)
    puts the feet forward of the knees: from the eye looking down 45 deg most of both
    feet shows (with the feet under the knees none did)."""
    settings = load_settings(overrides={"patient.amputation_level": "transtibial",
                                        "patient.amputation_side": side,
                                        "ui.instructions": False,
                                        "practice.mirror_trials": 0})
    other = "right" if side == "left" else "left"
    engine = Engine(settings, ScriptedSource("foot_tap", intact_side=other), display,
                    scene=FootTargets())
    try:
        frame = 0
        for seconds in (0.6, 0.35, 0.35):           # toes down, lifting, lifted
            frame = run_frames(engine, seconds, frame, render_every=1000)
            share, pixels = feet_seen(engine)
            assert pixels > 100, "the feet are not in the patient's view at all"
            assert share >= 0.6, f"only {share:.0%} of the feet show past the knees"
    finally:
        engine.close()


def shoulder_ends(engine) -> tuple[int, int]:
    """(pixels of the arms' shoulder ends the picture shows, pixels of the whole arms):
    the shoulder end is the arm above its shoulder joint (the cut's rim and cap)."""
    rigs = (engine.intact_rig, engine.phantom_rig)
    seen, _ = part_mask(engine, rigs, 0.0, far=False)
    _, arms = part_mask(engine, rigs, 0.0, far=True)
    return int(seen.sum()), int(arms.sum())


def test_looking_45_deg_at_the_phantom_the_shoulder_end_is_closed(display, scene):
    """The patient turns the head 45 deg toward the phantom and looks down at it (the eye
    a hand's breadth from that shoulder): the arm's cut end above the shoulder joint does
    not show, the sleeve covers it."""
    settings, replay = looking_at_the_phantom(turn_at=0.5, hold_s=0.5)
    engine = Engine(settings, ReplaySource(replay, time_origin=0.0), display)
    try:
        for i, t in enumerate(replay.t):
            engine.frame(float(t), 1 / 90, render=False)
        ends, arms = shoulder_ends(engine)
        assert arms > 2000, "the arms are not in the patient's view"
        assert ends <= 0.002 * arms, f"{ends} px of the shoulder's cut end show"
    finally:
        engine.close()


def test_the_therapist_sees_a_seated_body_and_no_open_shoulder(display, scene):
    """The third-person view shows a torso and head around the limbs, and no arm's cut
    shoulder end; drawn outside the therapist's view (the patient's eye, the headset, the
    live view) from the same place, the torso and head are not there."""
    settings = load_settings(overrides={"patient.amputation_level": "transradial",
                                        "ui.instructions": False,
                                        "practice.mirror_trials": 0})
    engine = Engine(settings, ScriptedSource("reach", intact_side="right"), display,
                    scene=ReachTargets())
    base = display.base
    body = engine.room.body
    try:
        run_frames(engine, 1.0, render_every=1000)
        core = engine.core
        pose = (core.torso, core.frame.head, core.frame.head_valid)
        base.camera.set_pos(0.9, 1.2, 1.3)
        base.camera.look_at(0.0, 0.0, 0.8)

        def torso_pixels() -> int:
            seen = grab_rgba(base)[..., :3].astype(np.int32)
            with body.in_view(*pose):
                drawn = grab_rgba(base)[..., :3].astype(np.int32)
            return int(_changed(seen, drawn).sum())

        h, w = base.win.get_y_size(), base.win.get_x_size()
        assert torso_pixels() > 0.01 * h * w          # not drawn unless in the therapist's view
        assert body.root.is_hidden()
        with body.in_view(*pose):
            ends, arms = shoulder_ends(engine)
        assert arms > 300 and ends <= 0.002 * arms, f"{ends} px of a shoulder's cut end"
    finally:
        engine.close()


#: the legs' top, within this far (model metres, along the rest-pose leg) of the hip joint:
#: the thigh's cut end and the groin's rim that a look at the lap would show
HIP_END_M = 0.10


@pytest.mark.parametrize("level", ["transradial", "transtibial"])
def test_looking_down_at_the_lap_the_thighs_are_not_cut_open(display, scene, level):
    """The seated patient looks 45 deg down at the lap (the resting legs of an arm scene,
    the tracked and mirrored legs of a leg scene): the shorts legs on the hip joints cover
    the legs' top ends (they showed as jagged cut thighs before)."""
    settings = load_settings(overrides={"patient.amputation_level": level,
                                        "ui.instructions": False,
                                        "practice.mirror_trials": 0})
    motion = "rest" if level == "transradial" else "foot_tap"
    engine = Engine(settings, ScriptedSource(motion, intact_side="right"), display,
                    scene=FootTargets() if level == "transtibial" else ReachTargets())
    try:
        run_frames(engine, 1.0, render_every=1000)
        legs = engine.seated.rigs if level == "transradial" else (engine.intact_rig,
                                                                  engine.phantom_rig)
        camera = display.base.camera
        camera.set_p(camera.get_p() - 45.0)
        ends, _ = part_mask(engine, legs, HIP_END_M, far=False)
        _, whole = part_mask(engine, legs, 0.0, far=True)
        assert whole.sum() > 2000, "the legs are not in the patient's view"
        assert ends.sum() <= 0.002 * whole.sum(), f"{ends.sum()} px of the thighs' tops show"
    finally:
        engine.close()


def test_the_therapist_sees_no_skin_between_the_shorts_legs(display, scene):
    """Seen from in front at the seated patient's crotch (a leg scene, the foot-tap motion),
    the shorts legs' crotch pieces overlap: none of the legs' groins (their top ends) shows
    between the two shorts legs (a light seam of skin there before)."""
    settings = load_settings(overrides={"patient.amputation_level": "transtibial",
                                        "ui.instructions": False,
                                        "practice.mirror_trials": 0})
    engine = Engine(settings, ScriptedSource("foot_tap", intact_side="right"), display,
                    scene=FootTargets())
    try:
        run_frames(engine, 1.0, render_every=1000)
        core, camera = engine.core, display.base.camera
        hip = 0.5 * (core.torso.hip(0) + core.torso.hip(1))
        camera.set_pos(*(hip + (0.05, 0.7, 0.05)))
        camera.look_at(*(hip + (0.0, 0.08, 0.02)))
        display.base.cam.node().get_lens().set_fov(28.0)
        legs = (engine.intact_rig, engine.phantom_rig)
        with engine.room.body.in_view(core.torso, core.frame.head, core.frame.head_valid):
            ends, whole = part_mask(engine, legs, HIP_END_M, far=False)
        assert whole.sum() > 2000, "the groin is not in the therapist's view"
        assert ends.sum() == 0, f"{ends.sum()} px of skin show between the shorts legs"
    finally:
        engine.close()
