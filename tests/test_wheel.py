"""The built wheel carries its models and shaders: installed into a fresh environment outside
the checkout, `vrgmi demo` finds them there and renders."""
from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_installed_wheel_runs_the_demo(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(dist), str(REPO)], check=True, cwd=tmp_path)
    wheel = next(dist.glob("vrgmi-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True)
    # third-party dependencies are borrowed from the test environment (a plain path entry:
    # its .pth files, including the checkout's editable install, are not processed)
    deps = Path(sysconfig.get_paths()["purelib"])
    (Path(site.stdout.strip()) / "borrowed_deps.pth").write_text(f"{deps}\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                   check=True)
    where = subprocess.run([str(python), "-c", "import vrgmi, vrgmi.render.resources as r; "
                            "print(vrgmi.__file__); print(r.data_root())"],
                           capture_output=True, text=True, check=True, cwd=tmp_path)
    package, data = where.stdout.split()
    assert package.startswith(str(venv)) and data.startswith(str(venv)), where.stdout
    out = tmp_path / "demo"
    run = subprocess.run([str(venv / "bin" / "vrgmi"), "demo", "--frames", "30", "--out",
                          str(out)], capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    shots = sorted(p.name for p in out.glob("*.png"))
    assert "patient_0.png" in shots and "therapist_0.png" in shots
    assert (out / "recording.npz").is_file() and (out / "report.json").is_file()
    # the wheel carries the records' migrations and the companion's page; its scenes are
    # registered: a session from the installed package records into a fresh database
    check = subprocess.run(
        [str(python), "-c",
         "from importlib.resources import files; from vrgmi.records import open_database; "
         "from vrgmi.scenes import available_scenes; "
         "db = open_database('sqlite:///' + __import__('sys').argv[1]); db.close(); "
         "print(sorted(p.name for p in (files('vrgmi.companion') / 'static').iterdir())); "
         "print(len(available_scenes())); "
         "from vrgmi import i18n; i18n.set_language('de'); print(i18n._('Nausea'))",
         str(tmp_path / "records.sqlite")],
        capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert check.returncode == 0, check.stderr[-2000:]
    static, scenes, german = check.stdout.split("\n")[:3]
    assert "index.html" in static and "app.js" in static
    assert int(scenes) >= 13
    assert german == "Übelkeit"           # the German catalog travels in the wheel
