#!/usr/bin/env python3
"""Retake the mirror scenes' pictures in docs/img from the patient's eye and from the
therapist's third-person view, offscreen, with the scripted patients of the tests
(tests/mirror_patient.py, tests/test_functional_mirror.py: the hand reaching over an object
and down onto it, the foot on the ball) and the scripted motions (foot_tap for the leg
scenes). Look at every picture as a patient and as a therapist would after a change to the
limbs, the body, the room or the objects:

    python tools/mirror_shots.py [--out docs/img]

Writes mirror-functional.png (the functional tasks from the patient's eye),
mirror-functional-therapist.png (the same moments from the therapist's view),
mirror-therapist-views.png (arm and leg scenes from the therapist's view),
mirror-foot-targets.png and mirror-pedal-press.png (the foot-tap motion), and
body-frame-gaze-45.png (looking 45 deg aside at the phantom; the front view), the scenes
from the patient's eye (PATIENT_VIEWS: reach, copy pose, bilateral, free mirror, ankle
circles, the imagery demonstrations, the example plug-in's balloon_pop) and
mirror-skin-tones.png (reach_targets and foot_targets in skin tones I, III and VI).
``--only patient skin`` retakes some groups.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import test_functional_mirror as drive  # noqa: E402  (the tests' scripted patients)
from mirror_patient import run_frames  # noqa: E402
from test_gaze_stable import FRONT_VIEW, looking_at_the_phantom  # noqa: E402
from test_object_contact import PRESHAPE, from_above  # noqa: E402
from vrgmi.app import THERAPIST_EYE, THERAPIST_LOOK, Engine  # noqa: E402
from vrgmi.mirror.floor import BALL_RADIUS_M  # noqa: E402
from vrgmi.mirror.objects import CUP_HEIGHT_M, GLASS_HEIGHT_M  # noqa: E402
from vrgmi.render.display import grab_rgba, open_display  # noqa: E402
from vrgmi.settings import load_settings  # noqa: E402
from vrgmi.tracking.replay import ReplaySource  # noqa: E402
from vrgmi.tracking.scripted import FOOT_TAP_FORWARD_M, ScriptedSource  # noqa: E402

SIZE = (960, 540)
TILE = (400, 225)


def therapist(base, engine, eye=THERAPIST_EYE, look=THERAPIST_LOOK) -> np.ndarray:
    """The therapist's view (the body drawn around the limbs), as Engine.screenshot."""
    core = engine.core
    cam = base.camera
    saved = cam.get_transform()
    cam.set_pos(*eye)
    cam.look_at(*look)
    try:
        with engine.room.body.in_view(core.torso, core.frame.head, core.frame.head_valid):
            return grab_rgba(base)
    finally:
        cam.set_transform(saved)


def crop_patient(img: np.ndarray, limb: str = "arm") -> np.ndarray:
    """The middle of the wide therapist view, where the seated patient is (lower down for
    the leg scenes, to the feet)."""
    h, w = img.shape[:2]
    x0, y0 = int(0.22 * w), int((0.12 if limb == "arm" else 0.24) * h)
    return img[y0:y0 + h // 2, x0:x0 + w // 2]


def tile(img: np.ndarray, label: str) -> Image.Image:
    """``img`` scaled to a tile with ``label`` in its corner."""
    out = Image.fromarray(img[..., :3]).resize(TILE, Image.LANCZOS)
    draw = ImageDraw.Draw(out)
    font = ImageFont.load_default()
    box = draw.textbbox((6, TILE[1] - 18), label, font=font)
    draw.rectangle((0, box[1] - 4, box[2] + 6, TILE[1]), fill=(35, 38, 42))
    draw.text((6, TILE[1] - 18), label, fill=(240, 240, 240), font=font)
    return out


def sheet(tiles: list[Image.Image], columns: int, path: Path) -> None:
    """Lay the tiles out in rows of ``columns``; a modest PNG."""
    rows = math.ceil(len(tiles) / columns)
    out = Image.new("RGB", (columns * TILE[0], rows * TILE[1]), (255, 255, 255))
    for i, t in enumerate(tiles):
        out.paste(t, ((i % columns) * TILE[0], (i // columns) * TILE[1]))
    save(out, path)


def save(img: Image.Image, path: Path) -> None:
    """A modest PNG: 256 colours error-diffused onto the picture's own palette (quantising
    alone never dithers and bands the shading), optimised."""
    palette = img.quantize(256, method=Image.Quantize.MEDIANCUT)
    img.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG).save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


def settings_for(level: str, **extra):
    return load_settings(overrides={"patient.amputation_level": level, "ui.instructions": False,
                                    "practice.mirror_trials": 0, **extra})


# --- the functional tasks, done by the tests' scripted patients -------------------------------

def cup_move(engine, patient):
    reach = from_above(engine, lambda task: task.grasp_point())
    patient.grip = lambda t: PRESHAPE

    def palm_at(t, task):
        if not task.item.held:
            return reach(task)
        return task.spots[1] + (0.0, 0.05, 0.5 * CUP_HEIGHT_M + 0.08) - task.item.offset
    patient.goal = drive._hand_goal(engine, palm_at)
    return 2.2


def pour(engine, patient):
    reach = from_above(engine, lambda task: task.grasp_point())
    patient.grip = lambda t: PRESHAPE
    lift = GLASS_HEIGHT_M + 0.5 * CUP_HEIGHT_M + 0.05

    def palm_at(t, task):
        if not task.item.held:
            return reach(task)
        return task.spots[1] + (0.0, 0.0, lift) - task.item.offset

    def turn(t, task):
        return 70.0 if task.item.held and t - task.onset - task.grasp_time > 1.2 else 0.0
    patient.goal = drive._hand_goal(engine, palm_at, turn)
    return 4.2


def key_turn(engine, patient):
    patient.grip = lambda t: PRESHAPE
    patient.goal = drive._hand_goal(
        engine, lambda t, task: task.grasp_point(),
        lambda t, task: 70.0 if task.item.held and t - task.onset - task.grasp_time > 0.4
        else 0.0)
    return 2.6


def wipe_table(engine, patient):
    def palm_at(t, task):
        p = engine.core.phantom.positions
        centre = task.spots[0] + (0.0, 0.0, 0.004 + p[3, 2] - p[2:, 2].min())
        s = t - task.onset - 1.0
        if s <= 0.0:
            return centre + (0.0, 0.0, 0.05)
        r, a = min(0.10, 0.015 + 0.022 * s), 2.0 * math.pi * 0.7 * s
        return centre + (r * math.cos(a), r * math.sin(a), 0.0)
    patient.goal = drive._hand_goal(engine, palm_at)
    return 3.0


def forward_foot_goal(engine, patient, ball_at):
    """The tests' foot goal, resting forward of the knee (as the foot-tap motion), so the
    patient sees the foot."""
    rest = np.array([0.15, FOOT_TAP_FORWARD_M, engine.core.lengths.ankle_height])
    patient.pos[:] = rest
    goal = drive._foot_goal(engine, ball_at)

    def forward(t):
        pos, rot = goal(t)
        return (rest, rot) if np.allclose(pos[:2], (0.09, 0.32)) else (pos, rot)
    return forward


def roll_ball(engine, patient):
    def ball_at(t, task):
        if not task.on_ball:
            return task.ball + (0.0, 0.0, BALL_RADIUS_M + 0.04)
        return task.spots[1] + (task.foot - task.ball) * (1.0, 1.0, 0.0) \
            + (0.0, 0.0, task.foot[2])
    patient.goal = forward_foot_goal(engine, patient, ball_at)
    return 1.45


def trace_path(engine, patient):
    patient.goal = forward_foot_goal(engine, patient, lambda t, task: task.path[
        min(task.current, len(task.path) - 1)] + (0.0, 0.0, 0.01))
    return 1.45


FUNCTIONAL: dict[str, tuple[str, Callable]] = {
    "cup_move": ("arm", cup_move), "pour": ("arm", pour), "key_turn": ("arm", key_turn),
    "wipe_table": ("arm", wipe_table), "roll_ball": ("leg", roll_ball),
    "trace_path": ("leg", trace_path), "press_hold": ("leg", None)}


def functional(display, out: Path) -> None:
    from vrgmi.scenes import (cup_move as cm, key_turn as kt, pour as pr, press_hold as ph,
                              roll_ball as rb, trace_path as tp, wipe_table as wt)
    classes = {"cup_move": cm.CupMove, "pour": pr.Pour, "key_turn": kt.KeyTurn,
               "wipe_table": wt.WipeTable, "roll_ball": rb.RollBall,
               "trace_path": tp.TracePath, "press_hold": ph.PressHold}
    patient_tiles, therapist_tiles = [], []
    for name, (limb, how) in FUNCTIONAL.items():
        scene = classes[name](trials=2)
        if how is None:                         # the foot-tap motion on the cushion
            engine = Engine(settings_for("transtibial"),
                            ScriptedSource("foot_tap", intact_side="right"), display,
                            scene=scene)
            seconds = 1.6
        else:
            engine, patient = drive._engine(display, scene, limb)
            seconds = how(engine, patient)
        run_frames(engine, seconds, render_every=1000)
        patient_tiles.append(tile(grab_rgba(display.base), name))
        view = therapist(display.base, engine)
        therapist_tiles.append(tile(crop_patient(view, limb), f"{name} (therapist)"))
        engine.close()
    sheet(patient_tiles + [therapist_tiles[0]], 4, out / "mirror-functional.png")
    sheet(therapist_tiles + [patient_tiles[1]], 4, out / "mirror-functional-therapist.png")


def scenes(display, out: Path) -> None:
    from vrgmi.scenes.copy_pose import CopyPose
    from vrgmi.scenes.foot_targets import FootTargets
    from vrgmi.scenes.imagery import ImageryScene
    from vrgmi.scenes.pedal_press import PedalPress
    from vrgmi.scenes.reach_targets import ReachTargets
    shots = (("reach_targets", "transradial", "reach", ReachTargets, 2.5),
             ("copy_pose", "transradial", "reach", CopyPose, 2.5),
             ("imagery, arm demo", "transradial", "rest", ImageryScene, 5.5),
             ("foot_targets", "transtibial", "foot_tap", FootTargets, 1.6),
             ("pedal_press", "transtibial", "foot_tap", PedalPress, 1.6),
             ("imagery, leg demo", "transtibial", "foot_tap", ImageryScene, 4.4))
    tiles = []
    for label, level, motion, cls, seconds in shots:
        engine = Engine(settings_for(level), ScriptedSource(motion, intact_side="right"),
                        display, scene=cls())
        run_frames(engine, seconds, render_every=1000)
        view = therapist(display.base, engine)
        tiles.append(tile(crop_patient(view, engine.core.limb), f"{label} (therapist)"))
        if cls in (FootTargets, PedalPress):
            name = "mirror-foot-targets.png" if cls is FootTargets else "mirror-pedal-press.png"
            save(Image.fromarray(grab_rgba(display.base)[..., :3]), out / name)
        engine.close()
    sheet(tiles, 3, out / "mirror-therapist-views.png")


#: the patient's-eye pictures: file, amputation level, scripted motion, scene, seconds
PATIENT_VIEWS = (
    ("mirror-reach-targets.png", "transradial", "reach", "reach_targets", 2.5),
    ("mirror-copy-pose.png", "transradial", "reach", "copy_pose", 2.5),
    ("mirror-bilateral.png", "transradial", "reach", "bilateral", 2.5),
    ("mirror-first-person-arms.png", "transradial", "reach", "free_mirror", 2.5),
    ("imagery-arm-demo.png", "transradial", "rest", "imagery", 5.5),
    ("mirror-ankle-circles.png", "transtibial", "ankle_circles", "ankle_circles", 1.6),
    ("imagery-leg-demo.png", "transtibial", "foot_tap", "imagery", 4.4),
    ("scene-balloon-pop.png", "transradial", "reach", "balloon_pop", 2.5),
)
#: the skin tones of mirror-skin-tones.png (light, medium, dark)
SKIN_TONES = ("I", "III", "VI")


def scene_class(name: str):
    """A built-in scene's class by its name, or the example plug-in's balloon_pop."""
    if name == "balloon_pop":
        sys.path.insert(0, str(ROOT / "examples/vrgmi-scene-example"))
        from vrgmi_scene_example.balloon_pop import BalloonPop
        return BalloonPop
    from vrgmi.scenes.ankle_circles import AnkleCircles
    from vrgmi.scenes.bilateral import Bilateral
    from vrgmi.scenes.copy_pose import CopyPose
    from vrgmi.scenes.foot_targets import FootTargets
    from vrgmi.scenes.free_mirror import FreeMirror
    from vrgmi.scenes.imagery import ImageryScene
    from vrgmi.scenes.reach_targets import ReachTargets
    return {"reach_targets": ReachTargets, "copy_pose": CopyPose, "bilateral": Bilateral,
            "free_mirror": FreeMirror, "imagery": ImageryScene, "ankle_circles": AnkleCircles,
            "foot_targets": FootTargets}[name]


def patient_eye(display, level: str, motion: str, scene: str, seconds: float,
                **extra) -> np.ndarray:
    """One scene run with a scripted motion, seen from the patient's eye (RGB)."""
    engine = Engine(settings_for(level, **extra), ScriptedSource(motion, intact_side="right"),
                    display, scene=scene_class(scene)())
    run_frames(engine, seconds, render_every=1000)
    img = grab_rgba(display.base)[..., :3]
    engine.close()
    return img


def patient_views(display, out: Path) -> None:
    for name, level, motion, scene, seconds in PATIENT_VIEWS:
        save(Image.fromarray(patient_eye(display, level, motion, scene, seconds)), out / name)


def limbs_crop(img: np.ndarray) -> np.ndarray:
    """The lower middle of the patient's view, where the hands and feet are (0.6 of it)."""
    h, w = img.shape[:2]
    ch, cw = int(0.6 * h), int(0.6 * w)
    return img[h - ch:, (w - cw) // 2:(w + cw) // 2]


def skin_tones(display, out: Path) -> None:
    tiles = [tile(limbs_crop(patient_eye(display, level, motion, scene, seconds,
                                         **{"patient.skin_tone": tone})),
                  f"{scene}, skin tone {tone}")
             for level, motion, scene, seconds in (("transradial", "reach", "reach_targets", 2.5),
                                                   ("transtibial", "foot_tap", "foot_targets",
                                                    1.6))
             for tone in SKIN_TONES]
    sheet(tiles, 3, out / "mirror-skin-tones.png")


def gaze(display, out: Path) -> None:
    settings, replay = looking_at_the_phantom(turn_at=1.0, hold_s=1.0)
    engine = Engine(settings, ReplaySource(replay, time_origin=0.0), display)
    for t in replay.t:
        engine.frame(float(t), 1 / 90, render=False)
    eye = grab_rgba(display.base)[..., :3]
    front = therapist(display.base, engine, *FRONT_VIEW)[..., :3]
    engine.close()
    both = np.hstack([eye, np.full((eye.shape[0], 8, 3), 255, np.uint8), front])
    img = Image.fromarray(both).resize((1288, 400), Image.LANCZOS)
    save(img, out / "body-frame-gaze-45.png")


#: the groups of pictures, each one function of (display, out)
SHOTS: dict[str, Callable] = {"functional": functional, "scenes": scenes, "gaze": gaze,
                              "patient": patient_views, "skin": skin_tones}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs/img")
    parser.add_argument("--only", nargs="+", choices=sorted(SHOTS), default=sorted(SHOTS),
                        help="retake only these groups of pictures")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    display = open_display("headless", size=SIZE)
    try:
        for group in args.only:
            SHOTS[group](display, args.out)
    finally:
        display.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
