"""The OpenXR backend's pure parts: bindings table, lens from an asymmetric FOV, recentring
yaw, stage -> engine pose conversion, and the plain sentence when no runtime is there."""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vrgmi.spatial import stage_to_engine_pose
from vrgmi.tracking.xr_profiles import (
    CONTROLLER_ACTIONS, PROFILES, usable_profiles,
)

SEVEN = {"khr/simple_controller", "oculus/touch_controller", "valve/index_controller",
         "htc/vive_controller", "microsoft/motion_controller", "hp/mixed_reality_controller",
         "bytedance/pico4_controller"}


def test_every_listed_profile_binds_both_poses_and_the_trigger_on_both_hands():
    assert {p.path.removeprefix("/interaction_profiles/") for p in PROFILES} == SEVEN
    names = {n for n, _ in CONTROLLER_ACTIONS}
    for p in PROFILES:
        bound = p.bindings()
        assert {a for a, _ in bound} <= names
        for hand in ("left", "right"):
            mine = {a for a, path in bound if path.startswith(f"/user/hand/{hand}/input/")}
            assert {"grip_pose", "aim_pose", "trigger"} <= mine, (p.path, hand)
        assert len({path for _, path in bound}) == len(bound)      # one action per input


def test_hp_and_pico_need_their_extension_on_openxr_1_0_only():
    core_1_0 = {p.path for p in usable_profiles(0, set())}
    assert len(core_1_0) == 5
    assert len(usable_profiles(1, set())) == 7
    assert len(usable_profiles(0, {"XR_EXT_hp_mixed_reality_controller",
                                   "XR_BD_controller_interaction"})) == 7


def test_lens_from_asymmetric_fov_maps_the_fov_edges_to_the_image_edges():
    from panda3d.core import PerspectiveLens, Point2, Point3

    from vrgmi.render.xr_display import film_from_fov
    left, right, up, down = -0.9, 0.7, 0.8, -0.95
    lens = PerspectiveLens()
    w, h, ox, oy = film_from_fov(left, right, up, down)
    lens.set_film_size(w, h)
    lens.set_film_offset(ox, oy)
    lens.set_focal_length(1.0)
    out = Point2()
    for point, axis, edge in ((Point3(math.tan(right), 1, 0), 0, 1.0),
                              (Point3(math.tan(left), 1, 0), 0, -1.0),
                              (Point3(0, 1, math.tan(up)), 1, 1.0),
                              (Point3(0, 1, math.tan(down)), 1, -1.0)):
        assert lens.project(point, out)
        assert out[axis] == pytest.approx(edge, abs=1e-5)


def test_recentre_pose_turns_forward_onto_minus_z_and_stays_on_the_floor():
    from vrgmi.tracking.openxr import yaw_pose
    position, q = yaw_pose((0.3, 1.2, -0.4), (1.0, -0.2, 0.0))   # looking along +x, down
    assert position == (0.3, 0.0, -0.4)
    x, y, z, w = q
    # the new space's -Z axis, in the old space: rotate (0, 0, -1) by q (about +Y only)
    fwd = (-2 * (x * z + w * y), -2 * (y * z - w * x), -(1 - 2 * (x * x + y * y)))
    assert fwd == pytest.approx((1.0, 0.0, 0.0), abs=1e-12)


def test_stage_pose_into_matches_the_spatial_conversion():
    import xr

    from vrgmi.tracking.xr_input import stage_pose_into
    q = np.array([0.1, -0.3, 0.2, 0.9])
    q /= np.linalg.norm(q)
    stage = np.array([0.2, 1.1, -0.5, *q])
    pose = xr.Posef(orientation=xr.Quaternionf(*stage[3:]), position=xr.Vector3f(*stage[:3]))
    out = np.zeros(7)
    stage_pose_into(pose, out)
    assert out == pytest.approx(stage_to_engine_pose(stage), abs=1e-6)


def test_no_runtime_is_one_plain_sentence(monkeypatch, tmp_path):
    from vrgmi.tracking.openxr import XrUnavailableError, offered_extensions
    monkeypatch.setenv("XR_RUNTIME_JSON", str(tmp_path / "missing.json"))
    with pytest.raises(XrUnavailableError) as err:
        offered_extensions()
    assert "\n" not in str(err.value) and "OpenXR runtime" in str(err.value)


def test_vrgmi_run_without_a_runtime_falls_back_headless_without_a_traceback(tmp_path):
    env = {"XR_RUNTIME_JSON": str(tmp_path / "missing.json"), "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path)}
    res = subprocess.run([sys.executable, "-m", "vrgmi", "run", "--seconds", "0.05",
                          "--set", f"data.out_dir={tmp_path / 'out'}"],
                         capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert "no headset (the OpenXR runtime did not answer" in res.stderr
    assert "headless demo" in res.stderr


def test_active_runtime_is_found_where_each_platform_keeps_it(tmp_path, monkeypatch):
    from vrgmi.doctor import openxr_manifest

    monkeypatch.delenv("XR_RUNTIME_JSON", raising=False)
    # Windows: the loader's registry key (SteamVR, Meta's runtime); nothing set -> no runtime
    steamvr = r"C:\Program Files (x86)\Steam\steamapps\common\SteamVR\steamxr_win64.json"
    assert openxr_manifest("win32", lambda: steamvr) == Path(steamvr)
    assert openxr_manifest("win32", lambda: None) is None
    # Linux: the XDG config folders first
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    manifest = tmp_path / "openxr" / "1" / "active_runtime.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("{}")
    assert openxr_manifest("linux") == manifest
    # XR_RUNTIME_JSON wins everywhere
    monkeypatch.setenv("XR_RUNTIME_JSON", str(tmp_path / "monado.json"))
    assert openxr_manifest("win32", lambda: steamvr) == tmp_path / "monado.json"
