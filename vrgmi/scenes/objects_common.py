"""What the functional mirror scenes share: simple procedural objects (a cup, a jug, a glass,
a lock with a key, a stain, a cloth, a ball, floor dots) and the scene skeleton of the arm
object tasks (spots on the table from the scene's seeded generator, the phantom palm and
hand rotation fed to the task). The task logic is in :mod:`vrgmi.mirror.objects` and
:mod:`vrgmi.mirror.floor`.

Objects are unlit vertex-shaded meshes in calm, natural colours (like the targets of
:mod:`vrgmi.scenes.mirror_common`), so they read the same on the headset and offscreen.
"""
from __future__ import annotations

import math
from typing import Any, Callable, ClassVar

import numpy as np
from panda3d.core import GeomNode, LQuaternion, NodePath, TransparencyAttrib

from vrgmi.mirror.objects import CUP_HEIGHT_M, CUP_RADIUS_M, HeldObject, rotate, table_spots
from vrgmi.mirror.reach import arm_reach
from vrgmi.render.environment import TABLE_TOP_Z
from vrgmi.render.mesh import uv_sphere
from vrgmi.scenes.base import SceneContext, SceneFrame
from vrgmi.scenes.mirror_common import (COMMON_TRIAL_FIELDS, MirrorTaskScene, box_node,
                                        display_rgba, mesh_node)
from vrgmi.scenes.schema import Param

#: ARM_JOINT_NAMES index of the palm centre (position and hand rotation)
PALM = 3
#: ARM_JOINT_NAMES of the hand: the wrist and every hand joint after it
HAND_JOINTS = slice(2, None)
#: the table's near edge (m, world y; vrgmi/render/environment.py)
TABLE_NEAR_Y = 0.22
#: object colours: a warm ceramic cup, a blue jug, a clear glass, brass key, a coffee stain
CUP_HEX = "#d9825b"
JUG_HEX = "#6f9fc8"
GLASS_HEX = "#cfe3ea"
LIQUID_HEX = "#8a5a3b"
BRASS_HEX = "#c9a347"
LOCK_HEX = "#7b6a58"
STAIN_HEX = "#7a5230"
CLOTH_HEX = "#e8d9a8"
SPOT_HEX = "#5fc2b5"
#: the common fields plus those every object task has
OBJECT_TRIAL_FIELDS: dict[str, str] = {
    **COMMON_TRIAL_FIELDS,
    "spots": "the trial's object spots on the table or floor, engine space (m)",
    "score": "how well the task was done, 0..1 (defined per task, docs/mirror-tasks.md)",
}


#: the soft light the object shades imitate: from above, a little from the front-left
LIGHT = np.array([-0.35, -0.45, 0.82]) / np.linalg.norm([-0.35, -0.45, 0.82])


def _shade(normals: np.ndarray) -> np.ndarray:
    """Grey shades 0.55..1 of unit ``normals`` (n, 3) under :data:`LIGHT`, so an unlit
    object still reads as round."""
    return 0.55 + 0.45 * np.clip(normals @ LIGHT, 0.0, 1.0) ** 0.8


def shaded_mesh(name: str, vertices: np.ndarray, normals: np.ndarray,
                triangles: np.ndarray) -> GeomNode:
    """A static mesh whose vertex colours are the light's shades of ``normals``."""
    return mesh_node(name, vertices, _shade(normals), triangles)


def cylinder_node(name: str, segments: int = 32) -> GeomNode:
    """A unit cylinder (radius 1, z = 0..1) with its own side, top and bottom vertices."""
    verts, norms, tris = [], [], []
    for j in range(segments + 1):
        a = 2.0 * math.pi * j / segments
        c, s = math.cos(a), math.sin(a)
        verts += [(c, s, 0.0), (c, s, 1.0)]
        norms += [(c, s, 0.0), (c, s, 0.0)]
    for j in range(segments):
        b = 2 * j
        tris += [(b, b + 2, b + 3), (b, b + 3, b + 1)]
    for z, nz in ((1.0, 1.0), (0.0, -1.0)):
        centre = len(verts)
        verts.append((0.0, 0.0, z))
        norms.append((0.0, 0.0, nz))
        for j in range(segments):
            a = 2.0 * math.pi * j / segments
            verts.append((math.cos(a), math.sin(a), z))
            norms.append((0.0, 0.0, nz))
        for j in range(segments):
            p, q = centre + 1 + j, centre + 1 + (j + 1) % segments
            tris.append((centre, p, q) if nz > 0 else (centre, q, p))
    return shaded_mesh(name, np.array(verts), np.array(norms), np.array(tris))


def disc_top_node(name: str, segments: int = 32) -> GeomNode:
    """A flat unit disc on z = 0 facing up (no sides: a mark lying on a surface)."""
    verts = [(0.0, 0.0, 0.0)] + [(math.cos(2.0 * math.pi * j / segments),
                                  math.sin(2.0 * math.pi * j / segments), 0.0)
                                 for j in range(segments)]
    tris = [(0, 1 + j, 1 + (j + 1) % segments) for j in range(segments)]
    normals = np.tile([0.0, 0.0, 1.0], (len(verts), 1))
    return shaded_mesh(name, np.array(verts), normals, np.array(tris))


def sphere_mesh(name: str, rings: int = 14, segments: int = 24) -> GeomNode:
    """A unit UV sphere shaded by the light."""
    verts, tris = uv_sphere(rings, segments)
    return shaded_mesh(name, verts, verts, tris)


def unlit(node: NodePath, base: Any, colour: str, alpha: float = 1.0) -> NodePath:
    """Make ``node`` an unlit object of ``colour`` (``#rrggbb``) tinting its vertex shades."""
    node.set_light_off(1)
    node.set_shader_off(1)
    node.set_color_scale(display_rgba(base, colour, alpha))
    if alpha < 1.0:
        node.set_transparency(TransparencyAttrib.M_alpha)
        node.set_depth_write(False)
        node.set_bin("transparent", 10)
    return node


def cylinder(parent: NodePath, base: Any, name: str, radius: float, height: float,
             colour: str, alpha: float = 1.0) -> NodePath:
    """An upright cylinder (z = 0..height) under ``parent``."""
    node = parent.attach_new_node(cylinder_node(name))
    node.set_scale(radius, radius, height)
    return unlit(node, base, colour, alpha)


def box(parent: NodePath, base: Any, name: str, size: tuple[float, float, float],
        colour: str, alpha: float = 1.0) -> NodePath:
    """A box of ``size`` (x, y, z; z = 0..height) under ``parent``."""
    node = parent.attach_new_node(box_node(name))
    node.set_scale(0.5 * size[0], 0.5 * size[1], size[2])
    return unlit(node, base, colour, alpha)


def ball(parent: NodePath, base: Any, name: str, radius: float, colour: str) -> NodePath:
    """A sphere of ``radius`` centred on its node."""
    node = parent.attach_new_node(sphere_mesh(name))
    node.set_scale(radius)
    return unlit(node, base, colour)


def flat_disc(parent: NodePath, base: Any, name: str, radius: float, colour: str,
              alpha: float = 1.0, lift: float = 0.002) -> NodePath:
    """A flat disc lying on z = 0 (``lift`` m up, to sit on a surface)."""
    node = parent.attach_new_node(disc_top_node(name, 40))
    node.set_scale(radius, radius, 1.0)
    node.set_z(lift)
    return unlit(node, base, colour, alpha)


def cup(parent: NodePath, base: Any, name: str, colour: str, liquid: bool = True) -> NodePath:
    """A cup (or jug) with a handle, its base centre at the node, height CUP_HEIGHT_M."""
    root = parent.attach_new_node(name)
    cylinder(root, base, f"{name}-body", CUP_RADIUS_M, CUP_HEIGHT_M, colour)
    if liquid:
        top = cylinder(root, base, f"{name}-liquid", 0.85 * CUP_RADIUS_M, 0.004, LIQUID_HEX)
        top.set_z(CUP_HEIGHT_M - 0.012)
    handle = box(root, base, f"{name}-handle", (0.012, 0.035, 0.055), colour)
    handle.set_pos(0.0, -CUP_RADIUS_M - 0.012, 0.025)
    return root


class ObjectTaskScene(MirrorTaskScene):
    """An arm task with objects on the table: spots from :func:`table_spots` (the scene's
    ``distance`` and each task's spot count), the phantom palm and hand rotation fed to the
    task's ``update(t, palm, hand)``. Subclasses set ``spot_count``, ``hold_height_m``
    (where the hand holds the object above its spot) and build and draw their objects."""

    limbs = ("arm",)
    spot_count: ClassVar[int] = 2
    hold_height_m: ClassVar[float] = 0.5 * CUP_HEIGHT_M
    #: (radius, height) of the object a spot holds, kept clear of the hand (m): a cup
    footprint_m: ClassVar[tuple[float, float]] = (CUP_RADIUS_M + 0.02, CUP_HEIGHT_M + 0.02)
    trial_fields: ClassVar[dict[str, str]] = OBJECT_TRIAL_FIELDS

    def spot_maker(self, ctx: SceneContext) -> Callable[[int], np.ndarray]:
        """``make_spots`` for the task: fresh seeded spots at each trial's start."""
        core = ctx.core
        side, L = core.amputated, core.lengths
        reach = arm_reach(L.upper_arm, L.forearm, L.hand)

        def spots(_index: int) -> np.ndarray:
            return table_spots(self.rng, core.torso.shoulder(side).copy(), core.torso.pose,
                               side, reach, self.difficulty["distance"], self.spot_count,
                               0.16, TABLE_TOP_Z, TABLE_NEAR_Y, self.hold_height_m,
                               self.edge_margin_m(), avoid=core.phantom.positions[HAND_JOINTS],
                               footprint=self.footprint_m)
        return spots

    def edge_margin_m(self) -> float:
        """How far (m) behind the table's near edge a spot must be: the object fits on."""
        return CUP_RADIUS_M + 0.02

    def step_task(self, frame: SceneFrame) -> dict[str, Any] | None:
        palm = self.effector(frame, PALM)
        return self.task.update(frame.t, palm, frame.phantom.rotations[PALM],
                                frame.phantom.positions[HAND_JOINTS])


def distance_param(default: float = 0.92) -> Param:
    """The ``distance`` every arm object task has (the table's near edge is about 0.8 of
    a seated arm's reach from the shoulder)."""
    return Param("distance", "float", default, "farthest object, as a fraction of the arm's "
                 "reach", 0.8, 0.98)


def grasp_param(thing: str) -> Param:
    """The ``grasp_radius_m`` of a task whose object the mirrored hand takes."""
    return Param("grasp_radius_m", "float", 0.07, f"how near the palm must come to take the "
                 f"{thing}", 0.03, 0.15, unit="m")


#: a cup's or jug's centre to its base centre, upright (its node stands on its base)
_CUP_DOWN = np.array([0.0, 0.0, -0.5 * CUP_HEIGHT_M])


def place_cup(node: NodePath, item: HeldObject, base: np.ndarray) -> None:
    """Stand a :func:`cup` node where the task's ``item`` is, turned with it: its base
    half the cup's height below the centre (``base`` (3,), a preallocated buffer)."""
    np.add(item.centre, rotate(item.rotation, _CUP_DOWN, base), out=base)
    place(node, base)
    orient(node, item.rotation)


def place(node: NodePath, position: np.ndarray) -> None:
    """Put ``node`` at ``position`` (3,)."""
    node.set_pos(float(position[0]), float(position[1]), float(position[2]))


def orient(node: NodePath, rotation: tuple[float, float, float, float]) -> None:
    """Turn ``node`` by the scalar-last quaternion ``rotation``."""
    x, y, z, w = rotation
    node.set_quat(LQuaternion(w, x, y, z))
