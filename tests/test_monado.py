"""vrgmi on Monado, the open-source OpenXR runtime (a runtime written by others), headless:
the null compositor, the remote driver moving the headset and controllers over TCP (one
port and config folder per test worker), the Khronos core validation layer on and clean;
for the EGL binding (no X server) and the GLX binding (Xvfb).

Each scenario runs in a child process (tests/monado_child.py: one Panda3D display and one
runtime per process). The null compositor paces frames at about 20 Hz and slows under load:
these tests assert states, poses, pixels and frame counts, never a frame rate. What Monado
cannot do (focus loss, session loss, a vanishing runtime, trackers) stays with the scripted
runtime (tests/test_openxr_session.py).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from test_desktop_window import x_display  # noqa: F401  (fixture: Xvfb)
from tests.eye_pixels import skin_near
from tests.monado import REPO, monado_env, monado_manifest, worker_port
from tests.xr_runtime.harness import validation_problems
from vrgmi.body.mirror import mirror_points
from vrgmi.spatial import stage_to_engine_pose

FRAMES = 16


@pytest.fixture(scope="session")
def monado() -> Path:
    """The built runtime's manifest (one build, shared by every worker)."""
    return monado_manifest()


def run_child(tmp_path: Path, scenario: str, mode: str, *args: str,
              display: str | None = None) -> tuple[dict, list[str]]:
    """Run a scenario of tests/monado_child.py on Monado; (its result.json, the validation
    layer's messages)."""
    port = worker_port()
    validation = tmp_path / "validation.txt"
    env = monado_env(tmp_path / "config", port, validation, display)
    res = subprocess.run([sys.executable, str(REPO / "tests" / "monado_child.py"), scenario,
                          str(tmp_path), str(port), mode, *args], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    messages = validation.read_text().splitlines() if validation.exists() else []
    return json.loads((tmp_path / "result.json").read_text()), messages


@pytest.mark.parametrize("binding", ["EGL", "GLX"])
def test_monado_session_focuses_shows_both_limbs_and_mirrors_the_controller_at_once(
        monado, binding, request, tmp_path):
    display = request.getfixturevalue("x_display") if binding == "GLX" else None
    result, messages = run_child(tmp_path, "mirror",
                                 "desktop" if display else "headless", str(FRAMES),
                                 display=display)
    assert result["runtime"].startswith("Monado") and result["binding"] == binding
    assert result["fallback"] is None and result["xr"]["frames"] == FRAMES
    assert "FOCUSED" in result["states"] and result["states"][-1] == "FOCUSED"
    assert messages, "the core validation layer did not run"
    bad = validation_problems(messages)
    assert not bad, "\n".join(bad)

    # every frame's poses were located at that frame's predicted display time
    f = np.load(tmp_path / "frames.npz")
    assert result["xr"]["pose_time_mismatch_ns"] == 0
    np.testing.assert_array_equal(f["located"], f["predicted"])
    assert len(f["predicted"]) >= FRAMES - 4 and f["grip_valid"].all()
    # the remote driver moved the intact controller (a new pose after every second frame):
    # the grip is the pose Monado serves (the one just sent, or while Monado's socket thread
    # has not read it yet, the one before; from the hold's second frame on, the one sent),
    # and in every frame the phantom is the mirror image of that same frame's intact limb
    moved = 0
    for k in range(2, len(f["grip"])):
        now, before = (stage_to_engine_pose(f["sent"][j]) for j in (k, k - 1))
        if np.array_equal(f["sent"][k], f["sent"][k - 1]):
            np.testing.assert_allclose(f["grip"][k], now, atol=1e-5)
        else:
            assert np.allclose(f["grip"][k], now, atol=1e-5) or \
                np.allclose(f["grip"][k], before, atol=1e-5), f"frame {k}: an unsent grip"
        mirrored = mirror_points(f["intact"][k], f["torso"][k], np.empty_like(f["intact"][k]))
        np.testing.assert_allclose(f["phantom"][k], mirrored, atol=1e-6)
        moved += not np.allclose(f["grip"][k], f["grip"][k - 1])
    assert moved >= (len(f["grip"]) - 2) // 2 - 1
    assert np.ptp(f["phantom"][1:, -1], axis=0).max() > 0.05       # the phantom did move

    eyes = np.load(tmp_path / "eyes.npz")
    images = [eyes["left"], eyes["right"]]
    for eye, img in enumerate(images):
        assert img.shape == (240, 320, 4)                   # Monado's simulated eye size
        for limb in ("intact", "phantom"):
            inside, skin = skin_near(img, eyes[f"{limb}{eye}"])
            assert inside >= 10, f"the {limb} limb is not in eye {eye}'s view"
            assert skin >= 0.6 * inside, f"eye {eye} does not show the {limb} limb " \
                                         f"({skin} of {inside} joints on skin)"
    assert 1.0 < np.abs(images[0].astype(int) - images[1]).mean() < 60.0


@pytest.mark.parametrize("driver", ["remote", "simulated"])
def test_monado_doctor_says_the_headset_is_simulated(monado, driver, tmp_path):
    env = monado_env(tmp_path / "config", worker_port(), tmp_path / "validation.txt")
    if driver == "simulated":
        env.pop("P_OVERRIDE_ACTIVE_CONFIG")
        env.update({"SIMULATED_ENABLE": "1", "SIMULATED_LEFT": "simple",
                    "SIMULATED_RIGHT": "simple"})
    res = subprocess.run([sys.executable, "-m", "vrgmi", "doctor"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    (line,) = [ln for ln in res.stdout.splitlines() if " openxr " in ln]
    assert line.startswith("[--]") and "runtime 'Monado" in line
    system = "Remote HMD" if driver == "remote" else "Simulated HMD"
    assert f"headset: Monado: {system} (a simulated headset" in line
    assert "no real headset, nothing reaches a patient" in line


def test_monado_clinic_day_of_two_sessions_answered_with_the_controllers(monado, tmp_path):
    from PIL import Image

    result, messages = run_child(tmp_path, "day", "headless")
    # one OpenXR session for the whole day: never lost, never reconnected, no fallback
    assert result["binding"] == "EGL" and result["fallback"] is None
    assert (result["xr"]["lost"], result["xr"]["reconnects"]) == (0, 0)
    assert result["xr"]["pose_time_mismatch_ns"] == 0
    first, second = result["summaries"]
    assert first["session"] != second["session"]
    for summary in (first, second):          # the NRS answered with the thumbstick and A
        assert summary["reason"] == "emergency_stop" and summary["nrs_pre"] == 7
    # a laterality picture in each session answered with the trigger on its side
    answered = [t for t in result["trials"] if t["answer"] is not None]
    assert len(answered) >= 2 and all(t["answer"] == t["side"] for t in answered)
    assert {t["side"] for t in answered} <= {"left", "right"}
    # the companion's live view published the patient's view all day
    assert result["pictures"] >= 3
    with Image.open(tmp_path / "live.jpg") as picture:
        assert picture.width == 320
        pixels = np.asarray(picture.convert("RGB"), dtype=int)
    assert pixels.std() > 10.0                              # a picture, not a blank frame
    assert messages and not validation_problems(messages), "\n".join(
        validation_problems(messages))


def test_monado_build_is_cached_outside_the_checkout_and_reused(monado):
    res = subprocess.run(["bash", str(REPO / "tools" / "build-monado.sh")], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0 and "building" not in res.stderr     # the cached build
    manifest = Path(res.stdout.strip().splitlines()[-1])
    assert manifest == monado and manifest.is_absolute() and REPO not in manifest.parents
    library = Path(json.loads(manifest.read_text())["runtime"]["library_path"])
    assert library.is_absolute() and library.exists()
