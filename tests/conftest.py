"""Render fixtures: one offscreen Panda3D display per test process (p3headlessgl on Mesa
llvmpipe when there is no GPU), and a clean scene root per test."""
from __future__ import annotations

import pytest
from hypothesis import settings

# property tests explore the same examples on every run: CI is repeatable, not a lottery
settings.register_profile("vrgmi", derandomize=True)
settings.load_profile("vrgmi")


@pytest.fixture(scope="session")
def display():
    """The process's headless display (a ShowBase with a 256 x 256 offscreen buffer)."""
    from vrgmi.render.display import open_display

    opened = open_display("headless", size=(256, 256))
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def showbase(display):
    """The ShowBase of :func:`display`."""
    return display.base


@pytest.fixture
def scene(display):
    """A fresh node under ``render`` for one test; afterwards the node is removed and the
    camera, lens and clear colour are back to a known state (camera at the origin looking
    along +Y, 60 deg perspective lens, black transparent clear)."""
    from panda3d.core import PerspectiveLens

    base = display.base
    root = base.render.attach_new_node("test_scene")
    lens = PerspectiveLens()
    lens.set_fov(60)
    lens.set_near_far(0.05, 100.0)
    base.cam.node().set_lens(lens)
    base.camera.set_pos_hpr(0, 0, 0, 0, 0, 0)   # engines move the camera with the head
    base.cam.set_pos_hpr(0, 0, 0, 0, 0, 0)
    base.win.set_clear_color((0.0, 0.0, 0.0, 0.0))
    yield root
    root.remove_node()
