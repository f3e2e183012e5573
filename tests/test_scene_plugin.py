"""Third-party scenes: the example package, pip-installed, is found by `vrgmi scenes` like a
built-in one; a broken plug-in gives one line, not a traceback."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "vrgmi-scene-example"
VRGMI = str(Path(sys.executable).with_name("vrgmi"))


def run(args: list[str], path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(path))
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The example installed with pip into its own folder (the dev environment stays as it
    is; the folder goes on PYTHONPATH, where importlib.metadata finds its entry point)."""
    root = tmp_path_factory.mktemp("plugin")
    src = root / "src"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = root / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps",
                           "--no-build-isolation", "--no-index", "--quiet", "--target",
                           str(target), str(src)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return target


def test_vrgmi_scenes_lists_the_installed_plugin(installed):
    out = run([VRGMI, "scenes"], installed)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("balloon_pop"))
    assert "mirror" in lines[head] and "pop balloons with the mirrored hand" in lines[head]
    params = lines[head + 1:head + 4]
    assert params[0].split()[:4] == ["balloons", "int", "default", "10"]
    assert "1..50" in params[0] and "balloons in one run" in params[0]
    assert "0.03..0.15 m" in params[1] and "2..30 s" in params[2]
    assert any(line.startswith("free_mirror") for line in lines)     # built-ins still there


def test_vrgmi_scenes_json_describes_the_plugin(installed):
    out = run([VRGMI, "scenes", "--json"], installed)
    scenes = {s["name"]: s for s in json.loads(out.stdout)}
    balloon = scenes["balloon_pop"]
    assert balloon["phase"] == "mirror" and balloon["limbs"] == ["arm"]
    assert balloon["params"][1] == {"name": "radius_m", "kind": "float", "default": 0.07,
                                    "help": "balloon radius: bigger is easier", "lo": 0.03,
                                    "hi": 0.15, "unit": "m"}
    assert "popped" in balloon["trial_fields"] and balloon["emits"] == ["trial"]


def test_the_session_runner_finds_the_plugin(installed):
    code = ("from vrgmi.session import resolve_scene; c = resolve_scene('balloon_pop'); "
            "print(c.__module__, c(balloons=3).difficulty['balloons'])")
    out = run([sys.executable, "-c", code], installed)
    assert out.stdout.split() == ["vrgmi_scene_example.balloon_pop", "3"], out.stderr


def broken_plugin(root: Path) -> Path:
    """A dist-info whose entry point names a module that does not import."""
    site = root / "broken-site"
    info = site / "broken_scene-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-scene\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[vrgmi.scenes]\nbroken = broken_scene:Broken\n")
    (site / "broken_scene.py").write_text("import no_such_dependency\n")
    return site


def test_a_broken_plugin_gives_one_line(tmp_path):
    site = broken_plugin(tmp_path)
    out = run([VRGMI, "scenes"], site)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert "scene plug-in 'broken'" in out.stderr and "no_such_dependency" in out.stderr
    # a session only loads the scenes it runs: the broken one does not stop it
    code = ("from vrgmi.session import resolve_scene; print(resolve_scene('free_mirror').__name__);"
            "resolve_scene('broken')")
    out = run([sys.executable, "-c", code], site)
    assert out.stdout.strip() == "FreeMirror"
    assert "session: scene plug-in 'broken' (broken_scene:Broken) failed to load: " \
           "ModuleNotFoundError" in out.stderr


def test_the_example_places_its_balloons_within_reach(display, scene, monkeypatch):
    """Started straight away (before the torso is tracked), the first balloon still appears
    in front of the missing arm's shoulder, above the table, not at the origin."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    from vrgmi_scene_example.balloon_pop import BalloonPop

    from vrgmi.app import Engine
    from vrgmi.settings import Settings
    from vrgmi.tracking.scripted import ScriptedSource

    balloons = BalloonPop(time_limit_s=2.0, balloons=2)
    engine = Engine(Settings(), ScriptedSource("reach", intact_side="right"), display,
                    scene=balloons)
    try:
        targets = []
        for i in range(5 * 90):
            engine.frame(i / 90, 1 / 90, render=False)
            if not targets or not np.array_equal(targets[-1], balloons.target):
                targets.append(balloons.target.copy())
        shoulder = engine.core.torso.shoulder(engine.core.amputated)
        trials = engine.events.of_kind("trial", "balloon_pop")
    finally:
        engine.close()
    assert len(trials) == 2 and balloons.finished
    assert len(targets) == 2                   # recorded after each frame: both placed ones
    for target in targets:
        assert 0.3 < target[1] - shoulder[1] < 0.7 and target[2] > shoulder[2] - 0.35
