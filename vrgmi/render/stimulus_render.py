"""Laterality stimuli rendered offscreen as pictures (``vrgmi stimuli``, printable cards).

The picture is drawn by the laterality scene's own stage (:class:`vrgmi.scenes.laterality.
_StageView`: the slate card, the engine's limb models cut at the wrist / ankle, the stage
lighting, the patient's skin tone), so a picture is exactly what the game shows, with
whatever limb models and skin shading the engine loads. The stage is built under a root of
its own (not ``render``) and seen by a camera of its own through an offscreen buffer on the
display's graphics pipe, at the patient's eye where the game puts it: the stimulus
:data:`~vrgmi.scenes.laterality.STIMULUS_DISTANCE_M` ahead. The buffer is
:data:`SUPERSAMPLE` times the picture's size and box-filtered down (smooth edges on any
driver, the same pixels on every run).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from panda3d.core import (Camera, FrameBufferProperties, GraphicsOutput, GraphicsPipe,
                          NodePath, PerspectiveLens, WindowProperties)

from vrgmi.body.anthropometry import SegmentLengths
from vrgmi.errors import VrgmiError
from vrgmi.laterality.stimuli import Stimulus
from vrgmi.render.display import grab_rgba
from vrgmi.render.shaders import set_lighting, set_srgb_encoding
from vrgmi.scenes.base import SceneContext
from vrgmi.scenes.laterality import _StageView
from vrgmi.settings import Settings

#: the picture's field of view (deg, square): the 30 deg stimulus turned any way, with a
#: margin, all on the slate card (+-25 deg)
PICTURE_FOV_DEG = 40.0
#: the buffer is this many times the picture's size in each direction, then box-filtered
SUPERSAMPLE = 2
#: picture sizes (px) the renderer makes
SIZE_RANGE = (32, 2048)
#: where the eyes are (m, engine space) when the stage is placed
EYE_POS = (0.0, 0.0, 1.2)


class StimulusRenderError(VrgmiError, RuntimeError):
    """The offscreen picture could not be made."""


@dataclass(frozen=True)
class _Core:
    """What the stage reads of the core pipeline: the patient's segment lengths."""

    lengths: SegmentLengths


class StimulusRenderer:
    """Renders :class:`Stimulus` pictures of ``size`` x ``size`` pixels (RGB) on ``base``'s
    graphics pipe, for the patient described by ``settings`` (height, skin tone)."""

    def __init__(self, base, settings: Settings, limbs: tuple[str, ...], size: int) -> None:
        lo, hi = SIZE_RANGE
        if not lo <= size <= hi:
            raise StimulusRenderError(f"picture size {size} px is outside {lo}..{hi}")
        self.base, self.size = base, size
        self.buffer = self._make_buffer(base, size * SUPERSAMPLE)
        self.root = NodePath("stimulus_pictures")
        # what open_display sets on ``render``: the shaders' sRGB and lighting inputs
        srgb = bool(base.win.get_fb_properties().get_srgb_color())
        set_srgb_encoding(self.root, not srgb)
        set_lighting(self.root)
        lens = PerspectiveLens()
        lens.set_fov(PICTURE_FOV_DEG, PICTURE_FOV_DEG)
        lens.set_near_far(0.05, 10.0)
        self.camera = self.root.attach_new_node(Camera("stimulus_camera", lens))
        self.camera.set_pos(*EYE_POS)
        region = self.buffer.make_display_region()
        region.set_camera(self.camera)
        ctx = SceneContext(root=self.root, core=_Core(SegmentLengths.from_height(
            settings.patient.height_m)), settings=settings, base=base)
        self.stage = _StageView(ctx, limbs)
        self.stage.place(np.array([*EYE_POS, 0.0, 0.0, 0.0, 1.0]))

    @staticmethod
    def _make_buffer(base, pixels: int) -> GraphicsOutput:
        """An offscreen buffer with the main window's colour properties (sRGB or not)."""
        fb = FrameBufferProperties()
        fb.set_rgb_color(True)
        fb.set_rgba_bits(8, 8, 8, 8)
        fb.set_depth_bits(24)
        fb.set_srgb_color(base.win.get_fb_properties().get_srgb_color())
        props = WindowProperties.size(pixels, pixels)
        buffer = base.graphicsEngine.make_output(
            base.pipe, "stimulus_pictures", -10, fb, props, GraphicsPipe.BF_refuse_window,
            base.win.get_gsg(), base.win)
        if buffer is None:
            raise StimulusRenderError(f"no offscreen buffer of {pixels} x {pixels} px could "
                                      "be made; run `vrgmi doctor`")
        buffer.set_clear_color_active(True)
        buffer.set_clear_color((0.0, 0.0, 0.0, 1.0))
        return buffer

    def render(self, stimulus: Stimulus) -> np.ndarray:
        """The (size, size, 3) uint8 sRGB picture of ``stimulus`` (top row first)."""
        self.stage.show_picture(stimulus)
        rgba = grab_rgba(self.base, self.buffer)
        s, k = self.size, SUPERSAMPLE
        blocks = rgba[..., :3].reshape(s, k, s, k, 3).astype(np.float32)
        return np.rint(blocks.mean(axis=(1, 3))).astype(np.uint8)

    def close(self) -> None:
        """Remove the stage and give the buffer back."""
        self.stage.remove()
        self.root.remove_node()
        self.base.graphicsEngine.remove_window(self.buffer)

