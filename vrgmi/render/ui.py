"""Readable world-locked text panels for patients in a headset.

Text is sized by visual angle, not pixels: each line subtends ``min_line_deg`` (default
1.5 degrees) times the ``ui.text_scale`` setting at the panel's distance, and never less than
makes a lower-case x ``ui.min_x_height_deg`` high (docs/accessibility.md), so it stays readable
at headset resolution. Panels are placed in front of the seated patient's torso (world-locked;
never following the head, which is uncomfortable in VR) and use calm, low-glare colours, or
white and yellow on black in the ``ui.high_contrast`` low-vision mode.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from panda3d.core import (Geom, GeomNode, GeomTriangles, GeomVertexData, GeomVertexFormat,
                          GeomVertexWriter, LColor, NodePath, TextNode, TextProperties,
                          TransparencyAttrib)

#: calm palette (sRGB): a soft slate card, warm off-white text, a muted teal highlight
CARD_RGBA = (0.16, 0.20, 0.24, 0.92)
BACKDROP_RGBA = (0.16, 0.20, 0.24, 0.97)
TEXT_RGBA = (0.95, 0.94, 0.90, 1.0)
HIGHLIGHT_RGBA = (0.35, 0.68, 0.66, 1.0)
DIM_RGBA = (0.70, 0.72, 0.74, 1.0)
#: dark text on the highlighted option; the calm view's dim background
ON_HIGHLIGHT_RGBA = (0.08, 0.10, 0.12, 1.0)
CALM_CLEAR_RGBA = (0.015, 0.02, 0.025, 1.0)
#: where panels sit: this far in front of the eyes, this far below eye level (m)
PANEL_DISTANCE_M = 1.0
PANEL_DROP_M = 0.08
#: the low-vision palette: each calm colour's high-contrast stand-in (white and yellow on
#: opaque black: contrast ratios of 21:1 and 17:1; WCAG 2 level AAA asks for 7:1)
HIGH_CONTRAST = {
    CARD_RGBA: (0.0, 0.0, 0.0, 1.0),
    BACKDROP_RGBA: (0.0, 0.0, 0.0, 1.0),
    TEXT_RGBA: (1.0, 1.0, 1.0, 1.0),
    HIGHLIGHT_RGBA: (1.0, 0.92, 0.0, 1.0),
    DIM_RGBA: (1.0, 1.0, 1.0, 1.0),
    ON_HIGHLIGHT_RGBA: (0.0, 0.0, 0.0, 1.0),
}


@dataclass
class TextStyle:
    """How large and in which colours panels draw text (the ``ui`` settings)."""

    scale: float = 1.0
    min_x_height_deg: float = 0.65
    high_contrast: bool = False


_style = TextStyle()


def configure_text(ui) -> None:
    """Use the ``ui`` settings section (text_scale, min_x_height_deg, high_contrast) for the
    panels built from now on."""
    global _style
    _style = TextStyle(ui.text_scale, ui.min_x_height_deg, ui.high_contrast)


def text_style() -> TextStyle:
    """The text style in force."""
    return _style


def style_color(rgba: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """``rgba`` as drawn in the style in force (its high-contrast stand-in in that mode)."""
    return HIGH_CONTRAST.get(tuple(rgba), rgba) if _style.high_contrast else rgba


def ink_extent(char: str, font=None) -> tuple[float, float]:
    """(bottom, top) of the drawn pixels of ``char`` in ``font`` (default: Panda3D's), in
    text units (the baseline is 0): read from the glyph's texture, alpha > 0.5."""
    font = font or TextProperties.get_default_font()
    glyph = font.get_glyph(ord(char))
    tex = glyph.get_page()
    peek = tex.peek()
    w, h = tex.get_x_size(), tex.get_y_size()
    u0, u1 = glyph.get_uv_left(), glyph.get_uv_right()
    v0, v1 = glyph.get_uv_bottom(), glyph.get_uv_top()
    bottom, top = glyph.get_bottom(), glyph.get_top()
    texel, rows = LColor(), []
    for j in range(int(v0 * h), math.ceil(v1 * h)):
        v = (j + 0.5) / h
        for i in range(int(u0 * w), math.ceil(u1 * w)):
            peek.lookup(texel, (i + 0.5) / w, v)
            if texel[3] > 0.5:
                rows.append(bottom + (v - v0) / (v1 - v0) * (top - bottom))
                break
    return min(rows), max(rows)


@functools.lru_cache(maxsize=None)
def x_height_ratio() -> float:
    """Height of the default font's lower-case x as a fraction of its line height."""
    low, high = ink_extent("x")
    return (high - low) / TextProperties.get_default_font().get_line_height()


def text_line_deg(requested_deg: float) -> float:
    """The line height (deg) a panel asking for ``requested_deg`` draws in the style in
    force: scaled by ``text_scale``, never with an x-height under ``min_x_height_deg``."""
    return max(requested_deg * _style.scale, _style.min_x_height_deg / x_height_ratio())


def line_height_for(distance_m: float, degrees: float) -> float:
    """The line height (m) that subtends ``degrees`` at ``distance_m``."""
    return 2.0 * distance_m * math.tan(math.radians(degrees) / 2.0)


def visual_angle_deg(size_m: float, distance_m: float) -> float:
    """The angle (degrees) that ``size_m`` subtends at ``distance_m``."""
    return math.degrees(2.0 * math.atan(size_m / (2.0 * distance_m)))


def place_facing_patient(node: NodePath, head, torso_yaw: float,
                         distance_m: float = PANEL_DISTANCE_M,
                         drop_m: float = PANEL_DROP_M) -> None:
    """Put ``node`` ``distance_m`` in front of the eyes along the torso's forward direction
    (world-locked, so it never follows the head), ``drop_m`` below eye level, facing back."""
    fx, fy = -math.sin(torso_yaw), math.cos(torso_yaw)
    node.set_pos(float(head[0]) + fx * distance_m, float(head[1]) + fy * distance_m,
                 float(head[2]) - drop_m)
    node.set_h(math.degrees(torso_yaw))


def _flat_state(node: NodePath, sort: int) -> None:
    node.set_light_off(1)
    node.set_shader_off(1)
    node.set_transparency(TransparencyAttrib.M_alpha)
    node.set_bin("fixed", sort)
    node.set_depth_write(False)


class Panel:
    """A text card at ``pos`` (engine space, facing -Y toward a patient at the origin side).

    ``set_text`` replaces the lines; the card grows to fit them. ``card=False`` draws the
    text alone (on a :func:`backdrop`); ``align`` is ``center``, ``left`` or ``right``.
    """

    def __init__(self, parent: NodePath, pos: tuple[float, float, float],
                 distance_m: float = 1.0, min_line_deg: float = 1.5, name: str = "panel",
                 align: str = "center", card: bool = True) -> None:
        self.root = parent.attach_new_node(name)
        self.root.set_pos(*pos)
        _flat_state(self.root, 40)
        self.distance_m = distance_m
        self.text = TextNode(name + "-text")
        self.text.set_align({"center": TextNode.A_center, "left": TextNode.A_left,
                             "right": TextNode.A_right}[align])
        self.text.set_text_color(*style_color(TEXT_RGBA))
        if card:
            self.text.set_card_color(*style_color(CARD_RGBA))
            self.text.set_card_as_margin(0.6, 0.6, 0.4, 0.4)
            self.text.set_card_decal(True)
        self.line_deg = text_line_deg(min_line_deg)
        self.line_height_m = line_height_for(distance_m, self.line_deg)
        self.node = self.root.attach_new_node(self.text)
        self.node.set_scale(self.line_height_m / self.text.get_line_height())
        self.node.set_h(0.0)           # text faces -Y: toward the patient looking along +Y

    def set_text(self, text: str, color: tuple[float, float, float, float] = TEXT_RGBA) -> None:
        """Show ``text`` (newlines separate lines)."""
        self.text.set_text(text)
        self.text.set_text_color(*style_color(color))

    @property
    def width_m(self) -> float:
        """Width (m) of the widest line of the current text."""
        return self.text.get_width() * self.line_height_m / self.text.get_line_height()

    def show(self, visible: bool = True) -> None:
        """Show or hide the panel."""
        if visible:
            self.root.show()
        else:
            self.root.hide()

    def remove(self) -> None:
        """Take the panel out of the scene."""
        self.root.remove_node()


class OptionRow:
    """A row of equal answer boxes (e.g. NRS 0..10, SSQ None..Severe), one highlighted.

    Built at ``pos`` under ``parent`` like a :class:`Panel`; each label is one line of at
    least ``min_line_deg`` at ``distance_m``. ``select(i)`` moves the highlight.
    """

    def __init__(self, parent: NodePath, labels: list[str], pos: tuple[float, float, float],
                 distance_m: float = 1.0, min_line_deg: float = 2.0, gap_m: float = 0.012,
                 name: str = "options") -> None:
        if not labels:
            raise ValueError("an option row needs at least one label")
        self.root = parent.attach_new_node(name)
        self.root.set_pos(*pos)
        _flat_state(self.root, 41)
        self.line_deg = text_line_deg(min_line_deg)
        self.line_height_m = line_height_for(distance_m, self.line_deg)
        self.distance_m = distance_m
        self.texts: list[TextNode] = []
        nodes = []
        for i, label in enumerate(labels):
            text = TextNode(f"{name}-{i}")
            text.set_align(TextNode.A_center)
            text.set_text(label)
            self.texts.append(text)
            nodes.append(self.root.attach_new_node(text))
        unit = self.texts[0].get_line_height()
        scale = self.line_height_m / unit
        half = max(t.get_width() for t in self.texts) / 2.0 + 0.6 * unit
        for text in self.texts:      # equal boxes: the widest label sets the width
            text.set_card_actual(-half, half, -0.45 * unit, 1.05 * unit)
            text.set_card_decal(True)
        self.box_width_m = 2.0 * half * scale
        step = self.box_width_m + gap_m
        self.width_m = len(labels) * step - gap_m
        self.centers_x = [(i - (len(labels) - 1) / 2.0) * step for i in range(len(labels))]
        for node, x in zip(nodes, self.centers_x):
            node.set_scale(scale)
            node.set_pos(x, 0.0, 0.0)
        self.selected: int | None = None
        self.select(None)

    def select(self, index: int | None) -> None:
        """Highlight option ``index`` (None: no highlight)."""
        self.selected = index
        for i, text in enumerate(self.texts):
            on = i == index
            text.set_card_color(*style_color(HIGHLIGHT_RGBA if on else CARD_RGBA))
            text.set_text_color(*style_color(ON_HIGHLIGHT_RGBA if on else TEXT_RGBA))

    def remove(self) -> None:
        """Take the row out of the scene."""
        self.root.remove_node()


def backdrop(parent: NodePath, width_m: float, height_m: float,
             pos: tuple[float, float, float] = (0.0, 0.0, 0.0),
             rgba: tuple[float, float, float, float] = BACKDROP_RGBA,
             name: str = "backdrop") -> NodePath:
    """A calm flat card (XZ plane, facing -Y) centred at ``pos``, drawn behind panels."""
    vdata = GeomVertexData(name, GeomVertexFormat.get_v3c4(), Geom.UH_static)
    vertex, color = GeomVertexWriter(vdata, "vertex"), GeomVertexWriter(vdata, "color")
    w, h = width_m / 2.0, height_m / 2.0
    rgba = style_color(rgba)
    for x, z in ((-w, -h), (w, -h), (w, h), (-w, h)):
        vertex.add_data3(x, 0.0, z)
        color.add_data4(*rgba)
    tris = GeomTriangles(Geom.UH_static)
    tris.add_vertices(0, 1, 2)
    tris.add_vertices(0, 2, 3)
    geom = Geom(vdata)
    geom.add_primitive(tris)
    node = GeomNode(name)
    node.add_geom(geom)
    path = parent.attach_new_node(node)
    path.set_pos(*pos)
    path.set_two_sided(True)
    _flat_state(path, 38)
    return path


def soft_disc(parent: NodePath, radius_m: float, rgba: tuple[float, float, float, float],
              segments: int = 64, rings: int = 6, name: str = "disc") -> NodePath:
    """A flat disc in the XZ plane (facing -Y), opaque in the middle and fading to clear at
    the rim: a soft glow for the breathing guide."""
    vdata = GeomVertexData(name, GeomVertexFormat.get_v3c4(), Geom.UH_static)
    vertex, color = GeomVertexWriter(vdata, "vertex"), GeomVertexWriter(vdata, "color")
    r, g, b, a = rgba
    vertex.add_data3(0.0, 0.0, 0.0)
    color.add_data4(r, g, b, a)
    for k in range(1, rings + 1):
        f = k / rings
        alpha = a * (1.0 - f ** 3)          # flat core, soft edge
        for s in range(segments):
            ang = 2.0 * math.pi * s / segments
            vertex.add_data3(radius_m * f * math.cos(ang), 0.0, radius_m * f * math.sin(ang))
            color.add_data4(r, g, b, alpha)
    tris = GeomTriangles(Geom.UH_static)
    for s in range(segments):
        tris.add_vertices(0, 1 + (s + 1) % segments, 1 + s)
    for k in range(1, rings):
        inner, outer = 1 + (k - 1) * segments, 1 + k * segments
        for s in range(segments):
            n = (s + 1) % segments
            tris.add_vertices(inner + s, inner + n, outer + n)
            tris.add_vertices(inner + s, outer + n, outer + s)
    geom = Geom(vdata)
    geom.add_primitive(tris)
    node = GeomNode(name)
    node.add_geom(geom)
    path = parent.attach_new_node(node)
    path.set_two_sided(True)
    _flat_state(path, 39)
    return path


#: the look-away cue: this far below the view's centre (m, at PANEL_DISTANCE_M), fading in
#: and out over this long (s), text lines of this visual angle (deg)
LOOK_CUE_DROP_M = 0.15
LOOK_CUE_FADE_S = 0.8
LOOK_CUE_LINE_DEG = 2.0


class LookCue:
    """A gentle line of text ("Look at your left hand") that follows the head, low in the
    view, fading in while the patient looks away from the phantom and out when they look
    back (docs/mirror-tasks.md). Hidden until :meth:`update` asks for it."""

    def __init__(self, camera: NodePath, text: str,
                 distance_m: float = PANEL_DISTANCE_M) -> None:
        self.root = camera.attach_new_node("look-cue")
        self.root.set_pos(0.0, distance_m, -LOOK_CUE_DROP_M)
        _flat_state(self.root, 44)
        self.panel = Panel(self.root, (0.0, 0.0, 0.0), distance_m, LOOK_CUE_LINE_DEG,
                           "look-cue-text")
        self.panel.set_text(text)
        self.level = 0.0
        self.root.hide()

    @property
    def visible(self) -> bool:
        """True while the cue is on the view (fading in, shown or fading out)."""
        return not self.root.is_hidden()

    def update(self, wanted: bool, dt: float) -> None:
        """Per frame: fade toward shown (``wanted``) or hidden."""
        step = dt / LOOK_CUE_FADE_S
        self.level = min(1.0, self.level + step) if wanted else max(0.0, self.level - step)
        if self.level <= 0.0:
            self.root.hide()
            return
        self.root.show()
        self.root.set_alpha_scale(self.level)

    def remove(self) -> None:
        """Take the cue out of the view."""
        self.root.remove_node()


class FacingView:
    """A node for a scene's panels that places itself in front of the seated patient (see
    :func:`place_facing_patient`) as soon as the head and torso are tracked; hidden until then."""

    def __init__(self, parent: NodePath, name: str = "view",
                 distance_m: float = PANEL_DISTANCE_M, drop_m: float = PANEL_DROP_M) -> None:
        self.root = parent.attach_new_node(name)
        self.distance_m, self.drop_m = distance_m, drop_m
        self.placed = False
        self.root.hide()

    def place(self, core, head, head_valid: bool) -> bool:
        """Place the view once (``core``: the CorePipeline); True when it is placed."""
        if not self.placed and head_valid and core is not None and core.torso.initialized:
            place_facing_patient(self.root, head, core.torso.yaw, self.distance_m, self.drop_m)
            self.root.show()
            self.placed = True
        return self.placed


#: the patient's hold notice: a ring of this many segments, this radius and width at 1 m
HOLD_RING_SEGMENTS = 24
HOLD_RING_RADIUS_M = 0.06
HOLD_RING_WIDTH_M = 0.014


def _ring_segment(parent: NodePath, k: int, segments: int, radius_m: float,
                  width_m: float) -> NodePath:
    """Segment ``k`` of a ring in the x-z plane, clockwise from the top (a small gap between
    segments)."""
    vdata = GeomVertexData("ring", GeomVertexFormat.get_v3(), Geom.UH_static)
    vertex = GeomVertexWriter(vdata, "vertex")
    step = 2.0 * math.pi / segments
    a0, a1 = math.pi / 2 - k * step, math.pi / 2 - (k + 0.85) * step
    for ang in (a0, a1):
        for r in (radius_m - width_m, radius_m):
            vertex.add_data3(r * math.cos(ang), 0.0, r * math.sin(ang))
    tris = GeomTriangles(Geom.UH_static)
    tris.add_vertices(0, 1, 3)
    tris.add_vertices(0, 3, 2)
    geom = Geom(vdata)
    geom.add_primitive(tris)
    node = GeomNode(f"ring-{k}")
    node.add_geom(geom)
    path = parent.attach_new_node(node)
    path.set_two_sided(True)
    return path


class HoldNotice:
    """A small notice that follows the head for the patient's menu hold (it must be seen
    wherever they look): a ring that fills toward the stop and a line of text under it.
    Hidden until :meth:`show`."""

    def __init__(self, camera: NodePath, distance_m: float = PANEL_DISTANCE_M) -> None:
        self.root = camera.attach_new_node("hold-notice")
        self.root.set_pos(0.0, distance_m, -0.04)
        _flat_state(self.root, 45)
        self.ring = self.root.attach_new_node("hold-ring")
        self.segments = [_ring_segment(self.ring, k, HOLD_RING_SEGMENTS, HOLD_RING_RADIUS_M,
                                       HOLD_RING_WIDTH_M) for k in range(HOLD_RING_SEGMENTS)]
        self.panel = Panel(self.root, (0.0, 0.0, -HOLD_RING_RADIUS_M - 0.05), distance_m,
                           2.4, "hold-text")
        self._lit = -1
        self.root.hide()

    def show(self, text: str, progress: float | None = None) -> None:
        """Show ``text``; ``progress`` (0..1) fills the ring, None hides it."""
        self.panel.set_text(text)
        if progress is None:
            self.ring.hide()
        else:
            self.ring.show()
            lit = round(min(1.0, max(0.0, progress)) * HOLD_RING_SEGMENTS)
            if lit != self._lit:
                self._lit = lit
                for k, seg in enumerate(self.segments):
                    seg.set_color(*style_color(HIGHLIGHT_RGBA if k < lit else CARD_RGBA))
        self.root.show()

    def hide(self) -> None:
        """Take the notice off the view."""
        self.root.hide()
