"""A calm, softly lit clinic room around a seated patient at the origin facing +Y (engine
axes, Z up, metres): a table for upper-limb work, a floor mat for lower-limb work, a chair,
a daylight window. Procedural vertex-coloured boxes, no textures."""
from __future__ import annotations

from dataclasses import dataclass

from panda3d.core import (AmbientLight, DirectionalLight, Geom, GeomNode, GeomTriangles,
                          GeomVertexData, GeomVertexFormat, GeomVertexWriter, NodePath, Shader,
                          TransparencyAttrib, Vec3, Vec4)

from vrgmi.errors import VrgmiError
from vrgmi.render.body_proxy import BodyProxy
from vrgmi.render.color import hex_for_framebuffer
from vrgmi.render.shaders import Lighting, set_lighting

#: room extent: x (left..right), y (behind..in front of the patient), height
ROOM_X = (-2.6, 2.6)
ROOM_Y = (-2.0, 4.2)
ROOM_HEIGHT = 2.8
TABLE_TOP_Z = 0.72
#: the table top's extent (m): x left..right, y near edge..far edge
TABLE_TOP_X = (-0.6, 0.6)
TABLE_TOP_Y = (0.22, 0.92)
SEAT_Z = 0.46

#: the palette, sRGB as a designer would pick it: warm off-white walls, a sage accent wall
#: facing the patient, pale oak floor, birch table, blue-grey mat and chair
PALETTE = {
    "wall": "#ebe5dc", "accent": "#b7c6b1", "ceiling": "#f3f2ef", "floor": "#d3c6b3",
    "skirting": "#b5a893", "window_sky": "#dde9f1", "window_frame": "#f4f3f0",
    "curtain": "#d8cfc0", "ceiling_light": "#fffaf0", "table_top": "#e0dcd3",
    "table_edge": "#c4ab83", "metal": "#a3a4a3", "mat": "#8ea2af", "chair_seat": "#607686",
    "chair_frame": "#41484d", "cabinet": "#e2dbcf", "cabinet_top": "#cbb794",
    "door": "#cdb99a", "door_frame": "#b9ad9c",
    "picture_sky": "#c9d9e0", "picture_hill": "#9fb39a", "picture_far": "#b8c6b5",
    "picture_frame": "#8c7b66", "pot": "#c8b8a6", "leaves": "#6a8a60", "leaves_light": "#86a579",
}


class RoomError(VrgmiError, ValueError):
    """A room request is wrong."""


#: (dx, dy, z, half size, colour) of the plant's leaf clusters around its stem
_FOLIAGE = ((0.00, 0.00, 0.55, 0.16, "leaves"), (0.14, -0.08, 0.72, 0.13, "leaves_light"),
            (-0.13, 0.06, 0.80, 0.14, "leaves"), (0.04, 0.12, 0.98, 0.13, "leaves_light"),
            (-0.06, -0.12, 1.05, 0.12, "leaves"), (0.10, 0.02, 1.22, 0.11, "leaves"),
            (-0.04, 0.03, 1.38, 0.09, "leaves_light"))


class _Mesh:
    """Accumulates flat-shaded, vertex-coloured quads and boxes into one Geom."""

    def __init__(self, name: str, linear: bool) -> None:
        self.vdata = GeomVertexData(name, GeomVertexFormat.get_v3n3c4(), Geom.UH_static)
        self.pos = GeomVertexWriter(self.vdata, "vertex")
        self.nrm = GeomVertexWriter(self.vdata, "normal")
        self.col = GeomVertexWriter(self.vdata, "color")
        self.tris = GeomTriangles(Geom.UH_static)
        self.name = name
        self.linear = linear

    def rgba(self, name: str, shade: float = 1.0) -> Vec4:
        r, g, b = hex_for_framebuffer(PALETTE[name], self.linear)
        return Vec4(r * shade, g * shade, b * shade, 1.0)

    def quad(self, corners: list[Vec3], normal: Vec3, colors: list[Vec4]) -> None:
        """Counter-clockwise ``corners`` seen from the side ``normal`` points to."""
        start = self.vdata.get_num_rows()
        for corner, color in zip(corners, colors):
            self.pos.add_data3(corner)
            self.nrm.add_data3(normal)
            self.col.add_data4(color)
        self.tris.add_vertices(start, start + 1, start + 2)
        self.tris.add_vertices(start, start + 2, start + 3)

    def box(self, lo: tuple[float, float, float], hi: tuple[float, float, float], color: str,
            top: str | None = None, bottom_shade: float = 1.0) -> None:
        """Axis-aligned box from ``lo`` to ``hi``; its sides darken toward the bottom by
        ``bottom_shade`` (a cheap ambient-occlusion cue)."""
        (x0, y0, z0), (x1, y1, z1) = lo, hi
        side_top, side_bottom = self.rgba(color), self.rgba(color, bottom_shade)
        cap = self.rgba(top or color)
        sides = [
            ((x0, y0), (x1, y0), Vec3(0, -1, 0)), ((x1, y0), (x1, y1), Vec3(1, 0, 0)),
            ((x1, y1), (x0, y1), Vec3(0, 1, 0)), ((x0, y1), (x0, y0), Vec3(-1, 0, 0)),
        ]
        for (ax, ay), (bx, by), normal in sides:
            self.quad([Vec3(ax, ay, z0), Vec3(bx, by, z0), Vec3(bx, by, z1), Vec3(ax, ay, z1)],
                      normal, [side_bottom, side_bottom, side_top, side_top])
        self.quad([Vec3(x0, y0, z1), Vec3(x1, y0, z1), Vec3(x1, y1, z1), Vec3(x0, y1, z1)],
                  Vec3(0, 0, 1), [cap] * 4)
        self.quad([Vec3(x0, y1, z0), Vec3(x1, y1, z0), Vec3(x1, y0, z0), Vec3(x0, y0, z0)],
                  Vec3(0, 0, -1), [side_bottom] * 4)

    def shadow(self, lo: tuple[float, float], hi: tuple[float, float], z: float,
               strength: float, soft: float) -> None:
        """A soft contact shadow on the floor under the rectangle ``lo``..``hi``: black with
        ``strength`` alpha inside, fading to nothing ``soft`` metres outside."""
        ramp = [-1.0, -2 / 3, -1 / 3, 0.0]
        xs = [lo[0] + soft * r for r in ramp] + [hi[0] - soft * r for r in reversed(ramp)]
        ys = [lo[1] + soft * r for r in ramp] + [hi[1] - soft * r for r in reversed(ramp)]

        def fade(v: float, a: float, b: float) -> float:
            t = max(a - v, v - b, 0.0) / soft
            return 1.0 - t * t * (3.0 - 2.0 * t)

        rows = []
        for y in ys:
            rows.append(self.vdata.get_num_rows())
            for x in xs:
                self.pos.add_data3(x, y, z)
                self.nrm.add_data3(0, 0, 1)
                self.col.add_data4(0, 0, 0, strength * fade(x, lo[0], hi[0]) *
                                   fade(y, lo[1], hi[1]))
        for j in range(len(ys) - 1):
            for i in range(len(xs) - 1):
                a, b = rows[j] + i, rows[j + 1] + i
                self.tris.add_vertices(a, a + 1, b + 1)
                self.tris.add_vertices(a, b + 1, b)

    def node(self) -> NodePath:
        geom = Geom(self.vdata)
        geom.add_primitive(self.tris)
        node = GeomNode(self.name)
        node.add_geom(geom)
        return NodePath(node)


@dataclass
class ClinicRoom:
    """The room's nodes; scenes show or hide the parts they need."""

    root: NodePath
    table: NodePath
    mat: NodePath
    chair: NodePath
    lighting: Lighting
    #: the patient's clothed torso and head (therapist's view) and arm sleeves
    body: BodyProxy

    def set_focus(self, limb: str) -> None:
        """``"upper"``: the table is there for the arms; ``"lower"``: the table goes, so the
        legs and the floor mat are in clear view."""
        if limb == "upper":
            self.table.show()
        elif limb == "lower":
            self.table.hide()
        else:
            raise RoomError(f"room focus {limb!r} is not 'upper' or 'lower'")


def build_clinic_room(parent: NodePath, shader: Shader | None,
                      lighting: Lighting = Lighting()) -> ClinicRoom:
    """Build the room under ``parent`` and light ``parent`` (the shader inputs, and Panda3D
    lights for the software renderer). ``shader`` is the room program (shaders.ROOM);
    None means the software renderer: sRGB vertex colours, fixed-function lights."""
    linear = shader is not None
    root = parent.attach_new_node("clinic_room")
    glow, table, mat, chair = (_window(linear, emissive=True), _table(linear), _mat(linear),
                               _chair(linear))
    for part in (_shell(linear), _furnishings(linear), _window(linear, emissive=False), glow,
                 table, mat, chair):
        part.reparent_to(root)
    if shader is not None:
        root.set_shader(shader)
        root.set_shader_input("emission", 0.0)
        glow.set_shader_input("emission", 1.0)
    else:
        glow.set_light_off()
    body = BodyProxy(parent, shader)
    set_lighting(parent, lighting)
    _panda_lights(parent, lighting)
    return ClinicRoom(root, table, mat, chair, lighting, body)


def _panda_lights(parent: NodePath, lighting: Lighting) -> None:
    ambient = AmbientLight("room_ambient")
    sky, ground = Vec3(*lighting.sky), Vec3(*lighting.ground)
    ambient.set_color(Vec4((sky + ground) * 0.5, 1.0))
    key = DirectionalLight("room_key")
    key.set_color(Vec4(Vec3(*lighting.key_color), 1.0))
    key.set_direction(-Vec3(*lighting.key_direction))
    for light in (ambient, key):
        parent.set_light(parent.attach_new_node(light))


def _shell(linear: bool) -> NodePath:
    """Floor, walls (the one the patient faces in the accent colour), ceiling, skirting."""
    m = _Mesh("room_shell", linear)
    (x0, x1), (y0, y1), h = ROOM_X, ROOM_Y, ROOM_HEIGHT
    floor = m.rgba("floor")
    m.quad([Vec3(x0, y0, 0), Vec3(x1, y0, 0), Vec3(x1, y1, 0), Vec3(x0, y1, 0)],
           Vec3(0, 0, 1), [floor] * 4)
    ceiling = m.rgba("ceiling")
    m.quad([Vec3(x0, y1, h), Vec3(x1, y1, h), Vec3(x1, y0, h), Vec3(x0, y0, h)],
           Vec3(0, 0, -1), [ceiling] * 4)
    walls = [  # (corner a, corner b) seen from inside, inward normal, colour
        ((x0, y1), (x1, y1), Vec3(0, -1, 0), "accent"),
        ((x1, y1), (x1, y0), Vec3(-1, 0, 0), "wall"),
        ((x1, y0), (x0, y0), Vec3(0, 1, 0), "wall"),
        ((x0, y0), (x0, y1), Vec3(1, 0, 0), "wall"),
    ]
    for (ax, ay), (bx, by), normal, color in walls:
        low, high = m.rgba(color, 0.86), m.rgba(color)
        m.quad([Vec3(ax, ay, 0), Vec3(bx, by, 0), Vec3(bx, by, h), Vec3(ax, ay, h)],
               normal, [low, low, high, high])
    skirting = 0.02
    m.box((x0, y1 - skirting, 0), (x1, y1, 0.09), "skirting")
    m.box((x1 - skirting, y0, 0), (x1, y1, 0.09), "skirting")
    m.box((x0, y0, 0), (x1, y0 + skirting, 0.09), "skirting")
    m.box((x0, y0, 0), (x0 + skirting, y1, 0.09), "skirting")
    return m.node()


def _window(linear: bool, emissive: bool) -> NodePath:
    """The daylight window in the left wall: the self-lit sky panel, or its frame and
    curtains."""
    m = _Mesh("window_glow" if emissive else "window", linear)
    x = ROOM_X[0] + 0.005
    y_lo, y_hi, z_lo, z_hi = -0.2, 2.6, 0.85, 2.35
    if emissive:
        sky = m.rgba("window_sky")
        m.quad([Vec3(x, y_lo, z_lo), Vec3(x, y_hi, z_lo), Vec3(x, y_hi, z_hi),
                Vec3(x, y_lo, z_hi)], Vec3(1, 0, 0), [sky] * 4)
        return m.node()
    frame, depth = 0.06, 0.05
    m.box((x, y_lo - frame, z_lo - frame), (x + depth, y_hi + frame, z_lo), "window_frame")
    m.box((x, y_lo - frame, z_hi), (x + depth, y_hi + frame, z_hi + frame), "window_frame")
    for y in (y_lo - frame, (y_lo + y_hi - frame) / 2, y_hi):
        m.box((x, y, z_lo), (x + depth, y + frame, z_hi), "window_frame")
    m.box((x, y_lo - frame - 0.05, z_lo - frame - 0.04), (x + 0.16, y_hi + frame + 0.05,
                                                         z_lo - frame), "window_frame")
    for y_a, y_b in ((y_lo - 0.55, y_lo - 0.12), (y_hi + 0.12, y_hi + 0.55)):
        m.box((x, y_a, 0.12), (x + 0.08, y_b, 2.5), "curtain", bottom_shade=0.8)
    return m.node()


def _furnishings(linear: bool) -> NodePath:
    """Ceiling light panels, a low cabinet, a door, a calm landscape print, a plant."""
    m = _Mesh("furnishings", linear)
    h = ROOM_HEIGHT - 0.01
    for y in (0.4, 2.6):
        m.box((-0.6, y - 0.3, h - 0.02), (0.6, y + 0.3, h), "ceiling_light")
    x1, y1 = ROOM_X[1], ROOM_Y[1]
    m.box((x1 - 0.45, 1.2, 0), (x1, 2.8, 0.85), "cabinet", top="cabinet_top", bottom_shade=0.85)
    for y in (1.72, 2.26):  # the gaps between the cabinet's three doors
        m.box((x1 - 0.452, y - 0.004, 0.04), (x1 - 0.44, y + 0.004, 0.81), "door_frame")
    # the door, in the right wall behind the patient: frame, leaf, handle
    m.box((x1 - 0.03, -1.72, 0), (x1, -0.68, 2.16), "door_frame")
    m.box((x1 - 0.04, -1.66, 0), (x1 - 0.03, -0.74, 2.10), "door", bottom_shade=0.9)
    m.box((x1 - 0.09, -0.86, 1.00), (x1 - 0.04, -0.80, 1.03), "metal")
    # a calm landscape print on the accent wall: frame, then sky, far hills, near hill
    y = y1 - 0.02
    m.box((-0.75, y - 0.02, 1.15), (0.75, y, 2.05), "picture_frame")
    layers = (((-0.7, 1.2), (0.7, 2.0), "picture_sky"), ((-0.7, 1.2), (0.7, 1.55), "picture_far"),
              ((-0.7, 1.2), (0.15, 1.42), "picture_hill"))
    for i, ((xa, za), (xb, zb), color) in enumerate(layers):
        yy, c = y - 0.025 - 0.002 * i, m.rgba(color)
        m.quad([Vec3(xa, yy, za), Vec3(xb, yy, za), Vec3(xb, yy, zb), Vec3(xa, yy, zb)],
               Vec3(0, -1, 0), [c] * 4)
    # a plant in the front-right corner: a pot and a loose cluster of leafy boxes
    px, py = x1 - 0.45, y1 - 0.45
    m.box((px - 0.17, py - 0.17, 0), (px + 0.17, py + 0.17, 0.40), "pot", bottom_shade=0.85)
    for dx, dy, z, r, color in _FOLIAGE:
        m.box((px + dx - r, py + dy - r, z - r), (px + dx + r, py + dy + r, z + r), color,
              bottom_shade=0.75)
    node = m.node()
    for lo, hi in (((x1 - 0.45, 1.2), (x1 - 0.1, 2.8)),       # fades out at the wall
                   ((px - 0.17, py - 0.17), (px + 0.17, py + 0.17))):
        _contact_shadow("contact_shadow", linear, lo, hi, 0.25, 0.10).reparent_to(node)
    return node


def _table(linear: bool) -> NodePath:
    """1.2 m x 0.7 m table, top at TABLE_TOP_Z, its near edge 0.22 m in front of the patient."""
    m = _Mesh("table", linear)
    (x0, x1), (y0, y1), t = TABLE_TOP_X, TABLE_TOP_Y, 0.03
    m.box((x0, y0, TABLE_TOP_Z - t), (x1, y1, TABLE_TOP_Z), "table_edge", top="table_top")
    leg = 0.04
    for x in (x0 + 0.04, x1 - 0.04 - leg):
        for y in (y0 + 0.04, y1 - 0.04 - leg):
            m.box((x, y, 0), (x + leg, y + leg, TABLE_TOP_Z - t), "metal", bottom_shade=0.8)
    node = m.node()
    _contact_shadow("table_shadow", linear, (x0, y0), (x1, y1), 0.22, 0.30).reparent_to(node)
    return node


def _mat(linear: bool) -> NodePath:
    """An exercise mat on the floor where the feet go."""
    m = _Mesh("floor_mat", linear)
    m.box((-0.55, 0.05, 0.0), (0.55, 1.45, 0.012), "mat")
    return m.node()


def _chair(linear: bool) -> NodePath:
    """The patient's chair: seat at SEAT_Z under the origin, backrest behind."""
    m = _Mesh("chair", linear)
    m.box((-0.24, -0.36, SEAT_Z - 0.07), (0.24, 0.12, SEAT_Z), "chair_seat", bottom_shade=0.8)
    m.box((-0.24, -0.40, SEAT_Z + 0.05), (0.24, -0.34, 0.95), "chair_seat", bottom_shade=0.85)
    leg = 0.035
    for x in (-0.22, 0.22 - leg):
        for y in (-0.36, 0.10 - leg):
            m.box((x, y, 0), (x + leg, y + leg, SEAT_Z - 0.07), "chair_frame")
        m.box((x, -0.40, SEAT_Z - 0.07), (x + leg, -0.36, SEAT_Z + 0.05), "chair_frame")
    node = m.node()
    _contact_shadow("chair_shadow", linear, (-0.24, -0.38), (0.24, 0.12), 0.30, 0.14
                    ).reparent_to(node)
    return node


def _contact_shadow(name: str, linear: bool, lo: tuple[float, float], hi: tuple[float, float],
                    strength: float, soft: float) -> NodePath:
    """A soft shadow just above the floor mat, drawn after the opaque room."""
    m = _Mesh(name, linear)
    m.shadow(lo, hi, 0.014, strength, soft)
    node = m.node()
    node.set_transparency(TransparencyAttrib.M_alpha)
    node.set_depth_write(False)
    node.set_depth_offset(1)
    return node
