"""The headset display: per-eye swapchains, per-eye cameras with the runtime's asymmetric
fields of view, and the projection layer.

Each eye renders into its own Panda3D texture buffer (sharing the main window's OpenGL
context); after ``render_frame()`` each texture is copied (``glCopyImageSubData``) into the
eye's acquired swapchain image, and the projection layer submits exactly the poses and
fields of view that ``xrLocateViews`` returned for the frame. Colour is sRGB-encoded in the
eye textures either way (an sRGB framebuffer or the shaders' own encoding), so an sRGB
swapchain format is preferred, plain RGBA8 accepted.
"""
from __future__ import annotations

import ctypes
import math

import numpy as np
from panda3d.core import (Camera, FrameBufferProperties, NodePath, PerspectiveLens, Quat,
                          Texture)

from vrgmi.render.display import Display
from vrgmi.render.xr_binding import GL
from vrgmi.tracking.openxr import XrSession, XrUnavailableError
from vrgmi.tracking.xr_input import stage_pose_into

GL_SRGB8_ALPHA8, GL_RGBA8 = 0x8C43, 0x8058
#: swapchain formats, preferred first (both copy byte-for-byte from an 8-bit RGBA texture)
FORMATS = (GL_SRGB8_ALPHA8, GL_RGBA8)
NEAR_M, FAR_M = 0.03, 30.0


def pick_format(offered: list[int]) -> int:
    """The first of :data:`FORMATS` the runtime offers."""
    for fmt in FORMATS:
        if fmt in offered:
            return fmt
    raise XrUnavailableError("the OpenXR runtime offers no 8-bit RGBA swapchain format "
                             f"(it offers {', '.join(hex(f) for f in offered[:6])})")


def film_from_fov(left: float, right: float, up: float, down: float
                  ) -> tuple[float, float, float, float]:
    """(width, height, offset x, offset y) of a focal-length-1 film for an OpenXR FOV
    (angles in radians, left and down negative): the asymmetric frustum as a Panda3D lens."""
    tl, tr, tu, td = math.tan(left), math.tan(right), math.tan(up), math.tan(down)
    return tr - tl, tu - td, (tr + tl) / 2.0, (tu + td) / 2.0


class XrEyes:
    """Two eye cameras, their texture buffers and swapchains, and the projection layer."""

    def __init__(self, xrs: XrSession, display: Display, gl: GL) -> None:
        xr = self.xr = xrs.xr
        self.xrs, self.gl = xrs, gl
        base = display.base
        self.size = [(int(v.recommended_image_rect_width), int(v.recommended_image_rect_height))
                     for v in xrs.view_configs[:2]]
        self.format = pick_format(list(xr.enumerate_swapchain_formats(xrs.session)))
        usage = (xr.SwapchainUsageFlags.COLOR_ATTACHMENT_BIT
                 | xr.SwapchainUsageFlags.TRANSFER_DST_BIT | xr.SwapchainUsageFlags.SAMPLED_BIT)
        self.swapchains, self.images = [], []
        for w, h in self.size:
            sc = xr.create_swapchain(xrs.session, xr.SwapchainCreateInfo(
                usage_flags=usage, format=self.format, sample_count=1, width=w, height=h,
                face_count=1, array_size=1, mip_count=1))
            self.swapchains.append(sc)
            self.images.append([int(i.image) for i in xr.enumerate_swapchain_images(
                sc, xr.SwapchainImageOpenGLKHR)])
        srgb = display.win.get_fb_properties().get_srgb_color()
        fbp = FrameBufferProperties()
        fbp.set_rgba_bits(8, 8, 8, 8)
        fbp.set_depth_bits(24)
        fbp.set_srgb_color(srgb)
        self.textures, self.buffers, self.cameras, self.lenses = [], [], [], []
        for eye, (w, h) in zip(("left", "right"), self.size):
            tex = Texture(f"xr_{eye}")
            tex.set_format(Texture.F_srgb_alpha if srgb else Texture.F_rgba8)
            buf = display.win.make_texture_buffer(f"xr_{eye}", w, h, tex, False, fbp)
            if buf is None:
                raise XrUnavailableError(f"the {eye}-eye render buffer ({w}x{h}) could not be "
                                         "made")
            buf.set_sort(-20)
            buf.set_clear_color(display.win.get_clear_color())
            lens = PerspectiveLens()
            lens.set_focal_length(1.0)
            lens.set_near_far(NEAR_M, FAR_M)
            cam = NodePath(Camera(f"xr_{eye}", lens))
            cam.reparent_to(base.render)
            buf.make_display_region().set_camera(cam)
            self.textures.append(tex)
            self.buffers.append(buf)
            self.cameras.append(cam)
            self.lenses.append(lens)
        self._gsg = display.win.get_gsg()
        self._texture_ids: list[int] | None = None
        self._pose = np.zeros(7)
        self._quat = Quat()
        self._acquire = xr.SwapchainImageAcquireInfo()
        self._wait = xr.SwapchainImageWaitInfo(timeout=xr.INFINITE_DURATION)
        self._release = xr.SwapchainImageReleaseInfo()
        self._layer_views = (xr.CompositionLayerProjectionView * 2)(*[
            xr.CompositionLayerProjectionView(sub_image=xr.SwapchainSubImage(
                swapchain=sc, image_rect=xr.Rect2Di(offset=xr.Offset2Di(0, 0),
                                                    extent=xr.Extent2Di(w, h)),
                image_array_index=0))
            for sc, (w, h) in zip(self.swapchains, self.size)])
        self.layer = xr.CompositionLayerProjection(space=xrs.app_space, views=self._layer_views)

    def place(self, views) -> None:
        """Put the eye cameras where ``views`` (this frame's xrLocateViews) say, with their
        fields of view, and copy both into the projection layer."""
        pose, quat = self._pose, self._quat
        for i in (0, 1):
            view = views[i]
            stage_pose_into(view.pose, pose)
            cam = self.cameras[i]
            cam.set_pos(pose[0], pose[1], pose[2])
            quat.set(pose[6], pose[3], pose[4], pose[5])
            cam.set_quat(quat)
            f = view.fov
            w, h, ox, oy = film_from_fov(f.angle_left, f.angle_right, f.angle_up, f.angle_down)
            lens = self.lenses[i]
            lens.set_film_size(w, h)
            lens.set_film_offset(ox, oy)
            lens.set_focal_length(1.0)
            lv = self._layer_views[i]
            lv.pose = view.pose
            lv.fov = view.fov
        self.layer.space = self.xrs.app_space

    def submit(self):
        """Copy both rendered eye textures into their swapchain images (acquire, wait, copy,
        release); returns the projection layer for xrEndFrame."""
        if self._texture_ids is None:
            self._texture_ids = [
                int(t.prepare_now(0, self._gsg.get_prepared_objects(), self._gsg)
                    .get_native_id()) for t in self.textures]
        xrs = self.xrs
        index = ctypes.c_uint32(0)
        for i, sc in enumerate(self.swapchains):
            xrs.call("xrAcquireSwapchainImage", sc, ctypes.byref(self._acquire),
                     ctypes.byref(index))
            xrs.call("xrWaitSwapchainImage", sc, ctypes.byref(self._wait))
            w, h = self.size[i]
            self.gl.copy_texture(self._texture_ids[i], self.images[i][index.value], w, h)
            xrs.call("xrReleaseSwapchainImage", sc, ctypes.byref(self._release))
        return self.layer

    def close(self) -> None:
        """Remove the eye buffers and cameras; destroy the swapchains (ignoring a dead
        runtime's errors)."""
        for buf in self.buffers:
            buf.get_engine().remove_window(buf)
        for cam in self.cameras:
            cam.remove_node()
        for sc in self.swapchains:
            try:
                self.xr.destroy_swapchain(sc)
            except self.xr.XrException:
                pass
        self.buffers, self.cameras, self.swapchains = [], [], []
