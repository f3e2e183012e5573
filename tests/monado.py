"""Monado, the open-source OpenXR runtime, for the integration suite (tests/test_monado.py).

:func:`monado_manifest` builds it once (tools/build-monado.sh: cached outside the checkout,
locked against parallel workers); :func:`monado_env` is the environment that runs it
headless (null compositor, lavapipe) with the remote driver on this worker's own port and
config folder, and the Khronos core validation layer writing to a file;
:class:`RemoteDriver` moves its headset and controllers over TCP with the wire struct of
src/xrt/drivers/remote/r_interface.h (``struct r_remote_data``).
"""
from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import time
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAVAPIPE = "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json"
BASE_PORT = 24242

#: r_interface.h, little-endian, natural alignment (every member 4-byte aligned after the
#: 8-byte header): xrt_pose = quaternion x y z w, then position x y z
_POSE = "7f"
_VIEW = "4f" + _POSE + "I"                             # fov, pose, _pad: 48 bytes
_HEAD = _VIEW * 2 + _POSE + "?3x"                      # views[2], center, valid + pad: 128
_CONTROLLER = (_POSE + "3f3f" + "5f" + "fff" + "2f" + "f" + "2f"   # 104 bytes of floats
               + "?" * 13 + "3x")                      # active .. trackpad_touch, pad: 16
WIRE = struct.Struct("<Q" + _HEAD + _CONTROLLER * 2)
HEADER = int.from_bytes(b"mndrmt3\0", "little")
CONTROLLER_BOOLS = ("hand_tracking_active", "active", "system_click", "system_touch",
                    "a_click", "a_touch", "b_click", "b_touch", "trigger_click",
                    "trigger_touch", "thumbstick_click", "thumbstick_touch", "trackpad_touch")


@lru_cache(maxsize=1)
def monado_manifest() -> Path:
    """The built runtime's manifest (builds it on first use; the build is shared)."""
    res = subprocess.run(["bash", str(REPO / "tools" / "build-monado.sh")], capture_output=True,
                         text=True, timeout=1800)
    if res.returncode != 0:
        raise RuntimeError(f"building Monado failed:\n{res.stderr[-3000:]}")
    return Path(res.stdout.strip().splitlines()[-1])


def worker_port() -> int:
    """This pytest-xdist worker's remote-driver port: its own block of ten from BASE_PORT
    (gw0: 24242.., gw1: 24252..), the first one free now."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)
    for port in range(BASE_PORT + 10 * worker, BASE_PORT + 10 * worker + 10):
        with socket.socket() as probe:
            try:
                probe.bind(("0.0.0.0", port))
                return port
            except OSError:
                continue
    raise RuntimeError(f"no free remote-driver port for worker gw{worker}")


def monado_env(folder: Path, port: int, validation_file: Path, display: str | None = None
               ) -> dict[str, str]:
    """The environment of a child process that runs vrgmi on Monado: remote driver on
    ``port`` (config in ``folder``), validation layer output in ``validation_file``, GLX on
    X ``display`` or (None) no X server at all."""
    from tests.xr_runtime.harness import validation_layer_dir

    config = folder / "monado" / "config_v0.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({"remote": {"version": 0, "port": port, "view_count": 2}}))
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "XR_RUNTIME_JSON")}
    env.update({"XR_RUNTIME_JSON": str(monado_manifest()), "XRT_COMPOSITOR_NULL": "1",
                "P_OVERRIDE_ACTIVE_CONFIG": "remote", "XDG_CONFIG_HOME": str(folder),
                "VK_ICD_FILENAMES": LAVAPIPE, "XRT_LOG": "error",
                "XR_ENABLE_API_LAYERS": "XR_APILAYER_LUNARG_core_validation",
                "XR_API_LAYER_PATH": str(validation_layer_dir()),
                "XR_CORE_VALIDATION_EXPORT_TYPE": "text",
                "XR_CORE_VALIDATION_FILE_NAME": str(validation_file),
                "PYTHONPATH": str(REPO)})
    if display:
        env["DISPLAY"] = display
    return env


class RemoteDriver:
    """A connection to Monado's remote driver: ``head``, ``left`` and ``right`` are dicts of
    the wire struct's fields; :meth:`send` puts them on the devices (Monado serves the
    latest struct it got)."""

    def __init__(self, port: int, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reset = self._read()                       # Monado sends its reset and latest state
        self._read()
        self.values = list(reset)
        self.values[0] = HEADER
        right = self._controller_offset("right")
        # the layout check: Monado's reset state (r_hub.c) where this struct expects it
        if (abs(reset[25 + 5] - 1.6) > 1e-6 or
                [round(v, 6) for v in reset[right + 4:right + 7]] != [0.2, 1.3, -0.5]):
            raise ValueError("the remote driver's struct does not match r_interface.h")

    def _read(self) -> tuple:
        data = b""
        while len(data) < WIRE.size:
            chunk = self.sock.recv(WIRE.size - len(data))
            if not chunk:
                raise ConnectionError("Monado closed the remote connection")
            data += chunk
        return WIRE.unpack(data)

    @staticmethod
    def _controller_offset(side: str) -> int:
        head = 1 + 2 * 12 + 7 + 1                  # header, views, center, valid
        return head if side == "left" else head + 26 + len(CONTROLLER_BOOLS)

    def head(self, position, orientation) -> None:
        """Set the headset's pose (stage space; quaternion x y z w) for the next send."""
        self.values[25:29] = list(orientation)
        self.values[29:32] = list(position)

    def controller(self, side: str, position=None, orientation=None, **fields) -> None:
        """Set a controller's pose (stage space: x right, y up, z back; quaternion x y z w),
        analog values (``trigger_value``, ``thumbstick`` (x, y)) and buttons (``a_click``
        ...); takes effect at the next :meth:`send`."""
        base = self._controller_offset(side)
        v = self.values
        if orientation is not None:
            v[base:base + 4] = list(orientation)
        if position is not None:
            v[base + 4:base + 7] = list(position)
        for name, value in fields.items():
            if name == "trigger_value":
                v[base + 18] = value
            elif name == "thumbstick":
                v[base + 21:base + 23] = list(value)
            else:
                v[base + 26 + CONTROLLER_BOOLS.index(name)] = value

    def send(self) -> None:
        self.sock.sendall(WIRE.pack(*self.values))

    def close(self) -> None:
        self.sock.close()
