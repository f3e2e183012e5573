"""A veil over the whole view: a dark card just in front of the eyes whose opacity a scene
ramps to fade the view out and back in (the drift task fades to the plain room with it).

It lives under the scene's node (so it goes when the scene goes, however it ends) and is
put in front of the camera (the head; both eyes' cameras in the headset sit at it) each
time its opacity is set, after the engine has placed the camera for the frame."""
from __future__ import annotations

from panda3d.core import CardMaker, NodePath, TransparencyAttrib

#: the veil's colour (the clinic room's dim grey-blue) and its distance from the eye (m)
VEIL_RGB = (0.08, 0.09, 0.11)
VEIL_DISTANCE_M = 0.12


class Veil:
    """A card under ``parent`` kept just in front of ``camera``, covering every field of
    view; :meth:`set_alpha` 0 hides it, 1 is opaque."""

    def __init__(self, parent: NodePath, camera: NodePath) -> None:
        self.camera = camera
        self.root = parent.attach_new_node("veil")
        cm = CardMaker("veil-card")
        cm.set_frame(-1.0, 1.0, -1.0, 1.0)           # 4.8 m square at 0.12 m: > 170 deg
        card = self.root.attach_new_node(cm.generate())
        card.set_pos(0.0, VEIL_DISTANCE_M, 0.0)
        card.set_scale(VEIL_DISTANCE_M * 20.0)
        self.root.set_transparency(TransparencyAttrib.M_alpha)
        self.root.set_bin("fixed", 100)
        self.root.set_depth_test(False)
        self.root.set_depth_write(False)
        self.root.set_light_off(1)
        self.root.set_shader_off(1)
        self.root.set_two_sided(True)
        self.alpha = 0.0
        self.set_alpha(0.0)

    def set_alpha(self, alpha: float) -> None:
        """Opacity 0..1 (hidden at 0)."""
        self.alpha = float(min(1.0, max(0.0, alpha)))
        if self.alpha <= 0.0:
            self.root.hide()
            return
        self.root.set_transform(self.camera.get_transform(self.root.get_parent()))
        self.root.show()
        self.root.set_color(*VEIL_RGB, self.alpha)
