"""The limbs' surface as a patient sees it: nails show in the dorsal laterality pictures
(hand from the back, foot from the top) of every posture that does not hide them, drawn
from the models' nail mask by the skin shader (docs/limb-rigs.md, "Surface")."""
from __future__ import annotations

import numpy as np
import pytest
from panda3d.core import Vec3

from vrgmi.laterality.stimuli import POSTURE_SETS, SIDES, Stimulus
from vrgmi.render.stimulus_render import StimulusRenderer
from vrgmi.settings import load_settings

DORSAL = {"hand": "back", "foot": "top"}
#: postures whose dorsal picture hides every nail, as a real limb does: the fingertips of a
#: fist and of a pinch turn away under the hand, the toes of a pointed foot point away
#: from the viewer (checked by eye in the canonical set)
NAILS_HIDDEN = {("hand", "fist"), ("hand", "pinch"), ("foot", "pointed")}


def _marked_pixels(picture: np.ndarray) -> int:
    """Pixels of the marker colour (nails drawn pure green)."""
    rgb = picture.astype(int)
    return int(np.sum((rgb[..., 1] > rgb[..., 0] + 60) & (rgb[..., 1] > rgb[..., 2] + 60)))


@pytest.mark.parametrize("limb", ["hand", "foot"])
def test_nails_are_visible_in_every_dorsal_view(display, limb):
    settings = load_settings(None, ["patient.skin_tone=III"])
    renderer = StimulusRenderer(display.base, settings, (limb,), 160)
    try:
        plain = renderer.render(Stimulus(limb, "right", POSTURE_SETS["all"][limb][0],
                                         DORSAL[limb]))
        assert _marked_pixels(plain) == 0                    # skin is never that green
        # the same pictures with the nail colour swapped for a marker the skin never has
        renderer.root.set_shader_input("nail_tone", Vec3(0.0, 1.0, 0.0), 100)
        for side in SIDES:
            for posture in POSTURE_SETS["all"][limb]:
                if (limb, posture) in NAILS_HIDDEN:
                    continue
                picture = renderer.render(Stimulus(limb, side, posture, DORSAL[limb]))
                assert _marked_pixels(picture) >= 6, (side, posture)    # a nail or more
    finally:
        renderer.close()


def _hue_deg(rgb: np.ndarray) -> float:
    r, g, b = rgb / 255.0
    return float(np.degrees(np.arctan2(np.sqrt(3.0) * (g - b), 2.0 * r - g - b)))


@pytest.mark.parametrize("limb", ["hand", "foot"])
def test_nails_on_dark_skin_are_a_lighter_shade_of_it_not_pink(display, limb):
    """On Fitzpatrick VI the nails show the skin's own hue, lighter (the nail bed under a
    translucent plate), not the pink that read as painted nails: the nail pixels (found
    by drawing them in a marker colour) against the rest of the limb in the same picture."""
    settings = load_settings(None, ["patient.skin_tone=VI"])
    renderer = StimulusRenderer(display.base, settings, (limb,), 160)
    try:
        stimulus = Stimulus(limb, "right", POSTURE_SETS["all"][limb][0], DORSAL[limb])
        plain = renderer.render(stimulus).astype(float)
        renderer.root.set_shader_input("nail_tone", Vec3(0.0, 1.0, 0.0), 100)
        marked = renderer.render(stimulus).astype(int)
    finally:
        renderer.close()
    nail = (marked[..., 1] > marked[..., 0] + 60) & (marked[..., 1] > marked[..., 2] + 60)
    skin = (np.abs(plain - plain[0, 0]).sum(axis=2) > 30) & ~nail
    assert nail.sum() >= 20
    nails, rest = plain[nail].mean(axis=0), plain[skin].mean(axis=0)
    print(f"{limb}, tone VI: nails {nails.round()} hue {_hue_deg(nails):.1f}, skin "
          f"{rest.round()} hue {_hue_deg(rest):.1f}")
    assert abs(_hue_deg(nails) - _hue_deg(rest)) <= 3.0          # the pink was 6-7 off
    assert nails.mean() >= rest.mean() + 20.0
