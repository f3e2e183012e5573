"""DesktopSource: the mouse-to-hand mapping and the no-display error (no window needed)."""
from __future__ import annotations

import numpy as np
import pytest

from vrgmi.tracking.desktop import NO_DISPLAY, DesktopSource, NoDisplayError, mouse_to_grip
from vrgmi.tracking.frame import TrackingFrame
from vrgmi.tracking.scripted import SeatedBody, SourceError


def _grip(mx, my, steps, side="right", height=1.75):
    return mouse_to_grip(mx, my, steps, side, height, np.empty(7))


def test_no_display_is_one_plain_sentence(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    with pytest.raises(NoDisplayError) as info:
        DesktopSource()
    assert str(info.value) == ("No display is available for the desktop source; "
                               "use --source scripted or a replay.") == NO_DISPLAY


def test_mouse_maps_to_a_hand_in_front_of_the_body():
    centre = _grip(0.0, 0.0, 0.0)
    np.testing.assert_allclose(centre[:3], [0.15, 0.38, 0.90])
    assert np.linalg.norm(centre[3:]) == pytest.approx(1.0)
    assert _grip(0.5, 0.0, 0.0)[0] > centre[0]            # mouse right -> hand right
    assert _grip(0.0, 0.5, 0.0)[2] > centre[2]            # mouse up -> hand up
    assert _grip(0.0, 0.0, 2.0)[1] == pytest.approx(centre[1] + 0.06)   # wheel -> farther
    left = _grip(0.0, 0.0, 0.0, "left")
    np.testing.assert_allclose(left[:3], centre[:3] * [-1, 1, 1])
    assert _grip(0.5, 0.0, 0.0, "left")[0] > left[0]      # screen right is right for both


@pytest.mark.parametrize("side", ["right", "left"])
def test_hand_stays_within_reach_and_in_front(side):
    body = SeatedBody(1.75)
    shoulder = body.shoulder * ([1, 1, 1] if side == "right" else [-1, 1, 1])
    for mx in np.linspace(-3, 3, 13):                      # beyond the window is clamped
        for my in np.linspace(-3, 3, 13):
            for steps in (-50.0, 0.0, 50.0):
                g = _grip(mx, my, steps, side)
                assert np.linalg.norm(g[:3] - shoulder) <= 0.55 + 1e-9
                assert g[1] >= 0.15 - 1e-9


def test_bad_side_is_rejected():
    with pytest.raises(SourceError, match="intact_side 'up'"):
        _grip(0.0, 0.0, 0.0, "up")


class _Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def getX(self):
        return self.x

    def getY(self):
        return self.y


class _Watcher:
    def __init__(self):
        self.mouse = None
        self.down = set()

    def hasMouse(self):
        return self.mouse is not None

    def getMouse(self):
        return _Point(*self.mouse)

    def isButtonDown(self, button):
        return button.getName() in self.down


class _Base:
    """Just what DesktopSource uses of a ShowBase (mouse watcher, event hooks)."""

    def __init__(self):
        self.mouseWatcherNode = _Watcher()
        self.hooks = {}

    def accept(self, event, fn, args):
        self.hooks[event] = (fn, args)

    def send(self, event):
        fn, args = self.hooks[event]
        fn(*args)


def test_source_follows_the_mouse_wheel_and_buttons():
    base = _Base()
    src = DesktopSource(base, intact_side="left")
    frame = TrackingFrame()
    assert src.poll(1.0, frame) and not frame.grip_valid.any() and frame.head_valid
    base.mouseWatcherNode.mouse = (0.2, -0.1)
    base.mouseWatcherNode.down = {"mouse1"}
    base.send("wheel_up")
    assert src.poll(1.01, frame)
    assert frame.grip_valid.tolist() == [True, False]
    np.testing.assert_allclose(frame.grip[0], _grip(0.2, -0.1, 1.0, "left"))
    assert frame.trigger.tolist() == [1.0, 0.0] and frame.squeeze.tolist() == [0.0, 0.0]
    assert frame.t == 1.01 and frame.head[2] == pytest.approx(1.2)
