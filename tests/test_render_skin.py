"""The skin shader on Mesa: hardware skinning follows the joints, the flat tone is drawn
exactly, the stump band is translucent where StumpBlend says, and the lighting terms do
what they claim."""
from __future__ import annotations

import math

import numpy as np
import pytest
from panda3d.core import (Character, CharacterJoint, Geom, GeomNode, GeomTriangles,
                          GeomVertexAnimationSpec, GeomVertexArrayFormat, GeomVertexData,
                          GeomVertexFormat, GeomVertexWriter, InternalName, JointVertexTransform,
                          Mat4, NodePath, OrthographicLens, PartGroup, SparseArray, Quat,
                          TransformBlend, TransformBlendTable)

from vrgmi.render.color import linear_to_srgb, srgb_to_linear
from vrgmi.render.display import grab_rgba
from vrgmi.render.resources import shader_file
from vrgmi.render.shaders import SKIN, Lighting, load_shader, set_lighting
from vrgmi.render.skin import (SkinError, SkinLook, StumpBlend, apply_skin, set_stump,
                               skin_tone)
from vrgmi.spatial import quat_from_axis_angle, quat_rotate, to_panda_quat

LENGTH, RADIUS = 0.6, 0.05
FILM, SIZE = 0.8, 256              # orthographic view: 0.8 m across 256 px
CENTRE_Z = -0.3                    # the view is centred on the elbow joint
NEUTRAL = Lighting(key_direction=(1.0, -1.0, 0.0), key_color=(0.7, 0.7, 0.7),
                   sky=(0.3, 0.3, 0.3), ground=(0.3, 0.3, 0.3))
OPAQUE = StumpBlend(width=0.0)


def skinned_cylinder(rings: int = 60, segments: int = 24) -> tuple[NodePath, CharacterJoint]:
    """A 2-joint Character: a cylinder hanging along -Z from "upper" (the origin); "lower"
    sits at -LENGTH/2 and carries the lower half, with a 4 cm weight blend at the joint."""
    char = Character("cylinder")
    bundle = char.get_bundle(0)
    skeleton = PartGroup(bundle, "<skeleton>")
    upper = CharacterJoint(char, bundle, skeleton, "upper", Mat4.ident_mat())
    lower = CharacterJoint(char, bundle, upper, "lower", Mat4.translate_mat(0, 0, -LENGTH / 2))
    t_upper, t_lower = JointVertexTransform(upper), JointVertexTransform(lower)
    points = GeomVertexArrayFormat()
    points.add_column(InternalName.get_vertex(), 3, Geom.NT_float32, Geom.C_point)
    points.add_column(InternalName.get_normal(), 3, Geom.NT_float32, Geom.C_normal)
    blends = GeomVertexArrayFormat()
    blends.add_column(InternalName.get_transform_blend(), 1, Geom.NT_uint16, Geom.C_index)
    fmt = GeomVertexFormat()
    fmt.add_array(points)
    fmt.add_array(blends)
    animation = GeomVertexAnimationSpec()
    animation.set_panda()
    fmt.set_animation(animation)
    vdata = GeomVertexData("cylinder", GeomVertexFormat.register_format(fmt), Geom.UH_static)
    table = TransformBlendTable()
    vertex = GeomVertexWriter(vdata, "vertex")
    normal = GeomVertexWriter(vdata, "normal")
    blend = GeomVertexWriter(vdata, "transform_blend")
    for r in range(rings + 1):
        z = -LENGTH * r / rings
        w = min(max((-z - LENGTH / 2 + 0.02) / 0.04, 0.0), 1.0)
        index = table.add_blend(TransformBlend(t_upper, 1.0 - w, t_lower, w))
        for s in range(segments):
            a = 2 * math.pi * s / segments
            vertex.add_data3(RADIUS * math.cos(a), RADIUS * math.sin(a), z)
            normal.add_data3(math.cos(a), math.sin(a), 0.0)
            blend.add_data1i(index)
    table.set_rows(SparseArray.lower_on(vdata.get_num_rows()))
    vdata.set_transform_blend_table(table)
    tris = GeomTriangles(Geom.UH_static)
    for r in range(rings):
        for s in range(segments):
            a, b = r * segments + s, r * segments + (s + 1) % segments
            tris.add_vertices(a, a + segments, b)
            tris.add_vertices(b, a + segments, b + segments)
    geom = Geom(vdata)
    geom.add_primitive(tris)
    node = GeomNode("cylinder")
    node.add_geom(geom)
    char.add_child(node)
    return NodePath(char), lower


@pytest.fixture(scope="module")
def skin_shader(display):
    return load_shader(*SKIN, gsg=display.win.get_gsg())


@pytest.fixture
def side_view(display, scene):
    """Orthographic camera on -Y looking +Y at the cylinder: x right, z up in the image."""
    lens = OrthographicLens()
    lens.set_film_size(FILM, FILM)
    lens.set_near_far(0.1, 10.0)
    display.base.cam.node().set_lens(lens)
    display.base.cam.set_pos(0, -2, CENTRE_Z)
    display.base.cam.look_at(0, 0, CENTRE_Z)
    set_lighting(scene, NEUTRAL)
    return scene


def load_source(name: str) -> str:
    return shader_file(name).read_text()


def pixel(x: float, z: float) -> tuple[int, int]:
    """(row, column) of world point (x, ., z) in the side view."""
    scale = SIZE / FILM
    return int(SIZE / 2 - (z - CENTRE_Z) * scale), int(SIZE / 2 + x * scale)


def covered(img: np.ndarray, x: float, z: float) -> bool:
    row, col = pixel(x, z)
    return img[row, col, 3] > 0


def render_over(base, backgrounds) -> list[np.ndarray]:
    """Linear RGB of the frame over each clear colour."""
    frames = []
    for bg in backgrounds:
        base.win.set_clear_color((*bg, 0.0))
        frames.append(srgb_to_linear(grab_rgba(base)[..., :3] / 255.0))
    return frames


def test_flat_tone_is_drawn_exactly(display, side_view, skin_shader):
    limb, _ = skinned_cylinder()
    limb.reparent_to(side_view)
    for spec in ("I", "III", "VI", "#3f8a5c"):
        tone = skin_tone(spec)
        apply_skin(limb, skin_shader, SkinLook(tone=tone, lighting=False), OPAQUE)
        img = grab_rgba(display.base)
        row, col = pixel(0.0, -0.45)
        expected = np.round(linear_to_srgb(tone) * 255)
        assert np.abs(img[row, col, :3] - expected).max() <= 1, spec
        assert img[row, col, 3] == 255


def test_rotating_a_joint_moves_the_skinned_pixels(display, side_view, skin_shader):
    limb, lower = skinned_cylinder()
    limb.reparent_to(side_view)
    apply_skin(limb, skin_shader, SkinLook(lighting=False), OPAQUE)
    control = side_view.attach_new_node("lower_control")
    control.set_mat(lower.get_default_value())
    assert limb.node().get_bundle(0).control_joint("lower", control.node())
    before = grab_rgba(display.base)

    q = quat_from_axis_angle(np.array([0.0, 1.0, 0.0]), math.radians(90.0))
    control.set_quat(Quat(*to_panda_quat(q)))
    after = grab_rgba(display.base)

    elbow = np.array([0.0, 0.0, -LENGTH / 2])
    tip_dir = quat_rotate(q, np.array([0.0, 0.0, -1.0]))
    swung = elbow + 0.2 * tip_dir            # 20 cm down the rotated forearm
    hanging = elbow + np.array([0.0, 0.0, -0.2])
    assert covered(before, hanging[0], hanging[2]) and not covered(before, swung[0], swung[2])
    assert covered(after, swung[0], swung[2]) and not covered(after, hanging[0], hanging[2])
    assert covered(after, 0.0, -0.1)         # the upper half stays where it was
    assert abs(int((before[..., 3] > 0).sum()) - int((after[..., 3] > 0).sum())) < 0.1 * (
        before[..., 3] > 0).sum()


def test_skinning_runs_on_the_gpu(display, side_view, tmp_path):
    """With a vertex shader that ignores p3d_TransformTable the rotated joint changes
    nothing: Panda3D did not skin the vertices on the CPU, skin.vert does it."""
    static = tmp_path / "static.vert"
    static.write_text(load_source("skin.vert").replace("skin * p3d_Vertex", "p3d_Vertex"))
    shader = load_shader(static, "skin.frag", gsg=display.win.get_gsg())
    limb, lower = skinned_cylinder()
    limb.reparent_to(side_view)
    apply_skin(limb, shader, SkinLook(lighting=False), OPAQUE)
    control = side_view.attach_new_node("lower_control")
    control.set_mat(lower.get_default_value())
    limb.node().get_bundle(0).control_joint("lower", control.node())
    before = grab_rgba(display.base)
    control.set_quat(Quat(*to_panda_quat(quat_from_axis_angle(np.array([0.0, 1.0, 0.0]),
                                                               math.radians(90.0)))))
    assert np.array_equal(grab_rgba(display.base), before)


def measured_alpha(display) -> np.ndarray:
    """Alpha down the cylinder's centre column, from renders over black and over white."""
    black, white = render_over(display.base, [(0, 0, 0), (1, 1, 1)])
    return 1.0 - (white - black).mean(axis=2)[:, SIZE // 2]


@pytest.mark.parametrize("residual, phantom", [(1.0, 0.6), (0.0, 1.0), (1.0, 0.3)])
def test_stump_band_is_translucent_where_the_blend_says(display, side_view, skin_shader,
                                                       residual, phantom):
    limb, _ = skinned_cylinder()
    limb.reparent_to(side_view)
    stump = StumpBlend(distance=0.20, width=0.04, residual_alpha=residual,
                       phantom_alpha=phantom)
    apply_skin(limb, skin_shader, SkinLook(lighting=False), stump)
    alpha = measured_alpha(display)
    distance = -(CENTRE_Z + (SIZE / 2 - np.arange(SIZE) - 0.5) * FILM / SIZE)
    on_limb = (distance > 0.01) & (distance < LENGTH - 0.01)
    residual_part = on_limb & (distance < stump.distance - 0.003)
    band = (distance > stump.distance + 0.008) & (distance < stump.distance + stump.width - 0.008)
    phantom_part = on_limb & (distance > stump.distance + stump.width + 0.003)
    assert band.sum() >= 6
    assert np.abs(alpha[residual_part] - residual).max() < 0.02
    assert np.abs(alpha[phantom_part] - phantom).max() < 0.02
    lo, hi = sorted((residual, phantom))
    assert np.all((alpha[band] > lo + 0.01) & (alpha[band] < hi - 0.01))  # strictly between
    assert np.abs(alpha[on_limb] - stump.alpha(distance[on_limb])).max() < 0.02
    steps = np.diff(alpha[on_limb]) * np.sign(phantom - residual)   # rows: root to tip
    assert np.all(steps > -0.01) and np.all(np.abs(steps) < 0.15)   # monotonic, no edge


def test_default_limb_is_opaque_and_set_stump_changes_it(display, side_view, skin_shader):
    limb, _ = skinned_cylinder()
    limb.reparent_to(side_view)
    apply_skin(limb, skin_shader, SkinLook(lighting=False), StumpBlend(distance=0.2))
    distance = -(CENTRE_Z + (SIZE / 2 - np.arange(SIZE) - 0.5) * FILM / SIZE)
    on_limb = (distance > 0.01) & (distance < LENGTH - 0.01)
    assert np.all(measured_alpha(display)[on_limb] > 0.99)
    set_stump(limb, StumpBlend(distance=0.4, phantom_alpha=0.5))   # after calibration
    alpha = measured_alpha(display)
    assert np.all(alpha[on_limb & (distance < 0.39)] > 0.99)
    assert np.abs(alpha[on_limb & (distance > 0.45)] - 0.5).max() < 0.02


def test_lighting_is_soft_warm_at_the_terminator_and_rimmed(display, side_view, skin_shader):
    limb, _ = skinned_cylinder()
    limb.reparent_to(side_view)
    tone = skin_tone("III")
    plain = SkinLook(tone=tone, scatter_strength=0.0, rim_strength=0.0)

    def shade(look: SkinLook) -> np.ndarray:
        apply_skin(limb, skin_shader, look, OPAQUE)
        return srgb_to_linear(grab_rgba(display.base)[..., :3] / 255.0)

    row = pixel(0.0, -0.15)[0]
    lit_col = pixel(RADIUS * math.cos(math.radians(45)), 0)[1]       # n.l = 1
    dusk_col = pixel(-RADIUS * math.cos(math.radians(45)), 0)[1]     # n.l = 0
    base_img = shade(plain)
    lit, dusk = base_img[row, lit_col], base_img[row, dusk_col]
    assert lit.sum() > dusk.sum()
    ambient_only = np.array(tone) * 0.3
    assert np.all(dusk > ambient_only * 1.3)        # wrapped diffuse still reaches n.l = 0

    warm = shade(SkinLook(tone=tone, rim_strength=0.0))[row, dusk_col]
    assert warm[0] / warm[1] > dusk[0] / dusk[1] * 1.05   # redder where the light turns away

    rimmed = shade(SkinLook(tone=tone, scatter_strength=0.0))
    edge_col = pixel(-RADIUS * 0.97, 0)[1]
    centre_col = pixel(0.0, 0)[1]
    assert rimmed[row, edge_col].sum() > base_img[row, edge_col].sum() * 1.1
    assert np.abs(rimmed[row, centre_col] - base_img[row, centre_col]).max() < 0.01


def test_stump_blend_profile_and_validation():
    assert StumpBlend().alpha(np.linspace(0, 1, 11)).min() == 1.0   # opaque by default
    stump = StumpBlend(distance=0.2, width=0.04, phantom_alpha=0.6)
    d = np.linspace(0.0, 0.5, 501)
    a = stump.alpha(d)
    assert np.all(a[d <= 0.2] == 1.0) and np.allclose(a[d >= 0.24], 0.6)
    assert np.all(np.diff(a) <= 0.0) and np.all(np.abs(np.diff(a)) < 0.05)  # no hard step
    assert stump.alpha(0.22) == pytest.approx(0.8)
    hard = StumpBlend(distance=0.2, width=0.0, phantom_alpha=0.5)
    assert hard.alpha(0.19) == 1.0 and hard.alpha(0.21) == 0.5
    for bad in (dict(width=-0.01), dict(distance=3.0), dict(phantom_alpha=1.5),
                dict(residual_alpha=-0.1)):
        with pytest.raises(SkinError) as err:
            StumpBlend(**bad)
        assert "\n" not in str(err.value)


def test_skin_tone_palette():
    tones = [skin_tone(t) for t in ("I", "II", "III", "IV", "V", "VI")]
    assert all(sum(a) > sum(b) for a, b in zip(tones, tones[1:]))   # light to dark
    assert skin_tone("medium") == skin_tone("iii") == tones[2]
    assert skin_tone("#ffffff") == pytest.approx((1.0, 1.0, 1.0))
    for bad in ("VII", "#12345", "green"):
        with pytest.raises(SkinError, match="skin tone"):
            skin_tone(bad)
    with pytest.raises(SkinError, match="outside 0..1"):
        SkinLook(tone=(1.2, 0.5, 0.5))


def test_software_renderer_gets_the_flat_srgb_tone():
    limb = NodePath("limb")
    apply_skin(limb, None, SkinLook(tone=skin_tone("IV")))
    expected = linear_to_srgb(skin_tone("IV"))
    assert np.allclose(tuple(limb.get_color())[:3], expected, atol=2e-3)
