"""DesktopSource: the mouse and keyboard drive a virtual intact hand (development, demos).

The mapping from the mouse to a hand pose is plain math (:func:`mouse_to_grip`), testable
without a display; the source itself needs a Panda3D window (the render layer passes its
ShowBase, or one is opened here).
"""
from __future__ import annotations

import os
import sys

import numpy as np

from vrgmi.errors import VrgmiError
from vrgmi.tracking.frame import PoseSource, TrackingFrame
from vrgmi.tracking.scripted import SeatedBody, check_side

NO_DISPLAY = "No display is available for the desktop source; use --source scripted or a replay."

# hand pointing forward, palm medial (the rest pose turned 90 deg about +x): the same
# rotation for both sides, since a rotation about the body's x axis mirrors onto itself
_FORWARD_Q = np.array([np.sin(np.pi / 4), 0.0, 0.0, np.cos(np.pi / 4)])
_CENTRE = np.array([0.15, 0.38, 0.90])   # right hand centre of the mouse range, per 1.75 m
_SPAN = np.array([0.30, 0.03, 0.25])     # metres per unit mouse x, per wheel step, per mouse y
_DEPTH = (0.15, 0.60)                    # forward range of the hand (y), per 1.75 m
_REACH = 0.55                            # the grip stays this close to the shoulder, per 1.75 m


class NoDisplayError(VrgmiError, RuntimeError):
    """No window can be opened for the desktop source."""

    def __init__(self) -> None:
        super().__init__(NO_DISPLAY)


def display_available() -> bool:
    """Whether a window could be shown (on Linux: an X11 or Wayland display is set)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def mouse_to_grip(mouse_x: float, mouse_y: float, depth_steps: float, intact_side: str,
                  height_m: float, out: np.ndarray) -> np.ndarray:
    """Grip pose (7,) in engine space of the seated patient's ``intact_side`` hand.

    ``mouse_x``, ``mouse_y`` are window coordinates in -1..1 (right, up; clamped);
    ``depth_steps`` are mouse-wheel steps away from the body. Screen right is the body's
    right for either hand; the hand stays in front of the body and within reach.
    """
    sign = 2.0 * check_side(intact_side) - 1.0
    body = SeatedBody(height_m)
    s = body.s
    mx, my = min(max(mouse_x, -1.0), 1.0), min(max(mouse_y, -1.0), 1.0)
    p = s * _CENTRE * (sign, 1.0, 1.0) + s * _SPAN * (mx, depth_steps, my)
    p[1] = min(max(p[1], _DEPTH[0] * s), _DEPTH[1] * s)
    shoulder = body.shoulder * (sign, 1.0, 1.0)
    d = p - shoulder
    dist = float(np.linalg.norm(d))
    if dist > _REACH * s:
        p = shoulder + d * (_REACH * s / dist)
    out[0:3] = p
    out[3:7] = _FORWARD_Q
    return out


class DesktopSource(PoseSource):
    """Mouse position -> intact hand (wheel: nearer / farther), left button -> trigger,
    right button -> squeeze. Needs a Panda3D ShowBase (``base``); with none, one is opened,
    and where no display exists construction raises :class:`NoDisplayError`."""

    name = "desktop"

    def __init__(self, base: object | None = None, intact_side: str = "right",
                 height_m: float = 1.75) -> None:
        mouse_to_grip(0.0, 0.0, 0.0, intact_side, height_m, np.zeros(7))   # validates
        if base is None:
            if not display_available():
                raise NoDisplayError()
            try:
                from direct.showbase.ShowBase import ShowBase
                base = ShowBase(windowType="onscreen")
            except Exception:
                raise NoDisplayError() from None
        self.base = base
        self.intact_side = intact_side
        self.height_m = height_m
        self._side = check_side(intact_side)
        self._depth = 0.0
        self._head = np.concatenate([SeatedBody(height_m).head, [0.0, 0.0, 0.0, 1.0]])
        base.accept("wheel_up", self._wheel, [1.0])
        base.accept("wheel_down", self._wheel, [-1.0])

    def _wheel(self, step: float) -> None:
        self._depth += step

    def poll(self, display_time: float, frame: TrackingFrame) -> bool:
        from panda3d.core import MouseButton
        watcher = self.base.mouseWatcherNode
        s = self._side
        frame.t = display_time
        frame.head[...] = self._head
        frame.head_valid = True
        frame.grip_valid[...] = False
        frame.aim_valid[...] = False
        frame.hand_valid[...] = False
        frame.tracker_valid[...] = False
        frame.trigger[...] = 0.0
        frame.squeeze[...] = 0.0
        if watcher.hasMouse():
            m = watcher.getMouse()
            mouse_to_grip(m.getX(), m.getY(), self._depth, self.intact_side, self.height_m,
                          frame.grip[s])
            frame.grip_valid[s] = True
            frame.trigger[s] = 1.0 if watcher.isButtonDown(MouseButton.one()) else 0.0
            frame.squeeze[s] = 1.0 if watcher.isButtonDown(MouseButton.three()) else 0.0
        return True
