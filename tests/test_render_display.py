"""Display choice and fallback, framebuffer grabs and PNGs."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from panda3d.core import CardMaker, Filename, PNMImage

from vrgmi.render import display as display_module
from vrgmi.render.color import linear_to_srgb
from vrgmi.render.display import (DisplayError, DisplayMode, choose_display_mode, grab_rgba,
                                  save_png)


@pytest.mark.parametrize("platform, env, expected", [
    ("linux", {}, DisplayMode.HEADLESS),
    ("linux", {"DISPLAY": ":0"}, DisplayMode.DESKTOP),
    ("linux", {"WAYLAND_DISPLAY": "wayland-0"}, DisplayMode.DESKTOP),
    ("win32", {}, DisplayMode.DESKTOP),
])
def test_auto_picks_desktop_only_when_there_is_one(monkeypatch, platform, env, expected):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(display_module.sys, "platform", platform)
    assert choose_display_mode("auto") is expected
    assert choose_display_mode("software") is DisplayMode.SOFTWARE


def test_bad_requests_are_one_line():
    with pytest.raises(DisplayError, match="'vr' is not one of auto, desktop, headless, "
                                          "software"):
        choose_display_mode("vr")
    with pytest.raises(DisplayError, match="outside 16..16384"):
        display_module.open_display("headless", size=(8, 8))


def test_headless_display_is_srgb_and_refuses_a_second_one(display):
    assert display.mode is DisplayMode.HEADLESS
    assert display.win.get_fb_properties().get_srgb_color()
    with pytest.raises(DisplayError, match="already open"):
        display_module.open_display("headless")


def test_grab_is_top_row_first_and_srgb_encoded(display, scene):
    display.base.win.set_clear_color((0.2, 0.5, 0.8, 1.0))
    card = CardMaker("top")
    card.set_frame(-10, 10, 0, 10)          # everything above the horizon
    top = scene.attach_new_node(card.generate())
    top.set_y(5)
    top.set_color(1, 1, 1, 1)
    img = grab_rgba(display.base)
    assert img.shape == (256, 256, 4) and img.dtype == np.uint8
    assert np.all(img[:100, :, :3] == 255)
    clear = np.round(linear_to_srgb(np.array([0.2, 0.5, 0.8])) * 255)
    assert np.abs(img[200:, :, :3].astype(int) - clear).max() <= 1


def test_png_round_trip(tmp_path):
    rng = np.random.default_rng(7)
    img = rng.integers(0, 256, size=(48, 64, 4), dtype=np.uint8)
    path = save_png(img, tmp_path / "sub" / "shot.png")
    back = PNMImage(Filename.from_os_specific(str(path)))
    assert (back.get_x_size(), back.get_y_size(), back.get_num_channels()) == (64, 48, 4)
    for row, col in ((0, 0), (5, 60), (47, 13)):
        rgba = [round(v * 255) for v in back.get_xel_a(col, row)]
        assert rgba == list(img[row, col])
    rgb = save_png(img[..., :3], tmp_path / "rgb.png")
    assert PNMImage(Filename.from_os_specific(str(rgb))).get_alpha(1, 1) == 1.0
    with pytest.raises(DisplayError, match="uint8"):
        save_png(img.astype(np.float32), tmp_path / "bad.png")


def _open_in_subprocess(mode: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    code = ("from vrgmi.render.display import open_display, grab_rgba\n"
            f"d = open_display({mode!r}, size=(64, 48))\n"
            "print(d.mode.value, d.shaders, grab_rgba(d.base).shape)\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env)


def test_software_fallback_warns_once_that_shaders_are_off():
    env = dict(os.environ, __EGL_VENDOR_LIBRARY_FILENAMES="/nonexistent/egl_vendor.json")
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    result = _open_in_subprocess("headless", env)   # EGL finds no driver
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["software", "False", "(48,", "64,", "4)"]
    assert result.stderr.strip().splitlines() == [
        "vrgmi: no OpenGL display (headless); using the software renderer p3tinydisplay: "
        "shaders are off"]


def test_a_closed_display_can_be_opened_again():
    code = ("from vrgmi.render.display import open_display, grab_rgba\n"
            "first = open_display('headless', size=(32, 32))\n"
            "first.close()\n"
            "second = open_display('headless', size=(40, 24))\n"
            "print(second.mode.value, second.shaders, grab_rgba(second.base).shape)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["headless", "True", "(24,", "40,", "4)"]
