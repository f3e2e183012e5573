"""The shipped glTF limbs (loaded by panda3d-gltf) drawn by the skin shader: a rotated joint
moves the skin on the GPU, and the stump blend lands on the limb where StumpBlend says."""
from __future__ import annotations

import math

import gltf
import numpy as np
import pytest
from panda3d.core import Mat4, NodePath, OrthographicLens, Quat

from vrgmi.render.color import srgb_to_linear
from vrgmi.render.display import grab_rgba
from vrgmi.render.resources import model_file
from vrgmi.render.shaders import SKIN, load_shader
from vrgmi.render.skin import SkinLook, StumpBlend, apply_skin
from vrgmi.spatial import quat_from_axis_angle, quat_rotate, to_panda_quat

FILM, SIZE, CENTRE_Z = 1.2, 256, -0.45
#: model and the joint the tests bend
LIMBS = [("limbs/arm_right.glb", "elbow"), ("limbs/leg_right.glb", "knee")]


@pytest.fixture(scope="module")
def skin_shader(display):
    return load_shader(*SKIN, gsg=display.win.get_gsg())


@pytest.fixture
def front_view(display, scene):
    """Orthographic camera on -Y looking +Y: x right and z up in the image, 1.2 m across."""
    lens = OrthographicLens()
    lens.set_film_size(FILM, FILM)
    lens.set_near_far(0.1, 10.0)
    display.base.cam.node().set_lens(lens)
    display.base.cam.set_pos(0, -3, CENTRE_Z)
    display.base.cam.look_at(0, 0, CENTRE_Z)
    return scene


def load_limb(parent: NodePath, name: str) -> NodePath:
    root = NodePath(gltf.load_model(str(model_file(name))))
    root.reparent_to(parent)
    return root.find("**/+Character")


def find_joint(part, name: str):
    for i in range(part.get_num_children()):
        child = part.get_child(i)
        if child.get_name() == name:
            return child
        found = find_joint(child, name)
        if found is not None:
            return found
    return None


def covered(img: np.ndarray, x: float, z: float) -> bool:
    row = int(SIZE / 2 - (z - CENTRE_Z) * SIZE / FILM)
    col = int(SIZE / 2 + x * SIZE / FILM)
    return bool(img[row - 1:row + 2, col - 1:col + 2, 3].min() > 0)


@pytest.mark.parametrize("model, joint", LIMBS)
def test_bending_a_joint_moves_the_limb(display, front_view, skin_shader, model, joint):
    character = load_limb(front_view, model)
    apply_skin(character, skin_shader, SkinLook(lighting=False), StumpBlend())
    bundle = character.node().get_bundle(0)
    bone = find_joint(bundle, joint)
    net = Mat4()
    bone.get_net_transform(net)
    rest = net.get_row3(3)                                 # the joint in model space
    control = front_view.attach_new_node(f"{joint}_control")
    control.set_mat(bone.get_default_value())
    assert bundle.control_joint(joint, control.node())
    before = grab_rgba(display.base)

    q = quat_from_axis_angle(np.array([0.0, 1.0, 0.0]), math.radians(90.0))
    control.set_quat(Quat(*to_panda_quat(q)))
    after = grab_rgba(display.base)

    pivot = np.array([rest[0], rest[1], rest[2]])
    hanging = pivot + np.array([0.0, 0.0, -0.2])           # 20 cm down the lower segment
    swung = pivot + 0.2 * quat_rotate(q, np.array([0.0, 0.0, -1.0]))
    assert covered(before, hanging[0], hanging[2]) and not covered(before, swung[0], swung[2])
    assert covered(after, swung[0], swung[2]) and not covered(after, hanging[0], hanging[2])
    assert covered(after, 0.0, pivot[2] / 2)               # the upper segment stays


@pytest.mark.parametrize("model, joint", LIMBS)
def test_stump_blend_on_the_limb(display, front_view, skin_shader, model, joint):
    character = load_limb(front_view, model)
    stump = StumpBlend(distance=0.25, width=0.04, phantom_alpha=0.5)
    apply_skin(character, skin_shader, SkinLook(lighting=False), stump)
    frames = []
    for bg in ((0.0, 0.0, 0.0, 0.0), (1.0, 1.0, 1.0, 0.0)):
        display.base.win.set_clear_color(bg)
        frames.append(srgb_to_linear(grab_rgba(display.base)[..., :3] / 255.0))
    alpha = 1.0 - (frames[1] - frames[0]).mean(axis=2)
    col = SIZE // 2
    for d, expected in ((0.15, 1.0), (0.27, float(stump.alpha(0.27))), (0.35, 0.5)):
        row = int(SIZE / 2 - (-d - CENTRE_Z) * SIZE / FILM)
        assert alpha[row, col] == pytest.approx(expected, abs=0.03), d
    assert 0.5 < float(stump.alpha(0.27)) < 1.0
