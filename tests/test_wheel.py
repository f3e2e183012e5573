"""The built wheel is all a clinic needs at run time: installed with pip into a clean virtual
environment outside the checkout (its dependencies resolved by pip from the wheel's own
metadata, nothing borrowed from the test environment), it finds its models and shaders,
runs a headless session of a patient's program and a headset session on Monado (the
open-source OpenXR runtime, simulated headset, core validation layer on)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.monado import monado_env, monado_manifest, worker_port
from tests.xr_runtime.harness import validation_problems

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A clean venv with the freshly built wheel installed by pip; returns its bin folder."""
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(dist), str(REPO)], check=True, cwd=root,
                   capture_output=True)
    wheel = next(dist.glob("vrgmi-*.whl"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    res = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)],
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    return bin_dir


def user_env(root: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this environment) with a home and data folders of its own, no
    display, no OpenXR runtime unless ``base`` names one, and nothing from the checkout."""
    env = dict(os.environ if base is None else base)
    for key in ("DISPLAY", "WAYLAND_DISPLAY", "PYTHONPATH", "VIRTUAL_ENV"):
        env.pop(key, None)
    if base is None:
        env.pop("XR_RUNTIME_JSON", None)
    home = root / "home"
    env.update({"HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
                "XDG_CACHE_HOME": str(home / "cache"), "XDG_CONFIG_HOME": str(home / "config")})
    return env


def test_installed_wheel_runs_the_demo_and_a_headless_session(installed, tmp_path):
    where = subprocess.run([str(installed / "python"), "-c",
                            "import vrgmi, vrgmi.render.resources as r, numpy, panda3d; "
                            "print(vrgmi.__file__); print(r.data_root()); print(numpy.__file__); "
                            "print(panda3d.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path,
                           env=user_env(tmp_path))
    venv = installed.parent
    # the package, its data and its dependencies all come from the clean venv
    assert all(p.startswith(str(venv)) for p in where.stdout.split()), where.stdout
    out = tmp_path / "demo"
    run = subprocess.run([str(installed / "vrgmi"), "demo", "--frames", "30", "--out",
                          str(out)], capture_output=True, text=True, cwd=tmp_path,
                         env=user_env(tmp_path), timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    shots = sorted(p.name for p in out.glob("*.png"))
    assert "patient_0.png" in shots and "therapist_0.png" in shots
    assert (out / "recording.npz").is_file() and (out / "report.json").is_file()

    out = tmp_path / "session"
    run = subprocess.run([str(installed / "vrgmi"), "session", "--headless", "--block-seconds",
                          "6", "--out", str(out)], capture_output=True, text=True, cwd=tmp_path,
                         env=user_env(tmp_path), timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    (events,) = out.rglob("events-*.jsonl")
    kinds = [json.loads(line)["kind"] for line in events.read_text().splitlines()]
    assert kinds[0] == "session_started" and kinds[-1] == "session_finished"
    assert "trial" in kinds                        # the laterality phase's pictures answered
    assert list(out.rglob("*.png")), "the headless session wrote its screenshots"


def test_installed_wheel_runs_a_monado_headset_session(installed, tmp_path):
    validation = tmp_path / "validation.txt"
    env = monado_env(tmp_path / "monado", worker_port(), validation)
    env.pop("P_OVERRIDE_ACTIVE_CONFIG")            # Monado's simulated headset and controllers
    env.update({"SIMULATED_ENABLE": "1", "SIMULATED_LEFT": "simple",
                "SIMULATED_RIGHT": "simple"})
    env = user_env(tmp_path, env)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "monado")
    assert env["XR_RUNTIME_JSON"] == str(monado_manifest())
    run = subprocess.run([str(installed / "vrgmi"), "run", "--seconds", "4"],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "headset session on 'Monado" in run.stdout and "EGL binding" in run.stdout
    out = tmp_path / "vrgmi-out"
    (events,) = out.glob("events-*.jsonl")
    kinds = [json.loads(line)["kind"] for line in events.read_text().splitlines()]
    assert kinds[0] == "session_started" and kinds[-1] == "session_finished"
    (summary,) = out.glob("summary-*.json")
    assert json.loads(summary.read_text())["reason"] == "stopped"
    assert (out / "recording.npz").is_file()
    messages = validation.read_text().splitlines()
    assert messages and not validation_problems(messages), "\n".join(
        validation_problems(messages))
