"""LimbRig: drives a rigged glTF limb (models/limbs/, docs/limb-rigs.md) from IK output.

The solver gives world-space delta rotations from the rest pose per joint; the glTF bind
pose is that rest pose with identity joint rotations, so each joint's local rotation is
``inverse(parent_delta) * delta``. A left limb is the right model under a mirror node
(scale x = -1): its deltas are conjugated by the mirror, ``(x, y, z, w) -> (x, -y, -z, w)``.
The forearm twist joint takes half of the twist between the elbow and the wrist, so
pronation spreads along the forearm skin instead of wringing the wrist. A rig's shape
(the patient's ``[limb_shape]``: morph weights and hand / foot size) is set by
:meth:`LimbRig.set_shape`, the one place it is applied, to intact and phantom limbs alike.
"""
from __future__ import annotations

from pathlib import Path

import gltf
import numpy as np
from numba import njit
from panda3d.core import CullFaceAttrib, LMatrix4f, NodePath, OmniBoundingVolume, Quat

from vrgmi.assets.glb_check import GlbError, check_glb
from vrgmi.body.limb_shape import MORPH_NAMES, SIZE_JOINT, morph_weights, part_scale
from vrgmi.body.skeleton import ARM_JOINT_NAMES, LEG_JOINT_NAMES
from vrgmi.errors import VrgmiError
from vrgmi.render.morphs import MeshMorphs, MorphError
from vrgmi.render.resources import model_file
from vrgmi.render.skin import SkinLook, StumpBlend, apply_skin
from vrgmi.settings import LimbShapeSettings
from vrgmi.spatial import qmul_t

#: the height (m) the shipped models are built for (docs/limb-rigs.md)
MODEL_HEIGHT = 1.75
TWIST = "forearm_twist"


class RigError(VrgmiError, ValueError):
    """A limb model does not have the joints the engine drives."""


_LOADED: dict[str, tuple[NodePath, MeshMorphs]] = {}


def _load_limb(path) -> tuple[NodePath, MeshMorphs]:
    """The limb model at ``path`` and its morph targets (taken out of the mesh), parsed once
    per process (about 0.3 s each); every rig takes a deep copy, with joints of its own. The file is checked first
    (:func:`vrgmi.assets.glb_check.check_glb`): Panda3D's loader crashes on a truncated one.
    A damaged model is a one-line :class:`RigError` (the engine does not start without it)."""
    key = str(path)
    if key not in _LOADED:
        try:
            check_glb(path)
            model = NodePath(gltf.load_model(key))
            morphs = MeshMorphs.take(model, MORPH_NAMES)
        except (GlbError, MorphError) as exc:
            raise RigError(f"limb model damaged: {exc}; reinstall vrgmi") from None
        except Exception as exc:        # the loader's own errors, whatever their type
            raise RigError(f"limb model {Path(key).name} cannot be loaded "
                           f"({type(exc).__name__}); reinstall vrgmi") from None
        _LOADED[key] = (model, morphs)
    return _LOADED[key]


@njit(cache=True)
def _local_rotations(solver_rot, source, parent, twist, mirror, world, out):
    """Gather world deltas (twist joint: elbow delta * half the elbow->wrist twist about the
    rest forearm axis), mirror them for a left limb, and turn them into local rotations."""
    n = len(source)
    for j in range(n):
        if j == twist:
            continue
        world[j, :] = solver_rot[source[j]]
    if twist >= 0:
        e = world[parent[twist]]
        w = world[twist + 1]                   # the wrist follows the twist joint
        _, _, rz, rw = qmul_t(-e[0], -e[1], -e[2], e[3], w[0], w[1], w[2], w[3])  # e^-1 * w
        # twist about the rest forearm axis (0, 0, -1): keep the z part, halve the angle
        tn = np.sqrt(rz * rz + rw * rw)
        hz, hw = 0.0, 1.0
        if tn > 1e-12:
            tz, tw = rz / tn, rw / tn
            if tw < 0.0:
                tz, tw = -tz, -tw
            hn = np.sqrt(tz * tz + (1.0 + tw) * (1.0 + tw))
            hz, hw = tz / hn, (1.0 + tw) / hn
        world[twist, 0], world[twist, 1], world[twist, 2], world[twist, 3] = qmul_t(
            e[0], e[1], e[2], e[3], 0.0, 0.0, hz, hw)
    if mirror:
        for j in range(n):
            world[j, 1] = -world[j, 1]
            world[j, 2] = -world[j, 2]
    for j in range(n):
        q = world[j]
        if parent[j] < 0:
            out[j, :] = q
            continue
        p = world[parent[j]]
        out[j, 0], out[j, 1], out[j, 2], out[j, 3] = qmul_t(-p[0], -p[1], -p[2], p[3],
                                                            q[0], q[1], q[2], q[3])


def _joints_of(bundle) -> dict[str, object]:
    found = {}
    stack = [bundle]
    while stack:
        part = stack.pop()
        for i in range(part.get_num_children()):
            child = part.get_child(i)
            found[child.get_name()] = (child, part.get_name())
            stack.append(child)
    return found


class LimbRig:
    """A skinned arm or leg in the scene, posed every frame from a solver's output."""

    def __init__(self, parent: NodePath, limb: str, side: int, height_m: float,
                 shader, look: SkinLook, stump: StumpBlend | None = None,
                 stump_root: tuple[float, float, float] = (0.0, 0.0, 0.0),
                 stump_axis: tuple[float, float, float] = (0.0, 0.0, -1.0),
                 shape: LimbShapeSettings | None = None) -> None:
        if limb not in ("arm", "leg"):
            raise RigError(f"limb {limb!r} is not 'arm' or 'leg'")
        names = ARM_JOINT_NAMES if limb == "arm" else LEG_JOINT_NAMES
        self.side = side
        #: world placement: at the solver's root joint, no rotation (deltas are world space)
        self.root = parent.attach_new_node(f"{limb}_{'left' if side == 0 else 'right'}")
        scale = height_m / MODEL_HEIGHT
        self.root.set_scale(-scale if side == 0 else scale, scale, scale)
        if side == 0:       # the mirror turns the triangles' winding around: cull the other way
            self.root.set_attrib(CullFaceAttrib.make_reverse())
        path = model_file(f"limbs/{limb}_right.glb")
        loaded, self._morphs = _load_limb(path)
        self.limb = limb
        self.model = loaded.copy_to(self.root)
        # the skinned mesh moves far from its bind-pose bounds: never frustum-cull it
        self.model.node().set_bounds(OmniBoundingVolume())
        self.model.node().set_final(True)
        character = self.model.find("**/+Character")
        if character.is_empty():
            raise RigError(f"{path.name} has no skinned character")
        self.character = character
        bundle = character.node().get_bundle(0)
        joints = _joints_of(bundle)
        order = [n for n in joints if n in names or n == TWIST]
        missing = [n for n in names if n not in joints]
        if missing or (limb == "arm" and TWIST not in joints):
            raise RigError(f"{path.name} lacks joints {', '.join(missing or [TWIST])} "
                           "(naming: docs/limb-rigs.md)")
        # parents before children, as the bundle lists them
        order.sort(key=lambda n: _depth(joints, n))
        index = {n: i for i, n in enumerate(order)}
        self.joint_names = tuple(order)
        self._source = np.array([names.index("elbow" if n == TWIST else n) for n in order])
        self._parent = np.array([index.get(joints[n][1], -1) for n in order])
        self._twist = index.get(TWIST, -1)
        if self._twist >= 0 and order[self._twist + 1] != "wrist":
            # keep the wrist right after the twist joint (the kernel relies on it)
            raise RigError("the forearm_twist joint must be the wrist's parent")
        self._world = np.zeros((len(order), 4))
        self._local = np.zeros((len(order), 4))
        self._controls = []
        for name in order:
            part = joints[name][0]
            control = self.root.attach_new_node(f"ctl_{name}")
            control.set_mat(part.get_default_value())
            if not bundle.control_joint(name, control.node()):
                raise RigError(f"{path.name}: joint {name} cannot be driven")
            self._controls.append(control)
        self._quat = Quat()
        #: False hides the limb whatever its visibility (a study's imagery condition)
        self.shown = True
        #: the forearm / shank drawn this fraction of its length (a telescoped phantom)
        self.segment_scale = 1.0
        mid, end = ("elbow", "wrist") if limb == "arm" else ("knee", "ankle")
        self._mid, self._end = self._controls[index[mid]], self._controls[index[end]]
        self._end_pos = self._end.get_pos()
        self._end_mat = LMatrix4f()
        self._unscale = LMatrix4f()
        self._size_control = self._controls[order.index(SIZE_JOINT[limb])]
        self.set_shape(shape or LimbShapeSettings())
        apply_skin(character, shader, look, stump or StumpBlend(distance=2.0),
                   stump_root, stump_axis)

    def set_shape(self, shape: LimbShapeSettings) -> None:
        """Give the limb the patient's shape: the morph targets' weights baked into its
        vertices and the hand (wrist) or foot (ankle) skeleton scaled to its size. The
        engine calls this with the same settings for every limb it shows."""
        self._morphs.bake(self.model, morph_weights(shape))
        self._size_control.set_scale(part_scale(self.limb, shape))
        self.shape = shape

    def apply(self, positions: np.ndarray, rotations: np.ndarray, visibility: float) -> None:
        """Pose the limb: ``positions`` (J, 3) and ``rotations`` (J, 4) from a solver."""
        if visibility <= 0.0 or not self.shown:
            self.root.hide()
            return
        self.root.show()
        self.root.set_pos(float(positions[0, 0]), float(positions[0, 1]),
                          float(positions[0, 2]))
        _local_rotations(rotations, self._source, self._parent, self._twist,
                         self.side == 0, self._world, self._local)
        q = self._quat
        for control, local in zip(self._controls, self._local):
            q.set(local[3], local[0], local[1], local[2])
            control.set_quat(q)
        if self.segment_scale != 1.0 or self._mid.get_sz() != 1.0:
            self._telescope()

    def _telescope(self) -> None:
        """Draw the forearm / shank ``segment_scale`` of its length: the elbow / knee scales
        its bone (the rest bone is the joint's local -z), and the wrist / ankle undoes that
        scale before its own rotation (and its size scale), so the hand / foot keeps its
        size and shape; the forearm twist turns about the bone and commutes with the scale."""
        s = self.segment_scale
        k = part_scale(self.limb, self.shape) if self._end is self._size_control else 1.0
        self._mid.set_scale(1.0, 1.0, s)
        m = self._end_mat
        self._end.get_quat().extract_to_matrix(m)
        self._unscale.set_scale_mat((k, k, k / s))
        m *= self._unscale
        m.set_row(3, self._end_pos)
        self._end.set_mat(m)

    def remove(self) -> None:
        """Take the limb out of the scene."""
        self.root.remove_node()


def _depth(joints: dict, name: str) -> int:
    depth, parent = 0, joints[name][1]
    while parent in joints:
        depth += 1
        parent = joints[parent][1]
    return depth
