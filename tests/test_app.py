"""The engine on an offscreen Mesa display: limbs drawn where the solver puts them, the
phantom is the mirror image of the intact limb on screen, the skin tone setting is drawn."""
from __future__ import annotations

import numpy as np
import pytest
from panda3d.core import Point2, Point3, Vec3

from vrgmi.app import Engine
from vrgmi.render.display import grab_rgba, save_png
from vrgmi.settings import load_settings
from vrgmi.tracking.replay import ReplaySource
from vrgmi.tracking.scripted import make_scripted_replay

RATE = 90.0


def _engine(display, side="left", level="transhumeral", tone="III", motion="reach"):
    settings = load_settings(overrides={"patient.amputation_side": side,
                                        "patient.amputation_level": level,
                                        "patient.skin_tone": tone})
    intact = "right" if side == "left" else "left"
    replay = make_scripted_replay(motion, 3.0, RATE, intact_side=intact)
    return Engine(settings, ReplaySource(replay, time_origin=0.0), display)


def _run(engine, frames=120):
    for i in range(frames):
        engine.frame(i / RATE, 1 / RATE, render=False)


@pytest.fixture
def engine_view(display, scene):
    """An engine posed mid-reach; the room hidden so limb pixels stand alone on black."""
    made = []

    def make(**kwargs):
        engine = _engine(display, **kwargs)
        _run(engine)
        engine.room.root.hide()
        for rig in engine.seated.rigs:          # only the two mirrored limbs stay in view
            rig.root.hide()
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()


def _mask(display) -> np.ndarray:
    return grab_rgba(display.base)[..., :3].max(axis=-1) > 8


def _pixel(display, world: np.ndarray) -> tuple[int, int] | None:
    """Where a world point lands in the image (row, col), or None if off screen."""
    base = display.base
    p = base.cam.get_relative_point(base.render, Point3(*world))
    film = Point2()
    if not base.cam.node().get_lens().project(p, film):
        return None
    w, h = display.win.get_x_size(), display.win.get_y_size()
    return int((1 - film[1]) * 0.5 * h), int((film[0] + 1) * 0.5 * w)


def test_limbs_appear_where_the_projected_joints_are(display, engine_view):
    engine = engine_view()
    mask = _mask(display)
    names = engine.core.joint_names
    checked = 0
    for solver in (engine.core.intact, engine.core.phantom):
        for joint in ("wrist", "palm", "middle_proximal"):
            px = _pixel(display, solver.positions[names.index(joint)])
            if px is None:
                continue
            r, c = px
            assert mask[max(r - 1, 0):r + 2, max(c - 1, 0):c + 2].any(), \
                f"nothing drawn at the projected {joint}"
            checked += 1
    assert checked >= 4
    # and nothing is drawn far from every limb: hide both rigs, the image goes black
    engine.intact_rig.root.hide()
    engine.phantom_rig.root.hide()
    assert not _mask(display).any()


def test_phantom_silhouette_mirrors_the_intact_one(display, engine_view, tmp_path):
    engine = engine_view(level="shoulder_disarticulation")
    base, torso = display.base, engine.core.torso.pose
    # look along the body's midline from behind the head: the sagittal plane is the
    # image's vertical centre line, so the mirror image is the image flipped left-right
    right = Vec3(*engine.core.torso.sagittal_plane()[1])
    forward = Vec3(0, 0, 1).cross(right).normalized()
    origin = Point3(*torso[:3])
    base.camera.set_pos(origin - forward * 0.5 + Vec3(0, 0, 0.25))
    base.camera.look_at(origin + forward * 0.4 - Vec3(0, 0, 0.15), Vec3(0, 0, 1))
    engine.phantom_rig.root.hide()
    intact_img = grab_rgba(display.base)[..., :3].astype(float)
    intact = intact_img.max(axis=-1) > 8
    engine.phantom_rig.root.show()
    engine.intact_rig.root.hide()
    phantom_img = grab_rgba(display.base)[..., :3].astype(float)
    phantom = phantom_img.max(axis=-1) > 8
    # the mirrored model shows its outside, not the inside of its far wall (culling follows
    # the mirror): both limbs are shaded alike
    shade = intact_img[intact].mean(axis=0), phantom_img[phantom].mean(axis=0)
    assert np.abs(shade[0] - shade[1]).max() < 12, shade
    save_png(np.stack([intact, phantom, 0 * intact, intact | phantom], -1).astype(np.uint8) * 255,
             tmp_path / "silhouettes.png")
    assert intact.sum() > 500 and phantom.sum() > 500
    flipped = phantom[:, ::-1]
    iou = (intact & flipped).sum() / (intact | flipped).sum()
    assert iou > 0.9, f"mirrored silhouettes overlap only {iou:.2f}"
    # the two limbs are on opposite sides of the midline
    cols = np.arange(intact.shape[1])
    assert (cols * intact.sum(0)).sum() / intact.sum() > intact.shape[1] / 2
    assert (cols * phantom.sum(0)).sum() / phantom.sum() < phantom.shape[1] / 2


def test_skin_tone_setting_is_what_is_drawn(display, scene):
    means = {}
    for tone in ("I", "VI"):
        engine = _engine(display, tone=tone)
        try:
            _run(engine)
            engine.room.root.hide()
            img = grab_rgba(display.base)[..., :3].astype(float)
        finally:
            engine.close()
        means[tone] = img[img.max(axis=-1) > 8].mean(axis=0)
    light, dark = means["I"], means["VI"]
    assert light.mean() > dark.mean() * 1.6          # type I is drawn much lighter than VI
    for mean in (light, dark):
        assert mean[0] > mean[1] > mean[2]           # skin: red > green > blue


def test_phantom_hides_when_the_intact_limb_is_lost(display, scene):
    settings = load_settings(overrides={"tracking.hold_s": 0.2, "tracking.fade_s": 0.2})
    replay = make_scripted_replay("reach", 3.0, RATE, intact_side="right")
    replay.right_valid[150:] = False
    engine = Engine(settings, ReplaySource(replay, time_origin=0.0), display)
    try:
        _run(engine, 140)
        assert not engine.phantom_rig.root.is_hidden()
        for i in range(140, 260):
            engine.frame(i / RATE, 1 / RATE, render=False)
        assert engine.phantom_rig.root.is_hidden() and engine.intact_rig.root.is_hidden()
    finally:
        engine.close()


def test_phantom_alpha_setting_makes_only_the_phantom_translucent(display, scene):
    settings = load_settings(overrides={"patient.amputation_side": "left",
                                        "patient.amputation_level": "transhumeral",
                                        "display.phantom_alpha": 0.5})
    replay = make_scripted_replay("reach", 3.0, RATE, intact_side="right")
    engine = Engine(settings, ReplaySource(replay, time_origin=0.0), display)
    try:
        _run(engine)
        engine.room.root.hide()
        for rig in engine.seated.rigs:
            rig.root.hide()
        names = engine.core.joint_names
        images = {}
        for bg in (0.0, 1.0):
            display.win.set_clear_color((bg, bg, bg, 1.0))
            images[bg] = grab_rgba(display.base)[..., :3].astype(int)
        for solver, translucent in ((engine.core.phantom, True), (engine.core.intact, False)):
            r, c = _pixel(display, solver.positions[names.index("palm")])
            diff = np.abs(images[1.0][r, c] - images[0.0][r, c]).max()
            assert (diff > 60) == translucent, (translucent, diff)
    finally:
        display.win.set_clear_color((0.0, 0.0, 0.0, 0.0))
        engine.close()
