"""Builds the scripted OpenXR test runtime and points the OpenXR loader at it.

Usage::

    from tests.xr_runtime.harness import xr_test_runtime

    with xr_test_runtime(replay=path, events="120 state VISIBLE\\n") as runtime:
        ...  # pyopenxr (or the engine) creates an instance: it gets this runtime
        runtime.frame_log(); runtime.last_image(0); runtime.validation_messages()

See tests/xr_runtime/README.md for what the runtime implements.
"""
from __future__ import annotations

import atexit
import ctypes
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BUILD = REPO / "build" / "xr_runtime"
LIBRARY = "libvrgmi_xrt.so"
CFLAGS = ["-std=c11", "-O2", "-g", "-fPIC", "-shared", "-fvisibility=hidden", "-Wall",
          "-Wextra"]
LIBS = ["-lz", "-lm"]

FRAME_RECORD = np.dtype([("frame", "<i8"), ("predicted_ns", "<i8"), ("display_ns", "<i8"),
                         ("left_pose", "<f8", (7,)), ("right_pose", "<f8", (7,)),
                         ("space", "<u8")])


def _sources() -> list[Path]:
    return sorted(p for p in HERE.iterdir() if p.suffix in (".c", ".h"))


def build_runtime() -> Path:
    """Compiles the runtime once per source version into build/xr_runtime/<hash>/ and returns
    its manifest. Safe with several processes building at once (a lock, then atomic
    renames). Raises RuntimeError with gcc's output if it does not compile."""
    digest = hashlib.sha256(" ".join(CFLAGS + LIBS).encode())
    for src in _sources():
        digest.update(src.name.encode() + b"\0" + src.read_bytes())
    out = BUILD / digest.hexdigest()[:16]
    manifest = out / "manifest.json"
    if manifest.exists():
        return manifest
    out.mkdir(parents=True, exist_ok=True)
    with open(BUILD / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if manifest.exists():
            return manifest
        tmp = out / f"{LIBRARY}.{os.getpid()}.tmp"
        cmd = ["gcc", *CFLAGS, "-o", str(tmp), *map(str, HERE.glob("*.c")), *LIBS]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise RuntimeError(f"building the OpenXR test runtime failed:\n{proc.stderr}")
        (out / "build.log").write_text(proc.stderr)
        os.replace(tmp, out / LIBRARY)
        for old in BUILD.iterdir():  # builds of earlier sources
            if old.is_dir() and old != out:
                shutil.rmtree(old, ignore_errors=True)
        text = json.dumps({"file_format_version": "1.0.0",
                           "runtime": {"name": "vrgmi test runtime",
                                       "library_path": str(out / LIBRARY)}}, indent=2)
        tmp_manifest = out / f"manifest.json.{os.getpid()}.tmp"
        tmp_manifest.write_text(text + "\n")
        os.replace(tmp_manifest, manifest)
    return manifest


def _validation_file() -> Path:
    """This process's file for the validation layer's output, removed when it exits."""
    path = Path(tempfile.gettempdir()) / f"vrgmi-xrt-validation-{os.getpid()}.txt"
    if path not in _VALIDATION_FILES:
        _VALIDATION_FILES.add(path)
        atexit.register(path.unlink, missing_ok=True)
    return path


_VALIDATION_FILES: set[Path] = set()


def validation_layer_dir() -> Path:
    """The folder of the Khronos API layers pyopenxr ships."""
    import xr

    return Path(xr.__file__).resolve().parent / "api_layer" / "linux_x86_64"


def validation_problems(messages: Iterable[str]) -> list[str]:
    """The core validation layer's errors and warnings among ``messages`` (its own
    init/teardown notes are fine)."""
    return [m for m in messages if "VALID_ERROR" in m or "VALID_WARNING" in m
            or "VUID-" in m and "VUID-CoreValidation" not in m]


def _load(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    lib.vrgmi_xrt_call_count.restype = ctypes.c_uint32
    lib.vrgmi_xrt_call_count.argtypes = [ctypes.c_char_p]
    lib.vrgmi_xrt_last_error.restype = ctypes.c_char_p
    lib.vrgmi_xrt_function_name.restype = ctypes.c_char_p
    lib.vrgmi_xrt_function_name.argtypes = [ctypes.c_size_t]
    lib.vrgmi_xrt_frame_count.restype = ctypes.c_int64
    lib.vrgmi_xrt_frame_log.restype = ctypes.c_size_t
    lib.vrgmi_xrt_frame_log.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    lib.vrgmi_xrt_head_pose_at.argtypes = [ctypes.c_int64, ctypes.c_void_p]
    lib.vrgmi_xrt_inject.argtypes = [ctypes.c_char_p]
    lib.vrgmi_xrt_image_size.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_int),
                                         ctypes.POINTER(ctypes.c_int)]
    lib.vrgmi_xrt_read_image.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
    return lib


class TestRuntime:
    """The running test runtime: reads what the application submitted and steers it."""

    __test__ = False  # not a pytest test class

    def __init__(self, manifest: Path, lib: ctypes.CDLL, validation_file: Path | None) -> None:
        self.manifest = manifest
        self.lib = lib
        self._validation_file = validation_file
        self._validation_start = (validation_file.stat().st_size
                                  if validation_file and validation_file.exists() else 0)
        self._calls_start: dict[str, int] = {}

    def last_image(self, eye: int) -> np.ndarray | None:
        """The last image submitted for ``eye`` (0 left, 1 right) as (h, w, 4) uint8 RGBA,
        row 0 at the top; None if nothing was submitted. While the session lives, the
        application's GL context must be current on this thread."""
        w, h = ctypes.c_int(), ctypes.c_int()
        if not self.lib.vrgmi_xrt_image_size(eye, ctypes.byref(w), ctypes.byref(h)):
            return None
        img = np.empty((h.value, w.value, 4), np.uint8)
        if not self.lib.vrgmi_xrt_read_image(eye, img.ctypes.data, img.nbytes):
            return None
        return img[::-1].copy()

    def frame_log(self) -> np.ndarray:
        """One record per xrEndFrame: frame index, predicted display time (of the frame's
        xrWaitFrame), the submitted displayTime, the projection layer's two view poses in
        stage space [px py pz qx qy qz qw] (NaN without a projection layer) and its space."""
        n = self.lib.vrgmi_xrt_frame_log(None, 0)
        out = np.zeros(n, FRAME_RECORD)
        if n:
            self.lib.vrgmi_xrt_frame_log(out.ctypes.data, n)
        return out

    def frame_count(self) -> int:
        """xrWaitFrame calls of this context's run (all its instances)."""
        return int(self.lib.vrgmi_xrt_frame_count())

    def head_pose_at(self, xr_time_ns: int) -> np.ndarray:
        """The head pose (stage space, 7 numbers) the runtime reports at ``xr_time_ns``."""
        out = np.zeros(7)
        self.lib.vrgmi_xrt_head_pose_at(int(xr_time_ns), out.ctypes.data)
        return out

    def inject(self, directive: str) -> None:
        """Queues an event-script directive (without its frame index) for the next
        xrWaitFrame. Raises ValueError on a malformed directive."""
        if self.lib.vrgmi_xrt_inject(directive.encode()) != 0:
            raise ValueError(self.lib.vrgmi_xrt_last_error().decode())

    def call_count(self, name: str) -> int:
        """Calls of the OpenXR function ``name`` since this context was entered."""
        return int(self.lib.vrgmi_xrt_call_count(name.encode())) - self._calls_start.get(name, 0)

    def last_error(self) -> str:
        """Why the runtime last refused its configuration (bad replay, script, env)."""
        return self.lib.vrgmi_xrt_last_error().decode()

    def validation_messages(self) -> list[str]:
        """Every message the core validation layer wrote since this context was entered."""
        f = self._validation_file
        if f is None or not f.exists():
            return []
        data = f.read_bytes()
        start = self._validation_start if len(data) >= self._validation_start else 0
        return [line for line in data[start:].decode(errors="replace").splitlines()
                if line.strip()]

    def _snapshot_calls(self) -> None:
        names: list[bytes] = []
        while (name := self.lib.vrgmi_xrt_function_name(len(names))) is not None:
            names.append(name)
        self._calls_start = {n.decode(): int(self.lib.vrgmi_xrt_call_count(n)) for n in names}


@contextmanager
def xr_test_runtime(replay: Path | None = None, events: str | None = None,
                    rate_hz: float = 90.0, view_size=(256, 256),
                    profile: str = "/interaction_profiles/oculus/touch_controller",
                    extensions: Sequence[str] | None = None,
                    api_version: str = "1.1",
                    validation: bool = True) -> Iterator[TestRuntime]:
    """Makes the OpenXR loader use the test runtime for the duration: sets XR_RUNTIME_JSON,
    the core validation layer's variables (when ``validation``) and VRGMI_XRT_*, and restores
    the previous environment afterwards. ``events`` is the event script's text;
    ``api_version`` the highest OpenXR version instances may ask for ("1.1" or "1.0"). Instances
    created in one context form one run: frame indices (and XrTime), the script's progress,
    the frame log and kept images carry over when the application reconnects."""
    if api_version not in ("1.0", "1.1"):
        raise ValueError(f"api_version must be '1.0' or '1.1', not {api_version!r}")
    manifest = build_runtime()
    lib = _load(manifest.parent / LIBRARY)
    if lib.vrgmi_xrt_reset() != 0:  # a new run: frame count, script, log, images
        raise RuntimeError("an OpenXR instance of an earlier test runtime context is still "
                           "alive (xrDestroyInstance was not called)")
    with tempfile.TemporaryDirectory(prefix="vrgmi-xrt-") as tmp:
        env: dict[str, str | None] = {
            "XR_RUNTIME_JSON": str(manifest),
            "VRGMI_XRT_REPLAY": str(Path(replay).resolve()) if replay is not None else None,
            "VRGMI_XRT_EVENTS": None,
            "VRGMI_XRT_RATE": repr(float(rate_hz)),
            "VRGMI_XRT_VIEW_SIZE": f"{int(view_size[0])}x{int(view_size[1])}",
            "VRGMI_XRT_PROFILE": profile,
            "VRGMI_XRT_EXTENSIONS": ",".join(extensions) if extensions is not None else None,
            "VRGMI_XRT_API": api_version,
            "XR_ENABLE_API_LAYERS": None,
            "XR_API_LAYER_PATH": None,
            "XR_CORE_VALIDATION_EXPORT_TYPE": None,
            "XR_CORE_VALIDATION_FILE_NAME": None,
        }
        if events is not None:
            script = Path(tmp) / "events.txt"
            script.write_text(events)
            env["VRGMI_XRT_EVENTS"] = str(script)
        # The layer may keep its output file open across instances, so one file per process
        # is used and each context reads what was appended after it started.
        validation_file = _validation_file() if validation else None
        if validation:
            env.update({"XR_ENABLE_API_LAYERS": "XR_APILAYER_LUNARG_core_validation",
                        "XR_API_LAYER_PATH": str(validation_layer_dir()),
                        "XR_CORE_VALIDATION_EXPORT_TYPE": "text",
                        "XR_CORE_VALIDATION_FILE_NAME": str(validation_file)})
        saved = {k: os.environ.get(k) for k in env}
        try:
            _set_env(env)
            runtime = TestRuntime(manifest, lib, validation_file)
            runtime._snapshot_calls()
            yield runtime
        finally:
            _set_env(saved)


def _set_env(values: dict[str, str | None]) -> None:
    """Sets each variable to its value, or unsets it where the value is None."""
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
