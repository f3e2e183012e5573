"""The clinic room: where its furniture is, and that it renders calm and well lit."""
from __future__ import annotations

import numpy as np
import pytest
from panda3d.core import GeomVertexReader

from vrgmi.render.color import srgb_to_linear
from vrgmi.render.display import grab_rgba
from vrgmi.render.environment import (PALETTE, ROOM_HEIGHT, ROOM_X, ROOM_Y, SEAT_Z, TABLE_TOP_Z,
                                      RoomError, build_clinic_room)
from vrgmi.render.shaders import ROOM, load_shader

EYE = (0.0, 0.05, 1.22)          # a seated patient's eyes


@pytest.fixture
def room(display, scene):
    shader = load_shader(*ROOM, gsg=display.win.get_gsg())
    return build_clinic_room(scene, shader)


def bounds(node):
    """Bounds of the node's own geometry (not its children, e.g. a contact shadow)."""
    points = []
    for geom in node.node().get_geoms():
        reader = GeomVertexReader(geom.get_vertex_data(), "vertex")
        while not reader.is_at_end():
            points.append(tuple(reader.get_data3()))
    points = np.array(points)
    return points.min(axis=0), points.max(axis=0)


def test_furniture_is_where_the_patient_needs_it(room):
    lo, hi = bounds(room.table)
    assert hi[2] == pytest.approx(TABLE_TOP_Z) and TABLE_TOP_Z == pytest.approx(0.72)
    assert 0.15 < lo[1] < 0.35 and hi[1] > 0.6 and lo[0] < -0.4 and hi[0] > 0.4
    lo, hi = bounds(room.mat)
    assert hi[2] < 0.02 and lo[1] > 0.0 and hi[1] > 1.0        # on the floor, in front
    lo, hi = bounds(room.chair)
    assert lo[0] < 0.0 < hi[0] and lo[1] < 0.0 < hi[1]          # under the patient
    assert hi[2] > SEAT_Z and bounds(room.chair.find("**/chair_shadow"))[1][2] < 0.02
    lo, hi = (np.array(v) for v in room.root.get_tight_bounds())   # nothing pokes out
    assert np.allclose(lo, (ROOM_X[0], ROOM_Y[0], 0.0), atol=1e-4)
    assert np.allclose(hi, (ROOM_X[1], ROOM_Y[1], ROOM_HEIGHT), atol=1e-4)


def look(display, at) -> np.ndarray:
    display.base.cam.set_pos(*EYE)
    display.base.cam.look_at(*at)
    display.base.win.set_clear_color((1.0, 0.0, 1.0, 1.0))   # magenta shows any hole
    return grab_rgba(display.base)


@pytest.mark.parametrize("at", [(0, 1.0, 0.6), (-2.0, 1.0, 1.2), (2.0, 1.0, 1.0),
                                (0, -2.0, 1.2), (0, 1.0, 3.0)])
def test_room_renders_closed_calm_and_well_lit(display, room, at):
    img = look(display, at)[..., :3].astype(float)
    magenta = (img[..., 0] > 250) & (img[..., 1] < 5) & (img[..., 2] > 250)
    assert not magenta.any()                                    # a closed room, no holes
    luminance = srgb_to_linear(img / 255.0) @ np.array([0.2126, 0.7152, 0.0722])
    assert 0.25 < luminance.mean() < 0.85                       # neither dim nor glaring
    assert luminance.std() > 0.02                               # shaded, not one flat colour
    assert np.mean(luminance < 0.03) < 0.01                     # no black holes or crushed shade
    assert np.mean(img.max(axis=2) >= 255) < 0.05               # hardly anything clipped


def test_window_glows_in_its_own_colour(display, room):
    img = look(display, (-2.0, 1.0, 1.2))[..., :3].astype(int)
    sky = np.array([int(PALETTE["window_sky"][i:i + 2], 16) for i in (1, 3, 5)])
    glowing = np.abs(img - sky).max(axis=2) <= 1        # self-lit: exactly its colour
    assert glowing.mean() > 0.15


def test_focus_lower_clears_the_view_of_the_mat(display, room):
    upper = look(display, (0, 0.7, 0.0))
    room.set_focus("lower")
    lower = look(display, (0, 0.7, 0.0))
    assert room.table.is_hidden() and not room.mat.is_hidden()
    assert np.abs(upper.astype(int) - lower).max() > 50
    mat = np.round(np.array([int(PALETTE["mat"][i:i + 2], 16) for i in (1, 3, 5)]))
    centre = lower[128, 128, :3].astype(int)
    assert np.abs(centre - mat).max() < 40                      # the mat, lit
    room.set_focus("upper")
    assert not room.table.is_hidden()
    with pytest.raises(RoomError, match="'hands' is not 'upper' or 'lower'"):
        room.set_focus("hands")


def test_software_room_uses_srgb_vertex_colours(scene):
    room = build_clinic_room(scene, None)
    geom = room.mat.node().get_geom(0)
    color = GeomVertexReader(geom.get_vertex_data(), "color").get_data4()
    srgb = [int(PALETTE["mat"][i:i + 2], 16) / 255.0 for i in (1, 3, 5)]
    assert np.allclose(list(color)[:3], srgb, atol=1 / 255)
    assert scene.has_light(scene.find("**/room_key"))
