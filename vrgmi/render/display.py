"""Open the display: a desktop window when there is a desktop, else an offscreen OpenGL
buffer (``p3headlessgl``: EGL, Mesa llvmpipe on machines without a GPU), else Panda3D's
software renderer ``p3tinydisplay`` (no shaders). Grab the framebuffer as NumPy, save PNGs."""
from __future__ import annotations

import builtins
import logging
import os
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from panda3d.core import (ConfigVariableBool, Filename, GraphicsOutput, Texture,
                          WindowProperties, loadPrcFileData)

from vrgmi.errors import VrgmiError
from vrgmi.render.shaders import set_lighting, set_srgb_encoding, shaders_supported

if TYPE_CHECKING:
    from direct.showbase.ShowBase import ShowBase

log = logging.getLogger("vrgmi.render")


class DisplayError(VrgmiError, ValueError):
    """No display could be opened, or a display request is malformed."""


class DisplayMode(str, Enum):
    """Where frames go."""

    DESKTOP = "desktop"    # an onscreen window (pandagl)
    HEADLESS = "headless"  # an offscreen OpenGL buffer (p3headlessgl on Linux)
    SOFTWARE = "software"  # p3tinydisplay: CPU rasteriser, no GLSL


#: (display module, window type) to try for each mode, in order; the software renderer
#: is always the last resort. Linux renders offscreen through EGL (p3headlessgl, no X
#: server needed); Windows and macOS through a hidden pandagl window.
_OFFSCREEN = [("p3headlessgl" if sys.platform.startswith("linux") else "pandagl", "offscreen")]
_CANDIDATES = {
    DisplayMode.DESKTOP: [("pandagl", "onscreen")] + _OFFSCREEN,
    DisplayMode.HEADLESS: _OFFSCREEN,
    DisplayMode.SOFTWARE: [],
}
_SOFTWARE = ("p3tinydisplay", "offscreen")

_paced = False


def _pace_offscreen(on: bool) -> None:
    """Panda3D's ``gl-finish`` (a glFinish() at the end of every frame), read by Panda3D each
    frame. An offscreen buffer has no buffer swap to pace the frame loop, so without it the
    GL driver queues frames: Mesa llvmpipe keeps each queued frame's binned triangles until
    its rasteriser threads catch up, and a loop that only renders grew by ~2 MB a frame at
    1280 x 720 up to llvmpipe's scene limit (~1.9 GB). See docs/rendering.md ("Frame pacing
    offscreen"). Touched only once Panda3D's GL module has defined the variable."""
    global _paced
    ConfigVariableBool("gl-finish").set_value(on)
    _paced = on


@dataclass
class Display:
    """An open display: the ShowBase, the mode it ended up in, and whether GLSL runs."""

    base: ShowBase
    mode: DisplayMode
    shaders: bool

    @property
    def win(self) -> GraphicsOutput:
        """The main window or offscreen buffer."""
        return self.base.win

    def close(self) -> None:
        """Close the window and tear the ShowBase down (a new display may open after)."""
        self.base.destroy()


def has_desktop_display() -> bool:
    """True when a desktop window can be expected to open (Windows, macOS, or an X11 /
    Wayland session on Linux)."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def choose_display_mode(requested: str = "auto") -> DisplayMode:
    """``"auto"`` -> desktop when a desktop display exists, else headless; ``"desktop"``,
    ``"headless"`` and ``"software"`` are taken as asked."""
    if requested == "auto":
        return DisplayMode.DESKTOP if has_desktop_display() else DisplayMode.HEADLESS
    try:
        return DisplayMode(requested)
    except ValueError:
        raise DisplayError(f"display mode {requested!r} is not one of auto, "
                           f"{', '.join(m.value for m in DisplayMode)}") from None


def _configure(mode: DisplayMode, title: str, multisamples: int) -> None:
    lines = ["framebuffer-srgb true", "framebuffer-alpha true", f"window-title {title}",
             f"framebuffer-multisample {int(multisamples > 0)}",
             f"multisamples {multisamples}",
             # a PC without speakers falls back to silent audio: not worth an error line
             "notify-level-audio fatal"]
    if mode is not DisplayMode.DESKTOP:
        # no monitor to sync to, no input devices, no speakers expected
        # (open_display reports a failed OpenGL start itself, in one line)
        lines += ["sync-video false", "audio-library-name null", "notify-level-device fatal",
                  "notify-level-egldisplay fatal", "notify-level-x11display fatal",
                  "notify-level-ShowBase error"]
    loadPrcFileData("vrgmi-display", "\n".join(lines))


def open_display(requested: str = "auto", size: tuple[int, int] = (1280, 720),
                 title: str = "vrgmi", multisamples: int = 0) -> Display:
    """Open the ShowBase and its main window or buffer of ``size`` pixels.

    Falls back along desktop -> headless OpenGL -> software; falling back to the software
    renderer logs one warning line, as shaders are off there. The scene root gets the
    default lighting and the sRGB output setting every vrgmi shader reads."""
    mode = choose_display_mode(requested)
    width, height = (int(v) for v in size)
    if not (16 <= width <= 16384 and 16 <= height <= 16384):
        raise DisplayError(f"display size {size!r} is outside 16..16384 pixels")
    if getattr(builtins, "base", None) is not None:
        raise DisplayError("a display is already open in this process; close it first")
    _configure(mode, title, multisamples)
    if _paced:
        _pace_offscreen(False)        # off while the next GSG is made (else Panda3D warns)
    from direct.showbase.ShowBase import ShowBase

    base = ShowBase(windowType="none")
    props = WindowProperties(size=(width, height), title=title)
    opened = next((kind for module, kind in _CANDIDATES[mode]
                   if _open(base, module, kind, props)), None)
    if opened is None:
        if not _open(base, *_SOFTWARE, props):
            base.destroy()
            raise DisplayError("no display could be opened: OpenGL (EGL) and the software "
                               "renderer both failed; run `vrgmi doctor`")
        why = "" if mode is DisplayMode.SOFTWARE else f"no OpenGL display ({mode.value}); "
        log.warning("vrgmi: %susing the software renderer p3tinydisplay: shaders are off", why)
        mode = DisplayMode.SOFTWARE
    elif opened == "offscreen" and mode is DisplayMode.DESKTOP:
        log.warning("vrgmi: the desktop window did not open; rendering offscreen")
        mode = DisplayMode.HEADLESS
    if mode is DisplayMode.HEADLESS:
        _pace_offscreen(True)         # one frame in flight offscreen
    base.disable_mouse()  # the camera moves only with the head
    set_srgb_encoding(base.render, not base.win.get_fb_properties().get_srgb_color())
    set_lighting(base.render)
    gsg = base.win.get_gsg()
    return Display(base, mode, mode is not DisplayMode.SOFTWARE and shaders_supported(gsg))


def _open(base, module: str, kind: str, props: WindowProperties) -> bool:
    pipe = base.makeModulePipe(module)
    if pipe is None:
        return False
    base.pipe = pipe
    if base.openMainWindow(type=kind, props=props, size=props.get_size(), pipe=pipe,
                           requireWindow=False):
        return True
    base.winList[:] = [w for w in base.winList if w is not None]  # ShowBase keeps a None
    return False


def grab_rgba(base, output: GraphicsOutput | None = None, render: bool = True) -> np.ndarray:
    """(height, width, 4) uint8 RGBA of ``output`` (default: the main window), top row
    first, as stored (sRGB-encoded colour). Renders a frame first unless ``render`` is False."""
    output = output or base.win
    if render:
        base.graphicsEngine.render_frame()
    tex = output.get_screenshot()
    if tex is None:
        raise DisplayError(f"the framebuffer of {output.get_name()!r} could not be read")
    data = np.frombuffer(tex.get_ram_image_as("RGBA"), np.uint8)
    return data.reshape(tex.get_y_size(), tex.get_x_size(), 4)[::-1].copy()


def save_png(rgba: np.ndarray, path: str | Path) -> Path:
    """Write an (h, w, 4) or (h, w, 3) uint8 image (top row first) as a PNG; return the path."""
    img = np.asarray(rgba)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] not in (3, 4):
        raise DisplayError(f"save_png wants (h, w, 3|4) uint8, got {img.shape} {img.dtype}")
    if img.shape[2] == 3:
        img = np.concatenate([img, np.full(img.shape[:2] + (1,), 255, np.uint8)], axis=2)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tex = Texture("png")
    tex.setup_2d_texture(img.shape[1], img.shape[0], Texture.T_unsigned_byte, Texture.F_rgba8)
    tex.set_ram_image_as(np.ascontiguousarray(img[::-1]).tobytes(), "RGBA")
    if not tex.write(Filename.from_os_specific(str(path))):
        raise DisplayError(f"could not write the PNG {path}")
    return path
