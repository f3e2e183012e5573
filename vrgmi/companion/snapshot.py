"""The patient's view for the companion: a small JPEG a few times a second, cheaply.

The frame loop calls :meth:`LiveView.after_render` once per frame, after the draw. When a
picture is due (and somebody watches), it switches on a small offscreen buffer (about
320 x 180) that sees through the patient's camera and asks Panda3D to copy its next draw to
RAM; on the following frame it switches the buffer off again and hands the pixels to an
encoder thread, which encodes a JPEG (Pillow releases the GIL while it works) and publishes
it on the :class:`StatusBoard`. The frame thread only flips flags and passes a reference.
"""
from __future__ import annotations

import io
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from panda3d.core import FrameBufferProperties, GraphicsOutput, Texture
from PIL import Image

from vrgmi.control import StatusBoard
from vrgmi.render.display import DisplayError

LIVE_FPS = 4.0
LIVE_WIDTH = 320
JPEG_QUALITY = 70


class LiveView:
    """Publishes the patient's view on ``board`` at up to ``fps`` pictures a second.

    It draws the main camera's view into a small offscreen buffer of its own (``width``
    pixels wide, the window's aspect), active only for the one draw that takes a picture,
    so a capture costs a small extra draw and a small read-back, never a full-size one.
    ``wanted`` says whether anyone watches (e.g. ``lambda: companion.watching > 0``);
    while it is False nothing is drawn, copied or encoded.
    """

    def __init__(self, base: Any, board: StatusBoard, fps: float = LIVE_FPS,
                 width: int = LIVE_WIDTH, quality: int = JPEG_QUALITY,
                 wanted: Callable[[], bool] = lambda: True, camera: Any = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.board = board
        self.period = 1.0 / fps
        self.quality = quality
        self.wanted = wanted
        self._clock = clock
        win = base.win
        height = max(2, round(width * win.get_y_size() / win.get_x_size()))
        self._texture = Texture("vrgmi-live-view")
        host = win.get_fb_properties()
        props = FrameBufferProperties()
        props.set_rgba_bits(8, 8, 8, 8)
        props.set_depth_bits(max(16, host.get_depth_bits()))
        props.set_srgb_color(host.get_srgb_color())   # the same colours as the patient sees
        self.buffer = win.make_texture_buffer("vrgmi-live-view", width, height,
                                              Texture("vrgmi-live-view-colour"), False, props)
        if self.buffer is None:
            raise DisplayError("live view: this display cannot make an offscreen buffer")
        self.buffer.add_render_texture(self._texture, GraphicsOutput.RTM_triggered_copy_ram)
        region = self.buffer.make_display_region()
        region.set_camera(camera or base.cam)
        self.buffer.set_active(False)
        self._base = base
        self._triggered = False
        self._next = 0.0
        self._busy = threading.Event()
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.encode_ms: list[float] = []
        self.published = 0
        self._thread = threading.Thread(target=self._encode_loop, name="vrgmi-live-view",
                                        daemon=True)
        self._thread.start()

    @property
    def capture_pending(self) -> bool:
        """True when the next draw takes a picture for the live view."""
        return self._triggered

    def after_render(self) -> None:
        """Frame thread, once per frame after the draw: hand over or ask for a picture."""
        if self._triggered:
            self._triggered = False
            self.buffer.set_active(False)
            if self._texture.has_ram_image():
                self._busy.set()
                self._jobs.put((self._texture.get_ram_image(), self._texture.get_x_size(),
                                self._texture.get_y_size()))
            return
        now = self._clock()
        if now < self._next or self._busy.is_set() or not self.wanted():
            return
        self._next = now + self.period
        self.buffer.set_clear_color(self._base.win.get_clear_color())   # e.g. the calm view
        self.buffer.set_active(True)
        self.buffer.trigger_copy()
        self._triggered = True

    def close(self) -> None:
        """Stop the encoder thread and remove the offscreen buffer."""
        self._jobs.put(None)
        self._thread.join(timeout=5.0)
        self._base.graphicsEngine.remove_window(self.buffer)

    def _encode_loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            ram, w, h = job
            t0 = time.perf_counter()
            try:
                self.board.publish_image(encode_view(memoryview(ram), w, h, w, self.quality))
                self.published += 1
            except (ValueError, OSError):     # an odd buffer: skip this picture
                pass
            finally:
                self.encode_ms.append((time.perf_counter() - t0) * 1e3)
                del self.encode_ms[:-256]
                self._busy.clear()


def encode_view(bgra: memoryview | bytes, width: int, height: int, out_width: int = LIVE_WIDTH,
                quality: int = JPEG_QUALITY) -> bytes:
    """JPEG bytes of a bottom-up BGRA frame buffer (Panda3D's RAM image), ``out_width`` wide."""
    image = Image.frombuffer("RGBA", (width, height), bgra, "raw", "BGRA", 0, -1)
    factor = max(1, width // out_width)
    if factor > 1:
        image = image.reduce(factor)
    out_h = max(1, round(image.height * out_width / image.width))
    if image.size != (out_width, out_h):
        image = image.resize((out_width, out_h), Image.BILINEAR)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()
