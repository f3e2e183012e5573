"""A plain, clothed body around the tracked limbs, so the therapist's third-person view
reads as a seated person and no limb ends in an open cut.

- The **torso** (a T-shirt over the chest, shorts over the pelvis), the neck and the head
  with the headset follow the body frame (the torso tracker's pose, shoulders and hips) and
  the head's pose. They are hidden except while the therapist's view is drawn
  (:meth:`BodyProxy.in_view`, which also poses them: no cost in the frame): the patient's
  eye, the headset's eyes and the companion's live view never show a stand-in chest under
  the eyes.
- A short **sleeve** closes each arm's shoulder end in every view, the patient's included
  (looking 45 deg aside at the phantom, the eye is a hand's breadth from that shoulder).
  It hangs on the arm's ``shoulder`` joint, so it turns with the upper arm and hides with
  the arm. A **shorts leg** does the same for each leg's hip end (looking down at the lap,
  the patient would see the thighs' cut tops), on the leg's ``hip`` joint, with a crotch
  piece on its inner side that overlaps the other leg's, so no skin shows between them.

Procedural smooth meshes with vertex colours, drawn by the room's shader (the same light).
Sizes are for a 1.75 m patient; the torso is scaled to the body frame's shoulder spacing
and shoulder-to-hip drop, the sleeves by the arm rig's own scale.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from panda3d.core import (Geom, GeomNode, GeomVertexData, GeomVertexFormat, GeomVertexWriter,
                          NodePath, Quat, Shader)

from vrgmi.render.color import hex_for_framebuffer
from vrgmi.render.mesh import triangles_node, uv_sphere

#: clothing and head colours (sRGB): a sage T-shirt, charcoal shorts, a neutral
#: mannequin head and the headset's dark shell
SHIRT_HEX = "#6f8f7c"
SHORTS_HEX = "#4a5058"
HEAD_HEX = "#cfc6bb"
HEADSET_HEX = "#2f3338"
#: the reference body (1.75 m): shoulder joints this far apart (m)
REF_SHOULDER_SPACING_M = 0.362
#: torso cross-sections, bottom to top: (height as a fraction of the shoulder-to-hip drop,
#: 0 = shoulder joints, -1 = hip joints; half width, half depth, centre forward (m)),
#: and where the shirt ends (the shorts below)
TORSO_SECTIONS = ((-1.24, 0.10, 0.07, -0.07), (-1.17, 0.165, 0.115, -0.05),
                  (-1.00, 0.178, 0.125, -0.04), (-0.80, 0.160, 0.110, -0.04),
                  (-0.60, 0.142, 0.100, -0.035), (-0.35, 0.160, 0.112, -0.025),
                  (-0.14, 0.172, 0.108, -0.025), (0.00, 0.168, 0.090, -0.03),
                  (0.09, 0.120, 0.072, -0.03), (0.15, 0.062, 0.056, -0.02),
                  (0.32, 0.050, 0.050, -0.02), (0.36, 0.0, 0.0, -0.02))
SHIRT_FROM = -0.80
#: the sleeve in the shoulder joint's rest frame (arm hanging along -z; m at 1.75 m):
#: (z, half width across, half depth, centre forward), top pole to the open cuff
SLEEVE_SECTIONS = ((0.078, 0.0, 0.0, 0.008), (0.068, 0.036, 0.042, 0.008),
                   (0.046, 0.058, 0.068, 0.008), (0.014, 0.069, 0.081, 0.008),
                   (-0.030, 0.069, 0.079, 0.006), (-0.080, 0.064, 0.070, 0.002),
                   (-0.115, 0.060, 0.064, 0.0))
#: the shorts leg in the hip joint's rest frame (leg hanging along -z), as the sleeve: loose
#: over the thigh's top (the leg model there: 17 cm across, 20 cm deep with the buttock)
SHORTS_LEG_SECTIONS = ((0.075, 0.0, 0.0, 0.0), (0.065, 0.060, 0.068, 0.0),
                       (0.035, 0.096, 0.108, 0.0), (0.000, 0.108, 0.118, 0.0),
                       (-0.060, 0.110, 0.120, 0.0), (-0.120, 0.104, 0.112, 0.0),
                       (-0.190, 0.097, 0.106, 0.0), (-0.210, 0.095, 0.104, 0.0))
#: the shorts' crotch on a RIGHT leg's hip joint (the left is its mirror image): an
#: ellipsoid from the shorts leg's inner side past the body's midline (the hip joints are
#: ~9 cm either side of it) and down the inner thigh, so the two legs' crotch pieces
#: overlap and no skin shows between the shorts legs where they meet (a light seam in
#: the therapist's view before); centre and half sizes (m), as the shorts leg
SHORTS_CROTCH_CENTRE_M = (-0.065, 0.0, -0.06)
SHORTS_CROTCH_HALF_M = (0.06, 0.095, 0.13)
#: the head and the headset, from the eyes in the head's frame (m): centre, half sizes
HEAD_CENTRE_M = (0.0, -0.075, 0.025)
HEAD_HALF_M = (0.075, 0.098, 0.112)
HEADSET_CENTRE_M = (0.0, 0.035, 0.0)
HEADSET_HALF_M = (0.092, 0.048, 0.052)


def _ring(section: tuple[float, float, float, float], segments: int,
          power: float) -> np.ndarray:
    """A superellipse ring (segments, 3) at height z: x across, y forward."""
    z, hw, hd, yc = section
    a = np.linspace(0.0, 2.0 * math.pi, segments, endpoint=False)
    c, s = np.cos(a), np.sin(a)
    x = hw * np.sign(c) * np.abs(c) ** (2.0 / power)
    y = yc + hd * np.sign(s) * np.abs(s) ** (2.0 / power)
    return np.column_stack([x, y, np.full(segments, z)])


def loft(sections, segments: int = 28, power: float = 2.0,
         close_bottom: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A closed (or open-bottomed) tube through the cross-sections, bottom to top or top
    to bottom: vertices (n, 3), triangles (m, 3) wound outward, and the section of each
    vertex. A section of zero size is a pole."""
    rings = [_ring(s, segments, power) for s in sections]
    verts = np.vstack(rings)
    section = np.repeat(np.arange(len(rings)), segments)
    rising = sections[-1][0] > sections[0][0]
    tris = []
    for k in range(len(rings) - 1):
        a, b = k * segments, (k + 1) * segments
        for j in range(segments):
            j1 = (j + 1) % segments
            quad = ((a + j, a + j1, b + j1), (a + j, b + j1, b + j))
            tris += quad if rising else [(t[0], t[2], t[1]) for t in quad]
    if close_bottom:
        centre = len(verts)
        verts = np.vstack([verts, rings[0].mean(axis=0)])
        section = np.append(section, 0)
        for j in range(segments):
            j1 = (j + 1) % segments
            tris.append((centre, j1, j) if rising else (centre, j, j1))
    return verts, np.array(tris), section


def ellipsoid(centre, half, rings: int = 14, segments: int = 24
              ) -> tuple[np.ndarray, np.ndarray]:
    """An ellipsoid's vertices (n, 3) and outward triangles."""
    verts, tris = uv_sphere(rings, segments)
    return verts * half + centre, tris


def smooth_geom(name: str, verts: np.ndarray, tris: np.ndarray, colours: np.ndarray
                ) -> GeomNode:
    """A GeomNode of the triangles with area-weighted smooth normals and the per-vertex
    ``colours`` (n, 4)."""
    t = verts[tris]
    face = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    normals = np.zeros_like(verts)
    for c in range(3):
        np.add.at(normals, tris[:, c], face)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.where(length > 1e-12, normals / np.maximum(length, 1e-12), (0.0, 0.0, 1.0))
    vdata = GeomVertexData(name, GeomVertexFormat.get_v3n3c4(), Geom.UH_static)
    vdata.unclean_set_num_rows(len(verts))
    pos, nrm, col = (GeomVertexWriter(vdata, n) for n in ("vertex", "normal", "color"))
    for p, n, c in zip(verts, normals, colours):
        pos.set_data3(*p)
        nrm.set_data3(*n)
        col.set_data4(*c)
    return triangles_node(name, vdata, tris)


def _rgba(hex_colour: str, linear: bool) -> tuple[float, float, float, float]:
    r, g, b = hex_for_framebuffer(hex_colour, linear)
    return (r, g, b, 1.0)


class BodyProxy:
    """The torso, neck and head (therapist's view only), the arms' sleeves and the legs'
    shorts legs, drawn with the room's ``shader`` (None: the software renderer's lights and
    sRGB colours)."""

    def __init__(self, parent: NodePath, shader: Shader | None) -> None:
        self.shader = shader
        self.linear = linear = shader is not None
        self.root = parent.attach_new_node("body_proxy")
        self.root.hide()
        if shader is not None:
            self.root.set_shader(shader)
            self.root.set_shader_input("emission", 0.0)
        verts, tris, section = loft(TORSO_SECTIONS, 32, power=2.6)
        shirt, shorts = _rgba(SHIRT_HEX, linear), _rgba(SHORTS_HEX, linear)
        heights = np.array([s[0] for s in TORSO_SECTIONS])[section]
        colours = np.where((heights >= SHIRT_FROM)[:, None], shirt, shorts)
        self.torso = self.root.attach_new_node(smooth_geom("body_torso", verts, tris, colours))
        self.head = self.root.attach_new_node("body_head")
        for name, centre, half, hex_colour in (
                ("body_skull", HEAD_CENTRE_M, HEAD_HALF_M, HEAD_HEX),
                ("body_headset", HEADSET_CENTRE_M, HEADSET_HALF_M, HEADSET_HEX)):
            v, t = ellipsoid(np.array(centre), np.array(half))
            self.head.attach_new_node(smooth_geom(name, v, t, np.tile(
                _rgba(hex_colour, linear), (len(v), 1))))
        self._ends = {"shoulder": self._end_geom("body_sleeve", SLEEVE_SECTIONS, SHIRT_HEX),
                      "hip": self._end_geom("body_shorts_leg", SHORTS_LEG_SECTIONS,
                                            SHORTS_HEX)}
        v, t = ellipsoid(np.array(SHORTS_CROTCH_CENTRE_M), np.array(SHORTS_CROTCH_HALF_M))
        self._ends["hip"].add_geoms_from(smooth_geom(
            "body_shorts_crotch", v, t, np.tile(_rgba(SHORTS_HEX, linear), (len(v), 1))))
        self._quat = Quat()

    def _end_geom(self, name: str, sections, hex_colour: str) -> GeomNode:
        verts, tris, _ = loft(sections, 28, power=2.0, close_bottom=False)
        return smooth_geom(name, verts, tris,
                           np.tile(_rgba(hex_colour, self.linear), (len(verts), 1)))

    @contextmanager
    def in_view(self, torso, head: np.ndarray, head_valid: bool) -> Iterator[None]:
        """Pose (:meth:`pose`) and show the torso and head while the therapist's view is
        drawn inside."""
        self.pose(torso, head, head_valid)
        self.root.show()
        try:
            yield
        finally:
            self.root.hide()

    def dress(self, rig) -> NodePath:
        """Put a sleeve on an arm rig's ``shoulder`` joint, a shorts leg on a leg rig's
        ``hip`` joint; returns its node."""
        character = rig.character
        end = "shoulder" if rig.limb == "arm" else "hip"
        joint = character.node().get_bundle(0).find_child(end)
        holder = rig.model.attach_new_node(f"{end}_cover_holder")
        joint.add_net_transform(holder.node())
        sleeve = holder.attach_new_node(self._ends[end].make_copy())
        if self.shader is not None:
            sleeve.set_shader(self.shader)
            sleeve.set_shader_input("emission", 0.0)
        return sleeve

    def pose(self, torso, head: np.ndarray, head_valid: bool) -> None:
        """Stand the torso in the body frame (``torso``: a TorsoTracker) and the head at
        ``head`` (7,) (held while not valid)."""
        pose = torso.pose
        left, right = torso.shoulder(0), torso.shoulder(1)
        drop = 0.5 * (left[2] + right[2]) - 0.5 * (torso.hip(0)[2] + torso.hip(1)[2])
        across = math.dist(left, right) / REF_SHOULDER_SPACING_M
        t = self.torso
        t.set_pos(float(pose[0]), float(pose[1]), float(pose[2]))
        self._quat.set(pose[6], pose[3], pose[4], pose[5])
        t.set_quat(self._quat)
        t.set_scale(across, across, max(float(drop), 0.1))
        if head_valid:
            self.head.set_pos(float(head[0]), float(head[1]), float(head[2]))
            self._quat.set(head[6], head[3], head[4], head[5])
            self.head.set_quat(self._quat)
            self.head.set_scale(across)
