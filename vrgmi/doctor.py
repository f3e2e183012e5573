"""`vrgmi doctor`: what this machine offers, in plain words.

Each check returns a (label, ok, sentence) triple; checks never raise.
"""
from __future__ import annotations

import json
import os
import platform
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from vrgmi.paths import default_database_url


@dataclass
class Finding:
    """One line of the doctor's report."""

    label: str
    ok: bool
    text: str

    def line(self) -> str:
        return f"[{'ok' if self.ok else '--'}] {self.label:<10} {self.text}"


def check_python() -> Finding:
    import numba
    import numpy
    return Finding("python", True, f"Python {platform.python_version()}, NumPy {numpy.__version__},"
                                   f" Numba {numba.__version__}")


def check_display() -> Finding:
    for var in ("WAYLAND_DISPLAY", "DISPLAY"):
        if os.environ.get(var):
            return Finding("display", True, f"a desktop display is available ({var}="
                                            f"{os.environ[var]}): the desktop window can open")
    return Finding("display", False, "no desktop display: vrgmi renders offscreen (headless)")


_GL_PROBE = r"""
import json, sys
from panda3d.core import loadPrcFileData, GraphicsEngine, GraphicsPipeSelection, FrameBufferProperties, WindowProperties, GraphicsPipe
loadPrcFileData("", "load-display p3headlessgl\naux-display p3tinydisplay\nnotify-level error\naudio-library-name null")
sel = GraphicsPipeSelection.get_global_ptr()
pipe = sel.make_module_pipe("p3headlessgl")
if pipe is None:
    print(json.dumps({"ok": False, "why": "the p3headlessgl display module did not load"})); sys.exit()
engine = GraphicsEngine.get_global_ptr()
fb = FrameBufferProperties(); fb.set_rgb_color(True); fb.set_depth_bits(16)
buf = engine.make_output(pipe, "probe", 0, fb, WindowProperties.size(16, 16), GraphicsPipe.BF_refuse_window)
if buf is None:
    print(json.dumps({"ok": False, "why": "EGL could not create an offscreen OpenGL context"})); sys.exit()
engine.render_frame()
gsg = buf.get_gsg()
print(json.dumps({"ok": True, "renderer": gsg.get_driver_renderer(), "version": gsg.get_driver_version(),
                  "glsl": "%d.%02d" % (gsg.get_driver_shader_version_major(), gsg.get_driver_shader_version_minor())}))
"""


def check_gl() -> Finding:
    try:
        res = subprocess.run([sys.executable, "-c", _GL_PROBE], capture_output=True, text=True,
                             timeout=60)
        info = json.loads(res.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, json.JSONDecodeError, IndexError):
        return Finding("opengl", False, "offscreen OpenGL through EGL is not working (install "
                                        "libegl1, libegl-mesa0, libgl1-mesa-dri)")
    if not info["ok"]:
        return Finding("opengl", False, info["why"] + " (install libegl1, libegl-mesa0, "
                                                      "libgl1-mesa-dri)")
    return Finding("opengl", True, f"offscreen OpenGL {info['version']} on {info['renderer']} "
                                   f"(GLSL {info['glsl']})")


def _windows_active_runtime() -> str | None:
    """The active runtime's manifest path from the Windows registry, as the loader reads it."""
    import winreg  # noqa: PLC0415  (Windows only)
    try:
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\Khronos\OpenXR\1") as key:
            return str(winreg.QueryValueEx(key, "ActiveRuntime")[0])
    except OSError:
        return None


def openxr_manifest(platform_name: str | None = None,
                    windows_registry: Callable[[], str | None] | None = None) -> Path | None:
    """The active OpenXR runtime manifest the loader would use, if any: ``XR_RUNTIME_JSON``,
    else the platform's own place (Windows: the registry key SteamVR and Meta's runtime set;
    Linux and other Unix: the XDG config folders, then /usr/share)."""
    env = os.environ.get("XR_RUNTIME_JSON")
    if env:
        return Path(env)
    platform_name = platform_name or sys.platform
    if platform_name == "win32":
        found = (windows_registry or _windows_active_runtime)()
        return Path(found) if found else None
    config_home = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    candidates = [config_home / "openxr/1/active_runtime.json"]
    candidates += [Path(d) / "openxr/1/active_runtime.json"
                   for d in os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":") if d]
    candidates.append(Path("/usr/share/openxr/1/active_runtime.json"))
    return next((c for c in candidates if c.exists()), None)


def check_openxr() -> Finding:
    manifest = openxr_manifest()
    if manifest is None:
        return Finding("openxr", False, "no OpenXR runtime is installed: no headset; vrgmi uses "
                                        "the desktop window or headless mode")
    from vrgmi.errors import VrgmiError
    from vrgmi.tracking.openxr import probe_runtime
    try:
        info = probe_runtime()
    except VrgmiError as exc:
        return Finding("openxr", False, f"{exc} ({manifest})")
    simulated = simulated_headset(info.name, info.system)
    note = f" ({simulated}: no real headset, nothing reaches a patient)" if simulated else ""
    return Finding("openxr", info.system != "no headset connected" and not simulated,
                   f"runtime '{info.name}' {info.version} ({manifest}), headset: {info.system}"
                   f"{note}; offers {len(info.extensions)} extensions: "
                   f"{', '.join(sorted(info.extensions))}")


#: Monado's drivers that only pretend to be a headset (P_OVERRIDE_ACTIVE_CONFIG values)
MONADO_SIMULATED_CONFIGS = ("remote", "simulated")


def simulated_headset(runtime: str, system: str) -> str | None:
    """What simulates the headset, or None when it looks like a real one: a system named
    "Simulated", or Monado running its simulated or remote (test) driver."""
    if "simulated" in system.lower():
        return "a simulated headset"
    if runtime.lower().startswith("monado"):
        config = os.environ.get("P_OVERRIDE_ACTIVE_CONFIG", "").lower()
        if config in MONADO_SIMULATED_CONFIGS or "remote" in system.lower():
            return "a simulated headset (Monado's remote driver)"
        if os.environ.get("SIMULATED_ENABLE", "").lower() in ("1", "true", "on", "yes"):
            return "a simulated headset (Monado's simulated driver)"
    return None


def check_database(url: str) -> Finding:
    url = url or default_database_url()
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            probe = path.parent / ".vrgmi-write-probe"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            return Finding("database", False, f"cannot write to {path.parent} ({exc.strerror})")
        return Finding("database", True, f"SQLite {sqlite3.sqlite_version} database at {path} "
                                         "(stays on this machine)")
    shown = url.split("@")[-1] if "@" in url else url
    return Finding("database", True, f"database server configured: ...@{shown}")


def check_lsl() -> Finding:
    """Whether the Lab Streaming Layer can be used (docs/research.md)."""
    from vrgmi.research.lsl import load_pylsl, lsl_error
    pylsl = load_pylsl()
    if pylsl is None:
        return Finding("lsl", False, lsl_error() or "pylsl unavailable")
    version = pylsl.library_version()
    return Finding("lsl", True, f"liblsl {version // 100}.{version % 100} (off until "
                                "lsl.enabled or lsl.drive_stream is set)")


def run_doctor(database_url: str = "") -> list[Finding]:
    """Run every check and return the findings in display order."""
    return [check_python(), check_display(), check_gl(), check_openxr(),
            check_database(database_url), check_lsl()]
