"""Text size and contrast (docs/accessibility.md): every panel's lower-case x subtends at
least ``ui.min_x_height_deg`` at the eye, measured geometrically on the placed panel's glyph;
``ui.text_scale`` enlarges text; the high-contrast palette reaches WCAG AAA contrast."""
from __future__ import annotations

import math

import numpy as np
import pytest
from panda3d.core import Point3

from vrgmi.render import ui
from vrgmi.settings import UiSettings


@pytest.fixture(autouse=True)
def _default_style():
    yield
    ui.configure_text(UiSettings())


def _x_height_deg(panel: ui.Panel, eye: np.ndarray, render) -> float:
    """The angle the drawn part of a lower-case x on ``panel`` subtends at ``eye``."""
    panel.set_text("x")
    bottom, top = ui.ink_extent("x")
    mat = panel.node.get_mat(render)
    a = np.array(mat.xform_point(Point3(0.0, 0.0, bottom)))
    b = np.array(mat.xform_point(Point3(0.0, 0.0, top)))
    u, v = a - eye, b - eye
    return math.degrees(math.acos(float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))))


def _placed(scene, requested_deg: float, distance_m: float) -> tuple[ui.Panel, np.ndarray]:
    """A panel asking for ``requested_deg`` lines, placed ``distance_m`` in front of a
    seated patient's eyes turned 30 deg, as the scenes place theirs."""
    view = scene.attach_new_node("view")
    head = np.array([0.1, -0.2, 1.2, 0.0, 0.0, 0.0, 1.0])
    ui.place_facing_patient(view, head, math.radians(30.0), distance_m, ui.PANEL_DROP_M)
    panel = ui.Panel(view, (0.0, 0.0, 0.0), distance_m, requested_deg, card=False)
    return panel, head[:3]


@pytest.mark.parametrize("distance_m", [0.6, 1.0, 1.4, 2.5])
def test_small_text_is_raised_to_the_minimum_x_height_at_any_distance(scene, distance_m):
    ui.configure_text(UiSettings(min_x_height_deg=0.65))
    panel, eye = _placed(scene, 0.8, distance_m)          # asks for less than the floor
    assert _x_height_deg(panel, eye, scene.get_top()) == pytest.approx(0.65, rel=0.03)
    larger, eye = _placed(scene, 2.4, distance_m)         # asks for more: kept
    assert _x_height_deg(larger, eye, scene.get_top()) == pytest.approx(
        2.4 * ui.x_height_ratio(), rel=0.03)


def test_every_scene_text_size_meets_the_default_floor(scene):
    # the smallest line any built-in panel asks for is 1.5 deg: its x is above 0.65 deg
    ui.configure_text(UiSettings())
    assert 0.4 < ui.x_height_ratio() < 0.6              # a plausible font: x about half a line
    panel, eye = _placed(scene, 1.5, 1.4)
    assert _x_height_deg(panel, eye, scene.get_top()) >= UiSettings().min_x_height_deg


def test_text_scale_enlarges_every_panel(scene):
    ui.configure_text(UiSettings(text_scale=1.5))
    panel, eye = _placed(scene, 1.6, 1.0)
    assert panel.line_deg == pytest.approx(2.4)
    assert _x_height_deg(panel, eye, scene.get_top()) == pytest.approx(
        2.4 * ui.x_height_ratio(), rel=0.03)
    row = ui.OptionRow(scene, ["0", "1"], (0.0, 1.0, 0.0), 1.0, min_line_deg=2.0)
    assert row.line_height_m == pytest.approx(ui.line_height_for(1.0, 3.0))


def _luminance(rgba) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgba[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(fg, bg) -> float:
    hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_high_contrast_mode_reaches_wcag_aaa(scene):
    calm = _contrast(ui.TEXT_RGBA, ui.CARD_RGBA)
    assert calm >= 4.5                                    # the calm palette: AA
    ui.configure_text(UiSettings(high_contrast=True))
    panel = ui.Panel(scene, (0.0, 1.0, 0.0), 1.0, 1.6)
    panel.set_text("x", ui.DIM_RGBA)
    text = tuple(panel.text.get_text_color())
    card = tuple(panel.text.get_card_color())
    assert _contrast(text, card) >= 7.0 and card[3] == 1.0   # AAA, opaque card
    row = ui.OptionRow(scene, ["a", "b"], (0.0, 1.0, 0.0), 1.0)
    row.select(1)
    on = row.texts[1]
    assert _contrast(tuple(on.get_text_color()), tuple(on.get_card_color())) >= 7.0
    assert _contrast(ui.style_color(ui.HIGHLIGHT_RGBA), ui.style_color(ui.CARD_RGBA)) >= 7.0
