"""Readable world-locked text panels for patients in a headset.

Text is sized by visual angle, not pixels: each line subtends at least ``min_line_deg``
(default 1.5 degrees) at the panel's distance, so it stays readable at headset resolution.
Panels are placed in front of the seated patient's torso (world-locked; never following the
head, which is uncomfortable in VR) and use calm, low-contrast-glare colours.
"""
from __future__ import annotations

import math

from panda3d.core import NodePath, TextNode, TransparencyAttrib

#: calm palette (sRGB): a soft slate card, warm off-white text, a muted teal highlight
CARD_RGBA = (0.16, 0.20, 0.24, 0.92)
TEXT_RGBA = (0.95, 0.94, 0.90, 1.0)
HIGHLIGHT_RGBA = (0.35, 0.68, 0.66, 1.0)
DIM_RGBA = (0.70, 0.72, 0.74, 1.0)


def line_height_for(distance_m: float, degrees: float) -> float:
    """The line height (m) that subtends ``degrees`` at ``distance_m``."""
    return 2.0 * distance_m * math.tan(math.radians(degrees) / 2.0)


class Panel:
    """A text card at ``pos`` (engine space, facing -Y toward a patient at the origin side).

    ``set_text`` replaces the lines; the card grows to fit them.
    """

    def __init__(self, parent: NodePath, pos: tuple[float, float, float],
                 distance_m: float = 1.0, min_line_deg: float = 1.5, name: str = "panel",
                 align: str = "center") -> None:
        self.root = parent.attach_new_node(name)
        self.root.set_pos(*pos)
        self.root.set_light_off(1)
        self.root.set_shader_off(1)
        self.root.set_transparency(TransparencyAttrib.M_alpha)
        self.root.set_bin("fixed", 40)
        self.root.set_depth_write(False)
        self.text = TextNode(name + "-text")
        self.text.set_align({"center": TextNode.A_center, "left": TextNode.A_left}[align])
        self.text.set_text_color(*TEXT_RGBA)
        self.text.set_card_color(*CARD_RGBA)
        self.text.set_card_as_margin(0.6, 0.6, 0.4, 0.4)
        self.text.set_card_decal(True)
        self.line_height_m = line_height_for(distance_m, min_line_deg)
        self.node = self.root.attach_new_node(self.text)
        self.node.set_scale(self.line_height_m / self.text.get_line_height())
        self.node.set_h(0.0)           # text faces -Y: toward the patient looking along +Y

    def set_text(self, text: str, color: tuple[float, float, float, float] = TEXT_RGBA) -> None:
        """Show ``text`` (newlines separate lines)."""
        self.text.set_text(text)
        self.text.set_text_color(*color)

    def show(self, visible: bool = True) -> None:
        """Show or hide the panel."""
        if visible:
            self.root.show()
        else:
            self.root.hide()

    def remove(self) -> None:
        """Take the panel out of the scene."""
        self.root.remove_node()
